/* lua_backtest.h - the bt.backtest function (docs/strategy-api.md). */
#ifndef BT_LUA_BACKTEST_H
#define BT_LUA_BACKTEST_H

#include <lua.h>

int bt_lua_open_backtest(lua_State *L); /* pushes the bt.backtest function */

#endif
