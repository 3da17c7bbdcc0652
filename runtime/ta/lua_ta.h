/* lua_ta.h - the bt.ta Lua submodule: streaming indicators (docs/indicators.md).
 *
 *   bt.ta.sma(n) / ema / wma / dema / tema / smma / rsi / stddev / highest / lowest /
 *   momentum / roc (n), macd(fast, slow, signal), bollinger(n, k), tr(), atr(n),
 *   stochastic(n, k_smooth, d), adx(n), donchian(n), obv(), vwap([session[, offset]])
 *   -> userdata with :update(x | bar), :value(), :reset() (outputs nil until warm)
 *   bt.ta.crossover([a, b]) -> :update() / :update(x, y) gives +1, -1 or 0
 *   bt.ta.per_symbol(factory) -> table that creates factory() per key on first use */
#ifndef BT_LUA_TA_H
#define BT_LUA_TA_H

#include <lua.h>

int bt_lua_open_ta(lua_State *L);

#endif
