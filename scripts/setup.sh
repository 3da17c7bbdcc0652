#!/usr/bin/env bash
# setup.sh - install btrun's build dependencies (Debian/Ubuntu) and build it.
#   scripts/setup.sh              -> build/btrun (RelWithDebInfo)
#   scripts/setup.sh --sanitize   -> build-asan/btrun (AddressSanitizer + UBSan)
#   scripts/setup.sh --release    -> build-release/btrun (Release: -O3, still -Werror)
# Installing is skipped when every package is already present.
set -euo pipefail
cd "$(dirname "$0")/.."

# The service adds libmicrohttpd (HTTP), gnutls (SHA-256 of API keys) and libpq (PostgreSQL); the test suite starts a
# throwaway PostgreSQL cluster (postgresql), reads the tz database (tzdata) and fuzzes
# with clang's libFuzzer when clang is there.
packages=(build-essential cmake pkg-config lua5.4 liblua5.4-dev libcurl4-openssl-dev
  libcjson-dev uuid-dev libsqlite3-dev zlib1g-dev jq python3
  libmicrohttpd-dev libgnutls28-dev libpq-dev postgresql tzdata curl)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

build=build
flags=(-DCMAKE_BUILD_TYPE=RelWithDebInfo)
if [ "${1:-}" = "--sanitize" ]; then
  build=build-asan
  flags=(-DCMAKE_BUILD_TYPE=Debug -DBT_SANITIZE=ON)
elif [ "${1:-}" = "--release" ]; then
  build=build-release
  flags=(-DCMAKE_BUILD_TYPE=Release)
fi
cmake -S . -B "$build" "${flags[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
