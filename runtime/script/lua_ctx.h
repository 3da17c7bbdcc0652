/* lua_ctx.h - ctx, the strategy's handle on its run (docs/strategy-api.md).
 *
 * A full userdata bound to the run's engine (core): its methods submit orders and read
 * the ledger through engine.h. When the run ends, bt_ctx_end unbinds it: a ctx a script
 * kept raises "ctx used after its run ended" instead of reaching the freed run. */
#ifndef BT_LUA_CTX_H
#define BT_LUA_CTX_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "engine.h"

typedef struct bt_ctx bt_ctx;

/* Pushes a new ctx for the run; the handle lives as long as the userdata (the caller
 * keeps a reference until bt_ctx_end). */
bt_ctx *bt_ctx_push_new(lua_State *L, bt_engine *e, const char *run_id,
                        const char *correlation_id);
/* Pushes the ctx's order table filled from o (one table, reused). */
void bt_ctx_push_order(lua_State *L, bt_ctx *c, const bt_order *o);
/* The run ended: every method of the ctx raises from now on; bound indicators are
 * released (they can be updated by hand again). */
void bt_ctx_end(lua_State *L, bt_ctx *c);

/* ---- bound indicators: ctx:indicator(name, indicator) ------------------------------
 * An indicator library makes its userdata bindable by storing a light userdata that
 * points to its bt_bar_indicator in the userdata's metatable under
 * BT_BAR_INDICATOR_KEY (bt.ta does). The run loop then updates every bound indicator
 * of the bar's symbol in C, before on_bar, and stores its outputs in the bar table:
 * no Lua method call per bar (docs/indicators.md "Bound indicators"). */
#define BT_BAR_INDICATOR_KEY "__bt_bar_indicator"
#define BT_BAR_INDICATOR_MAX_OUT 4

typedef struct bt_bar_values {
  int64_t time;
  double open, high, low, close, volume;
} bt_bar_values;

typedef struct bt_bar_indicator {
  /* Its outputs' names (*names[0..n-1], n <= BT_BAR_INDICATOR_MAX_OUT) and n, or -1
   * with *why set when this indicator cannot be bound. */
  int (*describe)(void *self, const char *const **names, const char **why);
  /* Update with one bar; out[i] = output i, NaN while it is not ready. */
  void (*update)(void *self, const bt_bar_values *bar, double *out);
  /* Bound indicators refuse updates by hand (btrun feeds them). */
  void (*set_bound)(void *self, bool bound);
} bt_bar_indicator;

/* Update the indicators bound for bar's symbol and store their outputs in the bar
 * table at index bar_t. Called by the loop before on_bar. */
void bt_ctx_update_indicators(lua_State *L, bt_ctx *c, const bt_bar *bar, int bar_t);

#endif
