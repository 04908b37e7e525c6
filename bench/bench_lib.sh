# bench_lib.sh — helpers the server benchmarks share (sourced by static_bench.sh and
# cache_bench.sh after they set PY, QUIET_WAIT and TMP): process bookkeeping (STARTED, stop_pid,
# forget_pid, the EXIT trap that stops everything by PID and removes TMP), free_port, CPU ticks
# of a process, and waiting for quiet cores.
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
forget_pid() { local p n=(); for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || n+=("$p"); done; STARTED=("${n[@]}"); }
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
