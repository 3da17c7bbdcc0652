/* json.c - the JSON text writer (see json.h). */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

bool bt_json_grow(bt_json_buf *b, size_t extra) {
  if (b->failed) return false;
  if (extra > SIZE_MAX - 1 - b->len) return b->failed = true, false;
  size_t need = b->len + extra + 1;
  /* most documents are short: one first allocation of 512 bytes holds them */
  if (BT_GROW(b->data, b->cap, need < 512 ? 512 : need)) return b->failed = true, false;
  return true;
}

void bt_json_printf(bt_json_buf *b, const char *fmt, ...) {
  if (!bt_json_reserve(b, 64)) return;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
  va_end(ap);
  if (n < 0) {
    b->failed = true;
    return;
  }
  if ((size_t)n >= b->cap - b->len) { /* did not fit: grow and format again */
    if (!bt_json_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
  }
  b->len += (size_t)n;
}

void bt_json_free(bt_json_buf *b) {
  free(b->data);
  memset(b, 0, sizeof *b);
}

char *bt_json_take(bt_json_buf *b, size_t *len) {
  char *p = b->failed ? NULL : b->data ? b->data : calloc(1, 1);
  if (b->failed) free(b->data);
  if (len) *len = p ? b->len : 0;
  memset(b, 0, sizeof *b);
  return p;
}

char *bt_json_indent2(const char *printed) {
  if (!printed) return NULL;
  bt_json_buf b = {0};
  for (const char *p = printed; *p; p++) {
    if (*p != '\t') bt_json_putc(&b, *p);
    else if (p > printed && p[-1] == ':') bt_json_putc(&b, ' ');
    else BT_JSON_PUTS(&b, "  ");
  }
  return bt_json_take(&b, NULL);
}

void bt_json_int(bt_json_buf *b, int64_t v) {
  char tmp[24];
  char *p = tmp + sizeof tmp;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do *--p = (char)('0' + u % 10);
  while (u /= 10);
  if (v < 0) *--p = '-';
  bt_json_put(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Prices and rates usually have few decimals: find the smallest k such that the
 * integer r = round(|v| * 10^k) gives back v as r / 10^k (k <= 7, else printf).
 * Both are exact doubles (r < 2^53, 10^k), so the division rounds the decimal r*10^-k exactly
 * as strtod would: the printed digits read back as v. Much cheaper than printf. */
static bool put_dbl_fixed(bt_json_buf *b, double v) {
  static const double p10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7};
  static const int64_t i10[] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
  double a = fabs(v);
  if (!(a >= 1e-4 && a < 1e15)) return false;
  for (int k = 1; k <= 7; k++) {
    double x = a * p10[k];
    if (x >= 9007199254740992.0) return false;
    double r = nearbyint(x);
    if (r / p10[k] != a) continue;
    int64_t ir = (int64_t)r;
    if (v < 0) bt_json_putc(b, '-');
    bt_json_int(b, ir / i10[k]);
    char frac[8];
    int64_t f = ir % i10[k];
    for (int i = k - 1; i >= 0; i--, f /= 10) frac[i] = (char)('0' + f % 10);
    bt_json_putc(b, '.');
    bt_json_put(b, frac, (size_t)k);
    return true;
  }
  return false;
}

void bt_json_dbl(bt_json_buf *b, double v) {
  if (!isfinite(v)) {
    BT_JSON_PUTS(b, "null");
    return;
  }
  if (v == trunc(v) && fabs(v) < 9007199254740992.0 && !(v == 0 && signbit(v))) {
    bt_json_int(b, (int64_t)v);
    return;
  }
  if (put_dbl_fixed(b, v)) return;
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%.15g", v);
  if (strtod(tmp, NULL) != v) n = snprintf(tmp, sizeof tmp, "%.17g", v);
  bt_json_put(b, tmp, (size_t)n);
}

/* See json.h; on invalid input *bad is what one U+FFFD replaces. */
size_t bt_utf8_len(const unsigned char *s, size_t n, size_t *bad) {
  unsigned char c = s[0];
  *bad = 1;
  if (c < 0x80) return 1;
  size_t len;
  unsigned lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) len = 2;
  else if (c >= 0xE0 && c <= 0xEF) {
    len = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    len = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else
    return 0;
  for (size_t i = 1; i < len; i++) {
    unsigned char lo_i = i == 1 ? (unsigned char)lo : 0x80, hi_i = i == 1 ? (unsigned char)hi : 0xBF;
    if (i >= n || s[i] < lo_i || s[i] > hi_i) {
      *bad = i;
      return 0;
    }
  }
  return len;
}

void bt_json_escape(bt_json_buf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0;
  while (i < n) {
    size_t start = i;
    while (i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' && s[i] != '\\') i++;
    if (i > start) bt_json_put(b, str + start, i - start);
    if (i >= n) break;
    unsigned char c = s[i];
    if (c >= 0x80) {
      size_t bad, l = bt_utf8_len(s + i, n - i, &bad);
      if (l) bt_json_put(b, str + i, l), i += l;
      else BT_JSON_PUTS(b, "\\ufffd"), i += bad;
      continue;
    }
    i++;
    switch (c) {
    case '"': BT_JSON_PUTS(b, "\\\""); break;
    case '\\': BT_JSON_PUTS(b, "\\\\"); break;
    case '\n': BT_JSON_PUTS(b, "\\n"); break;
    case '\r': BT_JSON_PUTS(b, "\\r"); break;
    case '\t': BT_JSON_PUTS(b, "\\t"); break;
    case '\b': BT_JSON_PUTS(b, "\\b"); break;
    case '\f': BT_JSON_PUTS(b, "\\f"); break;
    default: {
      char u[7];
      snprintf(u, sizeof u, "\\u%04x", c);
      bt_json_put(b, u, 6);
    }
    }
  }
}

void bt_json_str(bt_json_buf *b, const char *s, size_t n) {
  bt_json_putc(b, '"');
  bt_json_escape(b, s, n);
  bt_json_putc(b, '"');
}

void bt_utf8_copy(bt_json_buf *b, const char *str, size_t n) {
  const unsigned char *s = (const unsigned char *)str;
  size_t i = 0, start = 0, l, bad;
  while (i < n) {
    if (s[i] < 0x80) {
      i++;
    } else if ((l = bt_utf8_len(s + i, n - i, &bad))) {
      i += l;
    } else {
      bt_json_put(b, str + start, i - start);
      BT_JSON_PUTS(b, "\xef\xbf\xbd");
      start = i += bad;
    }
  }
  bt_json_put(b, str + start, n - start);
}

bool bt_utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  size_t bad;
  for (size_t i = 0, l; i < n; i += l)
    if (!(l = bt_utf8_len(u + i, n - i, &bad))) return false;
  return true;
}
