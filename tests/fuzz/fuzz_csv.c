/* fuzz_csv: the CSV feed on any file content (first byte: skip_bad_rows), read to the
 * end or the first error. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed.h"

static char path[256];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!path[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/fuzz-csv-%d.csv", tmp ? tmp : "/tmp", (int)getpid());
  }
  bt_feed_opts opts = {.skip_bad_rows = size && (data[0] & 1)};
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size > 1) fwrite(data + 1, 1, size - 1, f);
  fclose(f);
  bt_feed *feed = NULL;
  bt_err err = {0};
  if (bt_feed_open(&feed, path, "X", 0, &opts, &err) == 0) {
    bt_bar bar;
    for (int i = 0; i < 100000 && bt_feed_next(feed, &bar, &err) == 1; i++) {
      if (bar.high.v < bar.low.v) abort(); /* a bar that passed the checks is sane */
    }
    bt_feed_progress(feed);
    bt_feed_close(feed);
  }
  bt_err_clear(&err);
  return 0;
}
