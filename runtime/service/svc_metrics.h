/* svc_metrics.h - lock-free counters and histograms for the service's /metrics page,
 * rendered in the Prometheus text exposition format (version 0.0.4).
 *
 * Observations are relaxed atomic adds, so any thread (HTTP pool, supervisor) records
 * without a lock; a scrape reads each bucket once, which may be a few observations
 * behind but never torn. */
#ifndef BT_SVC_METRICS_H
#define BT_SVC_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "log.h"

/* Upper bounds in seconds, shared by the request and job histograms: 100 us .. 60 s. */
#define BT_SVC_HIST_BUCKETS 16

typedef struct bt_svc_hist {
  _Atomic uint64_t count[BT_SVC_HIST_BUCKETS + 1]; /* per bucket (not cumulative); last = +Inf */
  _Atomic uint64_t sum_us;
} bt_svc_hist;

void bt_svc_hist_observe(bt_svc_hist *h, uint64_t micros);
/* Appends `# HELP`, `# TYPE` and the cumulative buckets, _sum and _count of `name`
 * (labels: an extra label pair such as `outcome="failed"` or NULL; help NULL = only
 * the sample lines, for a second label set of one family). */
void bt_svc_hist_render(const bt_svc_hist *h, const char *name, const char *help,
                        const char *labels, bt_json_buf *out);

/* Requests counted by status code (100..599). */
typedef struct bt_svc_status_counts {
  _Atomic uint64_t n[600];
} bt_svc_status_counts;

void bt_svc_status_count(bt_svc_status_counts *c, int status);
void bt_svc_status_render(const bt_svc_status_counts *c, const char *name, const char *help,
                          bt_json_buf *out);

#endif
