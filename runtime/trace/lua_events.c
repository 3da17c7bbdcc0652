#include "lua_events.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "feed.h"
#include "luabind.h"
#include "store.h"
#include "tracer.h"

#define QUERY_MT "bt.events.query"

typedef struct query_ud {
  bt_store *store;
  bt_store_iter *it;
  bt_store_run run;
  cJSON *symbols;
  char user_type[64];
} query_ud;

static void query_close(query_ud *q) {
  bt_store_iter_free(q->it);
  q->it = NULL;
  bt_store_close(q->store);
  q->store = NULL;
  cJSON_Delete(q->symbols);
  q->symbols = NULL;
  bt_store_run_clear(&q->run);
}

static int query_gc(lua_State *L) {
  query_close(luaL_checkudata(L, 1, QUERY_MT));
  return 0;
}

static void set_num(lua_State *L, const char *k, int64_t raw) {
  lua_pushnumber(L, bt_dec_to_double(bt_dec_raw(raw)));
  lua_setfield(L, -2, k);
}

/* data: BAR/ORDER/FILL fields as Lua numbers (like the strategy sees them); the JSON
 * payload of the other types as a table. */
static void push_data(lua_State *L, const bt_trace_event *e) {
  if (e->type == BT_EV_BAR) {
    lua_createtable(L, 0, 5);
    set_num(L, "open", e->p.bar.open);
    set_num(L, "high", e->p.bar.high);
    set_num(L, "low", e->p.bar.low);
    set_num(L, "close", e->p.bar.close);
    lua_pushnumber(L, e->p.bar.volume);
    lua_setfield(L, -2, "volume");
    return;
  }
  char *txt = bt_trace_event_data_json(e);
  cJSON *j = txt ? cJSON_Parse(txt) : NULL;
  free(txt);
  if (!j) {
    lua_newtable(L);
    return;
  }
  bt_lua_push_json(L, j);
  cJSON_Delete(j);
  if (e->type == BT_EV_ORDER || e->type == BT_EV_FILL) { /* money as numbers too */
    const int64_t *v = e->type == BT_EV_ORDER ? &e->p.order.qty : &e->p.fill.qty;
    set_num(L, "qty", v[0]);
    if (e->type == BT_EV_FILL) {
      set_num(L, "price", e->p.fill.price);
      set_num(L, "commission", e->p.fill.commission);
    } else {
      if (e->otype == 1 || e->otype == 3) set_num(L, "limit", e->p.order.limit);
      if (e->otype == 2 || e->otype == 3) set_num(L, "stop", e->p.order.stop);
    }
  }
}

static int query_next(lua_State *L) {
  query_ud *q = luaL_checkudata(L, lua_upvalueindex(1), QUERY_MT);
  if (!q->it) return 0;
  bt_trace_event e;
  bt_err err = {0};
  int r = bt_store_iter_next(q->it, &e, &err);
  if (r < 0) {
    query_close(q);
    return luaL_error(L, "bt.events.query: %s", err.msg);
  }
  if (r == 0) {
    query_close(q);
    return 0;
  }
  char id[80];
  lua_createtable(L, 0, 16);
  snprintf(id, sizeof id, "%s:%" PRIu64, q->run.run_id, e.seq);
  lua_pushstring(L, id);
  lua_setfield(L, -2, "event_id");
  lua_pushinteger(L, (lua_Integer)e.seq);
  lua_setfield(L, -2, "seq");
  lua_pushstring(L, bt_event_type_name((bt_event_type)e.type));
  lua_setfield(L, -2, "type");
  if (e.user_type) {
    lua_pushstring(L, e.user_type);
    lua_setfield(L, -2, "user_type");
  }
  lua_pushinteger(L, e.ts);
  lua_setfield(L, -2, "time");
  cJSON *d = cJSON_GetArrayItem(q->symbols, (int)e.symbol);
  cJSON *sym = d ? cJSON_GetObjectItemCaseSensitive(d, "symbol") : NULL;
  if (cJSON_IsString(sym)) {
    lua_pushstring(L, sym->valuestring);
    lua_setfield(L, -2, "symbol");
  }
  if (e.cause) {
    lua_pushinteger(L, (lua_Integer)e.cause);
    lua_setfield(L, -2, "cause");
    snprintf(id, sizeof id, "%s:%" PRIu64, q->run.run_id, e.cause);
    lua_pushstring(L, id);
    lua_setfield(L, -2, "causation_id");
  }
  lua_pushstring(L, e.source ? e.source : "");
  lua_setfield(L, -2, "source");
  const char *tk[] = {"created_at", "emitted_at", "received_at", "processed_at"};
  uint64_t tv[] = {e.created, e.emitted, e.received, e.processed};
  for (int i = 0; i < 4; i++) {
    lua_pushinteger(L, (lua_Integer)tv[i]);
    lua_setfield(L, -2, tk[i]);
  }
  push_data(L, &e);
  lua_setfield(L, -2, "data");
  return 1;
}

