#!/usr/bin/env bash
# demo.sh — weir in front of three demo backends, in the foreground (`make run`).
#
# Usage: scripts/demo.sh BIN [CONFIG]
#   BIN     the weir binary (make run passes build/weir)
#   CONFIG  defaults to examples/demo.yaml (weir on 127.0.0.1:8080 and, over TLS, :8443;
#           / -> 9001-9003, /api/ -> 9001, /site/ -> a copy of examples/site with .gz/.br
#           siblings; "@SITE@" in the config; "@TLS@" is where a self-signed certificate for
#           localhost and 127.0.0.1 is made at start)
#
# Starts tests/integration/backend.py on 127.0.0.1:9001, :9002, :9003 (names a, b, c), then weir.
# Ctrl-C stops weir; the backends are stopped on any exit (trap).
set -euo pipefail

cd "$(dirname "$0")/.."

BIN=${1:?usage: scripts/demo.sh BIN [CONFIG]}
CONFIG=${2:-examples/demo.yaml}
BACKEND=tests/integration/backend.py
LISTEN=127.0.0.1:8080
TLS_LISTEN=127.0.0.1:8443
PORTS=(9001 9002 9003)
NAMES=(a b c)
PYTHON=${PYTHON:-python3}

die() { echo "demo: $*" >&2; exit 1; }

[[ -x "$BIN" ]] || die "no weir binary at $BIN (build it with: make)"
[[ -f "$CONFIG" ]] || die "no config at $CONFIG"
command -v "$PYTHON" >/dev/null || die "python3 is needed for the demo backends"

# Is something already listening on 127.0.0.1:PORT? (bash's /dev/tcp: no extra tools needed)
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

busy=()
for p in "${PORTS[@]}" "${LISTEN##*:}" "${TLS_LISTEN##*:}"; do
    if port_busy "$p"; then busy+=("$p"); fi
