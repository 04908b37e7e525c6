#!/usr/bin/env bash
# cache_bench.sh — CPU cost of a cache hit: weir's response cache vs nginx proxy_cache vs
# Varnish, serving the same object (issue 11 targets, 1 KiB: weir's CPU µs per hit ≤ 0.75 ×
# nginx proxy_cache's and ≤ 0.5 × Varnish's).
#
# Usage: bench/cache_bench.sh [options] WEIR_BIN
#   --rounds N        rounds (default 3); the order of the three rotates per round
#   --duration S      seconds per measurement (default 10)
#   --warmup S        seconds of warm-up load per measurement, not measured (default 2)
#   --connections C   wrk connections (default 50); wrk always runs one thread
#   --size KIB        object size in KiB (default 1)
#   --quiet-wait S    wait up to S s for both cores to be <= 5% busy before measuring (default 20)
#   --out DIR         where raw results go (default bench/out/cache-<timestamp>)
#
# Method (bench/static_bench.sh's): the cache under test is pinned to core 0 (weir: one worker;
# nginx: one worker; Varnish: its cache process with its default thread pools), wrk -t1 and the
# origin (nginx serving the file with Cache-Control: max-age=3600, with an access log that counts
# what reached it) on core 1. Each cache is started fresh per measurement, filled by the checking
# GET, warmed up, then measured; CPU per request = Δ(utime+stime) of the cache's worker process
# (nginx's worker child, Varnish's cache child, weir's process: all threads) over wrk's request
# count. A measurement in which the origin saw more than 10 requests is flagged (not all hits).
# Everything on 127.0.0.1; every process started here is stopped by PID on exit. Exit status: 0
# if every measurement was clean, 1 if any was flagged, 2 on usage errors.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
CMDLINE="bench/cache_bench.sh $*"

usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"; exit 2; }
die() { echo "cache_bench: $*" >&2; exit 2; }

ROUNDS=3 DURATION=10 WARMUP=2 CONNS=50 SIZE=1 QUIET_WAIT=20 OUT="" POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --rounds) ROUNDS=${2:?}; shift 2 ;;
        --duration) DURATION=${2:?}; shift 2 ;;
        --warmup) WARMUP=${2:?}; shift 2 ;;
        --connections) CONNS=${2:?}; shift 2 ;;
        --size) SIZE=${2:?}; shift 2 ;;
        --quiet-wait) QUIET_WAIT=${2:?}; shift 2 ;;
        --out) OUT=${2:?}; shift 2 ;;
        -h|--help) usage ;;
        -*) die "unknown option $1" ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || usage
