#include "sweep_sched.h"

#include <stdbool.h>
#include <stdlib.h>

int bt_sweep_sched_init(bt_sweep_sched *s, int nruns, int workers, int cap) {
  *s = (bt_sweep_sched){.nruns = nruns, .workers = workers < 1 ? 1 : workers,
                        .cap = cap < 1 ? 1 : cap};
  /* a run starts while fewer than cap ends wait (the last one also with more), and each
   * of the (at most `workers`) loops then running queues one more */
  s->size = s->cap + s->workers;
  s->ends = calloc((size_t)s->size, sizeof *s->ends);
  return s->ends ? 0 : -1;
}

void bt_sweep_sched_free(bt_sweep_sched *s) {
  free(s->ends);
  s->ends = NULL;
}

void bt_sweep_sched_ended(bt_sweep_sched *s, void *end) {
  s->ends[(s->head + s->n++) % s->size] = end;
}

bt_sweep_task bt_sweep_sched_next(bt_sweep_sched *s, int *run, void **end) {
  /* the last run starts as soon as a worker is free: nothing can start after it, so
   * ending runs first would only push the sweep's end later (another worker ends them) */
  bool last = s->next == s->nruns - 1 && s->workers > 1;
  if (s->next < s->nruns && (s->n < s->cap || last)) {
    *run = s->next++;
    return BT_SWEEP_START;
  }
  if (!s->n) return BT_SWEEP_NONE;
  *end = s->ends[s->head];
  s->head = (s->head + 1) % s->size;
  s->n--;
  return BT_SWEEP_END;
}
