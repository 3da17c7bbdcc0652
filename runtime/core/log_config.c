/* log_config.c - the `log` config section and the BTRUN_LOG_* environment. */
#include "log_config.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

static int bad_level(lua_State *L, const char *key, const char *value, bt_err *err) {
  return bt_cfg_fail(L, NULL, key, err,
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

/* log.loggers = { name = "level", ... } at idx: applied as read. */
static int apply_loggers(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  (void)obj;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    char key[128];
    if (lua_type(L, -2) != LUA_TSTRING)
      return bt_cfg_fail(L, NULL, path, err, "logger names must be strings, got %s",
                         luaL_typename(L, -2));
    const char *name = lua_tostring(L, -2);
    snprintf(key, sizeof key, "%s.%s", path, name);
    if (lua_type(L, -1) != LUA_TSTRING)
      return bt_cfg_fail(L, NULL, key, err, "expected a level name, got %s",
                         luaL_typename(L, -1));
    bt_log_level lvl;
    if (bt_log_level_parse(lua_tostring(L, -1), &lvl))
      return bad_level(L, key, lua_tostring(L, -1), err);
    if (bt_log_set_logger_level(name, lvl))
      return bt_cfg_fail(L, NULL, key, err,
                         "logger name too long or too many loggers (max 32 names of 47 bytes)");
    lua_pop(L, 1);
  }
  return 0;
}

/* Level and format are names parsed after reading (aliases such as "warn", any case). */
typedef struct log_section {
  char level[32], format[32];
} log_section;

static const bt_cfg_field log_fields[] = {
    BT_CFG_F_STR(log_section, "level", level, "debug, info, warning, error or off"),
    BT_CFG_F_STR(log_section, "format", format, "auto, json or console"),
    BT_CFG_F_TABLE("loggers", apply_loggers, "logger name = level"),
    {0}};

static int apply_section(lua_State *L, int idx, bt_err *err) {
  log_section sec = {"", ""};
  if (bt_cfg_read(L, idx, "log", log_fields, &sec, err)) return err->code;
  bt_log_level lvl;
  if (*sec.level && bt_log_level_parse(sec.level, &lvl))
    return bad_level(L, "log.level", sec.level, err);
  bt_log_format fmt;
  if (*sec.format && bt_log_format_parse(sec.format, &fmt))
    return bt_cfg_fail(L, "log", "format", err,
                       "unknown format \"%s\" (want auto, json or console)", sec.format);
  if (*sec.level && !env_set("BTRUN_LOG_LEVEL")) bt_log_set_level(lvl);
  if (*sec.format && !env_set("BTRUN_LOG_FORMAT")) bt_log_set_format(fmt);
  return 0;
}

int bt_log_configure(bt_config *cfg, bt_err *err) {
  if (check_env(err)) return err->code;
  lua_State *L = cfg->L;
  if (!L || cfg->ref == LUA_NOREF) return 0;
  int top = lua_gettop(L);
  int idx = bt_config_section(cfg, "log");
  int rc = idx ? apply_section(L, idx, err) : 0;
  lua_settop(L, top);
  return rc;
}