static int64_t opt_time(lua_State *L, int t, const char *k, bool *has) {
  int ty = lua_getfield(L, t, k);
  int64_t v = 0;
  *has = ty != LUA_TNIL;
  if (ty == LUA_TNUMBER && lua_isinteger(L, -1)) v = lua_tointeger(L, -1);
  else if (ty == LUA_TSTRING) {
    if (!bt_parse_time(lua_tostring(L, -1), -1, &v))
      luaL_error(L, "bt.events.query: %s: not a time: '%s'", k, lua_tostring(L, -1));
  } else if (ty != LUA_TNIL) {
    luaL_error(L, "bt.events.query: %s: expected epoch seconds or a date string", k);
  }
  lua_pop(L, 1);
  return v;
}

static void add_type(lua_State *L, query_ud *q, bt_store_filter *f, const char *name) {
  int t = bt_event_type_parse(name);
  if (t >= 0) {
    f->type_mask |= BT_EV_MASK(t);
    return;
  }
  if (q->user_type[0]) luaL_error(L, "bt.events.query: type: at most one user event type");
  snprintf(q->user_type, sizeof q->user_type, "%s", name);
  f->user_type = q->user_type;
  f->type_mask |= BT_EV_MASK(BT_EV_USER);
}

static int events_query(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  static const char *const keys[] = {"run", "type", "from", "to", "store", NULL};
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    bool ok = false;
    for (int i = 0; keys[i] && lua_type(L, -1) == LUA_TSTRING; i++)
      ok |= strcmp(lua_tostring(L, -1), keys[i]) == 0;
    if (!ok)
      return luaL_error(L, "bt.events.query: unknown option '%s' (run, type, from, to, store)",
                        luaL_tolstring(L, -1, NULL));
  }
  query_ud *q = lua_newuserdatauv(L, sizeof *q, 0);
  memset(q, 0, sizeof *q);
  luaL_setmetatable(L, QUERY_MT);
  int ud = lua_gettop(L);

  /* run: an id string or a bt.backtest result (its run_id) */
  char run_id[128] = "";
  if (lua_getfield(L, 1, "run") == LUA_TTABLE) lua_getfield(L, -1, "run_id");
  if (lua_type(L, -1) != LUA_TSTRING) return luaL_error(L, "bt.events.query: run = RUN_ID is required");
  snprintf(run_id, sizeof run_id, "%s", lua_tostring(L, -1));
  lua_settop(L, ud);

  bt_store_filter f = {0};
  int ty = lua_getfield(L, 1, "type");
  if (ty == LUA_TSTRING) {
    add_type(L, q, &f, lua_tostring(L, -1));
  } else if (ty == LUA_TTABLE) {
    for (lua_Integer i = 1; lua_rawgeti(L, -1, i) == LUA_TSTRING; i++) {
      add_type(L, q, &f, lua_tostring(L, -1));
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  } else if (ty != LUA_TNIL) {
    return luaL_error(L, "bt.events.query: type: expected a type name or a list of them");
  }
  lua_settop(L, ud);
  f.from = opt_time(L, 1, "from", &f.has_from);
  f.to = opt_time(L, 1, "to", &f.has_to);

  char path[1024];
  bt_err err = {0};
  if (lua_getfield(L, 1, "store") == LUA_TSTRING) {
    snprintf(path, sizeof path, "%s", lua_tostring(L, -1));
  } else {
    bt_app *app = bt_lua_app(L);
    bt_trace_cfg cfg;
    if (!app || bt_trace_cfg_load(&app->cfg, &cfg, &err))
      return luaL_error(L, "bt.events.query: %s", app ? err.msg : "no application context");
    snprintf(path, sizeof path, "%s", cfg.store);
  }
  lua_settop(L, ud);
  if (bt_store_open_readonly(&q->store, path, &err) ||
      bt_store_find_run(q->store, run_id, &q->run, &err)) {
    query_close(q);
    return luaL_error(L, "bt.events.query: %s", err.msg);
  }
  q->symbols = q->run.data ? cJSON_Parse(q->run.data) : NULL;
  f.run_no = q->run.run_no;
  if (bt_store_query(q->store, &f, &q->it, &err)) {
    query_close(q);
    return luaL_error(L, "bt.events.query: %s", err.msg);
  }
  lua_pushcclosure(L, query_next, 1);
  return 1;
}

int bt_lua_open_events(lua_State *L) {
  if (luaL_newmetatable(L, QUERY_MT)) {
    lua_pushcfunction(L, query_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, query_gc);
    lua_setfield(L, -2, "__close");
  }
  lua_pop(L, 1);
  lua_newtable(L);
  lua_pushcfunction(L, events_query);
  lua_setfield(L, -2, "query");
  return 1;
}
