/* run_risk.c - the config's risk limits (risk.max_drawdown, risk.max_position_value),
 * checked after every bar: a RISK_BREACH event, a warning and on_risk once per episode. */
#include <lauxlib.h>
#include <math.h>
#include <stdio.h>

#include "log.h"
#include "run_internal.h"

enum { RISK_DRAWDOWN, RISK_POSITION_VALUE };

/* A limit crossed: RISK_BREACH event (cause: the bar), warning record, on_risk(ctx, info).
 * One breach per episode: the rule re-arms once the value is back inside its limit. */
static int risk_breach(bt_run *run, int rule, double actual, double limit, bt_err *err) {
  static const char *const names[] = {"max_drawdown", "max_position_value"};
  run->risk_breaches++;
  snprintf(run->event_json, sizeof run->event_json,
           "{\"rule\":\"%s\",\"actual\":%.10g,\"limit\":%.10g}", names[rule], actual, limit);
  bt_event ev = {.type = BT_EV_RISK_BREACH, .timestamp = run->e.bar->time,
                 .causation_id = run->e.bar_event, .source = "risk", .symbol = run->e.bar->symbol,
                 .data_json = run->event_json};
  uint64_t id = bt_bus_publish(run->e.bus, &ev);
  char when[32];
  bt_format_time(run->e.bar->time, when);
  bt_log("risk", BT_LOG_WARNING, "risk_breach", BT_F_STR("rule", names[rule]),
         BT_F_DBL("actual", actual), BT_F_DBL("limit", limit), BT_F_STR("bar_time", when));
  if (run->ref_on_risk == LUA_NOREF) return 0;
  lua_State *L = run->L;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, names[rule]);
  lua_setfield(L, -2, "rule");
  lua_pushnumber(L, actual);
  lua_setfield(L, -2, "actual");
  lua_pushnumber(L, limit);
  lua_setfield(L, -2, "limit");
  lua_pushinteger(L, (lua_Integer)id);
  lua_setfield(L, -2, "event_id");
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  run->e.cause = id; /* orders placed in reaction are caused by the breach */
  int rc = run_call_cb(run, run->ref_on_risk, ref, err);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  return rc;
}

int run_check_risk(bt_run *run, double drawdown, bt_err *err) {
  const bt_config *c = &run->app->cfg;
  double values[2] = {drawdown, 0}, limits[2] = {c->risk_max_drawdown, 0};
  if (c->risk_max_position_value.v) {
    values[1] = fabs(bt_dec_to_double(bt_ledger_position_value(run->e.ledger)));
    limits[1] = bt_dec_to_double(c->risk_max_position_value);
  }
  for (int rule = 0; rule < 2; rule++) {
    if (limits[rule] <= 0) continue;
    bool over = values[rule] > limits[rule];
    if (over && !run->in_breach[rule]) {
      run->in_breach[rule] = true;
      if (risk_breach(run, rule, values[rule], limits[rule], err)) return err->code;
    } else if (!over) {
      run->in_breach[rule] = false;
    }
  }
  return 0;
}
