/* pg_queue.c - see pg_queue.h. Every statement is prepared once per connection and run
 * with text parameters; the hot paths (enqueue, claim, heartbeat, finish) are a single
 * statement each, so one round trip and their own transaction. */
#include "pg_queue.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pg_conn.h"
#include "pg_schema.h"
#include "run.h"

#define COLS(p)                                                                              \
  p "run_id, " p "correlation_id, " p "user_id, " p "origin, " p "strategy, " p "state, " p \
  "cancel_requested, " p "attempt, " p "max_attempts, " p "progress, " p "bars_done, " p    \
  "created_ms, " p "started_ms, " p "finished_ms, " p "updated_ms, " p "lease_until_ms, " p \
  "worker_id, " p "spec, " p "result, " p "error, " p "idempotency_key, " p "unique_key, " p \
  "seq"
#define JOB_COLS COLS("")
#define HISTORY_INSERT                                                                 \
  "INSERT INTO btrun.job_history (run_id, at_ms, from_state, to_state, attempt, worker_id," \
  " reason) "

enum {
  S_KEY,
  S_KEY_BY_IDEMPOTENCY,
  S_KEY_BY_UNIQUE,
  S_INSERT,
  S_CLAIM,
  S_HEARTBEAT,
  S_FINISH,
  S_FINISHED_AS,
  S_OWNED,
  S_TO_QUEUED,
  S_TO_FINAL,
  S_HISTORY_ADD,
  S_GET,
  S_GET_HOT_LOCKED,
  S_CANCEL_FLAG,
  S_EXPIRED,
  S_COUNTS,
  S_COUNTS_USER,
  S_HISTORY,
  S_CANCEL_REQUESTED,
  S_N
};

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

typedef struct pg_queue {
  bt_queue base;
  bt_pg *pg;
  bool prepared[S_N];   /* on the current connection; reset when it is re-established */
  bool harmless;        /* the last failure changed nothing: a prepare, or the server's
                         * own error answer (it has an SQLSTATE: rolled back) */
  pthread_mutex_t mu;
  char url[1024];       /* as given (with its password): the listener connects with it */
  bt_pg *listener;      /* LISTEN btrun_jobs (the wake fd); NULL until first asked for */
  int64_t listen_tried_ms;
  pthread_mutex_t listen_mu;
} pg_queue;

/* ---- statements ------------------------------------------------------------------------ */

