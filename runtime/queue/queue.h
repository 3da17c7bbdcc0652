/* queue.h - the job queue: the one contract between whoever creates backtest jobs (the
 * HTTP API, the scheduler, sweeps) and whoever runs them (the supervisor's workers).
 *
 * A bt_queue is a handle with a table of operations, so that several backends implement
 * the same contract: SQLite in the data dir (queue_sqlite.c, bt_queue_open_sqlite) and
 * PostgreSQL (runtime/pg). Callers use the bt_queue_* wrappers below and never know which
 * backend they hold; the opener that picks a backend from a URL lives above both
 * (runtime/service, bt_service_queue_open).
 *
 * The state machine (docs/service.md has the diagram and the HTTP view of it):
 *
 *   queued --claim--> running --finish--> succeeded | failed | cancelled
 *     |                  |  \--cancel--> running + cancel_requested --finish--> ...
 *     |                  \--release / lease expiry--> queued (attempt counted), or
 *     |                        failed {"type":"worker_lost"} once attempt >= max_attempts
 *     \--cancel--> cancelled
 *
 * - attempt counts claims: 0 while never claimed, 1 while the first run is going. A job
 *   whose worker died (release with lost = true, or a lease that expired) goes back to
 *   queued and its next claim makes it attempt + 1; a graceful release (the supervisor
 *   shutting down) gives the attempt back.
 * - Every change of a running job is fenced by (run_id, worker_id, attempt): once a lease
 *   expired and the job was requeued or claimed again, the old worker's heartbeat and
 *   finish fail with BT_ESTATE, type "lease_lost", and change nothing. That is what makes
 *   a job end exactly once even when a presumed-dead worker comes back.
 * - succeeded, failed and cancelled are final: nothing changes them.
 * - cancel is idempotent: a queued job becomes cancelled at once, a running one gets
 *   cancel_requested (its worker learns it from heartbeat and finishes it as cancelled),
 *   a final one is returned unchanged.
 * - Every state change appends one row to the job's history.
 *
 * Threads: a handle may be used from several threads (calls are serialized inside it);
 * it must not be used in a child process after fork() (open a new one there).
 * Times are wall-clock milliseconds since the epoch (bt_wall_ms). Strings passed in are
 * copied; bt_job strings are owned by the bt_job (bt_job_clear). */
#ifndef BT_QUEUE_H
#define BT_QUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef enum bt_job_state {
  BT_JOB_QUEUED = 0,
  BT_JOB_RUNNING,
  BT_JOB_SUCCEEDED,
  BT_JOB_FAILED,
  BT_JOB_CANCELLED,
  BT_JOB_NSTATES
} bt_job_state;

/* "queued", "running", "succeeded", "failed", "cancelled" */
const char *bt_job_state_name(bt_job_state s);
/* The inverse; -1 for an unknown name. */
int bt_job_state_parse(const char *name);
static inline bool bt_job_state_final(bt_job_state s) { return s >= BT_JOB_SUCCEEDED; }

/* Who created a job. */
#define BT_JOB_ORIGINS "manual", "schedule", "api", "sweep"
bool bt_job_origin_valid(const char *origin);

#define BT_JOB_ID_LEN 40        /* run_id: a UUID v4 (36 chars) + NUL, as bt_run_info */
#define BT_JOB_TEXT_LEN 128     /* correlation_id, user_id, strategy, worker_id */

