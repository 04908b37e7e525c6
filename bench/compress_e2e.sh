#!/usr/bin/env bash
# compress_e2e.sh — compression end to end: CPU per MB of weir's `compress` route key against
# nginx's gzip filter, both proxying the same 100 KiB JSON and HTML files (issue 9 target: at
# gzip levels 1 and 6, weir's CPU per MB ≤ nginx's at an equal or better ratio; weir's brotli and
# zstd reported beside).
#
# Usage: bench/compress_e2e.sh [options] WEIR_BIN
#   --rounds N        rounds (default 3); each measures every variant on every corpus once, the
#                     order alternating (forward, backward) between rounds and corpora
#   --duration S      seconds per measurement (default 5)
#   --warmup S        seconds of warm-up load per measurement, not measured (default 1)
#   --connections C   wrk connections (default 50); wrk always runs one thread
#   --corpus LIST     json, html or json,html (default): bench/compress_corpus.py's api.json
#                     and page.html, 102400 bytes each, deterministic
#   --variants LIST   default weir-gzip1,nginx-gzip1,weir-gzip6,nginx-gzip6,weir-br4,weir-zstd3;
#                     SERVER-CODINGLEVEL, SERVER weir or nginx (gzip only)
#   --retries N       repeat a measurement (at most N times, 6 per run in all) when something
#                     else used > 5% of core 0 during it (default 1)
#   --quiet-wait S    before each measurement wait up to S s until both cores are ≤ 5% busy
#                     (default 10; 0 = don't wait)
#   --others-wait S   before the run, wait up to S s (default 600; polled every 20 s) until no
#                     other benchmark runs (wrk, nginx, haproxy or a bench/ script of someone
#                     else) and both cores are ≤ 10% busy for 3 s; what was seen is printed
#                     and kept in meta.txt, and each measurement lists the others after it
#   --out DIR         where raw results go (default bench/out/compress-e2e-<timestamp>)
#
# Layout (bench/proxy_bench.sh's): the proxy under test is pinned to core 0 with one worker; an
# nginx backend (1 worker, the corpus files as they are, keep-alive) and wrk (-t1) are pinned
# to core 1. Proxies: weir (`weir -c`, generated YAML: one upstream, a route with
# `compress: {codings: [C], levels: {C: L}}`, workers 1, admin off, log level warn) and nginx
# (bench/conf/nginx-gzip-proxy.conf.in: proxy_pass with upstream keep-alive, gzip on at level
# L). Each is started fresh per measurement; first one GET with the variant's Accept-Encoding
# must come back with that Content-Encoding and decode (gzip/brotli/zstd -dc) to the file byte
# for byte: its size gives the ratio (compressed / original; lower is better). Then a warm-up,
# then wrk -H 'Accept-Encoding: C' for the duration. CPU = Δ(utime+stime) of the proxy's
# worker (nginx's worker child; weir's process, all threads) from /proc/PID/stat, divided by
# wrk's request count (µs/request) and by the uncompressed bytes served (ms per MB, 1 MB =
# 10^6 bytes). Medians over the rounds. Every process this script starts is stopped by PID.
# Exit status: 0 if every measurement was clean, 1 if any was flagged, 2 on usage errors.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMDLINE="bench/compress_e2e.sh $*"

usage() { sed -n '2,39p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2; }
die() { echo "compress_e2e: $*" >&2; exit 2; }

ROUNDS=3 DURATION=5 WARMUP=1 CONNS=50 CORPORA=json,html RETRIES=1 RETRY_BUDGET=6
QUIET_WAIT=10 OTHERS_WAIT=600 OUT="" POS=()
VARIANTS=weir-gzip1,nginx-gzip1,weir-gzip6,nginx-gzip6,weir-br4,weir-zstd3
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --warmup) WARMUP=${2:?}; shift 2 ;;
        --connections) CONNS=${2:?}; shift 2 ;;
        --corpus) CORPORA=${2:?}; shift 2 ;;
        --variants) VARIANTS=${2:?}; shift 2 ;;
        --retries) RETRIES=${2:?}; shift 2 ;;
        --quiet-wait) QUIET_WAIT=${2:?}; shift 2 ;;
        --others-wait) OTHERS_WAIT=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || usage
