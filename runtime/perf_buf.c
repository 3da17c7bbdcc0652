#include "perf_buf.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool grow(bt_perf_buf *b, size_t need) {
  if (b->oom) return false;
  if (b->n + need < b->cap) return true;
  size_t cap = b->cap ? b->cap : 1024;
  while (cap <= b->n + need) cap *= 2;
  char *p = realloc(b->p, cap);
  if (!p) return !(b->oom = true);
  b->p = p, b->cap = cap;
  return true;
}

void bt_perf_buf_printf(bt_perf_buf *b, const char *fmt, ...) {
  if (!grow(b, 64)) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->oom = true;
    return;
  }
  if ((size_t)n >= b->cap - b->n) {
    if (!grow(b, (size_t)n + 1)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, b->cap - b->n, fmt, ap);
    va_end(ap);
  }
  b->n += (size_t)n;
}

void bt_perf_buf_put(bt_perf_buf *b, const char *s, size_t n) {
  if (!grow(b, n + 1)) return;
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

void bt_perf_buf_json_str(bt_perf_buf *b, const char *s) {
  bt_perf_buf_put(b, "\"", 1);
  const char *run = s;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c != '"' && c != '\\' && c >= 0x20) continue;
    bt_perf_buf_put(b, run, (size_t)(s - run));
    if (c == '"' || c == '\\') bt_perf_buf_printf(b, "\\%c", c);
    else bt_perf_buf_printf(b, "\\u%04x", c);
    run = s + 1;
  }
  bt_perf_buf_put(b, run, (size_t)(s - run));
  bt_perf_buf_put(b, "\"", 1);
}

void bt_perf_buf_dec(bt_perf_buf *b, bt_dec d) {
  char s[BT_DEC_STRLEN];
  bt_dec_format(d, s);
  bt_perf_buf_printf(b, "\"%s\"", s);
}

void bt_perf_buf_num(bt_perf_buf *b, double d) {
  if (!isfinite(d)) bt_perf_buf_put(b, "null", 4);
  else if (d == 0) bt_perf_buf_put(b, "0", 1); /* no "-0" */
  else bt_perf_buf_printf(b, "%.10g", d);
}

char *bt_perf_buf_take(bt_perf_buf *b, size_t *len) {
  char *p = b->p;
  size_t n = b->n;
  if (b->oom) free(p), p = NULL, n = 0;
  else if (!p) p = calloc(1, 1); /* nothing written: still a valid empty string */
  if (len) *len = p ? n : 0;
  b->p = NULL, b->n = b->cap = 0, b->oom = false;
  return p;
}