typedef struct bt_job {
  char run_id[BT_JOB_ID_LEN];          /* also the run's run_id in the event store/run dir */
  char correlation_id[BT_JOB_TEXT_LEN];
  char user_id[BT_JOB_TEXT_LEN];       /* "" when none */
  char origin[16];                     /* one of BT_JOB_ORIGINS */
  char strategy[BT_JOB_TEXT_LEN];      /* strategy name (as in the spec) */
  bt_job_state state;
  bool cancel_requested;
  int attempt;                         /* claims so far (see the header comment) */
  int max_attempts;
  double progress;                     /* 0..1, as last reported by heartbeat */
  int64_t bars_done;
  int64_t created_ms;
  int64_t started_ms;                  /* last claim; 0 when never claimed */
  int64_t finished_ms;                 /* 0 until final */
  int64_t updated_ms;                  /* last change of any kind (heartbeats included) */
  int64_t lease_until_ms;              /* running: the lease's end; else 0 */
  char worker_id[BT_JOB_TEXT_LEN];     /* running: the holder of the lease; else "" */
  char *spec_json;                     /* the job spec (bt_job_spec in job_spec.h) */
  char *result_json;                   /* succeeded: the result object; else NULL */
  char *error_json;                    /* failed/cancelled: {"type","message",...}; else NULL */
  char *idempotency_key;               /* NULL when none */
  char *unique_key;                    /* NULL when none */
} bt_job;

void bt_job_clear(bt_job *j);          /* frees the strings and zeroes the struct */

/* What a new job is made of. */
typedef struct bt_job_new {
  const char *spec_json;               /* required; validate with bt_job_spec_parse first */
  const char *strategy;                /* required: the spec's strategy name, for listings */
  const char *correlation_id;          /* required, non-empty */
  const char *user_id;                 /* NULL or "" = none */
  const char *origin;                  /* required, one of BT_JOB_ORIGINS */
  /* A retried request: when a job of the same user_id with this key exists, enqueue
   * returns that job and creates nothing. Comparing the specs (409 on a different body)
   * is the caller's business. NULL = none. */
  const char *idempotency_key;
  /* Global dedupe key, e.g. "schedule:<name>@<fire time ms>": when a job with this key
   * exists (any user), enqueue returns that job and creates nothing. NULL = none. */
  const char *unique_key;
  int max_attempts;                    /* 0 = the queue's default */
  const char *run_id;                  /* NULL = generate a UUID (the usual case) */
} bt_job_new;

/* Filters of bt_queue_list. Newest first (by creation, then run order). */
typedef struct bt_job_filter {
  int state;                           /* a bt_job_state, or -1 for any */
  const char *user_id;                 /* NULL = any */
  const char *origin;                  /* NULL = any */
  int limit;                           /* 1..1000; 0 = 100 */
  const char *cursor;                  /* NULL/"" = from the newest; else a next_cursor */
} bt_job_filter;

#define BT_QUEUE_CURSOR_LEN 64

/* Numbers for /metrics and per-user caps. */
typedef struct bt_queue_counts {
  int64_t by_state[BT_JOB_NSTATES];
  int64_t cancel_requested;            /* running jobs with cancel_requested */
} bt_queue_counts;

/* One row of a job's history: a state change (from == to for cancel_requested). */
typedef struct bt_job_transition {
  int64_t at_ms;
  char from[16];                       /* "" for the creation */
  char to[16];
  int attempt;
  char worker_id[BT_JOB_TEXT_LEN];
  char reason[64];                     /* "enqueued", "claimed", "lease_expired", ... */
} bt_job_transition;

/* How a running job ended (bt_queue_finish). */
typedef enum { BT_JOB_END_SUCCEEDED = BT_JOB_SUCCEEDED, BT_JOB_END_FAILED = BT_JOB_FAILED,
               BT_JOB_END_CANCELLED = BT_JOB_CANCELLED } bt_job_end;

typedef struct bt_queue bt_queue;

/* A backend fills this table; every function returns 0 or a negative bt_err code.
 * queue_backend.h has what backends share (checks, row decoding, the release rule). */
