#!/usr/bin/env bash
# tls_instr.sh — TLS cost counted, not timed: user-space instructions (valgrind's cachegrind:
# the proxy + libssl + libcrypto + libc) per full handshake and per kept-alive HTTPS request,
# weir vs nginx with the same TLS settings (bench/conf/nginx-tls-proxy.conf.in). Counts do not
# depend on what else runs on the machine, unlike bench/tls_bench.sh's CPU times; the kernel's
# share (accept, epoll, the socket calls) is left out, and it is alike for two servers making
# the same system calls.
#
# Usage: bench/tls_instr.sh [--requests N] [--cert ec|rsa] WEIR_BIN
#   --requests N   per counted run (default 300 handshakes, 20 x that kept-alive requests);
#                  each server is counted with N/5 and N, the difference divided by 4N/5, so
#                  start-up and shutdown cancel out
#   --cert         the certificate's key: ec (P-256, default) or rsa (2048)
# Clients: h2load --h1 (a new connection, hence a full TLS 1.3 handshake, per request with
# -c N -n N; 10 kept-alive connections for the requests). The nginx backend returns 1 KiB.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=300 CERT=ec POS=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --requests) N=${2:?}; shift 2 ;;
        --cert) CERT=${2:?}; shift 2 ;;
        -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 2 ;;
        -*) echo "tls_instr: unknown option $1" >&2; exit 2 ;;
        *) POS+=("$1"); shift ;;
    esac
done
[[ ${#POS[@]} -eq 1 ]] || { echo "usage: bench/tls_instr.sh [--requests N] [--cert ec|rsa] WEIR_BIN" >&2; exit 2; }
WEIR=${POS[0]}
for c in valgrind h2load nginx openssl; do
    command -v $c >/dev/null || { echo "tls_instr: needs $c (scripts/install-deps.sh --bench)" >&2; exit 2; }
done
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
TMP=$(mktemp -d /tmp/weir-tls-instr.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT

if [[ $CERT == rsa ]]; then newkey=(-newkey rsa:2048); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256); fi
openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=bench.test -keyout "$TMP/k.pem" \
    -out "$TMP/c.pem" 2>/dev/null || { echo "tls_instr: openssl req failed" >&2; exit 1; }
BPORT=$(free_port) PORT=$(free_port)
user_line=""; [[ $(id -u) -eq 0 ]] && user_line="user root;"
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
render() {  # TEMPLATE DIR PORT
    mkdir -p "$2/tmp"
    sed -e "s|@DIR@|$2|g" -e "s|@PORT@|$3|g" -e "s|@BACKEND_PORT@|$BPORT|g" \
        -e "s|@USER_LINE@|$user_line|" -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" \
        -e "s|@CERT@|$TMP/c.pem|" -e "s|@KEY@|$TMP/k.pem|" "$1" >"$2/nginx.conf"
}
render "$HERE/conf/nginx-backend.conf.in" "$TMP/backend" "$BPORT"
nginx -p "$TMP/backend/" -c "$TMP/backend/nginx.conf" -g 'daemon off;' 2>/dev/null &
PIDS+=($!)
render "$HERE/conf/nginx-tls-proxy.conf.in" "$TMP/nginx" "$PORT"
cat >"$TMP/weir.yaml" <<YAML
workers: 1
admin: off
log: {access: "off", level: warn}
listen:
  - address: 127.0.0.1:$PORT
    tls: {certificates: [{cert: $TMP/c.pem, key: $TMP/k.pem}]}
upstreams:
  b: {servers: ["127.0.0.1:$BPORT"]}
routes: [{path: /, upstream: b}]
YAML
wait_port() { for _ in $(seq 1 300); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.1; done; return 1; }
wait_port "$BPORT" || { echo "tls_instr: backend did not start" >&2; exit 1; }

# count SERVER REQUESTS CONNECTIONS -> user instructions of the server for that load
count() {
    local server=$1 n=$2 c=$3
    local vg=(valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file="$TMP/cg.out")
    if [[ $server == weir ]]; then
        "${vg[@]}" "$WEIR" -c "$TMP/weir.yaml" >"$TMP/server.out" 2>&1 &
    else
        "${vg[@]}" nginx -p "$TMP/nginx/" -c "$TMP/nginx/nginx.conf" \
            -g 'daemon off; master_process off;' >"$TMP/server.out" 2>&1 &
    fi
    local pid=$!
    wait_port "$PORT" || { echo "tls_instr: $server did not start" >&2; cat "$TMP/server.out" >&2; exit 1; }
    local ok
    ok=$(h2load --h1 -n "$n" -c "$c" "https://127.0.0.1:$PORT/" 2>&1 | awk '/^status codes:/ {print $3}')
    [[ $ok == "$n" ]] || { echo "tls_instr: $ok of $n requests got 2xx from $server" >&2; exit 1; }
    kill -TERM "$pid"; wait "$pid" 2>/dev/null
    awk '/I *refs:/ {gsub(",", "", $4); print $4}' "$TMP/server.out"
}

echo "tls_instr: $(date -u +%FT%TZ), $CERT certificate, $(nginx -v 2>&1 | sed 's/.*version: //'), $(openssl version | cut -d' ' -f1-2)"
small=$((N / 5))
declare -A R
for server in weir nginx; do
    a=$(count $server "$small" "$small"); z=$(count $server "$N" "$N")
    R[$server-hs]=$(( (z - a) / (N - small) ))
    k=$((N * 20)); ks=$((k / 5))
    a=$(count $server "$ks" 10); z=$(count $server "$k" 10)
    R[$server-ka]=$(( (z - a) / (k - ks) ))
    echo "$server: ${R[$server-hs]} user instructions per full handshake (+1 request), ${R[$server-ka]} per kept-alive request"
done
awk -v wh="${R[weir-hs]}" -v nh="${R[nginx-hs]}" -v wk="${R[weir-ka]}" -v nk="${R[nginx-ka]}" 'BEGIN {
    printf "weir/nginx: handshake %.3f, kept-alive request %.3f\n", wh / nh, wk / nk }'
