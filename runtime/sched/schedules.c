#include "schedules.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "luabind.h"
#include "perf_hash.h"
#include "perf_time.h"

static const char *const catchup_names[] = {"skip", "last", "all"};

const char *bt_catchup_name(bt_catchup c) { return (unsigned)c < 3 ? catchup_names[c] : "?"; }

/* "<file>: schedule "<name>": <field>: <detail>", field "<name>.<field>". */
static int sched_err(bt_err *err, const char *path, const char *name, const char *field,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int sched_err(bt_err *err, const char *path, const char *name, const char *field,
                     const char *fmt, ...) {
  char detail[640];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  bt_errf(err, BT_EINVAL, "config_error", "%s: schedule \"%s\": %s%s%s", path, name,
          field ? field : "", field ? ": " : "", detail);
  snprintf(err->file, sizeof err->file, "%s", path);
  snprintf(err->field, sizeof err->field, "%s%s%s", name, field ? "." : "", field ? field : "");
  return BT_EINVAL;
}

/* t[key] as a string into out; absent leaves out unchanged. */
static int get_string(lua_State *L, int t, const char *key, char *out, size_t n,
                      const char *path, const char *name, const char *field, bt_err *err) {
  int ty = lua_getfield(L, t, key), rc = 0;
  if (ty == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, -1, &len);
    if (len >= n) rc = sched_err(err, path, name, field, "too long (max %zu bytes)", n - 1);
    else memcpy(out, s, len + 1);
  } else if (ty != LUA_TNIL) {
    rc = sched_err(err, path, name, field, "expected a string, got %s", luaL_typename(L, -1));
  }
  lua_pop(L, 1);
  return rc;
}

static int check_keys(lua_State *L, int t, const char *const *keys, const char *path,
                      const char *name, const char *prefix, bt_err *err) {
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    bool known = false;
    for (const char *const *p = keys; k && *p; p++) known |= strcmp(*p, k) == 0;
    if (!known) {
      char field[128];
      snprintf(field, sizeof field, "%s%s", prefix, k ? k : "?");
      lua_pop(L, 1);
      return sched_err(err, path, name, field, k ? "unknown key" : "keys must be strings");
    }
  }
  return 0;
}

/* The backtest table as JSON (strings, numbers, booleans, lists, string-keyed tables),
 * then parsed by the one job-spec check the API and the worker use too. */
static cJSON *to_json(lua_State *L, int idx, int depth) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TNUMBER: {
    double d = lua_tonumber(L, idx);
    return isfinite(d) ? cJSON_CreateNumber(d) : NULL;
  }
  case LUA_TTABLE: {
    if (depth > 8) return NULL;
    lua_Integer len = (lua_Integer)lua_rawlen(L, idx);
    bool list = len > 0;
    cJSON *o = list ? cJSON_CreateArray() : cJSON_CreateObject();
    if (!o) return NULL;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
      cJSON *v = to_json(L, -1, depth + 1);
      bool ok = v != NULL;
      if (ok && list) {
        ok = lua_isinteger(L, -2) && cJSON_AddItemToArray(o, v);
      } else if (ok) {
        ok = lua_type(L, -2) == LUA_TSTRING && cJSON_AddItemToObject(o, lua_tostring(L, -2), v);
      }
      lua_pop(L, 1);
      if (!ok) {
        cJSON_Delete(v);
        cJSON_Delete(o);
        lua_pop(L, 1);
        return NULL;
      }
    }
    return o;
  }
  default: return NULL;
  }
}

static int load_backtest(lua_State *L, int t, bt_schedule *s, const char *path, bt_err *err) {
  cJSON *j = to_json(L, t, 0);
  if (!j)
    return sched_err(err, path, s->name, "backtest",
                     "expected a table of strings, numbers, booleans and lists");
  bt_job_spec spec;
  bt_err e = {0};
  int rc = bt_job_spec_from_cjson(j, NULL, &spec, &e);
  cJSON_Delete(j);
  if (rc) {
    char field[96];
    snprintf(field, sizeof field, "backtest.%s", e.field);
    rc = sched_err(err, path, s->name, field, "%s", e.msg);
    bt_err_clear(&e);
    return rc;
  }
  s->spec_json = bt_job_spec_to_json(&spec);
  snprintf(s->strategy, sizeof s->strategy, "%s", spec.strategy);
  bt_job_spec_clear(&spec);
  return s->spec_json ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
}