typedef struct bt_queue_ops {
  const char *name;                    /* "sqlite", "postgresql" */
  int (*enqueue)(bt_queue *q, const bt_job_new *nj, bt_job *out, bool *existed, bt_err *err);
  int (*claim)(bt_queue *q, const char *worker_id, int64_t lease_ms, bt_job *out, bool *got,
               bt_err *err);
  int (*heartbeat)(bt_queue *q, const char *run_id, const char *worker_id, int attempt,
                   int64_t lease_ms, double progress, int64_t bars_done,
                   bool *cancel_requested, bt_err *err);
  int (*finish)(bt_queue *q, const char *run_id, const char *worker_id, int attempt,
                bt_job_end end, const char *result_json, const char *error_json, bt_err *err);
  int (*release)(bt_queue *q, const char *run_id, const char *worker_id, int attempt,
                 bool lost, const char *reason, bt_job_state *now, bt_err *err);
  int (*cancel)(bt_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err);
  int (*requeue_expired)(bt_queue *q, int64_t now_ms, int *requeued, int *failed, bt_err *err);
  int (*get)(bt_queue *q, const char *run_id, bt_job *out, bool *found, bt_err *err);
  int (*list)(bt_queue *q, const bt_job_filter *f, bt_job **out, size_t *n,
              char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err);
  int (*counts)(bt_queue *q, const char *user_id, bt_queue_counts *out, bt_err *err);
  int (*history)(bt_queue *q, const char *run_id, bt_job_transition **out, size_t *n,
                 bt_err *err);
  int (*cancel_requested)(bt_queue *q, const char *worker_id, char (**run_ids)[BT_JOB_ID_LEN],
                          size_t *n, bt_err *err);
  /* Optional (NULL: none): see bt_queue_wake_fd / bt_queue_wake_drain. */
  int (*wake_fd)(bt_queue *q);
  bool (*wake_drain)(bt_queue *q);
  void (*close)(bt_queue *q);
} bt_queue_ops;

/* Every backend's handle starts with this. */
struct bt_queue {
  const bt_queue_ops *ops;
  int default_max_attempts;            /* for bt_job_new.max_attempts == 0; default 3 */
};

/* ---- the contract ------------------------------------------------------------------ */

/* Create a queued job (run_id generated unless given). *existed (may be NULL) is set when
 * the idempotency or unique key matched an existing job: *out is then that job, as it is
 * now. BT_EINVAL for a missing field or unknown origin (err->field names it). */
static inline int bt_queue_enqueue(bt_queue *q, const bt_job_new *nj, bt_job *out,
                                   bool *existed, bt_err *err) {
  return q->ops->enqueue(q, nj, out, existed, err);
}

/* Take the oldest queued job: it becomes running with attempt + 1, held by worker_id until
 * now + lease_ms. *got false (and *out untouched) when nothing is queued. */
static inline int bt_queue_claim(bt_queue *q, const char *worker_id, int64_t lease_ms,
                                 bt_job *out, bool *got, bt_err *err) {
  return q->ops->claim(q, worker_id, lease_ms, out, got, err);
}

/* The worker is alive: extend the lease to now + lease_ms and record progress (0..1) and
 * bars done. *cancel_requested tells the worker to stop the job. BT_ESTATE "lease_lost"
 * when the job is no longer running under (worker_id, attempt). */
static inline int bt_queue_heartbeat(bt_queue *q, const char *run_id, const char *worker_id,
                                     int attempt, int64_t lease_ms, double progress,
                                     int64_t bars_done, bool *cancel_requested, bt_err *err) {
  return q->ops->heartbeat(q, run_id, worker_id, attempt, lease_ms, progress, bars_done,
                           cancel_requested, err);
}

/* The job ended: result_json (succeeded) or error_json (failed, cancelled; a JSON object
 * {"type","message",...}) is stored. BT_ESTATE "lease_lost" as for heartbeat: the job
 * then keeps whatever state its current owner gives it. */
static inline int bt_queue_finish(bt_queue *q, const char *run_id, const char *worker_id,
                                  int attempt, bt_job_end end, const char *result_json,
                                  const char *error_json, bt_err *err) {
  return q->ops->finish(q, run_id, worker_id, attempt, end, result_json, error_json, err);
}

