/* The spool journal: append/read/ack, truncation when drained, the size cap,
 * adoption of dead processes' segments (not live ones), damaged records. */
#include "test_analytics_lib.h"

#include <zlib.h>

#include "analytics_spool.h"

static char dir[1200];

static int append_str(bt_an_spool *sp, const char *s, bool sync) {
  size_t n = strlen(s);
  return bt_an_spool_append(sp, &s, &n, 1, sync);
}

static void expect_read(bt_an_spool *sp, int64_t *off, const char *want) {
  char *p = NULL;
  size_t len = 0;
  int64_t start;
  int rc = bt_an_spool_read(sp, off, &p, &len, &start);
  CHECK(rc == 1);
  if (rc == 1) {
    CHECK(strcmp(p, want) == 0);
    CHECK(len == strlen(want));
  }
  free(p);
}

static void expect_end(bt_an_spool *sp, int64_t *off) {
  char *p = NULL;
  size_t len;
  int64_t start;
  CHECK(bt_an_spool_read(sp, off, &p, &len, &start) == 0);
  free(p);
}

static void test_queue(void) {
  bt_err err = {0};
  bt_an_spool *sp = bt_an_spool_open(dir, 1 << 20, &err);
  CHECK(sp != NULL);
  const char *recs[] = {"1\tu\t{\"a\":1}", "2\tu\t{\"b\":\"x y\\tz\"}", "3\tu\t{}"};
  size_t lens[] = {strlen(recs[0]), strlen(recs[1]), strlen(recs[2])};
  CHECK(bt_an_spool_append(sp, recs, lens, 3, true) == 0);
  int64_t off = 0;
  expect_read(sp, &off, recs[0]);
  int64_t after_first = off;
  expect_read(sp, &off, recs[1]);
  CHECK(bt_an_spool_ack(sp, after_first) == 0); /* partial: an A record is appended */
  expect_read(sp, &off, recs[2]);               /* A records are skipped by readers */
  expect_end(sp, &off);
  CHECK(bt_an_spool_unacked_bytes(sp) > 0);
  CHECK(bt_an_spool_ack(sp, off) == 1); /* all done: truncated */
  CHECK(bt_an_spool_unacked_bytes(sp) == 0);
  off = 0;
  expect_end(sp, &off);
  CHECK(append_str(sp, "4\tu\t{}", false) == 0);
  expect_read(sp, &off, "4\tu\t{}");
  CHECK(bt_an_spool_ack(sp, off) == 1);
  CHECK(bt_an_spool_close(sp) == 0);
  bt_an_spool_census c;
  bt_an_spool_census_dir(dir, &c);
  CHECK(c.files == 0); /* a drained segment is removed at close */
}

static void test_cap(void) {
  bt_err err = {0};
  bt_an_spool *sp = bt_an_spool_open(dir, 200, &err);
  int dropped = 0;
  for (int i = 0; i < 10; i++) dropped += append_str(sp, "0\tu\t{\"padding\":\"xxxxxxxxxxxxxxxxx\"}", false);
  CHECK(dropped > 0 && dropped < 10);
  CHECK((int)bt_an_spool_dropped(sp) == dropped);
  CHECK(bt_an_spool_unacked_bytes(sp) <= 200);
  CHECK(count_logs("analytics_spool_full", NULL, NULL) == 1); /* warned once */
  /* after delivery there is room again */
  int64_t off = 0, start;
  char *p;
  size_t len;
  while (bt_an_spool_read(sp, &off, &p, &len, &start) == 1) free(p);
  CHECK(bt_an_spool_ack(sp, off) == 1);
  CHECK(append_str(sp, "0\tu\t{}", false) == 0);
  CHECK(bt_an_spool_ack(sp, 1000) == 1);
  bt_an_spool_close(sp);
}

