/* common.h - error reporting shared by every btrun module.
 *
 * Library code never prints or exits: a failing call fills a bt_err and returns
 * a negative code. Only the CLI decides what the user sees and the exit status. */
#ifndef BT_COMMON_H
#define BT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
  BT_OK = 0,
  BT_EINVAL = -1,   /* bad argument or bad input (CSV row, config key, ...) */
  BT_EIO = -2,      /* file system or network */
  BT_ENOMEM = -3,
  BT_ELUA = -4,     /* a Lua error raised by user code */
  BT_ELIMIT = -5,   /* timeout or memory cap hit */
  BT_ERANGE = -6,   /* arithmetic overflow */
  BT_ESTATE = -7,   /* call not valid in the current state */
};

/* An error's `type` is user-visible (result.json error.type, log exceptions, analytics
 * error_type, HTTP error codes), so it is a closed set, listed in docs/outputs.md: the
 * default name of its code (bt_err_code_type) unless the caller gives one of the fixed
 * subtypes below, which say what kind of input or subsystem failed. Any other name, and
 * any out-of-memory error, falls back to the code's name, like sqlite3_errstr. */
#define BT_ERR_SUBTYPES                                                                    \
  "config_error", "csv_error", "usage_error", "strategy_error", "lua_error",               \
      "memory_limit", "timeout", "interrupted", "store_error", "path_error",              \
      "schema_error", "trade_log_error", "format_error", "json_error", "queue_error",      \
      "db_error", "analytics_error", "analytics_invalid_event", "broker_error",            \
      "order_error", "ledger_error", "sandbox_error", "invalid_request", "not_found",       \
      "conflict", "lease_lost", "listen_error", "thread_error", "worker_error"

typedef struct bt_err {
  int code;
  char type[32];     /* bt_err_code_type(code) or one of BT_ERR_SUBTYPES */
  char file[256];    /* where the problem is, when it is in a file ("" otherwise) */
  long line;         /* 1-based line in file, 0 when unknown */
  char field[64];    /* offending field or key, "" when none */
  char msg[768];     /* full human-readable message, already including file:line */
  char *traceback;   /* Lua traceback (heap, owned), NULL when none */
} bt_err;

/* Set code/type and a printf-style message; returns code so callers can `return bt_errf(...)`. */
int bt_errf(bt_err *e, int code, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Like bt_errf but also records the file, line and field the message is about. */
int bt_errf_at(bt_err *e, int code, const char *type, const char *file, long line,
               const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
void bt_err_clear(bt_err *e);  /* frees the traceback and zeroes the struct */
/* Hand src over to dst (dst's old traceback is freed; src is left cleared): one owner
 * for the traceback. */
void bt_err_move(bt_err *dst, bt_err *src);
/* The type name of a code: "invalid_input", "io_error", "out_of_memory", "lua_error",
 * "limit_exceeded", "overflow", "invalid_state" ("error" for anything else). */
const char *bt_err_code_type(int code);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t bt_now_ns(void);
/* Wall clock in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t bt_wall_ms(void);

/* n ASCII digits at s as a number in *out; false when one is not a digit. */
static inline bool bt_digits(const char *s, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if ((unsigned)(s[i] - '0') > 9) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* Calendar arithmetic shared by the CSV reader and performance windows. */
/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static inline int64_t bt_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = (unsigned)(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse: year, month (1..12) and day (1..31) of a day number. */
static inline void bt_civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = (unsigned)(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* The day number of the first day of the month after month m (1..12) of year y. */
static inline int64_t bt_next_month_day(int64_t y, unsigned m) {
  return m == 12 ? bt_days_from_civil(y + 1, 1, 1) : bt_days_from_civil(y, m + 1, 1);
}

/* Epoch seconds as ISO-8601 UTC, "1995-05-12T00:00:00Z" (the one time format of btrun's
 * outputs). buf >= 21 bytes. */
void bt_format_time(int64_t epoch, char buf[32]);
/* The same text written at p without a NUL and without printf (output files write one
 * per row); returns the end. Room: 32 bytes. Years outside 0..9999 print as "%04lld"
 * does ("-001", "10000"). */
char *bt_time_put(int64_t epoch, char *p);
/* bt_time_put for a stream of rows: the text of the latest time is kept, a day later in
 * the same month rewrites only the day's two digits, and the clock is written only when
 * it changed (daily rows: always midnight). Room: 32 bytes. A zeroed cache is empty. */
typedef struct bt_time_cache {
  int64_t day, month_end; /* the day of text, the first day of the next month */
  int sec;                /* the clock in text */
  int len;                /* of the date part; 0 = empty */
  char text[32];          /* "YYYY-MM-DDTHH:MM:SSZ" */
} bt_time_cache;
char *bt_time_put_cached(bt_time_cache *c, int64_t epoch, char *p);

#endif
