#!/usr/bin/env bash
# The newcomer's first command: installs what Despatch needs, builds it, and starts the
# server with its embedded defaults (http://127.0.0.1:8008, server name "localhost", ./data).
# Arguments are passed to `despatch serve`, e.g. --open-registration or --config FILE.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
scripts/build.sh despatch
exec build/despatch serve "$@"
