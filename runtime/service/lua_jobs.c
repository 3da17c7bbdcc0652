/* lua_jobs.c - bt.jobs: a script submits backtests to a job queue and waits for them, so
 * a sweep runs on every worker of every machine (docs/postgresql.md, "Sweeps").
 *
 *   local q = bt.jobs.queue("postgresql://btrun@db/btrun")  -- or "sqlite:PATH", "" = local
 *   local id = q:submit{strategy = "sma_cross", data = {"orcl"}, params = {fast = 10}}
 *   local results = q:wait({id, ...}, 600)  -- same order; nil + message on timeout
 *   q:close()                               -- also on garbage collection
 *
 * A job names its strategy and datasets (the workers' catalog resolves them, as for the
 * HTTP API): never a file path. Jobs get origin "sweep", the script's correlation id
 * (--correlation-id, else one generated per queue handle) and its user id. A result is
 * {run_id, status = "succeeded"|"failed"|"cancelled", attempt, metrics = {...} (the
 * job's result: trades, total_return, sharpe, ...), error = {type, message} }. */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_spec.h"
#include "lua_jobs.h"
#include "luabind.h"
#include "serve.h"

#define QUEUE_MT "bt.jobs.queue"

typedef struct lqueue {
  bt_queue *q;
  char correlation_id[128];
} lqueue;

static lqueue *check_queue(lua_State *L) {
  lqueue *lq = luaL_checkudata(L, 1, QUEUE_MT);
  if (!lq->q) luaL_error(L, "bt.jobs: the queue is closed");
  return lq;
}

static int l_close(lua_State *L) {
  lqueue *lq = luaL_checkudata(L, 1, QUEUE_MT);
  bt_queue_close(lq->q);
  lq->q = NULL;
  return 0;
}

/* bt.jobs.queue(url): "" or nil = the local SQLite queue of the data dir. */
static int l_queue(lua_State *L) {
  const char *url = luaL_optstring(L, 1, "");
  bt_app *app = bt_lua_app(L);
  lqueue *lq = lua_newuserdatauv(L, sizeof *lq, 0);
  memset(lq, 0, sizeof *lq);
  luaL_setmetatable(L, QUEUE_MT);
  bt_err err = {0};
  if (bt_service_queue_open(*url ? url : app->db, app->cfg.data_dir, &lq->q, &err)) {
    lua_pushnil(L);
    lua_pushstring(L, err.msg); /* already free of passwords (pg_conn.h) */
    bt_err_clear(&err);
    return 2;
  }
  if (app->correlation_id[0]) snprintf(lq->correlation_id, sizeof lq->correlation_id, "%s", app->correlation_id);
  else bt_uuid(lq->correlation_id);
  return 1;
}

/* A Lua scalar as JSON (params values, cash). */
static cJSON *scalar(lua_State *L, int idx) {
  switch (lua_type(L, idx)) {
  case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
  case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
  case LUA_TNUMBER: /* integers beyond 2^53 are not parameters anyone sweeps */
    return isfinite(lua_tonumber(L, idx)) ? cJSON_CreateNumber(lua_tonumber(L, idx)) : NULL;
  default: return NULL;
  }
}

/* The spec table at idx as JSON; NULL with a message pushed when a field is of a wrong
 * type (names themselves are checked by bt_job_spec_from_cjson). */
static cJSON *spec_json(lua_State *L, int idx, const char **bad) {
  cJSON *o = cJSON_CreateObject();
  *bad = NULL;
  if (lua_getfield(L, idx, "strategy") != LUA_TNIL) {
    cJSON *v = scalar(L, -1);
    if (v) cJSON_AddItemToObject(o, "strategy", v);
  }
  lua_pop(L, 1);
  int t = lua_getfield(L, idx, "data");
  if (t == LUA_TSTRING || t == LUA_TTABLE) {
    cJSON *arr = cJSON_AddArrayToObject(o, "data");
    if (t == LUA_TSTRING) cJSON_AddItemToArray(arr, cJSON_CreateString(lua_tostring(L, -1)));
    for (lua_Integer i = 1; t == LUA_TTABLE && lua_rawgeti(L, -1, i) != LUA_TNIL; i++) {
      cJSON *v = scalar(L, -1);
      if (!v) *bad = "data: expected dataset names";
      else cJSON_AddItemToArray(arr, v);
      lua_pop(L, 1);
    }
    if (t == LUA_TTABLE) lua_pop(L, 1);
  } else if (t != LUA_TNIL) {
    *bad = "data: expected a dataset name or a list of them";
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "params") == LUA_TTABLE) {
    cJSON *p = cJSON_AddObjectToObject(o, "params");
    for (lua_pushnil(L); lua_next(L, -2); lua_pop(L, 1)) {
      cJSON *v = lua_type(L, -2) == LUA_TSTRING ? scalar(L, -1) : NULL;
      if (!v) *bad = "params: expected name = number|string|boolean";
      else cJSON_AddItemToObject(p, lua_tostring(L, -2), v);
    }
  } else if (!lua_isnil(L, -1)) {
    *bad = "params: expected a table";
  }
  lua_pop(L, 1);
  if (lua_getfield(L, idx, "cash") != LUA_TNIL) {
    cJSON *v = scalar(L, -1);
    if (v) cJSON_AddItemToObject(o, "cash", v);
  }
  lua_pop(L, 1);
  return o;
}

