"""`portcullis check` on broken route files, compared with golden output.

Each `golden/NN-name.conf` is copied into a fresh directory next to the support files it references
(`hmac.secret` 0600, `hmac-0644.secret` 0644, `empty.secret`, `rsa.pub.pem`, a directory `a-directory`)
and checked there. The exact stderr is compared with `golden/NN-name.expected` after normalisation:

  * the config path as passed on the command line  ->  {CONF}
  * the directory holding it (in any other message) ->  {DIR}

The exit status must be 1 when the expected output holds an error line and 0 when it holds only warnings.
Set PORTCULLIS_GOLDEN_WRITE=1 to (re)write missing .expected files from the binary -- then READ them: an
expected file states what an operator should see, not what the binary happens to print.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
CASES = sorted(p.stem for p in GOLDEN.glob("*.conf"))
UNSET_ENV = "PORTCULLIS_GOLDEN_UNSET_SECRET"


@pytest.fixture(scope="module")
def rsa_pub_pem() -> bytes:
    k = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return k.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def prepare(d: Path, name: str, pem: bytes) -> Path:
    def put(fname, data: bytes, mode: int):
        p = d / fname
        p.write_bytes(data)
        os.chmod(p, mode)

    put("hmac.secret", b"golden-hmac-secret-golden-hmac-secret-golden-hmac-secret-0123456", 0o600)
    put("hmac-0644.secret", b"golden-hmac-secret-golden-hmac-secret-golden-hmac-secret-0123456", 0o644)
    put("empty.secret", b"", 0o600)
    put("rsa.pub.pem", pem, 0o644)
    (d / "a-directory").mkdir()
    conf = d / f"{name}.conf"
    shutil.copyfile(GOLDEN / f"{name}.conf", conf)
    return conf


def normalise(text: str, conf: Path) -> str:
    return text.replace(str(conf), "{CONF}").replace(str(conf.parent), "{DIR}")


def run_check(binary: str, conf: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != UNSET_ENV}
    return subprocess.run([binary, "check", "--config", str(conf)], capture_output=True, text=True, timeout=30,
                          env=env, cwd="/")


ERROR_LINE = re.compile(r"^\{CONF\}:\d+:\d+: (?!warning: )")
LINE = re.compile(r"^\{CONF\}:\d+:\d+: (warning: )?\S")


@pytest.mark.parametrize("name", CASES)
def test_check_golden(portcullis_bin, tmp_path, rsa_pub_pem, name):
    conf = prepare(tmp_path, name, rsa_pub_pem)
    r = run_check(portcullis_bin, conf)
    got = normalise(r.stderr, conf)
    exp_path = GOLDEN / f"{name}.expected"
    if not exp_path.exists():
        if os.environ.get("PORTCULLIS_GOLDEN_WRITE") == "1":
            exp_path.write_text(got)
            pytest.skip(f"wrote {exp_path.name}: read it before trusting it")
        pytest.fail(f"{exp_path.name} is missing; run with PORTCULLIS_GOLDEN_WRITE=1 and review it")
    expected = exp_path.read_text()
    for ln in expected.splitlines():
        assert LINE.match(ln), f"golden line not in PATH:LINE:COL form: {ln!r}"
    has_error = any(ERROR_LINE.match(ln) for ln in expected.splitlines())
    assert got == expected, (f"check output differs for {name} (exit {r.returncode})\n--- expected\n{expected}"
                             f"--- got\n{got}")
    assert r.returncode == (1 if has_error else 0), (r.returncode, r.stderr)


def test_golden_set_is_big_enough():
    assert len(CASES) >= 15, CASES


def test_check_ok_file_exit_zero(portcullis_bin, tmp_path, rsa_pub_pem):
    """Control: a clean file gives exit 0 and nothing on stderr."""
    d = tmp_path
    prepare(d, CASES[0], rsa_pub_pem)
    conf = d / "ok.conf"
    conf.write_text(
        'listen:\n  - address: "127.0.0.1:8080"\n'
        "keys:\n  docs: { algorithms: [HS256], secret: { file: hmac.secret } }\n"
        'upstreams:\n  docs: { servers: ["http://127.0.0.1:8090"] }\n'
        "routes:\n"
        "  - { name: inbox, match: { path: /command }, upstream: docs,\n"
        "      auth: { keys: [docs], tokens: [ { body: token } ], require: [] } }\n")
    r = run_check(portcullis_bin, conf)
    assert r.returncode == 0, r.stderr
    assert r.stderr == "", r.stderr


def test_check_relative_paths_resolve_against_config_dir(portcullis_bin, tmp_path, rsa_pub_pem):
    """check run from another working directory still finds hmac.secret next to the file (cwd is /)."""
    conf = prepare(tmp_path, "19-warning-secret-file-mode", rsa_pub_pem)
    os.chmod(tmp_path / "hmac-0644.secret", 0o600)
    r = run_check(portcullis_bin, conf)
    assert r.returncode == 0 and r.stderr == "", r.stderr
