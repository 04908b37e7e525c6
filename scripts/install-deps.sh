#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, test and benchmark. Idempotent.
# Usage: scripts/install-deps.sh [--bench] [--browser]
#   --bench    also wrk, nginx, haproxy and varnish for the benchmarks under bench/; valgrind,
#              strace and h2load for bench/proxy_instr.sh, testssl.sh for bench/testssl.sh
#   --browser  also Debian's chromium (and Node.js + npm when missing) for the dashboard test,
#              then playwright-core into tests/dashboard/node_modules from its package-lock.json
#              (`npm ci`; skipped when the pinned version is already there). Playwright never
#              downloads a browser: the test drives /usr/bin/chromium.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
bench=0
browser=0
for arg in "$@"; do
    case "$arg" in
        --bench) bench=1 ;;
        --browser) browser=1 ;;
        *) echo "usage: $0 [--bench] [--browser]" >&2; exit 2 ;;
    esac
done

# libssl-dev: libcrypto, the waiting room cookie's HMAC-SHA256.
# media-types: /etc/mime.types, the static-file module's Content-Type table.
# slowhttptest: tests/integration/test_buffering.py's slow-body and slow-read attacks.
# libnghttp2-dev: HTTP/2 to clients; at least 1.52.0-1+deb12u2 (Rapid Reset CVE-2023-44487
#   and CONTINUATION flood CVE-2024-28182 fixes), checked below. python3-h2 / hyperframe /
#   hpack: the raw-frame attack clients of the HTTP/2 tests.
# libhiredis-dev, redis-server: the Redis state backend and its tests (which start their own).
# libcrypt-dev: Basic auth's htpasswd hashes (bcrypt, SHA-512-crypt). libjansson-dev: JWT
#   claims and JWKS. python3-jwt / python3-jwcrypto: the tests' tokens and keys.
pkgs=(build-essential meson ninja-build pkg-config libyaml-dev libcmocka-dev
      clang libclang-rt-14-dev python3 python3-pytest media-types slowhttptest
      zlib1g-dev libbrotli-dev libzstd-dev libisal-dev
      python3-brotli python3-zstandard brotli zstd
      libssl-dev openssl
      libnghttp2-dev python3-h2 python3-hyperframe python3-hpack
      libhiredis-dev redis-server
      libcrypt-dev libjansson-dev python3-jwt python3-jwcrypto python3-bcrypt)
if [[ $bench -eq 1 ]]; then
    pkgs+=(wrk nginx-light haproxy varnish valgrind strace nghttp2-client testssl.sh)
fi
if [[ $browser -eq 1 ]]; then
    pkgs+=(chromium)
    # A Node.js from elsewhere (with its own npm) counts: Debian's npm would conflict with it.
    command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
    command -v npm >/dev/null 2>&1 || pkgs+=(npm)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing+=("$p")
done

if [[ ${#missing[@]} -gt 0 ]]; then
    echo "install-deps: installing ${missing[*]}" >&2
    SUDO=""
    [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The HTTP/2 attack fixes are Debian security updates of 1.52.0: refuse an older library.
nghttp2_have=$(dpkg-query -W -f='${Version}' libnghttp2-14 2>/dev/null || true)
if ! dpkg --compare-versions "$nghttp2_have" ge "1.52.0-1+deb12u2"; then
    echo "install-deps: libnghttp2-14 $nghttp2_have lacks the Rapid Reset / CONTINUATION" \
         "fixes; need >= 1.52.0-1+deb12u2 (apt-get upgrade libnghttp2-14)" >&2
    exit 1
fi

if [[ $browser -eq 1 ]]; then
    dash="$root/tests/dashboard"
    pw=node_modules/playwright-core
    want=$(node -p "require('$dash/package-lock.json').packages['$pw'].version")
    have=$(node -p "try { require('$dash/$pw/package.json').version } catch (e) { '' }")
    if [[ "$want" != "$have" ]]; then
        echo "install-deps: npm ci in tests/dashboard (playwright-core $want)" >&2
        PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --prefix "$dash" --prefer-offline \
            --no-audit --no-fund --loglevel=error
    fi
fi
