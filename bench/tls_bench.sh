#!/usr/bin/env bash
# tls_bench.sh — the cost of TLS in weir vs nginx as TLS-terminating reverse proxies.
#
# Usage: bench/tls_bench.sh [--rounds N] [--duration S] [--tests LIST] [--out DIR] WEIR_BIN
#   --tests  comma-separated among hs-ecdsa, hs-rsa, ka-1k (default all three)
#
# Measured, per round, alternating weir and nginx (the same settings: TLS 1.2/1.3, Mozilla
# intermediate, X25519/P-256/P-384, tickets and a session cache):
#   hs-ecdsa  full TLS 1.3 handshakes with an ECDSA P-256 certificate (`openssl s_time -new`,
#             no resumption): the proxy's CPU µs per handshake, and handshakes/s per core
#             (1e6 / µs; the client on the other core cannot saturate it, see RESULTS.md)
#   hs-rsa    the same with an RSA 2048 certificate
#   ka-1k     kept-alive HTTPS requests (wrk -t1 -c50, 1 KiB responses from a plain nginx
#             backend): the proxy's CPU µs per request
# Layout (2 cores, as proxy_bench.sh): the proxy pinned to core 0 with one worker; the backend
# nginx, s_time and wrk pinned to core 1. CPU = delta utime+stime of the proxy's worker
# process (/proc) around the measurement. Everything listens on 127.0.0.1; every process
# started is stopped by PID on exit. Certificates are made in a temp dir and removed.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROUNDS=3 DURATION=10 OUT="" TESTS="hs-ecdsa,hs-rsa,ka-1k"
usage() { sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "tls_bench: $*" >&2; exit 2; }
POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        --tests) TESTS=$2; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || usage
WEIR=$(cd "$(dirname "${POS[0]}")" && pwd)/$(basename "${POS[0]}")
[[ -x $WEIR ]] || die "no weir binary at ${POS[0]}"
for c in nginx wrk taskset openssl pgrep; do command -v $c >/dev/null || die "$c not found (scripts/install-deps.sh --bench)"; done
[[ $(nproc) -ge 2 ]] || die "needs 2 CPUs"
CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-tls-bench.XXXXXX")
[[ -n $OUT ]] || OUT="$HERE/out/tls-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
RAW="$OUT/raw.tsv"
printf 'round\tproxy\ttest\tcount\tseconds\tcpu_us_per_op\trate\n' >"$RAW"
# shellcheck source=bench/nginx_lib.sh
source "$HERE/nginx_lib.sh"  # bench_lib.sh (stop by PID on exit, ticks, median), make_cert,
                             # backend_start, proxy_start, proxy_stop
make_cert ec ec
make_cert rsa rsa
backend_start

start_proxy() {  # KIND CERTNAME
    proxy_start "$1" "$TMP/$1-$2" "$TMP/$2.pem" "$TMP/$2.key" "$HERE/conf/nginx-tls-proxy.conf.in"
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/" || die "$1 does not answer over HTTPS"
}

measure() {  # ROUND KIND TEST
    local r=$1 kind=$2 test=$3 t0 t1 s0 s1 count secs
    t0=$(ticks "$WORKER_PID"); s0=$(date +%s.%N)
    if [[ $test == ka-1k ]]; then
        local out
        out=$(taskset -c 1 wrk -t1 -c50 -d"${DURATION}s" "https://127.0.0.1:$PORT/" 2>&1)
        count=$(awk '/requests in/ {print $1}' <<<"$out")
        grep -q "Non-2xx\|Socket errors" <<<"$out" && echo "   note: $(grep -E 'Non-2xx|Socket errors' <<<"$out")"
    else
        local out
        out=$(taskset -c 1 openssl s_time -connect "127.0.0.1:$PORT" -new -time "$DURATION" 2>&1)
        count=$(awk '/connections in [0-9.]+ real/ {print $1; exit}' <<<"$out")
    fi
    t1=$(ticks "$WORKER_PID"); s1=$(date +%s.%N)
    secs=$(echo "$s1 - $s0" | bc -l)
    [[ -n $count && $count -gt 0 ]] || { echo "   $kind $test: no result"; return; }
    local us rate
    us=$(echo "($t1 - $t0) * 1000000 / $CLK_TCK / $count" | bc -l)
    rate=$(echo "1000000 / $us" | bc -l)
    printf '%s\t%s\t%s\t%s\t%.2f\t%.2f\t%.0f\n' "$r" "$kind" "$test" "$count" "$secs" "$us" "$rate" >>"$RAW"
    printf '   %-5s %-8s %8s ops in %5.1f s: %8.2f CPU µs/op (%6.0f /s per core)\n' \
        "$kind" "$test" "$count" "$secs" "$us" "$rate"
}

echo "tls_bench: $(date -u +%FT%TZ) weir $("$WEIR" --version 2>&1 | head -1), $(nginx -v 2>&1 | sed 's/.*version: //'), $(openssl version)"
echo "tls_bench: load average $(cut -d' ' -f1-3 /proc/loadavg) (the machine may be shared)"
for ((r = 1; r <= ROUNDS; r++)); do
    echo "== round $r/$ROUNDS"
    order=(weir nginx)
    ((r % 2 == 0)) && order=(nginx weir)
    for kind in "${order[@]}"; do
        for cert in ec rsa; do
            hs="hs-$([[ $cert == ec ]] && echo ecdsa || echo rsa)"
            want_hs=0 want_ka=0
            [[ ,$TESTS, == *,$hs,* ]] && want_hs=1
            [[ $cert == ec && ,$TESTS, == *,ka-1k,* ]] && want_ka=1
            ((want_hs + want_ka)) || continue
            start_proxy "$kind" "$cert"
            ((want_hs)) && measure "$r" "$kind" "$hs"
            ((want_ka)) && measure "$r" "$kind" ka-1k
            proxy_stop
        done
    done
done

echo "== medians (CPU µs per operation; lower is better)"
for test in ${TESTS//,/ }; do
    w=$(awk -F'\t' -v t="$test" '$2=="weir" && $3==t {print $6}' "$RAW" | median)
    n=$(awk -F'\t' -v t="$test" '$2=="nginx" && $3==t {print $6}' "$RAW" | median)
    printf '   %-8s weir %8.2f  nginx %8.2f  weir/nginx %.3f  (per core: weir %.0f/s, nginx %.0f/s)\n' \
        "$test" "$w" "$n" "$(echo "$w / $n" | bc -l)" "$(echo "1000000 / $w" | bc -l)" "$(echo "1000000 / $n" | bc -l)"
done
echo "raw: $RAW"
