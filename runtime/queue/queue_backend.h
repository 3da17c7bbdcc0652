/* queue_backend.h - what every queue backend shares (queue_sqlite*.c here,
 * runtime/pg/pg_queue*.c): the rules of queue.h that do not depend on a database, so each
 * is written once. Only backends include this; callers of the queue use queue.h.
 *
 * Each backend keeps its own SQL (the dialects differ: placeholders, RETURNING, the
 * archive table of PostgreSQL) and reads result rows through a bt_queue_row, a small
 * table of column accessors, so that a row becomes a bt_job in one place. */
#ifndef BT_QUEUE_BACKEND_H
#define BT_QUEUE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue.h"

#define BT_QUEUE_DEFAULT_MAX_ATTEMPTS 3

/* A new handle's base: its operations and the default max_attempts. */
void bt_queue_base_init(bt_queue *q, const bt_queue_ops *ops);

/* Declares a backend's implementations of the required operations of bt_queue_ops,
 * P##_enqueue ... P##_cancel_requested, with the table's signatures, for the files of
 * that backend to share (BT_QUEUE_OPS_DECLARE(sq) declares sq_enqueue, sq_claim, ...). */
#define BT_QUEUE_OPS_DECLARE(P)                                                              \
  int P##_enqueue(bt_queue *base, const bt_job_new *nj, bt_job *out, bool *existed,         \
                  bt_err *err);                                                              \
  int P##_claim(bt_queue *base, const char *worker_id, int64_t lease_ms, bt_job *out,       \
                bool *got, bt_err *err);                                                     \
  int P##_heartbeat(bt_queue *base, const char *run_id, const char *worker_id, int attempt, \
                    int64_t lease_ms, double progress, int64_t bars_done,                    \
                    bool *cancel_requested, bt_err *err);                                    \
  int P##_finish(bt_queue *base, const char *run_id, const char *worker_id, int attempt,    \
                 bt_job_end end, const char *result_json, const char *error_json,            \
                 bt_err *err);                                                               \
  int P##_release(bt_queue *base, const char *run_id, const char *worker_id, int attempt,   \
                  bool lost, const char *reason, bt_job_state *now, bt_err *err);            \
  int P##_cancel(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err); \
  int P##_requeue_expired(bt_queue *base, int64_t now_ms, int *requeued, int *failed,       \
                          bt_err *err);                                                      \
  int P##_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err);   \
  int P##_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,             \
               char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err);                          \
  int P##_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err);   \
  int P##_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,   \
                  bt_err *err);                                                              \
  int P##_cancel_requested(bt_queue *base, const char *worker_id,                           \
                           char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err)

/* ---- checks every call makes first ---------------------------------------------------- */

/* What enqueue inserts besides nj's own fields. */
typedef struct bt_job_insert {
  char run_id[BT_JOB_ID_LEN];  /* nj->run_id, or a new UUID */
  bool generated;              /* run_id was made for this call (a retry may find it taken) */
  const char *user_id;         /* nj->user_id, "" for none */
  int max_attempts;            /* nj's, or the queue's default */
} bt_job_insert;

/* Enqueue: checks nj (required fields, a known origin, lengths: BT_EINVAL, type
 * "invalid_request", err->field naming the field), then fills *ins. */
int bt_job_insert_prepare(const bt_queue *q, const bt_job_new *nj, bt_job_insert *ins,
                          bt_err *err);

/* List: the limit (0 = 100, at most 1000), the cursor (a next_cursor of this queue:
 * "s<seq>"; *before = INT64_MAX without one) and the state. 0, or BT_EINVAL naming the
 * field. */
int bt_job_filter_check(const bt_job_filter *f, int *limit, int64_t *before, bt_err *err);

/* Heartbeat: progress into 0..1 (NaN is 0). */
double bt_job_progress_clamp(double progress);

/* Finish: the name of the final state end stands for; NULL with BT_EINVAL when end is not
 * a final state. */
const char *bt_job_end_state(bt_job_end end, bt_err *err);

/* ---- the state machine ---------------------------------------------------------------- */

/* The error of a job cancelled while queued. */
#define BT_JOB_CANCELLED_QUEUED_ERROR \
  "{\"type\":\"cancelled\",\"message\":\"cancelled before it ran\"}"

