/* perf_alerts.h - the alerts file: breaches of targets (perf_targets.h) as records.
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
#include "perf_summary.h"

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