/* q:submit{strategy = name, data = name|{names}, params = {...}, cash = n} -> run_id */
static int l_submit(lua_State *L) {
  lqueue *lq = check_queue(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  const char *bad;
  cJSON *o = spec_json(L, 2, &bad);
  if (bad) {
    cJSON_Delete(o);
    return luaL_error(L, "bt.jobs submit: %s", bad);
  }
  bt_job_spec spec;
  bt_err err = {0};
  int rc = bt_job_spec_from_cjson(o, NULL, &spec, &err);
  cJSON_Delete(o);
  if (rc) {
    lua_pushfstring(L, "bt.jobs submit: %s", err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  char *json = bt_job_spec_to_json(&spec);
  bt_app *app = bt_lua_app(L);
  bt_job_new nj = {.spec_json = json, .strategy = spec.strategy,
                   .correlation_id = lq->correlation_id,
                   .user_id = app->cfg.user_id[0] ? app->cfg.user_id : NULL, .origin = "sweep"};
  bt_job j;
  rc = json ? bt_queue_enqueue(lq->q, &nj, &j, NULL, &err)
            : bt_errf(&err, BT_ENOMEM, "out_of_memory", "out of memory");
  free(json);
  bt_job_spec_clear(&spec);
  if (rc) {
    lua_pushfstring(L, "bt.jobs submit: %s", err.msg);
    bt_err_clear(&err);
    return lua_error(L);
  }
  lua_pushstring(L, j.run_id);
  bt_job_clear(&j);
  return 1;
}

/* Pushes the result table of a final job. */
static void push_result(lua_State *L, const bt_job *j) {
  lua_createtable(L, 0, 6);
  lua_pushstring(L, j->run_id);
  lua_setfield(L, -2, "run_id");
  lua_pushstring(L, bt_job_state_name(j->state));
  lua_setfield(L, -2, "status");
  lua_pushinteger(L, j->attempt);
  lua_setfield(L, -2, "attempt");
  const char *texts[] = {j->result_json, j->error_json};
  const char *keys[] = {"result", "error"};
  for (int k = 0; k < 2; k++) {
    cJSON *v = texts[k] ? cJSON_Parse(texts[k]) : NULL;
    if (!v) continue;
    bt_lua_push_json(L, v);
    lua_setfield(L, -2, keys[k]);
    cJSON_Delete(v);
  }
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* q:wait({run_id, ...}, timeout_s = 3600) -> {result, ...} in the same order, or nil and
 * a message naming how many are not done when the timeout passes. */
static int l_wait(lua_State *L) {
  lqueue *lq = check_queue(L);
  luaL_checktype(L, 2, LUA_TTABLE);
  double timeout = luaL_optnumber(L, 3, 3600);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 2);
  lua_createtable(L, (int)n, 0); /* 4: results */
  int64_t deadline = bt_wall_ms() + (int64_t)(timeout * 1000);
  lua_Integer done = 0;
  int pause = 10; /* ms between polls: from 10 to 200, so short jobs are seen at once */
  for (;;) {
    for (lua_Integer i = 1; i <= n; i++) {
      if (lua_rawgeti(L, 4, i) != LUA_TNIL) { /* already final */
        lua_pop(L, 1);
        continue;
      }
      lua_pop(L, 1);
      lua_rawgeti(L, 2, i);
      const char *id = lua_tostring(L, -1);
      if (!id) return luaL_error(L, "bt.jobs wait: item %d is not a run_id", (int)i);
      bt_job j;
      bool found = false;
      bt_err err = {0};
      if (bt_queue_get(lq->q, id, &j, &found, &err)) {
        lua_pushfstring(L, "bt.jobs wait: %s", err.msg);
        bt_err_clear(&err);
        return lua_error(L);
      }
      if (!found) return luaL_error(L, "bt.jobs wait: no job %s in this queue", id);
      lua_pop(L, 1);
      if (bt_job_state_final(j.state)) {
        push_result(L, &j);
        lua_rawseti(L, 4, i);
        done++;
      }
      bt_job_clear(&j);
    }
    if (done == n) return 1;
    if (bt_wall_ms() >= deadline) {
      lua_pushnil(L);
      lua_pushfstring(L, "bt.jobs wait: %d of %d job(s) not done after %f s", (int)(n - done),
                      (int)n, timeout);
      return 2;
    }
    sleep_ms(pause);
    if (pause < 200) pause *= 2;
  }
}

int bt_lua_open_jobs(lua_State *L) {
  if (luaL_newmetatable(L, QUEUE_MT)) {
    static const luaL_Reg methods[] = {
        {"submit", l_submit}, {"wait", l_wait}, {"close", l_close}, {NULL, NULL}};
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_close);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_queue);
  lua_setfield(L, -2, "queue");
  return 1;
}
