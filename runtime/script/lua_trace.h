/* lua_trace.h - the bt.trace submodule (docs/events.md). */
#ifndef BT_LUA_TRACE_H
#define BT_LUA_TRACE_H

#include <lua.h>

int bt_lua_open_trace(lua_State *L); /* bt.trace.signal / emit / current */

#endif
