#!/usr/bin/env bash
# Benchmarks Despatch: builds the server and bench/load_bench, starts a fresh server (temporary
# data folder, a free port, open registration, no rate limit), runs the load generator against
# it, stops the server and prints the figures. Arguments go to load_bench, e.g. --quick or
# --messages 50 (see build/load_bench --help). Then, unless BENCH_ONLY_LOAD=1, the records
# bench (archive append, verify, export; RECORDS=N records, default 1,000,000) and the
# end-to-end encryption bench (keys/query and to-device fan-out; E2EE_USERS=N, default 1,000)
# and the media bench (upload and thumbnail throughput for 1 MB images; MEDIA_COUNT=N images
# per run, default 40). BENCH_PERF=FILE adds a perf profile of the server during the load.
# BENCH_FEDERATION=1 runs only the federation bench instead (two servers over TLS; a send on
# one timed until /sync on the other; FED_MESSAGES=N, default 2,000; arguments go to
# bench/federation_bench.py); it never runs otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${BENCH_FEDERATION:-0}" = 1 ]; then
  if ! out=$(scripts/build.sh despatch 2>&1); then
    echo "$out" | grep -E "error:|FAILED" | head -n 20; echo "bench: the build failed"; exit 1
  fi
  echo "== federation: send on A -> /sync on B (load average before: $(cut -d' ' -f1-3 /proc/loadavg))"
  exec /usr/bin/python3 bench/federation_bench.py --messages "${FED_MESSAGES:-2000}" "$@"
fi

# 10,000 parked /syncs need as many sockets in the server and in the bench; both inherit this.
hard=$(ulimit -Hn)
if [ "$hard" = unlimited ]; then ulimit -n 1048576 2>/dev/null || ulimit -n 65536 || true
else ulimit -n "$hard" || true; fi
echo "bench: file descriptor limit $(ulimit -n)"

# A new bench/*.cpp is only known to the build once CMake has globbed again.
if [ -f build/build.ninja ] &&
  ! ninja -C build -t targets all 2>/dev/null | grep -q '^load_bench:'; then
  cmake -S . -B build >/dev/null
fi
if ! out=$(scripts/build.sh despatch load_bench records_bench export_bench 2>&1); then
  echo "$out" | grep -E "error:|FAILED" | head -n 20; echo "bench: the build failed"; exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/despatch-bench.XXXXXX")
log="$work/server.log"
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$server_pid" 2>/dev/null; then
      echo "bench: server did not stop within 10 s of SIGTERM; killing it"
      kill -KILL "$server_pid" 2>/dev/null || true
    fi
    wait "$server_pid" 2>/dev/null || true
  fi
  server_pid=""
}
cleanup() {
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

: >"$log"  # exists before the background child opens it, so polling it below never races
# Port 0: the kernel picks a free port and the ready line names it, so no race with other users.
# The records office's key pair, as a department would make it (the server then has no
# reason to warn about a missing key).
build/despatch records keygen --out "$work/office" --data "$work/data" >/dev/null
build/despatch serve --data "$work/data" --listen 127.0.0.1:0 --open-registration \
  --no-rate-limit >"$log" 2>&1 &
server_pid=$!
port=""
for _ in $(seq 300); do
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "bench: the server exited during start-up:"; cat "$log"; exit 1
  fi
  port=$(sed -nE 's/.*despatch ready.*http:\/\/127\.0\.0\.1:([0-9]+).*/\1/p' "$log" | head -n 1)
  [ -n "$port" ] && break
  sleep 0.1
done
if [ -z "$port" ]; then echo "bench: the server was not ready within 30 s:"; cat "$log"; exit 1; fi
echo "bench: server pid $server_pid on 127.0.0.1:$port, data in $work/data"

# The figures assume the machine is otherwise idle; other work running meanwhile skews them.
echo "bench: load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
status=0
# BENCH_PERF=FILE samples the server's stacks (perf, cpu-clock) while the load runs and
# prints where its CPU time went.
perf_pid=""
if [ -n "${BENCH_PERF:-}" ]; then
  perf record -e cpu-clock -F 999 -g -p "$server_pid" -o "$BENCH_PERF" >/dev/null 2>&1 &
  perf_pid=$!
fi
build/load_bench --port "$port" --pid "$server_pid" "$@" || status=$?
if [ -n "$perf_pid" ]; then
  kill -INT "$perf_pid" 2>/dev/null || true
  wait "$perf_pid" 2>/dev/null || true
  echo "== where the server's CPU time went (perf, self time by function, top 40)"
  perf report -i "$BENCH_PERF" --no-children --sort dso,symbol --stdio 2>/dev/null |
    grep -E '^ +[0-9.]+%' | head -n 40
  echo "== by thread"
  perf report -i "$BENCH_PERF" --no-children --sort comm --stdio 2>/dev/null | grep -E '^ +[0-9.]+%' | head
fi

if ! kill -0 "$server_pid" 2>/dev/null; then
  wait "$server_pid" && code=0 || code=$?
  server_pid=""
  echo "bench: the SERVER DIED during the run (exit status $code); the end of its log:"
  tail -n 40 "$log"
  exit 1
fi
stop_server

# Anything the server logged above info level is worth a look.
problems=$(grep -cE 'Z (warn|error) ' "$log" || true)
if [ "${problems:-0}" -gt 0 ]; then
  echo "bench: the server logged $problems warnings or errors; the first 20:"
  grep -E 'Z (warn|error) ' "$log" | head -n 20
else
  echo "bench: the server logged no warnings or errors"
fi
if [ "${BENCH_ONLY_LOAD:-0}" != 1 ]; then
  echo
  echo "== records: archive append, verify, FOI export"
  build/records_bench --records "${RECORDS:-1000000}" 2>/dev/null || status=1
  echo
  echo "== records: one user's year exported in each format (sealed export, open, bag)"
  build/export_bench --messages "${EXPORT_MESSAGES:-100000}" 2>/dev/null || status=1
  echo
  echo "== end-to-end encryption: keys/query and to-device fan-out"
  /usr/bin/python3 bench/e2ee_bench.py --users "${E2EE_USERS:-1000}" || status=1
  echo
  echo "== media: upload and thumbnail throughput (1 MB images)"
  /usr/bin/python3 bench/media_bench.py --count "${MEDIA_COUNT:-40}" || status=1
fi
exit $status
