/* trace_query_bench.c - query times on an event store (used by scripts/bench-trace.sh).
 *   trace_query_bench STORE RUN_ID
 * Prints: all events of the run (= of its correlation_id), FILLs only, one day of BARs,
 * and random lookups by seq (the step of a lineage walk). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "common.h"
#include "store.h"

#include <time.h>

static double ms_since(uint64_t t0) { return (double)(bt_now_ns() - t0) / 1e6; }
static double cpu_ms(void) { /* CPU time: what the query costs on an idle machine */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int scan(bt_store *s, const bt_store_filter *f, const char *what) {
  bt_err err = {0};
  uint64_t t0 = bt_now_ns(), n = 0, sum = 0;
  double c0 = cpu_ms();
  bt_store_iter *it;
  if (bt_store_query(s, f, &it, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  bt_trace_event e;
  int r;
  while ((r = bt_store_iter_next(it, &e, &err)) == 1) {
    n++;
    sum += e.seq;
  }
  bt_store_iter_free(it);
  if (r < 0) return fprintf(stderr, "%s\n", err.msg), 1;
  printf("query %-34s %10" PRIu64 " events in %8.1f ms (%.1f ms CPU)\n", what, n, ms_since(t0),
         cpu_ms() - c0);
  return sum == 0 && n > 0;
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: trace_query_bench STORE RUN_ID\n"), 2;
  bt_err err = {0};
  bt_store *s;
  bt_store_run run;
  if (bt_store_open_readonly(&s, argv[1], &err) || bt_store_find_run(s, argv[2], &run, &err))
    return fprintf(stderr, "%s\n", err.msg), 1;
  int rc = 0;
  bt_store_filter all = {.run_no = run.run_no};
  rc |= scan(s, &all, "all events of the run");
  bt_store_filter fills = {.run_no = run.run_no, .type_mask = BT_EV_MASK(BT_EV_FILL)};
  rc |= scan(s, &fills, "type FILL");
  bt_store_filter nonbar = {.run_no = run.run_no,
                            .type_mask = BT_EV_MASK_ALL & ~BT_EV_MASK(BT_EV_BAR)};
  rc |= scan(s, &nonbar, "all but BAR");
  /* one day of market time in the middle of the run */
  bt_trace_event first;
  bool found = false;
  bt_store_get_event(s, run.run_no, 1, &first, &found, &err);
  if (found) {
    int64_t mid = first.ts + 5LL * 365 * 86400;
    bt_store_filter day = {.run_no = run.run_no, .type_mask = BT_EV_MASK(BT_EV_BAR),
                           .has_from = true, .from = mid, .has_to = true, .to = mid + 86399};
    rc |= scan(s, &day, "type BAR, one day (time range)");
    bt_trace_event_clear(&first);
  }
  /* random lookups by seq: what each step of `trace lineage` does */
  uint64_t t0 = bt_now_ns(), hits = 0, seed = 7;
  const int N = 10000;
  for (int i = 0; i < N; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    uint64_t seq = 1 + (seed >> 11) % (run.event_count ? run.event_count : 1);
    bt_trace_event e;
    bt_store_get_event(s, run.run_no, seq, &e, &found, &err);
    if (found) {
      hits++;
      bt_trace_event_clear(&e);
    }
  }
  printf("lookup by seq (lineage step)         %10d lookups: %.1f us each (%" PRIu64 " found)\n", N,
         ms_since(t0) * 1000.0 / N, hits);
  bt_store_run_clear(&run);
  bt_store_close(s);
  return rc;
}
