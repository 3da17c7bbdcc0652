/* export_scan_bench.c - the floor under `btrun events list --format jsonl|csv`: the same
 * store read (open, find the run, iterate its events in sequence order) with nothing
 * formatted or written. scripts/bench-export.sh sets the exports' costs against it.
 *   export_scan_bench STORE RUN_ID [LIMIT]     (LIMIT 0 or absent: every event)
 * Prints the number of events read. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "common.h"
#include "store.h"

int main(int argc, char **argv) {
  if (argc < 3 || argc > 4)
    return fprintf(stderr, "usage: export_scan_bench STORE RUN_ID [LIMIT]\n"), 2;
  uint64_t limit = argc == 4 ? strtoull(argv[3], NULL, 10) : 0, n = 0, sum = 0;
  bt_err err = {0};
  bt_store *s;
  bt_store_run run = {0};
  bt_store_iter *it;
  if (bt_store_open_readonly(&s, argv[1], &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  bt_store_filter q = {0};
  if (bt_store_find_run(s, argv[2], &run, &err) ||
      (q.run_no = run.run_no, bt_store_query(s, &q, &it, &err)))
    return fprintf(stderr, "%s\n", err.msg), 1;
  bt_trace_event e;
  int r = 0;
  while ((limit == 0 || n < limit) && (r = bt_store_iter_next(it, &e, &err)) == 1) {
    n++;
    sum += e.seq + e.created + (e.text ? (uint8_t)e.text[0] : 0); /* the fields are read */
  }
  bt_store_iter_free(it);
  bt_store_run_clear(&run);
  bt_store_close(s);
  if (r < 0) return fprintf(stderr, "%s\n", err.msg), 1;
  printf("%" PRIu64 " %" PRIu64 "\n", n, sum);
  return 0;
}
