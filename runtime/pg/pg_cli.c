/* pg_cli.c - `btrun db`: apply migrations, show the schema and queue, copy spooled runs. */
#include "pg_cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_conn.h"
#include "pg_runs.h"
#include "pg_schema.h"

static const char HELP[] =
    "usage: btrun db migrate|status|sync [--db URL]\n"
    "\n"
    "The shared PostgreSQL database of runs, jobs and events (docs/postgresql.md).\n"
    "URL is postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...]; without --db,\n"
    "$BTRUN_DB, else config service.db; libpq's PGHOST, PGUSER, PGPASSWORD, ~/.pgpass,\n"
    "PGSSLMODE... fill in what the URL leaves out. Passwords are never printed.\n"
    "\n"
    "migrate  create or upgrade btrun's tables (every btrun does this on connecting;\n"
    "         this only does it now, e.g. before the first workers start)\n"
    "status   schema version, jobs by state, runs and stored event chunks\n"
    "sync     copy the runs spooled while the database was unreachable (from this\n"
    "         data dir's event store) into the database now\n";

static int fail(bt_err *err) {
  fprintf(stderr, "btrun db: %s\n", err->msg);
  bt_err_clear(err);
  return 1;
}

static void print_counts(bt_pg *pg, const char *label, const char *sql) {
  bt_err err = {0};
  PGresult *r = bt_pg_query(pg, sql, 0, NULL, &err);
  if (!r) {
    fprintf(stderr, "btrun db status: %s\n", err.msg);
    return;
  }
  printf("%-10s", label);
  for (int i = 0; i < PQntuples(r); i++)
    printf(" %s=%s", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
  printf("%s\n", PQntuples(r) ? "" : " none");
  PQclear(r);
}

int bt_db_cli(bt_app *app, int argc, char **argv) {
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub || !strcmp(sub, "-h") || !strcmp(sub, "--help")) {
    fputs(HELP, sub ? stdout : stderr);
    return sub ? 0 : 1;
  }
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) {
      snprintf(app->db, sizeof app->db, "%s", argv[++i]);
    } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      fputs(HELP, stdout);
      return 0;
    } else {
      fprintf(stderr, "btrun db: unknown argument '%s' (see --help)\n", argv[i]);
      return 1;
    }
  }
  bool migrate = !strcmp(sub, "migrate"), status = !strcmp(sub, "status");
  if (!migrate && !status && strcmp(sub, "sync")) {
    fprintf(stderr, "btrun db: unknown subcommand '%s' (migrate, status, sync)\n", sub);
    return 1;
  }
  bt_err err = {0};
  if (!bt_pg_is_url(app->db)) {
    fprintf(stderr, "btrun db: no postgresql:// database: give --db URL or set BTRUN_DB\n");
    return 1;
  }
  if (!migrate && !status) {
    int copied = 0, left = 0;
    if (bt_pg_sync(app, &copied, &left, &err)) return fail(&err);
    printf("copied %d spooled run(s), %d left\n", copied, left);
    return 0;
  }
  bt_pg *pg = NULL;
  if (bt_pg_open(&pg, app->db, &err)) return fail(&err);
  int applied = 0, version = 0, rc = 0;
  if (migrate) {
    if (bt_pg_migrate(pg, &applied, &err)) rc = fail(&err);
    else printf("%s: schema version %d (%d migration(s) applied)\n", bt_pg_url(pg),
                bt_pg_schema_latest(), applied);
  } else if (bt_pg_schema_version(pg, &version, &err)) {
    rc = fail(&err);
  } else {
    printf("database  %s\nschema    version %d (this btrun: %d)\n", bt_pg_url(pg), version,
           bt_pg_schema_latest());
    if (version >= 2)
      print_counts(pg, "jobs",
                   "SELECT state, count(*) FROM (SELECT state FROM btrun.jobs UNION ALL"
                   " SELECT state FROM btrun.jobs_archive) j GROUP BY state ORDER BY state");
    if (version >= 1)
      print_counts(pg, "runs",
                   "SELECT status, count(*) FROM backtest_analytics.backtest_runs"
                   " GROUP BY status ORDER BY status");
    if (version >= 3)
      print_counts(pg, "events",
                   "SELECT 'chunks', count(*) FROM btrun.event_chunks UNION ALL"
                   " SELECT 'bytes', coalesce(sum(length(data)), 0) FROM btrun.event_chunks");
  }
  bt_pg_close(pg);
  return rc;
}