WEIR=${POS[0]}
[[ -x $WEIR ]] || die "WEIR_BIN '$WEIR' is not an executable file"
for v in ROUNDS DURATION WARMUP CONNS RETRIES QUIET_WAIT OTHERS_WAIT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
[[ $ROUNDS -ge 1 && $DURATION -ge 1 && $CONNS -ge 1 ]] || die "rounds, duration and connections must be >= 1"
IFS=, read -ra CORPUS_LIST <<<"$CORPORA"
for c in "${CORPUS_LIST[@]}"; do [[ $c == json || $c == html ]] || die "unknown corpus '$c' (json, html)"; done
IFS=, read -ra VARIANT_LIST <<<"$VARIANTS"
declare -A DECODER=([gzip]="gzip -dc" [br]="brotli -dc" [zstd]="zstd -dcq")
for v in "${VARIANT_LIST[@]}"; do
    [[ $v =~ ^(weir|nginx)-(gzip|br|zstd)([0-9]+)$ ]] || die "bad variant '$v' (e.g. weir-gzip6, nginx-gzip1, weir-br4)"
    [[ ${BASH_REMATCH[1]} == weir || ${BASH_REMATCH[2]} == gzip ]] || die "nginx does gzip only ('$v')"
    command -v "${DECODER[${BASH_REMATCH[2]}]%% *}" >/dev/null || die "${DECODER[${BASH_REMATCH[2]}]%% *} not found (to check $v's bodies)"
