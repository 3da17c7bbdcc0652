/* pg_schema.c - see pg_schema.h. */
#include "pg_schema.h"

#include <stdio.h>
#include <stdlib.h>

typedef struct migration {
  int version;
  const char *name;
  const char *sql;
} migration;

/* Append only: a released migration is never edited, a change is a new version. */
static const migration MIGRATIONS[] = {
    {1, "run tables",
     "CREATE SCHEMA IF NOT EXISTS backtest_analytics;"
     /* The tracing plan's columns first, then btrun's own. correlation_id is indexed,
      * not unique: every run of one request or script shares it (docs/postgresql.md). */
     "CREATE TABLE backtest_analytics.backtest_runs ("
     "  run_id uuid PRIMARY KEY,"
     "  correlation_id text NOT NULL,"
     "  created_at timestamptz NOT NULL DEFAULT now(),"
     "  config_file text,"
     "  strategy_type text,"
     "  total_return double precision,"
     "  sharpe_ratio double precision,"
     "  max_drawdown double precision,"
     "  total_trades integer,"
     "  event_count bigint,"
     "  event_storage_path text,"
     "  status text NOT NULL CHECK (status IN"
     "    ('queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted')),"
     "  completed_at timestamptz,"
     "  user_id text,"
     "  origin text,"
     "  attempt integer NOT NULL DEFAULT 1,"
     "  host text,"
     "  pid bigint,"
     "  duration_ms bigint,"
     "  bars bigint,"
     "  events_stored bigint,"
     "  events_sampled_out bigint,"
     "  events_dropped bigint,"
     "  lineage_gaps bigint,"
     "  clock_origin bigint,"
     "  strategy_path text,"
     "  out_dir text,"
     "  params jsonb,"
     "  data jsonb,"
     "  config jsonb,"
     "  trace_config jsonb,"
     "  metrics jsonb,"
     "  error text,"
     "  updated_at timestamptz NOT NULL DEFAULT now());"
     "CREATE INDEX backtest_runs_correlation ON backtest_analytics.backtest_runs (correlation_id);"
     "CREATE INDEX backtest_runs_created ON backtest_analytics.backtest_runs (created_at DESC);"
     "CREATE INDEX backtest_runs_status ON backtest_analytics.backtest_runs (status, created_at DESC);"
     "CREATE INDEX backtest_runs_strategy ON backtest_analytics.backtest_runs"
     "  (strategy_type, created_at DESC);"
     "CREATE INDEX backtest_runs_user ON backtest_analytics.backtest_runs (user_id, created_at DESC);"
     "CREATE TABLE backtest_analytics.event_latencies ("
     "  run_id uuid NOT NULL REFERENCES backtest_analytics.backtest_runs ON DELETE CASCADE,"
     "  event_type text NOT NULL,"
     "  metric text NOT NULL DEFAULT 'latency' CHECK (metric IN ('latency', 'queue_time')),"
     "  mean_latency_ms double precision NOT NULL,"
     "  p50_latency_ms double precision,"
     "  p95_latency_ms double precision NOT NULL,"
     "  max_latency_ms double precision NOT NULL,"
     "  event_count bigint NOT NULL,"
     "  measured_at timestamptz NOT NULL DEFAULT now(),"
     "  PRIMARY KEY (run_id, event_type, metric));"
     "CREATE INDEX event_latencies_type ON backtest_analytics.event_latencies"
     "  (event_type, measured_at DESC);"},
    {2, "job queue",
     /* The hot table holds queued and running jobs only; a job that ends moves to the
      * archive in the same statement, so claims and lease scans stay on a small table.
      * Keys live in job_keys (never moved), where uniqueness holds across both. */
     "CREATE SEQUENCE btrun.job_seq;"
     "CREATE TABLE btrun.job_keys ("
     "  run_id text PRIMARY KEY,"
     "  user_id text NOT NULL DEFAULT '',"
     "  idempotency_key text,"
     "  unique_key text UNIQUE);"
     "CREATE UNIQUE INDEX job_keys_idempotency ON btrun.job_keys (user_id, idempotency_key)"
     "  WHERE idempotency_key IS NOT NULL;"
     "CREATE TABLE btrun.jobs ("
     "  seq bigint PRIMARY KEY DEFAULT nextval('btrun.job_seq'),"
     "  run_id text NOT NULL UNIQUE,"
     "  correlation_id text NOT NULL,"
     "  user_id text NOT NULL DEFAULT '',"
     "  origin text NOT NULL,"
     "  strategy text NOT NULL,"
     "  state text NOT NULL CHECK (state IN ('queued', 'running')),"
     "  cancel_requested boolean NOT NULL DEFAULT false,"
     "  attempt integer NOT NULL DEFAULT 0,"
     "  max_attempts integer NOT NULL,"
     "  progress double precision NOT NULL DEFAULT 0,"
     "  bars_done bigint NOT NULL DEFAULT 0,"
     "  created_ms bigint NOT NULL,"
     "  started_ms bigint NOT NULL DEFAULT 0,"
     "  finished_ms bigint NOT NULL DEFAULT 0,"
     "  updated_ms bigint NOT NULL,"
     "  lease_until_ms bigint NOT NULL DEFAULT 0,"
     "  worker_id text NOT NULL DEFAULT '',"
     "  spec text NOT NULL,"
     "  result text,"
     "  error text,"
     "  idempotency_key text,"
     "  unique_key text) WITH (fillfactor = 70);"
     "CREATE INDEX jobs_queued ON btrun.jobs (seq) WHERE state = 'queued';"
     "CREATE INDEX jobs_worker ON btrun.jobs (worker_id) WHERE state = 'running';"
     "CREATE TABLE btrun.jobs_archive ("
     "  seq bigint PRIMARY KEY,"
     "  run_id text NOT NULL UNIQUE,"
     "  correlation_id text NOT NULL,"
     "  user_id text NOT NULL,"
     "  origin text NOT NULL,"
     "  strategy text NOT NULL,"
     "  state text NOT NULL CHECK (state IN ('succeeded', 'failed', 'cancelled')),"
     "  cancel_requested boolean NOT NULL,"
     "  attempt integer NOT NULL,"
     "  max_attempts integer NOT NULL,"
     "  progress double precision NOT NULL,"
     "  bars_done bigint NOT NULL,"
     "  created_ms bigint NOT NULL,"
     "  started_ms bigint NOT NULL,"
     "  finished_ms bigint NOT NULL,"
     "  updated_ms bigint NOT NULL,"
     "  lease_until_ms bigint NOT NULL,"
     "  worker_id text NOT NULL,"
     "  spec text NOT NULL,"
     "  result text,"
     "  error text,"
     "  idempotency_key text,"
     "  unique_key text);"
     "CREATE INDEX jobs_archive_state ON btrun.jobs_archive (state, seq);"
     "CREATE INDEX jobs_archive_user ON btrun.jobs_archive (user_id, seq);"
     "CREATE TABLE btrun.job_history ("
     "  id bigserial PRIMARY KEY,"
     "  run_id text NOT NULL,"
     "  at_ms bigint NOT NULL,"
     "  from_state text NOT NULL,"
     "  to_state text NOT NULL,"
     "  attempt integer NOT NULL,"
     "  worker_id text NOT NULL,"
     "  reason text NOT NULL);"
     "CREATE INDEX job_history_run ON btrun.job_history (run_id, id);"},
    {3, "event store",
     /* The event store's rows (store.h), blobs in the same chunk codec. */
     "CREATE TABLE btrun.event_chunks ("
     "  run_id uuid NOT NULL REFERENCES backtest_analytics.backtest_runs ON DELETE CASCADE,"
     "  stream smallint NOT NULL,"
     "  first_seq bigint NOT NULL,"
     "  last_seq bigint NOT NULL,"
     "  ts_min bigint NOT NULL,"
     "  ts_max bigint NOT NULL,"
     "  n integer NOT NULL,"
     "  types integer NOT NULL,"
     "  data bytea NOT NULL,"
     "  PRIMARY KEY (run_id, stream, first_seq));"
     "CREATE TABLE btrun.event_links ("
     "  run_id uuid NOT NULL REFERENCES backtest_analytics.backtest_runs ON DELETE CASCADE,"
     "  bucket bigint NOT NULL,"
     "  first_seq bigint NOT NULL,"
     "  data bytea NOT NULL,"
     "  PRIMARY KEY (run_id, bucket, first_seq));"},
};
#define N_MIGRATIONS (int)(sizeof MIGRATIONS / sizeof MIGRATIONS[0])

