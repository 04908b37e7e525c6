#!/usr/bin/env bash
# static_bench.sh — CPU cost per request of weir's `static:` module vs nginx serving the same
# files (issue 9 target: weir's CPU µs/request ≤ 0.8 × nginx's, for 1 KiB and 100 KiB files).
#
# Usage: bench/static_bench.sh [options] WEIR_BIN
#   --rounds N        rounds (default 3); each measures every size on both servers, the order
#                     alternating per round and size (weir nginx, nginx weir, ...)
#   --duration S      seconds per measurement (default 10)
#   --warmup S        seconds of warm-up load per measurement, not measured (default 2)
#   --connections C   wrk connections (default 50); wrk always runs one thread
#   --sizes LIST      file sizes, comma-separated, in KiB (default 1,100)
#   --quiet-wait S    before each measurement wait up to S s until both cores are ≤ 5% busy
#                     with other work (default 20; 0 = don't wait); raw.tsv says if they were
#   --weir-inline SZ  weir's open_file_cache.inline (default: weir's, 8k; 0: every body by
#                     sendfile, as nginx does)
#   --floor BIN       also measure BIN (build/bench/micro/sendfile_floor: recv, head with
#                     MSG_MORE, sendfile, nothing else) in the same rounds: the kernel's own cost
#                     of serving the file, the floor under any server's ratio
#   --out DIR         where raw results go (default bench/out/static-<timestamp>)
#
# Method (bench/proxy_bench.sh's): the server under test is pinned to core 0 with one worker,
# wrk (-t1) to core 1. Each server is started fresh per measurement, checked (GET must return
# the file byte for byte, before and after), warmed up, then measured. CPU per request =
# Δ(utime+stime) of the server's worker (nginx's worker child; weir's process, all threads)
# around the wrk run, from /proc/PID/stat, divided by wrk's request count. Both servers: files
# from a temp dir of random bytes (page cache warm), keep-alive without a request limit, no
# access log, an open-file cache (nginx: open_file_cache max=1000 valid=5s; weir: its default,
# 1000 entries, 5 s), sendfile. Everything on 127.0.0.1; every process started here is stopped
# by PID on exit. Exit status: 0 if every measurement was clean, 1 if any was flagged, 2 on
# usage errors.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMDLINE="bench/static_bench.sh $*"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 2; }
die() { echo "static_bench: $*" >&2; exit 2; }

ROUNDS=3 DURATION=10 WARMUP=2 CONNS=50 SIZES=1,100 QUIET_WAIT=20 OUT="" POS=() INLINE="" FLOOR=""
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --warmup) WARMUP=${2:?}; shift 2 ;;
        --connections) CONNS=${2:?}; shift 2 ;;
        --sizes) SIZES=${2:?}; shift 2 ;;
        --quiet-wait) QUIET_WAIT=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        --weir-inline) INLINE=${2:?}; shift 2 ;;
        --floor) FLOOR=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || usage
