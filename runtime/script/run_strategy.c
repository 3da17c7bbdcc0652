/* run_strategy.c - the strategy: its file loaded into the run's state, its callbacks
 * resolved into registry refs (and keys that look like misspelt ones warned about), its
 * params merged with --param, and a callback called. */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "lua_ctx.h"
#include "luabind.h"
#include "run_internal.h"
#include "suggest.h"

void run_strategy_id(const char *path, char *out, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t len = strlen(base);
  if (len > 4 && strcmp(base + len - 4, ".lua") == 0) len -= 4;
  snprintf(out, n, "%.*s", (int)len, base);
}

/* Loads the strategy file into the run's own state; leaves the strategy table on the
 * stack. A file that does not return a table is not a strategy. */
int run_load_strategy(bt_run *run, bt_err *err) {
  lua_State *L = run->L;
  if (luaL_loadfilex(L, run->spec->strategy_path, "t") != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    int rc = bt_errf_at(err, BT_ELUA, "lua_error", run->spec->strategy_path, 0, "", "%s",
                        msg ? msg : "cannot load");
    snprintf(err->msg, sizeof err->msg, "%s", msg ? msg : "cannot load strategy");
    lua_pop(L, 1);
    return rc;
  }
  if (bt_lua_pcall(L, 0, 1, err)) return err->code;
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return bt_errf_at(err, BT_EINVAL, "strategy_error", run->spec->strategy_path, 0, "",
                      "a strategy must return a table with on_bar/on_start/... callbacks");
  }
  return 0;
}

/* The strategy table's callbacks (docs/strategy-api.md): the one list the run resolves
 * and checks other keys against. */
static const char *const CALLBACKS[] = {"on_start", "on_bar",    "on_fill",
                                        "on_finish", "on_reject", "on_risk"};
enum { NCALLBACKS = sizeof CALLBACKS / sizeof CALLBACKS[0] };

/* A key that looks like a callback but is none (onBar, on_tick, a function named
 * on_bars) is almost always a typo that silently trades nothing: warn, naming the
 * closest callback. Functions far from every callback name are helpers, left alone. */
static void check_strategy_keys(lua_State *L, int strategy, const char *path) {
  lua_pushnil(L);
  while (lua_next(L, strategy)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    bool known = !key || strcmp(key, "params") == 0;
    for (int i = 0; !known && i < NCALLBACKS; i++) known = strcmp(key, CALLBACKS[i]) == 0;
    if (!known) {
      const char *near = bt_suggest(key, CALLBACKS, NCALLBACKS);
      bool on = (key[0] == 'o' || key[0] == 'O') && (key[1] == 'n' || key[1] == 'N');
      if (on || (near && lua_type(L, -1) == LUA_TFUNCTION)) {
        char msg[320];
        int n = near ? snprintf(msg, sizeof msg, "strategy key '%.100s' is not a callback; did "
                                "you mean '%s'?", key, near)
                     : snprintf(msg, sizeof msg, "strategy key '%.100s' is not a callback "
                                "(callbacks:", key);
        for (int i = 0; !near && i < NCALLBACKS; i++)
          n += snprintf(msg + n, sizeof msg - (size_t)n, " %s%s", CALLBACKS[i],
                        i + 1 < NCALLBACKS ? "," : ")");
        bt_log("run", BT_LOG_WARNING, "strategy_key_unknown", BT_F_STR("file", path),
               BT_F_STR("key", key), BT_F_STR("suggestion", near ? near : ""),
               BT_F_STR("message", msg));
      }
    }
    lua_pop(L, 1);
  }
}

static int ref_callback(lua_State *L, int strategy, const char *name) {
  if (lua_getfield(L, strategy, name) == LUA_TFUNCTION) return luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  return LUA_NOREF;
}

