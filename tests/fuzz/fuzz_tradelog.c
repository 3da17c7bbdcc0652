/* fuzz_tradelog: the trade-log reader and index: every line of the input (first byte:
 * strict, and whether each trade is handed to on_trade with a report's fields), then the index serialised and loaded back, and the input loaded as an index
 * file (performance-index.json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "perf_index_json.h"
#include "tz.h"

/* a report's use of the fields: every symbol byte read (ASan checks the span) */
static void on_trade(void *ctx, const bt_perf_trade *t, const bt_perf_trade_shown *x) {
  uint64_t *sum = ctx;
  for (size_t i = 0; x->symbol && i < x->symbol_len; i++) *sum += (unsigned char)x->symbol[i];
  *sum += (uint64_t)(x->qty != x->qty) + (uint64_t)(x->entry_price > 0) + t->closed;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static bool quiet;
  if (!quiet) bt_log_set_level(BT_LOG_OFF), quiet = true;
  if (!size) return 0;
  bt_perf_index ix;
  bt_perf_index_init(&ix, "/fuzz", bt_tz_utc(), 3);
  ix.strict = data[0] & 1;
  uint64_t sum = 0;
  if (data[0] & 2) ix.on_trade = on_trade, ix.on_trade_ctx = &sum;
  size_t used;
  uint64_t lines;
  bt_err err = {0};
  bt_perf_index_add_buffer(&ix, (const char *)data + 1, size - 1, "fuzz.jsonl", 1, &used,
                           &lines, &err);
  size_t len;
  char *dump = bt_perf_index_dump(&ix, &len);
  bt_perf_index_free(&ix);
  if (dump) {
    bt_perf_index_init(&ix, "/fuzz", bt_tz_utc(), 3);
    if (bt_perf_index_load(&ix, dump, len) != 0) abort(); /* our own dump always loads */
    bt_perf_index_free(&ix);
    free(dump);
  }
  bt_perf_index_init(&ix, "/fuzz", bt_tz_utc(), 3);
  bt_perf_index_load(&ix, (const char *)data + 1, size - 1);
  bt_perf_index_free(&ix);
  return 0;
}
