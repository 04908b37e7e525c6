#!/usr/bin/env bash
# testssl.sh — runs testssl.sh (Debian package `testssl.sh`, command `testssl`) against a weir
# TLS listener with its default settings (an ECDSA P-256 and an RSA 2048 certificate, HSTS on),
# and prints a summary: protocols offered, findings by severity, every finding LOW or worse.
#
# Usage: bench/testssl.sh WEIR_BIN [OUT_DIR]
# Exit status: 0 when nothing MEDIUM, HIGH or CRITICAL was found, 1 otherwise, 2 on usage.
# The scan takes a few minutes. weir listens on 127.0.0.1 (a free port) and is stopped by PID.
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
die() { echo "testssl: $*" >&2; exit 2; }
[[ $# -ge 1 ]] || die "usage: bench/testssl.sh WEIR_BIN [OUT_DIR]"
WEIR=$1
OUT=${2:-$HERE/out/testssl-$(date +%Y%m%d-%H%M%S)}
[[ -x $WEIR ]] || die "no weir binary at $WEIR"
command -v testssl >/dev/null || die "testssl not found (apt-get install testssl.sh, or scripts/install-deps.sh --bench)"
mkdir -p "$OUT"
TMP=$(mktemp -d "${TMPDIR:-/tmp}/weir-testssl.XXXXXX")
WPID=""
cleanup() {
    if [[ -n $WPID ]]; then kill -TERM "$WPID" 2>/dev/null; wait "$WPID" 2>/dev/null; fi
    rm -rf "$TMP"
}
trap cleanup EXIT

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost" -keyout "$TMP/ec.key" -out "$TMP/ec.pem" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
    -addext "subjectAltName=DNS:localhost" -keyout "$TMP/rsa.key" -out "$TMP/rsa.pem" 2>/dev/null
mkdir -p "$TMP/site" && echo "weir testssl" >"$TMP/site/index.html"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$TMP/weir.yaml" <<YAML
workers: 1
admin: off
listen:
  - address: 127.0.0.1:$PORT
    tls:
      certificates:
        - {cert: $TMP/ec.pem, key: $TMP/ec.key}
        - {cert: $TMP/rsa.pem, key: $TMP/rsa.key}
      hsts: "max-age=63072000"
routes:
  - path: /
    static: {root: $TMP/site}
YAML
"$WEIR" -c "$TMP/weir.yaml" 2>"$OUT/weir.stderr" &
WPID=$!
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.05; done

# Protocols, cipher categories, server defaults, preferences, headers, vulnerabilities.
testssl --quiet --color 0 --warnings off --ip 127.0.0.1 -p -s -S -P -h -U \
    --jsonfile "$OUT/testssl.json" "https://localhost:$PORT/" >"$OUT/testssl.txt" 2>&1
echo "testssl: full output $OUT/testssl.txt, JSON $OUT/testssl.json"
python3 - "$OUT/testssl.json" <<'PY'
import collections, json, sys
items = json.load(open(sys.argv[1]))
sev = collections.Counter(i.get("severity", "?") for i in items)
print("testssl: findings by severity:", ", ".join("%s %d" % kv for kv in sorted(sev.items())))
proto = [i for i in items if i["id"] in ("SSLv2", "SSLv3", "TLS1", "TLS1_1", "TLS1_2", "TLS1_3")]
print("testssl: protocols:", "; ".join("%s %s" % (i["id"], i["finding"]) for i in proto))
bad = [i for i in items if i.get("severity") in ("LOW", "MEDIUM", "HIGH", "CRITICAL")]
for i in bad:
    print("testssl: %-8s %-28s %s" % (i["severity"], i["id"], i["finding"]))
sys.exit(1 if any(i["severity"] in ("MEDIUM", "HIGH", "CRITICAL") for i in bad) else 0)
PY
