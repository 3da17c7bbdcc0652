/* fuzz_decimal: bt_dec_parse on any bytes; what parses formats and parses back to the
 * same value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  bt_dec d;
  int n = bt_dec_parse((const char *)data, (long)size, &d);
  if (n > 0) {
    if ((size_t)n > size) abort();
    char buf[BT_DEC_STRLEN];
    int len = bt_dec_format(d, buf);
    bt_dec back;
    if (bt_dec_parse(buf, len, &back) != len || back.v != d.v) abort();
    for (int k = 0; k <= 8; k++) bt_dec_format_fixed(d, k, buf);
  }
  return 0;
}
