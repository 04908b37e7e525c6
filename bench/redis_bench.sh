#!/usr/bin/env bash
# redis_bench.sh — what sharing the rate limit through Redis costs per request (issue 15):
# weir's CPU per request, p99 latency, Redis round trips per request (INFO commandstats) and
# Redis CPU per request (INFO cpu), memory backend vs redis backend, same load.
#
# usage: bench/redis_bench.sh [WEIR_BIN] [--rate R] [--duration D] [--rounds N] [--connections C]
#                             [--tls]
#        bench/redis_bench.sh [WEIR_BIN] --scale [--feature ratelimit|waitroom] [--duration D]
#   WEIR_BIN defaults to build/weir (a release build; ASan builds measure ASan).
# --tls: a third row, the redis backend over TLS (state.tls, Redis's --tls-port with a CA and
#   a certificate for 127.0.0.1 made here): what the in-process TLS tunnel costs.
# --scale: one Redis serving 1, 2, then 3 instances (1 worker each), each driven by its own
#   closed-model `weir load` (-c CONNS, 1 thread) at once: total req/s, Redis round trips and
#   Redis CPU per request. --feature waitroom puts a waiting room (that admits everyone: one
#   `arrive` script per request, no cookie kept) on the route instead of the rate limit.
# The route is a static file behind a rate limit that never refuses (rate 10^6/s), so every
# request pays the decision and nothing else changes between the two runs. Open-model load
# (`weir load --rate`), so latencies of the two backends are taken at the same offered rate.
# weir runs 1 worker; redis-server, weir and the load generator share the machine's cores
# (unpinned: other work on the host shows in the figures — compare counts, repeat rounds).
set -euo pipefail

BIN=build/weir
RATE=2000
DURATION=10s
ROUNDS=3
CONNS=20
SCALE=0
TLS=0
FEATURE=ratelimit
while [ $# -gt 0 ]; do
    case "$1" in
    --rate) RATE=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --connections) CONNS=$2; shift 2 ;;
    --scale) SCALE=1; shift ;;
    --tls) TLS=1; shift ;;
    --feature) FEATURE=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) BIN=$1; shift ;;
    esac
done
[ -x "$BIN" ] || { echo "no weir binary at $BIN" >&2; exit 2; }
command -v redis-server >/dev/null || { echo "redis-server is not installed" >&2; exit 2; }

PY=python3
TMP=$(mktemp -d /tmp/weir-redis-bench.XXXXXX)
# shellcheck source=bench/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"   # STARTED + the EXIT trap (stop by PID), free_port, ticks
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
TICK=$(getconf CLK_TCK)

RPORT=$(free_port)
TLSARGS=()
if [ "$TLS" = 1 ]; then
    TPORT=$(free_port)
    (cd "$TMP" && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -keyout ca.key -out ca.pem -days 1 -subj /CN=bench-ca &&
     openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout srv.key \
        -out srv.csr -subj /CN=redis &&
     echo "subjectAltName=IP:127.0.0.1" >srv.ext &&
     openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 1 \
        -out srv.pem -extfile srv.ext) >/dev/null 2>&1
    TLSARGS=(--tls-port "$TPORT" --tls-cert-file "$TMP/srv.pem" --tls-key-file "$TMP/srv.key"
             --tls-ca-cert-file "$TMP/ca.pem" --tls-auth-clients no)
fi
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no "${TLSARGS[@]}" \
    >"$TMP/redis.log" 2>&1 &
STARTED+=($!)
wait_port "$RPORT"
rinfo() { redis-cli -p "$RPORT" INFO "$1" | tr -d '\r'; }
redis_cpu_us() { rinfo cpu | awk -F: '/^used_cpu_(sys|user):/ {s += $2} END {printf "%.0f", s * 1e6}'; }
# Round trips: the commands weir sends (EVALSHA; the GET/SET/TIME a script runs inside Redis
# are counted by commandstats too, but cost no round trip).
redis_calls() { rinfo commandstats | awk -F'[:=,]' '/^cmdstat_(evalsha|evalsha_ro|eval|publish):/ {s += $3} END {print s + 0}'; }

mkdir -p "$TMP/www"
head -c 512 /dev/zero >"$TMP/www/f"

