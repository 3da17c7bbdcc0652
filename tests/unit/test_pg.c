/* test_pg: connection (URL, environment, redaction) and migrations against a real
 * PostgreSQL server (tests/tools/pg.sh; skipped outside CI when none can start). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pg_conn.h"
#include "pg_schema.h"
#include "pg_test.h"

static pg_test pg;

static bool redacts(const char *in, const char *want) {
  char out[512];
  bt_pg_redact(in, out, sizeof out);
  if (!strcmp(out, want)) return true;
  fprintf(stderr, "  redact(%s) = %s, want %s\n", in, out, want);
  return false;
}

static void test_redact(void) {
  CHECK(redacts("postgresql://u:s3cret@db:5432/x", "postgresql://u:***@db:5432/x"));
  CHECK(redacts("postgres://u:p%40ss@db/x?sslmode=require", "postgres://u:***@db/x?sslmode=require"));
  CHECK(redacts("postgresql://u@db/x", "postgresql://u@db/x"));
  CHECK(redacts("postgresql://db/x?user=u&password=hunter22&sslmode=verify-full",
                "postgresql://db/x?user=u&password=***&sslmode=verify-full"));
  CHECK(redacts("host=db password='a b\\'c' user=u", "host=db password=*** user=u"));
  CHECK(redacts("host=db PASSWORD=zz user=u", "host=db PASSWORD=*** user=u"));
  CHECK(redacts("error at postgresql://u:pw@h/d: boom", "error at postgresql://u:***@h/d: boom"));
  CHECK(redacts("postgresql://u:pw@[::1]:5/d", "postgresql://u:***@[::1]:5/d"));
  CHECK(bt_pg_is_url("postgresql://x") && bt_pg_is_url("postgres://x"));
  CHECK(!bt_pg_is_url("sqlite:///x") && !bt_pg_is_url("/srv/btrun.db") && !bt_pg_is_url(NULL));
  char small[8];
  bt_pg_redact("postgresql://u:pw@h/d", small, sizeof small);
  CHECK(strlen(small) == 7);
}

static void test_connect(void) {
  bt_err err = {0};
  bt_pg *c = NULL;
  CHECK_OK(bt_pg_open(&c, pg.url, &err));
  if (!c) return;
  CHECK(strstr(bt_pg_url(c), ":***@127.0.0.1:"));
  CHECK(!strstr(bt_pg_url(c), pg.password));
  PGresult *r = bt_pg_query(c, "SELECT $1::int + 1", 1, (const char *[]){"41"}, &err);
  CHECK(r && !strcmp(PQgetvalue(r, 0, 0), "42"));
  PQclear(r);
  r = bt_pg_query(c, "SELECT current_setting('application_name')", 0, NULL, &err);
  CHECK(r && !strcmp(PQgetvalue(r, 0, 0), "btrun"));
  PQclear(r);
  /* A failing statement: the message names the server (redacted) and the cause. */
  CHECK(bt_pg_exec(c, "SELECT * FROM no_such_table", &err) == BT_EIO);
  CHECK(strstr(err.msg, "no_such_table") && !strstr(err.msg, pg.password));
  bt_pg_close(c);

  /* A wrong password: refused, and neither password shows in the message. */
  char bad[600];
  snprintf(bad, sizeof bad, "%s", pg.url);
  char *at = strstr(bad, pg.password);
  memcpy(at, "WRONGPASSWORD123456789012", strlen(pg.password));
  bt_err_clear(&err);
  CHECK(bt_pg_open(&c, bad, &err) == BT_EIO && !c);
  CHECK(strstr(err.msg, "password authentication failed"));
  CHECK(!strstr(err.msg, pg.password) && !strstr(err.msg, "WRONGPASSWORD"));
  CHECK(strstr(err.msg, ":***@"));

  /* libpq's environment alone. */
  const char *port = strrchr(pg.url, ':');
  char portnum[16];
  snprintf(portnum, sizeof portnum, "%.*s", (int)strcspn(port + 1, "/"), port + 1);
  setenv("PGHOST", "127.0.0.1", 1);
  setenv("PGPORT", portnum, 1);
  setenv("PGUSER", "postgres", 1);
  setenv("PGPASSWORD", pg.password, 1);
  setenv("PGDATABASE", "btrun", 1);
  bt_err_clear(&err);
  CHECK_OK(bt_pg_open(&c, "", &err));
  bt_pg_close(c);
  /* The server refuses a query naming the password: the error text is scrubbed. */
  CHECK_OK(bt_pg_open(&c, NULL, &err));
  if (c) {
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT * FROM \"t_%s\"", pg.password);
    CHECK(bt_pg_exec(c, sql, &err) == BT_EIO);
    CHECK(strstr(err.msg, "t_***") && !strstr(err.msg, pg.password));
    bt_pg_close(c);
  }
  setenv("PGPASSWORD", "nope", 1);
  CHECK(bt_pg_open(&c, "postgresql://postgres@127.0.0.1:1/btrun", &err) == BT_EIO);
  unsetenv("PGHOST"), unsetenv("PGPORT"), unsetenv("PGUSER"), unsetenv("PGPASSWORD");
  unsetenv("PGDATABASE");
  bt_err_clear(&err);
  CHECK(bt_pg_open(&c, "postgresql://u:pw@h:notaport/d", &err) != 0 && !c);
  CHECK(!strstr(err.msg, ":pw@"));
}

