/* feed_row.c - the general row parser: every accepted spelling of a row (quoted or
 * padded fields, exponents, epoch times, --date-format), and the message that says what
 * is wrong with one. feed.c's one-pass parser hands it every row not of the usual shape.
 * Also bt_parse_time, the accepted timestamp forms. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "feed_internal.h"

bool bt_parse_time(const char *s, long len, int64_t *epoch_out) {
  if (len < 0) len = (long)strlen(s);
  const char *p = s, *e = s + len;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  if (e - p >= 2 && *p == '"' && e[-1] == '"') p++, e--;
  if (p == e) return false;
  /* integer epoch seconds */
  const char *q = p;
  bool neg = false;
  if (*q == '-') neg = true, q++;
  if (q < e && isdig(*q)) {
    const char *r = q;
    int64_t v = 0;
    while (r < e && isdig(*r) && v <= MAX_EPOCH_MS) v = v * 10 + (*r++ - '0');
    if (r == e) {
      if (neg) {
        if (v >= MS_FROM) return false;
        *epoch_out = -v;
        return true;
      }
      return epoch_int(v, epoch_out);
    }
  }
  return bt_iso8601_parse(p, (long)(e - p), BT_ISO_LENIENT, epoch_out);
}

/* Exact price field [p, e). Anything beyond the plain shape (spaces, quotes, '+',
 * exponents, trailing zeros past 8 decimals) goes through bt_dec_parse. Returns NULL or
 * a reason. */
static inline const char *parse_price(const char *p, const char *e, bt_dec *out) {
  const char *q = p;
  if (plain_price(&q, e, &out->v) && q == e) return NULL;
  const char *a = p, *b = e;
  trim(&a, &b);
  if (a == b) return "empty field";
  int n = bt_dec_parse(a, b - a, out);
  if (n < 0) return "number out of range or with more than 8 decimals";
  if (n != b - a) return "not a number";
  return NULL;
}

static inline const char *parse_volume(const char *p, const char *e, double *out) {
  /* whole numbers (the usual case) without strtod */
  if (e - p > 0 && e - p <= 15) {
    uint64_t v = 0;
    const char *q = p;
    while (q < e && isdig(*q)) v = v * 10 + (uint64_t)(*q++ - '0');
    if (q == e) {
      *out = (double)v;
      return NULL;
    }
  }
  const char *a = p, *b = e;
  trim(&a, &b);
  if (a == b) return "empty field";
  char buf[64];
  if (b - a >= (long)sizeof buf) return "not a number";
  memcpy(buf, a, (size_t)(b - a));
  buf[b - a] = '\0';
  /* strtod would also take hex, "inf" and "nan": only decimal spellings get through */
  if (strspn(buf, "0123456789.-+eE") < (size_t)(b - a)) return "not a number";
  char *end;
  double v = strtod(buf, &end);
  if (*end != '\0') return "not a number";
  if (!isfinite(v)) return "number out of range";
  *out = v;
  return NULL;
}

/* A field read with the --date-format strptime form; the whole field must match. */
static bool parse_with_format(const char *fmt, const char *p, const char *e, int64_t *t) {
  char buf[128];
  trim(&p, &e);
  if (e - p <= 0 || e - p >= (long)sizeof buf) return false;
  memcpy(buf, p, (size_t)(e - p));
  buf[e - p] = '\0';
  struct tm tm = {0};
  const char *rest = strptime(buf, fmt, &tm);
  if (!rest || *rest) return false;
  *t = timegm(&tm);
  return true;
}

/* Full timestamp field; the common "YYYY-MM-DD" and "YYYY-MM-DD HH:MM:SS" use the
 * date cache. */
static inline bool parse_ts_field(bt_feed *f, const char *p, const char *e, int64_t *t) {
  if (f->opts.date_format) return parse_with_format(f->opts.date_format, p, e, t);
  long n = e - p;
  int64_t days;
  if (n == 10 && date_cached(f, p, &days)) {
    *t = days * 86400;
    return true;
  }
  int secs;
  if (n == 19 && (p[10] == ' ' || p[10] == 'T') && date_cached(f, p, &days) &&
      bt_iso8601_tod(p + 11, e, &secs) == 8) {
    *t = days * 86400 + secs;
    return true;
  }
  return bt_parse_time(p, n, t);
}