static PGresult *run(pg_queue *q, int which, int n, const char *const *params, bt_err *err) {
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

static int exec_sql(pg_queue *q, const char *sql, bt_err *err) {
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
static int end_tx(pg_queue *q, int rc, bt_err *err) {
  if (rc) {
    rollback(q);
    return rc;
  }
  return exec_sql(q, "COMMIT", err);
}

typedef struct {
  char b[8][24];
} numbufs;
static const char *num(numbufs *nb, int i, int64_t v) {
  snprintf(nb->b[i], sizeof nb->b[i], "%" PRId64, v);
  return nb->b[i];
}

static char *dup_col(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : strdup(PQgetvalue(r, row, col));
}

static void copy_col(const PGresult *r, int row, int col, char *out, size_t n) {
  snprintf(out, n, "%s", PQgetvalue(r, row, col));
}

static int64_t int_col(const PGresult *r, int row, int col) {
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

static int read_job(const PGresult *r, int row, bt_job *j, int64_t *seq, bt_err *err) {
  memset(j, 0, sizeof *j);
  copy_col(r, row, 0, j->run_id, sizeof j->run_id);
  copy_col(r, row, 1, j->correlation_id, sizeof j->correlation_id);
  copy_col(r, row, 2, j->user_id, sizeof j->user_id);
  copy_col(r, row, 3, j->origin, sizeof j->origin);
  copy_col(r, row, 4, j->strategy, sizeof j->strategy);
  int st = bt_job_state_parse(PQgetvalue(r, row, 5));
  j->state = st < 0 ? BT_JOB_FAILED : (bt_job_state)st;
  j->cancel_requested = PQgetvalue(r, row, 6)[0] == 't';
  j->attempt = (int)int_col(r, row, 7);
  j->max_attempts = (int)int_col(r, row, 8);
  j->progress = strtod(PQgetvalue(r, row, 9), NULL);
  j->bars_done = int_col(r, row, 10);
  j->created_ms = int_col(r, row, 11);
  j->started_ms = int_col(r, row, 12);
  j->finished_ms = int_col(r, row, 13);
  j->updated_ms = int_col(r, row, 14);
  j->lease_until_ms = int_col(r, row, 15);
  copy_col(r, row, 16, j->worker_id, sizeof j->worker_id);
  j->spec_json = dup_col(r, row, 17);
  j->result_json = dup_col(r, row, 18);
  j->error_json = dup_col(r, row, 19);
  j->idempotency_key = dup_col(r, row, 20);
  j->unique_key = dup_col(r, row, 21);
  if (seq) *seq = int_col(r, row, 22);
  if (!j->spec_json || (!PQgetisnull(r, row, 18) && !j->result_json) ||
      (!PQgetisnull(r, row, 19) && !j->error_json) ||
      (!PQgetisnull(r, row, 20) && !j->idempotency_key) ||
      (!PQgetisnull(r, row, 21) && !j->unique_key)) {
    bt_job_clear(j);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  return 0;
}

/* A statement returning at most one job row. */
static int one_job(pg_queue *q, int which, int n, const char *const *params, bt_job *out,
                   int64_t *seq, bool *found, bt_err *err) {
  *found = false;
  PGresult *r = run(q, which, n, params, err);
  if (!r) return err->code;
  int rc = 0;
  if (PQntuples(r) > 0) {
    rc = read_job(r, 0, out, seq, err);
    *found = rc == 0;
  }
  PQclear(r);
  return rc;
}

static int get_job(pg_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  return one_job(q, S_GET, 1, (const char *[]){run_id}, out, NULL, found, err);
}

static int history_add(pg_queue *q, const char *run_id, int64_t at, const char *from,
                       const char *to, int attempt, const char *worker, const char *reason,
                       bt_err *err) {
  numbufs nb;
  const char *p[] = {run_id, num(&nb, 0, at), from, to, num(&nb, 1, attempt),
                     worker ? worker : "", reason};
  PGresult *r = run(q, S_HISTORY_ADD, 7, p, err);
  PQclear(r);
  return r ? 0 : err->code;
}

static int lease_lost(bt_err *err, const char *run_id, const char *worker_id, int attempt) {
  return bt_errf(err, BT_ESTATE, "lease_lost",
                 "job %s is no longer running as attempt %d of worker %s", run_id, attempt,
                 worker_id);
}

/* ---- connection loss ------------------------------------------------------------------ */

#define RETRIES 8 /* backoff 50 ms .. 5 s: about 11 s in all */

/* Before a call: a lost connection is re-established (statements prepared again). */
static int ensure(pg_queue *q, bt_err *err) {
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
static bool retry(pg_queue *q, int rc, int *attempt) {
  if (rc != BT_EIO || !bt_pg_lost(q->pg) || *attempt >= RETRIES) return false;
  sleep_ms(bt_pg_backoff_ms((*attempt)++));
  return true;
}

/* The body of every public call: lock, (re)connect, run the call, and run it again while
 * the connection is what failed: always when the call is safe to repeat, else only when
 * it cannot have committed: it never went out (the reconnect before it failed), or the
 * server answered it with an error (a restart's "terminating connection" is such an
 * answer: the transaction was rolled back). Only a connection that broke without a
 * word leaves an unsafe call's outcome unknown; it then fails with BT_EIO. */
#define WITH_RETRY(q, safe, err, call)                                    \
  do {                                                                    \
    int attempt_ = 0;                                                     \
    pthread_mutex_lock(&(q)->mu);                                         \
    for (;;) {                                                            \
      bool ran_ = false;                                                  \
      (q)->harmless = false;                                               \
      rc = ensure((q), (err));                                            \
      if (!rc) ran_ = true, rc = (call);                                  \
      if ((ran_ && !(safe) && !(q)->harmless) || !retry((q), rc, &attempt_)) \
        break;                                                            \
    }                                                                     \
    pthread_mutex_unlock(&(q)->mu);                                       \
  } while (0)

/* ---- enqueue -------------------------------------------------------------------------- */

/* One attempt. A retry after a lost answer finds its own run_id taken: *mine says the
 * run_id was ours (generated for this call), so that job is returned as new. */
static int enqueue_once(pg_queue *q, const bt_job_new *nj, const char *run_id, bool mine,
                        int tries, bt_job *out, bool *existed, bt_err *err) {
  const char *user = nj->user_id ? nj->user_id : "";
  int64_t now = bt_wall_ms();
  const char *kp[] = {run_id, user, nj->idempotency_key, nj->unique_key};
  int rc = exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  PGresult *r = run(q, S_KEY, 4, kp, err);
  if (!r) return end_tx(q, err->code, err);
  bool inserted = PQntuples(r) == 1;
  PQclear(r);
  if (!inserted) {
    /* Which key was taken? An existing job with the same idempotency or unique key is
     * the answer; only a taken run_id is a conflict. */
    rc = end_tx(q, 0, err);
    if (rc) return rc;
    char other[BT_JOB_ID_LEN] = "";
    if (nj->idempotency_key) {
      r = run(q, S_KEY_BY_IDEMPOTENCY, 2, (const char *[]){user, nj->idempotency_key}, err);
      if (!r) return err->code;
      if (PQntuples(r)) copy_col(r, 0, 0, other, sizeof other);
      PQclear(r);
    }
    if (!other[0] && nj->unique_key) {
      r = run(q, S_KEY_BY_UNIQUE, 1, (const char *[]){nj->unique_key}, err);
      if (!r) return err->code;
      if (PQntuples(r)) copy_col(r, 0, 0, other, sizeof other);
      PQclear(r);
    }
    bool retried_mine = !other[0] && mine && tries > 0;
    if (!other[0] && !retried_mine)
      return bt_errf_at(err, BT_EINVAL, "conflict", "", 0, "run_id",
                        "job: run_id %s already exists", run_id);
    bool found = false;
    rc = get_job(q, other[0] ? other : run_id, out, &found, err);
    if (!rc && !found)
      rc = bt_errf(err, BT_EIO, "queue_error", "job %s has keys but no row",
                   other[0] ? other : run_id);
    if (!rc && existed) *existed = other[0] != 0;
    return rc;
  }
  numbufs nb;
  const char *ip[] = {run_id,
                      nj->correlation_id,
                      user,
                      nj->origin,
                      nj->strategy,
                      num(&nb, 0, nj->max_attempts > 0 ? nj->max_attempts
                                                       : q->base.default_max_attempts),
                      num(&nb, 1, now),
                      nj->spec_json,
                      nj->idempotency_key,
                      nj->unique_key};
  bool found = false;
  rc = one_job(q, S_INSERT, 10, ip, out, NULL, &found, err);
  if (!rc && !found) rc = bt_errf(err, BT_EIO, "queue_error", "job %s: insert returned nothing", run_id);
  rc = end_tx(q, rc, err);
  if (rc && found) bt_job_clear(out);
  return rc;
}

static int pq_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed,
                      bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  if (existed) *existed = false;
  if (bt_job_new_check(nj, err)) return err->code;
  char run_id[BT_JOB_ID_LEN];
  bool mine = !(nj->run_id && *nj->run_id);
  if (mine) bt_uuid(run_id);
  else snprintf(run_id, sizeof run_id, "%s", nj->run_id);
  int rc, tries = 0;
  WITH_RETRY(q, true, err, enqueue_once(q, nj, run_id, mine, tries++, out, existed, err));
  return rc;
}

/* ---- claim, heartbeat, finish --------------------------------------------------------- */

static int claim_once(pg_queue *q, const char *worker_id, int64_t lease_ms, bt_job *out,
                      bool *got, bt_err *err) {
  numbufs nb;
  const char *p[] = {worker_id, num(&nb, 0, bt_wall_ms()), num(&nb, 1, lease_ms)};
  return one_job(q, S_CLAIM, 3, p, out, NULL, got, err);
}

static int pq_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out,
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
  numbufs nb;
  char prog[32];
  snprintf(prog, sizeof prog, "%.6f", progress);
  const char *p[] = {run_id,   worker_id, num(&nb, 0, attempt), num(&nb, 1, bt_wall_ms()),
                     num(&nb, 2, lease_ms), prog, num(&nb, 3, bars_done)};
  PGresult *r = run(q, S_HEARTBEAT, 7, p, err);
  if (!r) return err->code;
  int rc = 0;
  if (PQntuples(r) == 0) rc = lease_lost(err, run_id, worker_id, attempt);
  else if (cancel_requested) *cancel_requested = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  return rc;
}

static int pq_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                        int64_t lease_ms, double progress, int64_t bars_done,
                        bool *cancel_requested, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  if (progress < 0 || progress != progress) progress = 0;
  if (progress > 1) progress = 1;
  int rc;
  WITH_RETRY(q, true, err,
             heartbeat_once(q, run_id, worker_id, attempt, lease_ms, progress, bars_done,
                            cancel_requested, err));
  return rc;
}

static int finish_once(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                       const char *to, const char *result_json, const char *error_json,
                       bt_err *err) {
  numbufs nb;
  const char *p[] = {run_id, worker_id, num(&nb, 0, attempt), to, num(&nb, 1, bt_wall_ms()),
                     result_json, error_json};
  PGresult *r = run(q, S_FINISH, 7, p, err);
  if (!r) return err->code;
  bool done = PQntuples(r) == 1;
  PQclear(r);
  if (done) return 0;
  /* Not running under us: already finished by us (a retry whose first answer was lost)
   * is success; anything else is a lost lease. */
  r = run(q, S_FINISHED_AS, 4, (const char *[]){run_id, worker_id, nb.b[0], to}, err);
  if (!r) return err->code;
  done = PQntuples(r) == 1;
  PQclear(r);
  return done ? 0 : lease_lost(err, run_id, worker_id, attempt);
}

static int pq_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                     bt_job_end end, const char *result_json, const char *error_json,
                     bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  const char *to = bt_job_state_name((bt_job_state)end);
  if (!bt_job_state_final((bt_job_state)end))
    return bt_errf(err, BT_EINVAL, "queue_error", "finish: %s is not a final state", to);
  bool ok = end == BT_JOB_END_SUCCEEDED;
  int rc;
  WITH_RETRY(q, true, err,
             finish_once(q, run_id, worker_id, attempt, to, ok ? result_json : NULL,
                         ok ? NULL : error_json, err));
  return rc;
}

/* ---- release, cancel, expiry ---------------------------------------------------------- */

/* Inside a transaction: a running job leaves its worker, as queue.h says. */
static int release_locked(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                          bool lost, const char *reason, bt_job_state *now_state,
                          bt_err *err) {
  numbufs nb;
  PGresult *r = run(q, S_OWNED, 3, (const char *[]){run_id, worker_id, num(&nb, 0, attempt)},
                    err);
  if (!r) return err->code;
  if (PQntuples(r) == 0) {
    PQclear(r);
    return lease_lost(err, run_id, worker_id, attempt);
  }
  char seq[24];
  copy_col(r, 0, 0, seq, sizeof seq);
  int max_attempts = (int)int_col(r, 0, 2);
  bool cancel = PQgetvalue(r, 0, 3)[0] == 't';
  PQclear(r);
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
  if (to == BT_JOB_QUEUED)
    r = run(q, S_TO_QUEUED, 3,
            (const char *[]){seq, num(&nb, 1, lost ? attempt : attempt - 1), num(&nb, 2, now)},
            err);
  else
    r = run(q, S_TO_FINAL, 4,
            (const char *[]){seq, bt_job_state_name(to), num(&nb, 2, now), error}, err);
  if (!r) return err->code;
  PQclear(r);
  if (now_state) *now_state = to;
  return history_add(q, run_id, now, "running", bt_job_state_name(to), attempt, worker_id,
                     reason, err);
}

static int release_once(pg_queue *q, const char *run_id, const char *worker_id, int attempt,
                        bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  int rc = exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  rc = release_locked(q, run_id, worker_id, attempt, lost, reason, now, err);
  return end_tx(q, rc, err);
}

static int pq_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                      bool lost, const char *reason, bt_job_state *now, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, false, err,
             release_once(q, run_id, worker_id, attempt, lost, reason ? reason : "released", now,
                          err));
  return rc;
}

