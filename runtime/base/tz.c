#include "tz.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One DST boundary of a POSIX TZ rule: a date form and the local time of day. */
typedef struct rule_date {
  char kind;      /* 'J' (1..365, no Feb 29), 'D' (0..365 zero-based), 'M' (month.week.day) */
  int n, m, w, d;
  int32_t time;   /* seconds after local midnight, may be negative or past 24h */
} rule_date;

struct bt_tz {
  char name[128];
  bool fixed;
  int32_t fixed_off;
  /* Transition table: from times[i] on, the offset is offs[i]; before times[0] it is off0. */
  size_t n;
  int64_t *times;
  int32_t *offs;
  int32_t off0;
  /* Footer rule, in force after the last transition (or always when the table is empty). */
  bool has_rule, has_dst;
  int32_t std_off, dst_off;
  rule_date start, end;
  int32_t span;
};

/* ---- fixed offsets ------------------------------------------------------------------ */

/* "UTC", "Z", "+05:30", "-0400", "-4": the forms `btrun perf` always accepted. */
static bool parse_fixed(const char *s, int32_t *off) {
  if (strcmp(s, "UTC") == 0 || strcmp(s, "Z") == 0 || strcmp(s, "utc") == 0) {
    *off = 0;
    return true;
  }
  if (*s != '+' && *s != '-') return false;
  const char *p = s + 1;
  size_t n = strlen(p);
  int h = 0, m = 0;
  if (n == 5 && p[2] == ':') {
    if (!bt_digits(p, 2, &h) || !bt_digits(p + 3, 2, &m)) return false;
  } else if (n == 4) {
    if (!bt_digits(p, 2, &h) || !bt_digits(p + 2, 2, &m)) return false;
  } else if (n == 1 || n == 2) {
    if (!bt_digits(p, (int)n, &h)) return false;
  } else {
    return false;
  }
  if (h > 14 || m > 59) return false;
  *off = (*s == '-' ? -1 : 1) * (h * 3600 + m * 60);
  return true;
}

/* ---- POSIX TZ rule (the TZif footer) -------------------------------------------------- */

