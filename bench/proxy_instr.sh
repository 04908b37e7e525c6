#!/usr/bin/env bash
# proxy_instr.sh — the plain proxy's cost per request counted, not timed: user-space
# instructions (valgrind's cachegrind, weir + libc) and system calls (strace -c) per proxied
# request, for two weir binaries. Counts do not depend on what else runs on the machine, so
# this compares before/after builds on a busy host where bench/proxy_bench.sh's CPU times
# drift by more than the 2 % it is asked to resolve. Kernel work is the same for two builds
# making the same system calls with the same bytes; the user-space share of a request's CPU
# is what can move, and this counts it exactly.
#
# Usage: bench/proxy_instr.sh [--requests N] [--connections C] BASE_BIN WEIR_BIN
#   --requests N      requests per counted run (default 10000); each binary is counted with
#                     N/5 and N requests and the difference divided by 4N/5, so start-up and
#                     shutdown cancel out
#   --connections C   h2load --h1 keep-alive connections (default 10)
#
# Setup: an nginx backend (bench/conf/nginx-backend.conf.in: `return 200` with a 1024-byte
# body), weir with one worker, one upstream and one route `/` (proxy_bench.sh's plain
# variant, access log off, admin on). Everything on 127.0.0.1, stopped by PID.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CMDLINE="bench/proxy_instr.sh $*"
N=10000 CONNS=10 POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests) N=${2:?}; shift 2 ;;
        --connections) CONNS=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
        -*) echo "proxy_instr: unknown option $1" >&2; exit 2 ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 2 ]] || { echo "usage: bench/proxy_instr.sh [--requests N] BASE_BIN WEIR_BIN" >&2; exit 2; }
for c in valgrind strace h2load nginx; do
    command -v $c >/dev/null || { echo "proxy_instr: needs $c (scripts/install-deps.sh)" >&2; exit 2; }
done
PY=/usr/bin/python3
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

TMP=$(mktemp -d /tmp/weir-proxy-instr.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

BPORT=$(free_port) WPORT=$(free_port) APORT=$(free_port)
mkdir -p "$TMP/backend/tmp"
user_line=""; [[ $(id -u) -eq 0 ]] && user_line="user root;"
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
sed -e "s|@DIR@|$TMP/backend|g" -e "s|@PORT@|$BPORT|g" -e "s|@USER_LINE@|$user_line|" \
    -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" "$HERE/conf/nginx-backend.conf.in" >"$TMP/backend/nginx.conf"
nginx -p "$TMP/backend/" -c "$TMP/backend/nginx.conf" -e "$TMP/backend/error.log" -g 'daemon off;' &
PIDS+=($!)
cat >"$TMP/weir.yaml" <<EOF
workers: 1
listen: ["127.0.0.1:$WPORT"]
log: {access: "off"}
admin: {listen: "127.0.0.1:$APORT"}
upstreams:
  default:
    balance: round_robin
    servers: ["127.0.0.1:$BPORT"]
routes:
  - {path: /, upstream: default}
EOF

wait_port() { for _ in $(seq 1 200); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_port "$BPORT" || { echo "proxy_instr: backend did not start" >&2; exit 1; }

# run WRAPPER... -- BIN N: starts BIN under WRAPPER, sends N requests, stops it by PID.
run() {
    local wrap=() bin n
    while [[ $1 != -- ]]; do wrap+=("$1"); shift; done
    shift; bin=$1 n=$2
    "${wrap[@]}" "$bin" -c "$TMP/weir.yaml" >"$TMP/weir.out" 2>&1 &
    local pid=$!
    wait_port "$WPORT" || { echo "proxy_instr: $bin did not start" >&2; cat "$TMP/weir.out" >&2; exit 1; }
    local ok
    ok=$(h2load --h1 -n "$n" -c "$CONNS" "http://127.0.0.1:$WPORT/" 2>&1 | awk '/^status codes:/ {print $3}')
    [[ $ok == "$n" ]] || { echo "proxy_instr: $ok of $n requests got 2xx from $bin" >&2; exit 1; }
    # Under strace the server is strace's child: stop that one, strace then exits with it.
    local target=$pid
    [[ ${wrap[0]} == strace ]] && target=$(pgrep -P "$pid" | head -n1)
    kill -TERM "$target"; wait "$pid" 2>/dev/null
}

instr() { # BIN N -> total user-space instructions
    run valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$TMP/cg.out" -- "$1" "$2"
    awk '/I *refs:/ {gsub(",", "", $4); print $4}' "$TMP/weir.out"
}

syscalls() { # BIN N -> "name=calls/req ..." for calls made at least once per 10 requests
    run strace -f -c -o "$TMP/strace.out" -- "$1" "$2"
    awk -v n="$2" '$NF ~ /^[a-z_0-9]+$/ && $4 ~ /^[0-9]+$/ && $4 / n >= 0.1 && $NF != "total" {printf "%s=%.2f ", $NF, $4 / n}' "$TMP/strace.out"
}

declare -A PER
echo "command: $CMDLINE"
echo "base: ${POS[0]}"; echo "weir: ${POS[1]}"
small=$((N / 5))
for round in 1 2; do
    for which in 0 1; do
        b=${POS[$which]}
        a=$(instr "$b" "$small"); z=$(instr "$b" "$N")
        per=$(( (z - a) / (N - small) ))
        PER[$which]="${PER[$which]:-} $per"
        echo "round $round $( ((which)) && echo weir || echo base): $per user instructions/request"
    done
done
for which in 0 1; do
    echo "$( ((which)) && echo weir || echo base) system calls/request: $(syscalls "${POS[$which]}" "$N")"
done
read -r b1 b2 <<<"${PER[0]}"; read -r w1 w2 <<<"${PER[1]}"
awk -v b1="$b1" -v b2="$b2" -v w1="$w1" -v w2="$w2" 'BEGIN {
    b = (b1 + b2) / 2; w = (w1 + w2) / 2
    printf "user instructions/request: base %.0f, weir %.0f, weir/base %.3f\n", b, w, w / b }'
