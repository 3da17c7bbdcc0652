/* test_iso8601.c - the one ISO-8601 parser in its two modes: what both accept, and each
 * difference between strict (trade logs, schedules) and lenient (price data). A
 * differential run of 3.6M mutated strings against the two parsers it replaced found no
 * input either accepted differently (docs/notes: issue-15-perf.md). */
#include <string.h>

#include "common.h"
#include "feed.h"
#include "iso8601.h"

#include "check.h"

static int64_t utc(int y, unsigned m, unsigned d, int hh, int mm, int ss) {
  return bt_days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss;
}

typedef struct { const char *s; int strict, lenient; int64_t want; } row;

int main(void) {
  const int64_t t0 = utc(2024, 1, 8, 15, 0, 0);
  const row rows[] = {
      /* both */
      {"2024-01-08T15:00:00Z", 1, 1, t0},
      {"2024-01-08 15:00:00", 1, 1, t0},
      {"2024-01-08T16:00:00+01:00", 1, 1, t0},
      {"2024-01-08T10:30:00-0430", 1, 1, t0},
      {"2024-01-08", 1, 1, utc(2024, 1, 8, 0, 0, 0)},
      {"2024-02-29T00:00:00Z", 1, 1, utc(2024, 2, 29, 0, 0, 0)},
      {"2024-01-08T15:00:00.000Z", 1, 1, t0},
      {"2023-02-29", 0, 0, 0},            /* not a day */
      {"2024-13-01", 0, 0, 0},
      {"2024-01-08T24:00:00Z", 0, 0, 0},
      {"2024-01-08T15:00:00Zx", 0, 0, 0},
      {"2024-01-08X15:00:00", 0, 0, 0},
      {"24-01-08", 0, 0, 0},
      /* separator 't': lenient only */
      {"2024-01-08t15:00:00", 0, 1, t0},
      /* HH:MM without seconds: lenient only */
      {"2024-01-08T15:00", 0, 1, t0},
      {"2024-01-08T14:00-01:00", 0, 1, t0},
      /* second 60 (a leap second): strict only */
      {"2024-01-08T14:59:60Z", 1, 0, t0},
      /* a non-zero fraction: strict drops it, lenient refuses it (bars are whole seconds) */
      {"2024-01-08T15:00:00.250Z", 1, 0, t0},
      {"2024-01-08T15:00:00.", 0, 0, 0},
      /* zones: lower-case z and +HH are lenient only; strict does not range-check */
      {"2024-01-08T15:00:00z", 0, 1, t0},
      {"2024-01-08T17:00:00+02", 0, 1, t0},
      {"2024-01-08T15:00:00+24:00", 1, 0, utc(2024, 1, 7, 15, 0, 0)},
      {"2024-01-08T15:00:00+01:60", 1, 0, utc(2024, 1, 8, 13, 0, 0)},
      {"2024-01-08T15:00:00+1:00", 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    const row *r = &rows[i];
    long n = (long)strlen(r->s);
    int64_t t = -1;
    bool ok = bt_iso8601_parse(r->s, n, BT_ISO_STRICT, &t);
    if (ok != (bool)r->strict || (ok && t != r->want)) {
      fprintf(stderr, "  strict '%s': %s %lld\n", r->s, ok ? "accepted" : "refused", (long long)t);
      CHECK(false);
    }
    t = -1;
    ok = bt_iso8601_parse(r->s, n, BT_ISO_LENIENT, &t);
    if (ok != (bool)r->lenient || (ok && t != r->want)) {
      fprintf(stderr, "  lenient '%s': %s %lld\n", r->s, ok ? "accepted" : "refused", (long long)t);
      CHECK(false);
    }
    /* the feed's parser is the lenient mode plus epoch integers, blanks and quotes */
    int64_t f = -1;
    CHECK(bt_parse_time(r->s, n, &f) == (bool)r->lenient && (!r->lenient || f == r->want));
  }
  /* exactly len bytes are read */
  int64_t t;
  CHECK(bt_iso8601_parse("2024-01-08,15", 10, BT_ISO_STRICT, &t) && t == utc(2024, 1, 8, 0, 0, 0));
  CHECK(!bt_iso8601_parse("2024-01-0", 9, BT_ISO_LENIENT, &t));
  int secs = 0;
  CHECK(bt_iso8601_tod("09:30:15,x", "09:30:15,x" + 10, &secs) == 8 && secs == 9 * 3600 + 30 * 60 + 15);
  CHECK(bt_days_in_month(2024, 2) == 29 && bt_days_in_month(1900, 2) == 28 && bt_days_in_month(2000, 2) == 29);
  return failures != 0;
}
