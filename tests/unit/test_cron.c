/* test_cron.c - cron parsing (fields, names, shorthands, the day OR rule, errors naming
 * the schedule and the field) and next fire times in a zone: DST changes, month ends,
 * Feb 29. The broad comparison with Python's zoneinfo is tests/e2e/sched_reference.sh. */
#include <stdio.h>
#include <string.h>

#include "iso8601.h"
#include "check.h"
#include "cron.h"
#include "perf_time.h"

static int64_t T(const char *iso) {
  int64_t t = 0;
  if (!bt_iso8601_parse(iso, (long)strlen(iso), BT_ISO_STRICT, &t)) fprintf(stderr, "bad time %s\n", iso), failures++;
  return t;
}

/* Fires of expr in zone after `from`: the next ones must be exactly want[] (NULL-ended). */
static void fires(const char *expr, const char *zone, const char *from, const char *const *want) {
  bt_err err = {0};
  bt_cron c;
  bt_tz *tz = NULL;
  CHECK_OK(bt_cron_parse(expr, "schedule \"t\"", &c, &err));
  CHECK_OK(bt_tz_load(zone, &tz, &err));
  if (!tz) return;
  int64_t t = T(from);
  for (int i = 0; want[i]; i++) {
    t = bt_cron_next(&c, tz, t);
    char got[32];
    bt_format_time(t, got);
    if (strcmp(got, want[i]) != 0) {
      fprintf(stderr, "%s in %s from %s: fire %d is %s, want %s\n", expr, zone, from, i, got, want[i]);
      failures++;
      break;
    }
  }
  bt_tz_free(tz);
}
#define FIRES(expr, zone, from, ...) fires(expr, zone, from, (const char *const[]){__VA_ARGS__, NULL})

static void bad(const char *expr, const char *field, const char *needle) {
  bt_err err = {0};
  bt_cron c;
  int rc = bt_cron_parse(expr, "schedule \"nightly\"", &c, &err);
  CHECK(rc == BT_EINVAL);
  CHECK(strcmp(err.field, "cron") == 0);
  bool ok = strstr(err.msg, "schedule \"nightly\"") && strstr(err.msg, expr) &&
            (!field || strstr(err.msg, field)) && strstr(err.msg, needle);
  if (!ok) fprintf(stderr, "%s: message lacks %s/%s: %s\n", expr, field ? field : "", needle, err.msg), failures++;
}

