/* luabind.h - the `bt` Lua module and the strategy/script Lua states.
 *
 * Each run has its own lua_State (never shared across threads). The `bt` module is
 * built from submodules registered in luabind_table.c: each opener pushes one table
 * (bt.log, bt.trace, bt.analytics, bt.perf, bt.events, ...). Openers find the app and
 * the current run through the accessors below. */
#ifndef BT_LUABIND_H
#define BT_LUABIND_H

#include <lua.h>
#include <stdbool.h>

#include "engine.h"
#include "run.h"

typedef struct bt_lua_module {
  const char *name;
  lua_CFunction open;   /* pushes the submodule table, returns 1 */
} bt_lua_module;

extern const bt_lua_module bt_lua_modules[];  /* terminated by {NULL} */

/* Create a state with the standard libraries, generational GC, package.path set to
 * btrun's lua/ directory, and the `bt` global (require "bt" also works). */
lua_State *bt_lua_new_state(bt_app *app, bt_err *err);
/* A state for a strategy file: bt_lua_new_state, then os.exit disabled (a strategy never
 * ends the process) and, when sandbox, bt_sandbox_apply: files below the strategy's
 * directory readable, require along that directory and btrun's lua/, and no bt.backtest,
 * bt.perf or bt.events (they name files). */
lua_State *bt_lua_new_strategy_state(bt_app *app, const char *strategy_path, bool sandbox,
                                     bt_err *err);
/* Whether the CLI runs `path` as a strategy (sandboxed unless trusted) rather than a
 * script (trusted): a line of the file starts with `return` and a value, as a strategy
 * file's last statement `return strategy` does. Decided from the text, before any of it
 * runs, so a strategy's top-level code never runs trusted. */
bool bt_lua_file_is_strategy(const char *path);
bt_app *bt_lua_app(lua_State *L);
/* The run executing in this state, NULL in a script outside bt.backtest. */
struct bt_run *bt_lua_run(lua_State *L);
/* bt_lua_pcall for any state, with `what` (e.g. "targets rule 'x'") before the message. */
int bt_lua_pcall_in(lua_State *L, int nargs, int nresults, const char *what, bt_err *err);
/* lua.c's message handler: adds a traceback to the error message. */
int bt_lua_msghandler(lua_State *L);
/* Convert the error (status != LUA_OK, message with traceback on top) into err and pop it. */
int bt_lua_error(lua_State *L, int status, bt_err *err);
/* Set (or clear with NULLs) the run executing in this state and its engine; used by
 * the run loop. */
void bt_lua_set_run(lua_State *L, struct bt_run *run, bt_engine *engine);
/* The engine of the run executing in this state (what bindings call), NULL outside one. */
bt_engine *bt_lua_engine(lua_State *L);

/* Why a state is told to stop. From a hook: records the reason in the state and raises
 * the stop error, which bt_lua_error then reports as type "interrupted" or "timeout"
 * (decided from the recorded reason, not from the message). */
typedef enum { BT_LUA_STOP_TIMEOUT = 1, BT_LUA_STOP_INTERRUPT = 2 } bt_lua_stop;
int bt_lua_raise_stop(lua_State *L, bt_lua_stop reason, double timeout_s);
/* Close a state made by bt_lua_new_state (also frees its allocator bookkeeping). */
void bt_lua_close(lua_State *L);
/* Directory of btrun's own Lua files (BTRUN_LUA_DIR, install prefix, or source tree). */
const char *bt_lua_dir(void);
/* lua_pcall with a traceback message handler; on error fills err (type "lua_error",
 * message, traceback) and pops the error. */
int bt_lua_pcall(lua_State *L, int nargs, int nresults, bt_err *err);
/* Push a JSON value as Lua: objects and arrays as tables, integral numbers as integers,
 * null as nil. */
struct cJSON;
void bt_lua_push_json(lua_State *L, const struct cJSON *j);

#endif
