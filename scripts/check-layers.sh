#!/usr/bin/env bash
# check-layers.sh - enforce runtime/'s one-way dependency rule (runtime/LAYERS).
#   scripts/check-layers.sh [RUNTIME_DIR]
# Every `#include "x.h"` must name a header of the file's own folder or of a folder on an
# earlier line of LAYERS. Prints each violation as file:line and exits 1 if any.
set -euo pipefail
root="${1:-$(dirname "$0")/../runtime}"
python3 - "$root" <<'PY'
import os, re, sys
root = sys.argv[1]
rank, header_dir = {}, {}
with open(os.path.join(root, "LAYERS")) as f:
    level = 0
    for line in f:
        if not line.strip() or line.startswith("#"):
            continue
        for folder in line.split():
            rank[folder] = level
        level += 1
problems = []
for folder in sorted(os.listdir(root)):
    path = os.path.join(root, folder)
    if not os.path.isdir(path):
        continue
    if folder not in rank:
        problems.append(f"runtime/{folder}/: folder not listed in runtime/LAYERS")
        continue
    for name in os.listdir(path):
        if name.endswith(".h"):
            if name in header_dir:
                problems.append(f"runtime/{folder}/{name}: header name also in runtime/{header_dir[name]}/")
            header_dir[name] = folder
inc = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
for folder in sorted(rank):
    path = os.path.join(root, folder)
    if not os.path.isdir(path):
        continue
    for name in sorted(os.listdir(path)):
        if not name.endswith((".c", ".h")):
            continue
        with open(os.path.join(path, name), encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                m = inc.match(line)
                if not m:
                    continue
                target = os.path.basename(m.group(1))
                where = header_dir.get(target)
                if where is None:
                    problems.append(f"runtime/{folder}/{name}:{lineno}: includes \"{target}\", not a header of runtime/")
                elif where != folder and rank[where] >= rank[folder]:
                    kind = "a peer" if rank[where] == rank[folder] else "a higher layer"
                    problems.append(f"runtime/{folder}/{name}:{lineno}: includes {target} from {where}/, {kind} (see runtime/LAYERS)")
for p in problems:
    print(p)
if problems:
    print(f"check-layers: {len(problems)} violation(s)", file=sys.stderr)
    sys.exit(1)
print(f"check-layers: ok ({len(header_dir)} headers in {len(rank)} layers)")
PY
