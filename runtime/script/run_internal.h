/* run_internal.h - the state of one backtest, shared by the files of the run: run.c (start
 * to end), run_feeds.c, run_strategy.c, run_loop.c, run_fills.c, run_risk.c,
 * run_output.c and run_watchdog.c. Bindings see only its engine (engine.h). */
#ifndef BT_RUN_INTERNAL_H
#define BT_RUN_INTERNAL_H

#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>

#include <cjson/cJSON.h>

#include "broker.h"
#include "engine.h"
#include "bus.h"
#include "feed.h"
#include "ledger.h"
#include "log.h"
#include "metrics.h"
#include "run.h"

typedef struct bt_equity_sample {
  int64_t time;
  bt_dec equity, cash, position_value;
  double drawdown;
} bt_equity_sample;

typedef struct bt_run {
  bt_app *app;
  const bt_run_spec *spec;
  bt_run_info info;
  lua_State *L;
  bool owns_state;
  int ref_ctx, ref_bar, ref_fill;
  struct bt_ctx *ctx;          /* the strategy's ctx (lua_ctx.h), unbound when the run ends */
  int ref_on_start, ref_on_bar, ref_on_fill, ref_on_finish, ref_on_reject, ref_on_risk;

  bt_engine e;                 /* what bindings call (engine.h): broker, ledger, bus, feeds */
  bt_bar *next;                /* look-ahead bar per feed (merge) */
  bool *has_next;

  bt_metrics metrics;

  bt_bar current;              /* storage of the bar being processed */

  struct run_file *trades_f, *equity_f; /* run_output.c's buffered writers */
  char trades_tmp[600], equity_tmp[600];
  int64_t equity_day;          /* UTC day of the pending equity row */
  bool equity_pending;
  bt_equity_sample equity_last; /* last sample of equity_day, written when the day ends */
  bt_time_cache equity_tc;     /* equity.csv's time column, changed digits only */
  bt_dec_cache equity_dc[2];   /* its equity and cash columns: formatted when they change */
  bt_run_day *days;            /* equity.csv's rows, for the observers (run.h) */
  size_t ndays, cap_days;
  bool days_lost;              /* out of memory: no rows for the observers */
  uint64_t bars;
  bt_run_symbol *syms;         /* per feed: bars, closed trades, pnl (the summary's rows) */
  uint64_t rejections;
  /* Rejections are told once per reason when the run ends (run_rejections_log), not
   * once per order: a starved strategy may be refused on every bar. */
  struct run_reject_kind {
    char reason[48];           /* the reason up to its first ':' ("insufficient cash") */
    char first_reason[96];     /* the first one in full, with its amounts */
    uint64_t count, first_order;
    int64_t first_time;
    uint32_t first_symbol;
  } reject_kinds[4];
  int nreject_kinds;
  bool in_breach[2];           /* per risk rule: breached now (re-armed when back inside) */
  uint64_t risk_breaches;
  char event_json[256];        /* PORTFOLIO / RISK_BREACH payloads */

  /* limits: the watchdog thread sets stop and arms a Lua hook */
  pthread_t watchdog;
  bool watchdog_started;
  pthread_mutex_t wd_mu;
  pthread_cond_t wd_cv;
  bool finished;
  atomic_int stop;             /* 0, or a bt_lua_stop reason */
  /* coroutines being resumed (innermost last), so that the watchdog hooks them too: a
   * coroutine has its own hook, and one spinning never returns to the hooked thread */
  lua_State *co_active[256];
  int nco;
} bt_run;

/* run_feeds.c: opens the run's feeds and reads each one's first bar. */
int run_open_feeds(bt_run *run, bt_err *err);
/* Next bar in time order across feeds (ties: feed order). 1 = bar, 0 = done (inline:
 * it runs on every bar). */
