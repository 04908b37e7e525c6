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

PIDS=()
stop_pid() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { local s; s=$(<"/proc/$1/stat") || return 1; s=${s##*) }; set -- $s; echo $(( ${12} + ${13} )); }

# ---------------------------------------------------------------- certificates
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=bench.test \
    -keyout "$TMP/ec.key" -out "$TMP/ec.pem" 2>/dev/null || die "openssl req (ec)"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=bench.test \
    -keyout "$TMP/rsa.key" -out "$TMP/rsa.pem" 2>/dev/null || die "openssl req (rsa)"

# ---------------------------------------------------------------- backend (core 1)
# shellcheck source=bench/nginx_lib.sh
source "$HERE/nginx_lib.sh"  # render, backend_start, wait_port
backend_start
PIDS+=("$BACKEND_PID")
wait_port "$BACKEND_PORT" || die "backend nginx did not start"

# ---------------------------------------------------------------- proxies (core 0)
PROXY_PID="" WORKER_PID="" PORT=""
start_proxy() {  # KIND CERTNAME
    local kind=$1 cert=$TMP/$2.pem key=$TMP/$2.key dir=$TMP/$1-$2
    PORT=$(free_port)
    mkdir -p "$dir"
    if [[ $kind == weir ]]; then
        cat >"$dir/weir.yaml" <<YAML
workers: 1
admin: off
log: {level: warn, access: "off"}
listen:
  - address: 127.0.0.1:$PORT
    tls:
      certificates: [{cert: $cert, key: $key}]
upstreams:
  b: {servers: [127.0.0.1:$BACKEND_PORT]}
routes: [{path: /, upstream: b}]
YAML
        taskset -c 0 "$WEIR" -c "$dir/weir.yaml" 2>"$dir/stderr" &
        PROXY_PID=$!
        WORKER_PID=$PROXY_PID
    else
        render "$HERE/conf/nginx-tls-proxy.conf.in" "$dir/nginx.conf" "$dir" "$PORT" "$cert" "$key"
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/stderr" &
        PROXY_PID=$!
    fi
    PIDS+=("$PROXY_PID")
    wait_port "$PORT" || die "$kind did not start: $(cat "$dir/stderr")"
    if [[ $kind == nginx ]]; then
        WORKER_PID=$(pgrep -P "$PROXY_PID" | head -n1)
    fi
    curl -sk -o /dev/null "https://127.0.0.1:$PORT/" || die "$kind does not answer over HTTPS"
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
            stop_pid "$PROXY_PID"
        done
    done
done

echo "== medians (CPU µs per operation; lower is better)"
for test in ${TESTS//,/ }; do
    w=$(awk -F'\t' -v t=$test '$2=="weir" && $3==t {print $6}' "$RAW" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    n=$(awk -F'\t' -v t=$test '$2=="nginx" && $3==t {print $6}' "$RAW" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
    printf '   %-8s weir %8.2f  nginx %8.2f  weir/nginx %.3f  (per core: weir %.0f/s, nginx %.0f/s)\n' \
        "$test" "$w" "$n" "$(echo "$w / $n" | bc -l)" "$(echo "1000000 / $w" | bc -l)" "$(echo "1000000 / $n" | bc -l)"
done
echo "raw: $RAW"