/* pg_advisory_xact_lock key: "btrunMig" in ASCII. */
#define MIGRATE_LOCK "7094421161702680935"

int bt_pg_schema_latest(void) { return MIGRATIONS[N_MIGRATIONS - 1].version; }

static int read_version(bt_pg *pg, int *version, bt_err *err) {
  PGresult *r = bt_pg_query(pg,
                            "SELECT coalesce(max(version), 0) FROM btrun.schema_migrations",
                            0, NULL, err);
  if (!r) return err->code;
  *version = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  return 0;
}

int bt_pg_schema_version(bt_pg *pg, int *version, bt_err *err) {
  *version = 0;
  PGresult *r = bt_pg_query(pg, "SELECT to_regclass('btrun.schema_migrations') IS NOT NULL",
                            0, NULL, err);
  if (!r) return err->code;
  bool exists = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  return exists ? read_version(pg, version, err) : 0;
}

int bt_pg_migrate(bt_pg *pg, int *applied, bt_err *err) {
  if (applied) *applied = 0;
  int rc = bt_pg_exec(pg,
                      "BEGIN;"
                      "SELECT pg_advisory_xact_lock(" MIGRATE_LOCK ");"
                      "CREATE SCHEMA IF NOT EXISTS btrun;"
                      "CREATE TABLE IF NOT EXISTS btrun.schema_migrations ("
                      "  version integer PRIMARY KEY,"
                      "  name text NOT NULL,"
                      "  applied_at timestamptz NOT NULL DEFAULT now())",
                      err);
  int have = 0, n = 0;
  if (!rc) rc = read_version(pg, &have, err);
  if (!rc && have > bt_pg_schema_latest())
    rc = bt_errf(err, BT_ESTATE, "db_error",
                 "postgresql %s: the database has schema version %d, newer than this btrun's %d: "
                 "upgrade btrun",
                 bt_pg_url(pg), have, bt_pg_schema_latest());
  for (int i = 0; !rc && i < N_MIGRATIONS; i++) {
    const migration *m = &MIGRATIONS[i];
    if (m->version <= have) continue;
    char ver[16];
    snprintf(ver, sizeof ver, "%d", m->version);
    const char *params[] = {ver, m->name};
    rc = bt_pg_exec(pg, m->sql, err);
    if (rc) {
      char msg[sizeof err->msg];
      snprintf(msg, sizeof msg, "%s", err->msg);
      bt_errf(err, rc, "db_error", "migration %d (%s) failed: %s", m->version, m->name, msg);
      break;
    }
    PGresult *r = bt_pg_query(pg, "INSERT INTO btrun.schema_migrations (version, name) VALUES ($1, $2)",
                              2, params, err);
    if (!r) rc = err->code;
    PQclear(r);
    n++;
  }
  if (rc) {
    PQclear(PQexec(bt_pg_conn(pg), "ROLLBACK"));
    return rc;
  }
  rc = bt_pg_exec(pg, "COMMIT", err);
  if (!rc && applied) *applied = n;
  return rc;
}
