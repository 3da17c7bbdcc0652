#include "iso8601.h"

#include "common.h"

static inline bool isdig(char c) { return (unsigned)(c - '0') < 10; }

unsigned bt_days_in_month(int64_t y, unsigned m) {
  static const unsigned char md[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return md[m - 1] + (m == 2 && leap);
}

bool bt_iso8601_date(const char *s, int64_t *days) {
  int y, m, d;
  if (s[4] != '-' || s[7] != '-' || !bt_digits(s, 4, &y) || !bt_digits(s + 5, 2, &m) ||
      !bt_digits(s + 8, 2, &d))
    return false;
  if (m < 1 || m > 12 || d < 1 || (unsigned)d > bt_days_in_month(y, (unsigned)m)) return false;
  *days = bt_days_from_civil(y, (unsigned)m, (unsigned)d);
  return true;
}

int bt_iso8601_tod(const char *s, const char *e, int *secs) {
  int h, mi, sec = 0;
  if (e - s < 5 || s[2] != ':' || !bt_digits(s, 2, &h) || !bt_digits(s + 3, 2, &mi) || h > 23 ||
      mi > 59)
    return 0;
  const char *p = s + 5;
  if (e - p >= 3 && *p == ':') {
    if (!bt_digits(p + 1, 2, &sec) || sec > 59) return 0;
    p += 3;
    if (p < e && *p == '.') {
      p++;
      if (p == e || !isdig(*p)) return 0;
      while (p < e && isdig(*p))
        if (*p++ != '0') return 0;
    }
  }
  *secs = h * 3600 + mi * 60 + sec;
  return (int)(p - s);
}

/* Strict time of day: "HH:MM:SS" and any fraction. */
static int strict_tod(const char *s, const char *e, int *secs) {
  int h, mi, sec;
  if (e - s < 8 || !bt_digits(s, 2, &h) || s[2] != ':' || !bt_digits(s + 3, 2, &mi) ||
      s[5] != ':' || !bt_digits(s + 6, 2, &sec) || h > 23 || mi > 59 || sec > 60)
    return 0;
  const char *p = s + 8;
  if (p < e && *p == '.') {
    const char *f = ++p;
    while (p < e && isdig(*p)) p++;
    if (p == f) return 0;
  }
  *secs = h * 3600 + mi * 60 + sec;
  return (int)(p - s);
}

/* The zone at [p, e) as seconds east of UTC. */
static bool zone(const char *p, const char *e, bt_iso_mode mode, int *off) {
  *off = 0;
  if (p == e) return true;
  if (*p == 'Z' || (*p == 'z' && mode == BT_ISO_LENIENT)) return p + 1 == e;
  if (*p != '+' && *p != '-') return false;
  int sign = *p++ == '-' ? -1 : 1, h, m = 0;
  if (mode == BT_ISO_STRICT) {
    bool colon = e - p == 5;
    if ((e - p != 5 && e - p != 4) || !bt_digits(p, 2, &h) || (colon && p[2] != ':') ||
        !bt_digits(p + (colon ? 3 : 2), 2, &m))
      return false;
  } else {
    if (e - p < 2 || !bt_digits(p, 2, &h) || h > 23) return false;
    p += 2;
    if (p < e && *p == ':') p++;
    if (p < e && (e - p != 2 || !bt_digits(p, 2, &m) || m > 59)) return false;
  }
  *off = sign * (h * 3600 + m * 60);
  return true;
}

bool bt_iso8601_parse(const char *s, long len, bt_iso_mode mode, int64_t *out) {
  const char *p = s, *e = s + len;
  int64_t days;
  if (len < 10 || !bt_iso8601_date(p, &days)) return false;
  p += 10;
  int secs = 0, off = 0;
  if (p < e) {
    if (*p != 'T' && *p != ' ' && !(*p == 't' && mode == BT_ISO_LENIENT)) return false;
    p++;
    int n = mode == BT_ISO_STRICT ? strict_tod(p, e, &secs) : bt_iso8601_tod(p, e, &secs);
    if (!n || !zone(p + n, e, mode, &off)) return false;
  }
  *out = days * 86400 + secs - off; /* local = UTC + offset */
  return true;
}
