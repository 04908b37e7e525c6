#!/usr/bin/env bash
# load_bench.sh — `weir load` against wrk and against its own targets (issue 14), one nginx
# backend for everything.
#
# Usage: bench/load_bench.sh [--duration S] [--rate R] [--out DIR] WEIR_BIN
#   --duration S   seconds per closed-model run and per open-model run (default 30)
#   --rate R       open-model rate (default 10000 req/s)
#   --out DIR      raw outputs (default bench/out/load-<timestamp>)
#
# 1. Closed model: `wrk -t2 -c50 -dS` and `weir load -t2 -c50 -dS` against the same nginx
#    (1 worker, `return 200` of 1024 bytes, keep-alive), alternated twice; ratio of req/s.
# 2. Open model: `weir load --rate R -dS -t1 -c100 --csv`: achieved rate per 10 s window vs
#    the target, and the send lag p99 (JSON). One generator thread: on 2 cores, one core for
#    the generator and one for nginx (with -t2 the three busy threads share 2 cores and every
#    preemption shows up as send lag).
# 3. Coordinated omission, full size: 2000 req/s for 10 s over 10 connections (wrk2's default
#    shape); nginx's worker is SIGSTOPped for 1.4 s after 4 s. The corrected histogram should
#    hold ≈ 2800 samples spread over 0–1.4 s and a p99 between 1.0 and 1.4 s; the uncorrected
#    one should not.
# Everything listens on 127.0.0.1; every process started here is stopped by PID on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
DURATION=30 RATE=10000 OUT=""
while [[ $# -gt 1 ]]; do
    case "$1" in
        --duration) DURATION=$2; shift 2 ;;
        --rate) RATE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        *) echo "usage: $0 [--duration S] [--rate R] [--out DIR] WEIR_BIN" >&2; exit 2 ;;
    esac
done
WEIR=${1:?usage: $0 [--duration S] [--rate R] [--out DIR] WEIR_BIN}
WEIR=$(readlink -f "$WEIR")
command -v wrk >/dev/null || { echo "load_bench: wrk is needed (scripts/install-deps.sh --bench)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "load_bench: nginx is needed" >&2; exit 2; }
OUT=${OUT:-$HERE/out/load-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT/nginx/tmp"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORT=$(free_port)
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user $(id -un) $(id -gn);"
sed -e "s|@DIR@|$OUT/nginx|g" -e "s|@PORT@|$PORT|g" -e "s|@USER_LINE@|$user_line|" \
    -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" "$HERE/conf/nginx-backend.conf.in" >"$OUT/nginx/nginx.conf"
nginx -c "$OUT/nginx/nginx.conf" -p "$OUT/nginx" -g 'daemon off;' 2>"$OUT/nginx/stderr" &
NGINX=$!
cleanup() {
    [[ -n ${WORKER:-} ]] && kill -CONT "$WORKER" 2>/dev/null
    kill "$NGINX" 2>/dev/null
    wait "$NGINX" 2>/dev/null
}
trap cleanup EXIT
for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
WORKER=$(pgrep -P "$NGINX" | head -1)
URL=http://127.0.0.1:$PORT/
{
    echo "date: $(date -u +%FT%TZ)"; echo "host: $(uname -srm), $(nproc) cores"
    echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "weir: $WEIR ($(sha256sum "$WEIR" | cut -c1-12))"; wrk --version 2>&1 | head -1
} >"$OUT/meta.txt"
cat "$OUT/meta.txt"

echo "== 1. closed model: wrk vs weir load, -t2 -c50 -d${DURATION}s =="
for round in 1 2; do
    wrk -t2 -c50 -d"${DURATION}s" "$URL" >"$OUT/wrk-$round.txt" 2>&1
    "$WEIR" load "$URL" -t2 -c50 -d"${DURATION}s" -q --json "$OUT/weir-closed-$round.json" \
        >"$OUT/weir-closed-$round.txt" 2>&1
    w=$(awk '/Requests\/sec/ {print $2}' "$OUT/wrk-$round.txt")
    l=$(python3 -c "import json,sys; print('%.0f' % json.load(open(sys.argv[1]))['totals']['rps'])" "$OUT/weir-closed-$round.json")
    echo "round $round: wrk $w req/s, weir load $l req/s, ratio $(python3 -c "print('%.3f' % ($l / $w))")"
done

echo "== 2. open model: --rate $RATE -d${DURATION}s -t1 -c100 =="
"$WEIR" load "$URL" --rate "$RATE" -d"${DURATION}s" -t1 -c100 -q --csv "$OUT/open.csv" \
    --json "$OUT/open.json" >"$OUT/open.txt" 2>&1
echo "exit $?"
python3 - "$OUT/open.csv" "$OUT/open.json" "$RATE" <<'EOF'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
doc = json.load(open(sys.argv[2]))
rate = float(sys.argv[3])
for i in range(0, len(rows) - len(rows) % 10, 10):
    done = sum(int(r["done"]) for r in rows[i:i + 10])
    print("window %2d-%2d s: %d answers = %.2f%% of the target" % (i, i + 10, done,
                                                                   100.0 * done / (rate * 10)))
lag = doc["latency_us"]["send_lag"]
print("send lag p50 %d us, p99 %d us, p99.9 %d us, max %d us; late sends %d; valid %s %s" % (
    lag["p50"], lag["p99"], lag["p99_9"], lag["max"], doc["totals"]["late_sends"],
    doc["valid"], doc["invalid_reasons"]))
print("generator CPU %.0f%%" % doc["totals"]["generator_cpu_pct"])
EOF

echo "== 3. coordinated omission: 2000 req/s, 10 s, -c10; nginx worker stopped 1.4 s at 4 s =="
"$WEIR" load "$URL" --rate 2000 -d10s -t1 -c10 --max-connections 10 -q --json "$OUT/co.json" >"$OUT/co.txt" 2>&1 &
LOADPID=$!
sleep 4.2   # 0.2 s of connecting, then 4 s of load
kill -STOP "$WORKER"; sleep 1.4; kill -CONT "$WORKER"
wait "$LOADPID"
echo "exit $? (3 = invalid: the 10 connections ran out during the stall, as expected)"
python3 - "$OUT/co.json" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
for kind in ("corrected", "uncorrected"):
    h = doc["latency_us"][kind]
    over = lambda us: sum(n for upper, n in h["buckets"] if upper > us)
    print("%-11s count %d  p50 %.2f ms  p99 %.1f ms  p99.9 %.1f ms  max %.1f ms  "
          "samples > 10 ms: %d, > 700 ms: %d, > 1.5 s: %d" % (
              kind, h["count"], h["p50"] / 1e3, h["p99"] / 1e3, h["p99_9"] / 1e3,
              h["max"] / 1e3, over(10000), over(700000), over(1500000)))
EOF
echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "raw outputs: $OUT"
