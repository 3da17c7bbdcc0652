/* Trade logs with records that cannot be used (issue 11, item 12): by default a bad line
 * is skipped and counted (skipped_lines, the first lines' file:line, partial), an open
 * trade logged with "pnl": null counts as open with unknown unrealized P&L (left out of
 * unrealized_pnl, flagged, partial); both survive the index's save and load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "perf_files.h"
#include "perf_index_json.h"
#include "perf_source.h"
#include "perf_summary.h"
#include "perf_time.h"
#include "tz.h"

#include "check.h"

static bt_err err;

int main(void) {
  bt_log_set_level(BT_LOG_OFF);
  const char *t = getenv("BT_TEST_TMP");
  char dir[400], path[500];
  snprintf(dir, sizeof dir, "%s/rel-perf-%d", t ? t : "/tmp", (int)getpid());
  mkdir(t ? t : "/tmp", 0755);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/trades.jsonl", dir);
  FILE *f = fopen(path, "w");
  if (!f) return 1;
  fputs("{\"trade_id\":1,\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":\"10.5\",\"status\":\"closed\"}\n"
        "{\"trade_id\":2,\"exit_time\":\"2024-01-08T16:00:00Z\",\"pnl\":\"1.0x\",\"status\":\"closed\"}\n"
        "not json at all\n"
        "{\"trade_id\":3,\"entry_time\":\"2024-01-08T10:00:00Z\",\"pnl\":null,\"status\":\"open\"}\n"
        "{\"trade_id\":4,\"entry_time\":\"2024-01-08T11:00:00Z\",\"pnl\":\"-2.25\",\"status\":\"open\"}\n"
        "{\"trade_id\":5,\"exit_time\":\"2024-01-08T17:00:00Z\",\"pnl\":null,\"status\":\"closed\"}\n"
        "{\"trade_id\":6,\"exit_time\":\"2024-01-08T18:00:00Z\",\"pnl\":\"-0.5\",\"status\":\"closed\"}\n",
        f);
  fclose(f);

  bt_perf_index ix;
  bt_perf_index_init(&ix, path, bt_tz_utc(), 3);
  CHECK_OK(bt_perf_index_refresh(&ix, false, &err));
  CHECK(ix.skipped_lines == 3); /* lines 2, 3 and 6 (a closed trade needs its pnl) */
  char want[600];
  snprintf(want, sizeof want, "%s:2", path);
  CHECK(strcmp(ix.skipped_first[0], want) == 0);
  snprintf(want, sizeof want, "%s:6", path);
  CHECK(strcmp(ix.skipped_first[2], want) == 0);
  CHECK(bt_perf_index_partial(&ix));

  bt_perf_summary s;
  int64_t day = bt_days_from_civil(2024, 1, 8);
  CHECK_OK(bt_perf_summarize(&ix, BT_PERF_DAILY, day, day, &s, &err));
  CHECK(s.trades == 2 && s.open_trades == 2 && s.open_unknown_pnl == 1);
  CHECK(s.unrealized_pnl.v == -225000000); /* only the known mark */
  CHECK(s.realized_pnl.v == 1000000000);
  CHECK(s.partial && s.skipped_lines == 3);
  bt_perf_summary_free(&s);

  /* saved and loaded: the counts and the unknown mark are kept */
  size_t len;
  char *dump = bt_perf_index_dump(&ix, &len);
  bt_perf_index copy;
  bt_perf_index_init(&copy, path, bt_tz_utc(), 3);
  CHECK(dump && bt_perf_index_load(&copy, dump, len) == 0);
  CHECK(copy.skipped_lines == 3 && strcmp(copy.skipped_first[0], ix.skipped_first[0]) == 0);
  CHECK(bt_perf_index_partial(&copy));
  free(dump);
  bt_perf_index_free(&copy);
  bt_perf_index_free(&ix);

  /* strict: the first bad line is the error, as before */
  bt_perf_index_init(&ix, path, bt_tz_utc(), 3);
  ix.strict = true;
  CHECK(bt_perf_index_refresh(&ix, false, &err) == BT_EINVAL && err.line == 2);
  bt_perf_index_free(&ix);

  /* A hard link planted at the temp file's name (".<name>.<pid>.tmp") is not written
   * through: the temp file is created O_EXCL, the planted entry unlinked first. */
  char precious[600], planted[700];
  snprintf(precious, sizeof precious, "%s/precious.txt", dir);
  f = fopen(precious, "w");
  if (f) fputs("precious", f), fclose(f);
  snprintf(planted, sizeof planted, "%s/.out.json.%ld.tmp", dir, (long)getpid());
  CHECK(link(precious, planted) == 0);
  int dfd = bt_perf_dir_open(dir, &err);
  CHECK(dfd >= 0);
  if (dfd >= 0) {
    CHECK_OK(bt_perf_write(dfd, "out.json", "{}\n", 3, true, &err));
    close(dfd);
  }
  char buf[32] = "";
  f = fopen(precious, "r");
  if (f) {
    if (!fgets(buf, sizeof buf, f)) buf[0] = '\0';
    fclose(f);
  }
  CHECK(strcmp(buf, "precious") == 0);
  snprintf(planted, sizeof planted, "%s/out.json", dir);
  CHECK(access(planted, F_OK) == 0);
  unlink(planted);
  unlink(precious);

  unlink(path);
  char idx[600];
  snprintf(idx, sizeof idx, "%s", dir);
  rmdir(idx);
  if (!failures) printf("ok - test_rel_perf\n");
  return failures != 0;
}