WEIR=${POS[0]}
[[ -x $WEIR ]] || die "WEIR_BIN '$WEIR' is not an executable file"
for v in ROUNDS DURATION WARMUP CONNS QUIET_WAIT; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
IFS=, read -ra SIZE_LIST <<<"$SIZES"
for s in "${SIZE_LIST[@]}"; do [[ $s =~ ^[0-9]+$ && $s -ge 1 ]] || die "bad size '$s'"; done
for c in nginx wrk taskset curl pgrep cmp; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (scripts/install-deps.sh --bench)"
done
[[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
CLK_TCK=$(getconf CLK_TCK)

OUT=${OUT:-$ROOT/bench/out/static-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
RAW="$OUT/raw.tsv"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-static-bench.XXXXXX")
if ! { mkdir -p "$TMP/bin" "$TMP/www" && cp "$WEIR" "$TMP/bin/weir"; }; then rm -rf "$TMP"; die "cannot copy $WEIR"; fi
WEIR_RUN="$TMP/bin/weir"

# shellcheck source=bench/bench_lib.sh
source "$HERE/bench_lib.sh"
verify() {          # verify PORT FILE — GET /FILE must be 200 with the file's bytes
    local code
    code=$(curl -s -o "$TMP/verify.body" -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/$2" || true)
    [[ $code == 200 ]] && cmp -s "$TMP/verify.body" "$TMP/www/$2"
}
wait_up() {         # wait_up PORT PID FILE
    local i
    for ((i = 0; i < 100; i++)); do
        alive "$2" || return 1
        verify "$1" "$3" && return 0
        sleep 0.1
    done
    return 1
}

for s in "${SIZE_LIST[@]}"; do head -c $((s * 1024)) /dev/urandom >"$TMP/www/${s}k.bin"; done

# ---- the two servers
SERVER_PID="" WORKER_PID="" PORT=""
start_server() {    # start_server NAME FILE
    local name=$1 dir="$TMP/$1"
    PORT=$(free_port)
    mkdir -p "$dir/tmp"
    if [[ $name == nginx ]]; then
        local user_line=""
        [[ $(id -u) -eq 0 ]] && user_line="user $(id -un) $(id -gn);"
        cat >"$dir/nginx.conf" <<EOF
$user_line
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000 inactive=60s;
    open_file_cache_valid 5s;
    open_file_cache_errors on;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        root $TMP/www;
        location / { }
    }
}
EOF
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
            >"$dir/stdout.log" 2>&1 &
    elif [[ $name == floor ]]; then
        taskset -c 0 "$FLOOR" "$PORT" "$TMP/www/$2" >"$dir/stdout.log" 2>"$dir/error.log" &
    else
        local inline=""
        [[ -n $INLINE ]] && inline=", open_file_cache: {inline: $INLINE}"
        cat >"$dir/weir.yaml" <<EOF
workers: 1
listen: ["127.0.0.1:$PORT"]
admin: off
log: {access: "off"}
routes:
  - path: /
    static: {root: "$TMP/www"$inline}
EOF
        taskset -c 0 "$WEIR_RUN" -c "$dir/weir.yaml" >"$dir/stdout.log" 2>"$dir/error.log" &
    fi
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
    wait_up "$PORT" "$SERVER_PID" "$2" || return 1
    if [[ $name == nginx ]]; then WORKER_PID=$(pgrep -P "$SERVER_PID" | head -n1); else WORKER_PID=$SERVER_PID; fi
    [[ -n $WORKER_PID ]]
}
stop_server() { stop_pid "$SERVER_PID"; forget_pid "$SERVER_PID"; SERVER_PID=""; }

# ---- one measurement: prints a raw.tsv line
ANY_FLAGGED=0
measure() {         # measure ROUND NAME SIZE
    local r=$1 name=$2 size=$3 file="${3}k.bin" tag="r$1-$2-${3}k" flags=() reqs="" rps="" p50="" p99="" non2xx="" sock="" cpu=""
    echo "== round $r: $name ${size} KiB" >&2
    if ! start_server "$name" "$file"; then
        flags+=("start-failed")
    else
        wrk_measure "http://127.0.0.1:$PORT/$file" "$tag"
        verify "$PORT" "$file" || flags+=("verify-after-failed")
    fi
    stop_server
    [[ -n $STOP_RC ]] && flags+=("exited-$STOP_RC")
    cp "$TMP/$name/error.log" "$OUT/$tag.error.log" 2>/dev/null
    local status=ok
    [[ ${#flags[@]} -gt 0 ]] && { status=$(IFS=,; echo "${flags[*]}"); ANY_FLAGGED=1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$size" "$status" "${reqs:--}" \
        "${rps:--}" "${p50:--}" "${p99:--}" "${cpu:--}" "$QUIET" >>"$RAW"
    printf '   %s %s KiB: %s req/s, p50 %s us, p99 %s us, CPU %s us/req [%s]\n' "$name" "$size" \
        "${rps:--}" "${p50:--}" "${p99:--}" "${cpu:--}" "$status" >&2
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command: $CMDLINE"
    echo "kernel: $(uname -r); cpus: $(nproc); clk_tck: $CLK_TCK"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //'); wrk: $(wrk --version 2>&1 | head -n1)"
    echo "weir: $WEIR (sha256 $(sha256sum "$WEIR_RUN" | cut -c1-16))"
    echo "rounds: $ROUNDS; duration: ${DURATION}s; warmup: ${WARMUP}s; connections: $CONNS; sizes (KiB): $SIZES; weir inline: ${INLINE:-default}"
} >"$OUT/meta.txt"
printf 'round\tserver\tsize_kib\tstatus\trequests\trps\tp50_us\tp99_us\tcpu_us_per_req\tquiet_before\n' >"$RAW"

for ((r = 1; r <= ROUNDS; r++)); do
    for ((si = 0; si < ${#SIZE_LIST[@]}; si++)); do
        # who goes first alternates between sizes and between rounds
        if (((r + si) % 2 == 1)); then order=(weir nginx); else order=(nginx weir); fi
        [[ -n $FLOOR ]] && order+=(floor)
        for n in "${order[@]}"; do measure "$r" "$n" "${SIZE_LIST[si]}"; done
    done
done

# ---- summary: median CPU per size and server, and the ratio
awk -F'\t' -v cmd="$CMDLINE" '
    NR == 1 || $4 != "ok" { next }
    { k = $3 SUBSEP $2; v[k] = v[k] " " $9; rps[k] = rps[k] " " $6; sizes[$3] = 1 }
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
    }
    END {
        print "| file | weir CPU µs/req | nginx CPU µs/req | weir / nginx | weir req/s | nginx req/s | runs |"
        print "|---|---|---|---|---|---|---|"
        for (s in sizes) {
            w = median(v[s SUBSEP "weir"]); g = median(v[s SUBSEP "nginx"])
            n = split(v[s SUBSEP "weir"], tmp, " ")
            printf "| %s KiB | %.2f | %.2f | **%.2f** | %.0f | %.0f | %d |\n", s, w, g, (g > 0 ? w / g : 0),
                median(rps[s SUBSEP "weir"]), median(rps[s SUBSEP "nginx"]), n
        }
        for (s in sizes) if ((s SUBSEP "floor") in v) {
            f = median(v[s SUBSEP "floor"]); g = median(v[s SUBSEP "nginx"])
            printf "\nFloor (sendfile_floor), %s KiB: %.2f µs/req = %.2f × nginx\n", s, f, (g > 0 ? f / g : 0)
        }
        print ""
        print "Medians over the clean runs; target: weir / nginx ≤ 0.80. Command: " cmd
    }' "$RAW" >"$OUT/summary.md"
echo
cat "$OUT/summary.md"
echo "Raw results: $RAW"
exit "$ANY_FLAGGED"
