/* pg_queue_release.c - a running job leaving its worker other than by finishing:
 * release (worker died or stopped), cancel, and the sweep of expired leases. */
#include "pg_queue_internal.h"

/* Inside a transaction: a running job leaves its worker (bt_job_release_to says where). */
static int release_locked(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                          bool lost, const char *reason, bt_job_state *now_state,
                          bt_err *err) {
  pq_nums nb;
  PGresult *r =
      pq_run(q, S_OWNED, 3, (const char *[]){run_id, worker_id, pq_num(&nb, 0, attempt)}, err);
  if (!r) return err->code;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return bt_queue_lease_lost(err, run_id, worker_id, attempt);
  }
  char seq[24];
  pq_copy_col(r, 0, 0, seq, sizeof seq);
  int max_attempts = (int)pq_int_col(r, 0, 2);
  bool cancel = PQgetvalue(r, 0, 3)[0] == 't';
  PQclear(r);
  int64_t now = bt_wall_ms();
  char error[BT_JOB_RELEASE_ERROR_LEN];
  bt_job_state to = bt_job_release_to(cancel, lost, attempt, max_attempts, reason, error);
  if (to == BT_JOB_QUEUED)
    r = pq_run(q, S_TO_QUEUED, 3,
               (const char *[]){seq, pq_num(&nb, 1, bt_job_requeue_attempt(lost, attempt)),
                                pq_num(&nb, 2, now)},
               err);
  else
    r = pq_run(q, S_TO_FINAL, 4,
               (const char *[]){seq, bt_job_state_name(to), pq_num(&nb, 2, now), error}, err);
  if (!r) return err->code;
  PQclear(r);
  if (now_state) *now_state = to;
  return pq_history_add(q, run_id, now, "running", bt_job_state_name(to), attempt, worker_id,
                        reason, err);
}

static int release_once(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                        bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  int rc = pq_exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  rc = release_locked(q, run_id, worker_id, attempt, lost, reason, now, err);
  return pq_end_tx(q, rc, err);
}

int pq_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
               bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, false, err,
             release_once(q, run_id, worker_id, attempt, lost, reason ? reason : "released", now,
                          err));
  return rc;
}

static int cancel_once(pg_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  int rc = pq_exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  bt_job j;
  int64_t seq = 0, now = bt_wall_ms();
  bool hot = false;
  rc = pq_one_job(q, S_GET_HOT_LOCKED, 1, (const char *[]){run_id}, &j, &seq, &hot, err);
  if (!rc && hot) {
    pq_nums nb;
    PGresult *r;
    if (j.state == BT_JOB_QUEUED) {
      r = pq_run(q, S_TO_FINAL, 4,
                 (const char *[]){pq_num(&nb, 0, seq), "cancelled", pq_num(&nb, 1, now),
                                  BT_JOB_CANCELLED_QUEUED_ERROR},
                 err);
      rc = r ? pq_history_add(q, run_id, now, "queued", "cancelled", j.attempt, "", "cancelled",
                              err)
             : err->code;
      PQclear(r);
    } else if (!j.cancel_requested) { /* a second cancel changes nothing */
      r = pq_run(q, S_CANCEL_FLAG, 2, (const char *[]){pq_num(&nb, 0, seq), pq_num(&nb, 1, now)},
                 err);
      rc = r ? pq_history_add(q, run_id, now, "running", "running", j.attempt, j.worker_id,
                              "cancel_requested", err)
             : err->code;
      PQclear(r);
    }
    bt_job_clear(&j);
  }
  if (!rc) rc = pq_get_job(q, run_id, out, found, err);
  rc = pq_end_tx(q, rc, err);
  if (rc && *found) bt_job_clear(out);
  return rc;
}

int pq_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  *found = false;
  int rc;
  WITH_RETRY(q, true, err, cancel_once(q, run_id, out, found, err));
  return rc;
}

static int requeue_once(pg_queue *q, int64_t now_ms, int *nq, int *nf, bt_err *err) {
  *nq = *nf = 0;
  int rc = pq_exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  pq_nums nb;
  /* Rows locked by another process's sweep are skipped: it is releasing them. */
  PGresult *r = pq_run(q, S_EXPIRED, 1, (const char *[]){pq_num(&nb, 0, now_ms)}, err);
  if (!r) return pq_end_tx(q, err->code, err);
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    bt_job_state to = BT_JOB_QUEUED;
    rc = release_locked(q, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), (int)pq_int_col(r, i, 2),
                        true, "lease_expired", &to, err);
    if (to == BT_JOB_QUEUED) (*nq)++;
    else if (to == BT_JOB_FAILED) (*nf)++;
  }
  PQclear(r);
  return pq_end_tx(q, rc, err);
}

int pq_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,
                       bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int nq = 0, nf = 0, rc;
  WITH_RETRY(q, true, err, requeue_once(q, now_ms, &nq, &nf, err));
  if (requeued) *requeued = rc ? 0 : nq;
  if (failed) *failed = rc ? 0 : nf;
  return rc;
}
