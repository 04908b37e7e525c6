#!/usr/bin/env bash
# auth_bench.sh — instructions per authentication check (issue 13, point 8), counted with
# valgrind's callgrind inside auth_bench's measured() only (--toggle-collect): key generation
# and set-up are not counted. Counts do not depend on what else the shared cores are doing,
# unlike times.
#
# Usage: bench/auth_bench.sh BUILD_DIR [N]   (BUILD_DIR: a release build, e.g. build-rel)
set -euo pipefail
bin=${1:?usage: bench/auth_bench.sh BUILD_DIR [N]}/bench/micro/auth_bench
n=${2:-400}
[[ -x $bin ]] || { echo "auth_bench.sh: no $bin (ninja -C BUILD_DIR bench/micro/auth_bench)" >&2; exit 2; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for label in "jwt HS256" "jwt RS256" "jwt ES256" "jwt EdDSA" "jwt cached" "jwt module" \
             "jwt revocation" "api key" "hmac request"; do
    iters=$n
    case $label in
        "jwt RS256"|"jwt ES256"|"jwt EdDSA") iters=$((n / 4));;
        "jwt cached"|"jwt module"|"jwt revocation"|"api key"|"hmac request") iters=$((n * 10));;
    esac
    valgrind --tool=callgrind --toggle-collect=measured --callgrind-out-file="$out" \
        "$bin" "$n" "$label" >/dev/null 2>&1
    total=$(awk '/^summary:/ { print $2 }' "$out")
    printf '%-16s %10.0f instructions per check\n' "$label" "$(echo "$total / $iters" | bc -l)"
done
