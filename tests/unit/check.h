/* check.h - the unit tests' tiny harness: CHECK records a failure and goes on, main
 * returns failures != 0. Decimal helpers compare money exactly, by its text. */
#ifndef BT_TEST_CHECK_H
#define BT_TEST_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "decimal.h"

static int failures;

#define CHECK(cond)                                                             \
  do {                                                                          \
    if (!(cond)) {                                                              \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                               \
    }                                                                           \
  } while (0)

/* `call` returns 0; otherwise the failure shows the message of the test's `bt_err err`. */
#define CHECK_OK(call)                                                                \
  do {                                                                                \
    if ((call) != 0) {                                                                \
      fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, err.msg); \
      failures++;                                                                     \
    }                                                                                 \
  } while (0)

/* A decimal literal; a malformed one is a test failure. */
static inline bt_dec DEC(const char *s) {
  bt_dec d = BT_DEC_ZERO;
  if (bt_dec_parse(s, -1, &d) <= 0) {
    fprintf(stderr, "bad decimal literal %s\n", s);
    failures++;
  }
  return d;
}

/* a == the decimal written in want; prints both when not. */
static inline bool dec_is(bt_dec a, const char *want) {
  bt_dec b = DEC(want);
  if (a.v == b.v) return true;
  char buf[BT_DEC_STRLEN];
  bt_dec_format(a, buf);
  fprintf(stderr, "  got %s, want %s\n", buf, want);
  return false;
}

#endif
