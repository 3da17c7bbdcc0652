/* run_days.h - report.html's view of a run's equity, one value per UTC day (the run's
 * equity.csv rows, kept in memory by the run: run.h bt_run_day), computed here in one
 * pass of C per figure instead of per-row Lua: the statistics over every day (volatility,
 * drawdown periods, monthly and yearly returns, rolling Sharpe, the benchmarks' figures
 * with alpha/beta/correlation), and the chart lines already reduced to the lowest and
 * highest point of each of BT_RUN_DAYS_BUCKETS x columns (charts.lua's downsample, same
 * points), so the page's Lua work is bounded by its width, not by the run's length.
 * The JSON object it appends (run_report.lua reads it as d.series):
 *   {"rows":N,"first":t,"last":t,"last_equity":v,"last_bench":v,"last_extra":v,
 *    "equity":{"xs":[],"ys":[]},"bench":{..},"extra":{..},
 *    "tips":{"xs":[],"equity":[],"bench":[],"extra":[]},"underwater":{"xs":[],"ys":[]},
 *    "volatility":v,"drawdown_periods":K,"drawdowns":[{"start","trough","recovery",
 *    "depth","days"}],"bench_stats":{..},"extra_stats":{..},"months":[r,..],
 *    "months_keys":["YYYY-MM",..],"months_json":"{..}","years":[r,..],"years_keys":[Y,..],
 *    "years_json":"{..}",
 *    "rolling":{"returns":R,"xs":[],"ys":[]}}
 * Times are epoch seconds; a figure that does not exist is null. */
#ifndef BT_RUN_DAYS_H
#define BT_RUN_DAYS_H

#include <stddef.h>

#include "common.h"
#include "json.h"
#include "run.h"
#include "run_series.h"

#define BT_RUN_DAYS_BUCKETS 320 /* charts.lua's default: 640 points at most per line */
#define BT_RUN_DAYS_DRAWDOWNS 5 /* the worst drawdown periods listed */

/* Appends the object for days[0..n) (ascending time), starting capital `init`; bench and
 * extra are the benchmarks' growth indexes by day (pts NULL: none). */
int bt_run_days_json(const bt_run_day *days, size_t n, double init, bt_index_series *bench,
                     bt_index_series *extra, bt_json_buf *b, bt_err *err);

#endif
