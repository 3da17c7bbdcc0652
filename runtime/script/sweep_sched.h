/* sweep_sched.h - which task a bt.sweep worker takes next: start a run, or end a run
 * whose loop is done (bt_run_finish: report, observers, teardown).
 *
 * Splitting a run's end from its loop lets a worker start the next run while another
 * ends this one, so near the sweep's end the ends fill the time a worker would sit idle
 * beside the last loops. Policy: start a run while fewer than `cap` ends are queued,
 * else end the oldest queued run; with no run left, drain the ends. The sweep's last run
 * starts as soon as a worker is free (with more than one worker): its loop is the last
 * piece of work that cannot be shared. Queued ends hold their runs' memory, so at most
 * cap + workers wait at once. Pure bookkeeping (the caller holds its own lock), so the
 * policy is tested without threads. */
#ifndef BT_SWEEP_SCHED_H
#define BT_SWEEP_SCHED_H

typedef enum { BT_SWEEP_NONE = 0, BT_SWEEP_START, BT_SWEEP_END } bt_sweep_task;

typedef struct bt_sweep_sched {
  int nruns, next;   /* runs of the sweep; the next one to start */
  int workers, cap;
  void **ends;       /* queued ends, a ring of `size` */
  int head, n, size;
} bt_sweep_sched;

/* cap >= 1. Returns 0, or -1 when out of memory. */
int bt_sweep_sched_init(bt_sweep_sched *s, int nruns, int workers, int cap);
void bt_sweep_sched_free(bt_sweep_sched *s);

/* A worker's loop is done: `end` (not NULL) waits to be ended. */
void bt_sweep_sched_ended(bt_sweep_sched *s, void *end);

/* The calling worker's next task: START (*run: the index of the run to start), END
 * (*end: a queued end, oldest first) or NONE (nothing left for it: the ends of loops
 * still running are taken by the workers that queue them). */
bt_sweep_task bt_sweep_sched_next(bt_sweep_sched *s, int *run, void **end);

#endif
