/* run_compare.h - one HTML page comparing runs (`btrun runs compare --html`, and
 * bt.perf.compare_html for scripts such as scripts/sweep.lua): their key figures side by
 * side and their equity curves overlaid, rendered by lua/formats/compare_html.lua from
 * each run directory's result.json and equity.csv. */
#ifndef BT_RUN_COMPARE_H
#define BT_RUN_COMPARE_H

#include "common.h"
#include "run.h"

/* dirs: run directories (each with result.json); out_path: the page to write (replaced
 * atomically). A directory without result.json is an error naming it. */
int bt_run_compare_html(bt_app *app, const char *const *dirs, int n, const char *out_path, bt_err *err);

#endif
