#include "cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

typedef struct field_spec {
  const char *name;
  int lo, hi;
  int max;                  /* the top value '*' and "v/step" run to */
  const char *const *names; /* 3-letter names of lo, lo+1, ... or NULL */
  int nnames;
} field_spec;

static const char *const month_names[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
static const char *const dow_names[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

static const field_spec fields[5] = {
    {"minute", 0, 59, 59, NULL, 0},
    {"hour", 0, 23, 23, NULL, 0},
    {"day-of-month", 1, 31, 31, NULL, 0},
    {"month", 1, 12, 12, month_names, 12},
    {"day-of-week", 0, 7, 6, dow_names, 7}, /* 7 = Sunday too, folded into 0 */
};

typedef struct parse_ctx {
  const char *label, *expr;
  bt_err *err;
} parse_ctx;

/* config_error "<label>: cron "<expr>": <field>: <what>". */
static int fail(parse_ctx *p, const char *field, const char *what, const char *item, size_t n) {
  char msg[256];
  snprintf(msg, sizeof msg, what, (int)(n < 40 ? n : 40), item);
  bt_errf(p->err, BT_EINVAL, "config_error", "%s: cron \"%s\": %s%s%s", p->label, p->expr,
          field ? field : "", field ? ": " : "", msg);
  snprintf(p->err->field, sizeof p->err->field, "cron");
  return BT_EINVAL;
}

static bool number(const char *s, size_t n, int *out) {
  if (n == 0 || n > 4) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isdigit((unsigned char)s[i])) return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

/* A number or (month, weekday) a name at s[0..n). */
static bool value(const field_spec *f, const char *s, size_t n, int *out) {
  if (number(s, n, out)) return true;
  for (int i = 0; n == 3 && i < f->nnames; i++)
    if (strncasecmp(s, f->names[i], 3) == 0) return *out = f->lo + i, true;
  return false;
}

/* One field: comma-separated items "*", "v", "a-b", each with an optional "/step". */
static int parse_field(parse_ctx *p, const field_spec *f, const char *s, size_t len,
                       uint64_t *bits) {
  *bits = 0;
  const char *end = s + len;
  while (s <= end) {
    const char *comma = memchr(s, ',', (size_t)(end - s));
    if (!comma) comma = end;
    size_t n = (size_t)(comma - s);
    if (n == 0) return fail(p, f->name, "empty item in a list%.*s", "", 0);
    const char *slash = memchr(s, '/', n);
    size_t rn = slash ? (size_t)(slash - s) : n;
    int lo, hi, step = 1;
    if (slash && (!number(slash + 1, n - rn - 1, &step) || step < 1 || step > f->max - f->lo + 1))
      return fail(p, f->name, "bad step in \"%.*s\" (expected a number from 1 to the field's size)",
                  s, n);
    const char *dash = memchr(s, '-', rn);
    if (rn == 1 && s[0] == '*') {
      lo = f->lo, hi = f->max;
    } else if (dash) {
      if (!value(f, s, (size_t)(dash - s), &lo) ||
          !value(f, dash + 1, rn - (size_t)(dash - s) - 1, &hi))
        return fail(p, f->name, "bad range \"%.*s\"", s, n);
    } else if (value(f, s, rn, &lo)) {
      hi = slash ? f->max : lo; /* "5/20" = 5-max/20 */
    } else {
      return fail(p, f->name,
                  f->names == dow_names ? "unknown value \"%.*s\" (expected 0-7 or SUN..SAT)"
                  : f->names            ? "unknown value \"%.*s\" (expected 1-12 or JAN..DEC)"
                                        : "not a number: \"%.*s\"",
                  s, rn);
    }
    if (lo < f->lo || hi > f->hi) {
      char what[96];
      snprintf(what, sizeof what, "\"%%.*s\" is out of range %d-%d", f->lo, f->hi);
      return fail(p, f->name, what, s, n);
    }
    if (lo > hi) return fail(p, f->name, "range \"%.*s\" runs backwards", s, n);
    for (int v = lo; v <= hi; v += step) *bits |= 1ull << (f->names == dow_names && v == 7 ? 0 : v);
    s = comma + 1;
  }
  return BT_OK;
}

static const struct {
  const char *name, *expr;
} shorthands[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

int bt_cron_parse(const char *expr, const char *label, bt_cron *out, bt_err *err) {
  parse_ctx p = {label ? label : "schedule", expr ? expr : "", err};
  memset(out, 0, sizeof *out);
  const char *s = p.expr;
  while (isspace((unsigned char)*s)) s++;
  if (*s == '@') {
    size_t n = strcspn(s, " \t\r\n");
    const char *rest = s + n;
    while (isspace((unsigned char)*rest)) rest++;
    for (size_t i = 0; i < sizeof shorthands / sizeof *shorthands; i++)
      if (strlen(shorthands[i].name) == n && strncasecmp(s, shorthands[i].name, n) == 0 && !*rest)
        return bt_cron_parse(shorthands[i].expr, p.label, out, err) == BT_OK
                   ? BT_OK
                   : BT_EINVAL;
    return fail(&p, NULL,
                "unknown shorthand \"%.*s\" (expected @hourly, @daily, @midnight, @weekly, "
                "@monthly, @yearly or @annually)",
                s, n);
  }
  const char *tok[6];
  size_t len[6];
  int n = 0;
  while (*s) {
    if (n == 5)
      return fail(&p, NULL, "too many fields (expected 5: minute hour day-of-month month day-of-week)%.*s", "", 0);
    tok[n] = s;
    while (*s && !isspace((unsigned char)*s)) s++;
    len[n] = (size_t)(s - tok[n]);
    n++;
    while (isspace((unsigned char)*s)) s++;
  }
  if (n != 5) {
    char got[4] = {(char)('0' + n), 0};
    return fail(&p, NULL,
                "expected 5 fields (minute hour day-of-month month day-of-week) or a shorthand "
                "such as @daily, got %.*s",
                got, 1);
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; i++) {
    int rc = parse_field(&p, &fields[i], tok[i], len[i], &bits[i]);
    if (rc) return rc;
  }
  out->minute = bits[0];
  out->hour = (uint32_t)bits[1];
  out->dom = (uint32_t)bits[2];
  out->month = (uint32_t)bits[3];
  out->dow = (uint32_t)bits[4];
  out->dom_star = tok[2][0] == '*';
  out->dow_star = tok[4][0] == '*';
  /* When both day fields must match, some selected day must exist in a selected month:
   * "0 0 31 4 *" or "0 0 30 2 *" would never fire. (With the OR rule the weekdays fire.) */
  if (out->dom_star || out->dow_star) {
    static const int longest[13] = {0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool ok = false;
    for (int m = 1; m <= 12 && !ok; m++)
      for (int d = 1; d <= longest[m] && !ok; d++)
        ok = (out->month >> m & 1) && (out->dom >> d & 1);
    if (!ok)
      return fail(&p, "day-of-month", "never fires: no selected month has the selected days%.*s",
                  "", 0);
  }
  return BT_OK;
}

static int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

static bool day_ok(const bt_cron *c, int64_t day, unsigned d) {
  int wd = (int)(((day + 4) % 7 + 7) % 7); /* 1970-01-01 was a Thursday; Sunday = 0 */
  bool dom = c->dom >> d & 1, dow = c->dow >> wd & 1;
  return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

bool bt_cron_matches(const bt_cron *c, int64_t local) {
  int64_t day = floor_div(local, 86400), y;
  int64_t rem = local - day * 86400;
  unsigned m, d;
  bt_civil_from_days(day, &y, &m, &d);
  return (c->month >> m & 1) && day_ok(c, day, d) && (c->hour >> (rem / 3600) & 1) &&
         (c->minute >> (rem / 60 % 60) & 1);
}

int64_t bt_cron_next_local(const bt_cron *c, int64_t local) {
  int64_t t = floor_div(local, 60) * 60 + 60;
  int64_t day = floor_div(t, 86400);
  int h = (int)((t - day * 86400) / 3600), mi = (int)((t - day * 86400) / 60 % 60);
  /* Parsing rejected expressions that never fire; the rarest (Feb 29 on one weekday)
   * fires within 28 years, so the bound only guards against looping forever. */
  for (int64_t last = day + 366 * 30; day <= last; day++, h = 0, mi = 0) {
    int64_t y;
    unsigned m, d;
    bt_civil_from_days(day, &y, &m, &d);
    if (!(c->month >> m & 1)) { /* skip to the last day of this month */
      day = (m == 12 ? bt_days_from_civil(y + 1, 1, 1) : bt_days_from_civil(y, m + 1, 1)) - 1;
      continue;
    }
    if (!day_ok(c, day, d)) continue;
    for (; h < 24; h++, mi = 0) {
      if (!(c->hour >> h & 1)) continue;
      for (; mi < 60; mi++)
        if (c->minute >> mi & 1) return day * 86400 + h * 3600 + mi * 60;
    }
  }
  return INT64_MAX;
}

int64_t bt_cron_next(const bt_cron *c, const bt_tz *tz, int64_t utc) {
  /* fire(local) never decreases as local grows, so walk matching local minutes from the
   * earliest one that could still fire after utc and return the first that does. */
  int64_t local = bt_tz_to_local(tz, utc) - bt_tz_span(tz) - 60;
  for (;;) {
    local = bt_cron_next_local(c, local);
    if (local == INT64_MAX) return INT64_MAX;
    int64_t fire;
    bt_tz_resolve(tz, local, &fire);
    if (fire > utc) return fire;
  }
}
