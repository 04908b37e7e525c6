# bench_lib.sh — helpers the server benchmarks share (sourced by static_bench.sh,
# cache_bench.sh, tls_bench.sh and h2_bench.sh after they set PY, QUIET_WAIT and TMP): process
# bookkeeping (STARTED, stop_pid, forget_pid, the EXIT trap that stops everything by PID and
# removes TMP), free_port, CPU ticks of a process, the median of numbers on stdin, waiting for
# quiet cores, and one wrk measurement (wrk_measure).
# shellcheck shell=bash
STARTED=()
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }
stop_pid() {        # SIGTERM, up to 5 s, then SIGKILL; sets STOP_RC when it had already exited
    local pid=$1 i
    STOP_RC=""
    if ! alive "$pid"; then wait "$pid" 2>/dev/null; STOP_RC=$?; return 0; fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    return 0
}
forget_pid() { local p keep=(); for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; STARTED=("${keep[@]}"); }
# shellcheck disable=SC2317
cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    for ((p = ${#STARTED[@]} - 1; p >= 0; p--)); do stop_pid "${STARTED[p]}"; done
    rm -rf "$TMP"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { local s f; s=$(<"/proc/$1/stat") || return 1; s=${s##*) }; read -ra f <<<"$s"; echo $((f[11] + f[12])); }
cores_busy() {      # "busy0 busy1" in % over one second
    local a b
    a=$(grep -E '^cpu[01] ' /proc/stat); sleep 1; b=$(grep -E '^cpu[01] ' /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ busy = $2 + $3 + $4 + $7 + $8 + $9; tot = busy + $5 + $6
        if (NR <= 2) { B[$1] = busy; T[$1] = tot } else {
            d = tot - T[$1]; if (d <= 0) d = 1; printf "%.0f ", (busy - B[$1]) * 100 / d } }'
}
QUIET=-
wait_quiet() {      # sets QUIET to yes, or to the cores' load when it measures anyway
    local waited=0 b0 b1
    QUIET=-
    while ((QUIET_WAIT > 0)); do
        read -r b0 b1 < <(cores_busy)
        [[ ${b0:-0} -le 5 && ${b1:-0} -le 5 ]] && { QUIET=yes; return 0; }
        if ((waited >= QUIET_WAIT)); then
            QUIET="busy:${b0}%/${b1}%"
            echo "   cores busy (${b0}% / ${b1}%); measuring anyway" >&2
            return 0
        fi
        sleep 1; waited=$((waited + 2))
    done
}
wrk_measure() {     # wrk_measure URL TAG — waits for quiet cores, warms up, then measures with
                    # wrk on core 1: sets the caller's reqs rps p50 p99 non2xx sock and cpu (µs
                    # of WORKER_PID per request), adds to its flags (bash's dynamic scope)
    local url=$1 tag=$2 t0 t1 line _dur
    wait_quiet
    timeout $((WARMUP + 30)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" "$url" \
        >"$OUT/$tag.warmup.txt" 2>&1
    t0=$(ticks "$WORKER_PID")
    timeout $((DURATION + 60)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency "$url" \
        >"$OUT/$tag.wrk.txt" 2>&1 || flags+=("wrk-failed")
    if ! t1=$(ticks "$WORKER_PID" 2>/dev/null); then
        flags+=("died")
    elif line=$("$PY" "$HERE/summarize.py" wrk "$OUT/$tag.wrk.txt" 2>/dev/null); then
        IFS=$'\t' read -r reqs _dur rps p50 p99 non2xx sock <<<"$line"
        [[ ${reqs:-0} -gt 0 ]] && cpu=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="$reqs" \
            'BEGIN { printf "%.3f", d * 1e6 / hz / n }')
        [[ ${non2xx:-0} -eq 0 ]] || flags+=("non2xx=$non2xx")
        [[ ${sock:-0} -eq 0 ]] || flags+=("socket-errors=$sock")
    else
        flags+=("wrk-unparsable")
    fi
}
