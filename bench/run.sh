#!/usr/bin/env bash
# `make bench`: Portcullis on 127.0.0.1:18083 beside the peers of ../shared/bench (nginx, HAProxy), one
# worker each, measured in the same run by the shared run.sh. Results: $JWT_BENCH_DIR/results/<time>/.
# Env: SECS (10), ROUNDS (3), GATEWAY_PATHS (default "open hs rs es ed"), EVENT_BACKEND (dispatch or epoll).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
B=$SHARED/bench
S=${JWT_BENCH_DIR:-/tmp/jwt-bench}
BIN=${PORTCULLIS_BIN:-$ROOT/.build/release/portcullis}
[[ -x $B/run.sh ]] || { echo "bench: $B/run.sh not found (set SHARED=path/to/shared)" >&2; exit 1; }

bash "$B/setup.sh" >/dev/null
"$B/peers.sh" start >/dev/null
python3 "$B/mktokens.py" "$S" >/dev/null
iss=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["iss"])' "$S/claims.json")
aud=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aud"])' "$S/claims.json")
CONF=$S/run/portcullis.conf
sed -e "s|@KEYS@|$S/keys|g" -e "s|@ISS@|$iss|g" -e "s|@AUD@|$aud|g" "$ROOT/bench/gateway.bench.conf" >"$CONF"
"$BIN" check --config "$CONF" >/dev/null

"$BIN" run --config "$CONF" --workers 1 --event-backend "${EVENT_BACKEND:-dispatch}" >/dev/null 2>"$S/run/portcullis.log" &
GW=$!
trap 'kill $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18083/open/ && break; sleep 0.1; done

GATEWAY_URL=http://127.0.0.1:18083 GATEWAY_PATHS=${GATEWAY_PATHS:-open hs rs es ed} \
  "$B/run.sh" "${SECS:-10}" "${ROUNDS:-3}"
echo "gateway RSS after the run: $(grep VmHWM /proc/$GW/status | awk '{print $2, $3}') peak"
