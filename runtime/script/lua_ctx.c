/* lua_ctx.c - what a strategy sees: ctx, a full userdata bound to its run's engine.
 *
 * The methods are closures over the ctx userdata and check its engine pointer, which
 * bt_ctx_end clears when the run ends: a ctx kept past its run raises an error instead
 * of reaching freed memory. Fields (params, symbols, run_id, ...) and the methods live
 * in a per-ctx table that the metatable's __index/__newindex point at. */
#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "log.h"
#include "luabind.h"
#include "lua_ctx.h"

/* One indicator bound with ctx:indicator, for one symbol. */
typedef struct bound {
  void *self;
  const bt_bar_indicator *vt;
  const char *const *names; /* output names when nout > 1 */
  int nout;
  uint32_t symbol;
  int ref_ind;  /* keeps the userdata alive while bound */
  int ref_name; /* the bar table key */
  int ref_out;  /* the reused outputs table when nout > 1, else LUA_NOREF */
} bound;

struct bt_ctx {
  bt_engine *e; /* NULL once the run ended */
  int ref_order; /* the order table bt_ctx_push_order reuses */
  bound *bound;
  int nbound;
  size_t capbound;
};

static bt_ctx *check_ctx(lua_State *L) {
  bt_ctx *c = lua_touserdata(L, lua_upvalueindex(1));
  if (!c->e) luaL_error(L, "ctx used after its run ended");
  return c;
}

static bt_engine *check_engine(lua_State *L) { return check_ctx(L)->e; }

static bt_dec check_dec(lua_State *L, int idx, const char *what) {
  bt_dec d;
  if (lua_isinteger(L, idx)) return bt_dec_from_int(lua_tointeger(L, idx));
  if (!bt_dec_from_double(luaL_checknumber(L, idx), &d)) luaL_error(L, "%s out of range", what);
  return d;
}

static uint32_t opt_symbol(lua_State *L, bt_engine *e, int idx) {
  const char *name = lua_tostring(L, idx);
  if (!name) {
    if (e->nfeeds == 1) return 0;
    if (e->bar) return e->bar->symbol;
    luaL_error(L, "symbol required: the run has %d data feeds", e->nfeeds);
  }
  int i = bt_engine_symbol_index(e, name);
  if (i < 0) luaL_error(L, "unknown symbol '%s'", name);
  return (uint32_t)i;
}

