/* lua_analytics.c - the bt.analytics Lua submodule. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analytics.h"
#include "log.h"
#include "luabind.h"

#define MAX_DEPTH 16

/* Lua value at idx -> cJSON. On failure returns NULL with a message in why. */
static cJSON *to_json(lua_State *L, int idx, int depth, char *why, size_t whyn) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) {
      char buf[32];
      snprintf(buf, sizeof buf, "%lld", (long long)lua_tointeger(L, idx));
      return cJSON_CreateRaw(buf); /* exact beyond 2^53 */
    }
    if (!isfinite(lua_tonumber(L, idx))) {
      snprintf(why, whyn, "NaN or infinite number");
      return NULL;
    }
    return cJSON_CreateNumber(lua_tonumber(L, idx));
  case LUA_TSTRING: {
    size_t n;
    const char *s = lua_tolstring(L, idx, &n);
    if (!bt_utf8_valid(s, n) || strlen(s) != n) {
      snprintf(why, whyn, "string is not valid UTF-8 text");
      return NULL;
    }
    return cJSON_CreateString(s);
  }
  case LUA_TTABLE: {
    if (depth >= MAX_DEPTH) {
      snprintf(why, whyn, "tables nested deeper than %d (cyclic?)", MAX_DEPTH);
      return NULL;
    }
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx), count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      count++;
      lua_pop(L, 1);
    }
    bool array = count > 0 && count == len;
    cJSON *out = array ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!out) return NULL;
    if (array) {
      for (lua_Integer i = 1; i <= len; i++) {
        lua_rawgeti(L, idx, i);
        cJSON *v = to_json(L, -1, depth + 1, why, whyn);
        lua_pop(L, 1);
        if (!v) {
          cJSON_Delete(out);
          return NULL;
        }
        cJSON_AddItemToArray(out, v);
      }
      return out;
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      if (lua_type(L, -2) != LUA_TSTRING) {
        snprintf(why, whyn, "table keys must be strings (or a 1..n list)");
        lua_pop(L, 2);
        cJSON_Delete(out);
        return NULL;
      }
      cJSON *v = to_json(L, -1, depth + 1, why, whyn);
      if (!v) {
        if (depth == 0) {
          char inner[200];
          snprintf(inner, sizeof inner, "%s", why);
          snprintf(why, whyn, "%s: %s", lua_tostring(L, -2), inner);
        }
        lua_pop(L, 2);
        cJSON_Delete(out);
        return NULL;
      }
      cJSON_AddItemToObject(out, lua_tostring(L, -2), v);
      lua_pop(L, 1);
    }
    return out;
  }
  default:
    snprintf(why, whyn, "%s values cannot be sent", luaL_typename(L, idx));
    return NULL;
  }
}

/* bt.analytics.capture(event, props [, {user_id=, timestamp=epoch_seconds}])
 * -> uuid, or nil + message (invalid event, disabled, opted out). Never raises for a
 * bad event: analytics must not change how a strategy runs. */
static int l_capture(lua_State *L) {
  const char *event = luaL_checkstring(L, 1);
  bt_app *app = bt_lua_app(L);
  bt_analytics *a = bt_analytics_of(app);
  if (!a) {
    lua_pushnil(L);
    lua_pushliteral(L, "analytics disabled");
    return 2;
  }
  cJSON *props = NULL;
  char why[256] = "";
  if (!lua_isnoneornil(L, 2)) {
    luaL_checktype(L, 2, LUA_TTABLE);
    props = to_json(L, 2, 0, why, sizeof why);
    if (!props || !cJSON_IsObject(props)) {
      cJSON_Delete(props);
      if (!why[0]) snprintf(why, sizeof why, "properties must be a table with string keys");
      bt_log("analytics", BT_LOG_WARNING, "analytics_invalid_event",
             BT_F_STR("analytics_event", event), BT_F_STR("reason", why));
      lua_pushnil(L);
      lua_pushfstring(L, "invalid properties: %s", why);
      return 2;
    }
  }
  bt_analytics_capture_opts co = {0};
  char user[128] = "";
  if (lua_istable(L, 3)) {
    if (lua_getfield(L, 3, "user_id") == LUA_TSTRING)
      snprintf(user, sizeof user, "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    if (lua_getfield(L, 3, "timestamp") == LUA_TNUMBER)
      co.timestamp_ms = (int64_t)(lua_tonumber(L, -1) * 1000.0);
    lua_pop(L, 1);
  }
  if (!user[0] && props) {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(props, "user_id");
    if (cJSON_IsString(u)) snprintf(user, sizeof user, "%s", u->valuestring);
  }
  if (!user[0] && app->cfg.user_id[0]) snprintf(user, sizeof user, "%s", app->cfg.user_id);
  co.user_id = user[0] ? user : NULL;
  char uuid[40];
  bt_err err = {0};
  if (bt_analytics_capture(a, event, props, &co, uuid, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg);
    return 2;
  }
  if (!uuid[0]) {
    lua_pushnil(L);
    lua_pushliteral(L, "opted out");
    return 2;
  }
  lua_pushstring(L, uuid);
  return 1;
}

static int l_enabled(lua_State *L) {
  lua_pushboolean(L, bt_analytics_of(bt_lua_app(L)) != NULL);
  return 1;
}

/* bt.analytics.flush([timeout_ms]) -> true when nothing is left undelivered */
static int l_flush(lua_State *L) {
  lua_Integer ms = luaL_optinteger(L, 1, 5000);
  lua_pushboolean(L, bt_analytics_flush(bt_analytics_of(bt_lua_app(L)), ms) == 0);
  return 1;
}

int bt_lua_open_analytics(lua_State *L) {
  static const luaL_Reg fns[] = {
      {"capture", l_capture}, {"enabled", l_enabled}, {"flush", l_flush}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
