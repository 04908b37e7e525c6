#!/usr/bin/env bash
# auth_bench.sh — instructions per authentication check (issue 13, point 8), counted with
# valgrind's cachegrind (no cache simulation): for each check, the run with N iterations minus
# the run with 0 iterations (same set-up: key generation, cache fill), divided by N. Counts do
# not depend on what else the shared cores are doing, unlike times.
#
# Usage: bench/auth_bench.sh BUILD_DIR [N]   (BUILD_DIR: a release build, e.g. build-rel)
set -euo pipefail
bin=${1:?usage: bench/auth_bench.sh BUILD_DIR [N]}/bench/micro/auth_bench
n=${2:-200}
[[ -x $bin ]] || { echo "auth_bench.sh: no $bin (ninja -C BUILD_DIR bench/micro/auth_bench)" >&2; exit 2; }
count() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$bin" "$1" "$2" 2>&1 >/dev/null |
          awk '/I *refs:/ { gsub(",", "", $NF); print $NF }'; }
for label in "jwt HS256" "jwt RS256" "jwt ES256" "jwt EdDSA" "jwt cached" "  same" "api key" "hmac request"; do
    base=$(count 0 "$label")
    full=$(count "$n" "$label")
    iters=$n
    case $label in "jwt RS256"|"jwt ES256"|"jwt EdDSA") iters=$((n / 4));; "jwt cached"|"  same"|"api key"|"hmac request") iters=$((n * 10));; esac
    printf '%-14s %12.0f instructions per check\n' "${label# }" "$(echo "($full - $base) / $iters" | bc -l)"
done
