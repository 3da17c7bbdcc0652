#define _GNU_SOURCE /* pthread_setname_np */
/* run_watchdog.c - the run's time limit and SIGINT/SIGTERM: a thread that sets the stop
 * flag and stops Lua at its next instruction, in the main thread and in every coroutine
 * being resumed; a run that still does not stop is stuck in C and ends the process
 * (bt_app.on_stuck). */
#include <lauxlib.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>

#include "luabind.h"
#include "run_internal.h"

#define STOP_MASK (LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT)

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  bt_run *run = bt_lua_run(L);
  /* The hook stays armed: a strategy that catches the error with pcall meets it again
   * at its next instruction, so it cannot outlive the limit. */
  bool interrupted = run && atomic_load(&run->stop) == BT_LUA_STOP_INTERRUPT;
  bt_lua_raise_stop(L, interrupted ? BT_LUA_STOP_INTERRUPT : BT_LUA_STOP_TIMEOUT,
                    run ? run->app->cfg.timeout_s : 0.0);
}

/* ---- coroutines: tracked while resumed, hooked when the run is stopping ---- */

static bool co_push(bt_run *run, lua_State *co) {
  pthread_mutex_lock(&run->wd_mu);
  bool ok = run->nco < (int)(sizeof run->co_active / sizeof run->co_active[0]);
  if (ok) run->co_active[run->nco++] = co;
  if (atomic_load(&run->stop)) lua_sethook(co, stop_hook, STOP_MASK, 1);
  pthread_mutex_unlock(&run->wd_mu);
  return ok;
}

static void co_pop(bt_run *run) {
  pthread_mutex_lock(&run->wd_mu);
  run->nco--;
  pthread_mutex_unlock(&run->wd_mu);
}

/* coroutine.resume(co, ...): the original (upvalue 1) with co tracked meanwhile. */
static int wd_resume(lua_State *L) {
  lua_State *co = lua_tothread(L, 1);
  luaL_argexpected(L, co, 1, "coroutine");
  bt_run *run = bt_lua_run(L);
  bool tracked = run && run->watchdog_started && co_push(run, co);
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  int st = lua_pcall(L, n, LUA_MULTRET, 0);
  if (tracked) co_pop(run);
  if (st != LUA_OK) return lua_error(L);
  return lua_gettop(L);
}

/* The function coroutine.wrap returns: resume through wd_resume (upvalue 2) the
 * coroutine (upvalue 1); an error in it is raised in the caller, as Lua's wrap does. */
static int wd_wrapped(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_rotate(L, 1, 2);
  lua_call(L, n + 1, LUA_MULTRET);
  if (!lua_toboolean(L, 1)) return lua_error(L);
  return lua_gettop(L) - 1;
}

/* coroutine.wrap(f): coroutine.create (upvalue 1) plus wd_wrapped. */
static int wd_wrap(lua_State *L) {
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_pushvalue(L, 1);
  lua_call(L, 1, 1);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_pushcclosure(L, wd_wrapped, 2);
  return 1;
}

/* Once per state: route coroutine.resume/wrap through the tracking versions. They find
 * the run through the state (bt_lua_run), so they also serve later runs of a script. */
static void hook_coroutines(lua_State *L) {
  if (lua_getfield(L, LUA_REGISTRYINDEX, "btrun.co_hooked") != LUA_TNIL) {
    lua_pop(L, 1);
    return;
  }
  lua_pop(L, 1);
  lua_pushboolean(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "btrun.co_hooked");
  if (lua_getglobal(L, "coroutine") != LUA_TTABLE) {
    lua_pop(L, 1);
    return;
  }
  int co = lua_gettop(L);
  lua_getfield(L, co, "resume");
  lua_pushcclosure(L, wd_resume, 1);
  lua_pushvalue(L, -1);
  lua_setfield(L, co, "resume");
  int resume = lua_gettop(L);
  lua_getfield(L, co, "create");
  lua_pushvalue(L, resume);
  lua_pushcclosure(L, wd_wrap, 2);
  lua_setfield(L, co, "wrap");
  lua_pop(L, 2);
}

/* ---- the watchdog thread ---- */

static void timed_wait(bt_run *run, int ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += ms * 1000000L;
  if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
  pthread_cond_timedwait(&run->wd_cv, &run->wd_mu, &ts);
}

/* Sleeps until the deadline (or the run ends), polling for SIGINT/SIGTERM; then asks
 * Lua to stop at its next instruction. lua_sethook is safe to call asynchronously
 * (lua.c does it from a signal handler). */
static void *watchdog_main(void *arg) {
  pthread_setname_np(pthread_self(), "bt-watchdog");
  bt_run *run = arg;
  uint64_t deadline = bt_now_ns() + (uint64_t)(run->app->cfg.timeout_s * 1e9);
  uint64_t stopped_at = 0;
  pthread_mutex_lock(&run->wd_mu);
  while (!run->finished) {
    uint64_t now = bt_now_ns();
    int reason = bt_interrupted ? BT_LUA_STOP_INTERRUPT : now >= deadline ? BT_LUA_STOP_TIMEOUT : 0;
    if (reason && !stopped_at) {
      atomic_store(&run->stop, reason);
      lua_sethook(run->L, stop_hook, STOP_MASK, 1);
      for (int i = 0; i < run->nco; i++) lua_sethook(run->co_active[i], stop_hook, STOP_MASK, 1);
      stopped_at = now;
    } else if (stopped_at && now - stopped_at >= (uint64_t)BT_RUN_STUCK_GRACE_S * 1000000000u &&
               run->app->on_stuck) {
      char msg[200];
      snprintf(msg, sizeof msg, "run %s did not stop within %d s of its %s: the strategy is "
               "stuck in a C function (e.g. a catastrophic string pattern)", run->info.run_id,
               BT_RUN_STUCK_GRACE_S,
               atomic_load(&run->stop) == BT_LUA_STOP_INTERRUPT ? "interrupt" : "time limit");
      run->app->on_stuck(run->app, msg);
      stopped_at = now; /* on_stuck returned: ask again after another grace period */
    }
    timed_wait(run, 50);
  }
  pthread_mutex_unlock(&run->wd_mu);
  return NULL;
}

void run_watchdog_start(bt_run *run) {
  pthread_mutex_init(&run->wd_mu, NULL);
  pthread_cond_init(&run->wd_cv, NULL);
  run->nco = 0;
  hook_coroutines(run->L);
  run->watchdog_started = pthread_create(&run->watchdog, NULL, watchdog_main, run) == 0;
}

void run_watchdog_stop(bt_run *run) {
  if (!run->watchdog_started) return;
  pthread_mutex_lock(&run->wd_mu);
  run->finished = true;
  pthread_cond_signal(&run->wd_cv);
  pthread_mutex_unlock(&run->wd_mu);
  pthread_join(run->watchdog, NULL);
  lua_sethook(run->L, NULL, 0, 0);
  run->watchdog_started = false;
}

int run_stopped_error(bt_run *run, bt_err *err) {
  if (atomic_load(&run->stop) == BT_LUA_STOP_INTERRUPT)
    return bt_errf(err, BT_ELIMIT, "interrupted", "run interrupted by signal");
  return bt_errf(err, BT_ELIMIT, "timeout", "run exceeded the time limit of %g s",
                 run->app->cfg.timeout_s);
}
