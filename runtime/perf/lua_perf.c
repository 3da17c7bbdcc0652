/* lua_perf.c - bt.perf: performance summaries for Lua scripts (scripts/backfill.lua). */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "luabind.h"
#include "perf.h"
#include "perf_time.h"
#include "run_compare.h"

static const char *opt_string(lua_State *L, int idx, const char *key) {
  lua_getfield(L, idx, key);
  const char *s = NULL;
  if (!lua_isnil(L, -1)) {
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, "bt.perf.summary: %s: expected a string", key);
    s = lua_tostring(L, -1);
  }
  lua_pop(L, 1); /* the string stays alive in the argument table */
  return s;
}

static int64_t opt_day(lua_State *L, int idx, const char *key, bool *has) {
  const char *s = opt_string(L, idx, key);
  int64_t d = 0;
  *has = s != NULL;
  if (s && !bt_perf_day_parse(s, &d))
    luaL_error(L, "bt.perf.summary: %s: expected \"YYYY-MM-DD\", got \"%s\"", key, s);
  return d;
}

/* bt.perf.summary{window=, start=, ["end"]=, trades=, out=, timezone=, write=}
 * -> summary table (docs/performance.md), targets evaluated, no alert raised. */
static int l_summary(lua_State *L) {
  if (lua_isnoneornil(L, 1)) lua_newtable(L);
  luaL_checktype(L, 1, LUA_TTABLE);
  static const char *const keys[] = {"window", "start", "end", "trades", "out", "timezone", "write", NULL};
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    bool known = false;
    for (const char *const *p = keys; *p && k; p++) known |= strcmp(*p, k) == 0;
    if (!known) return luaL_error(L, "bt.perf.summary: unknown option '%s'", k ? k : "?");
  }
  bt_err err = {0};
  bt_perf_cfg cfg;
  if (bt_perf_cfg_load(bt_lua_app(L), &cfg, &err)) return luaL_error(L, "bt.perf.summary: %s", err.msg);
  const char *ws = opt_string(L, 1, "window");
  bt_perf_window w = BT_PERF_DAILY;
  if (ws && (!bt_perf_window_parse(ws, &w) || w == BT_PERF_CUSTOM))
    return luaL_error(L, "bt.perf.summary: window: expected daily, weekly or monthly, got \"%s\"", ws);
  const char *s;
  if ((s = opt_string(L, 1, "trades"))) snprintf(cfg.trades, sizeof cfg.trades, "%s", s);
  if ((s = opt_string(L, 1, "out"))) snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s", s);
  if ((s = opt_string(L, 1, "timezone"))) {
    if (bt_perf_timezone_check(s, &err)) return luaL_error(L, "bt.perf.summary: timezone: %s", err.msg);
    snprintf(cfg.timezone, sizeof cfg.timezone, "%s", s);
  }
  bool has_start, has_end;
  int64_t start = opt_day(L, 1, "start", &has_start), end = opt_day(L, 1, "end", &has_end);
  lua_getfield(L, 1, "write");
  bool write = lua_toboolean(L, -1);
  lua_pop(L, 1);

  bt_perf p;
  bt_perf_summary sum;
  char *json = NULL;
  size_t len = 0;
  int rc = bt_perf_open(&p, &cfg, &err);
  if (!rc) rc = bt_perf_refresh(&p, false, &err);
  if (!rc) {
    int64_t anchor = has_end ? end : bt_perf_anchor_day(&p);
    int64_t a = anchor, e = anchor;
    if (has_start && !ws) w = BT_PERF_CUSTOM, a = start;
    else bt_perf_window_bounds(w, anchor, &a, &e);
    if (a > e) rc = bt_errf(&err, BT_EINVAL, "usage_error", "start is after end");
    if (!rc) rc = bt_perf_window_summary(&p, w, a, e, &sum, &err);
    if (!rc) {
      int wr;
      if (write) rc = bt_perf_write_outputs(&p, &sum, cfg.html, &wr, &err);
      if (!rc) rc = bt_perf_render(&p, &sum, "json", &json, &len, &err);
      bt_perf_summary_free(&sum);
    }
  }
  bt_perf_close(&p);
  if (!rc) rc = bt_formats_push_json(L, json, len, &err);
  free(json);
  if (rc) {
    lua_pushfstring(L, "bt.perf.summary: %s", err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  return 1;
}

/* bt.perf.compare_html{dirs = {run_dir, ...}, out = "page.html"}: the page of
 * `btrun runs compare --html` for the given run directories (scripts/sweep.lua). */
static int l_compare_html(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_getfield(L, 1, "out");
  const char *out = lua_tostring(L, -1);
  if (!out) return luaL_error(L, "bt.perf.compare_html: out: expected a file name");
  lua_getfield(L, 1, "dirs");
  if (!lua_istable(L, -1)) return luaL_error(L, "bt.perf.compare_html: dirs: expected a list of run directories");
  int n = (int)luaL_len(L, -1);
  if (n < 1 || n > 256) return luaL_error(L, "bt.perf.compare_html: dirs: 1 to 256 run directories");
  const char *dirs[256];
  luaL_checkstack(L, n + 4, "bt.perf.compare_html");
  for (int i = 0; i < n; i++) {
    lua_rawgeti(L, -1 - i, i + 1); /* stays on the stack: keeps the string alive */
    if (!(dirs[i] = lua_tostring(L, -1)))
      return luaL_error(L, "bt.perf.compare_html: dirs[%d]: expected a string", i + 1);
  }
  bt_err err = {0};
  if (bt_run_compare_html(bt_lua_app(L), dirs, n, out, &err)) {
    lua_pushfstring(L, "bt.perf.compare_html: %s", err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushstring(L, out);
  return 1;
}

int bt_lua_open_perf(lua_State *L) {
  static const luaL_Reg fns[] = {{"summary", l_summary}, {"compare_html", l_compare_html}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
