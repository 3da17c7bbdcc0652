/* lua_ctx.h - ctx, the strategy's handle on its run (docs/strategy-api.md).
 *
 * A full userdata bound to the run's engine (core): its methods submit orders and read
 * the ledger through engine.h. When the run ends, bt_ctx_end unbinds it: a ctx a script
 * kept raises "ctx used after its run ended" instead of reaching the freed run. */
#ifndef BT_LUA_CTX_H
#define BT_LUA_CTX_H

#include <lua.h>

#include "engine.h"

typedef struct bt_ctx bt_ctx;

/* Pushes a new ctx for the run; the handle lives as long as the userdata (the caller
 * keeps a reference until bt_ctx_end). */
bt_ctx *bt_ctx_push_new(lua_State *L, bt_engine *e, const char *run_id,
                        const char *correlation_id);
/* Pushes the ctx's order table filled from o (one table, reused). */
void bt_ctx_push_order(lua_State *L, bt_ctx *c, const bt_order *o);
/* The run ended: every method of the ctx raises from now on. */
void bt_ctx_end(lua_State *L, bt_ctx *c);

#endif