#define BT_JOB_RELEASE_ERROR_LEN 256

/* Where a running job goes when its worker lets go of it (release, lease expiry):
 * cancelled when a cancel was requested, failed "worker_lost" when lost on its last
 * attempt, else queued again. error gets the job's error object for the first two and ""
 * for queued; reason (the history's) is quoted in it. */
bt_job_state bt_job_release_to(bool cancel_requested, bool lost, int attempt, int max_attempts,
                               const char *reason, char error[BT_JOB_RELEASE_ERROR_LEN]);

/* The attempt a requeued job keeps: a lost worker's attempt counts, a graceful stop gives
 * it back. */
static inline int bt_job_requeue_attempt(bool lost, int attempt) {
  return lost ? attempt : attempt - 1;
}

/* A running job is no longer held by (run_id, worker_id, attempt): BT_ESTATE
 * "lease_lost". */
int bt_queue_lease_lost(bt_err *err, const char *run_id, const char *worker_id, int attempt);
/* Enqueue with a run_id some other job has: BT_EINVAL "conflict", field "run_id". */
int bt_queue_run_id_taken(bt_err *err, const char *run_id);

/* ---- rows ----------------------------------------------------------------------------- */

/* The columns of a job row in the order bt_job_read_row reads them, each prefixed by p
 * ("" or "j."). The column names are the same in every backend's schema. */
#define BT_JOB_COLS(p)                                                                       \
  p "run_id, " p "correlation_id, " p "user_id, " p "origin, " p "strategy, " p "state, " p \
  "cancel_requested, " p "attempt, " p "max_attempts, " p "progress, " p "bars_done, " p    \
  "created_ms, " p "started_ms, " p "finished_ms, " p "updated_ms, " p "lease_until_ms, " p \
  "worker_id, " p "spec, " p "result, " p "error, " p "idempotency_key, " p "unique_key, " p \
  "seq"

/* One row of a backend's result; res and row are the backend's (a statement, a result
 * and its row number). */
typedef struct bt_queue_row bt_queue_row;
typedef struct bt_queue_row_ops {
  bool (*is_null)(const bt_queue_row *r, int col);
  /* The value as text; for SQL NULL "" or NULL (is_null tells), NULL also on OOM. */
  const char *(*text)(const bt_queue_row *r, int col);
  int64_t (*int64)(const bt_queue_row *r, int col);
  double (*real)(const bt_queue_row *r, int col);
  bool (*flag)(const bt_queue_row *r, int col);
} bt_queue_row_ops;
struct bt_queue_row {
  const bt_queue_row_ops *ops;
  void *res;
  int row;
};

/* A row of BT_JOB_COLS into *j (heap strings; bt_job_clear); the last column (seq) into
 * *seq (may be NULL). BT_ENOMEM leaves *j cleared. */
int bt_job_read_row(const bt_queue_row *r, bt_job *j, int64_t *seq, bt_err *err);
/* A row of (at_ms, from_state, to_state, attempt, worker_id, reason). */
void bt_job_transition_read_row(const bt_queue_row *r, bt_job_transition *t);
/* A row of (state, count, count with cancel_requested) added to *c; the last is counted
 * for running jobs only. */
void bt_queue_counts_add_row(bt_queue_counts *c, const bt_queue_row *r);

/* A page of bt_queue_list, filled from rows newest first. The backend asks for limit + 1
 * rows: one more tells whether there is a next page. */
typedef struct bt_job_page {
  bt_job *jobs;
  size_t n, limit;
  int64_t last_seq;
  char *next_cursor;
} bt_job_page;

/* next_cursor is "" until the page is full. BT_ENOMEM when the page cannot be had. */
int bt_job_page_start(bt_job_page *p, int limit, char next_cursor[BT_QUEUE_CURSOR_LEN],
                      bt_err *err);
/* 0: the row is on the page; 1: the page is full (the row begins the next one, whose
 * cursor is now in next_cursor): stop reading; else an error. */
int bt_job_page_add(bt_job_page *p, const bt_queue_row *r, bt_err *err);
/* rc 0: the jobs go to *out and *n; else they are freed and next_cursor is "". Returns
 * rc. */
int bt_job_page_end(bt_job_page *p, int rc, bt_job **out, size_t *n);

#endif
