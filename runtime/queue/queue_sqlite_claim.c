/* queue_sqlite_claim.c - a job's way through the SQLite queue while all goes well:
 * enqueue (with its idempotency and unique keys), claim, heartbeat, finish. */
#include "queue_sqlite_internal.h"

int sq_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed,
               bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  if (existed) *existed = false;
  bt_job_insert ins;
  if (bt_job_insert_prepare(base, nj, &ins, err)) return err->code;
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  int rc = sq_begin(q, err);
  if (rc) goto out;
  bool found = false;
  if (nj->idempotency_key) {
    sqlite3_stmt *s = sq_stmt(q, S_BY_IDEMPOTENCY);
    sq_bind_text(s, 1, ins.user_id);
    sq_bind_text(s, 2, nj->idempotency_key);
    rc = sq_one_job(q, s, out, NULL, &found, err);
  }
  if (!rc && !found && nj->unique_key) {
    sqlite3_stmt *s = sq_stmt(q, S_BY_UNIQUE);
    sq_bind_text(s, 1, nj->unique_key);
    rc = sq_one_job(q, s, out, NULL, &found, err);
  }
  if (!rc && found) {
    if (existed) *existed = true;
    rc = sq_end_tx(q, rc, err);
    goto out;
  }
  if (!rc) {
    sqlite3_stmt *s = sq_stmt(q, S_INSERT);
    sq_bind_text(s, 1, ins.run_id);
    sq_bind_text(s, 2, nj->correlation_id);
    sq_bind_text(s, 3, ins.user_id);
    sq_bind_text(s, 4, nj->origin);
    sq_bind_text(s, 5, nj->strategy);
    sqlite3_bind_int(s, 6, ins.max_attempts);
    sqlite3_bind_int64(s, 7, now);
    sq_bind_text(s, 8, nj->spec_json);
    sq_bind_text(s, 9, nj->idempotency_key);
    sq_bind_text(s, 10, nj->unique_key);
    int src = sqlite3_step(s);
    sqlite3_reset(s);
    if (src == SQLITE_CONSTRAINT) rc = bt_queue_run_id_taken(err, ins.run_id);
    else if (src != SQLITE_DONE) rc = sq_db_error(q, err, "insert job");
  }
  if (!rc)
    rc = sq_history_add(q, sqlite3_last_insert_rowid(q->db), now, "", "queued", 0, "",
                        "enqueued", err);
  if (!rc) rc = sq_get_locked(q, ins.run_id, out, NULL, &found, err);
  rc = sq_end_tx(q, rc, err);
  if (rc && found) bt_job_clear(out);
out:
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* ---- claim, heartbeat, finish -------------------------------------------------------- */

int sq_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out,
             bool *got, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *got = false;
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  /* Idle workers poll: a read finds "nothing queued" without taking the write lock. */
  sqlite3_stmt *any = sq_stmt(q, S_ANY_QUEUED);
  int arc = sqlite3_step(any);
  sqlite3_reset(any);
  if (arc == SQLITE_DONE) {
    pthread_mutex_unlock(&q->mu);
    return 0;
  }
  int rc = sq_begin(q, err);
  if (!rc) {
    sqlite3_stmt *s = sq_stmt(q, S_CLAIM);
    sq_bind_text(s, 1, worker_id);
    sqlite3_bind_int64(s, 2, now);
    sqlite3_bind_int64(s, 3, lease_ms);
    int64_t seq = 0;
    rc = sq_one_job(q, s, out, &seq, got, err);
    if (!rc && *got)
      rc = sq_history_add(q, seq, now, "queued", "running", out->attempt, worker_id, "claimed",
                          err);
    rc = sq_end_tx(q, rc, err);
    if (rc && *got) {
      bt_job_clear(out);
      *got = false;
    }
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int sq_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                 int64_t lease_ms, double progress, int64_t bars_done,
                 bool *cancel_requested, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = sq_stmt(q, S_HEARTBEAT);
  sq_bind_text(s, 1, run_id);
  sq_bind_text(s, 2, worker_id);
  sqlite3_bind_int(s, 3, attempt);
  sqlite3_bind_int64(s, 4, bt_wall_ms());
  sqlite3_bind_int64(s, 5, lease_ms);
  sqlite3_bind_double(s, 6, bt_job_progress_clamp(progress));
  sqlite3_bind_int64(s, 7, bars_done);
  /* A single statement is its own (short) transaction. */
  int src = sqlite3_step(s);
  int rc = 0;
  if (src == SQLITE_ROW) {
    if (cancel_requested) *cancel_requested = sqlite3_column_int(s, 0) != 0;
  } else if (src == SQLITE_DONE) {
    rc = bt_queue_lease_lost(err, run_id, worker_id, attempt);
  } else {
    rc = sq_db_error(q, err, "heartbeat");
  }
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int sq_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
              bt_job_end end, const char *result_json, const char *error_json,
              bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  const char *to = bt_job_end_state(end, err);
  if (!to) return err->code;
  int64_t now = bt_wall_ms();
  pthread_mutex_lock(&q->mu);
  int rc = sq_begin(q, err);
  if (!rc) {
    sqlite3_stmt *s = sq_stmt(q, S_FINISH);
    sq_bind_text(s, 1, run_id);
    sq_bind_text(s, 2, worker_id);
    sqlite3_bind_int(s, 3, attempt);
    sq_bind_text(s, 4, to);
    sqlite3_bind_int64(s, 5, now);
    sq_bind_text(s, 6, end == BT_JOB_END_SUCCEEDED ? result_json : NULL);
    sq_bind_text(s, 7, end == BT_JOB_END_SUCCEEDED ? NULL : error_json);
    int src = sqlite3_step(s);
    int64_t seq = src == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (src == SQLITE_DONE) rc = bt_queue_lease_lost(err, run_id, worker_id, attempt);
    else if (src != SQLITE_ROW) rc = sq_db_error(q, err, "finish job");
    if (!rc) rc = sq_history_add(q, seq, now, "running", to, attempt, worker_id, "finished", err);
    rc = sq_end_tx(q, rc, err);
  }
  pthread_mutex_unlock(&q->mu);
  return rc;
}
