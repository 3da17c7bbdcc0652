/* feed_bench.c - parse throughput of the CSV feed: iterate every bar of a file and
 * print bars per second of wall time and of CPU time (the latter is steadier on a busy
 * machine). Built and run by scripts/bench-feed.sh. */

#include <stdio.h>
#include <time.h>

#include "feed.h"

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: feed_bench FILE.csv\n");
    return 2;
  }
  bt_err err = {0};
  bt_feed *f;
  uint64_t t0 = bt_now_ns();
  double c0 = cpu_seconds();
  if (bt_feed_open(&f, argv[1], "BENCH", 0, &(bt_feed_opts){0}, &err) != 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  bt_bar bar;
  int rc;
  int64_t sum = 0; /* keeps the loop from being optimised away */
  while ((rc = bt_feed_next(f, &bar, &err)) == 1) sum += bar.close.v;
  double secs = (double)(bt_now_ns() - t0) / 1e9, cpu = cpu_seconds() - c0;
  if (rc < 0) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  uint64_t n = bt_feed_rows(f);
  printf("feed: %llu bars in %.3f s = %.2f M bars/s (CPU %.3f s = %.2f M bars/s; checksum %lld)\n",
         (unsigned long long)n, secs, (double)n / secs / 1e6, cpu, (double)n / cpu / 1e6,
         (long long)sum);
  bt_feed_close(f);
  return 0;
}
