/* tracer_config.c - the `trace` config section (docs/events.md). */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
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
}

static const char *const bars_names[] = {"all", "sampled", "none"};
static const char *const full_names[] = {"block", "drop"};

static int pick(const char *v, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(v, names[i]) == 0) return i;
  return -1;
}

static int cfg_bad(bt_config *cfg, const char *key, bt_err *err, const char *what) {
  char k[64];
  snprintf(k, sizeof k, "trace.%s", key);
  return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, k, "%s", what);
}

int bt_trace_cfg_load(bt_config *cfg, bt_trace_cfg *c, bt_err *err) {
  bt_trace_cfg_defaults(c, cfg->data_dir);
  lua_State *L = cfg->L;
  int t = bt_config_section(cfg, "trace");
  if (!t) return 0;
  static const char *const keys[] = {"enabled", "store",     "sample_rate", "context_window",
                                     "critical", "bars",     "seed",        "ring_size",
                                     "full_policy", "commit_ms", NULL};
  char bars[16] = "", full[16] = "";
  double rate = c->sample_rate;
  int64_t ctx = c->context_window, seed = (int64_t)c->seed, ring = c->ring_size,
          commit = c->commit_ms;
  int rc = bt_cfg_check_keys(L, t, "trace", keys, err);
  if (!rc) rc = bt_cfg_bool(L, t, "trace", "enabled", &c->enabled, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "store", c->store, sizeof c->store, err);
  if (!rc) rc = bt_cfg_number(L, t, "trace", "sample_rate", &rate, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "context_window", &ctx, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "bars", bars, sizeof bars, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "seed", &seed, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "ring_size", &ring, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "full_policy", full, sizeof full, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "commit_ms", &commit, err);
  if (!rc && !(rate >= 0 && rate <= 1)) rc = cfg_bad(cfg, "sample_rate", err, "must be in 0..1");
  if (!rc && (ctx < 0 || ctx > 10000))
    rc = cfg_bad(cfg, "context_window", err, "must be in 0..10000");
  if (!rc && (ring < 1024 || ring > (1 << 24)))
    rc = cfg_bad(cfg, "ring_size", err, "must be in 1024..16777216");
  if (!rc && (commit < 1 || commit > 60000))
    rc = cfg_bad(cfg, "commit_ms", err, "must be in 1..60000");
  if (!rc && *bars) {
    int b = pick(bars, bars_names, 3);
    if (b < 0) rc = cfg_bad(cfg, "bars", err, "must be \"all\", \"sampled\" or \"none\"");
    else c->bars = (bt_trace_bars)b;
  }
  if (!rc && *full) {
    int f = pick(full, full_names, 2);
    if (f < 0) rc = cfg_bad(cfg, "full_policy", err, "must be \"block\" or \"drop\"");
    else c->full_policy = (bt_trace_full)f;
  }
  if (!rc) {
    int ct = lua_getfield(L, t, "critical");
    if (ct == LUA_TTABLE) {
      c->critical_mask = 0;
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer i = 1; !rc && i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int ty = lua_type(L, -1) == LUA_TSTRING ? bt_event_type_parse(lua_tostring(L, -1)) : -1;
        if (ty < 0) {
          char k[48];
          snprintf(k, sizeof k, "critical[%lld]", (long long)i);
          rc = cfg_bad(cfg, k, err, "not an event type (SIGNAL, ORDER, FILL, ...)");
        } else {
          c->critical_mask |= BT_EV_MASK(ty);
        }
        lua_pop(L, 1);
      }
    } else if (ct != LUA_TNIL) {
      rc = cfg_bad(cfg, "critical", err, "expected a list of event type names");
    }
    lua_pop(L, 1);
  }
  lua_settop(L, t - 1);
  if (rc) return rc;
  c->sample_rate = rate;
  c->context_window = (int)ctx;
  c->seed = (uint64_t)seed;
  uint32_t r = 1024;
  while (r < (uint32_t)ring) r <<= 1;
  c->ring_size = r;
  c->commit_ms = (int)commit;
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
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

