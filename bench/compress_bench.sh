#!/usr/bin/env bash
# compress_bench.sh — CPU per MB and ratio of the content codings on a 100 KiB JSON and a 100 KiB
# HTML corpus: raw zlib vs ISA-L igzip (the data behind codec_gzip.c's level mapping) and weir's
# gzip / br / zstd codecs as the compress module runs them (bench/micro/compress_bench.c).
#
# Usage: bench/compress_bench.sh [BUILD_DIR]   (default: build; a release build, see `make`)
#
# The corpora are generated (bench/compress_corpus.py, fixed seeds, no downloads) into a temp
# dir; their checksums are printed so runs can be compared. The benchmark is pinned to core 0
# when taskset exists, and reports the best of 5 runs per point (the machine is shared: the
# best run is the one least disturbed). Output: the tables on stdout and in
# bench/out/compress-<timestamp>.md. The nginx comparison needs the pipeline (issue 9): weir's
# gzip 1 and 6 against nginx's gzip_comp_level 1 and 6 through a real proxy run; see
# bench/RESULTS.md, "Compression".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
BUILD=${1:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
BIN=$BUILD/bench/micro/compress_bench
if [[ ! -x $BIN ]]; then
    echo "compress_bench.sh: $BIN not built (ninja -C $BUILD bench/micro/compress_bench)" >&2
    exit 2
fi
san=$(/usr/bin/python3 -c 'import json, sys
print(next(o["value"] for o in json.load(open(sys.argv[1])) if o["name"] == "b_sanitize"))' \
    "$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null || echo unknown)
[[ $san == none ]] || echo "compress_bench.sh: warning: $BUILD has b_sanitize=$san; numbers will be off" >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/weir-compress-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 "$HERE/compress_corpus.py" "$work"

mkdir -p "$ROOT/bench/out"
out=$ROOT/bench/out/compress-$(date -u +%Y%m%dT%H%M%SZ).md
pin=()
command -v taskset >/dev/null && pin=(taskset -c 0)
{
    echo "# compress_bench $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "- command: bench/compress_bench.sh ${1:-build}"
    echo "- cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(nproc) vCPUs; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "- zlib $(pkg-config --modversion zlib), ISA-L $(pkg-config --modversion libisal), brotli $(pkg-config --modversion libbrotlienc), zstd $(pkg-config --modversion libzstd)"
    echo "- corpora (md5): $(cd "$work" && md5sum api.json page.html | awk '{printf "%s %s  ", $2, $1}')"
    "${pin[@]}" "$BIN" "$work/api.json" "$work/page.html"
    echo
    echo "- load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out"
echo "compress_bench.sh: written to ${out#"$ROOT"/}" >&2