static void test_adopt(void) {
  bt_err err = {0};
  /* A crashed process: journal synced, never closed (the lock dies with it). */
  pid_t pid = fork();
  if (pid == 0) {
    bt_an_spool *c = bt_an_spool_open(dir, 1 << 20, &err);
    for (int i = 0; i < 5; i++) {
      char buf[32];
      snprintf(buf, sizeof buf, "%d\tu\t{\"i\":%d}", i, i);
      append_str(c, buf, true);
    }
    int64_t off = 0, start;
    char *p;
    size_t len;
    bt_an_spool_read(c, &off, &p, &len, &start);
    bt_an_spool_ack(c, off); /* the first was delivered */
    _exit(0);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  /* A live process's segment must not be taken. */
  bt_an_spool *live = bt_an_spool_open(dir, 1 << 20, &err);
  CHECK(append_str(live, "9\tu\t{\"live\":1}", true) == 0);

  bt_an_spool *sp = bt_an_spool_open(dir, 1 << 20, &err);
  int files = 0;
  CHECK(bt_an_spool_adopt(sp, &files, &err) == 4);
  CHECK(files == 1);
  int64_t off = 0;
  for (int i = 1; i < 5; i++) {
    char want[32];
    snprintf(want, sizeof want, "%d\tu\t{\"i\":%d}", i, i);
    expect_read(sp, &off, want);
  }
  expect_end(sp, &off);
  CHECK(bt_an_spool_adopt(sp, &files, &err) == 0); /* nothing twice */
  bt_an_spool_census c;
  bt_an_spool_census_dir(dir, &c);
  CHECK(c.files == 2 && c.files_in_use == 2 && c.events == 5);
  /* our segment keeps its undelivered events for the next process */
  CHECK(bt_an_spool_close(sp) > 0);
  CHECK(bt_an_spool_ack(live, 10000) == 1);
  CHECK(bt_an_spool_close(live) == 0);
  bt_an_spool_census_dir(dir, &c);
  CHECK(c.files == 1 && c.files_in_use == 0 && c.events == 4);
  sp = bt_an_spool_open(dir, 1 << 20, &err);
  CHECK(bt_an_spool_adopt(sp, &files, &err) == 4);
  off = 0;
  char *p;
  size_t len;
  int64_t start;
  while (bt_an_spool_read(sp, &off, &p, &len, &start) == 1) free(p);
  CHECK(bt_an_spool_ack(sp, off) == 1);
  CHECK(bt_an_spool_close(sp) == 0);
}

static void test_damaged(void) {
  char path[1400];
  snprintf(path, sizeof path, "%s/0000000000001-1-deadbeef.spool", dir);
  FILE *f = fopen(path, "w");
  /* good; bad checksum; good; torn tail of a crash mid-write */
  const char *good1 = "1\tu\t{\"ok\":1}", *good2 = "2\tu\t{\"ok\":2}";
  fprintf(f, "E %zu %08lx %s\n", strlen(good1), (unsigned long)crc32(0, (const Bytef *)good1, (uInt)strlen(good1)), good1);
  fprintf(f, "E 12 00000000 1\tu\t{\"bad\"}\n");
  fprintf(f, "E %zu %08lx %s\n", strlen(good2), (unsigned long)crc32(0, (const Bytef *)good2, (uInt)strlen(good2)), good2);
  fprintf(f, "E 40 12345678 3\tu\t{\"tor");
  fclose(f);
  bt_an_spool_census c;
  bt_an_spool_census_dir(dir, &c);
  CHECK(c.events == 2 && c.corrupt == 2);
  bt_err err = {0};
  bt_an_spool *sp = bt_an_spool_open(dir, 1 << 20, &err);
  int files;
  CHECK(bt_an_spool_adopt(sp, &files, &err) == 2);
  CHECK(count_logs("analytics_spool_corrupt", NULL, NULL) == 1);
  int64_t off = 0;
  expect_read(sp, &off, good1);
  expect_read(sp, &off, good2);
  expect_end(sp, &off);
  CHECK(bt_an_spool_ack(sp, off) == 1);
  CHECK(bt_an_spool_close(sp) == 0);
}

int main(void) {
  make_tmp("test_analytics_spool");
  snprintf(dir, sizeof dir, "%s/spool", tmp_root);
  capture_logs();
  test_queue();
  test_cap();
  test_adopt();
  test_damaged();
  if (!failures) remove_tmp();
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
