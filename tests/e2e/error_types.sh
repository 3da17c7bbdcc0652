#!/usr/bin/env bash
# error_types.sh - every error type named in runtime/ is in the closed vocabulary
# (base/common.h: BT_ERR_SUBTYPES and the codes' names, docs/outputs.md), and the doc
# lists each of them.
set -euo pipefail
src="${BTRUN_SRC:-$(dirname "$0")/../..}"
python3 - "$src" <<'PY'
import os, re, sys
src = sys.argv[1]
h = open(os.path.join(src, "runtime/base/common.h")).read()
m = re.search(r'#define BT_ERR_SUBTYPES(.*?)\n\n', h, re.S)
allowed = set(re.findall(r'"([a-z_]+)"', m.group(1)))
c = open(os.path.join(src, "runtime/base/common.c")).read()
codes = set(re.findall(r'return "([a-z_]+)";', c))
doc = open(os.path.join(src, "docs/outputs.md")).read()
bad = []
for name in sorted(allowed | codes):
    if "`%s`" % name not in doc:
        bad.append("docs/outputs.md does not list error type %s" % name)
for root, _, files in os.walk(os.path.join(src, "runtime")):
    for f in files:
        if not f.endswith(".c"):
            continue
        path = os.path.join(root, f)
        text = open(path, encoding="utf-8", errors="replace").read()
        for m in re.finditer(r'bt_errf(?:_at)?\([^,]+,\s*(BT_E[A-Z]+),\s*"([a-z_]+)"', text):
            code, name = m.groups()
            if name not in allowed and name not in codes:
                line = text.count("\n", 0, m.start()) + 1
                bad.append("%s:%d: error type \"%s\" is not in the vocabulary" % (os.path.relpath(path, src), line, name))
for b in bad:
    print(b)
if bad:
    sys.exit(1)
print("error types: ok (%d subtypes, %d code names)" % (len(allowed), len(codes)))
PY
