#!/usr/bin/env bash
# Runs every libFuzzer driver of a fuzz build (see `make fuzz`).
#
# For each driver: replays every input kept in tests/fuzz/regression/, then fuzzes for SECONDS
# from a temporary copy of tests/fuzz/corpus/<kind>/ (the repository's corpus is never written),
# with tests/fuzz/<dict> as its dictionary when the driver has one.
# When a driver crashes, its crash input is copied into tests/fuzz/regression/ (to commit with
# the fix) and the script exits non-zero after trying the remaining drivers.
#
# Usage: scripts/fuzz.sh BUILD_DIR SECONDS
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 BUILD_DIR SECONDS" >&2
    exit 2
fi
build=$1
secs=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fuzz_dir=$root/tests/fuzz
regress=$fuzz_dir/regression

# UBSan must stop at the first report, or libFuzzer never sees undefined behaviour as a crash.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

# name:corpus kind:dictionary (empty: none)
drivers=(fuzz_h1_request:request:h1.dict fuzz_h1_response:response:h1.dict
         fuzz_static:static:static.dict
         fuzz_accept_encoding:accept_encoding:accept_encoding.dict fuzz_decode:decode:
         fuzz_cache_control:cache_control: fuzz_wr_cookie:wr_cookie:
         fuzz_jwt:jwt:jwt.dict fuzz_mask_json:mask_json:mask_json.dict
         fuzz_h2_session:h2_session:)

work=$(mktemp -d "${TMPDIR:-/tmp}/weir-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT

inputs=()
while IFS= read -r -d '' f; do
    inputs+=("$f")
done < <(find "$regress" -maxdepth 1 -type f ! -name 'README.md' -print0 | sort -z)

status=0
for d in "${drivers[@]}"; do
    IFS=: read -r name kind dict <<<"$d"
    bin=$build/tests/fuzz/$name
    if [[ ! -x $bin ]]; then
        echo "fuzz.sh: $bin is not built (meson setup with -Dfuzz=true, then ninja)" >&2
        exit 2
    fi

    if ((${#inputs[@]})); then
        echo "== $name: replaying ${#inputs[@]} regression input(s)"
        if ! "$bin" "${inputs[@]}" >"$work/$name.replay.log" 2>&1; then
            tail -n 60 "$work/$name.replay.log" >&2
            echo "fuzz.sh: $name still crashes on a regression input" >&2
            status=1
            continue
        fi
    fi

    echo "== $name: fuzzing for ${secs}s"
    mkdir -p "$work/$name/corpus" "$work/$name/artifacts"
    cp -R "$fuzz_dir/corpus/$kind/." "$work/$name/corpus/"
    dict_arg=()
    [[ -n $dict ]] && dict_arg=(-dict="$fuzz_dir/$dict")
    if "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
        "${dict_arg[@]}" -artifact_prefix="$work/$name/artifacts/" \
        -print_final_stats=1 "$work/$name/corpus" >"$work/$name.log" 2>&1; then
        grep -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$work/$name.log" \
            || tail -n 3 "$work/$name.log"
    else
        tail -n 60 "$work/$name.log" >&2
        saved=0
        for f in "$work/$name/artifacts"/*; do
            [[ -f $f ]] || continue
            dest=$regress/$name-$(basename "$f")
            cp "$f" "$dest"
            echo "fuzz.sh: crash input saved as ${dest#"$root"/}" >&2
            saved=1
        done
        ((saved)) || echo "fuzz.sh: $name failed without leaving a crash input" >&2
        status=1
    fi
done
exit $status
