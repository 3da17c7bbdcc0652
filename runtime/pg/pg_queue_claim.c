/* pg_queue_claim.c - a job's way through the PostgreSQL queue while all goes well:
 * enqueue (its keys first, in btrun.job_keys), claim, heartbeat, finish (into the
 * archive). */
#include "pg_queue_internal.h"

/* One attempt. A retry after a lost answer finds its own run_id taken: ins->generated
 * says the run_id was ours (made for this call), so that job is returned as new. */
static int enqueue_once(pg_queue *q, const bt_job_new *nj, const bt_job_insert *ins, int tries,
                        bt_job *out, bool *existed, bt_err *err) {
  const char *run_id = ins->run_id, *user = ins->user_id;
  int64_t now = bt_wall_ms();
  const char *kp[] = {run_id, user, nj->idempotency_key, nj->unique_key};
  int rc = pq_exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  PGresult *r = pq_run(q, S_KEY, 4, kp, err);
  if (!r) return pq_end_tx(q, err->code, err);
  bool inserted = PQntuples(r) == 1;
  PQclear(r);
  if (!inserted) {
    /* Which key was taken? An existing job with the same idempotency or unique key is
     * the answer; only a taken run_id is a conflict. */
    rc = pq_end_tx(q, 0, err);
    if (rc) return rc;
    char other[BT_JOB_ID_LEN] = "";
    if (nj->idempotency_key) {
      r = pq_run(q, S_KEY_BY_IDEMPOTENCY, 2, (const char *[]){user, nj->idempotency_key}, err);
      if (!r) return err->code;
      if (PQntuples(r)) pq_copy_col(r, 0, 0, other, sizeof other);
      PQclear(r);
    }
    if (!other[0] && nj->unique_key) {
      r = pq_run(q, S_KEY_BY_UNIQUE, 1, (const char *[]){nj->unique_key}, err);
      if (!r) return err->code;
      if (PQntuples(r)) pq_copy_col(r, 0, 0, other, sizeof other);
      PQclear(r);
    }
    bool retried_mine = !other[0] && ins->generated && tries > 0;
    if (!other[0] && !retried_mine) return bt_queue_run_id_taken(err, run_id);
    bool found = false;
    rc = pq_get_job(q, other[0] ? other : run_id, out, &found, err);
    if (!rc && !found)
      rc = bt_errf(err, BT_EIO, "queue_error", "job %s has keys but no row",
                   other[0] ? other : run_id);
    if (!rc && existed) *existed = other[0] != 0;
    return rc;
  }
  pq_nums nb;
  const char *ip[] = {run_id,
                      nj->correlation_id,
                      user,
                      nj->origin,
                      nj->strategy,
                      pq_num(&nb, 0, ins->max_attempts),
                      pq_num(&nb, 1, now),
                      nj->spec_json,
                      nj->idempotency_key,
                      nj->unique_key};
  bool found = false;
  rc = pq_one_job(q, S_INSERT, 10, ip, out, NULL, &found, err);
  if (!rc && !found) rc = bt_errf(err, BT_EIO, "queue_error", "job %s: insert returned nothing", run_id);
  rc = pq_end_tx(q, rc, err);
  if (rc && found) bt_job_clear(out);
  return rc;
}

int pq_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed,
               bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  if (existed) *existed = false;
  bt_job_insert ins;
  if (bt_job_insert_prepare(base, nj, &ins, err)) return err->code;
  int rc, tries = 0;
  WITH_RETRY(q, true, err, enqueue_once(q, nj, &ins, tries++, out, existed, err));
  return rc;
}

/* ---- claim, heartbeat, finish --------------------------------------------------------- */

static int claim_once(pg_queue *q, const char *worker_id, int64_t lease_ms, bt_job *out,
                      bool *got, bt_err *err) {
  pq_nums nb;
  const char *p[] = {worker_id, pq_num(&nb, 0, bt_wall_ms()), pq_num(&nb, 1, lease_ms)};
  return pq_one_job(q, S_CLAIM, 3, p, out, NULL, got, err);
}

int pq_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out,
             bool *got, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  *got = false;
  int rc;
  /* Repeated like the others: should a claim have committed with its answer lost, that
   * job waits for its lease to expire and is requeued (one attempt spent). */
  WITH_RETRY(q, true, err, claim_once(q, worker_id, lease_ms, out, got, err));
  return rc;
}

static int heartbeat_once(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                          int64_t lease_ms, double progress, int64_t bars_done,
                          bool *cancel_requested, bt_err *err) {
  pq_nums nb;
  char prog[32];
  snprintf(prog, sizeof prog, "%.6f", progress);
  const char *p[] = {run_id,   worker_id, pq_num(&nb, 0, attempt), pq_num(&nb, 1, bt_wall_ms()),
                     pq_num(&nb, 2, lease_ms), prog, pq_num(&nb, 3, bars_done)};
  PGresult *r = pq_run(q, S_HEARTBEAT, 7, p, err);
  if (!r) return err->code;
  int rc = 0;
  if (PQntuples(r) == 0) rc = bt_queue_lease_lost(err, run_id, worker_id, attempt);
  else if (cancel_requested) *cancel_requested = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  return rc;
}

int pq_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                 int64_t lease_ms, double progress, int64_t bars_done,
                 bool *cancel_requested, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  double clamped = bt_job_progress_clamp(progress);
  int rc;
  WITH_RETRY(q, true, err,
             heartbeat_once(q, run_id, worker_id, attempt, lease_ms, clamped, bars_done,
                            cancel_requested, err));
  return rc;
}

static int finish_once(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                       const char *to, const char *result_json, const char *error_json,
                       bt_err *err) {
  pq_nums nb;
  const char *p[] = {run_id, worker_id, pq_num(&nb, 0, attempt), to, pq_num(&nb, 1, bt_wall_ms()),
                     result_json, error_json};
  PGresult *r = pq_run(q, S_FINISH, 7, p, err);
  if (!r) return err->code;
  bool done = PQntuples(r) == 1;
  PQclear(r);
  if (done) return 0;
  /* Not running under us: already finished by us (a retry whose first answer was lost)
   * is success; anything else is a lost lease. */
  r = pq_run(q, S_FINISHED_AS, 4, (const char *[]){run_id, worker_id, nb.b[0], to}, err);
  if (!r) return err->code;
  done = PQntuples(r) == 1;
  PQclear(r);
  return done ? 0 : bt_queue_lease_lost(err, run_id, worker_id, attempt);
}

int pq_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
              bt_job_end end, const char *result_json, const char *error_json,
              bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  const char *to = bt_job_end_state(end, err);
  if (!to) return err->code;
  bool ok = end == BT_JOB_END_SUCCEEDED;
  int rc;
  WITH_RETRY(q, true, err,
             finish_once(q, run_id, worker_id, attempt, to, ok ? result_json : NULL,
                         ok ? NULL : error_json, err));
  return rc;
}
