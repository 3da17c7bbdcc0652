/* lua_sweep.c - bt.sweep{...}: the backtests of a parameter grid on every core.
 *
 * Worker threads take tasks from sweep_sched.h: start a run (bt_run_start: it loads the
 * strategy file into a fresh lua_State of its own and runs the loop on the worker's
 * thread; nothing Lua crosses threads: wrk's model), or end a run whose loop is done
 * (bt_run_finish: report, observers, teardown), possibly on another worker. The caller's
 * state only prepares the grid and receives the results, in grid order, after every
 * worker has joined. The strings the workers read (paths, parameter values) are anchored
 * in the caller's state, which runs nothing meanwhile. */
#define _GNU_SOURCE
#include "lua_sweep.h"

#include <lauxlib.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lua_backtest.h"
#include "log.h"
#include "luabind.h"
#include "run.h"
#include "sweep_sched.h"

#define MAX_DATA 64
#define MAX_NAMES 16      /* grid dimensions */
#define MAX_FIXED 48      /* params = {...} besides the grid */
#define MAX_RUNS 100000
#define MAX_WORKERS 256
#define A_ANCHOR 2        /* stack slot of the anchor table */

typedef struct sweep_run {
  const char *values[MAX_NAMES]; /* the grid point, one value per name */
  int combo;                     /* index in the full cartesian product */
  bt_run_result res;
  int rc;
  char error[768], error_type[32];
} sweep_run;

typedef struct sweep {
  bt_app *app;
  const char *strategy, *out, *correlation_id;
  const char *data[MAX_DATA];
  int ndata;
  const char *names[MAX_NAMES];
  int nnames;
  bt_param fixed[MAX_FIXED];
  int nfixed;
  bool has_cash, write_files;
  bt_dec cash;
  sweep_run *runs;
  int nruns;
  pthread_mutex_t mu;      /* guards sched */
  bt_sweep_sched sched;
} sweep;

/* A started run until its end: what bt_run_finish needs kept (spec, its params, its
 * directory name). */
typedef struct sweep_job {
  sweep_run *r;
  bt_param params[MAX_NAMES + MAX_FIXED];
  char out[512];
  bt_run_spec spec;
  bt_run_pending *pending;
  int64_t loop_cpu_ns;
} sweep_job;

static const char *anchor(lua_State *L, int idx) {
  const char *s = lua_tostring(L, idx);
  lua_pushvalue(L, idx);
  lua_rawseti(L, A_ANCHOR, (lua_Integer)lua_rawlen(L, A_ANCHOR) + 1);
  return s;
}

/* A grid value as the text --param would give: numbers as Lua prints them. */
static const char *anchor_value(lua_State *L, int idx, const char *name) {
  int t = lua_type(L, idx);
  if (t != LUA_TNUMBER && t != LUA_TSTRING && t != LUA_TBOOLEAN)
    luaL_error(L, "bt.sweep: grid.%s values must be numbers, strings or booleans", name);
  luaL_tolstring(L, idx, NULL);
  const char *s = anchor(L, -1);
  lua_pop(L, 1);
  return s;
}

/* Directory name of a run under `out`: name value pairs joined by '-' ("fast5-slow30"),
 * anything but [A-Za-z0-9._] replaced by '_'. */
static void run_dir(const sweep *s, const sweep_run *r, char *buf, size_t n) {
  size_t len = (size_t)snprintf(buf, n, "%s/", s->out);
  for (int k = 0; k < s->nnames && len < n; k++) {
    char part[256];
    snprintf(part, sizeof part, "%s%s%s", k ? "-" : "", s->names[k], r->values[k]);
    for (char *c = part; *c && len + 1 < n; c++) {
      bool ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                (*c >= '0' && *c <= '9') || *c == '.' || *c == '_' || (*c == '-' && c == part);
      buf[len++] = ok ? *c : '_';
    }
    buf[len < n ? len : n - 1] = '\0';
  }
}

static void run_failed(sweep_run *r, int rc, const char *msg, const char *type) {
  r->rc = rc;
  r->res.status = BT_RUN_FAILED;
  snprintf(r->error, sizeof r->error, "%s", msg);
  snprintf(r->error_type, sizeof r->error_type, "%s", type);
}

static int64_t thread_cpu_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Runs grid point r up to the end of its loop; returns what is left to end it, NULL
 * when it did not start. */
