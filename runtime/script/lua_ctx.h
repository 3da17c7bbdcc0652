/* lua_ctx.h - `bt` submodules provided by the core: bt.trace and bt.backtest. */
#ifndef BT_LUA_CTX_H
#define BT_LUA_CTX_H

#include <lua.h>

int bt_lua_open_trace(lua_State *L);     /* bt.trace.signal / emit / current */
int bt_lua_open_backtest(lua_State *L);  /* pushes the bt.backtest function */

#endif
