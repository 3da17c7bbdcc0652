/* test_sweep_sched.c - bt.sweep's task policy (sweep_sched.h): runs start while fewer
 * than `cap` ends wait, ends are taken oldest first, one worker is plain sequential, and
 * in virtual time (loops and ends of given lengths, no threads) the ends of 9 runs on 2
 * workers fill the time beside the last loop: the sweep takes less than whole runs one
 * per worker would. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "sweep_sched.h"

static int tags[64]; /* what a queued end points at: its run's index */

/* one step of a worker: after a loop (done >= 0: that run's end is queued), its next task */
static bt_sweep_task step(bt_sweep_sched *s, int done, int *run, int *end) {
  if (done >= 0) bt_sweep_sched_ended(s, &tags[done]);
  void *e = NULL;
  bt_sweep_task t = bt_sweep_sched_next(s, run, &e);
  *end = e ? (int)((int *)e - tags) : -1;
  return t;
}

/* Virtual time: W workers, run i's loop takes loop[i] and its end end[i]. Returns the
 * makespan; checks every run starts and ends once and the queue stays bounded. */
static int64_t simulate(int n, int workers, int cap, const int64_t *loop, const int64_t *endt) {
  bt_sweep_sched s;
  CHECK(bt_sweep_sched_init(&s, n, workers, cap) == 0);
  int64_t free_at[16];
  int doing[16]; /* a run whose loop the worker is in, or -1 */
  bool active[16];
  int started[64] = {0}, ended[64] = {0}, maxq = 0;
  for (int w = 0; w < workers; w++) free_at[w] = 0, doing[w] = -1, active[w] = true;
  int64_t makespan = 0;
  for (;;) {
    int w = -1; /* the active worker free first (lowest index on ties) */
    for (int i = 0; i < workers; i++)
      if (active[i] && (w < 0 || free_at[i] < free_at[w])) w = i;
    if (w < 0) break;
    int run, end;
    bt_sweep_task t = step(&s, doing[w], &run, &end);
    if (s.n > maxq) maxq = s.n;
    doing[w] = -1;
    if (t == BT_SWEEP_NONE) active[w] = false;
    else if (t == BT_SWEEP_START) {
      started[run]++;
      doing[w] = run;
      free_at[w] += loop[run];
    } else {
      ended[end]++;
      CHECK(started[end] == 1);
      free_at[w] += endt[end];
      if (free_at[w] > makespan) makespan = free_at[w];
    }
  }
  for (int i = 0; i < n; i++) CHECK(started[i] == 1 && ended[i] == 1);
  CHECK(maxq <= cap + workers);
  bt_sweep_sched_free(&s);
  return makespan;
}

int main(void) {
  int run, end;
  /* one worker: start, end, start, end: the runs one after another */
  bt_sweep_sched s;
  CHECK(bt_sweep_sched_init(&s, 3, 1, 1) == 0);
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_START && run == 0);
  for (int i = 0; i < 3; i++) {
    CHECK(step(&s, i, &run, &end) == BT_SWEEP_END && end == i);
    if (i < 2) CHECK(step(&s, -1, &run, &end) == BT_SWEEP_START && run == i + 1);
  }
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_NONE);
  bt_sweep_sched_free(&s);

  /* two workers, cap 2: a worker whose loop ends starts the next run while one end
   * waits, takes the oldest end when two wait, starts the last run whatever waits, and
   * drains the ends when no run is left */
  CHECK(bt_sweep_sched_init(&s, 5, 2, 2) == 0);
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_START && run == 0); /* A */
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_START && run == 1); /* B */
  CHECK(step(&s, 0, &run, &end) == BT_SWEEP_START && run == 2);  /* A: end 0 waits */
  CHECK(step(&s, 1, &run, &end) == BT_SWEEP_END && end == 0);    /* B: two wait */
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_START && run == 3); /* B: one waits */
  CHECK(step(&s, 2, &run, &end) == BT_SWEEP_START && run == 4);  /* A: the last run */
  CHECK(step(&s, 3, &run, &end) == BT_SWEEP_END && end == 1);    /* B: no run left */
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_END && end == 2);
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_END && end == 3);
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_NONE);              /* B leaves */
  CHECK(step(&s, 4, &run, &end) == BT_SWEEP_END && end == 4);    /* A ends its own */
  CHECK(step(&s, -1, &run, &end) == BT_SWEEP_NONE);
  bt_sweep_sched_free(&s);

  /* 9 equal runs on 2 workers, loop 82 and end 18 (the shares measured on daily bars):
   * whole runs take 5 x 100; with ends split off, 464 (workers=1: 900) */
  int64_t loop[64], endt[64];
  for (int i = 0; i < 64; i++) loop[i] = 82, endt[i] = 18;
  CHECK(simulate(9, 1, 1, loop, endt) == 900);
  int64_t ms = simulate(9, 2, 2, loop, endt);
  CHECK(ms == 464);
  /* uneven runs, more workers, larger caps: every run once, the queue bounded */
  srand(7);
  for (int round = 0; round < 200; round++) {
    int n = 1 + rand() % 40, w = 1 + rand() % 8, cap = 1 + rand() % 4;
    for (int i = 0; i < n; i++) loop[i] = 1 + rand() % 100, endt[i] = 1 + rand() % 30;
    int64_t total = 0, longest = 0;
    for (int i = 0; i < n; i++) {
      total += loop[i] + endt[i];
      if (loop[i] + endt[i] > longest) longest = loop[i] + endt[i];
    }
    ms = simulate(n, w, cap, loop, endt);
    CHECK(ms >= total / w && ms >= longest && ms <= total);
  }
  return failures != 0;
}