static bool leap_year(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static unsigned month_len(int64_t y, unsigned m) {
  static const unsigned md[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && leap_year(y) ? 29 : md[m - 1];
}

static const char *rule_name(const char *p) {
  if (*p == '<') {
    const char *q = strchr(p, '>');
    return q && q > p + 1 ? q + 1 : NULL;
  }
  const char *q = p;
  while ((*q >= 'A' && *q <= 'Z') || (*q >= 'a' && *q <= 'z')) q++;
  return q - p >= 3 ? q : NULL;
}

/* [+-]hh[:mm[:ss]] with hours up to max_h; NULL on a malformed value. */
static const char *rule_hms(const char *p, int max_h, int32_t *out) {
  int sign = 1;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  long v[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    if (i > 0) {
      if (*p != ':') break;
      p++;
    }
    const char *s = p;
    while ((unsigned)(*p - '0') <= 9 && p - s < 3) v[i] = v[i] * 10 + (*p++ - '0');
    if (p == s || (i > 0 && v[i] > 59)) return NULL;
  }
  if (v[0] > max_h) return NULL;
  *out = (int32_t)(sign * (v[0] * 3600 + v[1] * 60 + v[2]));
  return p;
}

static const char *rule_num(const char *p, int lo, int hi, int *out) {
  const char *s = p;
  long v = 0;
  while ((unsigned)(*p - '0') <= 9 && p - s < 4) v = v * 10 + (*p++ - '0');
  if (p == s || v < lo || v > hi) return NULL;
  *out = (int)v;
  return p;
}

static const char *rule_boundary(const char *p, rule_date *r) {
  if (*p == 'J') {
    r->kind = 'J';
    p = rule_num(p + 1, 1, 365, &r->n);
  } else if (*p == 'M') {
    r->kind = 'M';
    if ((p = rule_num(p + 1, 1, 12, &r->m)) && *p == '.' && (p = rule_num(p + 1, 1, 5, &r->w)) &&
        *p == '.')
      p = rule_num(p + 1, 0, 6, &r->d);
    else
      p = NULL;
  } else {
    r->kind = 'D';
    p = rule_num(p, 0, 365, &r->n);
  }
  r->time = 7200; /* POSIX default 02:00 */
  if (p && *p == '/') p = rule_hms(p + 1, 167, &r->time); /* RFC 8536 allows -167..167 h */
  return p;
}

/* std offset [dst [offset] [,start[/time],end[/time]]]; POSIX offsets count west. */
static bool parse_rule(bt_tz *tz, const char *s) {
  const char *p = rule_name(s);
  int32_t v;
  if (!p || !(p = rule_hms(p, 24, &v))) return false;
  tz->std_off = -v;
  tz->has_rule = true;
  if (!*p) return true;
  if (!(p = rule_name(p))) return false;
  tz->has_dst = true;
  tz->dst_off = tz->std_off + 3600;
  if (*p && *p != ',') {
    if (!(p = rule_hms(p, 24, &v))) return false;
    tz->dst_off = -v;
  }
  if (!*p) { /* no dates: the POSIX default, as glibc applies it (US rules) */
    tz->start = (rule_date){'M', 0, 3, 2, 0, 7200};
    tz->end = (rule_date){'M', 0, 11, 1, 0, 7200};
    return true;
  }
  if (*p != ',' || !(p = rule_boundary(p + 1, &tz->start)) || *p != ',' ||
      !(p = rule_boundary(p + 1, &tz->end)))
    return false;
  return *p == '\0';
}

/* Day number of the boundary's date in year y. */
static int64_t rule_day(const rule_date *r, int64_t y) {
  int64_t jan1 = bt_days_from_civil(y, 1, 1);
  if (r->kind == 'J') return jan1 + r->n - 1 + (leap_year(y) && r->n >= 60);
  if (r->kind == 'D') return jan1 + r->n;
  int64_t first = bt_days_from_civil(y, (unsigned)r->m, 1);
  int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday; Sunday = 0 */
  int64_t day = first + (r->d - wd + 7) % 7 + (int64_t)(r->w - 1) * 7;
  while (day >= first + month_len(y, (unsigned)r->m)) day -= 7; /* week 5 = last */
  return day;
}

/* UTC instants DST starts and ends in year y: the start is written in standard time,
 * the end in daylight time. */
static int64_t rule_start(const bt_tz *tz, int64_t y) {
  return rule_day(&tz->start, y) * 86400 + tz->start.time - tz->std_off;
}
static int64_t rule_end(const bt_tz *tz, int64_t y) {
  return rule_day(&tz->end, y) * 86400 + tz->end.time - tz->dst_off;
}

static int64_t year_of(int64_t t) {
  int64_t y;
  unsigned m, d;
  int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
  bt_civil_from_days(day, &y, &m, &d);
  return y;
}

static int32_t rule_offset(const bt_tz *tz, int64_t utc) {
  if (!tz->has_dst) return tz->std_off;
  int64_t y = year_of(utc + tz->std_off);
  int64_t s = rule_start(tz, y), e = rule_end(tz, y);
  bool dst = s < e ? (utc >= s && utc < e) : !(utc >= e && utc < s); /* southern: spans new year */
  return dst ? tz->dst_off : tz->std_off;
}

/* ---- queries ------------------------------------------------------------------------ */

int32_t bt_tz_offset(const bt_tz *tz, int64_t utc) {
  if (tz->fixed) return tz->fixed_off;
  if (tz->n == 0) return tz->has_rule ? rule_offset(tz, utc) : tz->off0;
  if (utc < tz->times[0]) return tz->off0;
  if (utc >= tz->times[tz->n - 1]) return tz->has_rule ? rule_offset(tz, utc) : tz->offs[tz->n - 1];
  size_t lo = 0, hi = tz->n - 1; /* times[lo] <= utc < times[hi] */
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (tz->times[mid] <= utc) lo = mid;
    else hi = mid;
  }
  return tz->offs[lo];
}

/* The next instant > t at which the table or the rule schedules a transition (the offset
 * may stay the same across it); false when there is none. */
static bool raw_next(const bt_tz *tz, int64_t t, int64_t *at) {
  if (tz->n > 0 && t < tz->times[tz->n - 1]) {
    size_t lo = 0, hi = tz->n - 1; /* first index with times[i] > t */
    if (tz->times[0] > t) hi = 0;
    while (hi - lo > 1) {
      size_t mid = lo + (hi - lo) / 2;
      if (tz->times[mid] > t) hi = mid;
      else lo = mid;
    }
    *at = tz->times[hi];
    return true;
  }
  if (!tz->has_rule || !tz->has_dst) return false;
  int64_t y = year_of(t + tz->std_off);
  bool found = false;
  for (int64_t yy = y - 1; yy <= y + 1; yy++) {
    int64_t c[2] = {rule_start(tz, yy), rule_end(tz, yy)};
    for (int i = 0; i < 2; i++)
      if (c[i] > t && (!found || c[i] < *at)) *at = c[i], found = true;
  }
  return found;
}

int bt_tz_next_change(const bt_tz *tz, int64_t utc, int64_t *at, int32_t *before,
                      int32_t *after) {
  if (tz->fixed) return 0;
  int64_t c = utc;
  /* Transitions that only rename the zone (or a DST-all-year rule's seams) are skipped;
   * a few hundred covers any real table. */
  for (int i = 0; i < 512 && raw_next(tz, c, &c); i++) {
    int32_t b = bt_tz_offset(tz, c - 1), a = bt_tz_offset(tz, c);
    if (a != b) {
      *at = c, *before = b, *after = a;
      return 1;
    }
  }
  return 0;
}

bt_tz_kind bt_tz_resolve(const bt_tz *tz, int64_t local, int64_t *utc) {
  if (tz->fixed) {
    *utc = local - tz->fixed_off;
    return BT_TZ_UNIQUE;
  }
  /* Walk the segments of constant offset from well before any instant whose local time
   * can be `local` (offsets stay within +-26 h): the first segment containing local - off
   * is the first occurrence; stepping over the local time between two segments means
   * it is in a gap. */
  int64_t s = local - 27 * 3600;
  int32_t off = bt_tz_offset(tz, s);
  for (int i = 0; i < 1024; i++) {
    int64_t next = INT64_MAX;
    int32_t b, a = off;
    bool more = bt_tz_next_change(tz, s, &next, &b, &a);
    int64_t u = local - off;
    if (u < s) {
      *utc = s;
      return BT_TZ_GAP;
    }
    if (!more || u < next) {
      *utc = u;
      int64_t u2 = local - a;
      return more && u2 >= next && bt_tz_offset(tz, u2) == a ? BT_TZ_REPEATED : BT_TZ_UNIQUE;
    }
    s = next;
    off = a;
  }
  *utc = local - off; /* unreachable for any real zone */
  return BT_TZ_UNIQUE;
}

int32_t bt_tz_span(const bt_tz *tz) { return tz->fixed ? 0 : tz->span; }
const char *bt_tz_name(const bt_tz *tz) { return tz->name; }
int bt_tz_is_fixed(const bt_tz *tz) { return tz->fixed; }

void bt_tz_format_local(const bt_tz *tz, int64_t utc, char *buf) {
  int32_t off = bt_tz_offset(tz, utc);
  int64_t t = utc + off;
  int64_t day = t >= 0 ? t / 86400 : -((-t + 86399) / 86400), rem = t - day * 86400, y;
  unsigned m, d;
  bt_civil_from_days(day, &y, &m, &d);
  int32_t a = off < 0 ? -off : off;
  char zone[16];
  if (a % 60)
    snprintf(zone, sizeof zone, "%c%02d:%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600),
             (int)(a / 60 % 60), (int)(a % 60));
  else
    snprintf(zone, sizeof zone, "%c%02d:%02d", off < 0 ? '-' : '+', (int)(a / 3600),
             (int)(a / 60 % 60));
  snprintf(buf, 32, "%04d-%02u-%02uT%02d:%02d:%02d%s", (int)y, m, d, (int)(rem / 3600),
           (int)(rem / 60 % 60), (int)(rem % 60), zone);
}

/* ---- loading TZif ------------------------------------------------------------------- */

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

/* Parse one header + data block starting at p (tsize 4 or 8). Returns the block's end or
 * NULL when malformed. With fill, the table is stored into tz. */
static const unsigned char *tzif_block(const unsigned char *p, const unsigned char *end,
                                       int tsize, bt_tz *tz, bool fill, const char **why) {
  if (end - p < 44 || memcmp(p, "TZif", 4) != 0) return *why = "not a TZif file", NULL;
  uint32_t isutcnt = be32(p + 20), isstdcnt = be32(p + 24), leapcnt = be32(p + 28),
           timecnt = be32(p + 32), typecnt = be32(p + 36), charcnt = be32(p + 40);
  p += 44;
  uint64_t need = (uint64_t)timecnt * (tsize + 1) + (uint64_t)typecnt * 6 + charcnt +
                  (uint64_t)leapcnt * (tsize + 4) + isstdcnt + isutcnt;
  if (typecnt == 0 || typecnt > 256 || need > (uint64_t)(end - p))
    return *why = "truncated or inconsistent TZif header", NULL;
  if (!fill) return p + need;
  if (leapcnt) return *why = "leap-second zones (\"right/\") are not supported", NULL;
  const unsigned char *tt = p, *idx = p + (size_t)timecnt * tsize, *types = idx + timecnt;
  for (uint32_t i = 0; i < typecnt; i++) {
    int32_t off = (int32_t)be32(types + 6 * i);
    if (off < -26 * 3600 || off > 26 * 3600) return *why = "offset out of range", NULL;
  }
  tz->n = timecnt;
  tz->times = malloc((timecnt ? timecnt : 1) * sizeof *tz->times);
  tz->offs = malloc((timecnt ? timecnt : 1) * sizeof *tz->offs);
  if (!tz->times || !tz->offs) return *why = "out of memory", NULL;
  tz->off0 = (int32_t)be32(types); /* RFC 8536: type 0 before the first transition */
  for (uint32_t i = 0; i < timecnt; i++) {
    tz->times[i] = tsize == 8 ? be64(tt + 8 * i) : (int32_t)be32(tt + 4 * i);
    if (idx[i] >= typecnt || (i > 0 && tz->times[i] <= tz->times[i - 1]))
      return *why = "bad transition table", NULL;
    tz->offs[i] = (int32_t)be32(types + 6 * idx[i]);
  }
  return p + need;
}

/* config_error with field "timezone"; the caller adds the file it came from. */
static int zone_err(bt_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int zone_err(bt_err *err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  bt_errf(err, BT_EINVAL, "config_error", "%s", msg);
  snprintf(err->field, sizeof err->field, "timezone");
  return BT_EINVAL;
}

static void widen(int32_t *lo, int32_t *hi, int32_t v) {
  if (v < *lo) *lo = v;
  if (v > *hi) *hi = v;
}

static bool valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n >= sizeof(((bt_tz *)0)->name) || s[0] == '/' || s[0] == '.') return false;
  for (const char *p = s; *p; p++)
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
          strchr("/_+-.", *p)))
      return false;
  return strstr(s, "..") == NULL && strstr(s, "/.") == NULL;
}

