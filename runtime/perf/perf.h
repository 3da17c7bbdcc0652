/* perf.h - performance tracking: the `btrun perf` subcommand, bt.perf, the run report.
 *
 * A bt_perf engine ties the pieces together for one trade-log source: the confined
 * output directory (perf_files.h), the incremental index persisted there
 * (perf_index.h, perf_source.h, perf_index_json.h), window metrics (perf_summary.h), targets (perf_targets.h) and alerts
 * (perf_alerts.h) and the Lua format scripts (formats.h). docs/performance.md is the
 * user-facing description. */
#ifndef BT_PERF_H
#define BT_PERF_H

#include <lua.h>
#include <stdbool.h>
#include <stdint.h>

#include "perf_alerts.h"
#include "perf_index.h"
#include "perf_summary.h"
#include "perf_targets.h"
#include "formats.h"
#include "run.h"

/* Section `perf` of config/btrun.lua, then PERFORMANCE_SUMMARY_TIMEZONE and
 * PERFORMANCE_ALERT_ROLLING_WINDOW from the environment. */
typedef struct bt_perf_cfg {
  char trades[1024];       /* file or directory of *.jsonl; default logs/trades */
  char out_dir[1024];      /* default logs/performance */
  char alerts_file[1024];  /* default logs/performance-alerts.jsonl */
  char targets[1024];      /* default config/targets.lua */
  char formats_dir[1024];  /* "" = btrun's lua/formats */
  bool targets_explicit;   /* a missing explicitly named targets file is an error */
  char timezone[128];      /* IANA zone or fixed offset (tz.h); default "UTC" */
  int64_t rolling_window;  /* > 0: overrides targets win_rate.window */
  bool html;               /* always write the .html summary */
  bool strict;             /* --strict: an unusable trade-log line is an error */
} bt_perf_cfg;

int bt_perf_cfg_load(bt_app *app, bt_perf_cfg *cfg, bt_err *err);
/* Is spec a zone bt_perf_open accepts (tz.h)? The error says why not. */
int bt_perf_timezone_check(const char *spec, bt_err *err);

typedef struct bt_perf {
  bt_perf_cfg cfg;
  int outfd;
  bt_perf_index ix;
  bt_perf_targets *targets;
  bt_formats *report;
  bt_tz *tz;               /* cfg.timezone, loaded */
  double refresh_ms;       /* time of the last refresh (for --stats and the benchmark) */
} bt_perf;

/* How a trade log is identified in the index and in alerts: its real path, so the same
 * logs named by another relative path are the same source. */
void bt_perf_source_id(const char *trades, char *out, size_t n);

/* Open the output directory, load targets and the cached index (nothing is read yet). */
int bt_perf_open(bt_perf *p, const bt_perf_cfg *cfg, bt_err *err);
void bt_perf_close(bt_perf *p);
/* Read what was appended to the trade logs (everything when cold) and persist the index
 * when it changed. */
int bt_perf_refresh(bt_perf *p, bool cold, bt_err *err);
/* The latest day holding trades (today in market time when there are none). */
int64_t bt_perf_anchor_day(const bt_perf *p);
/* Summary of [start, end] with every target evaluated (no alert raised). */
int bt_perf_window_summary(bt_perf *p, bt_perf_window w, int64_t start, int64_t end,
                           bt_perf_summary *s, bt_err *err);
/* Render "json", "md" or "html" (malloc'd). */
int bt_perf_render(bt_perf *p, const bt_perf_summary *s, const char *fmt, char **out,
                   size_t *len, bt_err *err);
/* Write {window}-summary-DATE.json and .md (and .html when html) into the output
 * directory unless the existing files already carry the same source checksum.
 * *written: number of files written (0 = unchanged). */
int bt_perf_write_outputs(bt_perf *p, const bt_perf_summary *s, bool html, int *written,
                          bt_err *err);

/* One evaluation of a window, as `btrun perf watch` and scheduled perf jobs do it. */
typedef struct bt_perf_eval {
  int64_t start, end;      /* the window (local days) */
  uint32_t trades;
  double win_rate;
  int raised;              /* alerts appended by this evaluation */
  int active;              /* unacknowledged alerts of this log after it: > 0 = degraded */
  int written;             /* summary files written (0 = unchanged) */
  double ms;               /* wall time of the whole evaluation */
} bt_perf_eval;

/* Refresh, summarise the window of kind w holding `day` with its targets, append an alert
 * per new breach (performance.alert record + WARN log) when the window has trades, write
 * its files, count the active alerts. */
int bt_perf_evaluate(bt_perf *p, bt_perf_window w, int64_t day, int64_t now_ms,
                     bt_perf_eval *out, bt_err *err);

/* Subcommand `btrun perf ...` (cli_table.c). */
int bt_perf_cli(bt_app *app, int argc, char **argv);
extern const char bt_perf_help[]; /* its --help text (cli_table.c) */
/* `bt.perf` Lua submodule (luabind_table.c). */
int bt_lua_open_perf(lua_State *L);
/* Run observer that renders report.html into each completed run directory (app.c). */
int bt_perf_register(bt_app *app, bt_err *err);

#endif
