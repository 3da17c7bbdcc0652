/* test_barcache.c - the bar cache gives exactly the CSV's bars; a stale, truncated or
 * corrupt cache file is detected (rebuilt, or read around from the CSV mid-run); a CSV
 * the reader refuses is not cached; concurrent builders and clear. */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "barcache.h"
#include "check.h"
#include "feed.h"
#include "fs.h"

static char tmpdir[512], cachedir[600], csv[600];
static char path[700]; /* the cache file of csv read without options */

/* n daily bars, a deterministic walk with odd prices and fractional volumes */
static void write_csv(const char *path, int n, int first_day, const char *bad_row_at) {
  FILE *f = fopen(path, "w");
  fprintf(f, "Date,Open,High,Low,Close,Volume\n");
  uint64_t x = 42;
  long px = 1000000; /* 100.0000 in 1e-4 */
  for (int i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    long step = (long)(x >> 33) % 20001 - 10000;
    long o = px, c = px + step, h = (o > c ? o : c) + 7, l = (o < c ? o : c) - 3;
    px = c > 20000 ? c : 20000;
    int d = first_day + i;
    int y = 1900 + d / 360, m = d / 30 % 12 + 1, dd = d % 30 + 1;
    if (m == 2 && dd > 28) continue;
    if (bad_row_at && i == 5000) fprintf(f, "%s\n", bad_row_at);
    fprintf(f, "%04d-%02d-%02d,%ld.%04ld,%ld.%04ld,%ld.%04ld,%ld.%04ld,%lu.5\n", y, m, dd,
            o / 10000, o % 10000, h / 10000, h % 10000, l / 10000, l % 10000, c / 10000,
            c % 10000, (unsigned long)(x >> 44));
  }
  fclose(f);
}

static int count_files(const char *suffix) {
  DIR *d = opendir(cachedir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t l = strlen(e->d_name), s = strlen(suffix);
    if (l > s && strcmp(e->d_name + l - s, suffix) == 0) n++;
  }
  closedir(d);
  return n;
}

/* The one .bars file's path. */
static void cache_file(char *out, size_t n) {
  out[0] = '\0';
  DIR *d = opendir(cachedir);
  struct dirent *e;
  while (d && (e = readdir(d)))
    if (strstr(e->d_name, ".bars") && !strstr(e->d_name, ".bars."))
      snprintf(out, n, "%s/%s", cachedir, e->d_name);
  if (d) closedir(d);
}

static bool same_bar(const bt_bar *a, const bt_bar *b) {
  return a->time == b->time && a->open.v == b->open.v && a->high.v == b->high.v &&
         a->low.v == b->low.v && a->close.v == b->close.v &&
         memcmp(&a->volume, &b->volume, sizeof a->volume) == 0 && a->symbol == b->symbol;
}

/* Reads every bar through the cache and straight from the CSV: all equal. `mid` runs
 * after the first 10 bars (to damage the cache file under the reader). Returns bars. */
static long compare_all(bt_barcache *c, const bt_feed_opts *opts, void (*mid)(void)) {
  bt_err err = {0};
  bt_feed *a = NULL, *b = NULL;
  CHECK_OK(bt_barcache_open_feed(c, &a, csv, "X", 3, opts, &err));
  CHECK_OK(bt_feed_open(&b, csv, "X", 3, opts, &err));
  if (!a || !b) return -1;
  long n = 0;
  bt_bar x, y;
  int ra, rb;
  for (;;) {
    ra = bt_feed_next(a, &x, &err);
    rb = bt_feed_next(b, &y, &err);
    if (ra != 1 || rb != 1) break;
    if (!same_bar(&x, &y)) {
      fprintf(stderr, "bar %ld differs\n", n);
      failures++;
      break;
    }
    if (++n == 10 && mid) mid();
  }
  CHECK(ra == 0 && rb == 0);
  CHECK(bt_feed_progress(a) == 1.0);
  CHECK(bt_feed_rows(a) == bt_feed_rows(b));
  CHECK(bt_feed_skipped(a) == bt_feed_skipped(b));
  bt_feed_close(a);
  bt_feed_close(b);
  return n;
}

static void truncate_cache(void) { CHECK(truncate(path, 4096 + 48 * 100) == 0); }

static void corrupt_byte(const char *p, off_t at) {
  int fd = open(p, O_RDWR);
  unsigned char b;
  CHECK(pread(fd, &b, 1, at) == 1);
  b ^= 0x10;
  CHECK(pwrite(fd, &b, 1, at) == 1);
  close(fd);
}

static void *open_in_thread(void *arg) {
  (void)arg;
  bt_barcache *c;
  bt_err err = {0};
  if (bt_barcache_new(&c, cachedir, 0, &err)) return (void *)1;
  bt_feed *f = NULL;
  long n = 0;
  bt_bar bar;
  if (bt_barcache_open_feed(c, &f, csv, "X", 0, NULL, &err) == 0)
    while (bt_feed_next(f, &bar, &err) == 1) n++;
  bt_feed_close(f);
  bt_barcache_free(c);
  return (void *)n;
}