static int cmp_items(const void *a, const void *b) {
  return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static void sort_object(cJSON *o) {
  int n = cJSON_GetArraySize(o);
  if (n < 2) return;
  cJSON **items = malloc((size_t)n * sizeof *items);
  if (!items) return;
  int i = 0;
  while (o->child) items[i++] = cJSON_DetachItemViaPointer(o, o->child);
  qsort(items, (size_t)n, sizeof *items, cmp_items);
  for (i = 0; i < n; i++) cJSON_AddItemToArray(o, items[i]); /* keeps each item's key */
  free(items);
}

/* Merge the strategy's default params with --param overrides into a new table.
 * Overrides of names the strategy does not declare are errors (typos). */
static int build_params(bt_run *run, int strategy, bt_err *err) {
  lua_State *L = run->L;
  lua_newtable(L);
  int params = lua_gettop(L);
  bool declared = lua_getfield(L, strategy, "params") == LUA_TTABLE;
  if (declared) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, params);
    }
  }
  lua_pop(L, 1);
  for (int i = 0; i < run->spec->nparams; i++) {
    const bt_param *p = &run->spec->params[i];
    if (declared && lua_getfield(L, params, p->name) == LUA_TNIL) {
      lua_pop(L, 2);
      return bt_errf(err, BT_EINVAL, "usage_error",
                     "--param %s: the strategy declares no parameter named '%s'", p->name,
                     p->name);
    }
    if (declared) lua_pop(L, 1);
    if (lua_stringtonumber(L, p->value) == 0) {
      if (strcmp(p->value, "true") == 0 || strcmp(p->value, "false") == 0)
        lua_pushboolean(L, p->value[0] == 't');
      else
        lua_pushstring(L, p->value);
    }
    lua_setfield(L, params, p->name);
  }
  /* params as JSON for result.json and observers (scalars only; tables render null),
   * keys sorted so the text does not depend on Lua's table order. */
  cJSON *o = cJSON_CreateObject();
  lua_pushnil(L);
  while (lua_next(L, params)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      int t = lua_type(L, -1);
      if (t == LUA_TNUMBER && lua_isinteger(L, -1))
        cJSON_AddNumberToObject(o, k, (double)lua_tointeger(L, -1));
      else if (t == LUA_TNUMBER) cJSON_AddNumberToObject(o, k, lua_tonumber(L, -1));
      else if (t == LUA_TBOOLEAN) cJSON_AddBoolToObject(o, k, lua_toboolean(L, -1));
      else if (t == LUA_TSTRING) cJSON_AddStringToObject(o, k, lua_tostring(L, -1));
      else cJSON_AddNullToObject(o, k);
    }
    lua_pop(L, 1);
  }
  sort_object(o);
  run->info.params_json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return 0; /* params table left on the stack */
}

int run_setup_strategy(bt_run *run, int strategy, bt_err *err) {
  lua_State *L = run->L;
  int *refs[] = {&run->ref_on_start, &run->ref_on_bar, &run->ref_on_fill,
                 &run->ref_on_finish, &run->ref_on_reject, &run->ref_on_risk};
  _Static_assert(sizeof refs / sizeof refs[0] == NCALLBACKS, "one ref per callback");
  for (int i = 0; i < NCALLBACKS; i++) *refs[i] = ref_callback(L, strategy, CALLBACKS[i]);
  check_strategy_keys(L, strategy, run->info.strategy_path);
  if (build_params(run, strategy, err)) return err->code;
  run->ctx = bt_ctx_push_new(L, &run->e, run->info.run_id, run->info.correlation_id);
  lua_insert(L, -2);
  lua_setfield(L, -2, "params");
  run->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, 8);
  run->ref_bar = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, 8);
  run->ref_fill = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* Calls ref(ctx, [arg ref]) if the callback exists. */
int run_call_cb(bt_run *run, int ref, int arg_ref, bt_err *err) {
  if (ref == LUA_NOREF) return 0;
  lua_State *L = run->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_ctx);
  int nargs = 1;
  if (arg_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, arg_ref), nargs = 2;
  int rc = bt_lua_pcall(L, nargs, 0, err);
  if (rc && atomic_load(&run->stop)) return run_stopped_error(run, err);
  return rc;
}
