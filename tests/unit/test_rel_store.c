/* Event store under contention and failure (issue 11, items 1 and 2): a flush that
 * cannot take the write lock rolls back, keeps its rows staged and succeeds once the
 * lock is free; a failed commit never leaves a transaction open (the next one starts);
 * the write lock is held only while rows are inserted, never while chunks are staged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store.h"

#include "check.h"

static bt_err err;

static void bars(bt_trace_event *evs, size_t n, uint64_t first) {
  memset(evs, 0, n * sizeof *evs);
  for (size_t i = 0; i < n; i++) {
    evs[i].seq = first + i;
    evs[i].ts = 1000 + (int64_t)(first + i);
    evs[i].type = BT_EV_BAR;
    evs[i].source = "feed";
    evs[i].p.bar.open = evs[i].p.bar.high = evs[i].p.bar.low = evs[i].p.bar.close = 100000000;
  }
}

static uint64_t count_events(const char *path, int64_t run_no) {
  bt_store *s = NULL;
  bt_err e = {0};
  if (bt_store_open_readonly(&s, path, &e)) return (uint64_t)-1;
  bt_store_filter q = {.run_no = run_no};
  bt_store_iter *it = NULL;
  uint64_t n = 0;
  bt_trace_event ev;
  if (!bt_store_query(s, &q, &it, &e))
    while (bt_store_iter_next(it, &ev, &e) == 1) n++;
  bt_store_iter_free(it);
  bt_store_close(s);
  return n;
}

int main(void) {
  const char *tmp = getenv("BT_TEST_TMP");
  char dir[512], path[600];
  snprintf(dir, sizeof dir, "%s/rel-store-%d", tmp ? tmp : "/tmp", (int)getpid());
  mkdir(tmp ? tmp : "/tmp", 0755);
  snprintf(path, sizeof path, "%s/events.db", dir);

  bt_store *w = NULL, *other = NULL;
  CHECK_OK(bt_store_open(&w, path, &err));
  CHECK_OK(bt_store_open(&other, path, &err));
  if (!w || !other) return 1;
  bt_store_busy_timeout(w, 50);
  bt_run_info info = {.origin = "test", .started_ms = 1, .strategy_path = "s.lua"};
  snprintf(info.run_id, sizeof info.run_id, "44444444-0000-4000-8000-000000000000");
  snprintf(info.correlation_id, sizeof info.correlation_id, "c");
  int64_t run_no = 0;
  CHECK_OK(bt_store_run_begin(w, &info, "{}", 0, &run_no, &err));

  /* Another process holds the write lock: staging needs no lock, the flush fails
   * (busy), rolls back and keeps the rows. */
  static bt_trace_event evs[BT_STORE_CHUNK];
  CHECK_OK(bt_store_begin(other, &err));
  bars(evs, 100, 1);
  CHECK_OK(bt_store_put_chunk(w, run_no, 0, evs, 100, &err));
  CHECK(bt_store_staged_events(w) == 100);
  uint64_t n = 99;
  CHECK(bt_store_flush(w, &n, &err) != 0);
  CHECK(n == 0);
  CHECK(strstr(err.msg, "locked") != NULL);
  CHECK(bt_store_staged_events(w) == 100);
  bars(evs, 50, 101);
  CHECK_OK(bt_store_put_chunk(w, run_no, 0, evs, 50, &err));
  CHECK_OK(bt_store_commit(other, &err));
  /* lock free: the retry commits both chunks (a leaked transaction would fail here with
   * "cannot start a transaction within a transaction") */
  CHECK_OK(bt_store_flush(w, &n, &err));
  CHECK(n == 150);
  CHECK(bt_store_staged_events(w) == 0);
  CHECK(count_events(path, run_no) == 150);

  /* A commit that fails inside an explicit transaction rolls it back: a duplicate chunk
   * (same first seq) violates the unique index. */
  CHECK_OK(bt_store_begin(w, &err));
  bars(evs, 10, 1);
  CHECK_OK(bt_store_put_chunk(w, run_no, 0, evs, 10, &err));
  CHECK(bt_store_commit(w, &err) != 0);
  bt_store_drop_staged(w);
  CHECK_OK(bt_store_begin(w, &err)); /* no transaction was left open */
  bars(evs, 10, 151);
  CHECK_OK(bt_store_put_chunk(w, run_no, 0, evs, 10, &err));
  CHECK_OK(bt_store_commit(w, &err));
  CHECK(count_events(path, run_no) == 160);
  /* and another connection can write right after */
  bt_store_busy_timeout(other, 50);
  CHECK_OK(bt_store_begin(other, &err));
  bt_store_rollback(other);

  bt_store_close(w);
  bt_store_close(other);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cleanup of %s failed\n", dir);
  if (!failures) printf("ok - test_rel_store\n");
  return failures != 0;
}
