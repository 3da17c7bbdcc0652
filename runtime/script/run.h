/* run.h - one backtest, and the process-wide application context around it.
 *
 * bt_app lives for the whole process (a script may run many backtests): config,
 * data directory and the observers that modules plug in (event store, analytics).
 * bt_run_execute runs one backtest: loads the strategy into its own lua_State, merges
 * the data feeds in time order, drives broker -> ledger -> on_bar -> mark to market,
 * publishes every event on the run's bus, and writes the run directory. */
#ifndef BT_RUN_H
#define BT_RUN_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "common.h"
#include "config.h"
#include "metrics.h"
#include "uuid.h"

typedef enum { BT_RUN_COMPLETED = 0, BT_RUN_FAILED = 1 } bt_run_status;

/* One equity.csv row: the equity at the last bar of a UTC day. */
typedef struct bt_run_day {
  int64_t time;
  bt_dec equity;
} bt_run_day;

/* What observers learn about a run. Strings are owned by the run. */
typedef struct bt_run_info {
  char run_id[40];
  char correlation_id[128];
  char strategy_id[128];        /* strategy file name without directory and .lua */
  const char *strategy_path;
  const char *user_id;          /* NULL when unknown */
  const char *origin;           /* "cli", "script", "scheduled", "api" */
  const char *params_json;      /* {"fast":10,...} */
  const char *data_json;        /* [{"symbol":"ORCL","path":"..."}] */
  const char *config_json;      /* core config values used */
  const char *out_dir;
  int64_t started_ms;           /* wall clock */
} bt_run_info;

typedef struct bt_run_outcome {
  bt_run_status status;
  int64_t duration_ms;
  uint64_t bars, events;
  const bt_metrics_result *metrics;   /* NULL when failed */
  const char *metrics_json;           /* result.json metrics object, NULL when failed */
  const bt_err *error;                /* NULL when completed */
  /* equity.csv's rows, kept in memory for the report (run_days.h); NULL when the run
   * wrote no files or memory ran out */
  const bt_run_day *days;
  size_t ndays;
  bt_dec initial_cash;
} bt_run_outcome;

/* A module that wants to see every run registers an observer on the app.
 * on_start may subscribe to the bus; on_end is called exactly once per started run,
 * also when it failed. Either may be NULL. */
typedef struct bt_run_observer {
  const char *name;
  void *ud;
  /* on_start/on_end may run for several runs at once (a sweep's threads): the observer
   * locks its own shared state, briefly. false: the app serialises them (obs_mu). */
  bool concurrent;
  int (*on_start)(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err);
  void (*on_end)(void *ud, const bt_run_info *info, const bt_run_outcome *outcome);
  void (*on_close)(void *ud);   /* app shutdown: flush and free */
} bt_run_observer;

typedef struct bt_app {
  bt_config cfg;
  char correlation_id[128];     /* --correlation-id, "" = generate per run */
  const char *benchmark;        /* --benchmark SYM=PATH: a series report.html compares with */
  /* The shared database of runs, jobs and events (postgresql://...): --db, else
   * $BTRUN_DB; "" = none (the local SQLite files in data_dir). */
  char db[1024];
  bt_run_observer observers[8];
  int nobservers;
  /* obs_mu[i] is held around observers[i].on_start and .on_end unless the observer is
   * `concurrent`: runs of a sweep (bt.sweep) execute on several threads, and observers
   * keep app-wide state (lists of live runs, database connections). One lock per
   * observer, so one run's trace is stored while another's report renders. Their bus
   * subscribers run on the run's thread and touch only that run's state. */
  pthread_mutex_t obs_mu[8];
  /* The bar cache (barcache.h), made by the first run that opens a feed, under bars_mu;
   * NULL while none has or when config bar_cache is false. Freed by bt_app_close. */
  struct bt_barcache *bars;
  pthread_mutex_t bars_mu;
  /* Called on the watchdog thread when a run told to stop (time limit, SIGINT) has not
   * returned to Lua within BT_RUN_STUCK_GRACE_S: it is stuck in a C function (e.g. a
   * catastrophic string.find) that no hook can interrupt. app/ ends the process there;
   * NULL: keep waiting. */
  void (*on_stuck)(struct bt_app *app, const char *msg);
} bt_app;

#define BT_RUN_STUCK_GRACE_S 3

int bt_app_init(bt_app *app, const char *config_path, bool explicit_config, bt_err *err);
int bt_app_add_observer(bt_app *app, const bt_run_observer *obs);
void bt_app_close(bt_app *app);  /* calls every observer's on_close, frees config */

