#!/usr/bin/env bash
# Rotating-token mode: 10,000 distinct valid tokens per algorithm, cycled by a wrk Lua script, against HAProxy
# (18081) and Portcullis (18083) in the same run, interleaved per round. Run `make bench` (or bench/run.sh)
# first so the peers and the gateway config exist; this script starts its own gateway.
# Env: SECS (10), ROUNDS (3), N (10000), EVENT_BACKEND (dispatch).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
B=$SHARED/bench
S=${JWT_BENCH_DIR:-/tmp/jwt-bench}
BIN=${PORTCULLIS_BIN:-$ROOT/.build/release/portcullis}
SECS=${SECS:-10}; ROUNDS=${ROUNDS:-3}; N=${N:-10000}
"$B/peers.sh" start >/dev/null
python3 "$B/mktokens.py" "$S" >/dev/null
python3 "$ROOT/bench/mint_rotating.py" "$S" "$N"
iss=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["iss"])' "$S/claims.json")
aud=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["aud"])' "$S/claims.json")
CONF=$S/run/portcullis.conf
sed -e "s|@KEYS@|$S/keys|g" -e "s|@ISS@|$iss|g" -e "s|@AUD@|$aud|g" "$ROOT/bench/gateway.bench.conf" >"$CONF"
"$BIN" run --config "$CONF" --workers 1 --event-backend "${EVENT_BACKEND:-dispatch}" >/dev/null 2>"$S/run/portcullis.log" &
GW=$!
trap 'kill $GW 2>/dev/null; wait $GW 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18083/open/ && break; sleep 0.1; done
OUT=$S/results/rotating-$(date +%Y%m%d-%H%M%S).tsv
echo -e "round\ttarget\trps\tp50_us\tp99_us\tnon2xx\tsockerr" >"$OUT"
for ((r = 1; r <= ROUNDS; r++)); do
  for alg in hs256 rs256 es256; do
    p=${alg:0:2}
    for t in "haproxy 18081" "portcullis 18083"; do
      set -- $t
      wrk -t1 -c64 -d1s -s "$ROOT/bench/rotating.lua" "http://127.0.0.1:$2/$p/x" -- "$S/tokens/rotating-$alg.txt" >/dev/null
      line=$(wrk -t1 -c64 -d"${SECS}s" -s "$ROOT/bench/rotating.lua" "http://127.0.0.1:$2/$p/x" -- "$S/tokens/rotating-$alg.txt" | grep WRK_RESULT)
      IFS=$'\t' read -r _ reqs dur p50 p99 non2xx sockerr <<<"$line"
      rps=$(python3 -c "print(round($reqs / ($dur / 1e6)))")
      echo -e "$r\t$1-$alg\t$rps\t$p50\t$p99\t$non2xx\t$sockerr" | tee -a "$OUT"
    done
  done
done
python3 - "$OUT" <<'PY'
import sys, csv, statistics as st
rows = list(csv.DictReader(open(sys.argv[1]), delimiter="\t"))
by = {}
for r in rows: by.setdefault((r["round"], r["target"]), r)
print("\nrotating tokens: median over rounds (ratio = portcullis/haproxy within each round)")
for alg in ("hs256", "rs256", "es256"):
    rounds = sorted({r["round"] for r in rows})
    ratios = [int(by[(k, f"portcullis-{alg}")]["rps"]) / int(by[(k, f"haproxy-{alg}")]["rps"]) for k in rounds]
    pr = st.median(int(by[(k, f"portcullis-{alg}")]["rps"]) for k in rounds)
    hr = st.median(int(by[(k, f"haproxy-{alg}")]["rps"]) for k in rounds)
    p99 = st.median(int(by[(k, f"portcullis-{alg}")]["p99_us"]) for k in rounds)
    err = sum(int(by[(k, f"portcullis-{alg}")]["non2xx"]) for k in rounds)
    print(f"{alg}: portcullis {pr:.0f} req/s (p99 {p99/1000:.2f} ms, non-2xx {err}), haproxy {hr:.0f} req/s, ratio {st.median(ratios):.2f}x")
PY
echo "raw: $OUT"
