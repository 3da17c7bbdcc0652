/* common.h - error reporting shared by every btrun module.
 *
 * Library code never prints or exits: a failing call fills a bt_err and returns
 * a negative code. Only the CLI decides what the user sees and the exit status. */
#ifndef BT_COMMON_H
#define BT_COMMON_H

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

typedef struct bt_err {
  int code;
  char type[32];     /* short machine name: "csv_error", "lua_error", "config_error", ... */
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

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). */
uint64_t bt_now_ns(void);
/* Wall clock in milliseconds since the epoch (CLOCK_REALTIME). */
int64_t bt_wall_ms(void);

#endif
