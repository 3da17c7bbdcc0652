/* log_config.c - the `log` config section and the BTRUN_LOG_* environment. */
#include "log_config.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static const char *const LOG_KEYS[] = {"level", "format", "loggers", NULL};

static const char *cfg_path(const bt_config *cfg) { return cfg->path[0] ? cfg->path : "config"; }

static int bad_level(const bt_config *cfg, const char *key, const char *value, bt_err *err) {
  return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, key,
                    "unknown level \"%s\" (want debug, info, warning, error or off)", value);
}

static int check_env(bt_err *err) {
  const char *env = getenv("BTRUN_LOG_LEVEL");
  bt_log_level lvl;
  if (env && *env && bt_log_level_parse(env, &lvl))
    return bt_errf(err, BT_EINVAL, "config_error",
                   "BTRUN_LOG_LEVEL: unknown level \"%s\" (want debug, info, warning, error or off)",
                   env);
  env = getenv("BTRUN_LOG_FORMAT");
  bt_log_format fmt;
  if (env && *env && bt_log_format_parse(env, &fmt))
    return bt_errf(err, BT_EINVAL, "config_error",
                   "BTRUN_LOG_FORMAT: unknown format \"%s\" (want auto, json or console)", env);
  return 0;
}

static bool env_set(const char *name) {
  const char *v = getenv(name);
  return v && *v;
}

/* log.loggers = { name = "level", ... } at idx. */
static int apply_loggers(bt_config *cfg, lua_State *L, int idx, bt_err *err) {
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    char key[128];
    if (lua_type(L, -2) != LUA_TSTRING)
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, "log.loggers",
                        "logger names must be strings, got %s", luaL_typename(L, -2));
    const char *name = lua_tostring(L, -2);
    snprintf(key, sizeof key, "log.loggers.%s", name);
    if (lua_type(L, -1) != LUA_TSTRING)
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, key,
                        "expected string, got %s", luaL_typename(L, -1));
    bt_log_level lvl;
    if (bt_log_level_parse(lua_tostring(L, -1), &lvl))
      return bad_level(cfg, key, lua_tostring(L, -1), err);
    if (bt_log_set_logger_level(name, lvl))
      return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, key,
                        "logger name too long or too many loggers (max 32 names of 47 bytes)");
    lua_pop(L, 1);
  }
  return 0;
}

static int apply_section(bt_config *cfg, lua_State *L, int idx, bt_err *err) {
  if (bt_cfg_check_keys(L, idx, "log", LOG_KEYS, err)) return err->code;
  char s[32] = "";
  if (bt_cfg_string(L, idx, "log", "level", s, sizeof s, err)) return err->code;
  bt_log_level lvl;
  if (*s && bt_log_level_parse(s, &lvl)) return bad_level(cfg, "log.level", s, err);
  if (*s && !env_set("BTRUN_LOG_LEVEL")) bt_log_set_level(lvl);
  s[0] = 0;
  if (bt_cfg_string(L, idx, "log", "format", s, sizeof s, err)) return err->code;
  bt_log_format fmt;
  if (*s && bt_log_format_parse(s, &fmt))
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, "log.format",
                      "unknown format \"%s\" (want auto, json or console)", s);
  if (*s && !env_set("BTRUN_LOG_FORMAT")) bt_log_set_format(fmt);
  int t = lua_getfield(L, idx, "loggers");
  if (t == LUA_TNIL) return 0;
  if (t != LUA_TTABLE)
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg_path(cfg), 0, "log.loggers",
                      "expected table, got %s", luaL_typename(L, -1));
  return apply_loggers(cfg, L, lua_gettop(L), err);
}

int bt_log_configure(bt_config *cfg, bt_err *err) {
  if (check_env(err)) return err->code;
  lua_State *L = cfg->L;
  if (!L || cfg->ref == LUA_NOREF) return 0;
  int top = lua_gettop(L);
  int idx = bt_config_section(cfg, "log");
  int rc = idx ? apply_section(cfg, L, idx, err) : 0;
  lua_settop(L, top);
  return rc;
}
