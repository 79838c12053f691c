#!/usr/bin/env bash
# `make bench-ws`: RSS of 10,000 idle WebSocket tunnels (target <= 20 KiB each) and echo round-trip p50/p99
# through Portcullis versus direct to the upstream, in one run (loopback, about a minute).
# Env: PORTCULLIS_BIN, TUNNELS (10000), MESSAGES (2000 per path and round). Extra args go to bench/ws_bench.py.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export PORTCULLIS_BIN=${PORTCULLIS_BIN:-$ROOT/.build/release/portcullis}
[[ -x $PORTCULLIS_BIN ]] || { echo "ws-bench: $PORTCULLIS_BIN not found (make build)" >&2; exit 1; }
# 10,000 tunnels need ~20,000 fds in the gateway (two sockets per tunnel): raise the limit for this shell
# and the bench's processes. Raising the hard limit needs CAP_SYS_RESOURCE; without it the bench measures
# as many tunnels as the hard limit allows and says so.
ulimit -Hn 200000 2>/dev/null || true
ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
exec timeout 180 python3 "$ROOT/bench/ws_bench.py" "$@"