int main(void) {
  const char *t = getenv("BT_TEST_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s/barcache-%d", t && *t ? t : "/tmp", (int)getpid());
  CHECK(bt_mkdirs(tmpdir, 0755) == 0); /* BT_TEST_TMP may not exist yet */
  snprintf(cachedir, sizeof cachedir, "%s/cache/bars", tmpdir);
  snprintf(csv, sizeof csv, "%s/walk.csv", tmpdir);
  write_csv(csv, 20000, 0, NULL);
  bt_err err = {0};
  bt_barcache *c;
  struct stat st1, st2;

  /* 1. built on first use, bar for bar the CSV's; read again from the same file */
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  long n = compare_all(c, NULL, NULL);
  CHECK(n > 18000);
  CHECK(count_files(".bars") == 1);
  cache_file(path, sizeof path);
  CHECK(stat(path, &st1) == 0);
  bt_barcache_free(c);
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, NULL) == n);
  CHECK(stat(path, &st2) == 0 && st2.st_ino == st1.st_ino); /* reused, not rebuilt */
  /* other parse options: another cache file */
  bt_feed_opts skip = {.skip_bad_rows = true};
  CHECK(compare_all(c, &skip, NULL) == n);
  CHECK(count_files(".bars") == 2);
  bt_barcache_free(c);

  /* 2. the CSV changes (a row appended): the cache is rebuilt */
  FILE *f = fopen(csv, "a");
  fprintf(f, "2099-01-01,1.0,2.0,0.5,1.5,7\n");
  fclose(f);
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, NULL) == n + 1);
  CHECK(stat(path, &st2) == 0 && st2.st_ino != st1.st_ino);
  bt_barcache_free(c);

  /* 3. a truncated cache file is rebuilt on open */
  truncate_cache();
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, NULL) == n + 1);
  CHECK(stat(path, &st2) == 0 && st2.st_size > 4096 + 48 * 100);
  bt_barcache_free(c);

  /* 4. a damaged header is rebuilt on open */
  corrupt_byte(path, 40);
  CHECK(stat(path, &st1) == 0);
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, NULL) == n + 1);
  CHECK(stat(path, &st2) == 0 && st2.st_ino != st1.st_ino);
  bt_barcache_free(c);

  /* 5. a damaged bar (block 2) is found when read: the rest comes from the CSV, the
   * bars are still the CSV's, and the file is removed (the next open rebuilds it) */
  corrupt_byte(path, 4096 + 2 * 4096 * 48 + 5 * 8 + 3);
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, NULL) == n + 1);
  CHECK(count_files(".bars") == 1); /* the skip_bad_rows one is left */
  CHECK(compare_all(c, NULL, NULL) == n + 1);
  CHECK(count_files(".bars") == 2);
  bt_barcache_free(c);

  /* 6. the cache file truncated under a reader: no SIGBUS, the CSV takes over */
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  CHECK(compare_all(c, NULL, truncate_cache) == n + 1);
  bt_barcache_free(c);

  /* 7. a CSV the reader refuses is not cached: the error comes at its line, as ever */
  int rm = 0;
  CHECK(count_files(".bars") == 1); /* the truncated one was removed by its reader */
  CHECK_OK(bt_barcache_clear(cachedir, &rm, &err));
  CHECK(rm == 1 && count_files(".bars") == 0);
  write_csv(csv, 20000, 0, "2000-01-01,1,2,3");
  CHECK_OK(bt_barcache_new(&c, cachedir, 0, &err));
  bt_feed *fd = NULL;
  CHECK_OK(bt_barcache_open_feed(c, &fd, csv, "X", 0, NULL, &err));
  bt_bar bar;
  int rc;
  long good = 0;
  while (fd && (rc = bt_feed_next(fd, &bar, &err)) == 1) good++;
  CHECK(rc < 0 && err.line == good + 2 && strstr(err.msg, "walk.csv"));
  bt_err_clear(&err);
  bt_feed_close(fd);
  CHECK(count_files(".bars") == 0);
  /* ... and files below min_bytes are read directly */
  bt_barcache_free(c);
  write_csv(csv, 20000, 0, NULL);
  CHECK_OK(bt_barcache_new(&c, cachedir, 1u << 30, &err));
  CHECK(compare_all(c, NULL, NULL) == n);
  CHECK(count_files(".bars") == 0);
  bt_barcache_free(c);

  /* 8. concurrent builders (separate caches, as separate processes would be): each
   * reads every bar; one whole cache file results, no temporary file is left */
  pthread_t th[4];
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, open_in_thread, NULL);
  for (int i = 0; i < 4; i++) {
    void *r;
    pthread_join(th[i], &r);
    CHECK((long)r == n);
  }
  CHECK(count_files(".bars") == 1);
  CHECK_OK(bt_barcache_clear(cachedir, &rm, &err));
  CHECK(rm == 1);

  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  if (system(cmd) != 0) failures++;
  return failures != 0;
}
