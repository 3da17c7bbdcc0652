#include "sweep_sched.h"

#include <stdlib.h>

int bt_sweep_sched_init(bt_sweep_sched *s, int nruns, int workers, int cap) {
  *s = (bt_sweep_sched){.nruns = nruns, .cap = cap < 1 ? 1 : cap};
  /* a run starts only while fewer than cap ends wait, and each of the (at most
   * `workers`) loops then running queues one more */
  s->size = s->cap + (workers < 1 ? 1 : workers);
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
  if (s->next < s->nruns && s->n < s->cap) {
    *run = s->next++;
    return BT_SWEEP_START;
  }
  if (!s->n) return BT_SWEEP_NONE;
  *end = s->ends[s->head];
  s->head = (s->head + 1) % s->size;
  s->n--;
  return BT_SWEEP_END;
}
