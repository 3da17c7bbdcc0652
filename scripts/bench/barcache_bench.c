/* barcache_bench.c - the bar cache's read rate: build the cache of a CSV once, then read
 * every bar from it, printing bars per second of wall and CPU time; with "csv" instead
 * of a cache directory it reads the CSV directly (for instruction counts side by side).
 * read_all is the measured loop (callgrind --toggle-collect=read_all counts only it).
 * Built and run by scripts/bench-feed.sh. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "barcache.h"
#include "feed.h"

static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

__attribute__((noinline)) static int read_all(bt_feed *f, int64_t *sum, bt_err *err) {
  bt_bar bar;
  int rc;
  while ((rc = bt_feed_next(f, &bar, err)) == 1) *sum += bar.close.v + bar.time;
  return rc;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: barcache_bench CACHE_DIR|csv FILE.csv [ROUNDS]\n");
    return 2;
  }
  bool csv = strcmp(argv[1], "csv") == 0;
  int rounds = argc > 3 ? atoi(argv[3]) : 3;
  bt_err err = {0};
  bt_barcache *c = NULL;
  if (!csv && bt_barcache_new(&c, argv[1], 0, &err)) return 1;
  for (int r = 0; r <= rounds; r++) {
    uint64_t t0 = bt_now_ns();
    double c0 = cpu_seconds();
    bt_feed *f;
    if (bt_barcache_open_feed(c, &f, argv[2], "BENCH", 0, &(bt_feed_opts){0}, &err)) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    double open_s = (double)(bt_now_ns() - t0) / 1e9;
    if (r == 0 && !csv) { /* the first open built the cache */
      printf("first open (parses the CSV and writes the cache when missing): %.3f s\n", open_s);
      bt_feed_close(f);
      continue;
    }
    int64_t sum = 0;
    int rc = read_all(f, &sum, &err);
    double secs = (double)(bt_now_ns() - t0) / 1e9, cpu = cpu_seconds() - c0;
    if (rc < 0) {
      fprintf(stderr, "%s\n", err.msg);
      return 1;
    }
    uint64_t n = bt_feed_rows(f);
    printf("%s: %llu bars in %.3f s (open %.4f s) = %.1f M bars/s (CPU %.3f s = %.1f M bars/s; checksum %lld)\n",
           csv ? "csv" : "cache", (unsigned long long)n, secs, open_s, (double)n / secs / 1e6,
           cpu, (double)n / cpu / 1e6, (long long)sum);
    bt_feed_close(f);
  }
  bt_barcache_free(c);
  return 0;
}
