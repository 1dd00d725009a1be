#!/usr/bin/env bash
# Configures (once) and builds Despatch into build/ (or $DESPATCH_BUILD_DIR). Extra
# arguments go to ninja. DESPATCH_SANITIZE=address|thread configures a sanitizer build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${DESPATCH_BUILD_DIR:-build}
if [ ! -f "$dir/build.ninja" ]; then
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDESPATCH_SANITIZE="${DESPATCH_SANITIZE:-}" -DDESPATCH_BENCH="${DESPATCH_BENCH:-ON}" >/dev/null
fi
ninja -C "$dir" "$@"