done
for c in nginx wrk taskset curl pgrep cmp ps; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (scripts/install-deps.sh --bench)"
done
[[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs (proxy on core 0, backend and wrk on core 1)"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
CLK_TCK=$(getconf CLK_TCK)

OUT=${OUT:-$ROOT/bench/out/compress-e2e-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
RAW="$OUT/raw.tsv"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-compress-e2e.XXXXXX")
# A private copy, so a rebuild of WEIR_BIN during the run cannot mix two binaries.
if ! { mkdir -p "$TMP/bin" "$TMP/www" && cp "$WEIR" "$TMP/bin/weir"; }; then rm -rf "$TMP"; die "cannot copy $WEIR"; fi
WEIR_RUN="$TMP/bin/weir"

# ---------------------------------------------------------------- process bookkeeping
STARTED=()
alive() { [[ -n $1 ]] && kill -0 "$1" 2>/dev/null; }
stop_pid() {        # SIGTERM, up to 5 s, then SIGKILL; sets STOP_RC when it had already exited
    local pid=$1 i
    STOP_RC=""
    if ! alive "$pid"; then wait "$pid" 2>/dev/null; STOP_RC=$?; return 0; fi
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 50; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
        echo "compress_e2e: pid $pid still running 5 s after SIGTERM; sending SIGKILL" >&2
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    return 0
}
forget_pid() { local p n=(); for p in "${STARTED[@]}"; do [[ $p == "$1" ]] || n+=("$p"); done; STARTED=("${n[@]}"); }
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

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ticks() { local s f; s=$(<"/proc/$1/stat") || return 1; s=${s##*) }; read -ra f <<<"$s"; echo $((f[11] + f[12])); }
core0() {           # "busy total" ticks of CPU 0 (busy = user+nice+system+irq+softirq+steal)
    local l
    read -ra l < <(grep '^cpu0 ' /proc/stat)
    echo "$((l[1] + l[2] + l[3] + l[6] + l[7] + l[8])) $((l[1] + l[2] + l[3] + l[4] + l[5] + l[6] + l[7] + l[8]))"
}
cores_busy() {      # "busy0 busy1" in % over one second
    local a b
    a=$(grep -E '^cpu[01] ' /proc/stat); sleep 1; b=$(grep -E '^cpu[01] ' /proc/stat)
    printf '%s\n%s\n' "$a" "$b" | awk '{ busy = $2 + $3 + $4 + $7 + $8 + $9; tot = busy + $5 + $6
        if (NR <= 2) { B[$1] = busy; T[$1] = tot } else {
            d = tot - T[$1]; if (d <= 0) d = 1; printf "%.0f ", (busy - B[$1]) * 100 / d } }'
}

# others — one line per process of someone else that competes for the cores: wrk, nginx,
# haproxy, or a bench/ script (their weir and backends run under them), and, marked "(load)",
# test runs and builds (pytest, an ASan weir, ninja, cc1), which are reported, not waited for.
# Processes in this script's own tree and its ancestors are not others'.
others() {
    ps -eo pid=,ppid=,comm=,args= | awk -v me="$$" '
        { pid = $1; pp[pid] = $2; comm[pid] = $3; a = $0; sub(/^ *[0-9]+ +[0-9]+ +[^ ]+ +/, "", a); args[pid] = a }
        END {
            for (p = me; (p in pp) && p + 0 > 1; p = pp[p]) mine[p] = 1
            for (pid in pp) {
                for (p = pid; (p in pp) && p + 0 > 1 && !(p in mine); p = pp[p]) ;
                if (p in mine) continue
                c = comm[pid]; kind = ""
                if (c == "wrk" || c == "nginx" || c == "haproxy" || args[pid] ~ /bench\/[a-z_0-9]+\.(sh|py)|micro\/[a-z_]+bench/) kind = "bench"
                else if (c == "weir" || c ~ /^(ninja|cc1|cc|ld|meson)$/ || args[pid] ~ /pytest/) kind = "load"
                if (kind == "") continue
                printf "%s%s %s: %s\n", (kind == "load" ? "(load) " : ""), pid, c, substr(args[pid], 1, 100)
            }
        }' | sort -k2,2n
}

# wait_for_others — before the run: poll every 20 s, up to OTHERS_WAIT s, until no other
# benchmark runs and both cores are ≤ 10% busy for 3 s (which also catches load from scripts
# that others() does not know by name). Prints and records (OTHERS_SEEN) what it saw.
OTHERS_SEEN="" OTHERS_WAITED=0
wait_for_others() {
    local seen bench b0 b1 i
    while :; do
        seen=$(others)
        bench=$(grep -v '^(load)' <<<"$seen" | grep -c . || true)
        if [[ $bench -eq 0 ]]; then
            for ((i = 0; i < 3; i++)); do
                read -r b0 b1 < <(cores_busy)
                [[ ${b0:-0} -le 10 && ${b1:-0} -le 10 ]] || { bench=1; break; }
            done
            [[ $bench -eq 0 ]] || seen+="${seen:+$'\n'}(cores) busy: core 0 ${b0}%, core 1 ${b1}%"
        fi
        if [[ -n $seen ]]; then
            echo "compress_e2e: at +${OTHERS_WAITED}s, other processes:" >&2
            printf '   %s\n' "${seen//$'\n'/$'\n   '}" >&2
            OTHERS_SEEN+="  at +${OTHERS_WAITED}s: $(cut -d: -f1 <<<"$seen" | paste -sd, | sed 's/,/, /g')"$'\n'
        fi
        [[ $bench -eq 0 ]] && break
        if ((OTHERS_WAITED >= OTHERS_WAIT)); then
            echo "compress_e2e: other benchmarks still running after ${OTHERS_WAITED}s; measuring anyway" >&2
            break
        fi
        sleep 20; OTHERS_WAITED=$((OTHERS_WAITED + 20))
    done
    echo "compress_e2e: waited ${OTHERS_WAITED}s for other benchmarks; $([[ $bench -eq 0 ]] && echo "none left running, cores quiet" || echo "still running: $bench")" >&2
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
            echo "   cores busy (core 0 ${b0}%, core 1 ${b1}%) after ${waited}s; measuring anyway" >&2
            return 0
        fi
        ((waited == 0)) && echo "   waiting for quiet cores (core 0 ${b0}%, core 1 ${b1}%)..." >&2
        sleep 1; waited=$((waited + 2))
    done
}

render() {          # render TEMPLATE DEST DIR PORT LEVEL
    local user_line=""
    [[ $(id -u) -eq 0 ]] && user_line="user $(id -un) $(id -gn);"   # workers stay the current user
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@BACKEND_PORT@|${BACKEND_PORT:-}|g" \
        -e "s|@LEVEL@|$5|g" -e "s|@ROOT@|$TMP/www|g" -e "s|@USER_LINE@|$user_line|" "$1" >"$2"
}

# fetch PORT FILE CODING — one GET with Accept-Encoding: CODING. Prints the compressed size;
# fails (with a message) unless the status is 200, Content-Encoding is CODING and the body
# decodes to FILE byte for byte.
fetch() {
    local port=$1 file=$2 coding=$3 code ce
    code=$(curl -s -H "Accept-Encoding: $coding" -D "$TMP/fetch.hdr" -o "$TMP/fetch.body" \
        -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/$file" || true)
    [[ $code == 200 ]] || { echo "status '$code'"; return 1; }
    ce=$(tr -d '\r' <"$TMP/fetch.hdr" | awk -F': *' 'tolower($1) == "content-encoding" { print $2 }')
    [[ $ce == "$coding" ]] || { echo "Content-Encoding '$ce', not $coding"; return 1; }
    # shellcheck disable=SC2086  # the decoder command is words
    ${DECODER[$coding]} <"$TMP/fetch.body" >"$TMP/fetch.decoded" 2>/dev/null ||
        { echo "the $coding body does not decode"; return 1; }
    cmp -s "$TMP/fetch.decoded" "$TMP/www/$file" || { echo "the decoded body differs from $file"; return 1; }
    stat -c %s "$TMP/fetch.body"
}

# ---------------------------------------------------------------- corpus and backend
"$PY" "$HERE/compress_corpus.py" "$TMP/www" || die "compress_corpus.py failed"
declare -A FILE_OF=([json]=api.json [html]=page.html)
declare -A SIZE_OF=()
for c in "${CORPUS_LIST[@]}"; do SIZE_OF[$c]=$(stat -c %s "$TMP/www/${FILE_OF[$c]}"); done

wait_for_others

BACKEND_PORT=$(free_port)
mkdir -p "$TMP/backend/tmp"
render "$HERE/conf/nginx-files-backend.conf.in" "$TMP/backend/nginx.conf" "$TMP/backend" "$BACKEND_PORT" 0
taskset -c 1 nginx -p "$TMP/backend/" -c "$TMP/backend/nginx.conf" -e "$TMP/backend/error.log" \
    -g 'daemon off;' >"$TMP/backend/stdout.log" 2>&1 &
BACKEND_PID=$!
STARTED+=("$BACKEND_PID")
for ((i = 0; i < 100; i++)); do
    curl -s -o "$TMP/b.body" --max-time 1 "http://127.0.0.1:$BACKEND_PORT/api.json" && cmp -s "$TMP/b.body" "$TMP/www/api.json" && break
    alive "$BACKEND_PID" || break
    sleep 0.1
done
cmp -s "$TMP/b.body" "$TMP/www/api.json" 2>/dev/null || { cat "$TMP/backend/"*.log >&2; die "backend nginx did not come up"; }
BACKEND_WORKER=$(pgrep -P "$BACKEND_PID" | head -n1)
[[ -n $BACKEND_WORKER ]] || die "backend nginx has no worker process"

# ---------------------------------------------------------------- the proxies
weir_yaml() {       # weir_yaml PORT CODING LEVEL
    cat <<EOF
workers: 1
listen: ["127.0.0.1:$1"]
admin: off
log: {level: warn, access: "off"}
upstreams:
  backend:
    servers: ["127.0.0.1:$BACKEND_PORT"]
routes:
  - path: /
    upstream: backend
    compress: {codings: [$2], levels: {$2: $3}}
EOF
}

PROXY_PID="" WORKER_PID="" PORT=""
start_proxy() {     # start_proxy SERVER CODING LEVEL FILE — sets PROXY_PID, WORKER_PID, PORT
    local server=$1 dir="$TMP/$1" kids i
    rm -rf "$dir"; mkdir -p "$dir/tmp"
    PORT=$(free_port) WORKER_PID=""
    if [[ $server == nginx ]]; then
        render "$HERE/conf/nginx-gzip-proxy.conf.in" "$dir/nginx.conf" "$dir" "$PORT" "$3"
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
            >"$dir/stdout.log" 2>&1 &
    else
        weir_yaml "$PORT" "$2" "$3" >"$dir/weir.yaml"
        taskset -c 0 "$WEIR_RUN" -c "$dir/weir.yaml" >"$dir/stdout.log" 2>"$dir/error.log" &
    fi
    PROXY_PID=$!
    STARTED+=("$PROXY_PID")
    for ((i = 0; i < 100; i++)); do
        alive "$PROXY_PID" || return 1
        [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 1 "http://127.0.0.1:$PORT/$4") == 200 ]] && break
        sleep 0.1
    done
    ((i < 100)) || return 1
    # The process doing the work: nginx's one worker child; weir itself (or its one child).
    kids=$(pgrep -P "$PROXY_PID" || true)
    case "$server:$(grep -c . <<<"$kids")" in
        nginx:1|weir:1) WORKER_PID=$kids ;;
        weir:0) WORKER_PID=$PROXY_PID ;;
        *) return 1 ;;
    esac
}
stop_proxy() { STOP_RC=""; [[ -n $PROXY_PID ]] || return 0; stop_pid "$PROXY_PID"; forget_pid "$PROXY_PID"; PROXY_PID=""; }

