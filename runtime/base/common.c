#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *bt_err_code_type(int code) {
  switch (code) {
  case BT_EINVAL: return "invalid_input";
  case BT_EIO: return "io_error";
  case BT_ENOMEM: return "out_of_memory";
  case BT_ELUA: return "lua_error";
  case BT_ELIMIT: return "limit_exceeded";
  case BT_ERANGE: return "overflow";
  case BT_ESTATE: return "invalid_state";
  default: return "error";
  }
}

static const char *const subtypes[] = {BT_ERR_SUBTYPES, NULL};

static void set_type(bt_err *e, int code, const char *type) {
  e->code = code;
  const char *name = bt_err_code_type(code);
  if (type && code != BT_ENOMEM)
    for (const char *const *s = subtypes; *s; s++)
      if (strcmp(*s, type) == 0) name = *s;
  snprintf(e->type, sizeof e->type, "%s", name);
}

int bt_errf(bt_err *e, int code, const char *type, const char *fmt, ...) {
  if (!e) return code;
  set_type(e, code, type);
  e->file[0] = e->field[0] = '\0';
  e->line = 0;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->msg, sizeof e->msg, fmt, ap);
  va_end(ap);
  return code;
}

int bt_errf_at(bt_err *e, int code, const char *type, const char *file, long line,
               const char *field, const char *fmt, ...) {
  if (!e) return code;
  set_type(e, code, type);
  snprintf(e->file, sizeof e->file, "%s", file ? file : "");
  snprintf(e->field, sizeof e->field, "%s", field ? field : "");
  e->line = line;
  char detail[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(detail, sizeof detail, fmt, ap);
  va_end(ap);
  if (line > 0)
    snprintf(e->msg, sizeof e->msg, "%s:%ld: %s%s%s", e->file, line, field && *field ? field : "",
             field && *field ? ": " : "", detail);
  else if (*e->file)
    snprintf(e->msg, sizeof e->msg, "%s: %s%s%s", e->file, field && *field ? field : "",
             field && *field ? ": " : "", detail);
  else /* not about a file (a request field): no empty "file: " prefix */
    snprintf(e->msg, sizeof e->msg, "%s%s%s", field && *field ? field : "",
             field && *field ? ": " : "", detail);
  return code;
}

void bt_err_move(bt_err *dst, bt_err *src) {
  if (dst == src) return;
  free(dst->traceback);
  *dst = *src;
  src->traceback = NULL;
  bt_err_clear(src);
}

void bt_err_clear(bt_err *e) {
  if (!e) return;
  free(e->traceback);
  memset(e, 0, sizeof *e);
}

uint64_t bt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int64_t bt_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *put2(char *p, unsigned v) {
  p[0] = (char)('0' + v / 10);
  p[1] = (char)('0' + v % 10);
  return p + 2;
}

/* "YYYY-MM-DD" of a day number; returns its length (<= 20). */
static int put_date(int64_t day, char *p) {
  int64_t y;
  unsigned m, d;
  bt_civil_from_days(day, &y, &m, &d);
  if (y < 0 || y > 9999) { /* the rare years keep printf's text */
    char tmp[48];
    int n = snprintf(tmp, sizeof tmp, "%04lld-%02u-%02u", (long long)y, m, d);
    memcpy(p, tmp, (size_t)n);
    return n;
  }
  p = put2(p, (unsigned)y / 100);
  p = put2(p, (unsigned)y % 100);
  *p++ = '-';
  p = put2(p, m);
  *p++ = '-';
  put2(p, d);
  return 10;
}

static void split_time(int64_t epoch, int64_t *day, int *sec) {
  int64_t rem = epoch % 86400;
  *day = epoch / 86400;
  if (rem < 0) rem += 86400, (*day)--;
  *sec = (int)rem;
}

static char *put_clock(char *p, int sec) {
  *p++ = 'T';
  p = put2(p, (unsigned)sec / 3600);
  *p++ = ':';
  p = put2(p, (unsigned)sec / 60 % 60);
  *p++ = ':';
  p = put2(p, (unsigned)sec % 60);
  *p++ = 'Z';
  return p;
}

char *bt_time_put(int64_t epoch, char *p) {
  int64_t day;
  int sec;
  split_time(epoch, &day, &sec);
  return put_clock(p + put_date(day, p), sec);
}

char *bt_time_put_cached(bt_time_cache *c, int64_t epoch, char *p) {
  int64_t day;
  int sec;
  split_time(epoch, &day, &sec);
  if (c->len == 10 && day > c->day && day < c->month_end) { /* later in the month */
    put2(c->text + 8, (unsigned)(c->text[8] - '0') * 10 + (unsigned)(c->text[9] - '0') + (unsigned)(day - c->day));
    c->day = day;
  } else if (!c->len || day != c->day) {
    int64_t y;
    unsigned m, d;
    bt_civil_from_days(day, &y, &m, &d);
    c->month_end = bt_next_month_day(y, m);
    c->day = day, c->len = put_date(day, c->text);
    c->sec = -1;
  }
  if (sec != c->sec) c->sec = sec, put_clock(c->text + c->len, sec);
  memcpy(p, c->text, sizeof c->text); /* the whole buffer: a fixed-size copy */
  return p + c->len + 10;
}

void bt_format_time(int64_t epoch, char buf[32]) { *bt_time_put(epoch, buf) = '\0'; }