static void *migrate_thread(void *arg) {
  int *applied = arg;
  bt_err err = {0};
  bt_pg *c = NULL;
  *applied = -1;
  if (bt_pg_open(&c, pg.url, &err) == 0 && bt_pg_migrate(c, applied, &err) != 0) {
    fprintf(stderr, "migrate: %s\n", err.msg);
    *applied = -1;
  }
  bt_pg_close(c);
  return NULL;
}

static int count(bt_pg *c, const char *sql) {
  bt_err err = {0};
  PGresult *r = bt_pg_query(c, sql, 0, NULL, &err);
  int n = r ? atoi(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  return n;
}

static void test_migrate(void) {
  /* Four processes' worth of connections start at once: one applies, none fails. */
  pthread_t t[4];
  int applied[4];
  for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, migrate_thread, &applied[i]);
  int total = 0;
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    CHECK(applied[i] >= 0);
    total += applied[i];
  }
  CHECK(total == bt_pg_schema_latest());
  bt_err err = {0};
  bt_pg *c = NULL;
  CHECK_OK(bt_pg_open(&c, pg.url, &err));
  if (!c) return;
  int v = -1, n = -1;
  CHECK_OK(bt_pg_schema_version(c, &v, &err));
  CHECK(v == bt_pg_schema_latest());
  CHECK_OK(bt_pg_migrate(c, &n, &err));
  CHECK(n == 0);
  CHECK(count(c, "SELECT count(*) FROM btrun.schema_migrations") == bt_pg_schema_latest());
  /* The tracing plan's columns are there. */
  CHECK(count(c, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                 "'backtest_analytics' AND table_name = 'backtest_runs' AND column_name IN "
                 "('run_id','correlation_id','created_at','config_file','strategy_type',"
                 "'total_return','sharpe_ratio','max_drawdown','total_trades','event_count',"
                 "'event_storage_path','status','completed_at')") == 13);
  CHECK(count(c, "SELECT count(*) FROM information_schema.columns WHERE table_schema = "
                 "'backtest_analytics' AND table_name = 'event_latencies' AND column_name IN "
                 "('run_id','event_type','mean_latency_ms','p95_latency_ms','max_latency_ms',"
                 "'event_count','measured_at')") == 7);
  CHECK(count(c, "SELECT count(*) FROM pg_indexes WHERE schemaname = 'backtest_analytics' "
                 "AND indexname = 'backtest_runs_correlation'") == 1);
  /* A database from a newer btrun is refused, and nothing is changed. */
  CHECK_OK(bt_pg_exec(c, "INSERT INTO btrun.schema_migrations VALUES (9999, 'future')", &err));
  CHECK(bt_pg_migrate(c, &n, &err) == BT_ESTATE && strstr(err.msg, "9999"));
  CHECK_OK(bt_pg_exec(c, "DELETE FROM btrun.schema_migrations WHERE version = 9999", &err));
  bt_pg_close(c);
}

int main(void) {
  test_redact();
  pg_test_start(&pg);
  test_connect();
  test_migrate();
  pg_test_stop(&pg);
  return failures != 0;
}
