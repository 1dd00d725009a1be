#!/usr/bin/env bash
# The test command: installs dependencies, builds, then runs the unit tests (GoogleTest via
# ctest), the matrix-js-sdk integration suite (node --test) and the matrix-nio / HTTP suite
# (unittest), and prints one summary line "N passed, N failed".
#
#   scripts/test.sh                      everything, on the normal build (build/)
#   scripts/test.sh --sanitize=address   the same on an AddressSanitizer + UndefinedBehavior-
#                                        Sanitizer build (build-asan/)
#   scripts/test.sh --sanitize=thread    the same on a ThreadSanitizer build (build-tsan/)
#   --unit-only                          only the unit tests (CI runs the ASan+UBSan build so)
set -uo pipefail
cd "$(dirname "$0")/.."
sanitize=""
unit_only=0
for arg in "$@"; do
  case "$arg" in
    --sanitize=address|--sanitize=thread) sanitize=${arg#--sanitize=} ;;
    --unit-only) unit_only=1 ;;
    *) echo "usage: scripts/test.sh [--sanitize=address|thread] [--unit-only]" >&2; exit 2 ;;
  esac
done
export DESPATCH_BUILD_DIR=build
if [ -n "$sanitize" ]; then
  export DESPATCH_BUILD_DIR=build-${sanitize/address/asan}
  DESPATCH_BUILD_DIR=${DESPATCH_BUILD_DIR/thread/tsan}
  export DESPATCH_SANITIZE=$sanitize DESPATCH_BENCH=OFF
  # Any report fails the run; leaks are reported at exit (LeakSanitizer, part of ASan).
  export ASAN_OPTIONS=abort_on_error=1:detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
fi
export DESPATCH_BIN=$PWD/$DESPATCH_BUILD_DIR/despatch
scripts/deps.sh || exit 1
scripts/build.sh despatch unit_tests layer_checks || exit 1

logs=$(mktemp -d)
passed=0
failed=0
status=0

echo "== unit tests (ctest)"
(cd "$DESPATCH_BUILD_DIR" && ctest --output-on-failure -j2) >"$logs/unit.log" 2>&1 || status=1
tail -n 3 "$logs/unit.log"
grep -q "tests failed" "$logs/unit.log" || { cat "$logs/unit.log"; status=1; }
if line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$logs/unit.log"); then
  total=$(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/')
  f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/')
  passed=$((passed + total - f)); failed=$((failed + f))
fi

if [ $unit_only -eq 1 ]; then
  echo "$passed passed, $failed failed"
  [ $failed -eq 0 ] || status=1
  exit $status
fi

echo "== integration: matrix-js-sdk (node --test)"
if [ -d tests/integration/js ] && ls tests/integration/js/*.test.mjs >/dev/null 2>&1; then
  (cd tests/integration/js && node --test --test-concurrency=1 --test-reporter=spec .) \
    >"$logs/js.log" 2>&1 || status=1
  grep -E "^(✖|ℹ (tests|pass|fail))" "$logs/js.log" | tail -n 20
  [ $status -ne 0 ] && grep -E "✖|Error|assert" "$logs/js.log" | head -n 60
  p=$(grep -E "^ℹ pass [0-9]+" "$logs/js.log" | awk '{print $3}'); f=$(grep -E "^ℹ fail [0-9]+" "$logs/js.log" | awk '{print $3}')
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  [ -z "$p" ] && { echo "node --test produced no summary"; tail -n 40 "$logs/js.log"; status=1; }
fi

echo "== integration: matrix-nio and HTTP (unittest)"
if ls tests/integration/py/test_*.py >/dev/null 2>&1; then
  /usr/bin/python3 -m unittest discover -s tests/integration/py -p 'test_*.py' >"$logs/py.log" 2>&1 || status=1
  tail -n 4 "$logs/py.log"
  [ $status -ne 0 ] && grep -E "^(FAIL|ERROR):|Error|assert" "$logs/py.log" | head -n 60
  ran=$(grep -E "^Ran [0-9]+ test" "$logs/py.log" | awk '{print $2}')
  bad=0
  if fl=$(grep -E "^FAILED \(" "$logs/py.log"); then
    for n in $(echo "$fl" | grep -oE "(failures|errors)=[0-9]+" | cut -d= -f2); do bad=$((bad + n)); done
  fi
  sk=$(grep -oE "skipped=[0-9]+" "$logs/py.log" | tail -n 1 | cut -d= -f2)
  passed=$((passed + ${ran:-0} - bad - ${sk:-0})); failed=$((failed + bad))
  [ -z "$ran" ] && { echo "unittest produced no summary"; tail -n 40 "$logs/py.log"; status=1; }
fi

echo "logs: $logs"
echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || status=1
exit $status
