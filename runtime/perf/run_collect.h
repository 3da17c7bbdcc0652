/* run_collect.h - what a run's report needs that the run directory's files do not hold,
 * gathered from the run's bus while it runs (no second pass over the data):
 *   - the buy-and-hold benchmark of the run's symbols: each symbol gets an equal share of
 *     the starting capital, bought at its first close (held as cash until then) and never
 *     rebalanced; one value per UTC day, as a growth index that starts at 1;
 *   - the event ids behind each fill: the FILL, the ORDER it filled and the order's cause
 *     (a SIGNAL, or the BAR the order was placed on), for lineage links per trade; kept
 *     for the run's first 1,024 and last 4,096 fills (the trades a report lists), so
 *     memory does not grow with the run.
 * Handlers run on the run thread; nothing here is shared between runs. */
#ifndef BT_RUN_COLLECT_H
#define BT_RUN_COLLECT_H

#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "common.h"
#include "run_series.h"

typedef struct bt_rc_fill {
  int64_t time;     /* market time, epoch seconds */
  uint32_t symbol;  /* feed index */
  uint64_t fill_id, order_id, cause_id;
  bool cause_signal;  /* cause_id is a SIGNAL (else the BAR or 0) */
} bt_rc_fill;

typedef struct bt_run_collect bt_run_collect;

/* nsymbols: the run's feeds (the benchmark's equal weights). */
bt_run_collect *bt_run_collect_new(int nsymbols);
int bt_run_collect_subscribe(bt_run_collect *c, bt_bus *bus, bt_err *err);
/* Close the last day; call once after the run (before reading the series). */
void bt_run_collect_finish(bt_run_collect *c);
const bt_index_point *bt_run_collect_bench(const bt_run_collect *c, size_t *n);
/* The fill of `symbol` at `time` (the first when `first`, else the last), or NULL (also
 * when it is not among the fills kept). */
const bt_rc_fill *bt_run_collect_fill(const bt_run_collect *c, uint32_t symbol, int64_t time,
                                      bool first);
void bt_run_collect_free(bt_run_collect *c);

#endif
