/* run_series.h - a run's equity.csv as the JSON the HTML formats draw from:
 * {"rows":N,"stride":K,"points":[[time,equity,drawdown,bench,extra],...]}: time in epoch
 * seconds, equity and drawdown as numbers, and up to two growth-index series (benchmarks,
 * 1.0 at the start) looked up by UTC day, or null. Up to BT_RUN_SERIES_CAP rows are
 * passed as they are; beyond, every K-th row plus each month's last (so monthly and
 * yearly returns stay exact). The formats draw at most a few points per pixel. */
#ifndef BT_RUN_SERIES_H
#define BT_RUN_SERIES_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "json.h"

#define BT_RUN_SERIES_CAP 100000

typedef struct bt_index_point {
  int64_t day;      /* UTC day number (epoch seconds / 86400, floored) */
  double value;     /* growth index: 1.0 at the start */
} bt_index_point;

/* A series looked up for ascending days; `at` is the cursor (start at 0). pts NULL = none. */
typedef struct bt_index_series {
  const bt_index_point *pts;
  size_t n, at;
} bt_index_series;

/* the UTC day number of epoch seconds (floored); inline: called per bar and per day */
static inline int64_t bt_run_series_day(int64_t t) { return t >= 0 ? t / 86400 : -((-t + 86399) / 86400); }
/* Append the series object for the equity.csv at path (none or empty: no rows). */
int bt_run_series_json(const char *path, bt_json_buf *b, bt_index_series *bench, bt_index_series *extra,
                       bt_err *err);

#endif
