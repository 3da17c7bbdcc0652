/* lua_backtest.h - the bt.backtest function (docs/strategy-api.md). */
#ifndef BT_LUA_BACKTEST_H
#define BT_LUA_BACKTEST_H

#include <lua.h>

#include "run.h"

int bt_lua_open_backtest(lua_State *L); /* pushes the bt.backtest function */
/* Pushes the result table bt.backtest returns; err (msg, type) is read for failed runs. */
void bt_lua_push_run_result(lua_State *L, const bt_run_result *r, const bt_err *err);

#endif