int main(void) {
  bt_err err = {0};
  bt_cron c;
  /* Fields into bit sets. */
  CHECK_OK(bt_cron_parse("*/15 8-18/2 1,15,31 JAN-mar,Dec MON-FRI", "s", &c, &err));
  CHECK(c.minute == (1ull << 0 | 1ull << 15 | 1ull << 30 | 1ull << 45));
  CHECK(c.hour == (1u << 8 | 1u << 10 | 1u << 12 | 1u << 14 | 1u << 16 | 1u << 18));
  CHECK(c.dom == (1u << 1 | 1u << 15 | 1u << 31));
  CHECK(c.month == (1u << 1 | 1u << 2 | 1u << 3 | 1u << 12));
  CHECK(c.dow == 0x3e && !c.dom_star && !c.dow_star);
  CHECK_OK(bt_cron_parse("5/20 * * * 7", "s", &c, &err)); /* 5-59/20; 7 = Sunday */
  CHECK(c.minute == (1ull << 5 | 1ull << 25 | 1ull << 45) && c.dow == 1 && c.dom_star);
  CHECK_OK(bt_cron_parse("0 0 * * 5-7", "s", &c, &err));
  CHECK(c.dow == (1u << 5 | 1u << 6 | 1u << 0));
  bt_cron d;
  CHECK_OK(bt_cron_parse("@weekly", "s", &c, &err));
  CHECK_OK(bt_cron_parse("0 0 * * 0", "s", &d, &err));
  CHECK(memcmp(&c, &d, sizeof c) == 0);
  CHECK_OK(bt_cron_parse("  @Daily ", "s", &c, &err));
  CHECK(c.minute == 1 && c.hour == 1 && c.dom_star && c.dow_star);

  /* The market-close schedules of the issue, around the 2027 US DST changes. */
  FIRES("30 17 * * MON-FRI", "America/New_York", "2027-03-11T00:00:00Z", "2027-03-11T22:30:00Z",
        "2027-03-12T22:30:00Z", "2027-03-15T21:30:00Z", "2027-03-16T21:30:00Z");
  FIRES("5 16 * * 1-5", "America/New_York", "2027-11-04T20:05:00Z", "2027-11-05T20:05:00Z",
        "2027-11-08T21:05:00Z");
  /* Spring forward: 02:30 does not exist on 2027-03-14, it fires once at 03:00 EDT. */
  FIRES("30 2 * * *", "America/New_York", "2027-03-13T00:00:00Z", "2027-03-13T07:30:00Z",
        "2027-03-14T07:00:00Z", "2027-03-15T06:30:00Z");
  /* Every 15 minutes: the skipped 02:00-02:45 collapse into one fire at 03:00 EDT. */
  FIRES("*/15 * * * *", "America/New_York", "2027-03-14T06:40:00Z", "2027-03-14T06:45:00Z",
        "2027-03-14T07:00:00Z", "2027-03-14T07:15:00Z");
  /* Fall back: 01:30 happens twice on 2027-11-07, it fires at the first (EDT) only. */
  FIRES("30 1 * * *", "America/New_York", "2027-11-06T00:00:00Z", "2027-11-06T05:30:00Z",
        "2027-11-07T05:30:00Z", "2027-11-08T06:30:00Z");
  FIRES("*/30 * * * *", "America/New_York", "2027-11-07T04:45:00Z", "2027-11-07T05:00:00Z",
        "2027-11-07T05:30:00Z", "2027-11-07T07:00:00Z", "2027-11-07T07:30:00Z");
  /* Hourly across the London fall-back: 01:00 local (00:00Z BST, 01:00Z GMT) fires once. */
  FIRES("0 * * * *", "Europe/London", "2027-10-30T22:30:00Z", "2027-10-30T23:00:00Z",
        "2027-10-31T00:00:00Z", "2027-10-31T02:00:00Z");
  FIRES("30 2 * * SUN", "Australia/Sydney", "2027-09-30T00:00:00Z", "2027-10-02T16:00:00Z",
        "2027-10-09T15:30:00Z");
  FIRES("0 9 * * *", "Asia/Kolkata", "2027-03-13T00:00:00Z", "2027-03-13T03:30:00Z",
        "2027-03-14T03:30:00Z");
  /* Fixed offsets still work. */
  FIRES("0 9 * * *", "-05:00", "2027-03-13T00:00:00Z", "2027-03-13T14:00:00Z",
        "2027-03-14T14:00:00Z");

  /* Month ends and leap days. */
  FIRES("0 12 31 * *", "UTC", "2027-01-31T12:00:00Z", "2027-03-31T12:00:00Z",
        "2027-05-31T12:00:00Z", "2027-07-31T12:00:00Z", "2027-08-31T12:00:00Z");
  FIRES("0 0 29 2 *", "UTC", "2027-01-01T00:00:00Z", "2028-02-29T00:00:00Z",
        "2032-02-29T00:00:00Z");
  FIRES("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z", "2104-02-29T00:00:00Z"); /* 2100 skips */
  FIRES("@monthly", "America/New_York", "2027-01-15T00:00:00Z", "2027-02-01T05:00:00Z",
        "2027-03-01T05:00:00Z", "2027-04-01T04:00:00Z");
  FIRES("@yearly", "Australia/Sydney", "2027-06-01T00:00:00Z", "2027-12-31T13:00:00Z");
  FIRES("@hourly", "Asia/Kolkata", "2027-06-01T00:00:00Z", "2027-06-01T00:30:00Z");

  /* Vixie OR rule: both day fields restricted -> the 13th OR any Friday. */
  FIRES("0 0 13 * FRI", "UTC", "2027-08-01T00:00:00Z", "2027-08-06T00:00:00Z",
        "2027-08-13T00:00:00Z", "2027-08-20T00:00:00Z", "2027-08-27T00:00:00Z",
        "2027-09-03T00:00:00Z", "2027-09-10T00:00:00Z", "2027-09-13T00:00:00Z");
  /* A field starting with '*' makes it AND: odd days that are Mondays. */
  FIRES("0 0 */2 * MON", "UTC", "2027-03-01T00:00:00Z", "2027-03-15T00:00:00Z",
        "2027-03-29T00:00:00Z", "2027-04-05T00:00:00Z", "2027-04-19T00:00:00Z");

  /* Errors name the schedule, the expression and the field. */
  bad("30 17 * * MON-FRY", "day-of-week", "bad range");
  bad("30 17 * * FRY", "day-of-week", "unknown value \"FRY\"");
  bad("60 * * * *", "minute", "out of range 0-59");
  bad("0 24 * * *", "hour", "out of range 0-23");
  bad("0 0 0 * *", "day-of-month", "out of range 1-31");
  bad("0 0 * 13 *", "month", "out of range 1-12");
  bad("0 0 * JUNE *", "month", "unknown value");
  bad("0 0 * * 8", "day-of-week", "out of range 0-7");
  bad("5-1 * * * *", "minute", "runs backwards");
  bad("*/0 * * * *", "minute", "bad step");
  bad("*/61 * * * *", "minute", "bad step");
  bad("1,,2 * * * *", "minute", "empty item");
  bad("a * * * *", "minute", "not a number");
  bad("* * * *", NULL, "expected 5 fields");
  bad("* * * * * *", NULL, "too many fields");
  bad("", NULL, "expected 5 fields");
  bad("@reboot", NULL, "unknown shorthand");
  bad("0 0 30 2 *", "day-of-month", "never fires");
  bad("0 0 31 4,6,9,11 *", "day-of-month", "never fires");
  /* ...but with the OR rule the weekdays still fire. */
  CHECK_OK(bt_cron_parse("0 0 30 2 MON", "s", &c, &err));
  return failures != 0;
}
