#include "perf_time.h"

#include "common.h"
#include "iso8601.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const window_names[] = {"daily", "weekly", "monthly", "custom"};

const char *bt_perf_window_name(bt_perf_window w) {
  return (unsigned)w < 4 ? window_names[w] : "?";
}

bool bt_perf_window_parse(const char *s, bt_perf_window *out) {
  for (int i = 0; i < 4; i++)
    if (s && strcmp(s, window_names[i]) == 0) return *out = (bt_perf_window)i, true;
  return false;
}


void bt_perf_day_format(int64_t day, char *buf) {
  int64_t y;
  unsigned m, d;
  bt_civil_from_days(day, &y, &m, &d);
  snprintf(buf, 16, "%04d-%02u-%02u", (int)y, m, d);
}

bool bt_perf_day_parse(const char *s, int64_t *day) {
  return s && strlen(s) == 10 && bt_iso8601_date(s, day);
}

void bt_perf_tz_label(const bt_tz *tz, char *buf) {
  if (!bt_tz_is_fixed(tz)) {
    snprintf(buf, 128, "%s", bt_tz_name(tz));
    return;
  }
  int32_t off = bt_tz_offset(tz, 0), a = abs(off);
  snprintf(buf, 128, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600), (int)(a / 60 % 60));
}

void bt_perf_window_bounds(bt_perf_window w, int64_t day, int64_t *start, int64_t *end) {
  switch (w) {
  case BT_PERF_DAILY:
    *start = *end = day;
    break;
  case BT_PERF_WEEKLY: {
    /* 1970-01-01 was a Thursday: weekday index with Monday = 0 is (day + 3) mod 7. */
    int64_t wd = ((day + 3) % 7 + 7) % 7;
    *start = day - wd;
    *end = *start + 6;
    break;
  }
  case BT_PERF_MONTHLY: {
    int64_t y;
    unsigned m, d;
    bt_civil_from_days(day, &y, &m, &d);
    *start = bt_days_from_civil(y, m, 1);
    *end = *start + bt_days_in_month(y, m) - 1;
    break;
  }
  case BT_PERF_CUSTOM:
    break;
  }
}