static int cancel_once(pg_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  int rc = exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  bt_job j;
  int64_t seq = 0, now = bt_wall_ms();
  bool hot = false;
  rc = one_job(q, S_GET_HOT_LOCKED, 1, (const char *[]){run_id}, &j, &seq, &hot, err);
  if (!rc && hot) {
    numbufs nb;
    PGresult *r;
    if (j.state == BT_JOB_QUEUED) {
      r = run(q, S_TO_FINAL, 4,
              (const char *[]){num(&nb, 0, seq), "cancelled", num(&nb, 1, now),
                               "{\"type\":\"cancelled\",\"message\":\"cancelled before it ran\"}"},
              err);
      rc = r ? history_add(q, run_id, now, "queued", "cancelled", j.attempt, "", "cancelled", err)
             : err->code;
      PQclear(r);
    } else if (!j.cancel_requested) { /* a second cancel changes nothing */
      r = run(q, S_CANCEL_FLAG, 2, (const char *[]){num(&nb, 0, seq), num(&nb, 1, now)}, err);
      rc = r ? history_add(q, run_id, now, "running", "running", j.attempt, j.worker_id,
                           "cancel_requested", err)
             : err->code;
      PQclear(r);
    }
    bt_job_clear(&j);
  }
  if (!rc) rc = get_job(q, run_id, out, found, err);
  rc = end_tx(q, rc, err);
  if (rc && *found) bt_job_clear(out);
  return rc;
}

