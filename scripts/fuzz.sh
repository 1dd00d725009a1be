#!/usr/bin/env bash
# Runs every fuzz target (fuzz/fuzz_*.cpp, libFuzzer with AddressSanitizer, built by clang into
# build-fuzz/) for the given number of seconds each, starting from the checked-in seed corpus
# (fuzz/corpus/<target>/) and keeping what it finds new in build-fuzz/corpus/<target>/.
# A crash leaves its input as build-fuzz/crash-<target>-*; turn each into a regression test.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 600 seconds, every target
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
shift || true
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
for p in clang-14 libfuzzer-14-dev libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$p" >/dev/null
done
scripts/deps.sh
if [ ! -f build-fuzz/build.ninja ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DDESPATCH_FUZZ=ON -DDESPATCH_BENCH=OFF -DCMAKE_CXX_COMPILER_LAUNCHER= >/dev/null
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  for f in fuzz/fuzz_*.cpp; do targets+=("$(basename "$f" .cpp)"); done
fi
ninja -C build-fuzz "${targets[@]}"
status=0
for t in "${targets[@]}"; do
  mkdir -p "build-fuzz/corpus/$t"
  seeds=(); [ -d "fuzz/corpus/$t" ] && seeds=("fuzz/corpus/$t")
  echo "== $t for ${seconds}s"
  if ! "build-fuzz/$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="build-fuzz/crash-$t-" "build-fuzz/corpus/$t" "${seeds[@]}" \
      >"build-fuzz/$t.log" 2>&1; then
    echo "   FAILED: see build-fuzz/$t.log and build-fuzz/crash-$t-*"
    status=1
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added" "build-fuzz/$t.log" | sed 's/^/   /' || true
done
exit $status
