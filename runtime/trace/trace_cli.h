/* trace_cli.h - subcommands over the event store (see trace_cli.c and docs/events.md). */
#ifndef BT_TRACE_CLI_H
#define BT_TRACE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "run.h"
#include "store.h"

int bt_events_cli(bt_app *app, int argc, char **argv); /* btrun events list|prune */
int bt_trace_cli(bt_app *app, int argc, char **argv);  /* btrun trace lineage|latency */
/* `runs compare --html` renders through the caller's function (the perf module's, wired
 * by app/): trace does not depend on the report machinery. NULL = no --html. */
typedef int (*bt_runs_html_fn)(bt_app *app, const char *const *dirs, int n, const char *out_path,
                               bt_err *err);
int bt_runs_cli(bt_app *app, int argc, char **argv, bt_runs_html_fn html); /* list|show|compare */

/* The events of one run as JSON lines, the `btrun events list --format jsonl` form, at
 * most limit (0 = all). bt_store_find_run's error when the store has no such run. */
int bt_events_write_jsonl(bt_store *s, const char *run_id, uint64_t limit, FILE *out,
                          bt_err *err);

#endif
