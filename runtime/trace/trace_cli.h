/* trace_cli.h - subcommands over the event store (see trace_cli.c and docs/events.md). */
#ifndef BT_TRACE_CLI_H
#define BT_TRACE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "run.h"
#include "store.h"

/* A shared database holding runs and their events (--db URL, BTRUN_DB): the composition
 * root passes the one that serves such URLs (runtime/pg). The commands copy what they
 * read into a temporary local store and read that with the usual code. */
typedef struct bt_store_remote {
  bool (*handles)(const char *url);
  /* Copy into cache: run `id` (a run_id or a unique prefix), or when id is NULL the rows
   * of the newest `limit` runs (0 = all) of `correlation` (NULL = any); with their
   * events and links when `events`, their latency rows always. */
  int (*fetch)(const char *url, const char *id, const char *correlation, int limit,
               bool events, bt_store *cache, bt_err *err);
} bt_store_remote;

/* btrun events list|prune, btrun trace lineage|latency, btrun runs list|show|compare. remote
 * may be NULL (local stores only). */
int bt_events_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv);
int bt_trace_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv);
/* `runs compare --html` renders through the caller's function (the perf module's, wired
 * by app/): trace does not depend on the report machinery. NULL = no --html. */
typedef int (*bt_runs_html_fn)(bt_app *app, const char *const *dirs, int n, const char *out_path,
                               bt_err *err);
int bt_runs_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv,
                bt_runs_html_fn html); /* list|show|compare */
/* Their --help texts and subcommands (cli_table.c). */
extern const char bt_events_help[], bt_trace_help[], bt_runs_help[];
extern const char *const bt_events_subcommands[], *const bt_trace_subcommands[],
    *const bt_runs_subcommands[];

/* The events of one run as JSON lines, the `btrun events list --format jsonl` form, at
 * most limit (0 = all). bt_store_find_run's error when the store has no such run. */
int bt_events_write_jsonl(bt_store *s, const char *run_id, uint64_t limit, FILE *out,
                          bt_err *err);

#endif