static int pq_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  *found = false;
  int rc;
  WITH_RETRY(q, true, err, cancel_once(q, run_id, out, found, err));
  return rc;
}

static int requeue_once(pg_queue *q, int64_t now_ms, int *nq, int *nf, bt_err *err) {
  *nq = *nf = 0;
  int rc = exec_sql(q, "BEGIN", err);
  if (rc) return rc;
  numbufs nb;
  /* Rows locked by another process's sweep are skipped: it is releasing them. */
  PGresult *r = run(q, S_EXPIRED, 1, (const char *[]){num(&nb, 0, now_ms)}, err);
  if (!r) return end_tx(q, err->code, err);
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    bt_job_state to = BT_JOB_QUEUED;
    rc = release_locked(q, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), (int)int_col(r, i, 2),
                        true, "lease_expired", &to, err);
    if (to == BT_JOB_QUEUED) (*nq)++;
    else if (to == BT_JOB_FAILED) (*nf)++;
  }
  PQclear(r);
  return end_tx(q, rc, err);
}

static int pq_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,
                              bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int nq = 0, nf = 0, rc;
  WITH_RETRY(q, true, err, requeue_once(q, now_ms, &nq, &nf, err));
  if (requeued) *requeued = rc ? 0 : nq;
  if (failed) *failed = rc ? 0 : nf;
  return rc;
}

