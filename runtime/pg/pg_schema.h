/* pg_schema.h - btrun's tables in PostgreSQL, created and upgraded by btrun itself.
 *
 * Versioned migrations, applied in order, each once, in one transaction under a
 * transaction-level advisory lock, so any number of processes (serve, workers, CLI) may
 * start together: one applies what is missing, the others wait and find it done. The
 * applied versions are rows of btrun.schema_migrations. A database migrated by a newer
 * btrun (a version this one does not know) is refused with a clear error rather than
 * written with an older idea of the schema. Tables (docs/postgresql.md has them all):
 *   backtest_analytics.backtest_runs    one row per run (the tracing plan's columns and
 *                                       btrun's: user, origin, attempt, host, counts,
 *                                       params, data, config, metrics, error)
 *   backtest_analytics.event_latencies  per run and event type: latency statistics
 *   btrun.jobs, btrun.jobs_archive      the job queue: queued and running jobs, and the
 *                                       ended ones (moved there as they end)
 *   btrun.job_keys                      run_id, idempotency and unique keys of every job
 *   btrun.job_history                   every state change of every job
 *   btrun.event_chunks, btrun.event_links  the traced events of runs (the event store's
 *                                       rows, the same chunk codec as bytea)
 * Migrations are never edited once released: a change is a new version. */
#ifndef BT_PG_SCHEMA_H
#define BT_PG_SCHEMA_H

#include "pg_conn.h"

/* The newest schema version this btrun knows. */
int bt_pg_schema_latest(void);
/* Apply the missing migrations; *applied (may be NULL) = how many this call applied. */
int bt_pg_migrate(bt_pg *pg, int *applied, bt_err *err);
/* The database's schema version (0 = none yet). */
int bt_pg_schema_version(bt_pg *pg, int *version, bt_err *err);

#endif
