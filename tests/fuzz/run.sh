#!/usr/bin/env bash
# run.sh FUZZER [SECONDS]: run a libFuzzer harness from its seed corpus
# (tests/fuzz/corpus/<name>) for SECONDS (default 4). New inputs go to a temporary
# directory; a crash is saved as $BT_TEST_TMP/<fuzzer>-crash-... and fails the run (reproduce
# with `FUZZER FILE`).
set -euo pipefail
bin=$1
secs=${2:-4}
name=$(basename "$bin")
seeds="$(cd "$(dirname "$0")" && pwd)/corpus/${name#fuzz_}"
out="${BT_TEST_TMP:-/tmp}"
mkdir -p "$out"
work=$(mktemp -d "$out/$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
export TMPDIR="$work"
# leaks are findings too; a harness is single-process, so no fork/jobs here
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$out/$name-" "$work/corpus" "$seeds" 2>&1 | tail -n 25
