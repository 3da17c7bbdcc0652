/* pg_store.h - traced runs in PostgreSQL, so that any machine reads any run.
 *
 * A worker writes a run's events into its local event store (store.h) as always: the
 * tracer's writer thread batches them into SQLite at full speed and never waits on the
 * network. The run is then copied into the shared tables: its row into
 * backtest_analytics.backtest_runs, its latency rows into event_latencies, its chunks
 * and links, byte for byte in the store's own codec, into btrun.event_chunks and
 * btrun.event_links (bytea). A reader copies a run back into a local store and reads it
 * with the usual code (btrun events/trace/runs --db URL). Everything is keyed by run_id:
 * copying a run again replaces it (a job run again after a lost lease). */
#ifndef BT_PG_STORE_H
#define BT_PG_STORE_H

#include "pg_conn.h"
#include "store.h"
#include "trace_cli.h"

/* Copy run r (a row of local, with its events unless events is false) into the
 * database in one transaction. config_file: the config the run used (NULL = none). */
int bt_pg_store_push(bt_pg *pg, bt_store *local, const bt_store_run *r, bool events,
                     const char *config_file, bt_err *err);

/* Copy into cache: run id (a run_id or a unique prefix of 4+ characters), or with id
 * NULL the rows of the newest `limit` runs (0 = all) of correlation (NULL = any); their
 * events and links too when events; their latency rows always. */
int bt_pg_store_pull(bt_pg *pg, const char *id, const char *correlation, int limit,
                     bool events, bt_store *cache, bt_err *err);

/* For the CLI (trace_cli.h): postgresql:// URLs, served by bt_pg_store_pull. */
extern const bt_store_remote bt_pg_store_remote;

#endif