/* ---- reads ---------------------------------------------------------------------------- */

static int pq_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, get_job(q, run_id, out, found, err));
  return rc;
}

static int list_once(pg_queue *q, const bt_job_filter *f, int limit, int64_t before,
                     bt_job **out, size_t *n, char next_cursor[BT_QUEUE_CURSOR_LEN],
                     bt_err *err) {
  char where[256];
  snprintf(where, sizeof where, "seq < $1%s%s%s", f->state >= 0 ? " AND state = $2" : "",
           f->user_id ? " AND user_id = $3" : "", f->origin ? " AND origin = $4" : "");
  char sql[1536];
  snprintf(sql, sizeof sql,
           "SELECT * FROM (SELECT " JOB_COLS " FROM btrun.jobs WHERE %s UNION ALL SELECT "
           JOB_COLS " FROM btrun.jobs_archive WHERE %s) x ORDER BY seq DESC LIMIT $5",
           where, where);
  numbufs nb;
  const char *p[] = {num(&nb, 0, before),
                     f->state >= 0 ? bt_job_state_name((bt_job_state)f->state) : "",
                     f->user_id ? f->user_id : "", f->origin ? f->origin : "",
                     num(&nb, 1, limit + 1)}; /* one more tells whether there is a next page */
  /* Unused parameters still need a type: declare them all text but $1 and $5. */
  const Oid types[] = {20, 25, 25, 25, 20};
  PGresult *r = PQexecParams(bt_pg_conn(q->pg), sql, 5, types, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    bt_pg_fail(q->pg, r, "list jobs", err);
    PQclear(r);
    return err->code;
  }
  int rows = PQntuples(r), rc = 0;
  size_t k = 0;
  bt_job *jobs = calloc((size_t)limit, sizeof *jobs);
  if (!jobs) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  int64_t last_seq = 0;
  for (int i = 0; !rc && i < rows; i++) {
    if (i == limit) {
      snprintf(next_cursor, BT_QUEUE_CURSOR_LEN, "s%" PRId64, last_seq);
      break;
    }
    rc = read_job(r, i, &jobs[k], &last_seq, err);
    if (!rc) k++;
  }
  PQclear(r);
  if (rc) {
    for (size_t i = 0; i < k; i++) bt_job_clear(&jobs[i]);
    free(jobs);
    next_cursor[0] = 0;
    return rc;
  }
  *out = jobs;
  *n = k;
  return 0;
}

