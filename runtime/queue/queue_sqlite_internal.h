#ifndef BT_QUEUE_SQLITE_INTERNAL_H
#define BT_QUEUE_SQLITE_INTERNAL_H
/* queue_sqlite_internal.h - what the SQLite queue backend's files share (queue/ only, not
 * a contract for other modules): the handle, its prepared statements and the helpers
 * around them. queue_sqlite.c: schema, statements, row decoding, open/close;
 * queue_sqlite_claim.c: enqueue, claim, heartbeat, finish; queue_sqlite_release.c:
 * release, cancel, lease expiry; queue_sqlite_read.c: get, list, counts, history. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "queue_backend.h"

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

#define JOB_COLS BT_JOB_COLS("")

typedef struct sq_queue {
  bt_queue base;
  sqlite3 *db;
  sqlite3_stmt *st[S_N];
  pthread_mutex_t mu;
  char path[512];
} sq_queue;

/* ---- statements (queue_sqlite.c); callers hold q->mu ---------------------------------- */

int sq_db_error(sq_queue *q, bt_err *err, const char *what);
/* Statement `which`, reset and with its bindings cleared. */
sqlite3_stmt *sq_stmt(sq_queue *q, int which);
void sq_bind_text(sqlite3_stmt *s, int i, const char *v);   /* NULL binds SQL NULL */
/* One statement that returns no rows. */
int sq_exec(sq_queue *q, sqlite3_stmt *s, bt_err *err, const char *what);
int sq_begin(sq_queue *q, bt_err *err);
/* Ends a transaction: commit when rc is 0, else roll back; returns rc (or commit's). */
int sq_end_tx(sq_queue *q, int rc, bt_err *err);
void sq_copy_col(sqlite3_stmt *s, int i, char *out, size_t n);
/* The current row of s, for the readers of queue_backend.h. */
bt_queue_row sq_row(sqlite3_stmt *s);
/* Runs a SELECT of JOB_COLS expected to give at most one row. */
int sq_one_job(sq_queue *q, sqlite3_stmt *s, bt_job *out, int64_t *seq, bool *found,
               bt_err *err);
int sq_history_add(sq_queue *q, int64_t seq, int64_t at, const char *from, const char *to,
                   int attempt, const char *worker, const char *reason, bt_err *err);
int sq_get_locked(sq_queue *q, const char *run_id, bt_job *out, int64_t *seq, bool *found,
                  bt_err *err);

/* ---- the operations (bt_queue_ops) ---------------------------------------------------- */

int sq_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed, bt_err *err);
int sq_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out, bool *got,
             bt_err *err);
int sq_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
                 int64_t lease_ms, double progress, int64_t bars_done, bool *cancel_requested,
                 bt_err *err);
int sq_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
              bt_job_end end, const char *result_json, const char *error_json, bt_err *err);
int sq_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,
               bool lost, const char *reason, bt_job_state *now, bt_err *err);
int sq_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err);
int sq_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,
                       bt_err *err);
int sq_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err);
int sq_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,
            char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err);
int sq_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err);
int sq_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,
               bt_err *err);
int sq_cancel_requested(bt_queue *base, const char *worker_id, char (**run_ids)[BT_JOB_ID_LEN],
                        size_t *n, bt_err *err);

#endif
