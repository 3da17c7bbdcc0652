/* fuzz_chunk: the event chunk decoder on any bytes, as a hostile or damaged store file
 * would hand it over (first bytes: the row's first_seq and event count). Every decoded
 * field is range-checked: a bad chunk ends with -1, never with undefined behaviour. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 3) return 0;
  uint64_t first_seq = (uint64_t)data[0] << 56 | data[0]; /* small and huge both */
  uint64_t n = data[1] * 8u + 1;
  chunk_rd c;
  memset(&c, 0, sizeof c);
  store_chunk_start(&c, data + 2, (int)(size - 2), first_seq, n);
  bt_trace_event ev;
  int rc;
  uint64_t got = 0;
  while ((rc = store_chunk_next(&c, &ev, true)) == 1) {
    if (ev.type >= 32) abort();                    /* the decoder checked it */
    if (ev.cause && ev.cause >= ev.seq) abort();
    char *json = bt_trace_event_data_json(&ev);
    free(json);
    free(ev.text);
    free(ev.user_type);
    got++;
  }
  if (got > n) abort();
  store_chunk_end(&c);
  return 0;
}
