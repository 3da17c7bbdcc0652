/* queue_sqlite.c - the embedded queue backend: one SQLite file in WAL mode shared by any
 * number of processes (the HTTP server, supervisors, `btrun runs`).
 *
 * Every write is one short BEGIN IMMEDIATE transaction (taking the write lock up front,
 * so two processes never deadlock upgrading a read lock); readers never wait for writers.
 * Statements are prepared once per handle; a mutex serializes the handle's users.
 * This file: schema, statements, row decoding, open/close (queue_sqlite_internal.h lists
 * the others). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "grow.h"
#include "queue_sqlite_internal.h"

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS jobs("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT,"
    " run_id TEXT NOT NULL UNIQUE,"
    " correlation_id TEXT NOT NULL,"
    " user_id TEXT NOT NULL DEFAULT '',"
    " origin TEXT NOT NULL,"
    " strategy TEXT NOT NULL,"
    " state TEXT NOT NULL,"
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"
    " attempt INTEGER NOT NULL DEFAULT 0,"
    " max_attempts INTEGER NOT NULL,"
    " progress REAL NOT NULL DEFAULT 0,"
    " bars_done INTEGER NOT NULL DEFAULT 0,"
    " created_ms INTEGER NOT NULL,"
    " started_ms INTEGER NOT NULL DEFAULT 0,"
    " finished_ms INTEGER NOT NULL DEFAULT 0,"
    " updated_ms INTEGER NOT NULL,"
    " lease_until_ms INTEGER NOT NULL DEFAULT 0,"
    " worker_id TEXT NOT NULL DEFAULT '',"
    " spec TEXT NOT NULL,"
    " result TEXT,"
    " error TEXT,"
    " idempotency_key TEXT,"
    " unique_key TEXT UNIQUE);"
    "CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency ON jobs(user_id, idempotency_key)"
    " WHERE idempotency_key IS NOT NULL;"
    "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state, seq);"
    "CREATE INDEX IF NOT EXISTS jobs_lease ON jobs(state, lease_until_ms);"
    "CREATE INDEX IF NOT EXISTS jobs_user ON jobs(user_id, seq);"
    /* Covers the per-user counts the API checks on every POST (its per-user cap). */
    "CREATE INDEX IF NOT EXISTS jobs_user_state ON jobs(user_id, state, cancel_requested);"
    "CREATE TABLE IF NOT EXISTS job_history("
    " job_seq INTEGER NOT NULL,"
    " at_ms INTEGER NOT NULL,"
    " from_state TEXT NOT NULL,"
    " to_state TEXT NOT NULL,"
    " attempt INTEGER NOT NULL,"
    " worker_id TEXT NOT NULL,"
    " reason TEXT NOT NULL);"
    "CREATE INDEX IF NOT EXISTS job_history_job ON job_history(job_seq);";

static const char *const SQL[S_N] = {
    [S_BEGIN] = "BEGIN IMMEDIATE",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_BY_RUN_ID] = "SELECT " JOB_COLS " FROM jobs WHERE run_id = ?1",
    [S_BY_IDEMPOTENCY] =
        "SELECT " JOB_COLS " FROM jobs WHERE user_id = ?1 AND idempotency_key = ?2",
    [S_BY_UNIQUE] = "SELECT " JOB_COLS " FROM jobs WHERE unique_key = ?1",
    [S_INSERT] = "INSERT INTO jobs(run_id, correlation_id, user_id, origin, strategy, state,"
                 " max_attempts, created_ms, updated_ms, spec, idempotency_key, unique_key)"
                 " VALUES(?1, ?2, ?3, ?4, ?5, 'queued', ?6, ?7, ?7, ?8, ?9, ?10)",
    [S_HISTORY_ADD] = "INSERT INTO job_history(job_seq, at_ms, from_state, to_state, attempt,"
                      " worker_id, reason) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    /* The oldest queued job; the sub-select uses the (state, seq) index. */
    [S_CLAIM] = "UPDATE jobs SET state = 'running', attempt = attempt + 1, worker_id = ?1,"
                " started_ms = ?2, updated_ms = ?2, lease_until_ms = ?2 + ?3,"
                " progress = 0, bars_done = 0"
                " WHERE seq = (SELECT seq FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1)"
                " RETURNING " JOB_COLS,
    [S_HEARTBEAT] = "UPDATE jobs SET lease_until_ms = ?4 + ?5, updated_ms = ?4, progress = ?6,"
                    " bars_done = ?7 WHERE run_id = ?1 AND state = 'running'"
                    " AND worker_id = ?2 AND attempt = ?3 RETURNING cancel_requested",
    [S_FINISH] = "UPDATE jobs SET state = ?4, finished_ms = ?5, updated_ms = ?5,"
                 " lease_until_ms = 0, result = ?6, error = ?7,"
                 " progress = CASE WHEN ?4 = 'succeeded' THEN 1 ELSE progress END"
                 " WHERE run_id = ?1 AND state = 'running' AND worker_id = ?2 AND attempt = ?3"
                 " RETURNING seq",
    [S_OWNED] = "SELECT seq, attempt, max_attempts, cancel_requested FROM jobs"
                " WHERE run_id = ?1 AND state = 'running' AND worker_id = ?2 AND attempt = ?3",
    [S_TO_QUEUED] = "UPDATE jobs SET state = 'queued', attempt = ?2, worker_id = '',"
                    " lease_until_ms = 0, updated_ms = ?3 WHERE seq = ?1",
    [S_TO_FINAL] = "UPDATE jobs SET state = ?2, worker_id = '', lease_until_ms = 0,"
                   " finished_ms = ?3, updated_ms = ?3, error = ?4 WHERE seq = ?1",
    [S_CANCEL_FLAG] = "UPDATE jobs SET cancel_requested = 1, updated_ms = ?2 WHERE seq = ?1",
    [S_EXPIRED] = "SELECT run_id, worker_id, attempt FROM jobs"
                  " WHERE state = 'running' AND lease_until_ms < ?1",
    [S_COUNTS] = "SELECT state, count(*), sum(cancel_requested) FROM jobs GROUP BY state",
    [S_COUNTS_USER] = "SELECT state, count(*), sum(cancel_requested) FROM jobs"
                      " WHERE user_id = ?1 GROUP BY state",
    [S_HISTORY] = "SELECT h.at_ms, h.from_state, h.to_state, h.attempt, h.worker_id, h.reason"
                  " FROM job_history h JOIN jobs j ON j.seq = h.job_seq"
                  " WHERE j.run_id = ?1 ORDER BY h.rowid",
    [S_CANCEL_REQUESTED] = "SELECT run_id FROM jobs WHERE state = 'running'"
                           " AND worker_id = ?1 AND cancel_requested = 1",
    [S_ANY_QUEUED] = "SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1",
};

