#include "config.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Sections owned by other modules; each validates its own keys. */
static const char *const top_keys[] = {
    "cash", "commission", "slippage_bps", "out_dir", "data_dir", "user_id", "timeout",
    "max_memory", "skip_bad_rows", "date_format", "columns", "progress_every", "trust_strategies", "risk", "log",
    "trace", "analytics", "perf", "service", NULL};
static const char *const commission_keys[] = {"per_unit", "percent", "minimum", NULL};
static const char *const risk_keys[] = {"max_drawdown", "max_position_value", NULL};

static const char *where_of(const char *where, const char *key, char *buf, size_t n) {
  if (where && *where) snprintf(buf, n, "%s.%s", where, key);
  else snprintf(buf, n, "%s", key);
  return buf;
}

/* The file the config came from, for messages: stored in the registry by load. */
static const char *cfg_file(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "btrun.config_path");
  const char *p = lua_tostring(L, -1);
  lua_pop(L, 1);
  return p ? p : "config";
}

static int type_error(lua_State *L, const char *where, const char *key, const char *want,
                      int idx, bt_err *err) {
  char k[160];
  return bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0,
                    where_of(where, key, k, sizeof k), "expected %s, got %s", want,
                    luaL_typename(L, idx));
}

/* Pushes t[key]; returns its type. */
static int get_field(lua_State *L, int idx, const char *key) {
  return lua_getfield(L, idx, key);
}

int bt_cfg_string(lua_State *L, int idx, const char *where, const char *key, char *out,
                  size_t outlen, bt_err *err) {
  int t = get_field(L, idx, key), rc = 0;
  if (t == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len >= outlen) {
      char k[160];
      rc = bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0,
                      where_of(where, key, k, sizeof k), "value too long (max %zu bytes)",
                      outlen - 1);
    } else {
      memcpy(out, s, len + 1);
    }
  } else if (t != LUA_TNIL) {
    rc = type_error(L, where, key, "string", -1, err);
  }
  lua_pop(L, 1);
  return rc;
}

int bt_cfg_number(lua_State *L, int idx, const char *where, const char *key, double *out,
                  bt_err *err) {
  int t = get_field(L, idx, key), rc = 0;
  if (t == LUA_TNUMBER) *out = lua_tonumber(L, -1);
  else if (t != LUA_TNIL) rc = type_error(L, where, key, "number", -1, err);
  lua_pop(L, 1);
  return rc;
}

int bt_cfg_integer(lua_State *L, int idx, const char *where, const char *key, int64_t *out,
                   bt_err *err) {
  int t = get_field(L, idx, key), rc = 0;
  if (t == LUA_TNUMBER && lua_isinteger(L, -1)) *out = lua_tointeger(L, -1);
  else if (t == LUA_TNUMBER) {
    lua_Number n = lua_tonumber(L, -1);
    if (n == (lua_Number)(int64_t)n) *out = (int64_t)n;
    else rc = type_error(L, where, key, "integer", -1, err);
  } else if (t != LUA_TNIL) rc = type_error(L, where, key, "integer", -1, err);
  lua_pop(L, 1);
  return rc;
}

int bt_cfg_bool(lua_State *L, int idx, const char *where, const char *key, bool *out,
                bt_err *err) {
  int t = get_field(L, idx, key), rc = 0;
  if (t == LUA_TBOOLEAN) *out = lua_toboolean(L, -1);
  else if (t != LUA_TNIL) rc = type_error(L, where, key, "boolean", -1, err);
  lua_pop(L, 1);
  return rc;
}

int bt_cfg_decimal(lua_State *L, int idx, const char *where, const char *key, bt_dec *out,
                   bt_err *err) {
  int t = get_field(L, idx, key), rc = 0;
  char k[160];
  if (t == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    bt_dec v;
    if (bt_dec_parse(s, (long)len, &v) != (int)len)
      rc = bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0,
                      where_of(where, key, k, sizeof k), "not a decimal number: \"%s\"", s);
    else *out = v;
  } else if (t == LUA_TNUMBER) {
    bt_dec v;
    if (lua_isinteger(L, -1)) v = bt_dec_from_int(lua_tointeger(L, -1));
    else if (!bt_dec_from_double(lua_tonumber(L, -1), &v))
      rc = bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0,
                      where_of(where, key, k, sizeof k), "number out of range");
    if (!rc) *out = v;
  } else if (t != LUA_TNIL) {
    rc = type_error(L, where, key, "number or decimal string", -1, err);
  }
  lua_pop(L, 1);
  return rc;
}

int bt_cfg_check_keys(lua_State *L, int idx, const char *where, const char *const *keys,
                      bt_err *err) {
  idx = lua_absindex(L, idx);
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    lua_pop(L, 1);
    char k[160];
    if (lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 1);
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0, where ? where : "",
                        "keys must be strings");
    }
    const char *key = lua_tostring(L, -1);
    bool known = false;
    for (const char *const *p = keys; *p; p++)
      if (strcmp(*p, key) == 0) known = true;
    if (!known) {
      where_of(where, key, k, sizeof k);
      lua_pop(L, 1);
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg_file(L), 0, k, "unknown key");
    }
  }
  return 0;
}