WEIR=${POS[0]}
[[ -x $WEIR ]] || die "WEIR_BIN '$WEIR' is not an executable file"
for v in ROUNDS DURATION WARMUP CONNS QUIET_WAIT SIZE; do
    [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a non-negative integer"
done
for c in nginx varnishd wrk taskset curl pgrep cmp; do
    command -v "$c" >/dev/null 2>&1 || die "$c not found (scripts/install-deps.sh --bench)"
done
[[ $(nproc) -ge 2 ]] || die "needs at least 2 CPUs"
PY=python3
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
CLK_TCK=$(getconf CLK_TCK)

OUT=${OUT:-$ROOT/bench/out/cache-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" && OUT=$(cd "$OUT" && pwd)
RAW="$OUT/raw.tsv"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-cache-bench.XXXXXX")
chmod 755 "$TMP"
if ! { mkdir -p "$TMP/bin" "$TMP/www" && cp "$WEIR" "$TMP/bin/weir"; }; then rm -rf "$TMP"; die "cannot copy $WEIR"; fi
WEIR_RUN="$TMP/bin/weir"
FILE="${SIZE}k.bin"
head -c $((SIZE * 1024)) /dev/urandom >"$TMP/www/$FILE"
chmod 644 "$TMP/www/$FILE"

# shellcheck source=bench/bench_lib.sh
source "$HERE/bench_lib.sh"
verify() {          # verify PORT — GET /FILE must be 200 with the file's bytes
    local code
    code=$(curl -s -o "$TMP/verify.body" -w '%{http_code}' --max-time 3 "http://127.0.0.1:$1/$FILE" || true)
    [[ $code == 200 ]] && cmp -s "$TMP/verify.body" "$TMP/www/$FILE"
}
wait_up() {         # wait_up PORT PID
    local i
    for ((i = 0; i < 100; i++)); do
        alive "$2" || return 1
        verify "$1" && return 0
        sleep 0.1
    done
    return 1
}
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);"
nginx_common() {    # http-level settings both nginx instances share
    printf '    access_log off;\n    keepalive_requests 100000000;\n    keepalive_timeout 300s;\n'
    printf '    client_body_temp_path %s/tmp/body;\n    proxy_temp_path %s/tmp/proxy;\n' "$1" "$1"
    printf '    fastcgi_temp_path %s/tmp/fastcgi;\n    uwsgi_temp_path %s/tmp/uwsgi;\n' "$1" "$1"
    printf '    scgi_temp_path %s/tmp/scgi;\n' "$1"
}

# ---- the origin: nginx on core 1, the file with Cache-Control: max-age=3600, a counting log
ORIGIN_PORT=$(free_port)
mkdir -p "$TMP/origin/tmp"
cat >"$TMP/origin/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
pid $TMP/origin/nginx.pid;
error_log $TMP/origin/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common "$TMP/origin")
    server {
        listen 127.0.0.1:$ORIGIN_PORT;
        root $TMP/www;
        location / { expires 1h; access_log $TMP/origin/access.log; }
    }
}
CONF
taskset -c 1 nginx -p "$TMP/origin/" -c "$TMP/origin/nginx.conf" -e "$TMP/origin/error.log" -g 'daemon off;' \
    >"$TMP/origin/stdout.log" 2>&1 &
ORIGIN_PID=$!
STARTED+=("$ORIGIN_PID")
wait_up "$ORIGIN_PORT" "$ORIGIN_PID" || die "the origin did not start"
origin_requests() { local n; n=$(wc -l <"$TMP/origin/access.log" 2>/dev/null) || n=0; echo "${n:-0}"; }

# ---- the caches
SERVER_PID="" WORKER_PID="" PORT=""
start_server() {    # start_server NAME
    local name=$1 dir="$TMP/$1" i
    PORT=$(free_port)
    rm -rf "$dir"
    mkdir -p "$dir/tmp" "$dir/cache"
    chmod 777 "$dir" "$dir/cache"
    case $name in
    nginx)
        cat >"$dir/nginx.conf" <<CONF
$USER_LINE
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
$(nginx_common "$dir")
    proxy_cache_path $dir/cache levels=1:2 keys_zone=c:10m max_size=256m inactive=60m use_temp_path=off;
    upstream origin { server 127.0.0.1:$ORIGIN_PORT; keepalive 64; }
    server {
        listen 127.0.0.1:$PORT backlog=4096;
        location / {
            proxy_pass http://origin;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache c;
        }
    }
}
CONF
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' \
            >"$dir/stdout.log" 2>&1 &
        ;;
    varnish)
        taskset -c 0 varnishd -F -n "$dir/varnish" -a "127.0.0.1:$PORT" -b "127.0.0.1:$ORIGIN_PORT" \
            -s malloc,256m >"$dir/stdout.log" 2>"$dir/error.log" &
        ;;
    weir)
        cat >"$dir/weir.yaml" <<CONF
workers: 1
listen: ["127.0.0.1:$PORT"]
admin: off
log: {access: "off"}
upstreams:
  origin: {servers: ["127.0.0.1:$ORIGIN_PORT"]}
routes:
  - path: /
    upstream: origin
    cache: {max_size: 256m, x_cache: false}
CONF
        taskset -c 0 "$WEIR_RUN" -c "$dir/weir.yaml" >"$dir/stdout.log" 2>"$dir/error.log" &
        ;;
    esac
    SERVER_PID=$!
    STARTED+=("$SERVER_PID")
    wait_up "$PORT" "$SERVER_PID" || return 1
    case $name in
    weir) WORKER_PID=$SERVER_PID ;;
    *) # nginx's worker; Varnish's cache process (the manager's child)
        for ((i = 0; i < 50; i++)); do
            WORKER_PID=$(pgrep -P "$SERVER_PID" | head -n1)
            [[ -n $WORKER_PID ]] && break
            sleep 0.1
        done ;;
    esac
    [[ -n $WORKER_PID ]]
}
stop_server() { stop_pid "$SERVER_PID"; forget_pid "$SERVER_PID"; SERVER_PID=""; }

