/* lua_ctx.c - what a strategy sees: the ctx methods. */
#include <lauxlib.h>
#include <string.h>

#include "log.h"
#include "luabind.h"
#include "run_internal.h"

static bt_run *check_run(lua_State *L) {
  bt_run *run = lua_touserdata(L, lua_upvalueindex(1));
  if (!run || !run->L) luaL_error(L, "ctx used outside its run");
  return run;
}

static bt_dec check_dec(lua_State *L, int idx, const char *what) {
  bt_dec d;
  if (lua_isinteger(L, idx)) return bt_dec_from_int(lua_tointeger(L, idx));
  if (!bt_dec_from_double(luaL_checknumber(L, idx), &d)) luaL_error(L, "%s out of range", what);
  return d;
}

static uint32_t opt_symbol(lua_State *L, bt_run *run, int idx) {
  const char *name = lua_tostring(L, idx);
  if (!name) {
    if (run->nfeeds == 1) return 0;
    if (run->bar) return run->bar->symbol;
    luaL_error(L, "symbol required: the run has %d data feeds", run->nfeeds);
  }
  int i = bt_run_symbol_index(run, name);
  if (i < 0) luaL_error(L, "unknown symbol '%s'", name);
  return (uint32_t)i;
}

static int submit(lua_State *L, bt_side side) {
  bt_run *run = check_run(L);
  bt_dec qty = check_dec(L, 2, "qty");
  if (qty.v <= 0) return luaL_error(L, "qty must be > 0");
  bt_order_type type = BT_MARKET;
  bt_dec limit = BT_DEC_ZERO, stop = BT_DEC_ZERO;
  uint32_t symbol;
  uint64_t cause = run->cause;
  if (lua_istable(L, 3)) {
    lua_getfield(L, 3, "type");
    const char *t = luaL_optstring(L, -1, "market");
    static const char *const types[] = {"market", "limit", "stop", "stop_limit", NULL};
    int i = 0;
    while (types[i] && strcmp(types[i], t) != 0) i++;
    if (!types[i]) return luaL_error(L, "unknown order type '%s'", t);
    type = (bt_order_type)i;
    if (lua_getfield(L, 3, "price") != LUA_TNIL) limit = check_dec(L, -1, "price");
    else if (type == BT_LIMIT || type == BT_STOP_LIMIT)
      return luaL_error(L, "%s order needs price=", t);
    if (lua_getfield(L, 3, "stop") != LUA_TNIL) stop = check_dec(L, -1, "stop");
    else if (type == BT_STOP || type == BT_STOP_LIMIT)
      return luaL_error(L, "%s order needs stop=", t);
    lua_getfield(L, 3, "symbol");
    symbol = opt_symbol(L, run, -1);
    if (lua_getfield(L, 3, "cause") != LUA_TNIL)
      cause = (uint64_t)luaL_checkinteger(L, -1);
    lua_settop(L, 3);
  } else {
    luaL_argexpected(L, lua_isnoneornil(L, 3), 3, "table of order options");
    symbol = opt_symbol(L, run, 4); /* none: default symbol */
  }
  uint64_t id;
  bt_err err = {0};
  if (bt_submit_order(run, side, qty, type, limit, stop, symbol, cause, &id, &err)) {
    lua_pushstring(L, err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

int bt_submit_order(bt_run *run, bt_side side, bt_dec qty, bt_order_type type, bt_dec limit,
                    bt_dec stop, uint32_t symbol, uint64_t cause, uint64_t *id, bt_err *err) {
  bt_order o = {.symbol = symbol, .side = side, .type = type, .qty = qty, .limit = limit,
                .stop = stop, .submitted_time = run->bar ? run->bar->time : 0,
                .cause_id = cause, .event_id = bt_bus_next_id(run->bus)};
  if (bt_broker_submit(run->broker, &o, id, err)) return err->code;
  bt_event ev = {.type = BT_EV_ORDER, .timestamp = o.submitted_time, .causation_id = cause,
                 .source = "strategy", .symbol = symbol,
                 .p.order = bt_broker_order(run->broker, *id)};
  bt_bus_publish(run->bus, &ev); /* takes the id reserved above */
  return 0;
}

static int ctx_buy(lua_State *L) { return submit(L, BT_BUY); }
static int ctx_sell(lua_State *L) { return submit(L, BT_SELL); }

static int ctx_close(lua_State *L) {
  bt_run *run = check_run(L);
  uint32_t symbol = opt_symbol(L, run, 2);
  bt_dec pos = bt_ledger_position(run->ledger, symbol);
  if (bt_dec_is_zero(pos)) {
    lua_pushnil(L);
    return 1;
  }
  uint64_t id;
  bt_err err = {0};
  if (bt_submit_order(run, pos.v > 0 ? BT_SELL : BT_BUY, bt_dec_abs(pos), BT_MARKET,
                      BT_DEC_ZERO, BT_DEC_ZERO, symbol, run->cause, &id, &err)) {
    lua_pushstring(L, err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int ctx_cancel(lua_State *L) {
  bt_run *run = check_run(L);
  lua_pushboolean(L, bt_broker_cancel(run->broker, (uint64_t)luaL_checkinteger(L, 2)));
  return 1;
}

static int ctx_position(lua_State *L) {
  bt_run *run = check_run(L);
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_position(run->ledger, opt_symbol(L, run, 2))));
  return 1;
}

static int ctx_cash(lua_State *L) {
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_cash(check_run(L)->ledger)));
  return 1;
}

static int ctx_equity(lua_State *L) {
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_equity(check_run(L)->ledger)));
  return 1;
}