static int load_perf(lua_State *L, int t, bt_schedule *s, const char *path, bt_err *err) {
  static const char *const keys[] = {"window", "trades", "out_dir", "targets", "alerts_file",
                                     "timezone", NULL};
  bt_sched_perf *p = &s->perf;
  snprintf(p->window, sizeof p->window, "daily");
  int rc = check_keys(L, t, keys, path, s->name, "perf.", err);
  if (!rc) rc = get_string(L, t, "window", p->window, sizeof p->window, path, s->name, "perf.window", err);
  if (!rc) rc = get_string(L, t, "trades", p->trades, sizeof p->trades, path, s->name, "perf.trades", err);
  if (!rc) rc = get_string(L, t, "out_dir", p->out_dir, sizeof p->out_dir, path, s->name, "perf.out_dir", err);
  if (!rc) rc = get_string(L, t, "targets", p->targets, sizeof p->targets, path, s->name, "perf.targets", err);
  if (!rc) rc = get_string(L, t, "alerts_file", p->alerts_file, sizeof p->alerts_file, path, s->name, "perf.alerts_file", err);
  if (!rc) rc = get_string(L, t, "timezone", p->timezone, sizeof p->timezone, path, s->name, "perf.timezone", err);
  if (rc) return rc;
  bt_perf_window w;
  if (!bt_perf_window_parse(p->window, &w) || w == BT_PERF_CUSTOM)
    return sched_err(err, path, s->name, "perf.window",
                     "expected \"daily\", \"weekly\" or \"monthly\", got \"%s\"", p->window);
  if (p->timezone[0]) {
    bt_tz *tz;
    bt_err e = {0};
    if (bt_tz_load(p->timezone, &tz, &e)) return sched_err(err, path, s->name, "perf.timezone", "%s", e.msg);
    bt_tz_free(tz);
  }
  return 0;
}

static int load_one(lua_State *L, int t, int index, bt_schedule *s, const char *path,
                    bt_err *err) {
  static const char *const keys[] = {"name",     "cron",         "timezone", "catch_up",
                                     "catch_up_max", "backtest", "perf",     NULL};
  char label[32];
  snprintf(label, sizeof label, "#%d", index);
  if (lua_getfield(L, t, "name") != LUA_TSTRING) {
    lua_pop(L, 1);
    return sched_err(err, path, label, "name", "required: a name such as \"nightly-orcl\"");
  }
  const char *name = lua_tostring(L, -1);
  if (!bt_job_name_valid(name)) {
    int rc = sched_err(err, path, label, "name",
                       "\"%.100s\" is not a name (1-100 characters of A-Z a-z 0-9 _ . -)", name);
    lua_pop(L, 1);
    return rc;
  }
  snprintf(s->name, sizeof s->name, "%s", name);
  lua_pop(L, 1);
  s->catch_up_max = BT_SCHED_CATCHUP_MAX_DEFAULT;
  char tzname[128] = "UTC", catch_up[16] = "skip";
  int rc = check_keys(L, t, keys, path, s->name, "", err);
  if (!rc) rc = get_string(L, t, "cron", s->cron_text, sizeof s->cron_text, path, s->name, "cron", err);
  if (!rc && !s->cron_text[0]) rc = sched_err(err, path, s->name, "cron", "required, e.g. \"30 17 * * MON-FRI\"");
  if (!rc) rc = get_string(L, t, "timezone", tzname, sizeof tzname, path, s->name, "timezone", err);
  if (!rc) rc = get_string(L, t, "catch_up", catch_up, sizeof catch_up, path, s->name, "catch_up", err);
  if (rc) return rc;
  char what[160];
  snprintf(what, sizeof what, "%s: schedule \"%s\"", path, s->name);
  if (bt_cron_parse(s->cron_text, what, &s->cron, err)) {
    snprintf(err->file, sizeof err->file, "%s", path);
    snprintf(err->field, sizeof err->field, "%s.cron", s->name);
    return err->code;
  }
  bt_err e = {0};
  if (bt_tz_load(tzname, &s->tz, &e)) return sched_err(err, path, s->name, "timezone", "%s", e.msg);
  bool found = false;
  for (int i = 0; i < 3; i++)
    if (strcmp(catch_up, catchup_names[i]) == 0) s->catch_up = (bt_catchup)i, found = true;
  if (!found)
    return sched_err(err, path, s->name, "catch_up", "expected \"skip\", \"last\" or \"all\", got \"%s\"",
                     catch_up);
  int ty = lua_getfield(L, t, "catch_up_max");
  if (ty != LUA_TNIL) {
    lua_Integer v = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
    if (v < 1 || v > BT_SCHED_CATCHUP_MAX_LIMIT) {
      lua_pop(L, 1);
      return sched_err(err, path, s->name, "catch_up_max", "expected an integer 1..%d",
                       BT_SCHED_CATCHUP_MAX_LIMIT);
    }
    s->catch_up_max = (int)v;
  }
  lua_pop(L, 1);
  int bt = lua_getfield(L, t, "backtest"), pf = lua_getfield(L, t, "perf");
  if ((bt == LUA_TNIL) == (pf == LUA_TNIL))
    rc = sched_err(err, path, s->name, "backtest", "a schedule has exactly one of backtest = {...} or perf = {...}");
  else if (bt != LUA_TNIL && bt != LUA_TTABLE)
    rc = sched_err(err, path, s->name, "backtest", "expected a table, got %s", lua_typename(L, bt));
  else if (pf != LUA_TNIL && pf != LUA_TTABLE)
    rc = sched_err(err, path, s->name, "perf", "expected a table, got %s", lua_typename(L, pf));
  else if (bt == LUA_TTABLE)
    s->kind = BT_SCHED_BACKTEST, rc = load_backtest(L, lua_gettop(L) - 1, s, path, err);
  else
    s->kind = BT_SCHED_PERF, rc = load_perf(L, lua_gettop(L), s, path, err);
  lua_pop(L, 2);
  return rc;
}

