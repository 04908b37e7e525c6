#!/usr/bin/env bash
# stop_resets.sh — does a graceful stop reset requests? (issue 8 point 6, the `hey -c 10` check)
#
# Usage: bench/stop_resets.sh WEIR_BIN [STOPS]   (default 3 stops)
# For each stop: weir (`weir proxy`, 2 workers) in front of tests/integration/backend.py,
# `hey -z 3s -c 10` (Debian's hey) against it, SIGTERM after 1.5 s. Prints per stop the 200s,
# the requests that got "connection reset by peer" (the defect), and the connections refused
# once weir stopped listening (expected: nothing listens any more). Ports 19111/19112.
set -euo pipefail
BIN=${1:?usage: bench/stop_resets.sh WEIR_BIN [STOPS]}
N=${2:-3}
command -v hey >/dev/null || { echo "needs hey (apt-get install hey)" >&2; exit 2; }
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
python3 "$root/tests/integration/backend.py" --port 19111 --name h >/dev/null 2>&1 &
bp=$!
trap 'kill $bp 2>/dev/null; rm -rf "$tmp"' EXIT
sleep 1
count() { sed -n '/Error distribution/,$p' "$1" | grep "$2" | sed -E 's/^ *\[([0-9]+)\].*/\1/' | awk '{s+=$1} END {print s+0}'; }
for i in $(seq "$N"); do
    "$BIN" proxy --listen 127.0.0.1:19112 --to 127.0.0.1:19111 --workers 2 >/dev/null 2>&1 &
    wp=$!
    sleep 0.5
    hey -z 3s -c 10 http://127.0.0.1:19112/ >"$tmp/out" 2>&1 &
    hp=$!
    sleep 1.5
    kill -TERM "$wp"
    wait "$wp" || true
    wait "$hp" || true
    ok=$(grep -E '^\s+\[200\]' "$tmp/out" | awk '{print $2}')
    echo "stop $i: 200 responses ${ok:-0}, reset by peer $(count "$tmp/out" 'reset by peer'), refused after the stop $(count "$tmp/out" 'connection refused')"
done
