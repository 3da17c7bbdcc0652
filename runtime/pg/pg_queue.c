/* pg_queue.c - see pg_queue.h. Every statement is prepared once per connection and run
 * with text parameters; the hot paths (enqueue, claim, heartbeat, finish) are a single
 * statement each, so one round trip and their own transaction. This file: the SQL, the
 * statement runner, row decoding, reconnects, open/close (pg_queue_internal.h lists the
 * others). */
#include "pg_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_queue_internal.h"
#include "pg_schema.h"

#define HISTORY_INSERT                                                                 \
  "INSERT INTO btrun.job_history (run_id, at_ms, from_state, to_state, attempt, worker_id," \
  " reason) "

static const char *const SQL[S_N] = {
    [S_KEY] = "INSERT INTO btrun.job_keys (run_id, user_id, idempotency_key, unique_key)"
              " VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING run_id",
    [S_KEY_BY_IDEMPOTENCY] =
        "SELECT run_id FROM btrun.job_keys WHERE user_id = $1 AND idempotency_key = $2",
    [S_KEY_BY_UNIQUE] = "SELECT run_id FROM btrun.job_keys WHERE unique_key = $1",
    [S_INSERT] =
        "WITH j AS (INSERT INTO btrun.jobs (run_id, correlation_id, user_id, origin, strategy,"
        " state, max_attempts, created_ms, updated_ms, spec, idempotency_key, unique_key)"
        " VALUES ($1, $2, $3, $4, $5, 'queued', $6::int, $7::bigint, $7::bigint, $8, $9, $10)"
        " RETURNING " JOB_COLS "),"
        " h AS (" HISTORY_INSERT "SELECT run_id, $7::bigint, '', 'queued', 0, '', 'enqueued'"
        " FROM j),"
        " n AS (SELECT pg_notify('btrun_jobs', '') FROM j)"
        " SELECT " COLS("j.") " FROM j LEFT JOIN n ON true",
    /* The oldest queued job nobody else is claiming right now. */
    [S_CLAIM] =
        "WITH c AS (SELECT seq FROM btrun.jobs WHERE state = 'queued' ORDER BY seq LIMIT 1"
        " FOR UPDATE SKIP LOCKED),"
        " u AS (UPDATE btrun.jobs j SET state = 'running', attempt = j.attempt + 1,"
        " worker_id = $1::text, started_ms = $2::bigint, updated_ms = $2::bigint,"
        " lease_until_ms = $2::bigint + $3::bigint,"
        " progress = 0, bars_done = 0 FROM c WHERE j.seq = c.seq RETURNING " COLS("j.") "),"
        " h AS (" HISTORY_INSERT "SELECT run_id, $2::bigint, 'queued', 'running', attempt,"
        " $1::text, 'claimed' FROM u)"
        " SELECT * FROM u",
    [S_HEARTBEAT] = "UPDATE btrun.jobs SET lease_until_ms = $4::bigint + $5::bigint, updated_ms = $4::bigint,"
                    " progress = $6, bars_done = $7 WHERE run_id = $1 AND state = 'running'"
                    " AND worker_id = $2 AND attempt = $3 RETURNING cancel_requested",
    /* Ends the job and moves it to the archive, in one statement. */
    [S_FINISH] =
        "WITH d AS (DELETE FROM btrun.jobs WHERE run_id = $1 AND state = 'running'"
        " AND worker_id = $2 AND attempt = $3::int RETURNING *),"
        " a AS (INSERT INTO btrun.jobs_archive (" JOB_COLS ") SELECT run_id, correlation_id,"
        " user_id, origin, strategy, $4::text, cancel_requested, attempt, max_attempts,"
        " CASE WHEN $4::text = 'succeeded' THEN 1 ELSE progress END, bars_done, created_ms,"
        " started_ms, $5::bigint, $5::bigint, 0, worker_id, spec, $6::text, $7::text,"
        " idempotency_key, unique_key, seq FROM d RETURNING seq),"
        " h AS (" HISTORY_INSERT "SELECT run_id, $5::bigint, 'running', $4::text, attempt, $2::text,"
        " 'finished' FROM d)"
        " SELECT seq FROM a",
    [S_FINISHED_AS] = "SELECT 1 FROM btrun.jobs_archive WHERE run_id = $1 AND worker_id = $2"
                      " AND attempt = $3 AND state = $4",
    [S_OWNED] = "SELECT seq, attempt, max_attempts, cancel_requested FROM btrun.jobs"
                " WHERE run_id = $1 AND state = 'running' AND worker_id = $2 AND attempt = $3"
                " FOR UPDATE",
    [S_TO_QUEUED] = "WITH u AS (UPDATE btrun.jobs SET state = 'queued', attempt = $2::int,"
                    " worker_id = '', lease_until_ms = 0, updated_ms = $3::bigint"
                    " WHERE seq = $1::bigint"
                    " RETURNING seq) SELECT pg_notify('btrun_jobs', '') FROM u",
    [S_TO_FINAL] =
        "WITH d AS (DELETE FROM btrun.jobs WHERE seq = $1::bigint RETURNING *)"
        " INSERT INTO btrun.jobs_archive (" JOB_COLS ") SELECT run_id, correlation_id,"
        " user_id, origin, strategy, $2::text, cancel_requested, attempt, max_attempts, progress,"
        " bars_done, created_ms, started_ms, $3::bigint, $3::bigint, 0, '', spec, result, $4::text,"
        " idempotency_key, unique_key, seq FROM d",
    [S_HISTORY_ADD] = HISTORY_INSERT "VALUES ($1, $2::bigint, $3, $4, $5::int, $6, $7)",
    [S_GET] = "SELECT " JOB_COLS " FROM btrun.jobs WHERE run_id = $1 UNION ALL"
              " SELECT " JOB_COLS " FROM btrun.jobs_archive WHERE run_id = $1",
    [S_GET_HOT_LOCKED] = "SELECT " JOB_COLS " FROM btrun.jobs WHERE run_id = $1 FOR UPDATE",
    [S_CANCEL_FLAG] = "UPDATE btrun.jobs SET cancel_requested = true, updated_ms = $2::bigint"
                      " WHERE seq = $1::bigint",
    [S_EXPIRED] = "SELECT run_id, worker_id, attempt FROM btrun.jobs"
                  " WHERE state = 'running' AND lease_until_ms < $1 FOR UPDATE SKIP LOCKED",
    [S_COUNTS] = "SELECT state, count(*), count(*) FILTER (WHERE cancel_requested)"
                 " FROM btrun.jobs GROUP BY state UNION ALL"
                 " SELECT state, count(*), 0 FROM btrun.jobs_archive GROUP BY state",
    [S_COUNTS_USER] = "SELECT state, count(*), count(*) FILTER (WHERE cancel_requested)"
                      " FROM btrun.jobs WHERE user_id = $1 GROUP BY state UNION ALL"
                      " SELECT state, count(*), 0 FROM btrun.jobs_archive WHERE user_id = $1"
                      " GROUP BY state",
    [S_HISTORY] = "SELECT at_ms, from_state, to_state, attempt, worker_id, reason"
                  " FROM btrun.job_history WHERE run_id = $1 ORDER BY id",
    [S_CANCEL_REQUESTED] = "SELECT run_id FROM btrun.jobs WHERE state = 'running'"
                           " AND worker_id = $1 AND cancel_requested",
};

