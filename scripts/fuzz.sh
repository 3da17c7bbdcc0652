#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer harnesses of tests/fuzz with clang (build-fuzz/) and run
# each for longer than the suite's smoke run.
#   scripts/fuzz.sh [SECONDS_EACH] [HARNESS...]   (default 120 s, every harness)
# Crashes are saved as build-fuzz/crashes/<harness>-crash-...; the seed corpus in
# tests/fuzz/corpus is not modified (new inputs go to build-fuzz/corpus/<name>).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-120}
shift || true
clang=$(command -v clang || command -v clang-14 || true)
[ -n "$clang" ] || { echo "fuzz.sh: clang is required (apt-get install clang)" >&2; exit 1; }
cmake -S tests/fuzz -B build-fuzz -DCMAKE_C_COMPILER="$clang" >/dev/null
cmake --build build-fuzz -j"$(nproc)"
names=("$@")
if [ ${#names[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.c; do names+=("$(basename "$f" .c)"); done
fi
mkdir -p build-fuzz/crashes
for n in "${names[@]}"; do
  echo "== $n (${secs}s)"
  mkdir -p "build-fuzz/corpus/$n"
  TMPDIR=$(mktemp -d) build-fuzz/"$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="build-fuzz/crashes/$n-" \
    "build-fuzz/corpus/$n" "tests/fuzz/corpus/${n#fuzz_}"
done
