#!/usr/bin/env bash
# h2_bench.sh — weir vs nginx as HTTP/2 (TLS) → HTTP/1.1 reverse proxies (issue 16).
#
# Usage: bench/h2_bench.sh [--rounds N] [--duration S] [--out DIR] WEIR_BIN
#
# Per round, alternating weir and nginx: `h2load -c 50 -m 10` for S seconds against the proxy
# over TLS (ALPN h2, ECDSA P-256), 1 KiB responses from a plain nginx backend over kept-alive
# HTTP/1.1. Both proxies keep up to 1024 idle upstream connections: with 500 requests in
# flight, the default 64 of both would measure upstream connection churn, not HTTP/2.
# Reported: the proxy's CPU µs per request (delta utime+stime of its worker process from /proc
# / requests done) and the p99 latency from h2load's per-request log.
# Layout (2 cores): the proxy pinned to core 0 with one worker; the backend and h2load pinned to
# core 1. Everything on 127.0.0.1; every process started is stopped by PID on exit.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=3 DURATION=10 OUT=""
usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "h2_bench: $*" >&2; exit 2; }
POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || usage
WEIR=$(cd "$(dirname "${POS[0]}")" && pwd)/$(basename "${POS[0]}")
[[ -x $WEIR ]] || die "no weir binary at ${POS[0]}"
for c in nginx h2load taskset openssl pgrep bc; do command -v $c >/dev/null || die "$c not found"; done
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs"
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-h2-bench.XXXXXX")
[[ -n $OUT ]] || OUT="$HERE/out/h2-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RAW="$OUT/raw.tsv"
printf 'round\tproxy\trequests\tseconds\tcpu_us_per_req\tp99_ms\n' >"$RAW"
# shellcheck source=bench/nginx_lib.sh
source "$HERE/nginx_lib.sh"  # bench_lib.sh (stop by PID on exit, ticks, median), make_cert,
                             # backend_start, proxy_start, proxy_stop
make_cert ec ec
backend_start

start_proxy() {  # KIND: weir or nginx over TLS with HTTP/2, up to 1024 idle upstream connections
    proxy_start "$1" "$TMP/$1" "$TMP/ec.pem" "$TMP/ec.key" "$HERE/conf/nginx-h2-proxy.conf.in" \
        "http2: true" "pool: {max_idle: 1024}"
    h2load -n 100 -c 1 "https://127.0.0.1:$PORT/" 2>&1 | grep -q "100 succeeded" ||
        die "$1 does not answer over HTTP/2"
}

measure() {  # ROUND KIND
    local r=$1 kind=$2 t0 t1 s0 s1 out count secs us p99 log=$TMP/$2-$1.log
    t0=$(ticks "$WORKER_PID"); s0=$(date +%s.%N)
    out=$(taskset -c 1 h2load -c 50 -m 10 -D "$DURATION" --log-file="$log" "https://127.0.0.1:$PORT/" 2>&1)
    t1=$(ticks "$WORKER_PID"); s1=$(date +%s.%N)
    count=$(awk '/^requests:/ {print $8; exit}' <<<"$out")
    secs=$(echo "$s1 - $s0" | bc -l)
    [[ -n $count && $count -gt 0 ]] || { echo "   $kind: no result: $out" | tail -3; return; }
    grep -q "failed [1-9]\|errored [1-9]" <<<"$out" && echo "   note: $(grep '^requests:' <<<"$out")"
    us=$(echo "($t1 - $t0) * 1000000 / $CLK_TCK / $count" | bc -l)
    p99=$(awk '{print $3}' "$log" | sort -n | awk '{a[NR]=$1} END {i=int(NR*0.99); if (i<1) i=1; printf "%.2f", a[i]/1000}')
    printf '%s\t%s\t%s\t%.2f\t%.2f\t%s\n' "$r" "$kind" "$count" "$secs" "$us" "$p99" >>"$RAW"
    printf '   %-5s %9s requests in %5.1f s: %7.2f CPU µs/request, p99 %s ms\n' "$kind" "$count" "$secs" "$us" "$p99"
}

echo "h2_bench: $(date -u +%FT%TZ) weir $("$WEIR" --version 2>&1 | head -1), $(nginx -v 2>&1 | sed 's/.*version: //'), $(h2load --version | head -1)"
echo "h2_bench: load average $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
for ((r = 1; r <= ROUNDS; r++)); do
    echo "== round $r/$ROUNDS"
    order=(weir nginx)
    ((r % 2 == 0)) && order=(nginx weir)
    for kind in "${order[@]}"; do
        start_proxy "$kind"
        measure "$r" "$kind"
        proxy_stop
    done
done
echo "== medians"
w=$(awk -F'\t' '$2=="weir" {print $5}' "$RAW" | median)
n=$(awk -F'\t' '$2=="nginx" {print $5}' "$RAW" | median)
wp=$(awk -F'\t' '$2=="weir" {print $6}' "$RAW" | median)
np=$(awk -F'\t' '$2=="nginx" {print $6}' "$RAW" | median)
printf '   CPU µs/request: weir %.2f  nginx %.2f  weir/nginx %.3f\n' "$w" "$n" "$(echo "$w / $n" | bc -l)"
printf '   p99 ms:         weir %.2f  nginx %.2f\n' "$wp" "$np"
echo "raw: $RAW"
