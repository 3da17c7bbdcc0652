#!/usr/bin/env bash
# The one-way dependency rule of runtime/ holds, and the check really catches a break.
set -euo pipefail
src="${BTRUN_SRC:-$(pwd)}"
"$src/scripts/check-layers.sh" "$src/runtime"

tmp="$(mktemp -d "${BT_TEST_TMP:-/tmp}/layers.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/runtime" "$tmp/runtime"
# A core module reaching up into the script layer must be refused, naming file and line.
printf '#include "luabind.h"\n' >> "$tmp/runtime/core/feed.c"
if out="$("$src/scripts/check-layers.sh" "$tmp/runtime" 2>&1)"; then
  echo "FAIL: an upward include passed the check"; exit 1
fi
grep -q 'runtime/core/feed.c:[0-9]*: includes luabind.h from script/, a higher layer' <<<"$out" \
  || { echo "FAIL: unexpected message: $out"; exit 1; }

# Peers (trace, analytics, perf) never include each other.
cp "$src/runtime/core/feed.c" "$tmp/runtime/core/feed.c"
printf '#include "store.h"\n' >> "$tmp/runtime/perf/perf.c"
if "$src/scripts/check-layers.sh" "$tmp/runtime" >/dev/null 2>&1; then
  echo "FAIL: a peer include passed the check"; exit 1
fi

# A folder missing from LAYERS is an error, so new subsystems must take a place.
cp "$src/runtime/perf/perf.c" "$tmp/runtime/perf/perf.c"
mkdir "$tmp/runtime/newthing"
if "$src/scripts/check-layers.sh" "$tmp/runtime" >/dev/null 2>&1; then
  echo "FAIL: an unlisted folder passed the check"; exit 1
fi
echo "arch_layers: ok"
