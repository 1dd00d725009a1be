#!/usr/bin/env bash
# The test command: installs dependencies, builds, then runs the unit tests (GoogleTest via
# ctest), the matrix-js-sdk integration suite (node --test) and the matrix-nio / HTTP suite
# (unittest), and prints one summary line "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh || exit 1
scripts/build.sh despatch unit_tests || exit 1

logs=$(mktemp -d)
passed=0
failed=0
status=0

echo "== unit tests (ctest)"
(cd build && ctest --output-on-failure -j2) >"$logs/unit.log" 2>&1 || status=1
tail -n 3 "$logs/unit.log"
grep -q "tests failed" "$logs/unit.log" || { cat "$logs/unit.log"; status=1; }
if line=$(grep -E "tests passed, [0-9]+ tests failed out of [0-9]+" "$logs/unit.log"); then
  total=$(echo "$line" | sed -E 's/.*out of ([0-9]+).*/\1/')
  f=$(echo "$line" | sed -E 's/.*passed, ([0-9]+) tests failed.*/\1/')
  passed=$((passed + total - f)); failed=$((failed + f))
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