# ---------------------------------------------------------------- one measurement
ANY_FLAGGED=0 NOISY=0
measure() {         # measure ROUND VARIANT CORPUS ATTEMPT — appends to $TMP/line.tsv
    local r=$1 v=$2 corpus=$3 file=${FILE_OF[$3]} size=${SIZE_OF[$3]} tag="r$1-$2-$3"
    [[ $4 -gt 0 ]] && tag="$tag.retry$4"
    [[ $v =~ ^(weir|nginx)-(gzip|br|zstd)([0-9]+)$ ]]
    local server=${BASH_REMATCH[1]} coding=${BASH_REMATCH[2]} level=${BASH_REMATCH[3]}
    local flags=() csize="" csize2="" t0 t1 b0 b1 c0 c1 line _dur reqs="" rps="" p50="" p99="" non2xx="" sock=""
    local cpu="" mbcpu="" bcpu="" other="" seen
    NOISY=0
    echo "== round $r/$ROUNDS: $v, $corpus" >&2
    if ! start_proxy "$server" "$coding" "$level" "$file"; then
        flags+=("start-failed")
    elif ! csize=$(fetch "$PORT" "$file" "$coding"); then
        flags+=("fetch-failed"); echo "   $v: $csize" >&2; csize=""
    else
        wait_quiet
        timeout $((WARMUP + 30)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${WARMUP}s" -H "Accept-Encoding: $coding" \
            "http://127.0.0.1:$PORT/$file" >"$OUT/$tag.warmup.txt" 2>&1
        t0=$(ticks "$WORKER_PID"); b0=$(ticks "$BACKEND_WORKER"); c0=$(core0)
        timeout $((DURATION + 60)) taskset -c 1 wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency \
            -H "Accept-Encoding: $coding" "http://127.0.0.1:$PORT/$file" >"$OUT/$tag.wrk.txt" 2>&1 ||
            flags+=("wrk-failed")
        c1=$(core0); b1=$(ticks "$BACKEND_WORKER")
        if ! t1=$(ticks "$WORKER_PID" 2>/dev/null); then
            flags+=("died")
        elif line=$("$PY" "$HERE/summarize.py" wrk "$OUT/$tag.wrk.txt" 2>/dev/null); then
            IFS=$'\t' read -r reqs _dur rps p50 p99 non2xx sock <<<"$line"
            if [[ ${reqs:-0} -gt 0 ]]; then
                read -r cpu mbcpu bcpu other < <(awk -v d=$((t1 - t0)) -v bd=$((b1 - b0)) -v hz="$CLK_TCK" \
                    -v n="$reqs" -v sz="$size" -v c="$c0 $c1" 'BEGIN {
                        split(c, k, " "); tot = k[4] - k[2]; if (tot <= 0) tot = 1
                        o = (k[3] - k[1] - d) * 100 / tot; if (o < 0) o = 0
                        printf "%.1f %.3f %.1f %.1f\n", d * 1e6 / hz / n, d * 1e3 / hz / (n * sz / 1e6),
                            bd * 1e6 / hz / n, o }')
            else
                flags+=("no-requests")
            fi
            [[ ${non2xx:-0} -eq 0 ]] || flags+=("non2xx=$non2xx")
            [[ ${sock:-0} -eq 0 ]] || flags+=("socket-errors=$sock")
        else
            flags+=("wrk-unparsable")
        fi
        if ! csize2=$(fetch "$PORT" "$file" "$coding"); then flags+=("fetch-after-failed"); echo "   $v: $csize2" >&2
        elif [[ $csize2 != "$csize" ]]; then flags+=("size-changed=$csize/$csize2")
        fi
    fi
    stop_proxy
    [[ -n $STOP_RC ]] && flags+=("exited-$STOP_RC")
    grep -q 'temporary file' "$TMP/$server/error.log" 2>/dev/null && flags+=("nginx-temp-file")
    for f in error.log stdout.log; do [[ -s $TMP/$server/$f ]] && cp "$TMP/$server/$f" "$OUT/$tag.$f"; done
    [[ -f $TMP/$server/weir.yaml ]] && cp "$TMP/$server/weir.yaml" "$OUT/$v.yaml"
    [[ -f $TMP/$server/nginx.conf ]] && cp "$TMP/$server/nginx.conf" "$OUT/$v.nginx.conf"
    # other processes after the run, by name ("~" marks load: tests, builds): "nginx*2,~weir*1"
    seen=$(others | awk '{ print ($1 == "(load)" ? "~" $3 : $2) }' | tr -d ':' | sort | uniq -c |
        awk '{ printf "%s%s*%s", (NR > 1 ? "," : ""), $2, $1 }')
    local status=ok
    [[ ${#flags[@]} -gt 0 ]] && status=$(IFS=,; echo "${flags[*]}")
    [[ $status == ok && -n $other ]] && awk -v o="$other" 'BEGIN { exit !(o > 5) }' && NOISY=1
    printf '%s\t' "$r" "$v" "$corpus" "$status" "$size" "${csize:--}" "${reqs:--}" "${rps:--}" \
        "${p50:--}" "${p99:--}" "${cpu:--}" "${mbcpu:--}" "${bcpu:--}" "${other:--}" "$QUIET" >"$TMP/line.tsv"
    printf '%s\n' "${seen:--}" >>"$TMP/line.tsv"
    printf '   %s %s: %s bytes (%s), %s req/s, CPU %s us/req = %s ms/MB; backend %s us/req; core-0 other load %s%%; others: %s [%s]\n' \
        "$v" "$corpus" "${csize:--}" "$(awk -v c="${csize:-0}" -v s="$size" 'BEGIN { printf "%.4f", c / s }')" \
        "${rps:--}" "${cpu:--}" "${mbcpu:--}" "${bcpu:--}" "${other:--}" "${seen:-none}" "$status" >&2
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command: $CMDLINE"
    echo "kernel: $(uname -r); cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n1) ($(nproc) CPUs); clk_tck: $CLK_TCK"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //'); wrk: $(wrk --version 2>&1 | head -n1 | cut -c1-40)"
    echo "weir: $WEIR (built $(stat -c '%y' "$WEIR" | cut -d. -f1), sha256 $(sha256sum "$WEIR_RUN" | cut -c1-16))"
    echo "corpora: $(cd "$TMP/www" && for c in "${CORPUS_LIST[@]}"; do printf '%s %s bytes md5 %s; ' "${FILE_OF[$c]}" "${SIZE_OF[$c]}" "$(md5sum <"${FILE_OF[$c]}" | cut -c1-12)"; done)"
    echo "rounds: $ROUNDS; duration: ${DURATION}s; warmup: ${WARMUP}s; connections: $CONNS; variants: $VARIANTS; retries: $RETRIES (core 0 > 5% other load, $RETRY_BUDGET per run); quiet-wait: ${QUIET_WAIT}s"
    echo "waited for other benchmarks: ${OTHERS_WAITED}s (max ${OTHERS_WAIT}s)"
    [[ -n $OTHERS_SEEN ]] && printf 'other processes seen before the run:\n%s' "$OTHERS_SEEN"
} >"$OUT/meta.txt"
cat "$OUT/meta.txt" >&2
printf 'round\tvariant\tcorpus\tstatus\tbytes\tcompressed\trequests\trps\tp50_us\tp99_us\tcpu_us_per_req\tcpu_ms_per_mb\tbackend_us_per_req\tcore0_other_pct\tquiet_before\tothers_after\n' >"$RAW"
printf '%s' "$(head -n1 "$RAW")"$'\n' >"$OUT/discarded.tsv"

RETRIES_LEFT=$RETRY_BUDGET
for ((r = 1; r <= ROUNDS; r++)); do
    for ((ci = 0; ci < ${#CORPUS_LIST[@]}; ci++)); do
        # the order alternates between rounds and corpora: forward, backward, forward...
        order=("${VARIANT_LIST[@]}")
        if (((r + ci) % 2 == 0)); then
            order=(); for ((i = ${#VARIANT_LIST[@]} - 1; i >= 0; i--)); do order+=("${VARIANT_LIST[i]}"); done
        fi
        for v in "${order[@]}"; do
            for ((a = 0; a <= RETRIES; a++)); do
                measure "$r" "$v" "${CORPUS_LIST[ci]}" "$a"
                if [[ $NOISY -eq 1 && $a -lt $RETRIES && $RETRIES_LEFT -gt 0 ]]; then
                    echo "   (core 0 was busy with other work; measuring $v again)" >&2
                    RETRIES_LEFT=$((RETRIES_LEFT - 1))
                    cat "$TMP/line.tsv" >>"$OUT/discarded.tsv"
                    continue
                fi
                cat "$TMP/line.tsv" >>"$RAW"
                [[ $(cut -f4 "$TMP/line.tsv") == ok ]] || ANY_FLAGGED=1
                break
            done
        done
    done
done

# ---------------------------------------------------------------- summary
"$PY" - "$RAW" "$CMDLINE" "$VARIANTS" >"$OUT/summary.md" <<'EOF'
import csv, statistics, sys
raw, cmd, variants = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
rows = [r for r in csv.DictReader(open(raw), delimiter="\t")]
ok = [r for r in rows if r["status"] == "ok"]
corpora = [c for c in ("json", "html") if any(r["corpus"] == c for r in rows)]
med = lambda xs: statistics.median(xs) if xs else float("nan")
def get(corpus, v, key):
    return [float(r[key]) for r in ok if r["corpus"] == corpus and r["variant"] == v]
print("| corpus | variant | CPU µs/req | CPU ms/MB (min–max) | bytes | ratio | req/s | runs |")
print("|---|---|---|---|---|---|---|---|")
for c in corpora:
    for v in variants:
        mb = get(c, v, "cpu_ms_per_mb")
        if not mb:
            print("| %s | %s | — | — | — | — | — | 0 |" % (c, v)); continue
        size = get(c, v, "bytes")[0]; comp = med(get(c, v, "compressed"))
        print("| %s | %s | %.0f | %.2f (%.2f–%.2f) | %d | %.4f | %.0f | %d |" % (
            c, v, med(get(c, v, "cpu_us_per_req")), med(mb), min(mb), max(mb), comp, comp / size,
            med(get(c, v, "rps")), len(mb)))
print()
levels = sorted({v.split("gzip")[1] for v in variants if v.startswith("nginx-gzip") and "weir-gzip" + v.split("gzip")[1] in variants}, key=int)
if levels:
    print("| corpus | gzip level | weir ms/MB | nginx ms/MB | weir / nginx | weir ratio | nginx ratio |")
    print("|---|---|---|---|---|---|---|")
    for c in corpora:
        for l in levels:
            w, n = med(get(c, "weir-gzip" + l, "cpu_ms_per_mb")), med(get(c, "nginx-gzip" + l, "cpu_ms_per_mb"))
            wr = med(get(c, "weir-gzip" + l, "compressed")) / max(1, (get(c, "weir-gzip" + l, "bytes") or [0])[0])
            nr = med(get(c, "nginx-gzip" + l, "compressed")) / max(1, (get(c, "nginx-gzip" + l, "bytes") or [0])[0])
            print("| %s | %s | %.2f | %.2f | **%.2f** | %.4f | %.4f |" % (c, l, w, n, w / n if n else float("nan"), wr, nr))
    print()
flagged = len(rows) - len(ok)
print("Medians over %d clean measurements%s; ratio = compressed / original bytes (lower is better); "
      "1 MB = 10^6 bytes of uncompressed body. Target: weir / nginx ≤ 1.00 at an equal or lower ratio. "
      "Command: `%s`" % (len(ok), " (%d flagged, left out)" % flagged if flagged else "", cmd))
EOF
echo
cat "$OUT/summary.md"
echo "Raw results: $RAW"
exit "$ANY_FLAGGED"
