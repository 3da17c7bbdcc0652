/* scheduler.h - fires the schedules of config/schedules.lua (schedules.h) while a
 * process runs (`btrun serve`), and one schedule on demand (`btrun schedules run`).
 *
 * Each fire is identified by (schedule, fire time):
 *   - a backtest fire is a queue job (queue.h) with origin "schedule" (or "manual"),
 *     correlation id "schedule:<name>@<fire time ISO>" and unique key
 *     "schedule:<name>@<fire ms>": however many schedulers share the queue, and across
 *     restarts, it is enqueued once;
 *   - a perf fire is run by the scheduler that claims it in the ledger (sched_ledger.h):
 *     the window holding the fire's local day is summarised, targets evaluated and
 *     alerts raised exactly as `btrun perf` does; its outcome (healthy/degraded) goes to
 *     the ledger and the log.
 * After downtime (the shared cursor is older than the grace period) a schedule's
 * catch_up decides what happens to the fires missed. The schedules file is reloaded
 * when it changes or on bt_scheduler_reload (SIGHUP); a bad edit is logged and the
 * previous schedules keep running. docs/schedules.md. */
#ifndef BT_SCHEDULER_H
#define BT_SCHEDULER_H

#include <stdbool.h>
#include <stdint.h>

#include "perf.h"
#include "queue.h"
#include "sched_clock.h"
#include "sched_ledger.h"
#include "schedules.h"

/* What firing needs; nothing here is owned. */
typedef struct bt_sched_env {
  bt_queue *queue;           /* backtest jobs are enqueued here */
  bt_sched_ledger *ledger;
  const bt_perf_cfg *perf;   /* the `perf` config section: defaults for perf jobs */
  const char *user_id;       /* of the jobs ("" = none) */
  void (*on_enqueued)(void *ud); /* a new job is queued (wakes the workers); may be NULL */
  void *enqueued_ud;
  char owner[64];            /* host:pid, recorded with each fire */
} bt_sched_env;

typedef struct bt_sched_result {
  bool fired;                /* false: another scheduler had fired it already */
  char run_id[40];           /* backtest: the job */
  char correlation_id[128];
  char outcome[16];          /* perf: "healthy" or "degraded" */
  bt_perf_eval eval;         /* perf: the evaluation */
} bt_sched_result;

/* The ledger of a data dir: <data_dir>/schedules.db. */
int bt_sched_ledger_open_in(const char *data_dir, bt_sched_ledger **out, bt_err *err);
void bt_sched_env_owner(char owner[64]);

/* Fire s at fire_ms with origin "schedule" or "manual". A failed perf job is recorded
 * (ledger state "failed", ERROR log) and returned as an error. */
int bt_sched_trigger(const bt_sched_env *env, const bt_schedule *s, int64_t fire_ms,
                  const char *origin, bt_sched_result *r, bt_err *err);

typedef struct bt_scheduler bt_scheduler;

typedef struct bt_scheduler_opts {
  bt_queue *queue;           /* not owned */
  const char *data_dir;      /* where the ledger lives */
  const bt_perf_cfg *perf;   /* copied */
  const char *user_id;
  const char *path;          /* schedules file */
  bool explicit_path;        /* a missing file is an error (else: no schedules) */
  void (*on_enqueued)(void *ud); /* as in bt_sched_env */
  void *enqueued_ud;
  double tick_s;             /* real seconds between checks; 0 = 1 s (less with a
                                sped-up test clock, sched_clock.h) */
} bt_scheduler_opts;

/* Load the schedules (an error here fails the start), open the ledger, start the thread. */
int bt_scheduler_start(const bt_scheduler_opts *o, bt_scheduler **out, bt_err *err);
/* The scheduler's ledger (thread-safe), e.g. for the service's API. */
bt_sched_ledger *bt_scheduler_ledger(bt_scheduler *s);
/* Reload the schedules file at the next tick. Async-signal-safe. */
void bt_scheduler_reload(bt_scheduler *s);
/* Stop the thread (a fire in progress completes) and free everything. */
void bt_scheduler_stop(bt_scheduler *s);

#endif
