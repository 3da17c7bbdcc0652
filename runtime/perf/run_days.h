/* run_days.h - report.html's view of a run's equity, one value per UTC day (the run's
 * equity.csv rows, kept in memory by the run: run.h bt_run_day), computed here in C
 * instead of per-row Lua, reading the days in order (three passes; nothing per day is
 * copied, so memory stays that of the run's rows): the statistics over every day (volatility,
 * drawdown periods, monthly and yearly returns, rolling Sharpe, the benchmarks' figures
 * with alpha/beta/correlation), and the chart lines already reduced to the lowest and
 * highest point of each of BT_RUN_DAYS_BUCKETS x columns (charts.lua's downsample, same
 * points), so the page's Lua work is bounded by its width, not by the run's length.
 *
 * Two steps: bt_run_days_compute (C only; what it keeps is bounded by the chart width
 * and the number of months) and bt_run_days_push, which hands the result to Lua as a
 * table (run_report.lua reads it as d.series), without a JSON text in between:
 *   {rows=N, stride=1, first=t, last=t, last_equity=v, last_bench=v, last_extra=v,
 *    equity={xs={},ys={}}, bench={..}, extra={..},
 *    tips={xs={},equity={},bench={},extra={}}, underwater={xs={},ys={}},
 *    volatility=v, drawdown_periods=K, drawdowns={{start,trough,recovery,depth,days}},
 *    bench_stats={..}, extra_stats={..}, months={r,..}, months_keys={"YYYY-MM",..},
 *    months_json="{..}", years={r,..}, years_keys={Y,..}, years_json="{..}",
 *    rolling={returns=R, xs={}, ys={}}}
 * Times are epoch seconds; a figure that does not exist is nil (a hole in a list);
 * numbers are pushed as bt_formats_push_num does. */
#ifndef BT_RUN_DAYS_H
#define BT_RUN_DAYS_H

#include <stddef.h>

#include "common.h"
#include "run.h"
#include "run_series.h"

#define BT_RUN_DAYS_BUCKETS 320 /* charts.lua's default: 640 points at most per line */
#define BT_RUN_DAYS_DRAWDOWNS 5 /* the worst drawdown periods listed */

typedef struct lua_State lua_State;
typedef struct bt_run_days bt_run_days;

/* The figures of days[0..n) (ascending time), starting capital `init`; bench and extra
 * are the benchmarks' growth indexes by day (pts NULL: none). */
int bt_run_days_compute(bt_run_days **out, const bt_run_day *days, size_t n, double init,
                        bt_index_series *bench, bt_index_series *extra, bt_err *err);
/* Push the table; Lua errors (out of memory) are raised: call under lua_pcall. */
void bt_run_days_push(lua_State *L, const bt_run_days *d);
void bt_run_days_free(bt_run_days *d);

#endif
