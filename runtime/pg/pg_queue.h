/* pg_queue.h - the job queue (queue.h) on PostgreSQL, for workers on many machines.
 *
 * The well-proven design (river, Oban, good_job): a claim is one statement that takes
 * the oldest queued job with FOR UPDATE SKIP LOCKED, so any number of workers claim at
 * once without waiting on each other; a lease extended by heartbeats; every change of a
 * running job fenced by (run_id, worker_id, attempt) as queue.h says. btrun.jobs holds
 * only queued and running jobs: a job that ends moves to btrun.jobs_archive in the same
 * statement, so the hot table stays small however many jobs ran. Keys (run_id,
 * idempotency, unique) live in btrun.job_keys and are unique across both.
 *
 * Enqueue and requeue NOTIFY the channel "btrun_jobs"; the queue's wake fd
 * (bt_queue_wake_fd) is a second connection LISTENing on it, so an idle worker claims at
 * once. It is only a hint: polling is the truth (a lost notification costs at most one
 * poll interval).
 *
 * A lost connection (server restart, network) is re-established with backoff inside
 * each call, for up to about 10 s, and the call is repeated: every call but release is
 * idempotent (a finish repeated after its commit was lost is recognised as already done;
 * a claim whose answer was lost only costs that job one lease: it is requeued when the
 * lease expires); a release is repeated only when it cannot have committed. After that
 * the call fails with BT_EIO and the caller tries again later. Lease times are the clients' wall clocks: keep the
 * machines' clocks synchronised (NTP); leases are tens of seconds. */
#ifndef BT_PG_QUEUE_H
#define BT_PG_QUEUE_H

#include "queue.h"

/* Connect (URL as for bt_pg_open), apply missing migrations, and return the queue. */
int bt_queue_open_pg(bt_queue **out, const char *url, bt_err *err);

#endif