static int load_file(bt_tz *tz, const char *spec, bt_err *err) {
  const char *dir = getenv("TZDIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : "/usr/share/zoneinfo", spec);
  FILE *f = fopen(path, "rb");
  if (!f)
    return zone_err(err, "unknown time zone \"%s\" (%s: %s)", spec, path, strerror(errno));
  unsigned char *buf = malloc(1 << 20);
  size_t len = buf ? fread(buf, 1, 1 << 20, f) : 0;
  bool dir_or_err = ferror(f);
  fclose(f);
  if (!buf) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory reading %s", path);
  const char *why = NULL;
  const unsigned char *end = buf + len, *p = NULL;
  if (dir_or_err) {
    why = "not a zone file";
  } else if (len >= 5 && memcmp(buf, "TZif", 4) == 0 && buf[4] >= '2') {
    /* Skip the 32-bit block, use the 64-bit one and its footer. */
    if ((p = tzif_block(buf, end, 4, tz, false, &why)) &&
        (p = tzif_block(p, end, 8, tz, true, &why))) {
      const unsigned char *nl = p < end && *p == '\n' ? memchr(p + 1, '\n', (size_t)(end - p - 1)) : NULL;
      if (!nl) {
        why = "missing footer";
      } else if (nl > p + 1) {
        char rule[256];
        size_t rl = (size_t)(nl - p - 1);
        if (rl >= sizeof rule) {
          why = "footer too long";
        } else {
          memcpy(rule, p + 1, rl);
          rule[rl] = '\0';
          if (!parse_rule(tz, rule)) why = "bad POSIX TZ rule in footer";
        }
      }
    }
  } else {
    p = tzif_block(buf, end, 4, tz, true, &why);
  }
  free(buf);
  if (why)
    return zone_err(err, "time zone \"%s\": %s (%s)", spec, why, path);
  int32_t lo = tz->off0, hi = tz->off0;
  for (size_t i = 0; i < tz->n; i++) widen(&lo, &hi, tz->offs[i]);
  if (tz->has_rule) widen(&lo, &hi, tz->std_off);
  if (tz->has_dst) widen(&lo, &hi, tz->dst_off);
  tz->span = hi - lo;
  return BT_OK;
}

int bt_tz_load(const char *spec, bt_tz **out, bt_err *err) {
  *out = NULL;
  if (!spec)
    return zone_err(err, "no time zone given");
  bt_tz *tz = calloc(1, sizeof *tz);
  if (!tz) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  int32_t off;
  int rc = BT_OK;
  if (parse_fixed(spec, &off)) {
    tz->fixed = true;
    tz->fixed_off = off;
  } else if (!valid_name(spec)) {
    rc = zone_err(err, "invalid time zone \"%s\": expected an IANA name such as America/New_York "
                    "or a fixed offset such as -05:00",
                    spec);
  } else {
    rc = load_file(tz, spec, err);
  }
  if (rc != BT_OK) {
    bt_tz_free(tz);
    return rc;
  }
  snprintf(tz->name, sizeof tz->name, "%s", spec);
  *out = tz;
  return BT_OK;
}

const bt_tz *bt_tz_utc(void) {
  static const bt_tz utc = {.name = "UTC", .fixed = true};
  return &utc;
}

void bt_tz_free(bt_tz *tz) {
  if (!tz) return;
  free(tz->times);
  free(tz->offs);
  free(tz);
}