/* ---- statements ------------------------------------------------------------------------ */

PGresult *pq_run(pg_queue *q, int which, int n, const char *const *params, bt_err *err) {
  PGconn *c = bt_pg_conn(q->pg);
  char name[16];
  snprintf(name, sizeof name, "btq%d", which);
  if (!q->prepared[which]) {
    PGresult *p = PQprepare(c, name, SQL[which], 0, NULL);
    if (PQresultStatus(p) != PGRES_COMMAND_OK) {
      q->harmless = true;
      bt_pg_fail(q->pg, p, "prepare", err);
      PQclear(p);
      return NULL;
    }
    PQclear(p);
    q->prepared[which] = true;
  }
  PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  q->harmless = r && PQresultErrorField(r, PG_DIAG_SQLSTATE);
  bt_pg_fail(q->pg, r, "queue", err);
  PQclear(r);
  return NULL;
}

int pq_exec_sql(pg_queue *q, const char *sql, bt_err *err) {
  PGresult *r = PQexec(bt_pg_conn(q->pg), sql);
  int rc = 0;
  if (PQresultStatus(r) != PGRES_COMMAND_OK) {
    q->harmless = r && PQresultErrorField(r, PG_DIAG_SQLSTATE);
    rc = bt_pg_fail(q->pg, r, sql, err);
  }
  PQclear(r);
  return rc;
}

static void rollback(pg_queue *q) {
  if (!bt_pg_lost(q->pg)) PQclear(PQexec(bt_pg_conn(q->pg), "ROLLBACK"));
}

/* Ends a transaction: commit when rc is 0, else roll back; returns rc (or commit's). */
int pq_end_tx(pg_queue *q, int rc, bt_err *err) {
  if (rc) {
    rollback(q);
    return rc;
  }
  return pq_exec_sql(q, "COMMIT", err);
}

const char *pq_num(pq_nums *nb, int i, int64_t v) {
  snprintf(nb->b[i], sizeof nb->b[i], "%" PRId64, v);
  return nb->b[i];
}

void pq_copy_col(const PGresult *r, int row, int col, char *out, size_t n) {
  snprintf(out, n, "%s", PQgetvalue(r, row, col));
}

