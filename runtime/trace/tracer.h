/* tracer.h - records every run's bus events into the event store.
 *
 * The tracer is a run observer. For each run it subscribes to the bus (bars through the
 * bus's bar path); its handlers run on the run thread and only append a record to a
 * bounded single-producer byte ring (no formatting; no allocation for BAR/ORDER/FILL
 * or payloads up to 4 KB). A writer thread takes the ring in batches, staying some
 * 256 KB behind the run thread (docs/architecture.md says why), stamps
 * received_at/processed_at, applies the sampler, keeps latency histograms and writes
 * batched transactions (one every commit_ms) to the store. The run thread waits only when the ring is full: critical events always wait
 * (backpressure, never dropped); other events wait too under full_policy "block", or
 * are dropped, counted and reported (runs.events_dropped) under "drop".
 * on_end drains and commits everything, then writes the runs row (status, metrics,
 * counts) and the latency statistics; a killed process leaves its runs row "running"
 * and everything committed so far readable. */
#ifndef BT_TRACER_H
#define BT_TRACER_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "config.h"
#include "run.h"
#include "store.h"

typedef enum { BT_TRACE_BARS_ALL, BT_TRACE_BARS_SAMPLED, BT_TRACE_BARS_NONE } bt_trace_bars;
typedef enum { BT_TRACE_FULL_BLOCK, BT_TRACE_FULL_DROP } bt_trace_full;

/* The `trace` section of the config (docs/events.md lists the keys and defaults). */
typedef struct bt_trace_cfg {
  bool enabled;                 /* true */
  char store[1024];             /* <data_dir>/events.db */
  double sample_rate;           /* 1.0: keep every non-critical event */
  int context_window;           /* 5 events before and after each critical one */
  uint32_t critical_mask;       /* SIGNAL ORDER FILL PORTFOLIO RISK_BREACH */
  bt_trace_bars bars;           /* all */
  uint64_t seed;                /* 1 */
  uint32_t ring_size;           /* 65536 events of 128 bytes (a power of two) */
  bt_trace_full full_policy;    /* block */
  int commit_ms;                /* 100: committed data is what survives a kill */
  double warn_size_mb;          /* 500: a run ending with the store above this many MB
                                 * (10^6 bytes) warns with its size and the prune
                                 * command; 0 = never */
} bt_trace_cfg;

void bt_trace_cfg_defaults(bt_trace_cfg *c, const char *data_dir);
/* Defaults, then the config's `trace` section; unknown keys and bad values are errors
 * naming the key. */
int bt_trace_cfg_load(bt_config *cfg, bt_trace_cfg *out, bt_err *err);
/* The configuration as a JSON object (heap), stored with each run. */
char *bt_trace_cfg_json(const bt_trace_cfg *c);

/* Register the tracer on the app (nothing when trace.enabled is false). */
int bt_trace_register(bt_app *app, bt_err *err);

/* The observer itself, for embedding and tests: bt_tracer_new + bt_tracer_observer. */
typedef struct bt_tracer bt_tracer;
int bt_tracer_new(bt_tracer **out, const bt_trace_cfg *cfg, bt_err *err);
bt_run_observer bt_tracer_observer(bt_tracer *t); /* on_close frees the tracer */

/* ---- latency histogram: bounded memory, ~3% relative error on quantiles ---- */
#define BT_HIST_SUB 16
#define BT_HIST_BUCKETS (61 * BT_HIST_SUB)
typedef struct bt_lat_hist {
  uint64_t count, max;
  uint64_t sum;     /* ns: overflows only past ~584 years of summed latency */
  uint64_t b[BT_HIST_BUCKETS];
} bt_lat_hist;
void bt_lat_hist_add(bt_lat_hist *h, uint64_t v);
void bt_lat_hist_add_n(bt_lat_hist *h, uint64_t v, uint64_t n); /* n times the value v */
/* Value at quantile q (0..1, nearest rank) as its bucket's midpoint, never above max. */
uint64_t bt_lat_hist_quantile(const bt_lat_hist *h, double q);

/* ---- sampler: decides which events of a run are stored ----
 * Critical events are always kept, with context_window events before and after each
 * and their cause (when it is within the look-back window of BT_SAMPLER_LOOKBACK +
 * context_window events; a cause further back that was not kept counts as a lineage
 * gap). Other events are kept with probability sample_rate * (1 + activity), where
 * activity is a decaying count of recent critical events (bursts raise the rate). The
 * draws come from a PRNG seeded with `seed` and depend only on the event sequence, so
 * the same run keeps the same events. Output is in seq order. */
#define BT_SAMPLER_LOOKBACK 256
typedef struct bt_sampler bt_sampler;
/* Called once per event leaving the sampler; the callee owns ev's strings. */
typedef void (*bt_sampler_out)(void *ud, bt_trace_event *ev, bool kept);
int bt_sampler_new(bt_sampler **out, const bt_trace_cfg *cfg, bt_sampler_out fn, void *ud);
void bt_sampler_push(bt_sampler *s, const bt_trace_event *ev);
void bt_sampler_flush(bt_sampler *s);
uint64_t bt_sampler_gaps(const bt_sampler *s);
void bt_sampler_free(bt_sampler *s);

#endif