static int pq_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,
                   char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  *out = NULL;
  *n = 0;
  next_cursor[0] = 0;
  int limit;
  int64_t before;
  if (bt_job_filter_check(f, &limit, &before, err)) return err->code;
  int rc;
  WITH_RETRY(q, true, err, list_once(q, f, limit, before, out, n, next_cursor, err));
  return rc;
}

static int counts_once(pg_queue *q, const char *user_id, bt_queue_counts *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  PGresult *r = user_id ? run(q, S_COUNTS_USER, 1, (const char *[]){user_id}, err)
                        : run(q, S_COUNTS, 0, NULL, err);
  if (!r) return err->code;
  for (int i = 0; i < PQntuples(r); i++) {
    int st = bt_job_state_parse(PQgetvalue(r, i, 0));
    if (st < 0) continue;
    out->by_state[st] += int_col(r, i, 1);
    if (st == BT_JOB_RUNNING) out->cancel_requested += int_col(r, i, 2);
  }
  PQclear(r);
  return 0;
}

static int pq_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, counts_once(q, user_id, out, err));
  return rc;
}

static int history_once(pg_queue *q, const char *run_id, bt_job_transition **out, size_t *n,
                        bt_err *err) {
  *out = NULL;
  *n = 0;
  PGresult *r = run(q, S_HISTORY, 1, (const char *[]){run_id}, err);
  if (!r) return err->code;
  int rows = PQntuples(r);
  if (rows) {
    *out = calloc((size_t)rows, sizeof **out);
    if (!*out) {
      PQclear(r);
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
  }
  for (int i = 0; i < rows; i++) {
    bt_job_transition *t = &(*out)[i];
    t->at_ms = int_col(r, i, 0);
    copy_col(r, i, 1, t->from, sizeof t->from);
    copy_col(r, i, 2, t->to, sizeof t->to);
    t->attempt = (int)int_col(r, i, 3);
    copy_col(r, i, 4, t->worker_id, sizeof t->worker_id);
    copy_col(r, i, 5, t->reason, sizeof t->reason);
  }
  *n = (size_t)rows;
  PQclear(r);
  return 0;
}

static int pq_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,
                      bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, history_once(q, run_id, out, n, err));
  return rc;
}