/* ---- statements ------------------------------------------------------------------------ */

int sq_db_error(sq_queue *q, bt_err *err, const char *what) {
  return bt_errf(err, BT_EIO, "queue_error", "%s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
}

sqlite3_stmt *sq_stmt(sq_queue *q, int which) {
  sqlite3_stmt *s = q->st[which];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

void sq_bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(s, i);
}

/* One statement that returns no rows. */
int sq_exec(sq_queue *q, sqlite3_stmt *s, bt_err *err, const char *what) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : sq_db_error(q, err, what);
}

int sq_begin(sq_queue *q, bt_err *err) { return sq_exec(q, sq_stmt(q, S_BEGIN), err, "begin"); }

static int commit(sq_queue *q, bt_err *err) {
  if (sq_exec(q, sq_stmt(q, S_COMMIT), err, "commit")) {
    sq_exec(q, sq_stmt(q, S_ROLLBACK), &(bt_err){0}, "rollback");
    return err->code;
  }
  return 0;
}

/* Ends a transaction: commit when rc is 0, else roll back; returns rc (or commit's). */
int sq_end_tx(sq_queue *q, int rc, bt_err *err) {
  if (rc == 0) return commit(q, err);
  bt_err ignored = {0};
  sq_exec(q, sq_stmt(q, S_ROLLBACK), &ignored, "rollback");
  return rc;
}

void sq_copy_col(sqlite3_stmt *s, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

static bool col_null(const bt_queue_row *r, int c) {
  return sqlite3_column_type(r->res, c) == SQLITE_NULL;
}
static const char *col_text(const bt_queue_row *r, int c) {
  return (const char *)sqlite3_column_text(r->res, c);
}
static int64_t col_int64(const bt_queue_row *r, int c) { return sqlite3_column_int64(r->res, c); }
static double col_real(const bt_queue_row *r, int c) { return sqlite3_column_double(r->res, c); }
static bool col_flag(const bt_queue_row *r, int c) { return sqlite3_column_int(r->res, c) != 0; }

static const bt_queue_row_ops row_ops = {col_null, col_text, col_int64, col_real, col_flag};

bt_queue_row sq_row(sqlite3_stmt *s) { return (bt_queue_row){&row_ops, s, 0}; }

/* Runs a SELECT of JOB_COLS expected to give at most one row. */
int sq_one_job(sq_queue *q, sqlite3_stmt *s, bt_job *out, int64_t *seq, bool *found,
               bt_err *err) {
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  int r = 0;
  bt_queue_row row = sq_row(s);
  if (rc == SQLITE_ROW) r = bt_job_read_row(&row, out, seq, err);
  else if (rc != SQLITE_DONE) r = sq_db_error(q, err, "read job");
  sqlite3_reset(s);
  return r;
}

int sq_history_add(sq_queue *q, int64_t seq, int64_t at, const char *from, const char *to,
                   int attempt, const char *worker, const char *reason, bt_err *err) {
  sqlite3_stmt *s = sq_stmt(q, S_HISTORY_ADD);
  sqlite3_bind_int64(s, 1, seq);
  sqlite3_bind_int64(s, 2, at);
  sq_bind_text(s, 3, from);
  sq_bind_text(s, 4, to);
  sqlite3_bind_int(s, 5, attempt);
  sq_bind_text(s, 6, worker ? worker : "");
  sq_bind_text(s, 7, reason);
  return sq_exec(q, s, err, "write history");
}

int sq_get_locked(sq_queue *q, const char *run_id, bt_job *out, int64_t *seq, bool *found,
                  bt_err *err) {
  sqlite3_stmt *s = sq_stmt(q, S_BY_RUN_ID);
  sq_bind_text(s, 1, run_id);
  return sq_one_job(q, s, out, seq, found, err);
}

int sq_collect(sq_queue *q, sqlite3_stmt *s, void *arr, size_t elem, size_t *n,
               void (*read)(sqlite3_stmt *s, void *slot), const char *what, bt_err *err) {
  void *p = NULL;
  size_t cap = 0, k = 0;
  int rc = 0, src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    if (bt_grow(&p, &cap, k + 1, elem)) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    read(s, (char *)p + k++ * elem);
  }
  if (!rc && src != SQLITE_DONE) rc = sq_db_error(q, err, what);
  sqlite3_reset(s);
  if (rc) {
    free(p);
    p = NULL;
    k = 0;
  }
  memcpy(arr, &p, sizeof p); /* arr is a T **, written as bt_grow_to does */
  *n = k;
  return rc;
}