int64_t pq_int_col(const PGresult *r, int row, int col) {
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* Values come as text (the statements ask for no binary results). */
static bool col_null(const bt_queue_row *r, int c) { return PQgetisnull(r->res, r->row, c); }
static const char *col_text(const bt_queue_row *r, int c) {
  return PQgetvalue(r->res, r->row, c);
}
static int64_t col_int64(const bt_queue_row *r, int c) { return pq_int_col(r->res, r->row, c); }
static double col_real(const bt_queue_row *r, int c) {
  return strtod(PQgetvalue(r->res, r->row, c), NULL);
}
static bool col_flag(const bt_queue_row *r, int c) {
  return PQgetvalue(r->res, r->row, c)[0] == 't';
}

static const bt_queue_row_ops row_ops = {col_null, col_text, col_int64, col_real, col_flag};

bt_queue_row pq_row(PGresult *r, int row) { return (bt_queue_row){&row_ops, r, row}; }

int pq_collect(PGresult *r, void *arr, size_t elem, size_t *n,
               void (*read)(PGresult *r, int row, void *slot), bt_err *err) {
  void *p = NULL;
  size_t rows = (size_t)PQntuples(r);
  int rc = 0;
  if (rows && !(p = calloc(rows, elem))) {
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    rows = 0;
  }
  for (size_t i = 0; i < rows; i++) read(r, (int)i, (char *)p + i * elem);
  memcpy(arr, &p, sizeof p); /* arr is a T **, written as bt_grow_to does */
  *n = rows;
  return rc;
}

/* A statement returning at most one job row. */
int pq_one_job(pg_queue *q, int which, int n, const char *const *params, bt_job *out,
               int64_t *seq, bool *found, bt_err *err) {
  *found = false;
  PGresult *r = pq_run(q, which, n, params, err);
  if (!r) return err->code;
  int rc = 0;
  if (PQntuples(r) > 0) {
    bt_queue_row row = pq_row(r, 0);
    rc = bt_job_read_row(&row, out, seq, err);
    *found = rc == 0;
  }
  PQclear(r);
  return rc;
}

int pq_get_job(pg_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  return pq_one_job(q, S_GET, 1, (const char *[]){run_id}, out, NULL, found, err);
}

int pq_history_add(pg_queue *q, const char *run_id, int64_t at, const char *from,
                   const char *to, int attempt, const char *worker, const char *reason,
                   bt_err *err) {
  pq_nums nb;
  const char *p[] = {run_id, pq_num(&nb, 0, at), from, to, pq_num(&nb, 1, attempt),
                     worker ? worker : "", reason};
  PGresult *r = pq_run(q, S_HISTORY_ADD, 7, p, err);
  PQclear(r);
  return r ? 0 : err->code;
}

/* ---- connection loss ------------------------------------------------------------------ */

#define RETRIES 8 /* backoff 50 ms .. 5 s: about 11 s in all */

/* Before a call: a lost connection is re-established (statements prepared again). */
int pq_ensure(pg_queue *q, bt_err *err) {
  if (!bt_pg_lost(q->pg)) return 0;
  memset(q->prepared, 0, sizeof q->prepared);
  return bt_pg_reconnect(q->pg, err);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) && errno == EINTR) {
  }
}

/* After a failed attempt: true (having waited) when the connection was lost and the call
 * should be tried again. */
bool pq_retry(pg_queue *q, int rc, int *attempt) {
  if (rc != BT_EIO || !bt_pg_lost(q->pg) || *attempt >= RETRIES) return false;
  sleep_ms(bt_pg_backoff_ms((*attempt)++));
  return true;
}


/* ---- open/close ----------------------------------------------------------------------- */

static void pq_close(bt_queue *base) {
  pg_queue *q = (pg_queue *)base;
  bt_pg_close(q->pg);
  bt_pg_close(q->listener);
  memset(q->url, 0, sizeof q->url);
  pthread_mutex_destroy(&q->mu);
  pthread_mutex_destroy(&q->listen_mu);
  free(q);
}

static const bt_queue_ops pg_ops = {
    .name = "postgresql",
    .enqueue = pq_enqueue,
    .claim = pq_claim,
    .heartbeat = pq_heartbeat,
    .finish = pq_finish,
    .release = pq_release,
    .cancel = pq_cancel,
    .requeue_expired = pq_requeue_expired,
    .get = pq_get,
    .list = pq_list,
    .counts = pq_counts,
    .history = pq_history,
    .cancel_requested = pq_cancel_requested,
    .wake_fd = pq_wake_fd,
    .wake_drain = pq_wake_drain,
    .close = pq_close,
};

int bt_queue_open_pg(bt_queue **out, const char *url, bt_err *err) {
  *out = NULL;
  if (url && strlen(url) >= sizeof ((pg_queue *)0)->url)
    return bt_errf(err, BT_EINVAL, "config_error", "postgresql: connection URL too long");
  pg_queue *q = calloc(1, sizeof *q);
  if (!q) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  bt_queue_base_init(&q->base, &pg_ops);
  snprintf(q->url, sizeof q->url, "%s", url ? url : "");
  pthread_mutex_init(&q->mu, NULL);
  pthread_mutex_init(&q->listen_mu, NULL);
  int rc = bt_pg_open(&q->pg, url, err);
  if (!rc) rc = bt_pg_migrate(q->pg, NULL, err);
  if (rc) {
    pq_close(&q->base);
    return rc;
  }
  *out = &q->base;
  return 0;
}
