/* queue_sqlite_release.c - a running job leaving its worker other than by finishing:
 * release (worker died or stopped), cancel, and the sweep of expired leases. */
#include <stdlib.h>

#include "queue_sqlite_internal.h"

/* Inside a transaction: a running job leaves its worker (bt_job_release_to says where). */
static int release_locked(sq_queue *q, const char *run_id, const char *worker_id, int attempt,
                          bool lost, const char *reason, bt_job_state *now_state,
                          bt_err *err) {
  sqlite3_stmt *s = sq_stmt(q, S_OWNED);
  sq_bind_text(s, 1, run_id);
  sq_bind_text(s, 2, worker_id);
  sqlite3_bind_int(s, 3, attempt);
  int src = sqlite3_step(s);
  int64_t seq = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  int max_attempts = src == SQLITE_ROW ? sqlite3_column_int(s, 2) : 0;
  bool cancel = src == SQLITE_ROW && sqlite3_column_int(s, 3) != 0;
  sqlite3_reset(s);
  if (src == SQLITE_DONE) return bt_queue_lease_lost(err, run_id, worker_id, attempt);
  if (src != SQLITE_ROW) return sq_db_error(q, err, "release job");
  int64_t now = bt_wall_ms();
  char error[BT_JOB_RELEASE_ERROR_LEN];
  bt_job_state to = bt_job_release_to(cancel, lost, attempt, max_attempts, reason, error);
  if (to == BT_JOB_QUEUED) {
    s = sq_stmt(q, S_TO_QUEUED);
    sqlite3_bind_int64(s, 1, seq);
    sqlite3_bind_int(s, 2, bt_job_requeue_attempt(lost, attempt));
    sqlite3_bind_int64(s, 3, now);
  } else {
    s = sq_stmt(q, S_TO_FINAL);
    sqlite3_bind_int64(s, 1, seq);
    sq_bind_text(s, 2, bt_job_state_name(to));
    sqlite3_bind_int64(s, 3, now);
    sq_bind_text(s, 4, error);
  }
  if (sq_exec(q, s, err, "release job")) return err->code;
  if (now_state) *now_state = to;
  return sq_history_add(q, seq, now, "running", bt_job_state_name(to), attempt, worker_id,
                        reason, err);
}

int sq_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
               bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = sq_begin(q, err);
  if (!rc) {
    rc = release_locked(q, run_id, worker_id, attempt, lost, reason ? reason : "released", now,
                        err);
    rc = sq_end_tx(q, rc, err);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int sq_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = sq_begin(q, err);
  if (rc) goto out;
  int64_t seq = 0, now = bt_wall_ms();
  bt_job j;
  rc = sq_get_locked(q, run_id, &j, &seq, found, err);
  if (!rc && *found) {
    sqlite3_stmt *s = NULL;
    if (j.state == BT_JOB_QUEUED) {
      s = sq_stmt(q, S_TO_FINAL);
      sqlite3_bind_int64(s, 1, seq);
      sq_bind_text(s, 2, "cancelled");
      sqlite3_bind_int64(s, 3, now);
      sq_bind_text(s, 4, BT_JOB_CANCELLED_QUEUED_ERROR);
      rc = sq_exec(q, s, err, "cancel job");
      if (!rc)
        rc = sq_history_add(q, seq, now, "queued", "cancelled", j.attempt, "", "cancelled", err);
    } else if (j.state == BT_JOB_RUNNING && !j.cancel_requested) {
      s = sq_stmt(q, S_CANCEL_FLAG);
      sqlite3_bind_int64(s, 1, seq);
      sqlite3_bind_int64(s, 2, now);
      rc = sq_exec(q, s, err, "cancel job");
      if (!rc)
        rc = sq_history_add(q, seq, now, "running", "running", j.attempt, j.worker_id,
                            "cancel_requested", err);
    }
    bt_job_clear(&j);
    if (!rc) rc = sq_get_locked(q, run_id, out, NULL, found, err);
  }
  rc = sq_end_tx(q, rc, err);
  if (rc && *found) bt_job_clear(out);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* A running job whose lease ended, as sq_requeue_expired collects them. */
typedef struct expired {
  char run_id[BT_JOB_ID_LEN], worker[BT_JOB_TEXT_LEN];
  int attempt;
} expired;

static void read_expired(sqlite3_stmt *s, void *slot) {
  expired *e = slot;
  sq_copy_col(s, 0, e->run_id, sizeof e->run_id);
  sq_copy_col(s, 1, e->worker, sizeof e->worker);
  e->attempt = sqlite3_column_int(s, 2);
}

int sq_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,
                       bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  int nq = 0, nf = 0;
  pthread_mutex_lock(&q->mu);
  int rc = sq_begin(q, err);
  if (rc) goto out;
  /* Collected first: release_locked reuses statements while the cursor would be open. */
  expired *ex = NULL;
  size_t n = 0;
  sqlite3_stmt *s = sq_stmt(q, S_EXPIRED);
  sqlite3_bind_int64(s, 1, now_ms);
  rc = sq_collect(q, s, &ex, sizeof *ex, &n, read_expired, "find expired leases", err);
  for (size_t i = 0; !rc && i < n; i++) {
    bt_job_state to = BT_JOB_QUEUED;
    rc = release_locked(q, ex[i].run_id, ex[i].worker, ex[i].attempt, true, "lease_expired",
                        &to, err);
    if (to == BT_JOB_QUEUED) nq++;
    else if (to == BT_JOB_FAILED) nf++;
  }
  free(ex);
  rc = sq_end_tx(q, rc, err);
out:
  pthread_mutex_unlock(&q->mu);
  if (requeued) *requeued = rc ? 0 : nq;
  if (failed) *failed = rc ? 0 : nf;
  return rc;
}
