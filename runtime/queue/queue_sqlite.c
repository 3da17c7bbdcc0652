/* queue_sqlite.c - the embedded queue backend: one SQLite file in WAL mode shared by any
 * number of processes (the HTTP server, supervisors, `btrun runs`).
 *
 * Every write is one short BEGIN IMMEDIATE transaction (taking the write lock up front,
 * so two processes never deadlock upgrading a read lock); readers never wait for writers.
 * Statements are prepared once per handle; a mutex serializes the handle's users. */
#include <errno.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "queue.h"
#include "run.h"

#define JOB_COLS                                                                        \
  "run_id, correlation_id, user_id, origin, strategy, state, cancel_requested, attempt, " \
  "max_attempts, progress, bars_done, created_ms, started_ms, finished_ms, updated_ms, "  \
  "lease_until_ms, worker_id, spec, result, error, idempotency_key, unique_key, seq"

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

enum {
  S_BEGIN,
  S_COMMIT,
  S_ROLLBACK,
  S_BY_RUN_ID,
  S_BY_IDEMPOTENCY,
  S_BY_UNIQUE,
  S_INSERT,
  S_HISTORY_ADD,
  S_CLAIM,
  S_HEARTBEAT,
  S_FINISH,
  S_OWNED,
  S_TO_QUEUED,
  S_TO_FINAL,
  S_CANCEL_FLAG,
  S_EXPIRED,
  S_COUNTS,
  S_COUNTS_USER,
  S_HISTORY,
  S_CANCEL_REQUESTED,
  S_ANY_QUEUED,
  S_N
};

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

typedef struct sq_queue {
  bt_queue base;
  sqlite3 *db;
  sqlite3_stmt *st[S_N];
  pthread_mutex_t mu;
  char path[512];
} sq_queue;

static int db_error(sq_queue *q, bt_err *err, const char *what) {
  return bt_errf(err, BT_EIO, "queue_error", "%s: %s: %s", q->path, what, sqlite3_errmsg(q->db));
}

static sqlite3_stmt *stmt(sq_queue *q, int which) {
  sqlite3_stmt *s = q->st[which];
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return s;
}

static void bind_text(sqlite3_stmt *s, int i, const char *v) {
  if (v) sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(s, i);
}

/* One statement that returns no rows. */
static int exec(sq_queue *q, sqlite3_stmt *s, bt_err *err, const char *what) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_error(q, err, what);
}

static int begin(sq_queue *q, bt_err *err) { return exec(q, stmt(q, S_BEGIN), err, "begin"); }

static int commit(sq_queue *q, bt_err *err) {
  if (exec(q, stmt(q, S_COMMIT), err, "commit")) {
    exec(q, stmt(q, S_ROLLBACK), &(bt_err){0}, "rollback");
    return err->code;
  }
  return 0;
}

/* Ends a transaction: commit when rc is 0, else roll back; returns rc (or commit's). */
static int end_tx(sq_queue *q, int rc, bt_err *err) {
  if (rc == 0) return commit(q, err);
  bt_err ignored = {0};
  exec(q, stmt(q, S_ROLLBACK), &ignored, "rollback");
  return rc;
}

static char *dup_col(sqlite3_stmt *s, int i) {
  const unsigned char *t = sqlite3_column_text(s, i);
  return t ? strdup((const char *)t) : NULL;
}