static sweep_job *start_run(sweep *s, sweep_run *r) {
  if (bt_run_interrupted()) {
    run_failed(r, BT_ELIMIT, "not started: the sweep was interrupted", "interrupted");
    return NULL;
  }
  sweep_job *j = calloc(1, sizeof *j);
  if (!j) {
    run_failed(r, BT_ENOMEM, "out of memory", "out_of_memory");
    return NULL;
  }
  j->r = r;
  int np = 0;
  for (int k = 0; k < s->nfixed; k++) j->params[np++] = s->fixed[k];
  for (int k = 0; k < s->nnames; k++) j->params[np++] = (bt_param){s->names[k], r->values[k]};
  if (s->out) run_dir(s, r, j->out, sizeof j->out);
  j->spec = (bt_run_spec){.strategy_path = s->strategy, .data = s->data, .ndata = s->ndata,
                          .params = j->params, .nparams = np, .has_cash = s->has_cash,
                          .cash = s->cash, .out_dir = s->out ? j->out : NULL,
                          .correlation_id = s->correlation_id, .origin = "script",
                          .write_files = s->write_files};
  bt_err err = {0};
  int64_t t0 = thread_cpu_ns();
  int rc = bt_run_start(s->app, &j->spec, &r->res, &j->pending, &err);
  j->loop_cpu_ns = thread_cpu_ns() - t0;
  if (rc) {
    run_failed(r, rc, err.msg, err.type[0] ? err.type : "error");
    free(j);
    j = NULL;
  }
  bt_err_clear(&err);
  return j;
}

static void end_run(sweep_job *j) {
  sweep_run *r = j->r;
  bt_err err = {0};
  int64_t t0 = thread_cpu_ns();
  r->rc = bt_run_finish(j->pending, &err);
  /* each phase's CPU time on its thread: what scripts/bench-sweep.sh schedules */
  bt_log("sweep", BT_LOG_DEBUG, "sweep_run_cpu", BT_F_STR("run_id", r->res.run_id),
         BT_F_STR("correlation_id", r->res.correlation_id),
         BT_F_INT("loop_cpu_us", j->loop_cpu_ns / 1000),
         BT_F_INT("end_cpu_us", (thread_cpu_ns() - t0) / 1000));
  if (r->rc) run_failed(r, r->rc, err.msg, err.type[0] ? err.type : "error");
  bt_err_clear(&err);
  free(j);
}

static void *worker_main(void *arg) {
  pthread_setname_np(pthread_self(), "bt-sweep");
  sweep *s = arg;
  sweep_job *done = NULL; /* a run whose loop this worker just ran */
  for (;;) {
    int i = 0;
    void *end = NULL;
    pthread_mutex_lock(&s->mu);
    if (done) bt_sweep_sched_ended(&s->sched, done);
    bt_sweep_task t = bt_sweep_sched_next(&s->sched, &i, &end);
    pthread_mutex_unlock(&s->mu);
    done = NULL;
    if (t == BT_SWEEP_NONE) break;
    if (t == BT_SWEEP_START) done = start_run(s, &s->runs[i]);
    else end_run(end);
  }
  return NULL;
}

/* Runs every run on `workers` threads (the calling thread waits); with one worker, or
 * when no thread can be started, on the calling thread. Each run's end is queued while
 * fewer than `workers` ends wait (sweep_sched.h). */
