/* fuzz_spool: the analytics spool reading a segment another (dead) process left: the
 * input is that segment's bytes; adoption copies what is intact, and the census reads it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics_spool.h"
#include "log.h"

/* analytics_util.c names segments with run.c's bt_uuid; the rest of the run is not needed. */
void bt_uuid(char out[40]);
void bt_uuid(char out[40]) { snprintf(out, 40, "00000000-0000-4000-8000-000000000000"); }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static char dir[256];
  if (!dir[0]) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/fuzz-spool-%d", tmp ? tmp : "/tmp", (int)getpid());
    mkdir(dir, 0700);
    bt_log_set_level(BT_LOG_OFF);
  }
  char seg[400];
  snprintf(seg, sizeof seg, "%s/1-999999-fuzz.spool", dir);
  FILE *f = fopen(seg, "wb");
  if (!f) return 0;
  fwrite(data, 1, size, f);
  fclose(f);
  bt_an_spool_census c;
  bt_an_spool_census_dir(dir, &c);
  bt_err err = {0};
  bt_an_spool *sp = bt_an_spool_open(dir, 1 << 20, &err);
  if (sp) {
    int nfiles;
    bt_an_spool_adopt(sp, &nfiles, &err);
    int64_t off = 0, start;
    char *payload;
    size_t len;
    while (bt_an_spool_read(sp, &off, &payload, &len, &start) == 1) free(payload);
    bt_an_spool_ack(sp, off);
    bt_an_spool_close(sp);
  }
  unlink(seg);
  return 0;
}
