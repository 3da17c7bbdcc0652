/* sandbox.h - what untrusted Lua (strategies, target rules, report formats) may do.
 *
 * bt_sandbox_apply restricts a state opened with luaL_openlibs (docs/sandbox.md):
 *   - no process spawning, exiting or environment: os is clock/date/difftime/time only
 *     (os.exit raises an error), io.popen/os.execute/os.getenv are gone;
 *   - no C code: package.loadlib and the C searchers are gone, package.cpath is empty;
 *   - no debug library (it reaches the registry, upvalues and hooks);
 *   - text only: load/loadfile/dofile/require refuse precompiled chunks (mutated bytecode
 *     crashes the VM);
 *   - files: io.open/io.lines/loadfile/dofile read files below read_root only (the
 *     strategy's own directory; symlinks are resolved first, so one pointing outside is
 *     refused); nothing can be written (io.write, io.output, write modes are gone);
 *   - require finds Lua modules through a search path fixed when the sandbox is applied
 *     (changing package.path has no effect), loaded as text and run sandboxed.
 * Everything else of the standard library (string, table, math, utf8, coroutine,
 * pcall/error, setmetatable, ...) and the `bt` module stay. The sandbox is applied
 * once, before any untrusted code runs; untrusted code cannot undo it. */
#ifndef BT_SANDBOX_H
#define BT_SANDBOX_H

#include <lua.h>

#include "common.h"

/* read_root: directory whose files may be read (NULL: none). require_path: a
 * package.path-style template ("/dir/?.lua;/dir/?/init.lua"), NULL: require finds only
 * preloaded modules. Returns 0, or an error code with err filled. */
int bt_sandbox_apply(lua_State *L, const char *read_root, const char *require_path,
                     bt_err *err);

/* Make os.exit raise an error instead of ending the process: a strategy, trusted or
 * not, cannot end the run without a result (bt_sandbox_apply includes this). */
void bt_sandbox_no_exit(lua_State *L);

#endif
