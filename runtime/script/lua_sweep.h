/* lua_sweep.h - the bt.sweep function: a parameter grid's backtests on every core
 * (docs/sweeps.md). */
#ifndef BT_LUA_SWEEP_H
#define BT_LUA_SWEEP_H

#include <lua.h>

int bt_lua_open_sweep(lua_State *L); /* pushes the bt.sweep function */

#endif
