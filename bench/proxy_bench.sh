#!/usr/bin/env bash
# proxy_bench.sh — CPU cost per request of weir vs nginx vs HAProxy as HTTP/1.1 reverse proxies.
#
# Usage: bench/proxy_bench.sh [options] WEIR_BIN [ROUNDS]
#   --base BIN        compare: also run this weir binary as "weir-base" (the build before a
#                     change), alternating with the others in every round
#   --only LIST       proxies to run, comma-separated and/or repeated (weir,nginx,haproxy);
#                     default all three. WEIR_BIN may be omitted when weir is not selected.
#   --rounds N        rounds (default 7); each round measures every selected proxy once, in order
#   --duration S      seconds per measurement (default 10)
#   --warmup S        seconds of warm-up load per measurement, not measured (default 2)
#   --connections C   wrk connections (default 50); wrk always runs one thread
#   --retries N       repeat a measurement up to N times while something else used > 5% of
#                     core 0 during it (other sessions, builds); default 1, 0 = never
#   --quiet-wait S    before each measurement wait up to S s (default 20; 180 s per run in
#                     all) until neither core is > 5% busy with other work; 0 = don't wait
#   --quiet-budget S  at most S s of quiet-waiting per run in all (default 180)
#   --out DIR         where raw results go (default bench/out/<timestamp>)
#   --scenario NAME   compare (default): weir vs nginx vs HAProxy, as above.
#                     lb: weir vs weir, `weir -c` YAML configs differing only in the upstream
#                       group: rr-1srv (round_robin, one server) vs lc-3srv-hc
#                       (least_connections over three backend ports, active health checks).
#                     metrics: weir vs weir, metrics-on (default) vs metrics-off
#                       (`metrics: false`) vs metrics-on-scrape (metrics on, GET /metrics on
#                       the admin listener once a second from core 1 during the run) vs
#                       metrics-on-healthz (the same poller on the cheap /healthz: a control
#                       for what the curl loop itself costs on core 1).
#                     In lb/metrics, --only selects among the scenario's variants, the
#                     order within a round alternates (A B, B A, ...), and a measurement is
#                     also retried when the backend's CPU/request (fixed work) was > 1.06 x
#                     the lowest seen in the run (the machine was slowed down).
#
# Layout (2 cores): proxy under test pinned to core 0 with one worker; the shared nginx backend
# (1 worker, `return 200` of 1024 bytes, keep-alive) and wrk (-t1) pinned to core 1.
# CPU per request = delta(utime+stime) of the proxy's worker process around the wrk run,
# divided by the requests wrk completed. Everything listens on 127.0.0.1; every process this
# script starts is stopped by PID on exit. Exit status: 0 if every measurement was clean,
# 1 if any was flagged (errors, non-2xx, a proxy that died or failed verification), 2 on usage.
set -uo pipefail   # no -e: every failure below is checked and flagged explicitly

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMDLINE="bench/proxy_bench.sh $*"

