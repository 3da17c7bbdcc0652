#define _GNU_SOURCE /* pthread_setname_np */
/* run_watchdog.c - the run's time limit and SIGINT/SIGTERM: a thread that sets the stop
 * flag and stops Lua at its next instruction. */
#include <lauxlib.h>
#include <pthread.h>
#include <time.h>

#include "luabind.h"
#include "run_internal.h"

static void stop_hook(lua_State *L, lua_Debug *ar) {
  (void)ar;
  bt_run *run = bt_lua_run(L);
  /* The hook stays armed: a strategy that catches the error with pcall meets it again
   * at its next instruction, so it cannot outlive the limit. */
  if (run && atomic_load(&run->stop) == BT_STOP_INTERRUPT)
    luaL_error(L, "btrun: interrupted");
  luaL_error(L, "btrun: timeout after %f s", run ? run->app->cfg.timeout_s : 0.0);
}

/* Sleeps until the deadline (or the run ends), polling for SIGINT/SIGTERM; then asks
 * Lua to stop at its next instruction. lua_sethook is safe to call asynchronously
 * (lua.c does it from a signal handler). */
static void *watchdog_main(void *arg) {
  pthread_setname_np(pthread_self(), "bt-watchdog");
  bt_run *run = arg;
  uint64_t deadline = bt_now_ns() + (uint64_t)(run->app->cfg.timeout_s * 1e9);
  pthread_mutex_lock(&run->wd_mu);
  while (!run->finished) {
    uint64_t now = bt_now_ns();
    int reason = bt_interrupted ? BT_STOP_INTERRUPT : now >= deadline ? BT_STOP_TIMEOUT : 0;
    if (reason) {
      atomic_store(&run->stop, reason);
      lua_sethook(run->L, stop_hook, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
      break;
    }
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 50 * 1000000;
    if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
    pthread_cond_timedwait(&run->wd_cv, &run->wd_mu, &ts);
  }
  pthread_mutex_unlock(&run->wd_mu);
  return NULL;
}

void run_watchdog_start(bt_run *run) {
  pthread_mutex_init(&run->wd_mu, NULL);
  pthread_cond_init(&run->wd_cv, NULL);
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
  if (atomic_load(&run->stop) == BT_STOP_INTERRUPT)
    return bt_errf(err, BT_ELIMIT, "interrupted", "run interrupted by signal");
  return bt_errf(err, BT_ELIMIT, "timeout", "run exceeded the time limit of %g s",
                 run->app->cfg.timeout_s);
}

