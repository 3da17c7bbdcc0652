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
/* Steps s to its end, each row into a slot (elem bytes, filled by read) of a new heap
 * array: *(T **)arr and *n. On an error the array is freed: NULL and 0. */
int sq_collect(sq_queue *q, sqlite3_stmt *s, void *arr, size_t elem, size_t *n,
               void (*read)(sqlite3_stmt *s, void *slot), const char *what, bt_err *err);

/* ---- the operations (bt_queue_ops) ---------------------------------------------------- */

/* sq_enqueue, _claim, _heartbeat, _finish in queue_sqlite_claim.c; sq_release, _cancel,
 * _requeue_expired in queue_sqlite_release.c; sq_get, _list, _counts, _history,
 * _cancel_requested in queue_sqlite_read.c. */
BT_QUEUE_OPS_DECLARE(sq);

#endif
