#ifndef BT_PG_QUEUE_INTERNAL_H
#define BT_PG_QUEUE_INTERNAL_H
/* pg_queue_internal.h - what the PostgreSQL queue backend's files share (pg/ only, not a
 * contract for other modules): the handle, its statements, the retry around every call.
 * pg_queue.c: statements, row decoding, reconnects, open/close; pg_queue_claim.c:
 * enqueue, claim, heartbeat, finish; pg_queue_release.c: release, cancel, lease expiry;
 * pg_queue_read.c: get, list, counts, history; pg_queue_wake.c: the LISTEN wake-up hint. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pg_conn.h"
#include "queue_backend.h"

#define COLS(p) BT_JOB_COLS(p)
#define JOB_COLS BT_JOB_COLS("")

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

/* ---- statements (pg_queue.c); callers hold q->mu ---------------------------------------- */

/* Run statement `which` (prepared on first use) with n text parameters; the result (PQclear
 * it) or NULL with err set. */
PGresult *pq_run(pg_queue *q, int which, int n, const char *const *params, bt_err *err);
int pq_exec_sql(pg_queue *q, const char *sql, bt_err *err);
/* Ends a transaction: commit when rc is 0, else roll back; returns rc (or commit's). */
int pq_end_tx(pg_queue *q, int rc, bt_err *err);

/* Integers as text parameters: pq_num(&nb, i, v) fills and returns slot i. */
typedef struct {
  char b[8][24];
} pq_nums;
const char *pq_num(pq_nums *nb, int i, int64_t v);

void pq_copy_col(const PGresult *r, int row, int col, char *out, size_t n);
int64_t pq_int_col(const PGresult *r, int row, int col);
/* Row `row` of r, for the readers of queue_backend.h. */
bt_queue_row pq_row(PGresult *r, int row);
/* Every row of r into a slot (elem bytes, filled by read) of a new heap array:
 * *(T **)arr and *n (NULL and 0 when there are none, or on an error). */
int pq_collect(PGresult *r, void *arr, size_t elem, size_t *n,
               void (*read)(PGresult *r, int row, void *slot), bt_err *err);
/* A statement returning at most one job row. */
int pq_one_job(pg_queue *q, int which, int n, const char *const *params, bt_job *out,
               int64_t *seq, bool *found, bt_err *err);
int pq_get_job(pg_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err);
int pq_history_add(pg_queue *q, const char *run_id, int64_t at, const char *from,
                   const char *to, int attempt, const char *worker, const char *reason,
                   bt_err *err);

/* ---- connection loss (pg_queue.c) ------------------------------------------------------- */

/* Before a call: a lost connection is re-established (statements prepared again). */
int pq_ensure(pg_queue *q, bt_err *err);
/* After a failed attempt: true (having waited) when the connection was lost and the call
 * should be tried again. */
bool pq_retry(pg_queue *q, int rc, int *attempt);

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
      (q)->harmless = false;                                              \
      rc = pq_ensure((q), (err));                                         \
      if (!rc) ran_ = true, rc = (call);                                  \
      if ((ran_ && !(safe) && !(q)->harmless) || !pq_retry((q), rc, &attempt_)) \
        break;                                                            \
    }                                                                     \
    pthread_mutex_unlock(&(q)->mu);                                       \
  } while (0)

/* ---- the operations (bt_queue_ops) ------------------------------------------------------ */

/* pq_enqueue, _claim, _heartbeat, _finish in pg_queue_claim.c; pq_release, _cancel,
 * _requeue_expired in pg_queue_release.c; pq_get, _list, _counts, _history,
 * _cancel_requested in pg_queue_read.c; the wake-up in pg_queue_wake.c. */
BT_QUEUE_OPS_DECLARE(pq);
int pq_wake_fd(bt_queue *base);
bool pq_wake_drain(bt_queue *base);

#endif