typedef struct bt_param { const char *name; const char *value; } bt_param;

typedef struct bt_run_spec {
  const char *strategy_path;
  const char *const *data;      /* "path" or "SYM=path"; NULL/0 = bundled sample */
  int ndata;
  const bt_param *params;       /* --param overrides, applied over the strategy's params */
  int nparams;
  bool has_cash;
  bt_dec cash;                  /* overrides config when has_cash */
  const char *out_dir;          /* NULL = <config out_dir>/<run_id> */
  const char *correlation_id;   /* NULL = app's, else generated */
  const char *run_id;           /* NULL = generate (a queued job brings its own) */
  const char *origin;           /* who started it: "cli", "script" (bt.backtest), "api",
                                 * ...; NULL = "cli" */
  bool write_files;             /* result.json, trades.jsonl, equity.csv */
  bool sandbox;                 /* sandbox the strategy file even when the config trusts
                                 * strategies (service mode sets it) */
  /* Called every BT_RUN_PROGRESS_BARS bars with the bars done and the fraction of the
   * data read (0..1); NULL = none. It runs on the backtest's thread: keep it cheap. */
  void (*on_progress)(void *ud, uint64_t bars, double fraction);
  void *progress_ud;
  /* A person watches this run (the CLI, a script's bt.backtest): on a terminal in
   * console format, runs longer than a second show a live progress line (bt_log_status)
   * instead of backtest_progress records. Service jobs leave it false. */
  bool live_progress;
} bt_run_spec;

#define BT_RUN_PROGRESS_BARS 1024

#define BT_RUN_MAX_SYMBOLS 64

/* One feed's share of a run (the console summary's per-symbol rows). */
typedef struct bt_run_symbol {
  char symbol[64];
  uint64_t bars, trades, wins;  /* closed trades; wins: pnl > 0 */
  bt_dec pnl;                   /* realized: sum of closed trades' pnl */
  bt_dec open_pnl;              /* unrealized pnl of the position open at the end */
  bool open;
} bt_run_symbol;

typedef struct bt_run_result {
  char run_id[40];
  char correlation_id[128];
  char out_dir[512];
  bt_run_status status;
  bt_metrics_result metrics;
  int64_t wall_ms;
  uint64_t bars, skipped_rows;
  double bars_per_s;
  int64_t first_time, last_time;  /* market time (UTC seconds) of the first and last bar */
  uint64_t rejected_orders;
  int nsymbols;                   /* feeds; the first BT_RUN_MAX_SYMBOLS are in symbols */
  bt_run_symbol symbols[BT_RUN_MAX_SYMBOLS];
} bt_run_result;

/* Run one backtest. Returns 0 when the backtest completed; otherwise an error code
 * with err filled (the run directory then holds a result.json with status "failed"). */
int bt_run_execute(bt_app *app, const bt_run_spec *spec, bt_run_result *res, bt_err *err);

/* One run in two parts, so that a sweep's worker can start its next run while another
 * worker ends this one (lua_sweep.c). bt_run_start does what bt_run_execute does up to
 * the end of the bar loop and the strategy's on_finish; bt_run_finish does the rest on
 * whichever thread calls it, under the run's log context: publishes the run directory,
 * calls the observers' on_end, logs the outcome, frees the run, and returns what
 * bt_run_execute would have. spec and res must stay valid until then. bt_run_start
 * returns 0 with *out set (the run then must be finished), or an error code with err
 * filled when no run started (its strategy file could not be loaded). */
typedef struct bt_run_pending bt_run_pending;
int bt_run_start(bt_app *app, const bt_run_spec *spec, bt_run_result *res,
                 bt_run_pending **out, bt_err *err);
int bt_run_finish(bt_run_pending *p, bt_err *err);

/* Run the strategy table on top of L's stack (popped) inside an existing state: how a
 * script's bt.backtest{strategy = {...}} runs. */
int bt_run_execute_in(bt_app *app, struct lua_State *L, const bt_run_spec *spec,
                      bt_run_result *res, bt_err *err);

/* Stop every run of this process at its next Lua instruction, as SIGINT/SIGTERM do
 * (the run fails with type "interrupted"). Async-signal-safe: for signal handlers. */
void bt_run_interrupt(void);
/* Whether bt_run_interrupt was called (a sweep starts no new run after it). */
bool bt_run_interrupted(void);


#endif
