/* test_tz.c - time zones from the tz database: offsets around known transitions (table and
 * footer rule), resolving skipped and repeated local times, fixed offsets, bad names. */
#include <stdio.h>
#include <string.h>

#include "iso8601.h"
#include "check.h"
#include "perf_time.h"
#include "tz.h"

static int64_t T(const char *iso) {
  int64_t t = 0;
  if (!bt_iso8601_parse(iso, (long)strlen(iso), BT_ISO_STRICT, &t)) {
    fprintf(stderr, "bad time %s\n", iso);
    failures++;
  }
  return t;
}

/* Local wall time written as ISO without zone, counted like UTC. */
#define L(iso) T(iso)

static bt_tz *load(const char *name) {
  bt_err err = {0};
  bt_tz *tz = NULL;
  CHECK_OK(bt_tz_load(name, &tz, &err));
  return tz;
}

/* The offset changes from `before` to `after` exactly at `at`, and next_change finds it. */
static void transition(const char *zone, const char *at, int32_t before, int32_t after) {
  bt_tz *tz = load(zone);
  if (!tz) return;
  int64_t t = T(at), when = 0;
  int32_t b = 0, a = 0;
  CHECK(bt_tz_offset(tz, t - 1) == before);
  CHECK(bt_tz_offset(tz, t) == after);
  CHECK(bt_tz_next_change(tz, t - 86400, &when, &b, &a) == 1);
  if (when != t || b != before || a != after)
    fprintf(stderr, "%s %s: next_change %lld %d->%d\n", zone, at, (long long)when, b, a), failures++;
  bt_tz_free(tz);
}

static void resolve(const char *zone, const char *local, bt_tz_kind kind, const char *utc) {
  bt_tz *tz = load(zone);
  if (!tz) return;
  int64_t u = 0;
  bt_tz_kind k = bt_tz_resolve(tz, L(local), &u);
  if (k != kind || u != T(utc)) {
    char got[32];
    bt_format_time(u, got);
    fprintf(stderr, "%s %s: got kind %d %s, want %d %s\n", zone, local, k, got, kind, utc);
    failures++;
  }
  bt_tz_free(tz);
}

int main(void) {
  /* Table part (fat or slim tzdata) and far future (the footer's POSIX rule). */
  transition("America/New_York", "2027-03-14T07:00:00Z", -18000, -14400);
  transition("America/New_York", "2027-11-07T06:00:00Z", -14400, -18000);
  transition("America/New_York", "2100-03-14T07:00:00Z", -18000, -14400);
  transition("America/New_York", "2100-11-07T06:00:00Z", -14400, -18000);
  transition("Europe/London", "2027-03-28T01:00:00Z", 0, 3600);
  transition("Europe/London", "2027-10-31T01:00:00Z", 3600, 0);
  /* Southern hemisphere: DST spans the new year. */
  transition("Australia/Sydney", "2027-04-03T16:00:00Z", 39600, 36000);
  transition("Australia/Sydney", "2027-10-02T16:00:00Z", 36000, 39600);
  {
    bt_tz *tz = load("Australia/Sydney");
    if (tz) {
      CHECK(bt_tz_offset(tz, T("2027-01-01T00:00:00Z")) == 39600);
      CHECK(bt_tz_offset(tz, T("2099-12-31T13:30:00Z")) == 39600); /* footer, new year's eve */
      CHECK(bt_tz_offset(tz, T("2099-07-01T00:00:00Z")) == 36000);
      CHECK(bt_tz_span(tz) >= 3600);
      char buf[32];
      bt_tz_format_local(tz, T("2027-10-02T16:00:00Z"), buf);
      CHECK(strcmp(buf, "2027-10-03T03:00:00+11:00") == 0);
      bt_tz_free(tz);
    }
  }
  {
    bt_tz *tz = load("Asia/Kolkata");
    if (tz) {
      int64_t at;
      int32_t b, a;
      CHECK(bt_tz_offset(tz, T("2027-06-01T00:00:00Z")) == 19800);
      CHECK(bt_tz_next_change(tz, T("2000-01-01T00:00:00Z"), &at, &b, &a) == 0);
      bt_tz_free(tz);
    }
  }

  /* Resolving local times: once, in the spring-forward gap, in the fall-back repeat. */
  resolve("America/New_York", "2027-03-14T01:59:00", BT_TZ_UNIQUE, "2027-03-14T06:59:00Z");
  resolve("America/New_York", "2027-03-14T02:00:00", BT_TZ_GAP, "2027-03-14T07:00:00Z");
  resolve("America/New_York", "2027-03-14T02:30:00", BT_TZ_GAP, "2027-03-14T07:00:00Z");
  resolve("America/New_York", "2027-03-14T03:00:00", BT_TZ_UNIQUE, "2027-03-14T07:00:00Z");
  resolve("America/New_York", "2027-11-07T00:59:00", BT_TZ_UNIQUE, "2027-11-07T04:59:00Z");
  resolve("America/New_York", "2027-11-07T01:00:00", BT_TZ_REPEATED, "2027-11-07T05:00:00Z");
  resolve("America/New_York", "2027-11-07T01:30:00", BT_TZ_REPEATED, "2027-11-07T05:30:00Z");
  resolve("America/New_York", "2027-11-07T02:00:00", BT_TZ_UNIQUE, "2027-11-07T07:00:00Z");
  resolve("Europe/London", "2027-03-28T01:30:00", BT_TZ_GAP, "2027-03-28T01:00:00Z");
  resolve("Europe/London", "2027-10-31T01:30:00", BT_TZ_REPEATED, "2027-10-31T00:30:00Z");
  resolve("Australia/Sydney", "2027-10-03T02:15:00", BT_TZ_GAP, "2027-10-02T16:00:00Z");
  resolve("Australia/Sydney", "2027-04-04T02:30:00", BT_TZ_REPEATED, "2027-04-03T15:30:00Z");
  resolve("Asia/Kolkata", "2027-03-14T02:30:00", BT_TZ_UNIQUE, "2027-03-13T21:00:00Z");

  /* Fixed offsets keep working, as names too. */
  resolve("-05:00", "2027-03-14T02:30:00", BT_TZ_UNIQUE, "2027-03-14T07:30:00Z");
  resolve("+0530", "2027-03-14T02:30:00", BT_TZ_UNIQUE, "2027-03-13T21:00:00Z");
  resolve("UTC", "2027-03-14T02:30:00", BT_TZ_UNIQUE, "2027-03-14T02:30:00Z");
  {
    bt_tz *tz = load("-4");
    if (tz) {
      CHECK(bt_tz_is_fixed(tz) && bt_tz_span(tz) == 0);
      CHECK(bt_tz_offset(tz, 0) == -14400);
      CHECK(strcmp(bt_tz_name(tz), "-4") == 0);
      bt_tz_free(tz);
    }
  }

  /* Names never reach outside the zone directory; unknown and non-TZif files are errors
   * naming the zone. */
  const char *bad[] = {"../../etc/passwd", "/etc/localtime", "America/../../etc/passwd",
                       "Nowhere/City",     "",               "America/New York",
                       "+25:00",           "zone1970.tab",   "America"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    bt_err err = {0};
    bt_tz *tz = (bt_tz *)1;
    int rc = bt_tz_load(bad[i], &tz, &err);
    CHECK(rc == BT_EINVAL && tz == NULL);
    CHECK(strcmp(err.field, "timezone") == 0);
    if (bad[i][0] && !strstr(err.msg, bad[i])) fprintf(stderr, "msg: %s\n", err.msg), failures++;
  }
  return failures != 0;
}