static int cancel_requested_once(pg_queue *q, const char *worker_id,
                                 char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  *run_ids = NULL;
  *n = 0;
  PGresult *r = run(q, S_CANCEL_REQUESTED, 1, (const char *[]){worker_id}, err);
  if (!r) return err->code;
  int rows = PQntuples(r);
  if (rows) {
    *run_ids = calloc((size_t)rows, sizeof **run_ids);
    if (!*run_ids) {
      PQclear(r);
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
  }
  for (int i = 0; i < rows; i++) copy_col(r, i, 0, (*run_ids)[i], BT_JOB_ID_LEN);
  *n = (size_t)rows;
  PQclear(r);
  return 0;
}

static int pq_cancel_requested(bt_queue *base, const char *worker_id,
                               char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, cancel_requested_once(q, worker_id, run_ids, n, err));
  return rc;
}

/* ---- wake-up hint --------------------------------------------------------------------- */

#define LISTEN_RETRY_MS 1000 /* a lost listener is reopened at most this often */

static int pq_wake_fd(bt_queue *base) {
  pg_queue *q = (pg_queue *)base;
  pthread_mutex_lock(&q->listen_mu);
  if (q->listener && bt_pg_lost(q->listener)) {
    bt_pg_close(q->listener);
    q->listener = NULL;
  }
  int64_t now = bt_wall_ms();
  if (!q->listener && now - q->listen_tried_ms >= LISTEN_RETRY_MS) {
    q->listen_tried_ms = now;
    bt_err err = {0};
    if (bt_pg_open(&q->listener, q->url, &err) == 0 &&
        bt_pg_exec(q->listener, "LISTEN btrun_jobs", &err) != 0) {
      bt_pg_close(q->listener);
      q->listener = NULL;
    }
    bt_err_clear(&err);
  }
  int fd = q->listener ? PQsocket(bt_pg_conn(q->listener)) : -1;
  pthread_mutex_unlock(&q->listen_mu);
  return fd;
}

static bool pq_wake_drain(bt_queue *base) {
  pg_queue *q = (pg_queue *)base;
  pthread_mutex_lock(&q->listen_mu);
  bool woken = false;
  if (q->listener) {
    PGconn *c = bt_pg_conn(q->listener);
    bool ok = PQconsumeInput(c) && PQstatus(c) == CONNECTION_OK;
    for (PGnotify *n; ok && (n = PQnotifies(c));) {
      woken = true;
      PQfreemem(n);
    }
    /* Readable without a notification: on a connection that only listens, that is the
     * server going away (its last words, then EOF). Reopened by the next wake_fd. */
    if (!woken) {
      bt_pg_close(q->listener);
      q->listener = NULL;
    }
  }
  pthread_mutex_unlock(&q->listen_mu);
  return woken;
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
  q->base.ops = &pg_ops;
  q->base.default_max_attempts = 3;
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
