/* lua_log.h - the bt.log Lua submodule (structured logging from strategies/scripts).
 *
 *   bt.log.debug/info/warning/error(event [, fields])   also bt.log.warn
 *   bt.log.bind(fields)       bind into this thread's context
 *   bt.log.unbind(key, ...)   remove bound keys
 *   bt.log.scoped(fields, fn, ...)  bind, call fn(...), restore the previous context
 *                                   whether fn returns or raises (the error propagates)
 *   bt.log.context()          the bound fields as a table
 *   bt.log.enabled(level [, logger])
 * The logger is "strategy" unless fields.logger names another. docs/logging.md. */
#ifndef BT_LUA_LOG_H
#define BT_LUA_LOG_H

#include <lua.h>

#include "log.h"

int bt_lua_open_log(lua_State *L);
/* Render the Lua value at idx as NUL-terminated JSON appended to b, the way log records
 * render values (sorted keys, no metamethods, depth/cycle limits); returns its offset.
 * Used for event payloads too. */
size_t bt_lua_log_render_json(lua_State *L, int idx, bt_json_buf *b);

#endif