done
if [[ ${#busy[@]} -gt 0 ]]; then
    echo "demo: port(s) ${busy[*]} on 127.0.0.1 are already in use." >&2
    echo "demo: the demo needs 9001, 9002, 9003 (backends), 8080 and 8443 (weir) free;" >&2
    echo "demo: stop whatever listens there (e.g. a previous demo: ss -ltnp | grep -E ':(8080|8443|900[123])')." >&2
    exit 1
fi

# The static site: a copy with precompressed siblings (gzip; brotli when the tool is there),
# and the config with its absolute path.
work=$(mktemp -d "${TMPDIR:-/tmp}/weir-demo.XXXXXX")
cp -R examples/site "$work/site"
for f in "$work"/site/*.js "$work"/site/*.css "$work"/site/*.html; do
    gzip -9 -k -n "$f"
    if command -v brotli >/dev/null; then brotli -q 11 -k "$f"; fi
done
# A throw-away self-signed certificate for the HTTPS listener (never leaves $work).
command -v openssl >/dev/null || die "openssl is needed for the demo's HTTPS listener"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 7 \
    -keyout "$work/demo.key" -out "$work/demo.pem" -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null ||
    die "cannot make the demo certificate with openssl"
# The protected route's HS256 secret (fresh each run) and a token for it (an hour), made with
# openssl alone: base64url(header).base64url(claims).base64url(HMAC-SHA256).
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
jwt_secret=$(openssl rand -hex 32)
jwt_body="$(printf '{"alg":"HS256","typ":"JWT"}' | b64url).$(printf '{"sub":"demo-user","iss":"weir-demo","exp":%d}' $(( $(date +%s) + 3600 )) | b64url)"
jwt_token="$jwt_body.$(printf '%s' "$jwt_body" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)"
sed -e "s|@SITE@|$work/site|g" -e "s|@TLS@|$work|g" -e "s|@JWT_SECRET@|$jwt_secret|g" "$CONFIG" >"$work/weir.yaml"
CONFIG_SRC=$CONFIG
CONFIG=$work/weir.yaml

pids=()
cleanup() {
    trap - EXIT INT TERM
    rm -rf "$work"
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    echo "demo: backends stopped." >&2
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for i in "${!PORTS[@]}"; do
    "$PYTHON" "$BACKEND" --port "${PORTS[$i]}" --name "${NAMES[$i]}" &
    pids+=($!)
done

# Wait (up to ~5 s) until every backend accepts connections.
for p in "${PORTS[@]}"; do
    for _ in $(seq 50); do
        port_busy "$p" && break
        sleep 0.1
    done
    port_busy "$p" || die "backend on 127.0.0.1:$p did not start"
done

cat >&2 <<EOF

demo: backends a, b, c on 127.0.0.1:9001, :9002, :9003; weir on http://$LISTEN and https://$TLS_LISTEN ($CONFIG_SRC)
demo: try, from another terminal:
    curl -i http://$LISTEN/                       # round robin over a, b, c (see "name")
    curl -i --cacert $work/demo.pem https://localhost:${TLS_LISTEN##*:}/   # HTTPS (self-signed; or curl -k)
    curl -si --cacert $work/demo.pem --http2 https://localhost:${TLS_LISTEN##*:}/ | head -1   # HTTP/2 over TLS (ALPN h2)
    curl -si --http2-prior-knowledge http://$LISTEN/ | head -1   # HTTP/2 in cleartext (h2c)
    h2load -n 2000 -c 10 -m 20 https://localhost:${TLS_LISTEN##*:}/   # many streams (Debian's nghttp2-client)
    curl -i http://$LISTEN/api/users              # always backend a

    # compression (every route): zstd, br or gzip by Accept-Encoding, streamed
    curl -s -H 'Accept-Encoding: gzip' -D - -o /dev/null 'http://$LISTEN/text?n=100000'
    curl -s --compressed -w '%{size_download} bytes on the wire\n' -o /dev/null 'http://$LISTEN/text?n=1000000'

    # static files (/site/): ETag, 304, ranges, precompressed siblings, cache rules
    open http://$LISTEN/site/                     # in a browser
    curl -si http://$LISTEN/site/app.3f9a2b1c.js | head -12          # immutable, a year
    curl -si -H 'Accept-Encoding: br' http://$LISTEN/site/ | head -12  # index.html.br
    etag=\$(curl -sI http://$LISTEN/site/style.css | grep -i '^etag' | cut -d' ' -f2 | tr -d '\r')
    curl -si -H "If-None-Match: \$etag" http://$LISTEN/site/style.css | head -1   # 304
    curl -si -r 0-9 http://$LISTEN/site/index.html                   # 206, 10 bytes
    curl -si --path-as-is 'http://$LISTEN/site/../../etc/passwd' | head -1   # 400: never leaves the root

    # response cache (/cached/): MISS then HIT (same backend, Age grows), purge, MISS again
    curl -si 'http://$LISTEN/cached/text?n=2000&cc=max-age%3D60' | grep -i -E '^(x-cache|age|x-backend)'
    curl -si 'http://$LISTEN/cached/text?n=2000&cc=max-age%3D60' | grep -i -E '^(x-cache|age|x-backend)'
    curl -s -X POST 'http://127.0.0.1:9901/cache/purge?prefix=http://$LISTEN/cached/'   # {"purged":1}
    curl -si 'http://$LISTEN/cached/text?n=2000&cc=max-age%3D60' | grep -i '^x-cache'    # MISS

    # authentication (/private/, JWT HS256): 401 without a token, 200 with the one made here
    curl -si http://$LISTEN/private/me | head -1                  # 401 + WWW-Authenticate: Bearer
    curl -s -H 'Authorization: Bearer $jwt_token' http://$LISTEN/private/me | grep -o '"x-user": "[^"]*"'   # the token's sub, upstream

    # resilience on the request pipeline
    for i in 1 2 3 4 5 6 7; do curl -s -o /dev/null -w '%{http_code} ' http://$LISTEN/api/x; done; echo   # 5 at once, then 429
    curl -si -X POST -H 'Idempotency-Key: k1' --data 'amount=10' http://$LISTEN/pay/ | grep -i -E '^HTTP|replayed'
    curl -si -X POST -H 'Idempotency-Key: k1' --data 'amount=10' http://$LISTEN/pay/ | grep -i -E '^HTTP|replayed'   # replayed
    for i in 1 2 3 4 5 6; do curl -s -o /dev/null -w '%{http_code} ' 'http://$LISTEN/slow?ms=1500' & done; wait; echo   # 2 run, 2 queue, 2 get 503
    # virtual waiting room on /sale (2 admissions per 20 s): the 3rd visitor gets a ticket
    for i in 1 2 3; do curl -s -c /tmp/weir-wr\$i -b /tmp/weir-wr\$i -H 'Accept: application/json' http://$LISTEN/sale | head -c 150; echo; done
    sleep 20; curl -s -b /tmp/weir-wr3 -H 'Accept: application/json' http://$LISTEN/sale | head -c 150; echo   # now admitted
    open http://$LISTEN/sale                      # the queue page in a browser (lets you in by itself)
    curl http://127.0.0.1:9901/waitroom           # the room's figures; POST .../sale/pause, .../resume
    curl -i 'http://$LISTEN/chunked?n=3&size=10'  # chunked response
    curl -s -o /dev/null -w '%{size_download} bytes\\n' 'http://$LISTEN/bytes?n=100000000'
    curl --data-binary 'hello' http://$LISTEN/echo
    curl -i http://$LISTEN/slow?ms=500
    # WebSocket echo (needs a client such as websocat):  websocat ws://$LISTEN/ws
    # or the handshake alone:
    curl -i -N -H 'Connection: Upgrade' -H 'Upgrade: websocket' \\
         -H 'Sec-WebSocket-Version: 13' -H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' \\
         http://$LISTEN/ws

    # load test: find the saturation point of this demo (open-model steps x1.25 from 100
    # req/s, then bisection to 2 %; about a minute), with an HTML report (docs/load.md)
    $BIN load http://$LISTEN/ --find-saturation --start-rate 100 --step-duration 3s --html /tmp/weir-load.html

    # monitoring (the admin listener):
    open http://127.0.0.1:9901/                   # live dashboard in a browser
    curl http://127.0.0.1:9901/metrics            # Prometheus metrics
    curl http://127.0.0.1:9901/status             # the same figures as JSON
demo: reload the config with: kill -HUP <weir pid>; stop with Ctrl-C.

EOF

# weir in the foreground (not exec: the EXIT trap must still stop the backends).
"$BIN" -c "$CONFIG" &
weir_pid=$!
pids=("$weir_pid" "${pids[@]}")
echo "demo: weir pid $weir_pid" >&2
set +e
wait "$weir_pid"
status=$?
set -e
echo "demo: weir exited with status $status" >&2
exit "$status"
