/* lua_backtest.c - bt.backtest{...}: run a backtest from a Lua script (sweeps, backfills). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "lua_backtest.h"
#include "luabind.h"
#include "run.h"

#define MAX_DATA 64
#define MAX_PARAMS 64

void bt_lua_push_run_result(lua_State *L, const bt_run_result *r, const bt_err *err) {
  const bt_metrics_result *m = &r->metrics;
  lua_createtable(L, 0, 24);
#define SETS(k, v) (lua_pushstring(L, (v)), lua_setfield(L, -2, (k)))
#define SETN(k, v) (lua_pushnumber(L, (v)), lua_setfield(L, -2, (k)))
#define SETI(k, v) (lua_pushinteger(L, (lua_Integer)(v)), lua_setfield(L, -2, (k)))
#define SETOPT(k, has, v) ((has) ? SETN(k, v) : (void)0)
  SETS("run_id", r->run_id);
  SETS("correlation_id", r->correlation_id);
  SETS("out_dir", r->out_dir);
  SETS("status", r->status == BT_RUN_COMPLETED ? "completed" : "failed");
  SETI("bars", r->bars);
  SETI("skipped_rows", r->skipped_rows);
  SETI("wall_ms", r->wall_ms);
  SETN("bars_per_s", r->bars_per_s);
  if (r->status == BT_RUN_COMPLETED) {
    char buf[BT_DEC_STRLEN];
    SETI("trades", m->trades);
    bt_dec_format(m->final_equity, buf);
    SETS("final_equity", buf);
    bt_dec_format(m->expectancy, buf);
    SETS("expectancy", buf);
    SETN("total_return", m->total_return);
    SETOPT("cagr", m->has_cagr, m->cagr);
    SETOPT("sharpe", m->has_sharpe, m->sharpe);
    SETOPT("sortino", m->has_sortino, m->sortino);
    SETN("max_drawdown", m->max_drawdown);
    SETOPT("win_rate", m->has_win_rate, m->win_rate);
    SETOPT("profit_factor", m->has_profit_factor, m->profit_factor);
    SETN("exposure", m->exposure);
  } else {
    SETS("error", err->msg);
    SETS("error_type", err->type);
  }
#undef SETS
#undef SETN
#undef SETI
#undef SETOPT
}

/* Keeps a string alive for the call: stores it in the anchor table at stack index 2. */
static const char *anchor(lua_State *L, int idx) {
  const char *s = lua_tostring(L, idx);
  lua_pushvalue(L, idx);
  lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
  return s;
}

/* bt.backtest{strategy = path|table, data = path|{paths}, params = {}, cash = n,
 *             out = dir, correlation_id = id, write_files = true}
 * Returns the result table; a failed run returns status = "failed" and error. */
static int l_backtest(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L); /* 2: anchor for strings referenced by spec */
  bt_app *app = bt_lua_app(L);
  bt_run_spec spec = {.write_files = true};
  const char *data[MAX_DATA];
  bt_param params[MAX_PARAMS];

  int st = lua_getfield(L, 1, "strategy");
  if (st != LUA_TSTRING && st != LUA_TTABLE)
    return luaL_error(L, "bt.backtest: strategy must be a file path or a strategy table");
  spec.strategy_path = st == LUA_TSTRING ? anchor(L, -1) : "(table)";
  lua_pop(L, 1);
  if (st == LUA_TTABLE && lua_getfield(L, 1, "name") == LUA_TSTRING) spec.strategy_path = anchor(L, -1);
  lua_settop(L, 2);

  int dt = lua_getfield(L, 1, "data");
  if (dt == LUA_TSTRING) data[spec.ndata++] = anchor(L, -1);
  else if (dt == LUA_TTABLE) {
    int n = (int)lua_rawlen(L, -1);
    if (n > MAX_DATA) return luaL_error(L, "bt.backtest: at most %d data files", MAX_DATA);
    for (int i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 3, i) != LUA_TSTRING)
        return luaL_error(L, "bt.backtest: data[%d] must be a path", i);
      data[spec.ndata++] = anchor(L, -1);
      lua_pop(L, 1);
    }
  } else if (dt != LUA_TNIL) {
    return luaL_error(L, "bt.backtest: data must be a path or a list of paths");
  }
  lua_settop(L, 2);
  spec.data = data;

  if (lua_getfield(L, 1, "params") == LUA_TTABLE) {
    lua_pushnil(L);
    while (lua_next(L, 3)) {
      if (spec.nparams == MAX_PARAMS) return luaL_error(L, "bt.backtest: too many params");
      if (lua_type(L, -2) != LUA_TSTRING)
        return luaL_error(L, "bt.backtest: param names must be strings");
      luaL_tolstring(L, -1, NULL);
      params[spec.nparams].value = anchor(L, -1);
      params[spec.nparams].name = anchor(L, -3);
      spec.nparams++;
      lua_pop(L, 2);
    }
  }
  lua_settop(L, 2);
  spec.params = params;

  if (lua_getfield(L, 1, "cash") != LUA_TNIL) {
    spec.has_cash = true;
    if (lua_isinteger(L, -1)) spec.cash = bt_dec_from_int(lua_tointeger(L, -1));
    else if (!bt_dec_from_double(luaL_checknumber(L, -1), &spec.cash) || spec.cash.v <= 0)
      return luaL_error(L, "bt.backtest: cash must be a positive number");
  }
  if (lua_getfield(L, 1, "out") == LUA_TSTRING) spec.out_dir = anchor(L, -1);
  if (lua_getfield(L, 1, "correlation_id") == LUA_TSTRING) spec.correlation_id = anchor(L, -1);
  if (lua_getfield(L, 1, "write_files") == LUA_TBOOLEAN) spec.write_files = lua_toboolean(L, -1);
  lua_settop(L, 2);
  spec.origin = "script";
  spec.live_progress = true;

  bt_run_result res;
  bt_err err = {0};
  if (st == LUA_TTABLE) {
    lua_getfield(L, 1, "strategy");
    bt_run_execute_in(app, L, &spec, &res, &err);
  } else {
    bt_run_execute(app, &spec, &res, &err);
  }
  lua_settop(L, 2);
  if (err.code && !res.run_id[0]) {
    /* Failed before the run existed (e.g. called inside a run): a usage error. */
    lua_pushstring(L, err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  bt_lua_push_run_result(L, &res, &err);
  bt_err_clear(&err);
  return 1;
}

int bt_lua_open_backtest(lua_State *L) {
  lua_pushcfunction(L, l_backtest);
  return 1;
}
