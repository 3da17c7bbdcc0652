#!/usr/bin/env bash
# test.sh - build btrun and run the whole test suite (unit, Lua and end-to-end) with ctest.
#   scripts/test.sh               -> normal build in build/
#   scripts/test.sh --sanitize    -> the same suite under AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh "$@"
build=build
[ "${1:-}" = "--sanitize" ] && build=build-asan
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
ctest --test-dir "$build" --output-on-failure -j2