static void default_data_dir(char *out, size_t n) {
  const char *env = getenv("BTRUN_DATA_DIR");
  if (env && *env) { snprintf(out, n, "%s", env); return; }
  env = getenv("XDG_DATA_HOME");
  if (env && *env) { snprintf(out, n, "%s/btrun", env); return; }
  env = getenv("HOME");
  snprintf(out, n, "%s/.local/share/btrun", env && *env ? env : ".");
}

/* Sections read by their modules (bt_config_section): present means a table. */
static const char *const module_sections[] = {"log", "trace", "analytics", "perf", "service",
                                              NULL};

static int read_core(bt_config *cfg, lua_State *L, int t, bt_err *err) {
  if (bt_cfg_check_keys(L, t, "", top_keys, err)) return err->code;
  for (const char *const *name = module_sections; *name; name++) {
    int st = lua_getfield(L, t, *name);
    if (st != LUA_TNIL && st != LUA_TTABLE) return type_error(L, "", *name, "table", -1, err);
    lua_pop(L, 1);
  }
  if (bt_cfg_decimal(L, t, "", "cash", &cfg->cash, err)) return err->code;
  if (bt_cfg_decimal(L, t, "", "slippage_bps", &cfg->broker.slippage_bps, err)) return err->code;
  if (bt_cfg_string(L, t, "", "out_dir", cfg->out_dir, sizeof cfg->out_dir, err)) return err->code;
  if (bt_cfg_string(L, t, "", "data_dir", cfg->data_dir, sizeof cfg->data_dir, err)) return err->code;
  if (bt_cfg_string(L, t, "", "user_id", cfg->user_id, sizeof cfg->user_id, err)) return err->code;
  if (bt_cfg_number(L, t, "", "timeout", &cfg->timeout_s, err)) return err->code;
  if (bt_cfg_integer(L, t, "", "max_memory", &cfg->max_memory, err)) return err->code;
  if (bt_cfg_bool(L, t, "", "skip_bad_rows", &cfg->skip_bad_rows, err)) return err->code;
  if (bt_cfg_string(L, t, "", "date_format", cfg->date_format, sizeof cfg->date_format, err))
    return err->code;
  if (bt_cfg_string(L, t, "", "columns", cfg->columns, sizeof cfg->columns, err))
    return err->code;
  if (bt_cfg_bool(L, t, "", "trust_strategies", &cfg->trust_strategies, err)) return err->code;
  int64_t progress = (int64_t)cfg->progress_every;
  if (bt_cfg_integer(L, t, "", "progress_every", &progress, err)) return err->code;
  cfg->progress_every = (uint64_t)(progress < 0 ? 0 : progress);
  int ct = lua_getfield(L, t, "commission");
  if (ct == LUA_TTABLE) {
    int c = lua_gettop(L);
    if (bt_cfg_check_keys(L, c, "commission", commission_keys, err) ||
        bt_cfg_decimal(L, c, "commission", "per_unit", &cfg->broker.commission_per_unit, err) ||
        bt_cfg_decimal(L, c, "commission", "percent", &cfg->broker.commission_percent, err) ||
        bt_cfg_decimal(L, c, "commission", "minimum", &cfg->broker.commission_minimum, err))
      return err->code;
  } else if (ct != LUA_TNIL) {
    return type_error(L, "", "commission", "table", -1, err);
  }
  lua_pop(L, 1);
  int rt = lua_getfield(L, t, "risk");
  if (rt == LUA_TTABLE) {
    int r = lua_gettop(L);
    if (bt_cfg_check_keys(L, r, "risk", risk_keys, err) ||
        bt_cfg_number(L, r, "risk", "max_drawdown", &cfg->risk_max_drawdown, err) ||
        bt_cfg_decimal(L, r, "risk", "max_position_value", &cfg->risk_max_position_value, err))
      return err->code;
    if (cfg->risk_max_drawdown < 0 || cfg->risk_max_drawdown >= 1)
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "risk.max_drawdown",
                        "must be a fraction in [0, 1)");
    if (cfg->risk_max_position_value.v < 0)
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "risk.max_position_value",
                        "must be >= 0");
  } else if (rt != LUA_TNIL) {
    return type_error(L, "", "risk", "table", -1, err);
  }
  lua_pop(L, 1);
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
  if (cfg->max_memory < (1 << 20))
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, "max_memory",
                      "must be at least 1048576 bytes");
  return 0;
}

int bt_config_load(bt_config *cfg, const char *path, bool explicit_path, bt_err *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->cash = bt_dec_from_int(100000);
  snprintf(cfg->out_dir, sizeof cfg->out_dir, "runs");
  cfg->timeout_s = 600;
  cfg->max_memory = 512ll << 20;
  cfg->progress_every = 1000000;
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
