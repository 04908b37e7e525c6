#!/usr/bin/env bash
# waitroom_bench.sh — what the virtual waiting room costs (docs/waiting-room.md).
#
# Usage: bench/waitroom_bench.sh [BUILD_DIR] [--rounds N] [--duration S]
#   BUILD_DIR  a release build (default build-rel/, set up with --buildtype=release if missing)
#
# 1. Micro (BUILD_DIR/bench/micro/waitroom_bench): ns per cookie check (HMAC verify), per
#    cached check (the per-worker verified-value cache), per cookie issue, per store touch and
#    poll, and 1,000,000 arrivals into one room (ns each, RSS growth).
# 2. End to end: weir (1 worker, pinned to core 0) in front of nginx (`return 200`, 1 KiB, core
#    1), wrk -t1 -c20 on core 1, one route, alternately without and with a waiting room:
#      off       no waiting_room
#      admitted  a room with room to spare; wrk sends an admitted visitor's cookie (each run is
#                shorter than the 5 s touch interval: cookie check only, no store call)
#      poll      a full room (max_active 1, taken); wrk sends a waiter's cookie: every request
#                is a poll answered with the queue JSON. refresh 1s: all but the first half
#                second are store polls (lock + state machine + a new signed cookie)
#      early     the same with refresh 60s: every poll is answered from the cookie alone
#    CPU µs/request = Δ(utime+stime of weir) / requests (from /proc/PID/stat), median of
#    --rounds (3) runs of --duration (4) s each.
# The machine may be shared: the figures are a floor and the comparison is what matters.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/.." && pwd)"
BUILD="$ROOT/build-rel"
ROUNDS=3
DURATION=4
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=$2; shift 2 ;;
        --duration) DURATION=$2; shift 2 ;;
        -h|--help) sed -n '2,24p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) BUILD="$(cd "$1" && pwd)"; shift ;;
    esac
done
for t in wrk nginx taskset curl; do
    command -v "$t" >/dev/null || { echo "needs $t (scripts/install-deps.sh --bench)" >&2; exit 2; }
done
if [[ ! -d "$BUILD" ]]; then
    meson setup "$BUILD" --buildtype=release >/dev/null
fi
ninja -C "$BUILD" -j2 weir bench/micro/waitroom_bench >/dev/null

TMP=$(mktemp -d /tmp/weir-waitroom-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT

echo "== micro ($BUILD/bench/micro/waitroom_bench 1000000)"
taskset -c 0 "$BUILD/bench/micro/waitroom_bench" 1000000
echo

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
BPORT=$(free_port)
mkdir -p "$TMP/backend/tmp"
user_line=""
[[ $(id -u) -eq 0 ]] && user_line="user $(id -un) $(id -gn);"
sed -e "s|@DIR@|$TMP/backend|g" -e "s|@PORT@|$BPORT|g" -e "s|@USER_LINE@|$user_line|" \
    -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" "$HERE/conf/nginx-backend.conf.in" \
    >"$TMP/backend/nginx.conf"
taskset -c 1 nginx -p "$TMP/backend/" -c "$TMP/backend/nginx.conf" -g 'daemon off;' \
    >"$TMP/backend/out.log" 2>&1 &
PIDS+=($!)
head -c 48 /dev/urandom | base64 >"$TMP/secret"

config() {  # config NAME PORT ROOM(yes|no) MAX_ACTIVE REFRESH
    local room=""
    if [[ $3 == yes ]]; then
        room="
    waiting_room:
      name: bench
      max_active: $4
      admit_per_minute: $4
      session: 5m
      refresh: $5
      abandon_after: 10m
      secret: \${file:$TMP/secret}"
    fi
    cat >"$TMP/$1.yaml" <<EOF
workers: 1
listen: ["127.0.0.1:$2"]
admin: off
log: {level: warn, access: off}
upstreams:
  b: {servers: ["127.0.0.1:$BPORT"], health: {passive: off}}
routes:
  - path: /
    upstream: b$room
EOF
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# run NAME ROOM MAX_ACTIVE REFRESH COOKIE_KIND -> prints cpu_us_per_req rps
run() {
    local name=$1 port
    port=$(free_port)
    config "$name" "$port" "$2" "$3" "$4"
    taskset -c 0 "$BUILD/weir" -c "$TMP/$name.yaml" 2>"$TMP/$name.err" &
    local wpid=$!
    for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    local hdr=()
    if [[ $5 == admitted ]]; then
        local c; c=$(curl -s -D - -o /dev/null "http://127.0.0.1:$port/" | sed -n 's/^Set-Cookie: \(weir_wr_bench=[^;]*\).*/\1/p')
        hdr=(-H "Cookie: $c")
    elif [[ $5 == waiting ]]; then
        curl -s -o /dev/null "http://127.0.0.1:$port/"   # takes the only slot
        local c; c=$(curl -s -D - -o /dev/null -H 'Accept: application/json' "http://127.0.0.1:$port/" | sed -n 's/^Set-Cookie: \(weir_wr_bench=[^;]*\).*/\1/p')
        hdr=(-H "Cookie: $c" -H "Accept: application/json")
    fi
    local t0 t1 out reqs
    t0=$(ticks "$wpid")
    out=$(taskset -c 1 wrk -t1 -c20 -d"${DURATION}s" "${hdr[@]}" "http://127.0.0.1:$port/")
    t1=$(ticks "$wpid")
    kill "$wpid"; wait "$wpid" 2>/dev/null || true
    reqs=$(echo "$out" | awk '/requests in/ {print $1}')
    local non2xx; non2xx=$(echo "$out" | awk '/Non-2xx/ {print $5}')
    echo "$(( (t1 - t0) * 10000 * 1000 / (reqs > 0 ? reqs : 1) ))" "$(echo "$out" | awk '/Requests\/sec/ {print int($2)}')" "${non2xx:-0}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

echo "== end to end: weir 1 worker (core 0), nginx + wrk -t1 -c20 (core 1), ${ROUNDS} x ${DURATION}s"
declare -A CPU RPS
for r in $(seq "$ROUNDS"); do
    for kind in off admitted poll early; do
        case $kind in
            off) res=$(run off no 0 1s none) ;;
            admitted) res=$(run admitted yes 100000 20s admitted) ;;
            poll) res=$(run poll yes 1 1s waiting) ;;
            early) res=$(run early yes 1 60s waiting) ;;
        esac
        read -r cpu rps non2xx <<<"$res"
        CPU[$kind]+="$cpu "
        RPS[$kind]+="$rps "
        printf '  round %d %-9s %6.2f us/req  %7d req/s  non-2xx %s\n' "$r" "$kind" \
            "$(echo "$cpu / 1000" | bc -l)" "$rps" "$non2xx"
    done
done
echo
echo "median CPU µs per request (weir, all threads):"
for kind in off admitted poll early; do
    m=$(echo "${CPU[$kind]}" | tr ' ' '\n' | grep . | median)
    printf '  %-9s %6.2f\n' "$kind" "$(echo "$m / 1000" | bc -l)"
done
off=$(echo "${CPU[off]}" | tr ' ' '\n' | grep . | median)
adm=$(echo "${CPU[admitted]}" | tr ' ' '\n' | grep . | median)
printf '  admitted - off = %.2f µs (the room'"'"'s cost on an admitted request)\n' "$(echo "($adm - $off) / 1000" | bc -l)"