ANY_FLAGGED=0
measure() {         # measure ROUND NAME
    local r=$1 name=$2 tag="r$1-$2" flags=() o0 o1 reqs="" rps="" p50="" p99="" non2xx="" sock="" cpu=""
    echo "== round $r: $name" >&2
    o0=$(origin_requests)
    if ! start_server "$name"; then
        flags+=("start-failed")
    else
        wrk_measure "http://127.0.0.1:$PORT/$FILE" "$tag"
        verify "$PORT" || flags+=("verify-after-failed")
    fi
    stop_server
    o1=$(origin_requests)
    ((o1 - o0 <= 10)) || flags+=("origin-saw-$((o1 - o0))")
    cp "$TMP/$name/error.log" "$OUT/$tag.error.log" 2>/dev/null
    local status=ok
    [[ ${#flags[@]} -gt 0 ]] && { status=$(IFS=,; echo "${flags[*]}"); ANY_FLAGGED=1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$r" "$name" "$SIZE" "$status" "${reqs:--}" \
        "${rps:--}" "${p50:--}" "${p99:--}" "${cpu:--}" "$QUIET" >>"$RAW"
    printf '   %s: %s req/s, p50 %s us, p99 %s us, CPU %s us/req [%s]\n' "$name" \
        "${rps:--}" "${p50:--}" "${p99:--}" "${cpu:--}" "$status" >&2
}

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
    echo "command: $CMDLINE"
    echo "kernel: $(uname -r); cpus: $(nproc); clk_tck: $CLK_TCK"
    echo "nginx: $(nginx -v 2>&1 | sed 's/.*version: //'); varnish: $(varnishd -V 2>&1 | head -n1); wrk: $(wrk --version 2>&1 | head -n1)"
    echo "weir: $WEIR (sha256 $(sha256sum "$WEIR_RUN" | cut -c1-16))"
    echo "rounds: $ROUNDS; duration: ${DURATION}s; warmup: ${WARMUP}s; connections: $CONNS; size: ${SIZE} KiB"
} >"$OUT/meta.txt"
printf 'round\tserver\tsize_kib\tstatus\trequests\trps\tp50_us\tp99_us\tcpu_us_per_req\tquiet_before\n' >"$RAW"

ALL=(weir nginx varnish)
for ((r = 1; r <= ROUNDS; r++)); do
    for ((k = 0; k < 3; k++)); do measure "$r" "${ALL[(r - 1 + k) % 3]}"; done
done

awk -F'\t' -v cmd="$CMDLINE" '
    NR == 1 || $4 != "ok" { next }
    { v[$2] = v[$2] " " $9; rps[$2] = rps[$2] " " $6 }
    function median(list,   a, n, i, j, t) {
        n = split(list, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
        return n ? (n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2) : 0
    }
    END {
        w = median(v["weir"]); g = median(v["nginx"]); s = median(v["varnish"])
        print "| cache | CPU µs per hit | weir / it | req/s | clean runs |"
        print "|---|---|---|---|---|"
        printf "| weir | %.2f | | %.0f | %d |\n", w, median(rps["weir"]), split(v["weir"], t1, " ")
        printf "| nginx proxy_cache | %.2f | **%.2f** | %.0f | %d |\n", g, (g > 0 ? w / g : 0), median(rps["nginx"]), split(v["nginx"], t2, " ")
        printf "| Varnish | %.2f | **%.2f** | %.0f | %d |\n", s, (s > 0 ? w / s : 0), median(rps["varnish"]), split(v["varnish"], t3, " ")
        print ""
        print "Medians over the clean runs; targets: weir / nginx <= 0.75, weir / Varnish <= 0.5. Command: " cmd
    }' "$RAW" >"$OUT/summary.md"
echo
cat "$OUT/summary.md"
echo "Raw results: $RAW"
exit "$ANY_FLAGGED"
