/* test_time_put.c - the printf-free time writers (common.h bt_time_put,
 * bt_time_put_cached) write exactly the text printf gave: "%04lld-%02u-%02uT..Z", the
 * cached one also for streams of minutes and of days. */
#include <stdio.h>
#include <string.h>

#include "common.h"

#include "check.h"

/* the reference: the printf rendering bt_format_time used before the writers */
static void ref_time(int64_t epoch, char *buf, size_t n) {
  int64_t days = epoch / 86400, rem = epoch % 86400;
  if (rem < 0) rem += 86400, days--;
  int64_t y;
  unsigned m, d;
  bt_civil_from_days(days, &y, &m, &d);
  snprintf(buf, n, "%04lld-%02u-%02uT%02d:%02d:%02dZ", (long long)y, m, d, (int)(rem / 3600),
           (int)(rem / 60 % 60), (int)(rem % 60));
}

static int same(int64_t epoch, bt_time_cache *c) {
  char want[64], got[33], cached[33], fmt[32];
  ref_time(epoch, want, sizeof want);
  *bt_time_put(epoch, got) = '\0';
  *bt_time_put_cached(c, epoch, cached) = '\0';
  bt_format_time(epoch, fmt);
  if (strcmp(got, want) || strcmp(cached, want) || strcmp(fmt, want)) {
    fprintf(stderr, "  %lld: want '%s' got '%s' cached '%s' format '%s'\n", (long long)epoch,
            want, got, cached, fmt);
    return 0;
  }
  return 1;
}

int main(void) {
  bt_time_cache c = {0};
  const int64_t edge[] = {0, -1, 1, 86399, 86400, -86400, -86401, 800236800,
                          951782400,      /* 2000-02-29 */
                          -62135596800LL, /* 0001-01-01 */
                          -62167219200LL, /* 0000-01-01 */
                          -62167219201LL, /* -001-12-31T23:59:59Z */
                          -30610224000LL, /* 1000-01-01 */
                          -30610224001LL, /* 0999-12-31 */
                          253402300799LL, /* 9999-12-31T23:59:59Z */
                          253402300800LL, /* 10000-01-01 */
                          INT64_MAX, INT64_MIN, INT64_MAX - 86399, INT64_MIN + 86400};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) CHECK(same(edge[i], &c));
  char buf[33];
  *bt_time_put(-62167219201LL, buf) = '\0';
  CHECK(strcmp(buf, "-001-12-31T23:59:59Z") == 0);
  *bt_time_put(253402300800LL, buf) = '\0';
  CHECK(strcmp(buf, "10000-01-01T00:00:00Z") == 0);
  /* minutes of consecutive days (the cache's case), then days far apart and back */
  for (int64_t t = 1136160000; t < 1136160000 + 3 * 86400; t += 60) CHECK(same(t, &c));
  for (int64_t t = -70000000000LL; t < 300000000000LL; t += 999999937) {
    CHECK(same(t, &c));
    CHECK(same(t + 1, &c)); /* same day (mostly), from the cache */
  }
  /* daily rows (the cache's other case: a later day of the same month rewrites two
   * digits): weekdays across month, year and leap-day ends for ~115 years, the clock
   * moving now and then; then daily across 9999 -> 10000 (5 digits: not patched) */
  int64_t t = 1420156800; /* 2015-01-02 */
  for (int i = 0; i < 30000; i++, t += (i % 5 == 4 ? 3 : 1) * 86400 + (i % 97 == 0 ? 3600 : 0)) CHECK(same(t, &c));
  for (t = 253402300800LL - 40 * 86400; t < 253402300800LL + 40 * 86400; t += 86400) CHECK(same(t, &c));
  if (failures) {
    fprintf(stderr, "test_time_put: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_time_put: all checks passed\n");
  return 0;
}