static void copy_col(sqlite3_stmt *s, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(s, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* A row of JOB_COLS into *j (heap strings); the last column (seq) into *seq. */
static int read_job(sq_queue *q, sqlite3_stmt *s, bt_job *j, int64_t *seq, bt_err *err) {
  memset(j, 0, sizeof *j);
  copy_col(s, 0, j->run_id, sizeof j->run_id);
  copy_col(s, 1, j->correlation_id, sizeof j->correlation_id);
  copy_col(s, 2, j->user_id, sizeof j->user_id);
  copy_col(s, 3, j->origin, sizeof j->origin);
  copy_col(s, 4, j->strategy, sizeof j->strategy);
  int st = bt_job_state_parse((const char *)sqlite3_column_text(s, 5));
  j->state = st < 0 ? BT_JOB_FAILED : (bt_job_state)st;
  j->cancel_requested = sqlite3_column_int(s, 6) != 0;
  j->attempt = sqlite3_column_int(s, 7);
  j->max_attempts = sqlite3_column_int(s, 8);
  j->progress = sqlite3_column_double(s, 9);
  j->bars_done = sqlite3_column_int64(s, 10);
  j->created_ms = sqlite3_column_int64(s, 11);
  j->started_ms = sqlite3_column_int64(s, 12);
  j->finished_ms = sqlite3_column_int64(s, 13);
  j->updated_ms = sqlite3_column_int64(s, 14);
  j->lease_until_ms = sqlite3_column_int64(s, 15);
  copy_col(s, 16, j->worker_id, sizeof j->worker_id);
  j->spec_json = dup_col(s, 17);
  j->result_json = dup_col(s, 18);
  j->error_json = dup_col(s, 19);
  j->idempotency_key = dup_col(s, 20);
  j->unique_key = dup_col(s, 21);
  if (seq) *seq = sqlite3_column_int64(s, 22);
  if (!j->spec_json || (sqlite3_column_type(s, 18) != SQLITE_NULL && !j->result_json) ||
      (sqlite3_column_type(s, 19) != SQLITE_NULL && !j->error_json)) {
    bt_job_clear(j);
    (void)q;
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  return 0;
}

/* Runs a SELECT of JOB_COLS expected to give at most one row. */
static int one_job(sq_queue *q, sqlite3_stmt *s, bt_job *out, int64_t *seq, bool *found,
                   bt_err *err) {
  int rc = sqlite3_step(s);
  *found = rc == SQLITE_ROW;
  int r = 0;
  if (rc == SQLITE_ROW) r = read_job(q, s, out, seq, err);
  else if (rc != SQLITE_DONE) r = db_error(q, err, "read job");
  sqlite3_reset(s);
  return r;
}

static int history_add(sq_queue *q, int64_t seq, int64_t at, const char *from, const char *to,
                       int attempt, const char *worker, const char *reason, bt_err *err) {
  sqlite3_stmt *s = stmt(q, S_HISTORY_ADD);
  sqlite3_bind_int64(s, 1, seq);
  sqlite3_bind_int64(s, 2, at);
  bind_text(s, 3, from);
  bind_text(s, 4, to);
  sqlite3_bind_int(s, 5, attempt);
  bind_text(s, 6, worker ? worker : "");
  bind_text(s, 7, reason);
  return exec(q, s, err, "write history");
}

static int get_locked(sq_queue *q, const char *run_id, bt_job *out, int64_t *seq, bool *found,
                      bt_err *err) {
  sqlite3_stmt *s = stmt(q, S_BY_RUN_ID);
  bind_text(s, 1, run_id);
  return one_job(q, s, out, seq, found, err);
}

/* ---- enqueue ------------------------------------------------------------------------- */

static int sq_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed,
                      bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  if (existed) *existed = false;
  if (bt_job_new_check(nj, err)) return err->code;
  const char *user = nj->user_id ? nj->user_id : "";
  char run_id[BT_JOB_ID_LEN];
  if (nj->run_id && *nj->run_id) snprintf(run_id, sizeof run_id, "%s", nj->run_id);
  else bt_uuid(run_id);
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  int rc = begin(q, err);
  if (rc) goto out;
  bool found = false;
  if (nj->idempotency_key) {
    sqlite3_stmt *s = stmt(q, S_BY_IDEMPOTENCY);
    bind_text(s, 1, user);
    bind_text(s, 2, nj->idempotency_key);
    rc = one_job(q, s, out, NULL, &found, err);
  }
  if (!rc && !found && nj->unique_key) {
    sqlite3_stmt *s = stmt(q, S_BY_UNIQUE);
    bind_text(s, 1, nj->unique_key);
    rc = one_job(q, s, out, NULL, &found, err);
  }
  if (!rc && found) {
    if (existed) *existed = true;
    rc = end_tx(q, rc, err);
    goto out;
  }
  if (!rc) {
    sqlite3_stmt *s = stmt(q, S_INSERT);
    bind_text(s, 1, run_id);
    bind_text(s, 2, nj->correlation_id);
    bind_text(s, 3, user);
    bind_text(s, 4, nj->origin);
    bind_text(s, 5, nj->strategy);
    sqlite3_bind_int(s, 6, nj->max_attempts > 0 ? nj->max_attempts : base->default_max_attempts);
    sqlite3_bind_int64(s, 7, now);
    bind_text(s, 8, nj->spec_json);
    bind_text(s, 9, nj->idempotency_key);
    bind_text(s, 10, nj->unique_key);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_CONSTRAINT)
      rc = bt_errf_at(err, BT_EINVAL, "conflict", "", 0, "run_id",
                      "job: run_id %s already exists", run_id);
    else if (src != SQLITE_DONE) rc = db_error(q, err, "insert job");
  }
  if (!rc)
    rc = history_add(q, sqlite3_last_insert_rowid(q->db), now, "", "queued", 0, "",
                     "enqueued", err);
  if (!rc) rc = get_locked(q, run_id, out, NULL, &found, err);
  rc = end_tx(q, rc, err);
  if (rc && found) bt_job_clear(out);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* ---- claim, heartbeat, finish -------------------------------------------------------- */

static int sq_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out,
                    bool *got, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *got = false;
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  /* Idle workers poll: a read finds "nothing queued" without taking the write lock. */
  sqlite3_stmt *any = stmt(q, S_ANY_QUEUED);
  int arc = sqlite3_step(any);
  sqlite3_reset(any);
  if (arc == SQLITE_DONE) {
    pthread_mutex_unlock(&q->mu);
    return 0;
  }
  int rc = begin(q, err);
  if (!rc) {
    sqlite3_stmt *s = stmt(q, S_CLAIM);
    bind_text(s, 1, worker_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, lease_ms);
    int64_t seq = 0;
    rc = one_job(q, s, out, &seq, got, err);
    if (!rc && *got)
      rc = history_add(q, seq, now, "queued", "running", out->attempt, worker_id, "claimed",
                       err);
    rc = end_tx(q, rc, err);
    if (rc && *got) {
      bt_job_clear(out);
      *got = false;
    }
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int lease_lost(bt_err *err, const char *run_id, const char *worker_id, int attempt) {
  return bt_errf(err, BT_ESTATE, "lease_lost",
                 "job %s is no longer running as attempt %d of worker %s", run_id, attempt,
                 worker_id);
}

static int sq_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                        int64_t lease_ms, double progress, int64_t bars_done,
                        bool *cancel_requested, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  if (progress < 0 || progress != progress) progress = 0;
  if (progress > 1) progress = 1;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = stmt(q, S_HEARTBEAT);
  bind_text(s, 1, run_id);
  bind_text(s, 2, worker_id);
  sqlite3_bind_int(s, 3, attempt);
  sqlite3_bind_int64(s, 4, bt_wall_ms());
  sqlite3_bind_int64(s, 5, lease_ms);
  sqlite3_bind_double(s, 6, progress);
  sqlite3_bind_int64(s, 7, bars_done);
  /* A single statement is its own (short) transaction. */
  int src = sqlite3_step(s);
  int rc = 0;
  if (src == SQLITE_ROW) {
    if (cancel_requested) *cancel_requested = sqlite3_column_int(s, 0) != 0;
  } else if (src == SQLITE_DONE) {
    rc = lease_lost(err, run_id, worker_id, attempt);
  } else {
    rc = db_error(q, err, "heartbeat");
  }
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                     bt_job_end end, const char *result_json, const char *error_json,
                     bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  const char *to = bt_job_state_name((bt_job_state)end);
  if (!bt_job_state_final((bt_job_state)end))
    return bt_errf(err, BT_EINVAL, "queue_error", "finish: %s is not a final state", to);
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  int rc = begin(q, err);
  if (!rc) {
    sqlite3_stmt *s = stmt(q, S_FINISH);
    bind_text(s, 1, run_id);
    bind_text(s, 2, worker_id);
    sqlite3_bind_int(s, 3, attempt);
    bind_text(s, 4, to);
    sqlite3_bind_int64(s, 5, now);
    bind_text(s, 6, end == BT_JOB_END_SUCCEEDED ? result_json : NULL);
    bind_text(s, 7, end == BT_JOB_END_SUCCEEDED ? NULL : error_json);
    int src = sqlite3_step(s);
    int64_t seq = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (src == SQLITE_DONE) rc = lease_lost(err, run_id, worker_id, attempt);
    else if (src != SQLITE_ROW) rc = db_error(q, err, "finish job");
    if (!rc) rc = history_add(q, seq, now, "running", to, attempt, worker_id, "finished", err);
    rc = end_tx(q, rc, err);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* ---- release, cancel, expiry --------------------------------------------------------- */

/* A running job leaves its worker (inside a transaction): cancelled when a cancel was
 * requested, failed "worker_lost" when lost on its last attempt, else queued again. */
static int release_locked(sq_queue *q, const char *run_id, const char *worker_id, int attempt,
                          bool lost, const char *reason, bt_job_state *now_state,
                          bt_err *err) {
  sqlite3_stmt *s = stmt(q, S_OWNED);
  bind_text(s, 1, run_id);
  bind_text(s, 2, worker_id);
  sqlite3_bind_int(s, 3, attempt);
  int src = sqlite3_step(s);
  int64_t seq = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  int max_attempts = src == SQLITE_ROW ? sqlite3_column_int(s, 2) : 0;
  bool cancel = src == SQLITE_ROW && sqlite3_column_int(s, 3) != 0;
  sqlite3_reset(s);
  if (src == SQLITE_DONE) return lease_lost(err, run_id, worker_id, attempt);
  if (src != SQLITE_ROW) return db_error(q, err, "release job");
  int64_t now = bt_wall_ms();
  bt_job_state to;
  char error[256] = "";
  if (cancel) {
    to = BT_JOB_CANCELLED;
    snprintf(error, sizeof error,
             "{\"type\":\"cancelled\",\"message\":\"cancelled; its worker stopped (%s)\"}",
             reason);
  } else if (lost && attempt >= max_attempts) {
    to = BT_JOB_FAILED;
    snprintf(error, sizeof error,
             "{\"type\":\"worker_lost\",\"message\":\"the job's worker was lost on each of "
             "%d attempts (last: %s)\",\"attempts\":%d}",
             attempt, reason, attempt);
  } else {
    to = BT_JOB_QUEUED;
  }
  if (to == BT_JOB_QUEUED) {
    s = stmt(q, S_TO_QUEUED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int(s, 2, lost ? attempt : attempt - 1);
    sqlite3_bind_int64(s, 3, now);
  } else {
    s = stmt(q, S_TO_FINAL);
    sqlite3_bind_int64(s, 1, seq);
    bind_text(s, 2, bt_job_state_name(to));
    sqlite3_bind_int64(s, 3, now);
    bind_text(s, 4, error);
  }
  if (exec(q, s, err, "release job")) return err->code;
  if (now_state) *now_state = to;
  return history_add(q, seq, now, "running", bt_job_state_name(to), attempt, worker_id, reason,
                     err);
}

static int sq_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                      bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = begin(q, err);
  if (!rc) {
    rc = release_locked(q, run_id, worker_id, attempt, lost, reason ? reason : "released", now,
                        err);
    rc = end_tx(q, rc, err);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found,
                     bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = begin(q, err);
  if (rc) goto out;
  int64_t seq = 0, now = bt_wall_ms();
  bt_job j;
  rc = get_locked(q, run_id, &j, &seq, found, err);
  if (!rc && *found) {
    sqlite3_stmt *s = NULL;
    if (j.state == BT_JOB_QUEUED) {
      s = stmt(q, S_TO_FINAL);
      sqlite3_bind_int64(s, 1, seq);
      bind_text(s, 2, "cancelled");
      sqlite3_bind_int64(s, 3, now);
      bind_text(s, 4, "{\"type\":\"cancelled\",\"message\":\"cancelled before it ran\"}");
      rc = exec(q, s, err, "cancel job");
      if (!rc)
        rc = history_add(q, seq, now, "queued", "cancelled", j.attempt, "", "cancelled", err);
    } else if (j.state == BT_JOB_RUNNING && !j.cancel_requested) {
      s = stmt(q, S_CANCEL_FLAG);
      sqlite3_bind_int64(s, 1, seq);
      sqlite3_bind_int64(s, 2, now);
      rc = exec(q, s, err, "cancel job");
      if (!rc)
        rc = history_add(q, seq, now, "running", "running", j.attempt, j.worker_id,
                         "cancel_requested", err);
    }
    bt_job_clear(&j);
    if (!rc) rc = get_locked(q, run_id, out, NULL, found, err);
  }
  rc = end_tx(q, rc, err);
  if (rc && *found) bt_job_clear(out);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,
                              bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  int nq = 0, nf = 0;
  pthread_mutex_lock(&q->mu);
  int rc = begin(q, err);
  if (rc) goto out;
  /* Collected first: release_locked reuses statements while the cursor would be open. */
  struct expired { char run_id[BT_JOB_ID_LEN], worker[BT_JOB_TEXT_LEN]; int attempt; } *ex = NULL;
  size_t n = 0, cap = 0;
  sqlite3_stmt *s = stmt(q, S_EXPIRED);
  sqlite3_bind_int64(s, 1, now_ms);
  int src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 16;
      struct expired *grown = realloc(ex, cap * sizeof *ex);
      if (!grown) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      ex = grown;
    }
    copy_col(s, 0, ex[n].run_id, sizeof ex[n].run_id);
    copy_col(s, 1, ex[n].worker, sizeof ex[n].worker);
    ex[n].attempt = sqlite3_column_int(s, 2);
    n++;
  }
  if (!rc && src != SQLITE_DONE) rc = db_error(q, err, "find expired leases");
  sqlite3_reset(s);
  for (size_t i = 0; !rc && i < n; i++) {
    bt_job_state to = BT_JOB_QUEUED;
    rc = release_locked(q, ex[i].run_id, ex[i].worker, ex[i].attempt, true, "lease_expired",
                        &to, err);
    if (to == BT_JOB_QUEUED) nq++;
    else if (to == BT_JOB_FAILED) nf++;
  }
  free(ex);
  rc = end_tx(q, rc, err);
out:
  pthread_mutex_unlock(&q->mu);
  if (requeued) *requeued = rc ? 0 : nq;
  if (failed) *failed = rc ? 0 : nf;
  return rc;
}

/* ---- reads --------------------------------------------------------------------------- */

static int sq_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = get_locked(q, run_id, out, NULL, found, err);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* The filters vary, so this statement is prepared per call (a list is not a hot path). */
static int sq_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,
                   char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *out = NULL;
  *n = 0;
  next_cursor[0] = 0;
  int limit;
  int64_t before;
  if (bt_job_filter_check(f, &limit, &before, err)) return err->code;
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT " JOB_COLS " FROM jobs WHERE seq < ?1%s%s%s"
           " ORDER BY seq DESC LIMIT ?5",
           f->state >= 0 ? " AND state = ?2" : "", f->user_id ? " AND user_id = ?3" : "",
           f->origin ? " AND origin = ?4" : "");
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = NULL;
  int rc = 0;
  if (sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK) {
    rc = db_error(q, err, "list jobs");
    goto out;
  }
  sqlite3_bind_int64(s, 1, before);
  if (f->state >= 0) bind_text(s, 2, bt_job_state_name((bt_job_state)f->state));
  if (f->user_id) bind_text(s, 3, f->user_id);
  if (f->origin) bind_text(s, 4, f->origin);
  sqlite3_bind_int(s, 5, limit + 1); /* one more tells whether there is a next page */
  bt_job *jobs = calloc((size_t)limit, sizeof *jobs);
  if (!jobs) {
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    goto out;
  }
  size_t k = 0;
  int64_t last_seq = 0;
  int src;
  while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) {
    if (k == (size_t)limit) {
      snprintf(next_cursor, BT_QUEUE_CURSOR_LEN, "s%lld", (long long)last_seq);
      break;
    }
    rc = read_job(q, s, &jobs[k], &last_seq, err);
    if (!rc) k++;
  }
  if (!rc && src != SQLITE_ROW && src != SQLITE_DONE) rc = db_error(q, err, "list jobs");
  if (rc) {
    for (size_t i = 0; i < k; i++) bt_job_clear(&jobs[i]);
    free(jobs);
    next_cursor[0] = 0;
  } else {
    *out = jobs;
    *n = k;
  }
out:
  sqlite3_finalize(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = stmt(q, user_id ? S_COUNTS_USER : S_COUNTS);
  if (user_id) bind_text(s, 1, user_id);
  int src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    int st = bt_job_state_parse((const char *)sqlite3_column_text(s, 0));
    if (st < 0) continue;
    out->by_state[st] = sqlite3_column_int64(s, 1);
    if (st == BT_JOB_RUNNING) out->cancel_requested = sqlite3_column_int64(s, 2);
  }
  int rc = src == SQLITE_DONE ? 0 : db_error(q, err, "count jobs");
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static int sq_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,
                      bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *out = NULL;
  *n = 0;
  size_t cap = 0;
  int rc = 0, src;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = stmt(q, S_HISTORY);
  bind_text(s, 1, run_id);
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 8;
      bt_job_transition *grown = realloc(*out, cap * sizeof **out);
      if (!grown) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      *out = grown;
    }
    bt_job_transition *t = &(*out)[(*n)++];
    t->at_ms = sqlite3_column_int64(s, 0);
    copy_col(s, 1, t->from, sizeof t->from);
    copy_col(s, 2, t->to, sizeof t->to);
    t->attempt = sqlite3_column_int(s, 3);
    copy_col(s, 4, t->worker_id, sizeof t->worker_id);
    copy_col(s, 5, t->reason, sizeof t->reason);
  }
  if (!rc && src != SQLITE_DONE) rc = db_error(q, err, "read history");
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  if (rc) {
    free(*out);
    *out = NULL;
    *n = 0;
  }
  return rc;
}

static int sq_cancel_requested(bt_queue *base, const char *worker_id,
                               char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *run_ids = NULL;
  *n = 0;
  size_t cap = 0;
  int rc = 0, src;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = stmt(q, S_CANCEL_REQUESTED);
  bind_text(s, 1, worker_id);
  while ((src = sqlite3_step(s)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 4;
      char(*grown)[BT_JOB_ID_LEN] = realloc(*run_ids, cap * sizeof **run_ids);
      if (!grown) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      *run_ids = grown;
    }
    copy_col(s, 0, (*run_ids)[(*n)++], BT_JOB_ID_LEN);
  }
  if (!rc && src != SQLITE_DONE) rc = db_error(q, err, "read cancel requests");
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  if (rc) {
    free(*run_ids);
    *run_ids = NULL;
    *n = 0;
  }
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
  q->base.ops = &sqlite_ops;
  q->base.default_max_attempts = 3;
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
      db_error(q, err, "prepare");
      sq_close(&q->base);
      return err->code;
    }
  }
  *out = &q->base;
  return 0;
}
