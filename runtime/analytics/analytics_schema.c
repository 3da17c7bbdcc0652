#include "analytics_schema.h"

#include <dirent.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

enum {
  T_STRING = 1, T_INTEGER = 2, T_NUMBER = 4, T_BOOLEAN = 8, T_OBJECT = 16, T_ARRAY = 32,
  T_NULL = 64
};

typedef struct prop {
  char *name;
  unsigned types;
  bool required;
} prop;

typedef struct schema {
  char *name;
  int64_t version;
  prop *props;
  int nprops;
  size_t capprops;
} schema;

struct bt_an_schemas {
  schema *v;
  int n;
  size_t cap;
};

bt_an_schemas *bt_an_schemas_new(void) { return calloc(1, sizeof(bt_an_schemas)); }

static void schema_clear(schema *sc) {
  for (int i = 0; i < sc->nprops; i++) free(sc->props[i].name);
  free(sc->props);
  free(sc->name);
  memset(sc, 0, sizeof *sc);
}

void bt_an_schemas_free(bt_an_schemas *s) {
  if (!s) return;
  for (int i = 0; i < s->n; i++) schema_clear(&s->v[i]);
  free(s->v);
  free(s);
}

int bt_an_schemas_count(const bt_an_schemas *s) { return s ? s->n : 0; }

static const schema *find(const bt_an_schemas *s, const char *name) {
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
  return NULL;
}

static int parse_types(const char *spec, unsigned *out) {
  unsigned t = 0;
  size_t len = strlen(spec);
  if (len && spec[len - 1] == '?') {
    t |= T_NULL;
    len--;
  }
  static const struct { const char *n; unsigned t; } names[] = {
      {"string", T_STRING}, {"integer", T_INTEGER}, {"number", T_NUMBER | T_INTEGER},
      {"boolean", T_BOOLEAN}, {"object", T_OBJECT}, {"array", T_ARRAY}};
  size_t i = 0;
  while (i < len) {
    size_t j = i;
    while (j < len && spec[j] != '|') j++;
    bool ok = false;
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++)
      if (strlen(names[k].n) == j - i && strncmp(names[k].n, spec + i, j - i) == 0) {
        t |= names[k].t;
        ok = true;
      }
    if (!ok) return -1;
    i = j + 1;
  }
  if (!(t & ~(unsigned)T_NULL)) return -1;
  *out = t;
  return 0;
}

/* Reads the props table at idx (required or optional) into sc. */
static int read_props(schema *sc, lua_State *L, int idx, bool required, const char *src,
                      bt_err *err) {
  const char *what = required ? "required" : "optional";
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING) {
      lua_pop(L, 2);
      return bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, what,
                        "schema %s: entries must be name = \"type\"", sc->name);
    }
    const char *name = lua_tostring(L, -2), *spec = lua_tostring(L, -1);
    unsigned types;
    if (parse_types(spec, &types)) {
      int rc = bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, name,
                          "schema %s: unknown type \"%s\" (string, integer, number, boolean, "
                          "object, array, '|' unions, '?' for nullable)", sc->name, spec);
      lua_pop(L, 2);
      return rc;
    }
    for (int i = 0; i < sc->nprops; i++)
      if (strcmp(sc->props[i].name, name) == 0) {
        int rc = bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, name,
                            "schema %s: property listed twice", sc->name);
        lua_pop(L, 2);
        return rc;
      }
    if (BT_GROW(sc->props, sc->capprops, (size_t)sc->nprops + 1)) {
      lua_pop(L, 2);
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
    sc->props[sc->nprops++] = (prop){strdup(name), types, required};
    lua_pop(L, 1);
  }
  return 0;
}

static int valid_event_name(const char *s) {
  if (!*s || strlen(s) > 200) return 0;
  for (; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
          *s == '_' || *s == '.' || *s == '-' || *s == '$'))
      return 0;
  return 1;
}

