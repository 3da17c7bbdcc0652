/* perf_alerts.h - performance targets (config/targets.lua) and the alerts they raise.
 *
 * Targets are a Lua table (docs/performance.md): win_rate {min, window}, risk_reward
 * {min, window, measure = "payoff"|"r_multiple"}, avg_win {min}, avg_loss {max} and
 * rules = { {name, check = function(summary) return ok, actual, target end}, ... }.
 * The file runs in a private lua_State kept for the custom rules. Rolling targets look
 * at the last `window` closed trades up to the end of the summary window and are
 * skipped until that many exist; a window without trades suppresses every check.
 *
 * Breaches become `performance.alert` records appended to the alerts file (JSONL) and a
 * warning log record. An alert's id hashes the trade log and, for rolling targets, the
 * metric, window size and rolling window end (one alert whichever summary window saw
 * it), else window, period, check and the actual and target values, so the same breach
 * on the same data is never raised twice; `ack` stamps acknowledged_at (atomic
 * rewrite). Unacknowledged alerts are "active". */
#ifndef BT_PERF_ALERTS_H
#define BT_PERF_ALERTS_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "perf_index.h"
#include "perf_summary.h"

typedef struct bt_perf_targets bt_perf_targets;

/* path NULL or missing file (when !explicit_path): no targets. rolling_override > 0
 * replaces win_rate.window (PERFORMANCE_ALERT_ROLLING_WINDOW). */
int bt_perf_targets_load(bt_perf_targets **out, const char *path, bool explicit_path,
                         int64_t rolling_override, bt_err *err);
void bt_perf_targets_free(bt_perf_targets *t);
/* Closed trades per day the index must remember for the rolling targets (>= 1). */
uint32_t bt_perf_targets_tail_k(const bt_perf_targets *t);
/* Changes when the targets file or override changes (part of summary checksums). */
uint64_t bt_perf_targets_hash(const bt_perf_targets *t);
/* Compare the summary with every target; appends s->checks. */
int bt_perf_targets_eval(bt_perf_targets *t, const bt_perf_index *ix, bt_perf_summary *s,
                         bt_err *err);

/* Raise the breaches of s->checks not already on file (sets alert_id on every breach).
 * source: the trade log they come from (recorded; part of the id, so the alerts of
 * different logs never merge). now_ms: wall clock for raised_at. */
int bt_perf_alerts_raise(const char *path, const char *source, bt_perf_summary *s,
                         int64_t now_ms, int *raised, bt_err *err);

/* One record of the alerts file. Strings are "" when the record lacks the field
 * (source: records written before sources were recorded). */
typedef struct bt_perf_alert {
  char id[40], type[80], metric[64], severity[16], window[16], op[4];
  char period_start[16], period_end[16], rolling_start[16], rolling_end[16];
  char actual[40], target[40];  /* JSON values as written */
  char raised_at[32], acknowledged_at[32];
  uint32_t window_trades;
  char source[1024];
  bool active;                  /* acknowledged_at is null */
} bt_perf_alert;

/* Every alert on file in file order (a missing file: none). *out is malloc'd. */
int bt_perf_alerts_list(const char *path, bt_perf_alert **out, size_t *n, bt_err *err);
/* Count unacknowledged alerts raised by source (NULL: every source) and, when other is
 * not NULL, those raised by other or unrecorded sources. */
int bt_perf_alerts_active(const char *path, const char *source, int *active, int *other,
                          bt_err *err);
/* Acknowledge alert `id`: 0 done, 1 already acknowledged; BT_EINVAL when unknown. */
int bt_perf_alerts_ack(const char *path, const char *id, int64_t now_ms, bt_err *err);
/* Acknowledge every active alert of source (NULL: all); *acked: how many. */
int bt_perf_alerts_ack_all(const char *path, const char *source, int64_t now_ms, int *acked,
                           bt_err *err);

#endif
