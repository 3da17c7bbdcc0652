#include "config.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void default_data_dir(char *out, size_t n) {
  const char *env = getenv("BTRUN_DATA_DIR");
  if (env && *env) { snprintf(out, n, "%s", env); return; }
  env = getenv("XDG_DATA_HOME");
  if (env && *env) { snprintf(out, n, "%s/btrun", env); return; }
  env = getenv("HOME");
  snprintf(out, n, "%s/.local/share/btrun", env && *env ? env : ".");
}

/* Sections read by their modules (bt_config_section): here only "a table or absent". */
static int module_section(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  (void)L, (void)idx, (void)path, (void)obj, (void)err;
  return 0;
}

#define F(kind, k, m, ...) BT_CFG_F_##kind(bt_config, k, m, __VA_ARGS__)
static const bt_cfg_field commission_fields[] = {
    F(DEC, "per_unit", broker.commission_per_unit, NULL),
    F(DEC, "percent", broker.commission_percent, NULL),
    F(DEC, "minimum", broker.commission_minimum, NULL),
    {0}};
static const bt_cfg_field risk_fields[] = {
    F(NUM, "max_drawdown", risk_max_drawdown, BT_CFG_ANY, NULL),
    F(DEC, "max_position_value", risk_max_position_value, NULL),
    {0}};

static int read_commission(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  return bt_cfg_read(L, idx, path, commission_fields, obj, err);
}

static int read_risk(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  bt_config *cfg = obj;
  if (bt_cfg_read(L, idx, path, risk_fields, obj, err)) return err->code;
  if (cfg->risk_max_drawdown < 0 || cfg->risk_max_drawdown >= 1)
    return bt_cfg_fail(L, path, "max_drawdown", err, "must be a fraction in [0, 1)");
  if (cfg->risk_max_position_value.v < 0)
    return bt_cfg_fail(L, path, "max_position_value", err, "must be >= 0");
  return 0;
}

static const bt_cfg_field core_fields[] = {
    F(DEC, "cash", cash, NULL),
    BT_CFG_F_TABLE("commission", read_commission, NULL),
    F(DEC, "slippage_bps", broker.slippage_bps, NULL),
    F(STR, "out_dir", out_dir, NULL),
    F(STR, "data_dir", data_dir, NULL),
    F(STR, "user_id", user_id, NULL),
    F(NUM, "timeout", timeout_s, BT_CFG_ANY, "seconds"),
    F(INT, "max_memory", max_memory, 1 << 20, INFINITY, "bytes"),
    F(BOOL, "skip_bad_rows", skip_bad_rows, NULL),
    F(BOOL, "bar_cache", bar_cache, NULL),
    F(INT, "bar_cache_min_bytes", bar_cache_min_bytes, 0, INFINITY, "bytes"),
    F(STR, "date_format", date_format, NULL),
    F(STR, "columns", columns, NULL),
    F(INT, "progress_every", progress_every, BT_CFG_ANY, "bars, 0 = off"),
    F(BOOL, "trust_strategies", trust_strategies, NULL),
    BT_CFG_F_TABLE("risk", read_risk, NULL),
    BT_CFG_F_TABLE("log", module_section, NULL),
    BT_CFG_F_TABLE("trace", module_section, NULL),
    BT_CFG_F_TABLE("analytics", module_section, NULL),
    BT_CFG_F_TABLE("perf", module_section, NULL),
    BT_CFG_F_TABLE("service", module_section, NULL),
    {0}};
#undef F

static int read_core(bt_config *cfg, lua_State *L, int t, bt_err *err) {
  if (bt_cfg_read(L, t, "", core_fields, cfg, err)) return err->code;
  if ((int64_t)cfg->progress_every < 0) cfg->progress_every = 0; /* negative: off */
  if (cfg->cash.v <= 0)
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "cash", "must be > 0");
  if (bt_broker_cfg_validate(&cfg->broker, err)) {
    char field[64], msg[512];
    snprintf(field, sizeof field, "%s", err->field);
    snprintf(msg, sizeof msg, "%s", err->msg);
    bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "", "%s", msg);
    snprintf(err->field, sizeof err->field, "%s", field); /* the message names it already */
    return err->code;
  }
  if (cfg->timeout_s <= 0)
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "timeout", "must be > 0");
  return 0;
}

int bt_config_load(bt_config *cfg, const char *path, bool explicit_path, bt_err *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->cash = bt_dec_from_int(100000);
  snprintf(cfg->out_dir, sizeof cfg->out_dir, "runs");
  cfg->timeout_s = 600;
  cfg->max_memory = 512ll << 20;
  cfg->progress_every = 1000000;
  cfg->bar_cache = true;
  cfg->bar_cache_min_bytes = 1 << 20;
  cfg->ref = LUA_NOREF;
  cfg->L = luaL_newstate();
  if (!cfg->L) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  luaL_openlibs(cfg->L);

  struct stat st;
  if (path && stat(path, &st) != 0) {
    if (explicit_path)
      return bt_errf_at(err, BT_EIO, "config_error", path, 0, "", "config file not found");
    path = NULL;
  }
  if (path) {
    lua_State *L = cfg->L;
    snprintf(cfg->path, sizeof cfg->path, "%s", path);
    lua_pushstring(L, path);
    lua_setfield(L, LUA_REGISTRYINDEX, "btrun.config_path");
    if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      /* Lua's message already names file:line. */
      int rc = bt_errf_at(err, BT_EINVAL, "config_error", path, 0, "", "%s",
                          lua_tostring(L, -1));
      snprintf(err->msg, sizeof err->msg, "%s", lua_tostring(L, -1));
      return rc;
    }
    if (!lua_istable(L, -1))
      return bt_errf_at(err, BT_EINVAL, "config_error", path, 0, "",
                        "must return a table, got %s", luaL_typename(L, -1));
    int t = lua_gettop(L);
    if (read_core(cfg, L, t, err)) return err->code;
    cfg->ref = luaL_ref(L, LUA_REGISTRYINDEX);
  }
  if (!cfg->data_dir[0]) default_data_dir(cfg->data_dir, sizeof cfg->data_dir);
  const char *trust = getenv("BTRUN_TRUST_STRATEGIES");
  if (trust && *trust) cfg->trust_strategies = strcmp(trust, "0") != 0;
  return 0;
}

void bt_config_free(bt_config *cfg) {
  if (cfg->L) lua_close(cfg->L);
  cfg->L = NULL;
}

int bt_config_section(bt_config *cfg, const char *name) {
  lua_State *L = cfg->L;
  if (!L || cfg->ref == LUA_NOREF) return 0;
  lua_rawgeti(L, LUA_REGISTRYINDEX, cfg->ref);
  int t = lua_getfield(L, -1, name);
  lua_remove(L, -2);
  if (t != LUA_TTABLE) {
    lua_pop(L, 1);
    return 0;
  }
  return lua_gettop(L);
}