static const char *status_name(bt_order_status s) {
  static const char *const names[] = {"pending", "filled", "cancelled", "rejected"};
  return names[s];
}

static int ctx_order(lua_State *L) {
  bt_run *run = check_run(L);
  const bt_order *o = bt_broker_order(run->broker, (uint64_t)luaL_checkinteger(L, 2));
  if (!o) return lua_pushnil(L), 1;
  bt_ctx_push_order(run, o);
  return 1;
}

void bt_ctx_push_order(bt_run *run, const bt_order *o) {
  lua_State *L = run->L;
  static const char *const types[] = {"market", "limit", "stop", "stop_limit"};
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_order);
  lua_pushinteger(L, (lua_Integer)o->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, bt_feed_symbol(run->feeds[o->symbol]));
  lua_setfield(L, -2, "symbol");
  lua_pushstring(L, o->side == BT_BUY ? "buy" : "sell");
  lua_setfield(L, -2, "side");
  lua_pushstring(L, types[o->type]);
  lua_setfield(L, -2, "type");
  lua_pushnumber(L, bt_dec_to_double(o->qty));
  lua_setfield(L, -2, "qty");
  lua_pushstring(L, status_name(o->status));
  lua_setfield(L, -2, "status");
  if (o->status == BT_REJECTED) lua_pushstring(L, o->reject_reason);
  else lua_pushnil(L);
  lua_setfield(L, -2, "reason");
}

void bt_ctx_push_new(bt_run *run) {
  lua_State *L = run->L;
  static const luaL_Reg methods[] = {
      {"buy", ctx_buy},         {"sell", ctx_sell},     {"close", ctx_close},
      {"cancel", ctx_cancel},   {"position", ctx_position}, {"cash", ctx_cash},
      {"equity", ctx_equity},   {"order", ctx_order},   {NULL, NULL}};
  lua_newtable(L);
  lua_pushlightuserdata(L, run);
  luaL_setfuncs(L, methods, 1);
  lua_pushstring(L, run->info.run_id);
  lua_setfield(L, -2, "run_id");
  lua_pushstring(L, run->info.correlation_id);
  lua_setfield(L, -2, "correlation_id");
  lua_createtable(L, run->nfeeds, 0);
  for (int i = 0; i < run->nfeeds; i++) {
    lua_pushstring(L, bt_feed_symbol(run->feeds[i]));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "symbols");
}
