/* perf_buf.h - a growable string buffer for the JSON/Markdown text perf modules emit.
 * Out of memory is sticky (oom) and checked once at the end. */
#ifndef BT_PERF_BUF_H
#define BT_PERF_BUF_H

#include <stdbool.h>
#include <stddef.h>

#include "decimal.h"

typedef struct bt_perf_buf {
  char *p;
  size_t n, cap;
  bool oom;
} bt_perf_buf;

void bt_perf_buf_printf(bt_perf_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bt_perf_buf_put(bt_perf_buf *b, const char *s, size_t n);
void bt_perf_buf_json_str(bt_perf_buf *b, const char *s); /* quoted and escaped */
void bt_perf_buf_dec(bt_perf_buf *b, bt_dec d);          /* "12.5" quoted */
void bt_perf_buf_num(bt_perf_buf *b, double d);          /* %.10g, null if not finite */
/* Take the NUL-terminated text (NULL on oom); the buffer is reset. */
char *bt_perf_buf_take(bt_perf_buf *b, size_t *len);

#endif