run_one() { # backend → one line: backend reqs weir_us/req p50_ms p99_ms redis_cmds/req redis_us/req
    local backend=$1 port state=""
    port=$(free_port)
    if [ "$backend" = redis ]; then
        state="state: {backend: redis, address: 127.0.0.1:$RPORT}"
    elif [ "$backend" = redis-tls ]; then
        state="state: {backend: redis, address: 127.0.0.1:$TPORT, tls: {ca: $TMP/ca.pem}}"
    fi
    cat >"$TMP/w.yaml" <<EOF
workers: 1
listen: ["127.0.0.1:$port"]
admin: off
log: {level: warn, access: "off"}
$state
routes:
  - path: /
    static: {root: $TMP/www}
    rate_limit: {rate: 1000000, per: 1s, burst: 1000, key: client_ip}
EOF
    "$BIN" -c "$TMP/w.yaml" >"$TMP/weir-$backend.log" 2>&1 &
    local wpid=$!
    STARTED+=("$wpid")
    wait_port "$port"
    sleep 0.5 # the Redis connection's handshake
    "$BIN" load "http://127.0.0.1:$port/f" -d 1s --rate "$RATE" -c "$CONNS" -q >/dev/null 2>&1 || true
    local c0 r0 k0
    c0=$(ticks "$wpid"); r0=$(redis_cpu_us); k0=$(redis_calls)
    "$BIN" load "http://127.0.0.1:$port/f" -d "$DURATION" --rate "$RATE" -c "$CONNS" -q \
        --warmup 0s --json "$TMP/load.json" >/dev/null 2>&1 || true
    local c1 r1 k1
    c1=$(ticks "$wpid"); r1=$(redis_cpu_us); k1=$(redis_calls)
    stop_pid "$wpid"; forget_pid "$wpid"
    python3 - "$TMP/load.json" "$backend" "$((c1 - c0))" "$TICK" "$((r1 - r0))" "$((k1 - k0))" <<'PY'
import json, sys
j = json.load(open(sys.argv[1]))
backend, ticks, tick, rus, calls = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
t = j["totals"]
reqs = t["done"]
errs = t["errors"] + t["timeouts"] + t["status_5xx"]
lat = j["latency_us"]["corrected"]
p50, p99 = lat["p50"] / 1000.0, lat["p99"] / 1000.0
if backend == "memory":
    rus = calls = 0  # Redis is idle: the INFO calls themselves are not this backend's cost
print("%-9s %8d %6s %9.1f %8.3f %8.3f %10.3f %10.1f" % (
    backend, reqs, errs, ticks / tick * 1e6 / max(reqs, 1), float(p50), float(p99),
    calls / max(reqs, 1), rus / max(reqs, 1)))
PY
}

route_feature() {
    if [ "$FEATURE" = waitroom ]; then
        echo "    waiting_room: {name: bench, max_active: 10000000, admit_per_minute: 10000000,"
        echo "                   session: 10s, secret: $(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
    else
        echo "    rate_limit: {rate: 1000000, per: 1s, burst: 1000, key: client_ip}"
    fi
}

run_scale() { # n → one line: n total_req/s errors redis_rtt/req redis_us/req
    local n=$1 i port pids=() ports=() loads=()
    for i in $(seq "$n"); do
        port=$(free_port)
        cat >"$TMP/w$i.yaml" <<EOF
workers: 1
listen: ["127.0.0.1:$port"]
admin: off
log: {level: warn, access: "off"}
state: {backend: redis, address: 127.0.0.1:$RPORT, command_timeout: 200ms}
routes:
  - path: /
    static: {root: $TMP/www}
$(route_feature)
EOF
        "$BIN" -c "$TMP/w$i.yaml" >"$TMP/weir-$i.log" 2>&1 &
        pids+=($!); STARTED+=($!); ports+=("$port")
    done
    for port in "${ports[@]}"; do wait_port "$port"; done
    sleep 0.5 # the Redis connections' handshakes
    local r0 k0 r1 k1
    r0=$(redis_cpu_us); k0=$(redis_calls)
    for i in $(seq "$n"); do
        "$BIN" load "http://127.0.0.1:${ports[$((i - 1))]}/f" -d "$DURATION" -c "$CONNS" -t 1 -q \
            --warmup 0s --json "$TMP/load$i.json" >/dev/null 2>&1 &
        loads+=($!)
    done
    for i in "${loads[@]}"; do wait "$i" || true; done
    r1=$(redis_cpu_us); k1=$(redis_calls)
    for i in "${pids[@]}"; do stop_pid "$i"; forget_pid "$i"; done
    python3 - "$n" "$((r1 - r0))" "$((k1 - k0))" "$DURATION" "$TMP"/load*.json <<'PY'
import json, sys
n, rus, calls, dur = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
secs = float(dur[:-1]) if dur.endswith("s") and not dur.endswith("ms") else float(dur[:-2]) / 1000
reqs = errs = 0
for f in sys.argv[5:]:
    t = json.load(open(f))["totals"]
    reqs += t["done"]
    errs += t["errors"] + t["timeouts"] + t["status_5xx"]
print("%9d %11.0f %6d %13.3f %12.1f" % (n, reqs / secs, errs, calls / max(reqs, 1),
                                          rus / max(reqs, 1)))
PY
    rm -f "$TMP"/load*.json
}

if [ "$SCALE" = 1 ]; then
    echo "# weir $("$BIN" --version 2>&1 | head -1), redis $(redis-server --version | awk '{print $3}'), feature $FEATURE, $DURATION, $CONNS connections per instance, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "instances total_req/s errors redis_rtt/req redis_us/req"
    for _ in $(seq "$ROUNDS"); do
        for n in 1 2 3; do run_scale "$n"; done
    done
    exit 0
fi

echo "# weir $("$BIN" --version 2>&1 | head -1), redis $(redis-server --version | awk '{print $3}'), rate $RATE req/s, $DURATION, $CONNS connections, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "backend       reqs errors weir_us/req p50_ms   p99_ms   redis_rtt/req redis_us/req"
for _ in $(seq "$ROUNDS"); do
    run_one memory
    run_one redis
    if [ "$TLS" = 1 ]; then run_one redis-tls; fi
done
