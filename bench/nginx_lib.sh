# nginx_lib.sh — the set-up of the benchmarks that compare weir with nginx as TLS proxies
# (tls_bench.sh, h2_bench.sh): self-signed certificates, rendering a bench/conf template, the
# 1 KiB nginx backend on core 1, and the proxy under test (weir or nginx) on core 0.
# Sourced after HERE, TMP, WEIR and die are set; brings bench_lib.sh along (PY and QUIET_WAIT
# as the caller set them, else python3 and 0).
# shellcheck shell=bash
PY=${PY:-python3}
[[ $PY == python3 && -x /usr/bin/python3 ]] && PY=/usr/bin/python3
QUIET_WAIT=${QUIET_WAIT:-0}
# shellcheck source=bench/bench_lib.sh
source "$HERE/bench_lib.sh"
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);"
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
BACKEND_PORT=$(free_port)
make_cert() {  # NAME ec|rsa: a self-signed certificate for bench.test in TMP/NAME.{pem,key}
    local newkey=(-newkey ec -pkeyopt ec_paramgen_curve:P-256)
    [[ $2 == rsa ]] && newkey=(-newkey rsa:2048)
    openssl req -x509 "${newkey[@]}" -nodes -days 2 -subj /CN=bench.test \
        -keyout "$TMP/$1.key" -out "$TMP/$1.pem" 2>/dev/null || die "openssl req ($2)"
}
render() {  # TEMPLATE DEST DIR PORT [CERT KEY]
    mkdir -p "$3/tmp"
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        -e "s|@USER_LINE@|$USER_LINE|" -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" \
        -e "s|@CERT@|${5:-}|" -e "s|@KEY@|${6:-}|" "$1" >"$2"
}
wait_port() { local i; for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
backend_start() {  # the backend nginx on core 1, at BACKEND_PORT; its pid in BACKEND_PID
    render "$HERE/conf/nginx-backend.conf.in" "$TMP/backend.conf" "$TMP/backend" "$BACKEND_PORT"
    taskset -c 1 nginx -p "$TMP/backend/" -c "$TMP/backend.conf" -g 'daemon off;' >/dev/null 2>&1 &
    BACKEND_PID=$!
    STARTED+=("$BACKEND_PID")
    wait_port "$BACKEND_PORT" || die "backend nginx did not start"
}
# proxy_start KIND DIR CERT KEY NGINX_TEMPLATE [LISTEN_OPTS [UPSTREAM_OPTS]]: weir (one worker;
# LISTEN_OPTS and UPSTREAM_OPTS are more keys of its listener and upstream, e.g. "http2: true")
# or nginx (NGINX_TEMPLATE) terminating TLS in front of the backend, pinned to core 0 on a free
# port. Sets PORT, PROXY_PID and WORKER_PID (the process whose CPU is counted).
PROXY_PID="" WORKER_PID="" PORT=""
proxy_start() {
    local kind=$1 dir=$2 cert=$3 key=$4
    PORT=$(free_port)
    mkdir -p "$dir"
    if [[ $kind == weir ]]; then
        cat >"$dir/weir.yaml" <<YAML
workers: 1
admin: off
log: {level: warn, access: "off"}
listen:
  - {address: 127.0.0.1:$PORT, tls: {certificates: [{cert: $cert, key: $key}]}${6:+, $6}}
upstreams:
  b: {servers: [127.0.0.1:$BACKEND_PORT]${7:+, $7}}
routes: [{path: /, upstream: b}]
YAML
        taskset -c 0 "$WEIR" -c "$dir/weir.yaml" 2>"$dir/stderr" &
        PROXY_PID=$!
        WORKER_PID=$PROXY_PID
    else
        render "$5" "$dir/nginx.conf" "$dir" "$PORT" "$cert" "$key"
        taskset -c 0 nginx -p "$dir/" -c "$dir/nginx.conf" -g 'daemon off;' 2>"$dir/stderr" &
        PROXY_PID=$!
    fi
    STARTED+=("$PROXY_PID")
    wait_port "$PORT" || die "$kind did not start: $(cat "$dir/stderr")"
    [[ $kind == nginx ]] && WORKER_PID=$(pgrep -P "$PROXY_PID" | head -n1)
    return 0
}
proxy_stop() { stop_pid "$PROXY_PID"; forget_pid "$PROXY_PID"; }