/* ---- open/close ---------------------------------------------------------------------- */

static void sq_close(bt_queue *base) {
  sq_queue *q = (sq_queue *)base;
  for (int i = 0; i < S_N; i++) sqlite3_finalize(q->st[i]);
  sqlite3_close(q->db);
  pthread_mutex_destroy(&q->mu);
  free(q);
}

static const bt_queue_ops sqlite_ops = {
    .name = "sqlite",
    .enqueue = sq_enqueue,
    .claim = sq_claim,
    .heartbeat = sq_heartbeat,
    .finish = sq_finish,
    .release = sq_release,
    .cancel = sq_cancel,
    .requeue_expired = sq_requeue_expired,
    .get = sq_get,
    .list = sq_list,
    .counts = sq_counts,
    .history = sq_history,
    .cancel_requested = sq_cancel_requested,
    .close = sq_close,
};

int bt_queue_open_sqlite(bt_queue **out, const char *path, bt_err *err) {
  *out = NULL;
  if (strlen(path) >= sizeof ((sq_queue *)0)->path)
    return bt_errf(err, BT_EINVAL, "queue_error", "queue path too long: %s", path);
  if (bt_mkdirs_parent(path, 0755))
    return bt_errf(err, BT_EIO, "queue_error", "%s: cannot create its directory: %s", path,
                   strerror(errno));
  sq_queue *q = calloc(1, sizeof *q);
  if (!q) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  bt_queue_base_init(&q->base, &sqlite_ops);
  snprintf(q->path, sizeof q->path, "%s", path);
  pthread_mutex_init(&q->mu, NULL);
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &q->db, flags, NULL) != SQLITE_OK) {
    bt_errf(err, BT_EIO, "queue_error", "%s: cannot open: %s", path,
            q->db ? sqlite3_errmsg(q->db) : "out of memory");
    sq_close(&q->base);
    return err->code;
  }
  /* Writers of other processes hold the lock for a few statements at most. */
  sqlite3_busy_timeout(q->db, 10000);
  char *msg = NULL;
  /* The schema under a write lock taken up front (BEGIN IMMEDIATE waits in the busy
   * handler). Two processes opening a new queue at once (serve and its supervisor) can
   * still get "database is locked" without any wait (the switch to WAL, a lock upgrade),
   * so that is retried for as long as the busy timeout. */
  int rc = SQLITE_BUSY;
  for (int tries = 0; tries < 200 && (rc & 0xff) == SQLITE_BUSY; tries++) {
    if (tries) {
      sqlite3_free(msg);
      msg = NULL;
      sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
      usleep(50000);
    }
    if ((rc = sqlite3_exec(q->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;", NULL,
                           NULL, &msg)) == SQLITE_OK &&
        (rc = sqlite3_exec(q->db, "BEGIN IMMEDIATE", NULL, NULL, &msg)) == SQLITE_OK &&
        (rc = sqlite3_exec(q->db, SCHEMA, NULL, NULL, &msg)) == SQLITE_OK)
      rc = sqlite3_exec(q->db, "COMMIT", NULL, NULL, &msg);
  }
  if (rc != SQLITE_OK) {
    bt_errf(err, BT_EIO, "queue_error", "%s: cannot set up the schema: %s", path,
            msg ? msg : sqlite3_errmsg(q->db));
    sqlite3_free(msg);
    sqlite3_exec(q->db, "ROLLBACK", NULL, NULL, NULL);
    sq_close(&q->base);
    return err->code;
  }
  for (int i = 0; i < S_N; i++) {
    if (sqlite3_prepare_v3(q->db, SQL[i], -1, SQLITE_PREPARE_PERSISTENT, &q->st[i], NULL) !=
        SQLITE_OK) {
      sq_db_error(q, err, "prepare");
      sq_close(&q->base);
      return err->code;
    }
  }
  *out = &q->base;
  return 0;
}