usage() { sed -n '2,36p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "proxy_bench: $*" >&2; exit 2; }

ROUNDS=7 DURATION=10 WARMUP=2 CONNS=50 RETRIES=1 NOISY_PCT=5 QUIET_WAIT=20 QUIET_BUDGET=180 OUT="" ONLY=() POS=()
SCENARIO=compare BACKEND_SLOW=1.06 BACKEND_MIN="" NOISY_WHY=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --base) [[ $# -ge 2 ]] || usage; WEIR_BASE=$2; shift 2 ;;
        --only) [[ $# -ge 2 ]] || usage; IFS=, read -ra _o <<<"$2"; ONLY+=("${_o[@]}"); shift 2 ;;
        --only=*) IFS=, read -ra _o <<<"${1#*=}"; ONLY+=("${_o[@]}"); shift ;;
        --rounds) [[ $# -ge 2 ]] || usage; ROUNDS=$2; shift 2 ;;
        --rounds=*) ROUNDS=${1#*=}; shift ;;
        --duration) [[ $# -ge 2 ]] || usage; DURATION=$2; shift 2 ;;
        --duration=*) DURATION=${1#*=}; shift ;;
        --warmup) [[ $# -ge 2 ]] || usage; WARMUP=$2; shift 2 ;;
        --warmup=*) WARMUP=${1#*=}; shift ;;
        --connections) [[ $# -ge 2 ]] || usage; CONNS=$2; shift 2 ;;
        --connections=*) CONNS=${1#*=}; shift ;;
        --retries) [[ $# -ge 2 ]] || usage; RETRIES=$2; shift 2 ;;
        --retries=*) RETRIES=${1#*=}; shift ;;
        --quiet-wait) [[ $# -ge 2 ]] || usage; QUIET_WAIT=$2; shift 2 ;;
        --quiet-wait=*) QUIET_WAIT=${1#*=}; shift ;;
        --quiet-budget) [[ $# -ge 2 ]] || usage; QUIET_BUDGET=$2; shift 2 ;;
        --quiet-budget=*) QUIET_BUDGET=${1#*=}; shift ;;
        --scenario) [[ $# -ge 2 ]] || usage; SCENARIO=$2; shift 2 ;;
        --scenario=*) SCENARIO=${1#*=}; shift ;;
        --out) [[ $# -ge 2 ]] || usage; OUT=$2; shift 2 ;;
        --out=*) OUT=${1#*=}; shift ;;
        -h|--help) usage ;;
        --) shift; POS+=("$@"); break ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
WEIR=${POS[0]:-}
[[ ${#POS[@]} -ge 2 ]] && ROUNDS=${POS[1]}
[[ ${#POS[@]} -le 2 ]] || die "too many arguments"
for v in ROUNDS DURATION WARMUP CONNS RETRIES QUIET_WAIT QUIET_BUDGET; do
    [[ ${!v} =~ ^[0-9]+$ && ${!v} -ge 0 ]] || die "$v must be a non-negative integer"
done
[[ $ROUNDS -ge 1 && $DURATION -ge 1 && $CONNS -ge 1 ]] || die "rounds, duration and connections must be >= 1"

# Scenarios: what is measured ("proxies" are weir configurations in lb and metrics) and the
# variant the others are compared with.
case "$SCENARIO" in
    compare) CANON=(weir weir-base nginx haproxy) BASELINE=nginx ;;
    lb) CANON=(rr-1srv lc-3srv-hc) BASELINE=rr-1srv ;;
    metrics) CANON=(metrics-on metrics-off metrics-on-scrape metrics-on-healthz) BASELINE=metrics-off ;;
    *) die "unknown scenario '$SCENARIO' (compare, lb, metrics)" ;;
esac
is_weir() { [[ $1 == weir || $1 == weir-base || ($SCENARIO != compare && $1 != nginx && $1 != haproxy) ]]; }

PROXIES=()
if [[ ${#ONLY[@]} -eq 0 ]]; then
    for p in "${CANON[@]}"; do
        [[ $p == weir-base && -z ${WEIR_BASE:-} ]] || ONLY+=("$p")
    done
fi
for p in "${CANON[@]}"; do               # keep the canonical order whatever --only says
    for o in "${ONLY[@]}"; do [[ $o == "$p" ]] && { PROXIES+=("$p"); break; }; done
done
for o in "${ONLY[@]}"; do
    [[ " ${CANON[*]} " == *" $o "* ]] || die "unknown proxy '$o' (scenario $SCENARIO: ${CANON[*]})"
done
NEED_WEIR=0
for p in "${PROXIES[@]}"; do is_weir "$p" && NEED_WEIR=1; done

need() { command -v "$1" >/dev/null 2>&1 || die "$1 not found (scripts/install-deps.sh --bench)"; }
for c in nginx wrk taskset curl pgrep; do need "$c"; done
for p in "${PROXIES[@]}"; do [[ $p == haproxy ]] && need haproxy; done
if [[ $NEED_WEIR -eq 1 ]]; then
    [[ -n $WEIR ]] || die "WEIR_BIN is required unless --only excludes weir"
    [[ -x $WEIR ]] || die "WEIR_BIN '$WEIR' is not an executable file"
    WEIR=$(cd "$(dirname "$WEIR")" && pwd)/$(basename "$WEIR")
fi
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
NCPU=$(nproc)
[[ $NCPU -ge 2 ]] || die "needs at least 2 CPUs (proxy on core 0, backend and wrk on core 1)"
CLK_TCK=$(getconf CLK_TCK)

STAMP=$(date +%Y%m%d-%H%M%S)
[[ -n $OUT ]] || OUT="$ROOT/bench/out/$STAMP"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
RAW="$OUT/raw.tsv"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-bench.XXXXXX")
WEIR_RUN=""
# Run a private copy, so a rebuild of WEIR_BIN during the run cannot mix two binaries.
if [[ $NEED_WEIR -eq 1 ]]; then
    if ! { mkdir -p "$TMP/bin" && cp "$WEIR" "$TMP/bin/weir"; }; then
        rm -rf "$TMP"; die "cannot copy $WEIR"
    fi
    WEIR_RUN="$TMP/bin/weir"
fi
if [[ " ${PROXIES[*]} " == *" weir-base "* ]]; then
    [[ -x ${WEIR_BASE:-} ]] || { rm -rf "$TMP"; die "weir-base needs --base BIN"; }
    cp "$WEIR_BASE" "$TMP/bin/weir-base" || { rm -rf "$TMP"; die "cannot copy $WEIR_BASE"; }
fi

# ---------------------------------------------------------------- process bookkeeping
STOP_RC=""          # set by stop_pid: exit status of a process that had already exited
STARTED=()          # every PID we launched (taskset execs, so these are the real daemons)

descendants() {     # all descendants of $1, depth-first
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"; descendants "$c"
    done
}

alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }

# stop_pid PID [NAME] — SIGTERM, wait up to 5 s, then SIGKILL it and any descendants left.
# Prints a note to stderr if SIGKILL was needed.
stop_pid() {
    local pid=$1 name=${2:-process} kids i
    STOP_RC=""
    if ! alive "$pid"; then       # already gone: report how it ended (e.g. 139 = SIGSEGV)
        wait "$pid" 2>/dev/null; STOP_RC=$?
        return 0
    fi
    kids=$(descendants "$pid" | tr '\n' ' ')
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        alive "$pid" || break
        sleep 0.1
    done
    if alive "$pid"; then
        echo "proxy_bench: $name (pid $pid) still running 5 s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    for k in $kids; do alive "$k" && kill -KILL "$k" 2>/dev/null; done
    return 0
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for ((p = ${#STARTED[@]} - 1; p >= 0; p--)); do stop_pid "${STARTED[p]}"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
    "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ticks PID — utime+stime (fields 14, 15 of /proc/PID/stat; all threads) in clock ticks.
ticks() {
    local s f
    s=$(<"/proc/$1/stat") || return 1
    s=${s##*) }                       # skip "pid (comm) " — comm may contain spaces
    read -ra f <<<"$s"                # f[0] is field 3 (state)
    echo $((f[11] + f[12]))
}

# thread_ticks PID — "tid ticks" per thread.
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        echo "${t##*/} $(ticks "$1/task/${t##*/}" 2>/dev/null || echo 0)"
    done
}

now_ns() { date +%s%N; }

# core0 — "busy steal total" ticks of CPU 0 from /proc/stat (busy = user+nice+system+irq+softirq).
core0() {
    local l
    read -ra l < <(grep '^cpu0 ' /proc/stat)
    echo "$((l[1] + l[2] + l[3] + l[6] + l[7])) $((l[8])) $((l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7] + l[8]))"
}

# wait_quiet — before a measurement (the proxy idle), wait until neither core is more than
# NOISY_PCT % busy over one second, for at most QUIET_WAIT s per measurement and
# QUIET_BUDGET s per run; then measures anyway (the measurement may then be retried as noisy).
QUIET_SPENT=0
cores_busy() {  # "busy0 busy1" in % over one second
    local a b
    a=$(grep -E '^cpu[01] ' /proc/stat); sleep 1; b=$(grep -E '^cpu[01] ' /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ busy = $2 + $3 + $4 + $7 + $8 + $9; tot = busy + $5 + $6
        if (NR <= 2) { B[$1] = busy; T[$1] = tot } else {
            d = tot - T[$1]; if (d <= 0) d = 1; printf "%.0f ", (busy - B[$1]) * 100 / d } }'
}
wait_quiet() {
    local waited=0 b0 b1
    while :; do
        read -r b0 b1 < <(cores_busy)
        if [[ ${b0:-0} -le $NOISY_PCT && ${b1:-0} -le $NOISY_PCT ]]; then break; fi
        if ((waited >= QUIET_WAIT || QUIET_SPENT >= QUIET_BUDGET)); then
            echo "   cores still busy (core 0 ${b0}%, core 1 ${b1}%) after ${waited}s; measuring anyway" >&2
            break
        fi
        ((waited == 0)) && echo "   waiting for quiet cores (core 0 ${b0}%, core 1 ${b1}% busy)..." >&2
        sleep 1
        waited=$((waited + 2)); QUIET_SPENT=$((QUIET_SPENT + 2))
    done
}

# wait_http PORT PID SECONDS — until GET / answers 200 or PID dies or time runs out.
wait_http() {
    local port=$1 pid=$2 deadline=$((SECONDS + $3)) code
    while ((SECONDS < deadline)); do
        alive "$pid" || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$port/" || true)
        [[ $code == 200 ]] && return 0
        sleep 0.1
    done
    return 1
}

# verify PORT — one GET through the proxy must be 200 with exactly the 1024-byte body.
verify() {
    local port=$1 code
    code=$(curl -s -o "$TMP/verify.body" -w '%{http_code}' --max-time 3 "http://127.0.0.1:$port/" || true)
    if [[ $code != 200 ]]; then echo "verify: status '$code'"; return 1; fi
    if ! cmp -s "$TMP/verify.body" "$TMP/body.bin"; then
        echo "verify: body of $(stat -c %s "$TMP/verify.body") bytes differs from the expected 1024"
        return 1
    fi
    return 0
}

render() {  # render TEMPLATE DEST DIR PORT
    local user_line=""
    [[ $(id -u) -eq 0 ]] && user_line="user $(id -un) $(id -gn);"   # workers stay the current user
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        -e "s|@USER_LINE@|$user_line|" -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@|$EXTRA_LISTEN|" "$1" >"$2"
}

# ---------------------------------------------------------------- backend
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')   # the 1024-byte body the backend returns
printf '%s' "$BODY" >"$TMP/body.bin"
[[ $(stat -c %s "$TMP/body.bin") -eq 1024 ]] || die "internal: body is not 1024 bytes"

BACKEND_PORT=$(free_port)
# Scenario lb: the same backend nginx (same worker, same server block) also listens on two more
# ports, so weir sees three distinct servers.
BACKEND_PORTS=("$BACKEND_PORT") EXTRA_LISTEN=""
if [[ $SCENARIO == lb ]]; then
    for _i in 2 3; do
        _p=$(free_port)
        BACKEND_PORTS+=("$_p"); EXTRA_LISTEN+="listen 127.0.0.1:$_p backlog=4096; "
    done
fi
mkdir -p "$TMP/backend/tmp"
render "$HERE/conf/nginx-backend.conf.in" "$TMP/backend/nginx.conf" "$TMP/backend" "$BACKEND_PORT"
taskset -c 1 nginx -p "$TMP/backend/" -c "$TMP/backend/nginx.conf" -e "$TMP/backend/error.log" \
    -g 'daemon off;' >"$TMP/backend/stdout.log" 2>&1 &
BACKEND_PID=$!
STARTED+=("$BACKEND_PID")
if ! wait_http "$BACKEND_PORT" "$BACKEND_PID" 10 || ! verify "$BACKEND_PORT" >/dev/null; then
    cat "$TMP/backend/error.log" "$TMP/backend/stdout.log" >&2 2>/dev/null || true
    die "backend nginx did not come up on 127.0.0.1:$BACKEND_PORT"
fi
for _p in "${BACKEND_PORTS[@]}"; do
    _m=$(verify "$_p") || die "backend nginx on 127.0.0.1:$_p: $_m"
done
BACKEND_WORKER=$(pgrep -P "$BACKEND_PID" | head -n1)
[[ -n $BACKEND_WORKER ]] || die "backend nginx has no worker process"

# ---------------------------------------------------------------- proxies
PROXY_PID="" PROXY_WORKER="" PROXY_PORT="" PROXY_NOTE="" ADMIN_PORT=""

# weir_yaml VARIANT PORT ADMIN_PORT — the `weir -c` configuration of a lb/metrics variant.
# All variants share everything but the upstream group (lb) or the `metrics` key (metrics).
# The admin listener is on (as by default) at an explicit free port, so a taken default port
# (another weir on the host) cannot make runs differ; ADMIN_PORT empty = no admin section.
weir_yaml() {
    local v=$1 port=$2 admin=$3
    echo "workers: 1"
    [[ $v == metrics-off ]] && echo "metrics: false"
    echo "listen: [\"127.0.0.1:$port\"]"
    echo 'log: {access: "off"}'
    [[ -n $admin ]] && echo "admin: {listen: \"127.0.0.1:$admin\"}"
    echo "upstreams:"
    echo "  default:"
    case "$v" in
        lc-3srv-hc)
            echo "    balance: least_connections"
            echo "    servers: [\"127.0.0.1:${BACKEND_PORTS[0]}\", \"127.0.0.1:${BACKEND_PORTS[1]}\", \"127.0.0.1:${BACKEND_PORTS[2]}\"]"
            echo "    health: {active: {interval: 1s, timeout: 500ms, path: /, expect: 200-399, rise: 2, fall: 3}}"
            ;;
        *)
            echo "    balance: round_robin"
            echo "    servers: [\"127.0.0.1:$BACKEND_PORT\"]"
            ;;
    esac
    echo "routes:"
    echo "  - {path: /, upstream: default}"
}

# Does this weir accept the admin section? (checked once, with `weir -t`)
WEIR_ADMIN=0
if [[ $SCENARIO != compare && -n $WEIR_RUN ]]; then
    weir_yaml metrics-on 8080 9901 >"$TMP/admin-check.yaml"
    "$WEIR_RUN" -t -c "$TMP/admin-check.yaml" >/dev/null 2>&1 && WEIR_ADMIN=1
    if [[ $WEIR_ADMIN -eq 0 ]]; then
        echo "proxy_bench: this weir does not accept 'admin:'; running without admin listener" >&2
        if [[ " ${PROXIES[*]} " == *" metrics-on-scrape "* || " ${PROXIES[*]} " == *" metrics-on-healthz "* ]]; then
            echo "proxy_bench: dropping metrics-on-scrape and metrics-on-healthz (they need the admin listener)" >&2
            _new=(); for _p in "${PROXIES[@]}"; do [[ $_p == metrics-on-scrape || $_p == metrics-on-healthz ]] || _new+=("$_p"); done
            PROXIES=("${_new[@]}")
            [[ ${#PROXIES[@]} -gt 0 ]] || die "nothing left to measure"
        fi
    fi
fi

forget_pid() {      # drop PID from STARTED once it has been stopped
    local p new=()
    for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || new+=("$p"); done
    STARTED=("${new[@]}")
}

# Scenario metrics, variants metrics-on-scrape and metrics-on-healthz: GET /metrics (or
# /healthz) on the admin listener once a second, pinned to core 1 (with wrk and the backend).
# Each request appends "http_code bytes seconds" to FILE.
SCRAPER_PID=""
start_scraper() {   # start_scraper ADMIN_PORT FILE PATH
    : >"$2"
    # shellcheck disable=SC2016  # $1 and $2 expand in the inner shell
    taskset -c 1 bash -c 'while :; do
        curl -s -o /dev/null --max-time 2 -w "%{http_code} %{size_download} %{time_total}\n" \
            "http://127.0.0.1:$1$2"; sleep 1; done' scraper "$1" "$3" >>"$2" 2>/dev/null &
    SCRAPER_PID=$!
    STARTED+=("$SCRAPER_PID")
}
stop_scraper() {
    [[ -n $SCRAPER_PID ]] || return 0
    stop_pid "$SCRAPER_PID" scraper
    forget_pid "$SCRAPER_PID"
    SCRAPER_PID=""
}

# variant_extra NAME TAG — after a measurement of a lb/metrics variant: save /metrics and print
# a one-line summary (requests per server, health checks, scrapes, CPU per thread) for
# extra.tsv. Uses measure()'s thr0/thr1 ("tid ticks" before/after the measured run).
variant_extra() {
    local name=$1 tag=$2 out=() f
    # CPU ticks of each thread during the measured run, in thread start order (lowest TID
    # first: with workers: 1 that is the main thread, the worker, the admin thread).
    out+=("thread_ticks=$(awk 'NR == FNR { b[$1] = $2; next } { print $1, $2 - b[$1] }' \
        <(printf '%s\n' "$thr0") <(printf '%s\n' "$thr1") | sort -n | awk '{ printf "%s%s", (NR > 1 ? "/" : ""), $2 }')")
    if [[ -n $ADMIN_PORT ]] && curl -s --max-time 3 -o "$OUT/$tag.metrics.txt" \
        "http://127.0.0.1:$ADMIN_PORT/metrics"; then
        f="$OUT/$tag.metrics.txt"
        out+=("$(awk '
            /^weir_server_requests_total\{/ { n++; r[n] = $NF; t += $NF }
            /^weir_server_health_checks_total\{/ { hc += $NF }
            /^weir_server_health_checks_failed_total\{/ { hf += $NF }
            /^weir_requests_total / { req = $NF }
            END {
                s = "requests_total=" (req == "" ? "?" : req) " server_share="
                for (i = 1; i <= n; i++) s = s (i > 1 ? "/" : "") (t > 0 ? sprintf("%.1f%%", r[i] * 100 / t) : "0")
                printf "%s health_checks=%d failed=%d", s, hc, hf
            }' "$f")")
    fi
    if [[ $name == metrics-on-[sh]* && -f $TMP/scrape.log ]]; then
        cp "$TMP/scrape.log" "$OUT/$tag.scrape.log"
        out+=("$(awk '{ n++; if ($1 == 200) ok++; b += $2; t += $3; if ($3 > m) m = $3 }
            END { printf "scrapes=%d ok=%d avg_bytes=%.0f avg_ms=%.1f max_ms=%.1f", n, ok,
                  n ? b / n : 0, n ? t * 1000 / n : 0, m * 1000 }' "$TMP/scrape.log")")
    fi
    echo "${out[*]}"
}

# start_proxy NAME — sets PROXY_PID, PROXY_WORKER (the process whose CPU is measured),
# PROXY_PORT, PROXY_NOTE (problems found while identifying the worker). Returns 1 on failure.
start_proxy() {
    local name=$1 dir="$TMP/$1" kids n i
    rm -rf "$dir"; mkdir -p "$dir/tmp"
    PROXY_PORT=$(free_port) PROXY_NOTE="" PROXY_WORKER="" ADMIN_PORT=""
    local kind=$name
    is_weir "$name" && kind=weir
    case "$name" in
        weir)
            taskset -c 0 "$WEIR_RUN" proxy --listen "127.0.0.1:$PROXY_PORT" \
                --to "127.0.0.1:$BACKEND_PORT" --workers 1 >"$dir/stdout.log" 2>&1 &
            ;;
        weir-base)
            taskset -c 0 "$TMP/bin/weir-base" proxy --listen "127.0.0.1:$PROXY_PORT" \
                --to "127.0.0.1:$BACKEND_PORT" --workers 1 >"$dir/stdout.log" 2>&1 &
            ;;
        nginx)
            render "$HERE/conf/nginx-proxy.conf.in" "$dir/nginx.conf" "$dir" "$PROXY_PORT"
            taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" \
                -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
            ;;
        haproxy)
            render "$HERE/conf/haproxy.cfg.in" "$dir/haproxy.cfg" "$dir" "$PROXY_PORT"
            taskset -c 0 haproxy -f "$dir/haproxy.cfg" -db >"$dir/stdout.log" 2>&1 &
            ;;
        *)  # a lb/metrics variant: weir -c with a generated YAML
            [[ $WEIR_ADMIN -eq 1 ]] && ADMIN_PORT=$(free_port)
            weir_yaml "$name" "$PROXY_PORT" "$ADMIN_PORT" >"$dir/weir.yaml"
            taskset -c 0 "$WEIR_RUN" -c "$dir/weir.yaml" >"$dir/stdout.log" 2>&1 &
            ;;
    esac
    PROXY_PID=$!
    STARTED+=("$PROXY_PID")
    if ! wait_http "$PROXY_PORT" "$PROXY_PID" 15; then
        PROXY_NOTE="did-not-start"
        return 1
    fi
    # Which process does the work? nginx: the single worker child of the master.
    # weir/haproxy: the process itself (if weir forks, its single child).
    for ((i = 0; i < 50; i++)); do
        kids=$(pgrep -P "$PROXY_PID" || true)
        n=$(grep -c . <<<"$kids" || true)
        [[ $kind != nginx || $n -ge 1 ]] && break
        sleep 0.1
    done
    case "$kind:$n" in
        nginx:1|weir:1) PROXY_WORKER=$kids ;;
        weir:0|haproxy:0) PROXY_WORKER=$PROXY_PID ;;
        *) PROXY_WORKER=$PROXY_PID; PROXY_NOTE="child-processes=$n" ;;
    esac
    return 0
}

stop_proxy() {
    STOP_RC=""
    [[ -n $PROXY_PID ]] || return 0
    stop_pid "$PROXY_PID" "$1"
    local p new=()
    for p in "${STARTED[@]}"; do [[ $p == "$PROXY_PID" ]] || new+=("$p"); done
    STARTED=("${new[@]}")
    PROXY_PID=""
}

tree_ticks() {  # sum of ticks over PID and its descendants
    local sum=0 p t
    for p in "$1" $(descendants "$1"); do
        t=$(ticks "$p" 2>/dev/null) || continue
        sum=$((sum + t))
    done
    echo "$sum"
}

printf '%s\n' "round	proxy	status	requests	duration_s	rps	p50_us	p99_us	non2xx	sock_errors	cpu_ticks	cpu_us_per_req	tree_cpu_us_per_req	util_pct	threads	top_thread_pct	backend_cpu_us_per_req	core0_other_pct	core0_steal_pct	loadavg_before" >"$RAW"

ANY_FLAGGED=0
# measure ROUND NAME ATTEMPT — one full measurement: start the proxy, verify, warm up, measure,
# stop it. Writes its raw.tsv line to $TMP/line.tsv and sets NOISY=1 if core 0 was disturbed.
measure() {
    local round=$1 name=$2 attempt=$3 tag="r$1-$2" flags=() line status msg
    [[ $attempt -gt 0 ]] && tag="$tag.retry$attempt"
    NOISY=0 EXTRA=""
    local w0 w1 tr0 tr1 b0 b1 ns0 ns1 thr0 thr1 load c0 c1 other="" steal=""
    local reqs="" dur="" rps="" p50="" p99="" non2xx="" sock="" dt="" cpu="" tcpu="" util="" nthr="" top="" bcpu=""
    echo "== round $round/$ROUNDS: $name" >&2
    if ! start_proxy "$name"; then
        flags+=("$PROXY_NOTE")
    else
        [[ -n $PROXY_NOTE ]] && flags+=("$PROXY_NOTE")
        local aff
        aff=$(taskset -pc "$PROXY_WORKER" 2>/dev/null | sed 's/.*: //')
        [[ $aff == 0 ]] || flags+=("affinity=$aff")
        if ! msg=$(verify "$PROXY_PORT"); then flags+=("verify-failed"); echo "   $msg" >&2
        else
            [[ $QUIET_WAIT -gt 0 ]] && wait_quiet
            [[ $name == metrics-on-scrape && -n $ADMIN_PORT ]] && start_scraper "$ADMIN_PORT" "$TMP/scrape.log" /metrics
            [[ $name == metrics-on-healthz && -n $ADMIN_PORT ]] && start_scraper "$ADMIN_PORT" "$TMP/scrape.log" /healthz
            timeout $((WARMUP + 30)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" \
                "http://127.0.0.1:$PROXY_PORT/" >"$OUT/$tag.warmup.txt" 2>&1 || true
            if ! alive "$PROXY_WORKER"; then flags+=("died-in-warmup")
            elif ! msg=$(verify "$PROXY_PORT"); then flags+=("verify-failed"); echo "   $msg" >&2
            else
                load=$(cut -d' ' -f1 /proc/loadavg)
                thr0=$(thread_ticks "$PROXY_WORKER")
                w0=$(ticks "$PROXY_WORKER"); tr0=$(tree_ticks "$PROXY_PID")
                b0=$(ticks "$BACKEND_WORKER"); c0=$(core0); ns0=$(now_ns)
                timeout $((DURATION + 60)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
                    "http://127.0.0.1:$PROXY_PORT/" >"$OUT/$tag.wrk.txt" 2>&1 || flags+=("wrk-exit-$?")
                ns1=$(now_ns); c1=$(core0)
                if ! w1=$(ticks "$PROXY_WORKER" 2>/dev/null) || ! alive "$PROXY_WORKER"; then
                    flags+=("died")
                else
                    thr1=$(thread_ticks "$PROXY_WORKER")
                    tr1=$(tree_ticks "$PROXY_PID"); b1=$(ticks "$BACKEND_WORKER")
                    stop_scraper
                    # Other load on core 0 (anything but the proxy) and steal, in % of core 0.
                    read -r other steal < <(echo "$c0 $c1" | awk -v d="$((w1 - w0))" '{
                        tot = $6 - $3; if (tot <= 0) tot = 1
                        o = ($4 - $1 - d) * 100 / tot; if (o < 0) o = 0
                        printf "%.1f %.1f\n", o, ($5 - $2) * 100 / tot }')
                    if line=$("$PY" "$HERE/summarize.py" wrk "$OUT/$tag.wrk.txt" 2>/dev/null); then
                        IFS=$'\t' read -r reqs dur rps p50 p99 non2xx sock <<<"$line"
                        dt=$((w1 - w0))
                        if [[ $reqs -gt 0 ]]; then
                            printf '%s\n' "$thr0" >"$TMP/thr0"; printf '%s\n' "$thr1" >"$TMP/thr1"
                            read -r cpu tcpu bcpu util nthr top < <("$PY" "$HERE/summarize.py" cpu \
                                "$dt" "$((tr1 - tr0))" "$((b1 - b0))" "$reqs" "$CLK_TCK" \
                                "$((ns1 - ns0))" "$TMP/thr0" "$TMP/thr1")
                            [[ -n $cpu ]] || flags+=("cpu-calc-failed")
                        else
                            flags+=("no-requests")
                        fi
                        [[ ${non2xx:-0} -eq 0 ]] || flags+=("non2xx=$non2xx")
                        [[ ${sock:-0} -eq 0 ]] || flags+=("socket-errors=$sock")
                    else
                        flags+=("wrk-output-unparsable")
                    fi
                    if ! msg=$(verify "$PROXY_PORT"); then flags+=("verify-after-failed"); echo "   $msg" >&2; fi
                    if [[ $SCENARIO != compare ]]; then
                        EXTRA=$(variant_extra "$name" "$tag")
                        [[ $name == metrics-on-[sh]* && $EXTRA != *scrapes=* ]] && flags+=("no-scrapes")
                        if [[ $EXTRA =~ scrapes=([0-9]+)\ ok=([0-9]+) ]] &&
                            [[ ${BASH_REMATCH[1]} -eq 0 || ${BASH_REMATCH[1]} != "${BASH_REMATCH[2]}" ]]; then
                            flags+=("scrape-failed")
                        fi
                    fi
                fi
            fi
        fi
    fi
    stop_scraper
    stop_proxy "$name"
    if [[ -n $STOP_RC ]]; then    # the proxy was gone before we stopped it
        local how="exit-status=$STOP_RC"
        [[ $STOP_RC -gt 128 ]] && how="killed-by-SIG$(kill -l $((STOP_RC - 128)) 2>/dev/null || echo $((STOP_RC - 128)))"
        flags+=("$how")
    fi
    if [[ ${#flags[@]} -gt 0 ]]; then
        echo "   $name problems: ${flags[*]}; last log lines:" >&2
        tail -n 15 "$TMP/$name/stdout.log" "$TMP/$name/error.log" 2>/dev/null | sed 's/^/   | /' >&2
        if [[ -z $reqs && -s $OUT/$tag.wrk.txt ]] &&
            line=$("$PY" "$HERE/summarize.py" wrk "$OUT/$tag.wrk.txt" 2>/dev/null); then
            IFS=$'\t' read -r reqs dur rps p50 p99 non2xx sock <<<"$line"   # for the record only
        fi
    fi
    for f in error.log stdout.log; do
        [[ -s $TMP/$name/$f ]] && cp "$TMP/$name/$f" "$OUT/$tag.$f"
    done
    [[ -s $TMP/$name/weir.yaml && ! -e $OUT/$name.yaml ]] && cp "$TMP/$name/weir.yaml" "$OUT/$name.yaml"
    printf '%s\t%s\t%s\n' "$round" "$name" "$EXTRA" >"$TMP/extra.tsv"
    status=ok
    if [[ ${#flags[@]} -gt 0 ]]; then status=$(IFS=,; echo "${flags[*]}"); fi
    NOISY_WHY="core 0 was busy with other work"
    if [[ $status == ok && -n $other ]] && awk -v o="$other" -v t="$NOISY_PCT" 'BEGIN { exit !(o > t) }'; then
        NOISY=1
    fi
    # lb/metrics: the backend does the same fixed work per request in every variant, so its CPU
    # per request is a meter of how disturbed the machine was (a neighbour on the host, core 1
    # busy, caches): when it is more than BACKEND_SLOW x the lowest seen in this run, weir's
    # figure is inflated as well (by up to 50% on this machine) and the measurement is retried.
    if [[ $SCENARIO != compare && $status == ok && -n $bcpu ]]; then
        if [[ -z $BACKEND_MIN ]] || awk -v b="$bcpu" -v m="$BACKEND_MIN" 'BEGIN { exit !(b < m) }'; then
            BACKEND_MIN=$bcpu
        elif awk -v b="$bcpu" -v m="$BACKEND_MIN" -v k="$BACKEND_SLOW" 'BEGIN { exit !(b > m * k) }'; then
            [[ $NOISY -eq 1 ]] && NOISY_WHY+=" and " || NOISY_WHY=""
            NOISY_WHY+="the backend was slow ($bcpu us/req, lowest so far $BACKEND_MIN)"
            NOISY=1
        fi
    fi
    {
    printf '%s\t' "$round" "$name" "$status" "${reqs:-}" "${dur:-}" "${rps:-}" "${p50:-}" "${p99:-}" \
        "${non2xx:-}" "${sock:-}" "${dt:-}" "${cpu:-}" "${tcpu:-}" "${util:-}" "${nthr:-}" "${top:-}" \
        "${bcpu:-}" "${other:-}" "${steal:-}"
    printf '%s\n' "${load:-}"
    } >"$TMP/line.tsv"
    printf '   %s: %s req/s, p50 %s us, p99 %s us, CPU %s us/req (util %s%%, %s threads, top thread %s%%; core-0 other load %s%%) [%s]\n' \
        "$name" "${rps:--}" "${p50:--}" "${p99:--}" "${cpu:--}" "${util:--}" "${nthr:--}" "${top:--}" "${other:--}" "$status" >&2
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command: $CMDLINE"
    echo "kernel: $(uname -r)"
    echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1) ($NCPU CPUs)"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //')"
    command -v haproxy >/dev/null && echo "haproxy: $(haproxy -v 2>&1 | head -n1)"
    echo "wrk: $(wrk --version 2>&1 | head -n1)"
    [[ -n $WEIR_RUN ]] && echo "weir: $WEIR (built $(stat -c '%y' "$WEIR" | cut -d. -f1), sha256 $(sha256sum "$WEIR_RUN" | cut -c1-16), $("$WEIR_RUN" --version 2>&1 | head -n1))"
    echo "clk_tck: $CLK_TCK; rounds: $ROUNDS; duration: ${DURATION}s; warmup: ${WARMUP}s; connections: $CONNS; retries: $RETRIES (noisy > ${NOISY_PCT}% of core 0); quiet-wait: ${QUIET_WAIT}s"
    echo "proxies: ${PROXIES[*]}; backend 127.0.0.1:$BACKEND_PORT"
    if [[ $SCENARIO != compare ]]; then
        echo "scenario: $SCENARIO; baseline: $BASELINE; also retried: backend CPU/req > ${BACKEND_SLOW} x the run's lowest; backend ports: ${BACKEND_PORTS[*]}; admin listener: $([[ $WEIR_ADMIN -eq 1 ]] && echo on || echo off); quiet-budget: ${QUIET_BUDGET}s"
        for p in "${PROXIES[@]}"; do
            echo "--- $p (PORT, ADMIN_PORT: fresh free ports per measurement)"
            weir_yaml "$p" PORT "$([[ $WEIR_ADMIN -eq 1 ]] && echo ADMIN_PORT)"
            [[ $p == metrics-on-scrape ]] && echo "# + GET http://127.0.0.1:ADMIN_PORT/metrics once a second (curl loop on core 1) during warm-up and measurement"
            [[ $p == metrics-on-healthz ]] && echo "# + GET http://127.0.0.1:ADMIN_PORT/healthz once a second (curl loop on core 1) during warm-up and measurement"
        done
    fi
} >"$OUT/meta.txt"
echo "proxy_bench: ${PROXIES[*]} x $ROUNDS rounds, ${DURATION}s each; raw results in $OUT" >&2

# A measurement during which something else used more than NOISY_PCT % of core 0 (other
# sessions, builds) is repeated, at most RETRIES times; the discarded lines go to discarded.tsv.
head -n1 "$RAW" >"$OUT/discarded.tsv"
[[ $SCENARIO == compare ]] || printf 'round\tproxy\textra\n' >"$OUT/extra.tsv"
for ((r = 1; r <= ROUNDS; r++)); do
    ORDER=("${PROXIES[@]}")
    # weir-vs-weir scenarios: alternate the order (A B, B A, A B...) so a drift in machine load
    # during a round does not always favour the same variant.
    if [[ $SCENARIO != compare && $((r % 2)) -eq 0 ]]; then
        ORDER=(); for ((i = ${#PROXIES[@]} - 1; i >= 0; i--)); do ORDER+=("${PROXIES[i]}"); done
    fi
    for p in "${ORDER[@]}"; do
        for ((a = 0; a <= RETRIES; a++)); do
            measure "$r" "$p" "$a"
            if [[ $NOISY -eq 1 && $a -lt $RETRIES ]]; then
                echo "   ($NOISY_WHY; measuring $p again)" >&2
                cat "$TMP/line.tsv" >>"$OUT/discarded.tsv"
                continue
            fi
            cat "$TMP/line.tsv" >>"$RAW"
            [[ $SCENARIO == compare ]] || cat "$TMP/extra.tsv" >>"$OUT/extra.tsv"
            [[ $(cut -f3 "$TMP/line.tsv") == ok ]] || ANY_FLAGGED=1
            break
        done
    done
done

if [[ $SCENARIO == compare ]]; then
    "$PY" "$HERE/summarize.py" table "$RAW" --cmd "$CMDLINE" >"$OUT/summary.md"
else
    "$PY" "$HERE/summarize.py" variants "$RAW" --cmd "$CMDLINE" --scenario "$SCENARIO" \
        --baseline "$BASELINE" --order "${PROXIES[*]}" >"$OUT/summary.md"
fi
echo
cat "$OUT/summary.md"
echo
echo "Command: $CMDLINE"
echo "Raw results: $OUT/raw.tsv (wrk outputs alongside)"
exit "$ANY_FLAGGED"