static int count_error(bt_feed *f, int nf, bt_err *err) {
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, NULL,
                    "wrong number of fields: expected %d, got %d", f->ncols, nf);
}

/* Field `col` of the row [s, e) is bad. The field count is reported instead when it is
 * wrong, since a missing field shifts every later one and makes the field misleading. */
static int field_error(bt_feed *f, const char *s, const char *e, int col, const char *why,
                       bt_err *err) {
  int nf = count_fields(s, e);
  if (nf != f->ncols) return count_error(f, nf, err);
  const char *fs = s;
  for (int i = 0; i < col; i++) fs = (const char *)memchr(fs, ',', (size_t)(e - fs)) + 1;
  const char *fe = memchr(fs, ',', (size_t)(e - fs));
  if (!fe) fe = e;
  int len = fe - fs > 40 ? 40 : (int)(fe - fs);
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, f->name[col], "%s: '%.*s'",
                    why, len, fs);
}

int feed_ohlc_error(bt_feed *f, int role, const char *what, bt_dec a, bt_dec b, bt_err *err) {
  int col = 0;
  while (col < f->ncols && f->role[col] != role) col++;
  char sa[BT_DEC_STRLEN], sb[BT_DEC_STRLEN];
  bt_dec_format(a, sa);
  bt_dec_format(b, sb);
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, f->name[col], "%s (%s vs %s)",
                    what, sa, sb);
}

/* Parse one data row into *bar: 0 ok, <0 malformed (err filled). */
int feed_parse_row(bt_feed *f, const char *s, const char *e, bt_bar *bar, bt_err *err) {
  const char *p = s;
  int64_t days = 0, t = 0;
  int tod = 0;
  bar->volume = 0;
  int col = 0;
  for (;; col++) {
    const char *fe = memchr(p, ',', (size_t)(e - p));
    if (!fe) fe = e;
    if (col >= f->ncols) return count_error(f, count_fields(s, e), err);
    const char *why = NULL;
    switch (f->role[col]) {
      case R_IGNORE: break;
      case R_TS:
        if (!parse_ts_field(f, p, fe, &t))
          why = f->opts.date_format ? "does not match --date-format"
                : memchr(p, '/', (size_t)(fe - p))
                    ? "not a date/time (for dates like 01/02/2020 give the form with "
                      "--date-format %m/%d/%Y or %d/%m/%Y)"
                    : "not a date/time";
        break;
      case R_DATE: {
        const char *a = p, *b = fe;
        if (b - a != 10) trim(&a, &b);
        if (b - a != 10 || !date_cached(f, a, &days)) why = "not a date (YYYY-MM-DD)";
        break;
      }
      case R_TOD: {
        const char *a = p, *b = fe;
        trim(&a, &b);
        if (bt_iso8601_tod(a, b, &tod) != b - a || a == b) why = "not a time of day (HH:MM:SS)";
        break;
      }
      case R_OPEN: why = parse_price(p, fe, &bar->open); break;
      case R_HIGH: why = parse_price(p, fe, &bar->high); break;
      case R_LOW: why = parse_price(p, fe, &bar->low); break;
      case R_CLOSE: why = parse_price(p, fe, &bar->close); break;
      case R_VOLUME:
        why = parse_volume(p, fe, &bar->volume);
        if (!why && bar->volume < 0) why = "negative volume";
        break;
    }
    if (why) return field_error(f, s, e, col, why, err);
    if (fe == e) break;
    p = fe + 1;
  }
  if (col + 1 != f->ncols) return count_error(f, col + 1, err);
  if (f->role[f->time_col] == R_DATE) t = days * 86400 + tod;
  bar->time = t;
  return check_ohlc(f, bar, err);
}
