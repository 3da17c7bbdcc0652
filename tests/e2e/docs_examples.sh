#!/usr/bin/env bash
# Every fenced example marked runnable in README.md and docs/*.md runs and exits 0, so the
# docs cannot drift from the program. A block is runnable when its info string is
# `sh test` (GitHub still renders it as sh):
#
#   ```sh test
#   build/btrun strategies/sma_cross.lua --out runs/demo
#   ```
#
# Each block runs with bash -euo pipefail in a fresh sandbox directory that looks like the
# repository (strategies/, config/, data/, scripts/, lua/, docs/ linked; build/btrun is the
# binary under test; `btrun` is on PATH), with its own data dir, so blocks never write into
# the checkout. Blocks of one file run in order in one sandbox: a later block may use what
# an earlier one wrote (the README tour does).
set -euo pipefail
: "${BTRUN:?}" "${BTRUN_SRC:?}"
src="$BTRUN_SRC"
tmp=$(mktemp -d "${BT_TEST_TMP:-/tmp}/docs.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

extract() { # FILE -> one script per runnable block: $2/NNN.sh, with the first line "# FILE:LINE"
  awk -v out="$2" -v file="$1" '
    /^```sh test[ \t]*$/ { n++; f = sprintf("%s/%03d.sh", out, n); print "# " file ":" NR + 1 > f; inblk = 1; next }
    inblk && /^```[ \t]*$/ { inblk = 0; close(f); next }
    inblk { print > f }' "$1"
}

blocks=0 files=0
for doc in "$src/README.md" "$src"/docs/*.md; do
  rel=${doc#"$src/"}
  box="$tmp/$(echo "$rel" | tr / _)"
  mkdir -p "$box/build" "$box/scripts.d"
  extract "$doc" "$box/scripts.d"
  compgen -G "$box/scripts.d/*.sh" >/dev/null || { rm -rf "$box"; continue; }
  files=$((files + 1))
  for d in strategies config data scripts lua docs tests; do ln -s "$src/$d" "$box/$d"; done
  ln -s "$BTRUN" "$box/build/btrun"
  mkdir -p "$box/bin" && ln -s "$BTRUN" "$box/bin/btrun"
  for blk in "$box"/scripts.d/*.sh; do
    where=$(head -1 "$blk" | cut -c3-)
    blocks=$((blocks + 1))
    if ! (cd "$box" && PATH="$box/bin:$PATH" BTRUN_DATA_DIR="$box/.btrun" NO_COLOR=1 \
          timeout 120 bash -euo pipefail "$blk") >"$blk.out" 2>&1; then
      echo "FAIL: the example at $where exits non-zero:" >&2
      sed 's/^/    /' "$blk" >&2
      echo "  output (last 20 lines):" >&2
      tail -20 "$blk.out" | sed 's/^/    /' >&2
      exit 1
    fi
  done
done
[ "$blocks" -gt 0 ] || { echo "FAIL: no runnable example found (\`\`\`sh test blocks)"; exit 1; }
echo "docs_examples: $blocks runnable example(s) in $files file(s) ran with exit 0"
