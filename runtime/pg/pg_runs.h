/* pg_runs.h - every run of a process whose app has a postgresql:// database (app->db:
 * --db, BTRUN_DB or config service.db) is written to it: the run's row when it starts
 * (status "running"), then at its end the row, its latency rows and its traced events
 * (pg_store.h), all keyed by run_id.
 *
 * The database never slows a run down nor fails it: events go to the local event store
 * first, as always. When the database cannot be reached at a run's end, the run's id is
 * spooled in <event store>.pg-spool/ and the run is copied later, from the local store,
 * at the end of a later run of a process writing that store (or by `btrun db sync`); a
 * warning (pg_unavailable) says so. Copying is idempotent, so a run copied twice is
 * still one run. A run without tracing (trace.enabled false) has no local store row:
 * its row is written from what the run reports, and is not spooled. */
#ifndef BT_PG_RUNS_H
#define BT_PG_RUNS_H

#include "run.h"

/* Register the observer (it does nothing while app->db is not postgresql://). */
int bt_pg_register(bt_app *app, bt_err *err);

/* Copy the spooled runs of app's data dir into app->db now; *copied / *left (may be
 * NULL) count them. */
int bt_pg_sync(bt_app *app, int *copied, int *left, bt_err *err);

#endif