/* Hand a running job back. lost = true: its process died (counts as an attempt; after
 * max_attempts the job is failed with error.type "worker_lost"); lost = false: a graceful
 * stop (the attempt is given back). reason goes to the history ("child_died", "shutdown").
 * *now (may be NULL) is the job's state afterwards. BT_ESTATE "lease_lost" as above. */
static inline int bt_queue_release(bt_queue *q, const char *run_id, const char *worker_id,
                                   int attempt, bool lost, const char *reason,
                                   bt_job_state *now, bt_err *err) {
  return q->ops->release(q, run_id, worker_id, attempt, lost, reason, now, err);
}

/* Cancel (idempotent, see the header comment); *out is the job afterwards. *found false
 * when there is no such job. */
static inline int bt_queue_cancel(bt_queue *q, const char *run_id, bt_job *out, bool *found,
                                  bt_err *err) {
  return q->ops->cancel(q, run_id, out, found, err);
}

/* Every running job whose lease ended before now_ms is released as lost (requeued, or
 * failed "worker_lost" after max_attempts). Any process may call it; supervisors do, about
 * once a second. Counts in *requeued / *failed (either may be NULL). */
static inline int bt_queue_requeue_expired(bt_queue *q, int64_t now_ms, int *requeued,
                                           int *failed, bt_err *err) {
  return q->ops->requeue_expired(q, now_ms, requeued, failed, err);
}

static inline int bt_queue_get(bt_queue *q, const char *run_id, bt_job *out, bool *found,
                               bt_err *err) {
  return q->ops->get(q, run_id, out, found, err);
}

/* A page of jobs (heap array of *n; bt_job_clear each, free the array). next_cursor is ""
 * on the last page, else the cursor of the next one (opaque). BT_EINVAL, field "cursor",
 * for a cursor this queue did not make. */
static inline int bt_queue_list(bt_queue *q, const bt_job_filter *f, bt_job **out, size_t *n,
                                char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err) {
  return q->ops->list(q, f, out, n, next_cursor, err);
}

/* Jobs by state, of one user (user_id non-NULL) or all. */
static inline int bt_queue_counts_get(bt_queue *q, const char *user_id, bt_queue_counts *out,
                                      bt_err *err) {
  return q->ops->counts(q, user_id, out, err);
}

/* The job's state changes, oldest first (heap array of *n, free it). */
static inline int bt_queue_history(bt_queue *q, const char *run_id, bt_job_transition **out,
                                   size_t *n, bt_err *err) {
  return q->ops->history(q, run_id, out, n, err);
}

/* run_ids of the jobs running under worker_id with cancel_requested (heap array, free it):
 * how a supervisor learns of cancels between heartbeats with one query. */
static inline int bt_queue_cancel_requested(bt_queue *q, const char *worker_id,
                                            char (**run_ids)[BT_JOB_ID_LEN], size_t *n,
                                            bt_err *err) {
  return q->ops->cancel_requested(q, worker_id, run_ids, n, err);
}

/* A descriptor that becomes readable when a job may have been queued, for a worker to
 * poll() along with its others (PostgreSQL: its LISTEN connection), or -1 (none, or not
 * now). Only a hint: workers poll the queue anyway, which is the truth. */
static inline int bt_queue_wake_fd(bt_queue *q) {
  return q->ops->wake_fd ? q->ops->wake_fd(q) : -1;
}

/* Consume what made the wake fd readable; true when it said a job was queued. */
static inline bool bt_queue_wake_drain(bt_queue *q) {
  return q->ops->wake_drain ? q->ops->wake_drain(q) : false;
}

static inline void bt_queue_close(bt_queue *q) {
  if (q) q->ops->close(q);
}

/* ---- the SQLite backend -------------------------------------------------------------- */

/* Open (creating file, directory and schema when missing) the queue at path, normally
 * <data_dir>/queue.db. WAL, short transactions: any number of processes may share it. */
int bt_queue_open_sqlite(bt_queue **out, const char *path, bt_err *err);

#endif
