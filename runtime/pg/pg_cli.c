/* pg_cli.c - `btrun db`: apply migrations, show the schema and queue, copy spooled runs. */
#include "pg_cli.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "pg_conn.h"
#include "pg_queue.h"
#include "pg_runs.h"
#include "pg_schema.h"

const char bt_db_help[] =
    "usage: btrun db migrate|status|sync [--db URL]\n"
    "       btrun db bench [--db URL] [--jobs N] [--workers K]\n"
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
    "         data dir's event store) into the database now\n"
    "bench    the queue's own speed: enqueue N empty jobs (default 2000), then K\n"
    "         claimers (default 1, each its own connection, as K worker machines)\n"
    "         claim and finish them; prints jobs/s and claim latency p50/p99. Its jobs\n"
    "         (strategy \"bench\") are deleted afterwards. Not for a production queue\n"
    "         in use: its workers would take the empty jobs\n";

static int fail(bt_err *err) { return bt_cli_fail("btrun db", err); }

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


/* ---- bench ---------------------------------------------------------------------------- */

typedef struct claimer {
  bt_queue *q;
  char worker[32];
  uint64_t *lat_ns; /* one per claim that got a job */
  size_t n, cap;
  int rc;
  bt_err err;
} claimer;

static void *claim_loop(void *arg) {
  claimer *c = arg;
  for (;;) {
    bt_job j;
    bool got = false;
    uint64_t t0 = bt_now_ns();
    if (bt_queue_claim(c->q, c->worker, 60000, &j, &got, &c->err)) {
      c->rc = 1;
      break;
    }
    if (!got) break;
    if (c->n < c->cap) c->lat_ns[c->n++] = bt_now_ns() - t0;
    int rc = bt_queue_finish(c->q, j.run_id, c->worker, j.attempt, BT_JOB_END_SUCCEEDED, "{}",
                             NULL, &c->err);
    bt_job_clear(&j);
    if (rc) {
      c->rc = 1;
      break;
    }
  }
  return NULL;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

static int bench(const char *url, long jobs, long workers) {
  bt_err err = {0};
  bt_queue *q = NULL;
  if (bt_queue_open_pg(&q, url, &err)) return fail(&err);
  int rc = 0;
  uint64_t t0 = bt_now_ns();
  for (long i = 0; i < jobs && !rc; i++) {
    bt_job_new nj = {.spec_json = "{\"strategy\":\"bench\"}", .strategy = "bench",
                     .correlation_id = "btrun-db-bench", .origin = "manual"};
    bt_job j;
    if (bt_queue_enqueue(q, &nj, &j, NULL, &err)) rc = fail(&err);
    else bt_job_clear(&j);
  }
  double enq_s = (double)(bt_now_ns() - t0) / 1e9;
  claimer *c = calloc((size_t)workers, sizeof *c);
  pthread_t *t = calloc((size_t)workers, sizeof *t);
  uint64_t *all = calloc((size_t)jobs + 1, sizeof *all);
  if (!c || !t || !all) rc = 1;
  long opened = 0;
  for (; !rc && opened < workers; opened++) {
    c[opened].cap = (size_t)jobs;
    c[opened].lat_ns = calloc((size_t)jobs + 1, sizeof *c[opened].lat_ns);
    snprintf(c[opened].worker, sizeof c[opened].worker, "bench-%ld", opened);
    if (!c[opened].lat_ns || bt_queue_open_pg(&c[opened].q, url, &err)) rc = fail(&err);
  }
  uint64_t t1 = bt_now_ns();
  for (long i = 0; !rc && i < workers; i++) pthread_create(&t[i], NULL, claim_loop, &c[i]);
  size_t n = 0;
  for (long i = 0; !rc && i < workers; i++) {
    pthread_join(t[i], NULL);
    if (c[i].rc) rc = fail(&c[i].err);
    for (size_t k = 0; k < c[i].n; k++) all[n++] = c[i].lat_ns[k];
  }
  double s = (double)(bt_now_ns() - t1) / 1e9;
  if (!rc && n) {
    qsort(all, n, sizeof *all, cmp_u64);
    printf("enqueued %ld jobs in %.2f s (%.0f/s)\n", jobs, enq_s, (double)jobs / enq_s);
    printf("workers %ld: %zu jobs claimed and finished in %.2f s: %.0f jobs/s; claim latency "
           "p50 %.2f ms, p99 %.2f ms\n",
           workers, n, s, (double)n / s, (double)all[n / 2] / 1e6,
           (double)all[(n * 99) / 100] / 1e6);
  }
  for (long i = 0; i < opened; i++) {
    bt_queue_close(c[i].q);
    free(c[i].lat_ns);
  }
  free(c);
  free(t);
  free(all);
  bt_queue_close(q);
  /* The bench's jobs leave no trace: archive, keys and history rows go too. */
  bt_pg *pg = NULL;
  if (!bt_pg_open(&pg, url, &err)) {
    bt_pg_exec(pg,
               "DELETE FROM btrun.job_history WHERE run_id IN (SELECT run_id FROM"
               " btrun.jobs_archive WHERE correlation_id = 'btrun-db-bench');"
               "DELETE FROM btrun.job_keys WHERE run_id IN (SELECT run_id FROM"
               " btrun.jobs_archive WHERE correlation_id = 'btrun-db-bench');"
               "DELETE FROM btrun.jobs_archive WHERE correlation_id = 'btrun-db-bench'",
               &err);
    bt_pg_close(pg);
  }
  bt_err_clear(&err);
  return rc;
}

const char *const bt_db_subcommands[] = {"migrate", "status", "sync", "bench", NULL};

int bt_db_cli(bt_app *app, int argc, char **argv) {
  const char *sub = argv[1]; /* one of bt_db_subcommands (bt_cli_main) */
  long jobs = 2000, workers = 1;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--db") && i + 1 < argc) {
      snprintf(app->db, sizeof app->db, "%s", argv[++i]);
    } else if (!strcmp(sub, "bench") && i + 1 < argc &&
               (!strcmp(argv[i], "--jobs") || !strcmp(argv[i], "--workers"))) {
      long v;
      if (!bt_cli_long(argv[i + 1], 1, 1000000, &v)) {
        fprintf(stderr, "btrun db bench: %s wants a number 1..1000000\n", argv[i]);
        return 1;
      }
      *(argv[i][2] == 'j' ? &jobs : &workers) = v;
      i++;
    } else {
      static const char *const names[] = {"--db", "--jobs", "--workers", "--help"};
      static const bt_cli_usage u = {.prog = "btrun db",
                                     .hint = "Try 'btrun db --help'.",
                                     .unknown = "unknown argument '%s'"};
      return bt_cli_unknown(&u, argv[i], names, sizeof names / sizeof names[0]);
    }
  }
  bool migrate = !strcmp(sub, "migrate"), status = !strcmp(sub, "status");
  bt_err err = {0};
  if (!bt_pg_is_url(app->db)) {
    fprintf(stderr, "btrun db: no postgresql:// database: give --db URL or set BTRUN_DB\n");
    return 1;
  }
  if (!strcmp(sub, "bench")) return bench(app->db, jobs, workers);
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