/* Adds the schema table at the top of L (left in place). */
static int add_table(bt_an_schemas *s, lua_State *L, const char *src, bt_err *err) {
  int t = lua_gettop(L);
  if (!lua_istable(L, t))
    return bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, "",
                      "a schema must be a table, got %s", luaL_typename(L, t));
  static const char *const keys[] = {"name", "version", "required", "optional", NULL};
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    bool ok = false;
    if (lua_type(L, -1) == LUA_TSTRING)
      for (const char *const *k = keys; *k; k++)
        if (strcmp(*k, lua_tostring(L, -1)) == 0) ok = true;
    if (!ok) {
      int rc = bt_errf_at(err, BT_EINVAL, "schema_error", src, 0,
                          lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?",
                          "unknown schema key (name, version, required, optional)");
      lua_pop(L, 1);
      return rc;
    }
  }
  schema sc = {0};
  if (lua_getfield(L, t, "name") != LUA_TSTRING || !valid_event_name(lua_tostring(L, -1))) {
    lua_pop(L, 1);
    return bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, "name",
                      "expected an event name ([A-Za-z0-9_.$-]+)");
  }
  sc.name = strdup(lua_tostring(L, -1));
  lua_pop(L, 1);
  if (lua_getfield(L, t, "version") != LUA_TNUMBER || !lua_isinteger(L, -1) ||
      lua_tointeger(L, -1) < 1) {
    lua_pop(L, 1);
    int rc = bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, "version",
                        "schema %s: expected an integer >= 1", sc.name);
    schema_clear(&sc);
    return rc;
  }
  sc.version = lua_tointeger(L, -1);
  lua_pop(L, 1);
  static const char *const parts[] = {"required", "optional"};
  for (int p = 0; p < 2; p++) {
    int ty = lua_getfield(L, t, parts[p]);
    int rc = 0;
    if (ty == LUA_TTABLE) rc = read_props(&sc, L, lua_gettop(L), p == 0, src, err);
    else if (ty != LUA_TNIL)
      rc = bt_errf_at(err, BT_EINVAL, "schema_error", src, 0, parts[p],
                      "schema %s: expected a table", sc.name);
    lua_pop(L, 1);
    if (rc) {
      schema_clear(&sc);
      return rc;
    }
  }
  for (int i = 0; i < s->n; i++)
    if (strcmp(s->v[i].name, sc.name) == 0) {
      schema_clear(&s->v[i]);
      s->v[i] = sc;
      return 0;
    }
  if (BT_GROW(s->v, s->cap, (size_t)s->n + 1)) {
    schema_clear(&sc);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  s->v[s->n++] = sc;
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int bt_an_schemas_load_dir(bt_an_schemas *s, const char *dir, bt_err *err) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  char **names = NULL;
  size_t n = 0, cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (len < 5 || strcmp(de->d_name + len - 4, ".lua") != 0) continue;
    if (BT_GROW(names, cap, n + 1)) break;
    names[n++] = strdup(de->d_name);
  }
  closedir(d);
  qsort(names, n, sizeof *names, cmp_str);
  /* A private state: schema files are data, they never see the bt module. */
  lua_State *L = luaL_newstate();
  int rc = L ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (L) luaL_openlibs(L);
  for (size_t i = 0; i < n && !rc; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    if (luaL_loadfile(L, path) != LUA_OK || lua_pcall(L, 0, 1, 0) != LUA_OK) {
      rc = bt_errf_at(err, BT_EINVAL, "schema_error", path, 0, "", "%s", lua_tostring(L, -1));
      snprintf(err->msg, sizeof err->msg, "%s", lua_tostring(L, -1));
    } else {
      rc = add_table(s, L, path, err);
    }
    lua_settop(L, 0);
  }
  if (L) lua_close(L);
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  return rc;
}

int bt_an_schemas_add_list(bt_an_schemas *s, lua_State *L, int idx, const char *where,
                           bt_err *err) {
  idx = lua_absindex(L, idx);
  if (!lua_istable(L, idx))
    return bt_errf_at(err, BT_EINVAL, "config_error", "config", 0, where,
                      "expected a list of schema tables");
  lua_Integer n = luaL_len(L, idx);
  for (lua_Integer i = 1; i <= n; i++) {
    lua_rawgeti(L, idx, i);
    char src[160];
    snprintf(src, sizeof src, "%s[%lld]", where, (long long)i);
    int rc = add_table(s, L, src, err);
    lua_pop(L, 1);
    if (rc) return rc;
  }
  return 0;
}