static int submit(lua_State *L, bt_side side) {
  bt_engine *e = check_engine(L);
  bt_dec qty = check_dec(L, 2, "qty");
  if (qty.v <= 0) return luaL_error(L, "qty must be > 0");
  bt_order_type type = BT_MARKET;
  bt_dec limit = BT_DEC_ZERO, stop = BT_DEC_ZERO;
  uint32_t symbol;
  uint64_t cause = e->cause;
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
    symbol = opt_symbol(L, e, -1);
    if (lua_getfield(L, 3, "cause") != LUA_TNIL)
      cause = (uint64_t)luaL_checkinteger(L, -1);
    lua_settop(L, 3);
  } else {
    luaL_argexpected(L, lua_isnoneornil(L, 3), 3, "table of order options");
    symbol = opt_symbol(L, e, 4); /* none: default symbol */
  }
  uint64_t id;
  bt_err err = {0};
  if (bt_engine_submit(e, side, qty, type, limit, stop, symbol, cause, &id, &err)) {
    lua_pushstring(L, err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int ctx_buy(lua_State *L) { return submit(L, BT_BUY); }
static int ctx_sell(lua_State *L) { return submit(L, BT_SELL); }

static int ctx_close(lua_State *L) {
  bt_engine *e = check_engine(L);
  uint32_t symbol = opt_symbol(L, e, 2);
  bt_dec pos = bt_ledger_position(e->ledger, symbol);
  if (bt_dec_is_zero(pos)) {
    lua_pushnil(L);
    return 1;
  }
  uint64_t id;
  bt_err err = {0};
  if (bt_engine_submit(e, pos.v > 0 ? BT_SELL : BT_BUY, bt_dec_abs(pos), BT_MARKET,
                       BT_DEC_ZERO, BT_DEC_ZERO, symbol, e->cause, &id, &err)) {
    lua_pushstring(L, err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

static int ctx_cancel(lua_State *L) {
  bt_engine *e = check_engine(L);
  lua_pushboolean(L, bt_broker_cancel(e->broker, (uint64_t)luaL_checkinteger(L, 2)));
  return 1;
}

static int ctx_position(lua_State *L) {
  bt_engine *e = check_engine(L);
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_position(e->ledger, opt_symbol(L, e, 2))));
  return 1;
}

static int ctx_cash(lua_State *L) {
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_cash(check_engine(L)->ledger)));
  return 1;
}

static int ctx_equity(lua_State *L) {
  lua_pushnumber(L, bt_dec_to_double(bt_ledger_equity(check_engine(L)->ledger)));
  return 1;
}

static const char *status_name(bt_order_status s) {
  static const char *const names[] = {"pending", "filled", "cancelled", "rejected"};
  return names[s];
}

static int ctx_order(lua_State *L) {
  bt_ctx *c = check_ctx(L);
  const bt_order *o = bt_broker_order(c->e->broker, (uint64_t)luaL_checkinteger(L, 2));
  if (!o) return lua_pushnil(L), 1;
  bt_ctx_push_order(L, c, o);
  return 1;
}

void bt_ctx_push_order(lua_State *L, bt_ctx *c, const bt_order *o) {
  static const char *const types[] = {"market", "limit", "stop", "stop_limit"};
  lua_rawgeti(L, LUA_REGISTRYINDEX, c->ref_order);
  lua_pushinteger(L, (lua_Integer)o->id);
  lua_setfield(L, -2, "id");
  lua_pushstring(L, bt_engine_symbol(c->e, o->symbol));
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

/* ---- bound indicators ---------------------------------------------------------- */

static bool is_bar_key(const char *name) {
  static const char *const keys[] = {"symbol", "time", "open", "high", "low", "close", "volume", NULL};
  for (int i = 0; keys[i]; i++)
    if (strcmp(keys[i], name) == 0) return true;
  return false;
}

static bool is_identifier(const char *s) {
  if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return false;
  for (s++; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9')))
      return false;
  return true;
}

/* Binds the indicator at idx under name for symbol. */
static void bind_one(lua_State *L, bt_ctx *c, const char *name, int idx, uint32_t symbol) {
  idx = lua_absindex(L, idx);
  if (luaL_getmetafield(L, idx, BT_BAR_INDICATOR_KEY) != LUA_TLIGHTUSERDATA)
    luaL_error(L, "ctx:indicator('%s'): expected an indicator (bt.ta.*), got %s", name,
               luaL_typename(L, idx));
  const bt_bar_indicator *vt = lua_touserdata(L, -1);
  lua_pop(L, 1);
  void *self = lua_touserdata(L, idx);
  const char *const *names = NULL, *why = NULL;
  int nout = vt->describe(self, &names, &why);
  if (nout < 0) luaL_error(L, "ctx:indicator('%s'): %s", name, why);
  for (int i = 0; i < c->nbound; i++) {
    if (c->bound[i].self == self) luaL_error(L, "ctx:indicator('%s'): this indicator is already bound", name);
    lua_rawgeti(L, LUA_REGISTRYINDEX, c->bound[i].ref_name);
    bool same = c->bound[i].symbol == symbol && strcmp(lua_tostring(L, -1), name) == 0;
    lua_pop(L, 1);
    if (same)
      luaL_error(L, "ctx:indicator('%s'): '%s' is already bound for %s", name, name,
                 bt_engine_symbol(c->e, symbol));
  }
  if (BT_GROW(c->bound, c->capbound, (size_t)c->nbound + 1)) luaL_error(L, "out of memory");
  bound *b = &c->bound[c->nbound];
  *b = (bound){.self = self, .vt = vt, .names = names, .nout = nout, .symbol = symbol};
  lua_pushvalue(L, idx);
  b->ref_ind = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pushstring(L, name);
  b->ref_name = luaL_ref(L, LUA_REGISTRYINDEX);
  b->ref_out = LUA_NOREF;
  if (nout > 1) {
    lua_createtable(L, 0, nout);
    b->ref_out = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  vt->set_bound(self, true);
  c->nbound++;
}

/* ctx:indicator(name, indicator [, symbol]) or ctx:indicator(name, factory): btrun
 * updates the indicator with every bar of its symbol before on_bar and puts its value
 * in bar[name]. A factory (function(symbol) -> indicator) makes one per symbol. */
static int ctx_indicator(lua_State *L) {
  bt_ctx *c = check_ctx(L);
  bt_engine *e = c->e;
  const char *name = luaL_checkstring(L, 2);
  if (!is_identifier(name))
    return luaL_error(L, "ctx:indicator: name '%s' must be an identifier (letters, digits, _)", name);
  if (is_bar_key(name))
    return luaL_error(L, "ctx:indicator: '%s' is a bar field; choose another name", name);
  if (lua_isfunction(L, 3)) {
    luaL_argexpected(L, lua_isnoneornil(L, 4), 4, "nothing (a factory makes one indicator per symbol)");
    for (int i = 0; i < e->nfeeds; i++) {
      lua_settop(L, 3);
      lua_pushvalue(L, 3);
      lua_pushstring(L, bt_engine_symbol(e, (uint32_t)i));
      lua_call(L, 1, 1);
      bind_one(L, c, name, 4, (uint32_t)i);
    }
    return 0;
  }
  uint32_t symbol = 0;
  if (!lua_isnoneornil(L, 4)) symbol = opt_symbol(L, e, 4);
  else if (e->nfeeds > 1)
    return luaL_error(L, "ctx:indicator('%s'): the run has %d symbols: give the symbol "
                      "(ctx:indicator(name, ind, symbol)) or a function that makes one "
                      "indicator per symbol", name, e->nfeeds);
  bind_one(L, c, name, 3, symbol);
  lua_settop(L, 3);
  return 1;
}

static void push_output(lua_State *L, double v) {
  if (isnan(v)) lua_pushnil(L);
  else lua_pushnumber(L, v);
}

void bt_ctx_update_indicators(lua_State *L, bt_ctx *c, const bt_bar *bar, int bar_t) {
  if (!c->nbound) return;
  if (c->e->nfeeds > 1) /* a name bound for other symbols only is nil on this bar */
    for (int i = 0; i < c->nbound; i++) {
      if (c->bound[i].symbol == bar->symbol) continue;
      lua_rawgeti(L, LUA_REGISTRYINDEX, c->bound[i].ref_name);
      lua_pushnil(L);
      lua_rawset(L, bar_t);
    }
  bt_bar_values v = {bar->time, bt_dec_to_double(bar->open), bt_dec_to_double(bar->high),
                     bt_dec_to_double(bar->low), bt_dec_to_double(bar->close), bar->volume};
  double out[BT_BAR_INDICATOR_MAX_OUT];
  for (int i = 0; i < c->nbound; i++) {
    const bound *b = &c->bound[i];
    if (b->symbol != bar->symbol) continue;
    b->vt->update(b->self, &v, out);
    lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_name);
    if (b->nout == 1) {
      push_output(L, out[0]);
    } else {
      lua_rawgeti(L, LUA_REGISTRYINDEX, b->ref_out);
      for (int k = 0; k < b->nout; k++) {
        push_output(L, out[k]);
        lua_setfield(L, -2, b->names[k]);
      }
    }
    lua_rawset(L, bar_t);
  }
}

bt_ctx *bt_ctx_push_new(lua_State *L, bt_engine *e, const char *run_id,
                        const char *correlation_id) {
  static const luaL_Reg methods[] = {
      {"buy", ctx_buy},         {"sell", ctx_sell},     {"close", ctx_close},
      {"cancel", ctx_cancel},   {"position", ctx_position}, {"cash", ctx_cash},
      {"equity", ctx_equity},   {"order", ctx_order},   {"indicator", ctx_indicator},
      {NULL, NULL}};
  bt_ctx *c = lua_newuserdatauv(L, sizeof *c, 0);
  *c = (bt_ctx){.e = e};
  int ud = lua_gettop(L);
  lua_createtable(L, 0, 12); /* the ctx's fields and methods */
  lua_pushvalue(L, ud);
  luaL_setfuncs(L, methods, 1);
  lua_pushstring(L, run_id);
  lua_setfield(L, -2, "run_id");
  lua_pushstring(L, correlation_id);
  lua_setfield(L, -2, "correlation_id");
  lua_createtable(L, e->nfeeds, 0);
  for (int i = 0; i < e->nfeeds; i++) {
    lua_pushstring(L, bt_engine_symbol(e, (uint32_t)i));
    lua_rawseti(L, -2, i + 1);
  }
  lua_setfield(L, -2, "symbols");
  lua_createtable(L, 0, 3); /* the metatable */
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__index");
  lua_pushvalue(L, -2);
  lua_setfield(L, -2, "__newindex");
  lua_pushliteral(L, "ctx");
  lua_setfield(L, -2, "__name");
  lua_setmetatable(L, ud);
  lua_pop(L, 1);
  lua_createtable(L, 0, 12);
  c->ref_order = luaL_ref(L, LUA_REGISTRYINDEX);
  return c;
}

void bt_ctx_end(lua_State *L, bt_ctx *c) {
  if (!c) return;
  c->e = NULL;
  luaL_unref(L, LUA_REGISTRYINDEX, c->ref_order);
  c->ref_order = LUA_NOREF;
  for (int i = 0; i < c->nbound; i++) {
    bound *b = &c->bound[i];
    b->vt->set_bound(b->self, false);
    luaL_unref(L, LUA_REGISTRYINDEX, b->ref_ind);
    luaL_unref(L, LUA_REGISTRYINDEX, b->ref_name);
    luaL_unref(L, LUA_REGISTRYINDEX, b->ref_out);
  }
  free(c->bound);
  c->bound = NULL;
  c->nbound = c->capbound = 0;
}
