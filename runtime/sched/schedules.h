/* schedules.h - the schedules file (config/schedules.lua): what runs when.
 *
 * The file is a Lua chunk returning a list of tables:
 *   { name = "nightly-orcl", cron = "30 17 * * MON-FRI", timezone = "America/New_York",
 *     catch_up = "skip", catch_up_max = 10,
 *     backtest = { strategy = "sma_cross", data = { "orcl" }, params = { fast = 10 } } }
 *   { name = "close-summary", cron = "5 16 * * 1-5", timezone = "America/New_York",
 *     perf = { window = "daily", trades = "logs/trades" } }
 * Exactly one of backtest (a job spec, job_spec.h) or perf per schedule. Every error names
 * the file, the schedule and the field; unknown keys are errors. docs/schedules.md. */
#ifndef BT_SCHEDULES_H
#define BT_SCHEDULES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "cron.h"
#include "job_spec.h"
#include "tz.h"

typedef enum { BT_SCHED_BACKTEST = 0, BT_SCHED_PERF } bt_sched_kind;

/* What a schedule does with fires missed while no scheduler ran. */
typedef enum {
  BT_CATCHUP_SKIP = 0, /* forget them (default) */
  BT_CATCHUP_LAST,     /* run the most recent one */
  BT_CATCHUP_ALL,      /* run each, at most catch_up_max (the most recent ones) */
} bt_catchup;

#define BT_SCHED_CATCHUP_MAX_DEFAULT 10
#define BT_SCHED_CATCHUP_MAX_LIMIT 1000

/* perf = { window, trades, out_dir, targets, alerts_file, timezone }: unset strings ("")
 * keep the `perf` section of config/btrun.lua; timezone "" = the schedule's zone. */
typedef struct bt_sched_perf {
  char window[16];
  char trades[1024], out_dir[1024], targets[1024], alerts_file[1024];
  char timezone[128];
} bt_sched_perf;

typedef struct bt_schedule {
  char name[BT_JOB_NAME_MAX + 1];
  char cron_text[128];
  bt_cron cron;
  bt_tz *tz;                 /* owned */
  bt_sched_kind kind;
  char *spec_json;           /* backtest: the canonical job spec (heap) */
  char strategy[BT_JOB_NAME_MAX + 1];
  bt_sched_perf perf;
  bt_catchup catch_up;
  int catch_up_max;
} bt_schedule;

typedef struct bt_schedules {
  char path[1024];
  bt_schedule *v;
  size_t n;
  uint64_t hash;             /* of the file's bytes: reloads compare it */
} bt_schedules;

#define BT_SCHEDULES_DEFAULT "config/schedules.lua"

/* Load path. A missing file is an empty set unless explicit_path. On error *out is empty. */
int bt_schedules_load(const char *path, bool explicit_path, bt_schedules *out, bt_err *err);
void bt_schedules_free(bt_schedules *s);
const bt_schedule *bt_schedules_find(const bt_schedules *s, const char *name);

/* FNV-1a of the file's bytes (0 when unreadable): a cheap "did it change" check. */
uint64_t bt_schedules_file_hash(const char *path);

const char *bt_catchup_name(bt_catchup c);

#endif
