#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void set_type(bt_err *e, int code, const char *type) {
  e->code = code;
  snprintf(e->type, sizeof e->type, "%s", type ? type : "error");
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