uint64_t bt_schedules_file_hash(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  uint64_t h = BT_PERF_FNV_BASIS;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) h = bt_perf_fnv(h, buf, n);
  fclose(f);
  return h;
}

int bt_schedules_load(const char *path, bool explicit_path, bt_schedules *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  snprintf(out->path, sizeof out->path, "%s", path);
  if (access(path, F_OK) != 0) {
    if (!explicit_path) return 0;
    return bt_errf_at(err, BT_EIO, "config_error", path, 0, "", "schedules file not found");
  }
  out->hash = bt_schedules_file_hash(path);
  lua_State *L = luaL_newstate();
  if (!L) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  luaL_openlibs(L);
  int rc = 0;
  if (luaL_loadfile(L, path) != LUA_OK) {
    rc = bt_errf_at(err, BT_EINVAL, "config_error", path, 0, "", "%s", lua_tostring(L, -1));
  } else if (!(rc = bt_lua_pcall_in(L, 0, 1, path, err)) && !lua_istable(L, -1)) {
    rc = bt_errf_at(err, BT_EINVAL, "config_error", path, 0, "",
                    "must return a list of schedules: return { { name = ..., cron = ..., ... } }");
  }
  if (!rc) {
    int list = lua_gettop(L);
    size_t n = (size_t)lua_rawlen(L, list);
    lua_pushnil(L);
    while (!rc && lua_next(L, list)) {
      if (!lua_isinteger(L, -2) || lua_tointeger(L, -2) < 1 || (size_t)lua_tointeger(L, -2) > n)
        rc = bt_errf_at(err, BT_EINVAL, "config_error", path, 0, "",
                        "must return a list of schedules (found a key that is not 1..n)");
      lua_pop(L, 1);
    }
    if (!rc && n && !(out->v = calloc(n, sizeof *out->v)))
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    for (size_t i = 0; !rc && i < n; i++) {
      char label[32];
      snprintf(label, sizeof label, "#%zu", i + 1);
      if (lua_rawgeti(L, list, (lua_Integer)i + 1) != LUA_TTABLE)
        rc = sched_err(err, path, label, NULL, "expected a table, got %s", luaL_typename(L, -1));
      else
        rc = load_one(L, lua_gettop(L), (int)i + 1, &out->v[out->n++], path, err);
      lua_pop(L, 1);
      for (size_t j = 0; !rc && j + 1 < out->n; j++)
        if (strcmp(out->v[j].name, out->v[out->n - 1].name) == 0)
          rc = sched_err(err, path, out->v[j].name, "name", "used by two schedules (#%zu and #%zu)",
                         j + 1, out->n);
    }
  }
  lua_close(L);
  if (rc) {
    bt_schedules_free(out);
    snprintf(out->path, sizeof out->path, "%s", path);
  }
  return rc;
}

void bt_schedules_free(bt_schedules *s) {
  for (size_t i = 0; i < s->n; i++) {
    bt_tz_free(s->v[i].tz);
    free(s->v[i].spec_json);
  }
  free(s->v);
  memset(s, 0, sizeof *s);
}

const bt_schedule *bt_schedules_find(const bt_schedules *s, const char *name) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i].name, name) == 0) return &s->v[i];
  return NULL;
}
