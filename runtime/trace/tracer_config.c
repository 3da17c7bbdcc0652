/* tracer_config.c - the `trace` config section (docs/events.md). */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "suggest.h"
#include "tracer.h"

#define CRITICAL_DEFAULT                                                                   \
  (BT_EV_MASK(BT_EV_SIGNAL) | BT_EV_MASK(BT_EV_ORDER) | BT_EV_MASK(BT_EV_FILL) |          \
   BT_EV_MASK(BT_EV_PORTFOLIO) | BT_EV_MASK(BT_EV_RISK_BREACH))

void bt_trace_cfg_defaults(bt_trace_cfg *c, const char *data_dir) {
  memset(c, 0, sizeof *c);
  c->enabled = true;
  snprintf(c->store, sizeof c->store, "%s/events.db", data_dir && *data_dir ? data_dir : ".");
  c->sample_rate = 1.0;
  c->context_window = 5;
  c->critical_mask = CRITICAL_DEFAULT;
  c->bars = BT_TRACE_BARS_ALL;
  c->seed = 1;
  c->ring_size = 65536;
  c->full_policy = BT_TRACE_FULL_BLOCK;
  c->commit_ms = 100;
  c->warn_size_mb = 500;
}

static const char *const bars_names[] = {"all", "sampled", "none", NULL};
static const char *const full_names[] = {"block", "drop", NULL};

/* trace.critical = {"FILL", "ORDER", ...}: the event types kept with their context. */
static int read_critical(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  bt_trace_cfg *c = obj;
  c->critical_mask = 0;
  lua_Integer n = luaL_len(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    const char *name = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    int ty = name ? bt_event_type_parse(name) : -1;
    if (ty < 0) {
      char k[64];
      snprintf(k, sizeof k, "%s[%lld]", path, (long long)i);
      bt_suggester s;
      bt_suggest_init(&s, name ? name : "");
      for (int t = 0; t < BT_EV__COUNT; t++) bt_suggest_add(&s, bt_event_type_name(t));
      if (bt_suggest_best(&s))
        return bt_cfg_fail(L, NULL, k, err, "not an event type (did you mean \"%s\"?)",
                           bt_suggest_best(&s));
      return bt_cfg_fail(L, NULL, k, err, "not an event type (SIGNAL, ORDER, FILL, ...)");
    }
    c->critical_mask |= BT_EV_MASK(ty);
    lua_pop(L, 1);
  }
  return 0;
}

#define F(kind, k, m, ...) BT_CFG_F_##kind(bt_trace_cfg, k, m, __VA_ARGS__)
static const bt_cfg_field fields[] = {
    F(BOOL, "enabled", enabled, NULL),
    F(STR, "store", store, NULL),
    F(NUM, "sample_rate", sample_rate, 0, 1, NULL),
    F(INT, "context_window", context_window, 0, 10000, "events"),
    BT_CFG_F_TABLE("critical", read_critical, "a list of event type names"),
    F(ENUM, "bars", bars, bars_names, NULL),
    F(INT, "seed", seed, BT_CFG_ANY, NULL),
    F(INT, "ring_size", ring_size, 1024, 1 << 24, "events"),
    F(ENUM, "full_policy", full_policy, full_names, NULL),
    F(INT, "commit_ms", commit_ms, 1, 60000, NULL),
    F(NUM, "warn_size_mb", warn_size_mb, 0, 1e9, "MB"),
    {0}};
#undef F

int bt_trace_cfg_load(bt_config *cfg, bt_trace_cfg *c, bt_err *err) {
  bt_trace_cfg_defaults(c, cfg->data_dir);
  int t = bt_config_section(cfg, "trace");
  if (!t) return 0;
  int rc = bt_cfg_read(cfg->L, t, "trace", fields, c, err);
  lua_settop(cfg->L, t - 1);
  if (rc) return rc;
  uint32_t r = 1024;
  while (r < c->ring_size) r <<= 1; /* the ring indexes with a mask */
  c->ring_size = r;
  return 0;
}

char *bt_trace_cfg_json(const bt_trace_cfg *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "store", c->store);
  cJSON_AddNumberToObject(o, "sample_rate", c->sample_rate);
  cJSON_AddNumberToObject(o, "context_window", c->context_window);
  cJSON *crit = cJSON_AddArrayToObject(o, "critical");
  for (int t = 0; t < BT_EV__COUNT; t++)
    if (c->critical_mask & BT_EV_MASK(t))
      cJSON_AddItemToArray(crit, cJSON_CreateString(bt_event_type_name((bt_event_type)t)));
  cJSON_AddStringToObject(o, "bars", bars_names[c->bars]);
  cJSON_AddNumberToObject(o, "seed", (double)c->seed);
  cJSON_AddNumberToObject(o, "ring_size", c->ring_size);
  cJSON_AddStringToObject(o, "full_policy", full_names[c->full_policy]);
  cJSON_AddNumberToObject(o, "commit_ms", c->commit_ms);
  cJSON_AddNumberToObject(o, "warn_size_mb", c->warn_size_mb);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

