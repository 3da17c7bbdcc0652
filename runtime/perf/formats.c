#include "formats.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chart_points.h"
#include "luabind.h"
#include "perf_files.h"
#include "perf_hash.h"
#include "sandbox.h"

#define MAX_FORMATS 16

struct bt_formats {
  lua_State *L;
  char dirs[2][1024];   /* search order: user formats dir, then btrun's */
  int ndirs;
  struct {
    char name[64];
    int ref;
    uint64_t hash;
  } cache[MAX_FORMATS];
  int ncache;
};


int bt_formats_open(bt_formats **out, const char *formats_dir, bt_err *err) {
  bt_formats *r = calloc(1, sizeof *r);
  if (!r) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  r->L = luaL_newstate();
  if (!r->L) {
    free(r);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  luaL_openlibs(r->L);
  if (formats_dir && *formats_dir) snprintf(r->dirs[r->ndirs++], sizeof r->dirs[0], "%s", formats_dir);
  snprintf(r->dirs[r->ndirs++], sizeof r->dirs[0], "%s/formats", bt_lua_dir());
  /* require "formats.lib" finds the shared helpers */
  /* Formats are untrusted code: data in, text out; they read files beside them only. */
  char path[2100];
  snprintf(path, sizeof path, "%s/?.lua;%s/?.lua", r->dirs[0], bt_lua_dir());
  if (bt_sandbox_apply(r->L, access(r->dirs[0], F_OK) == 0 ? r->dirs[0] : NULL, path, err)) {
    bt_formats_close(r);
    return err->code;
  }
  bt_chart_points_preload(r->L);
  *out = r;
  return 0;
}

void bt_formats_close(bt_formats *r) {
  if (!r) return;
  lua_close(r->L);
  free(r);
}

lua_State *bt_formats_lua(bt_formats *r) { return r->L; }

void bt_formats_push_num(lua_State *L, double d) {
  if (!isfinite(d)) lua_pushnil(L);
  else if (d > -9e15 && d < 9e15 && d == (double)(lua_Integer)d) lua_pushinteger(L, (lua_Integer)d);
  else lua_pushnumber(L, d);
}

void bt_formats_set_num(lua_State *L, const char *key, double v) {
  if (!isfinite(v)) return; /* null: push_json leaves the field out */
  bt_formats_push_num(L, v);
  lua_setfield(L, -2, key);
}

static void push_item(lua_State *L, const cJSON *it) {
  if (cJSON_IsString(it)) {
    lua_pushstring(L, it->valuestring);
  } else if (cJSON_IsNumber(it)) {
    bt_formats_push_num(L, it->valuedouble);
  } else if (cJSON_IsBool(it)) {
    lua_pushboolean(L, cJSON_IsTrue(it));
  } else if (cJSON_IsArray(it)) {
    lua_createtable(L, cJSON_GetArraySize(it), 0);
    lua_Integer i = 1;
    const cJSON *c;
    cJSON_ArrayForEach(c, it) {
      push_item(L, c);
      lua_rawseti(L, -2, i++);
    }
  } else if (cJSON_IsObject(it)) {
    lua_newtable(L);
    const cJSON *c;
    cJSON_ArrayForEach(c, it) {
      if (cJSON_IsNull(c)) continue;
      push_item(L, c);
      lua_setfield(L, -2, c->string);
    }
  } else {
    lua_pushnil(L);
  }
}

void bt_formats_push_cjson(lua_State *L, const struct cJSON *v) {
  luaL_checkstack(L, 64, "json depth");
  push_item(L, v);
}

int bt_formats_push_json(lua_State *L, const char *json, size_t len, bt_err *err) {
  cJSON *root = cJSON_ParseWithLength(json, len);
  if (!root) return bt_errf(err, BT_EINVAL, "json_error", "invalid JSON document");
  luaL_checkstack(L, 64, "json depth");
  push_item(L, root);
  cJSON_Delete(root);
  return 0;
}

/* Load (once) the format's function; returns its cache slot or -1 with err. */
static int load_format(bt_formats *r, const char *name, bt_err *err) {
  for (int i = 0; i < r->ncache; i++)
    if (strcmp(r->cache[i].name, name) == 0) return i;
  if (r->ncache == MAX_FORMATS) return bt_errf(err, BT_ELIMIT, "format_error", "too many formats"), -1;
  for (const char *s = name; *s; s++)
    if (!(*s == '_' || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
      return bt_errf(err, BT_EINVAL, "format_error", "bad format name '%s'", name), -1;
  char path[1200];
  char *text = NULL;
  size_t len = 0;
  for (int d = 0; d < r->ndirs && !text; d++) {
    snprintf(path, sizeof path, "%s/%s.lua", r->dirs[d], name);
    text = bt_perf_slurp(path, &len);
  }
  if (!text)
    return bt_errf(err, BT_EIO, "format_error", "format script %s.lua not found in %s", name,
                   r->dirs[0]), -1;
  lua_State *L = r->L;
  char chunk[1210];
  snprintf(chunk, sizeof chunk, "@%s", path);
  int rc = luaL_loadbufferx(L, text, len, chunk, "t");
  uint64_t h = bt_perf_fnv(BT_PERF_FNV_BASIS, text, len);
  free(text);
  if (rc != LUA_OK) {
    bt_errf(err, BT_ELUA, "lua_error", "%s", lua_tostring(L, -1));
    lua_pop(L, 1);
    return -1;
  }
  if (bt_lua_pcall_in(L, 0, 1, path, err)) return -1;
  if (!lua_isfunction(L, -1)) {
    lua_pop(L, 1);
    return bt_errf(err, BT_ELUA, "format_error", "%s: must return a function(data) -> string",
                   path), -1;
  }
  int i = r->ncache++;
  snprintf(r->cache[i].name, sizeof r->cache[i].name, "%s", name);
  r->cache[i].ref = luaL_ref(L, LUA_REGISTRYINDEX);
  r->cache[i].hash = h;
  return i;
}

int bt_formats_render(bt_formats *r, const char *name, char **out, size_t *len, bt_err *err) {
  lua_State *L = r->L;
  int i = load_format(r, name, err);
  if (i < 0) {
    lua_pop(L, 1);
    return err->code;
  }
  lua_rawgeti(L, LUA_REGISTRYINDEX, r->cache[i].ref);
  lua_insert(L, -2);
  if (bt_lua_pcall_in(L, 1, 1, name, err)) return err->code;
  size_t n;
  const char *s = lua_tolstring(L, -1, &n);
  if (!s) {
    bt_errf(err, BT_ELUA, "format_error", "format %s returned %s, expected a string", name,
            luaL_typename(L, -1));
    lua_pop(L, 1);
    return err->code;
  }
  *out = malloc(n + 1);
  if (!*out) {
    lua_pop(L, 1);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  memcpy(*out, s, n);
  (*out)[n] = '\0';
  *len = n;
  lua_pop(L, 1);
  return 0;
}

uint64_t bt_formats_hash(bt_formats *r, const char *name) {
  bt_err err = {0};
  int i = load_format(r, name, &err);
  bt_err_clear(&err);
  return i < 0 ? 0 : r->cache[i].hash;
}