static int run_all(sweep *s, int workers) {
  if (bt_sweep_sched_init(&s->sched, s->nruns, workers, workers)) return -1;
  pthread_mutex_init(&s->mu, NULL);
  pthread_t th[MAX_WORKERS];
  int started = 0;
  if (workers > 1) {
    /* SIGINT/SIGTERM go to the calling thread: its handler stops every run. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    while (started < workers && pthread_create(&th[started], NULL, worker_main, s) == 0)
      started++;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  if (!started) worker_main(s);
  for (int i = 0; i < started; i++) pthread_join(th[i], NULL);
  pthread_mutex_destroy(&s->mu);
  bt_sweep_sched_free(&s->sched);
  return 0;
}

/* strategy: a file, else a module name found along package.path. */
static const char *strategy_path(lua_State *L, int idx) {
  if (lua_type(L, idx) != LUA_TSTRING)
    luaL_error(L, "bt.sweep: strategy must be a file path or a module name (a strategy "
                  "table cannot be shared by the workers' Lua states: put it in a file)");
  const char *name = lua_tostring(L, idx);
  struct stat st;
  if (stat(name, &st) == 0) return anchor(L, idx);
  lua_getglobal(L, "package");
  if (lua_istable(L, -1) && lua_getfield(L, -1, "searchpath") == LUA_TFUNCTION) {
    lua_pushvalue(L, idx);
    lua_getfield(L, -3, "path");
    lua_call(L, 2, 1);
    if (lua_isstring(L, -1)) {
      const char *p = anchor(L, -1);
      lua_pop(L, 2);
      return p;
    }
  }
  return luaL_error(L, "bt.sweep: strategy '%s' is neither a file nor a module on "
                       "package.path", name), NULL;
}

static void read_data(lua_State *L, sweep *s) {
  int dt = lua_getfield(L, 1, "data");
  if (dt == LUA_TSTRING) s->data[s->ndata++] = anchor(L, -1);
  else if (dt == LUA_TTABLE) {
    int n = (int)lua_rawlen(L, -1);
    if (n > MAX_DATA) luaL_error(L, "bt.sweep: at most %d data files", MAX_DATA);
    for (int i = 1; i <= n; i++) {
      if (lua_rawgeti(L, -1, i) != LUA_TSTRING) luaL_error(L, "bt.sweep: data[%d] must be a path", i);
      s->data[s->ndata++] = anchor(L, -1);
      lua_pop(L, 1);
    }
  } else if (dt != LUA_TNIL) {
    luaL_error(L, "bt.sweep: data must be a path or a list of paths");
  }
  lua_pop(L, 1);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* grid = {name = {values}, ...}: names sorted, so the product's order does not depend
 * on the table's. Leaves the grid table at `grid_idx`. */
static void read_grid(lua_State *L, sweep *s, int grid_idx) {
  lua_pushnil(L);
  while (lua_next(L, grid_idx)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "bt.sweep: grid keys must be parameter names");
    if (!lua_istable(L, -1) || lua_rawlen(L, -1) == 0)
      luaL_error(L, "bt.sweep: grid.%s must be a non-empty list of values", lua_tostring(L, -2));
    if (s->nnames == MAX_NAMES) luaL_error(L, "bt.sweep: at most %d grid parameters", MAX_NAMES);
    s->names[s->nnames++] = anchor(L, -2);
    lua_pop(L, 1);
  }
  if (!s->nnames) luaL_error(L, "bt.sweep: grid has no parameters");
  qsort(s->names, (size_t)s->nnames, sizeof s->names[0], cmp_str);
}

static void read_fixed(lua_State *L, sweep *s) {
  if (lua_getfield(L, 1, "params") == LUA_TTABLE) {
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, "bt.sweep: param names must be strings");
      const char *name = lua_tostring(L, -2);
      for (int k = 0; k < s->nnames; k++)
        if (strcmp(s->names[k], name) == 0)
          luaL_error(L, "bt.sweep: '%s' is both in params and in grid", name);
      if (s->nfixed == MAX_FIXED) luaL_error(L, "bt.sweep: too many params");
      s->fixed[s->nfixed].value = anchor_value(L, -1, name);
      s->fixed[s->nfixed].name = anchor(L, -2);
      s->nfixed++;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1);
}

/* The grid point's parameters as a Lua table of the grid's own values. */
static void push_point(lua_State *L, const sweep *s, int grid_idx, int combo) {
  lua_createtable(L, 0, s->nnames);
  for (int k = s->nnames - 1; k >= 0; k--) {
    lua_getfield(L, grid_idx, s->names[k]);
    int n = (int)lua_rawlen(L, -1);
    lua_rawgeti(L, -1, combo % n + 1);
    combo /= n;
    lua_setfield(L, -3, s->names[k]);
    lua_pop(L, 1);
  }
}

/* bt.sweep{strategy = path|module, data = path|{paths}, grid = {name = {values}},
 *          params = {}, filter = function(p) end, workers = n, out = dir, cash = n,
 *          correlation_id = id, write_files = true}
 * Returns the list of results (bt.backtest's tables plus `params`), in grid order. */
static int l_sweep(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  lua_newtable(L); /* A_ANCHOR */
  if (bt_lua_run(L)) return luaL_error(L, "bt.sweep cannot be called during a run");
  sweep *s = lua_newuserdatauv(L, sizeof *s, 0); /* 3: freed with the call */
  memset(s, 0, sizeof *s);
  s->app = bt_lua_app(L);
  s->write_files = true;

  lua_getfield(L, 1, "strategy");
  s->strategy = strategy_path(L, lua_gettop(L));
  lua_settop(L, 3);
  read_data(L, s);
  if (lua_getfield(L, 1, "grid") != LUA_TTABLE) return luaL_error(L, "bt.sweep: grid = {name = {values}, ...} is required");
  int grid = lua_gettop(L); /* 4 */
  read_grid(L, s, grid);
  read_fixed(L, s);

  /* every value once, as text, for the workers */
  int dims[MAX_NAMES];
  const char **vals[MAX_NAMES];
  long long total = 1;
  for (int k = 0; k < s->nnames; k++) {
    lua_getfield(L, grid, s->names[k]);
    dims[k] = (int)lua_rawlen(L, -1);
    total *= dims[k];
    if (total > MAX_RUNS) return luaL_error(L, "bt.sweep: the grid has more than %d points", MAX_RUNS);
    vals[k] = lua_newuserdatauv(L, (size_t)dims[k] * sizeof *vals[k], 0);
    lua_rawseti(L, A_ANCHOR, (lua_Integer)lua_rawlen(L, A_ANCHOR) + 1);
    for (int j = 0; j < dims[k]; j++) {
      lua_rawgeti(L, -1, j + 1);
      vals[k][j] = anchor_value(L, -1, s->names[k]);
      lua_pop(L, 1);
      for (int i = 0; i < j; i++) /* two runs would share a directory */
        if (strcmp(vals[k][i], vals[k][j]) == 0)
          return luaL_error(L, "bt.sweep: grid.%s has %s twice", s->names[k], vals[k][j]);
    }
    lua_pop(L, 1);
  }

  bool has_filter = lua_getfield(L, 1, "filter") == LUA_TFUNCTION; /* 5 */
  if (!has_filter && !lua_isnil(L, -1)) return luaL_error(L, "bt.sweep: filter must be a function");
  s->runs = lua_newuserdatauv(L, (size_t)total * sizeof *s->runs, 0); /* 6 */
  for (int c = 0; c < (int)total; c++) {
    if (has_filter) {
      lua_pushvalue(L, 5);
      push_point(L, s, grid, c);
      lua_call(L, 1, 1);
      bool keep = lua_toboolean(L, -1);
      lua_pop(L, 1);
      if (!keep) continue;
    }
    sweep_run *r = &s->runs[s->nruns++];
    memset(r, 0, sizeof *r);
    r->combo = c;
    for (int k = s->nnames - 1, rest = c; k >= 0; k--) {
      r->values[k] = vals[k][rest % dims[k]];
      rest /= dims[k];
    }
  }

  if (lua_getfield(L, 1, "cash") != LUA_TNIL) {
    s->has_cash = true;
    if (lua_isinteger(L, -1)) s->cash = bt_dec_from_int(lua_tointeger(L, -1));
    else if (!bt_dec_from_double(luaL_checknumber(L, -1), &s->cash) || s->cash.v <= 0)
      return luaL_error(L, "bt.sweep: cash must be a positive number");
  }
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "out") == LUA_TSTRING) s->out = anchor(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "correlation_id") == LUA_TSTRING) s->correlation_id = anchor(L, -1);
  lua_pop(L, 1);
  if (lua_getfield(L, 1, "write_files") == LUA_TBOOLEAN) s->write_files = lua_toboolean(L, -1);
  lua_pop(L, 1);
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  lua_Integer workers = cores > 0 ? cores : 1;
  if (lua_getfield(L, 1, "workers") != LUA_TNIL) {
    if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1)
      return luaL_error(L, "bt.sweep: workers must be a positive integer");
    workers = lua_tointeger(L, -1);
  }
  lua_pop(L, 1);
  if (workers > MAX_WORKERS) workers = MAX_WORKERS;
  if (workers > s->nruns) workers = s->nruns;

  if (run_all(s, (int)workers)) return luaL_error(L, "bt.sweep: out of memory");

  lua_createtable(L, s->nruns, 0);
  for (int i = 0; i < s->nruns; i++) {
    sweep_run *r = &s->runs[i];
    bt_err err = {0};
    snprintf(err.msg, sizeof err.msg, "%s", r->error);
    snprintf(err.type, sizeof err.type, "%s", r->error_type);
    bt_lua_push_run_result(L, &r->res, &err);
    push_point(L, s, grid, r->combo);
    lua_setfield(L, -2, "params");
    lua_rawseti(L, -2, i + 1);
  }
  return 1;
}

int bt_lua_open_sweep(lua_State *L) {
  lua_pushcfunction(L, l_sweep);
  return 1;
}
