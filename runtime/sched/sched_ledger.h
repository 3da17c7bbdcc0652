/* sched_ledger.h - what the scheduler fired, shared by every scheduler on one data dir.
 *
 * A SQLite file (<data_dir>/schedules.db, WAL, short transactions) with one row per fire,
 * unique on (schedule, fire time), and per schedule the instant up to which fires were
 * considered (the cursor), which is how a restarted scheduler knows what it missed.
 * The queue's unique key makes a backtest fire exactly once even across machines; the
 * ledger is what makes a perf fire (run by the scheduler itself) exactly once among the
 * schedulers sharing a data dir, and what `btrun schedules history` shows. */
#ifndef BT_SCHED_LEDGER_H
#define BT_SCHED_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "common.h"

typedef struct bt_sched_ledger bt_sched_ledger;

typedef struct bt_sched_fire {
  char schedule[128];
  int64_t fire_ms;          /* the scheduled instant (manual: when asked) */
  char kind[16];            /* "backtest", "perf" */
  char origin[16];          /* "schedule", "manual" */
  char run_id[40];          /* backtest: the queue job; "" otherwise */
  char state[16];           /* "enqueued", "running", "done", "failed" */
  char outcome[16];         /* perf: "healthy", "degraded"; "" otherwise */
  char detail[512];         /* JSON object: numbers of the outcome, or the error */
  char owner[64];           /* host:pid of the scheduler that fired it */
  int64_t created_ms, finished_ms;
} bt_sched_fire;

int bt_sched_ledger_open(const char *path, bt_sched_ledger **out, bt_err *err);
void bt_sched_ledger_close(bt_sched_ledger *l);

/* *found false for a schedule never seen. */
int bt_sched_ledger_cursor(bt_sched_ledger *l, const char *schedule, int64_t *upto_ms,
                           bool *found, bt_err *err);
/* cursor = max(cursor, upto_ms). */
int bt_sched_ledger_advance(bt_sched_ledger *l, const char *schedule, int64_t upto_ms,
                            bt_err *err);
/* Insert f unless a row with its (schedule, fire_ms) exists: *claimed tells which. */
int bt_sched_ledger_claim(bt_sched_ledger *l, const bt_sched_fire *f, bool *claimed,
                          bt_err *err);
/* Set state, outcome, detail and finished_ms of a fire. */
int bt_sched_ledger_finish(bt_sched_ledger *l, const char *schedule, int64_t fire_ms,
                           const char *state, const char *outcome, const char *detail,
                           int64_t finished_ms, bt_err *err);
/* Fires newest first (schedule NULL = all), at most limit; heap array of *n, free it. */
int bt_sched_ledger_list(bt_sched_ledger *l, const char *schedule, int limit,
                         bt_sched_fire **out, size_t *n, bt_err *err);

/* {"schedule","fire_time","kind","origin","state","outcome","run_id","owner","detail"}:
 * one fire as `btrun schedules history --format json` and GET /v1/schedules/fires show it. */
cJSON *bt_sched_fire_json(const bt_sched_fire *f);

#endif
