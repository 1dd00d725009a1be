#!/usr/bin/env bash
# Installs everything Despatch needs to build, run and test on Debian 12.
# Idempotent: packages already present are skipped quickly.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  build-essential cmake ninja-build mold ccache pkg-config
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsodium-dev libssl-dev libsqlite3-dev libtomlplusplus-dev libolm-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3-matrix-nio python3-nacl curl
  openssl ca-certificates
  libvips-dev libmagic-dev clamav-daemon clamav libvips-tools opus-tools
  chromium
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "deps: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Node test clients (matrix-js-sdk with its Rust crypto) live in tests/integration/js.
if [ -f tests/integration/js/package.json ]; then
  if [ ! -d tests/integration/js/node_modules ] || [ tests/integration/js/package.json -nt tests/integration/js/node_modules ]; then
    (cd tests/integration/js && npm install --no-audit --no-fund --loglevel=error)
    touch tests/integration/js/node_modules
  fi
fi
