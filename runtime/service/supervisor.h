/* supervisor.h - runs queued jobs: claims them from a bt_queue and runs each in its own
 * child process, at most `workers` at once (docs/service.md, "Workers").
 *
 * The supervisor is one single-threaded loop. A job process is fork()ed from it and runs
 * the backtest exactly as `btrun strategy.lua` does (bt_run_execute with the process's
 * bt_app, whose observers the composition root registered: event store, analytics,
 * perf), with the job's run_id, correlation_id, user_id and origin; it reports progress
 * and its outcome on a pipe and never touches the queue. So a strategy that crashes,
 * exhausts memory or hangs takes down its own process only:
 *   - a job process that dies without reporting: the job is released as lost (queued
 *     again with attempt + 1, failed "worker_lost" after max_attempts);
 *   - the supervisor heartbeats every running job (extending its lease, writing progress
 *     at most every heartbeat_ms); when the supervisor itself is killed, its job
 *     processes die with it (PR_SET_PDEATHSIG) and the leases run out, and any
 *     supervisor requeues them (bt_queue_requeue_expired, about once a second);
 *   - cancel: seen within cancel_poll_ms; the job process gets SIGTERM, which sets the
 *     run's stop flag (the Lua hook stops the strategy at its next instruction), and
 *     SIGKILL after kill_grace_ms when it is still alive;
 *   - SIGTERM or SIGINT to the supervisor: stop claiming, let running jobs finish until
 *     shutdown_grace_ms, then kill the rest and hand them back to the queue without
 *     counting the attempt; a second signal ends the grace period at once. SIGUSR1 means
 *     "jobs were queued": claim now instead of at the next poll.
 *
 * Call bt_supervisor_run from a process that has no other threads (fork() copies only
 * the calling thread, so a lock held by another thread would stay locked in every job
 * process): `btrun worker` runs it in its main thread; `btrun serve` forks a supervisor
 * process with bt_supervisor_spawn before starting its HTTP threads. */
#ifndef BT_SUPERVISOR_H
#define BT_SUPERVISOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "job_spec.h"
#include "queue.h"
#include "run.h"

/* Names to files: a spec names strategies and datasets, the server's catalog resolves
 * them (bt_svc_config in the service). Resolution happens in the supervisor before the
 * fork; an unknown name fails the job ("unknown_strategy", "unknown_dataset"). */
typedef struct bt_job_catalog {
  void *ud;
  /* The file of strategy `name`; false when there is none. */
  bool (*strategy)(void *ud, const char *name, char *path, size_t n);
  /* The bt_run_spec data entry ("path" or "SYM=path") of dataset `name`; NULL if none. */
  const char *(*dataset)(void *ud, const char *name);
} bt_job_catalog;

/* What a job process runs, resolved. */
typedef struct bt_job_exec {
  const bt_job *job;
  const char *out_dir;           /* the run directory; NULL = <config out_dir>/<run_id> */
  const bt_job_spec *spec;
  const char *strategy_path;
  const char *const *data;       /* ndata entries; none = the bundled sample data */
  int ndata;
  /* For bt_run_spec.on_progress / progress_ud: forwards progress to the supervisor. */
  void (*on_progress)(void *ud, uint64_t bars, double fraction);
  void *progress_ud;
} bt_job_exec;

/* How it ended; heap strings, freed by the supervisor. */
typedef struct bt_job_outcome {
  bt_job_end end;
  char *result_json;             /* succeeded: {"metrics":{...},"bars":..,...} */
  char *error_json;              /* failed: bt_log_err_json of the run's error */
} bt_job_outcome;

/* Runs one job inside the job process. bt_job_execute is the real one; tests may pass
 * another. */
typedef int (*bt_job_run_fn)(void *ud, const bt_job_exec *x, bt_job_outcome *out);

/* The backtest of a job, as `btrun strategy.lua` runs it: ud is the bt_app. */
int bt_job_execute(void *app, const bt_job_exec *x, bt_job_outcome *out);

typedef struct bt_supervisor_opts {
  int workers;                   /* job processes at once; <= 0 = CPU cores */
  int64_t lease_ms;              /* default 30000 */
  int64_t heartbeat_ms;          /* progress write + lease extension, default 1000 */
  int64_t poll_ms;               /* claim attempts while idle, default 100 */
  int64_t cancel_poll_ms;        /* default 250 */
  int64_t kill_grace_ms;         /* SIGTERM -> SIGKILL of a cancelled job, default 500 */
  int64_t shutdown_grace_ms;     /* 0 = 30000, < 0 = none (kill and hand back at once) */
  const char *worker_id;         /* NULL = "<host>:<pid>:<random>" */
  bt_app *app;                   /* the composition root's app, for bt_job_execute */
  const char *runs_dir;          /* run directories: <runs_dir>/<run_id>; NULL = the
                                  * config's out_dir (`btrun serve` uses <data_dir>/runs) */
  bt_job_catalog catalog;
  bt_job_run_fn run;             /* NULL = bt_job_execute with ud = app */
  void *run_ud;
  /* Optional: checked every loop turn; non-zero means "shut down" like SIGTERM. */
  volatile const int *stop;
  /* Optional: return once the queue has had nothing to claim and no job ran for this
   * long (0 = run until stopped). For batch runs and tests. */
  int64_t exit_when_idle_ms;
} bt_supervisor_opts;

/* Counters of one bt_supervisor_run. */
typedef struct bt_supervisor_stats {
  uint64_t claimed, succeeded, failed, cancelled, lost, requeued_expired, handed_back;
} bt_supervisor_stats;

/* Runs until SIGTERM/SIGINT (or *opts->stop, or idle), then shuts down as described
 * above. Blocks SIGTERM, SIGINT, SIGUSR1 and SIGCHLD while it runs (restored on
 * return). Returns 0, or an error when the queue fails for good. stats may be NULL. */
int bt_supervisor_run(bt_queue *q, const bt_supervisor_opts *opts, bt_supervisor_stats *stats,
                      bt_err *err);

/* Fork a supervisor process: it opens its queue with open_queue(open_ud) (a handle must
 * not cross fork()), runs bt_supervisor_run until SIGTERM and exits. Call before
 * starting threads. Stop it with kill(pid, SIGTERM) and waitpid; nudge it with SIGUSR1
 * after enqueueing. */
typedef int (*bt_queue_open_fn)(void *ud, bt_queue **out, bt_err *err);
int bt_supervisor_spawn(bt_queue_open_fn open_queue, void *open_ud,
                        const bt_supervisor_opts *opts, pid_t *pid, bt_err *err);

#endif
