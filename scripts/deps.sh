#!/usr/bin/env bash
# Install what building and testing Portcullis needs, when missing.
# Idempotent and quiet on success. Target: Debian 12 with the Swift toolchain and python3/pip.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
APT_PACKAGES=(libssl-dev libnghttp2-dev pkg-config nginx-light curl wrk nghttp2-client procps)

SUDO=""
if [ "$(id -u)" != "0" ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "deps.sh: not root and no sudo; cannot install system packages" >&2; exit 1
    fi
fi

log="$(mktemp -t portcullis-deps.XXXXXX)"
trap 'rm -f "$log"' EXIT
run() {  # run quietly; show the output only on failure
    if ! "$@" >>"$log" 2>&1; then
        echo "deps.sh: failed: $*" >&2
        cat "$log" >&2
        exit 1
    fi
}

# --- apt --------------------------------------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done
if [ "${#missing[@]}" -gt 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    run $SUDO apt-get update -q
    run $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
# The nginx package may start a system service; the tests run their own nginx instances.
if command -v service >/dev/null 2>&1; then
    $SUDO service nginx stop >/dev/null 2>&1 || true
fi
if command -v systemctl >/dev/null 2>&1; then
    $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true
fi

# --- pip --------------------------------------------------------------------------------------
PY="${PYTHON:-python3}"
req="$here/tests/requirements.txt"
# Fast path: one interpreter start checks that every requirement is installed at a fitting version.
need_pip=1
if "$PY" - "$req" >/dev/null 2>&1 <<'PYEOF'
import sys
from importlib.metadata import version, PackageNotFoundError
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
for line in open(sys.argv[1]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    r = Requirement(line)
    try:
        v = version(r.name)
    except PackageNotFoundError:
        sys.exit(1)
    if r.specifier and not r.specifier.contains(v, prereleases=True):
        sys.exit(1)
    for extra_dep in ("requests", "websocket-client") if "client" in r.extras else ():
        version(extra_dep)
PYEOF
then need_pip=0; fi
if [ "$need_pip" = 1 ]; then
    pip_flags=(-q --disable-pip-version-check)
    # Debian's system python is "externally managed" (PEP 668); pyenv/venv pythons are not.
    if "$PY" -c 'import sys,sysconfig,os; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"],"EXTERNALLY-MANAGED")) else 1)' 2>/dev/null; then
        pip_flags+=(--break-system-packages)
    fi
    if [ "$(id -u)" = "0" ]; then pip_flags+=(--root-user-action=ignore); fi
    run "$PY" -m pip install "${pip_flags[@]}" -r "$req"
fi
exit 0