static unsigned json_type(const cJSON *v) {
  if (cJSON_IsString(v)) return T_STRING;
  if (cJSON_IsBool(v)) return T_BOOLEAN;
  if (cJSON_IsNull(v)) return T_NULL;
  if (cJSON_IsObject(v)) return T_OBJECT;
  if (cJSON_IsArray(v)) return T_ARRAY;
  if (cJSON_IsRaw(v)) /* exact decimals are inserted as raw number text */
    return strpbrk(v->valuestring, ".eE") ? T_NUMBER : T_INTEGER;
  if (cJSON_IsNumber(v)) {
    double d = v->valuedouble;
    if (!isfinite(d)) return 0;
    return (d == floor(d) && fabs(d) <= 9007199254740992.0) ? T_INTEGER : T_NUMBER;
  }
  return 0;
}

static const char *type_name(unsigned t) {
  switch (t) {
  case T_STRING: return "string";
  case T_INTEGER: return "integer";
  case T_NUMBER: return "number";
  case T_BOOLEAN: return "boolean";
  case T_OBJECT: return "object";
  case T_ARRAY: return "array";
  case T_NULL: return "null";
  default: return "invalid number";
  }
}

/* "integer|string or null" */
static void types_str(unsigned types, char *buf, size_t n) {
  static const unsigned order[] = {T_STRING, T_NUMBER, T_INTEGER, T_BOOLEAN, T_OBJECT, T_ARRAY};
  buf[0] = '\0';
  size_t len = 0;
  for (size_t i = 0; i < sizeof order / sizeof order[0]; i++) {
    if (!(types & order[i])) continue;
    if (order[i] == T_INTEGER && (types & T_NUMBER)) continue; /* number covers it */
    len += (size_t)snprintf(buf + len, len < n ? n - len : 0, "%s%s", len ? "|" : "",
                            type_name(order[i]));
  }
  if (types & T_NULL) snprintf(buf + len, len < n ? n - len : 0, " or null");
}

int bt_an_schemas_validate(const bt_an_schemas *s, const char *event, cJSON *props,
                           bt_an_schema_info *info, bt_err *err) {
  const schema *sc = find(s, event);
  if (!sc)
    return bt_errf_at(err, BT_EINVAL, "analytics_invalid_event", "", 0, "",
                      "event \"%s\": no schema (add lua/schemas/%s.lua)", event, event);
  if (!cJSON_IsObject(props))
    return bt_errf_at(err, BT_EINVAL, "analytics_invalid_event", "", 0, "",
                      "event \"%s\": properties must be an object", event);
  for (cJSON *v = props->child; v; v = v->next) {
    const prop *p = NULL;
    for (int i = 0; i < sc->nprops; i++)
      if (strcmp(sc->props[i].name, v->string) == 0) p = &sc->props[i];
    if (!p)
      return bt_errf_at(err, BT_EINVAL, "analytics_invalid_event", "", 0, v->string,
                        "event \"%s\" v%lld: property not in schema", event,
                        (long long)sc->version);
    unsigned t = json_type(v);
    if (!(t & p->types)) {
      char want[96];
      types_str(p->types, want, sizeof want);
      return bt_errf_at(err, BT_EINVAL, "analytics_invalid_event", "", 0, v->string,
                        "event \"%s\" v%lld: expected %s, got %s", event,
                        (long long)sc->version, want, type_name(t));
    }
  }
  for (int i = 0; i < sc->nprops; i++) {
    const prop *p = &sc->props[i];
    if (!p->required || cJSON_HasObjectItem(props, p->name)) continue;
    if (!(p->types & T_NULL))
      return bt_errf_at(err, BT_EINVAL, "analytics_invalid_event", "", 0, p->name,
                        "event \"%s\" v%lld: required property missing", event,
                        (long long)sc->version);
    cJSON_AddNullToObject(props, p->name);
  }
  if (info) *info = (bt_an_schema_info){sc->name, sc->version};
  return 0;
}
