/* run_summary.h - the table `btrun FILE.lua` prints after a completed run in console
 * format: period, bars, trades, return, CAGR, Sharpe, Sortino, max drawdown, win rate,
 * profit factor, exposure, rejected orders, a row per symbol when there are several,
 * and where report.html and the run directory are. The figures are the run's own
 * (bt_run_result, the numbers of result.json), rounded for a person; result.json and
 * the JSON log keep full precision. */
#ifndef BT_RUN_SUMMARY_H
#define BT_RUN_SUMMARY_H

#include <stdio.h>

#include "run.h"

void bt_run_summary_print(FILE *out, const char *strategy, const bt_run_result *r);

#endif
