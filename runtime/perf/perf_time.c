#include "perf_time.h"

#include "common.h"

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

static unsigned month_days(int64_t y, unsigned m) {
  static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : md[m - 1];
}

static bool parse_date(const char *s, long len, int64_t *day) {
  int y, m, d;
  if (len < 10 || s[4] != '-' || s[7] != '-' || !bt_digits(s, 4, &y) || !bt_digits(s + 5, 2, &m) ||
      !bt_digits(s + 8, 2, &d))
    return false;
  if (m < 1 || m > 12 || d < 1 || (unsigned)d > month_days(y, (unsigned)m)) return false;
  *day = bt_days_from_civil(y, (unsigned)m, (unsigned)d);
  return true;
}

bool bt_perf_day_parse(const char *s, int64_t *day) {
  return s && strlen(s) == 10 && parse_date(s, 10, day);
}

bool bt_perf_time_parse(const char *s, long len, int64_t *out) {
  int64_t day;
  if (!parse_date(s, len, &day)) return false;
  int64_t secs = 0;
  long i = 10;
  if (i < len) {
    int hh, mm, ss;
    if (!(s[i] == 'T' || s[i] == ' ') || len < i + 9 || !bt_digits(s + i + 1, 2, &hh) ||
        s[i + 3] != ':' || !bt_digits(s + i + 4, 2, &mm) || s[i + 6] != ':' ||
        !bt_digits(s + i + 7, 2, &ss) || hh > 23 || mm > 59 || ss > 60)
      return false;
    secs = hh * 3600 + mm * 60 + ss;
    i += 9;
    if (i < len && s[i] == '.') {
      i++;
      long f = i;
      while (i < len && (unsigned)(s[i] - '0') <= 9) i++;
      if (i == f) return false;
    }
    if (i < len) {
      if (s[i] == 'Z' && i + 1 == len) {
        i++;
      } else if ((s[i] == '+' || s[i] == '-') && (len - i == 6 || len - i == 5)) {
        int oh, om;
        const char *z = s + i + 1;
        bool colon = len - i == 6;
        if (!bt_digits(z, 2, &oh) || (colon && z[2] != ':') || !bt_digits(z + (colon ? 3 : 2), 2, &om))
          return false;
        int off = oh * 3600 + om * 60;
        secs -= s[i] == '+' ? off : -off;
        i = len;
      } else {
        return false;
      }
    }
  }
  if (i != len) return false;
  *out = day * 86400 + secs;
  return true;
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
    *end = *start + month_days(y, m) - 1;
    break;
  }
  case BT_PERF_CUSTOM:
    break;
  }
}
