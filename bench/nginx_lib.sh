# nginx_lib.sh — the nginx side of the benchmarks that compare with nginx over TLS
# (tls_bench.sh, h2_bench.sh): rendering a bench/conf template, and the 1 KiB backend on core 1.
# Sourced after HERE, TMP and free_port are set.
# shellcheck shell=bash
USER_LINE=""
[[ $(id -u) -eq 0 ]] && USER_LINE="user $(id -un) $(id -gn);"
BODY=$(head -c 1024 /dev/zero | tr '\0' 'x')
BACKEND_PORT=$(free_port)
render() {  # TEMPLATE DEST DIR PORT [CERT KEY]
    mkdir -p "$3/tmp"
    sed -e "s|@DIR@|$3|g" -e "s|@PORT@|$4|g" -e "s|@BACKEND_PORT@|$BACKEND_PORT|g" \
        -e "s|@USER_LINE@|$USER_LINE|" -e "s|@BODY@|$BODY|" -e "s|@EXTRA_LISTEN@||" \
        -e "s|@CERT@|${5:-}|" -e "s|@KEY@|${6:-}|" "$1" >"$2"
}
backend_start() {  # the backend nginx on core 1, at BACKEND_PORT; its pid in BACKEND_PID
    render "$HERE/conf/nginx-backend.conf.in" "$TMP/backend.conf" "$TMP/backend" "$BACKEND_PORT"
    taskset -c 1 nginx -p "$TMP/backend/" -c "$TMP/backend.conf" -g 'daemon off;' >/dev/null 2>&1 &
    BACKEND_PID=$!
}
wait_port() { local i; for ((i = 0; i < 100; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; return 1; }