static inline int run_next_bar(bt_run *run, bt_bar *bar, bt_err *err) {
  int best = -1;
  for (int i = 0; i < run->e.nfeeds; i++)
    if (run->has_next[i] && (best < 0 || run->next[i].time < run->next[best].time)) best = i;
  if (best < 0) return 0;
  *bar = run->next[best];
  int rc = bt_feed_next(run->e.feeds[best], &run->next[best], err);
  if (rc < 0) return rc;
  run->has_next[best] = rc == 1;
  return 1;
}

/* run_strategy.c: the strategy */
/* Its id: the file name without directory and ".lua". */
void run_strategy_id(const char *path, char *out, size_t n);
/* Loads the strategy file into the run's own state; leaves the strategy table on the
 * stack. A file that does not return a table is not a strategy. */
int run_load_strategy(bt_run *run, bt_err *err);
/* Resolves the callbacks of the table at index `strategy`, builds params and the ctx. */
int run_setup_strategy(bt_run *run, int strategy, bt_err *err);
/* Calls ref(ctx, [arg ref]) if the callback exists. */
int run_call_cb(bt_run *run, int ref, int arg_ref, bt_err *err);

/* run_loop.c: every bar through broker, ledger, on_bar, metrics and risk. */
int run_loop(bt_run *run, bt_err *err);

/* run_fills.c: the broker's report of one order (bt_broker_on_bar's callback, ud a
 * run_fill_ctx): a fill or a rejection. */
typedef struct run_fill_ctx {
  bt_run *run;
  bt_err *err;
  int rc;
} run_fill_ctx;
void run_on_broker_event(void *ud, const bt_order *order, const bt_fill *fill);
/* One warning per kind of rejection (at the end of the run). */
void run_rejections_log(bt_run *run);

/* run_risk.c: the risk limits after a bar, drawdown as the metrics computed it. */
int run_check_risk(bt_run *run, double drawdown, bt_err *err);

/* run_output.c: the run directory */
typedef struct run_file run_file;
int run_open_outputs(bt_run *run, bt_err *err);
void run_write_trade(bt_run *run, const bt_trade *t);
void run_equity_write(bt_run *run);
/* Per bar: keeps the day's latest sample; a new day writes the previous one (inline: it
 * runs on every bar). */
static inline void run_equity_sample(bt_run *run, int64_t time, bt_dec equity, double drawdown) {
  int64_t day = time >= 0 ? time / 86400 : (time - 86399) / 86400;
  if (run->equity_pending && day != run->equity_day) run_equity_write(run);
  run->equity_day = day;
  run->equity_pending = true;
  bt_dec cash = bt_ledger_cash(run->e.ledger);
  run->equity_last = (bt_equity_sample){time, equity, cash, {equity.v - cash.v}, drawdown};
}
/* Closes *f: written out and fsync'd when keep (the run completed), else dropped. */
int run_close_file(run_file **f, const char *tmp, bool keep, bt_err *err);
/* Gives a closed .part file its final name dir/name. */
int run_publish_file(const char *tmp, const char *dir, const char *name, bt_err *err);
/* Publishing failed after trades.jsonl / equity.csv got their final names: back to
 * .part, so that nothing looks complete without a result.json that says so. */
void run_unpublish(bt_run *run);
/* The metrics object shared by result.json and the observers. */
cJSON *run_metrics_json(const bt_metrics_result *m);
int run_write_result(bt_run *run, const bt_run_result *res, const cJSON *metrics,
                     const bt_err *failure, bt_err *err);
char *run_config_json(const bt_app *app, bt_dec cash);

/* run_watchdog.c: the time limit and signals */
void run_watchdog_start(bt_run *run);
void run_watchdog_stop(bt_run *run);
/* The error of a run stopped by the watchdog (timeout or interrupt). */
int run_stopped_error(bt_run *run, bt_err *err);

/* Set by the CLI's SIGINT/SIGTERM handler: every run in the process stops gracefully. */
extern volatile sig_atomic_t bt_interrupted;

#endif
