#!/usr/bin/env bash
# Installs the Debian 12 packages weir needs to build, test and benchmark. Idempotent.
# Usage: scripts/install-deps.sh [--bench]
set -euo pipefail

pkgs=(build-essential meson ninja-build pkg-config libyaml-dev libcmocka-dev
      clang libclang-rt-14-dev python3 python3-pytest)
if [[ "${1:-}" == "--bench" ]]; then
    pkgs+=(wrk nginx-light haproxy)
fi

missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
