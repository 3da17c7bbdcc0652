/* run_days.c - see run_days.h. The formulas are run_report.lua's former per-row Lua,
 * operation for operation (x^2 as x*x, as Lua computes it), so the figures are the
 * same doubles. */
#include "run_days.h"

#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats.h"
#include "grow.h"
#include "json.h"

#define PERIODS 252 /* trading days a year, as in metrics.h */

/* ---- series statistics ---------------------------------------------------------- */

typedef struct stats {
  double *rets; /* returns between consecutive values (a value <= 0 starts none) */
  size_t nrets;
  double total_return, cagr, volatility, sharpe, max_drawdown; /* NAN: none */
} stats;

static int series_stats(const int64_t *ts, const double *vs, size_t n, double base, stats *st) {
  st->rets = malloc((n ? n : 1) * sizeof *st->rets);
  if (!st->rets) return -1;
  st->nrets = 0;
  for (size_t i = 1; i < n; i++)
    if (vs[i - 1] > 0) st->rets[st->nrets++] = vs[i] / vs[i - 1] - 1;
  double m = NAN, sd = NAN;
  if (st->nrets) {
    double s = 0;
    for (size_t i = 0; i < st->nrets; i++) s += st->rets[i];
    m = s / (double)st->nrets;
    if (st->nrets >= 2) {
      double q = 0;
      for (size_t i = 0; i < st->nrets; i++) q += (st->rets[i] - m) * (st->rets[i] - m);
      sd = sqrt(q / (double)(st->nrets - 1));
    }
  }
  st->total_return = st->cagr = st->volatility = st->sharpe = NAN;
  double last = n ? vs[n - 1] : NAN;
  if (n && base > 0) st->total_return = last / base - 1;
  double years = n > 1 ? (double)(ts[n - 1] - ts[0]) / (365.25 * 86400) : 0;
  if (!isnan(st->total_return) && years > 0 && last > 0) st->cagr = pow(last / base, 1 / years) - 1;
  if (sd > 0) {
    st->volatility = sd * sqrt(PERIODS);
    st->sharpe = m / sd * sqrt(PERIODS);
  }
  double peak = base, mdd = 0;
  for (size_t i = 0; i < n; i++) {
    if (vs[i] > peak) peak = vs[i];
    if (peak > 0 && 1 - vs[i] / peak > mdd) mdd = 1 - vs[i] / peak;
  }
  st->max_drawdown = mdd;
  return 0;
}

/* alpha (annualised), beta and correlation of returns a against b; false: too few */
static bool regress(const stats *a, const stats *b, double *alpha, double *beta, double *corr) {
  size_t n = a->nrets < b->nrets ? a->nrets : b->nrets;
  if (n < 3) return false;
  double ma = 0, mb = 0;
  for (size_t i = 0; i < n; i++) ma += a->rets[i], mb += b->rets[i];
  ma /= (double)n, mb /= (double)n;
  double cov = 0, va = 0, vb = 0;
  for (size_t i = 0; i < n; i++) {
    double x = a->rets[i] - ma, y = b->rets[i] - mb;
    cov += x * y, va += x * x, vb += y * y;
  }
  if (vb == 0) return false;
  *beta = cov / vb;
  *alpha = (ma - *beta * mb) * PERIODS;
  *corr = va > 0 ? cov / sqrt(va * vb) : NAN;
  return true;
}

/* ---- drawdown periods --------------------------------------------------------------- */

typedef struct period {
  int64_t start, trough, recovery; /* recovery < start: not recovered */
  double depth;
} period;

/* worse first: deeper, then earlier */
static bool worse(const period *a, const period *b) {
  return a->depth != b->depth ? a->depth > b->depth : a->start < b->start;
}

static void keep_worst(period *top, size_t *ntop, const period *p) {
  size_t i = *ntop < BT_RUN_DAYS_DRAWDOWNS ? (*ntop)++ : BT_RUN_DAYS_DRAWDOWNS;
  while (i > 0 && worse(p, &top[i - 1])) {
    if (i < BT_RUN_DAYS_DRAWDOWNS) top[i] = top[i - 1];
    i--;
  }
  if (i < BT_RUN_DAYS_DRAWDOWNS) top[i] = *p;
}

/* Each period runs from the peak it fell from to the first day back at that peak. */
static size_t drawdowns(const int64_t *ts, const double *vs, size_t n, double base, period *top,
                        size_t *ntop) {
  size_t count = 0;
  double peak = base;
  int64_t peak_t = n ? ts[0] : 0;
  bool in = false;
  period cur = {0};
  *ntop = 0;
  for (size_t i = 0; i < n; i++) {
    if (vs[i] >= peak) {
      if (in) cur.recovery = ts[i], keep_worst(top, ntop, &cur), count++, in = false;
      peak = vs[i], peak_t = ts[i];
    } else {
      double depth = 1 - vs[i] / peak;
      if (!in) cur = (period){peak_t, ts[i], INT64_MIN, depth}, in = true;
      if (depth > cur.depth) cur.depth = depth, cur.trough = ts[i];
    }
  }
  if (in) keep_worst(top, ntop, &cur), count++;
  return count;
}

/* ---- chart lines ---------------------------------------------------------------------- */

/* Each day's x column: charts.lua M.downsample's floor((x - x0) / span * buckets), the
 * same for every line over these days, so computed once. */
static void columns(const int64_t *xs, size_t n, int *col) {
  const int buckets = BT_RUN_DAYS_BUCKETS;
  if (!n) return;
  int64_t x0 = xs[0], span = xs[n - 1] - xs[0] > 0 ? xs[n - 1] - xs[0] : 1;
  for (size_t i = 0; i < n; i++) {
    double f = floor((double)(xs[i] - x0) / (double)span * buckets);
    col[i] = f < buckets - 1 ? (int)f : buckets - 1;
  }
}

/* charts.lua M.downsample: the lowest and highest point of each column, in time order;
 * everything when already small. NAN values are gaps (skipped). */
static size_t downsample(const double *ys, const int *col, size_t n, size_t *idx) {
  if (n <= 2 * (size_t)BT_RUN_DAYS_BUCKETS) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    return n;
  }
  size_t k = 0, lo = 0, hi = 0;
  int cur = -1;
  for (size_t i = 0; i < n; i++) {
    if (isnan(ys[i])) continue;
    if (col[i] != cur) {
      if (cur >= 0) {
        idx[k++] = lo < hi ? lo : hi;
        if (lo != hi) idx[k++] = lo < hi ? hi : lo;
      }
      cur = col[i], lo = hi = i;
    } else {
      if (ys[i] < ys[lo]) lo = i;
      if (ys[i] > ys[hi]) hi = i;
    }
  }
  if (cur >= 0) {
    idx[k++] = lo < hi ? lo : hi;
    if (lo != hi) idx[k++] = lo < hi ? hi : lo;
  }
  return k;
}

/* A reduced line: at most 2 * BT_RUN_DAYS_BUCKETS points. */
typedef struct line {
  size_t k;
  int64_t *xs;
  double *ys;
} line;

static int keep_line(line *l, const int64_t *xs, const double *ys, const size_t *idx, size_t k) {
  l->k = k;
  l->xs = malloc((k ? k : 1) * sizeof *l->xs);
  l->ys = malloc((k ? k : 1) * sizeof *l->ys);
  if (!l->xs || !l->ys) return -1;
  for (size_t j = 0; j < k; j++) l->xs[j] = xs[idx[j]], l->ys[j] = ys[idx[j]];
  return 0;
}

static void free_line(line *l) { free(l->xs), free(l->ys); }

/* ---- monthly and yearly returns ------------------------------------------------------- */

typedef struct period_ret {
  char key[24];
  int64_t year;
  double r;
} period_ret;

typedef struct periods {
  period_ret *pr;
  size_t n;
  char *json; /* {"<key>":r,..}: keys sorted, null returns left out, as lib.json writes */
  size_t json_len;
} periods;

static int cmp_key(const void *a, const void *b) {
  return strcmp(((const period_ret *)a)->key, ((const period_ret *)b)->key);
}

static void digits(char *p, unsigned v, int n) {
  for (int i = n - 1; i >= 0; i--, v /= 10) p[i] = (char)('0' + v % 10);
}

/* "%04lld-%02u" (months) or "%lld" (years) */
static void period_key(char key[24], int64_t y, unsigned m, bool months) {
  if (y >= 0 && y <= 9999 && months) {
    digits(key, (unsigned)y, 4), key[4] = '-', digits(key + 5, m, 2), key[7] = 0;
  } else if (months) {
    snprintf(key, 24, "%04lld-%02u", (long long)y, m);
  } else {
    snprintf(key, 24, "%lld", (long long)y);
  }
}

/* "%.17g" (reads back as the same double) or null for NAN, as lib.json writes */
static void put_num(bt_json_buf *b, double v) {
  if (!isfinite(v)) {
    BT_JSON_PUTS(b, "null");
    return;
  }
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%.17g", v);
  bt_json_put(b, tmp, (size_t)n);
}

/* Each period's last value over the previous period's last value (the first over base).
 * Days ascend, so the calendar is consulted once per period, not per day. */
static int periods_of(periods *out, const int64_t *ts, const double *vs, size_t n, double base,
                      bool months) {
  period_ret *pr = NULL;
  size_t np = 0, cap = 0;
  double prev = base;
  int64_t end = 0; /* the first day after the current period */
  for (size_t i = 0; i <= n; i++) {
    int64_t day = i < n ? bt_run_series_day(ts[i]) : 0;
    if (i > 0 && i < n && day < end) continue;
    if (i > 0) { /* row i-1 closed period np-1 */
      pr[np - 1].r = prev > 0 ? vs[i - 1] / prev - 1 : NAN;
      prev = vs[i - 1];
    }
    if (i == n) break;
    if (BT_GROW(pr, cap, np + 1)) {
      free(pr);
      return -1;
    }
    int64_t y;
    unsigned m, d;
    bt_civil_from_days(day, &y, &m, &d);
    period_key(pr[np].key, y, m, months);
    pr[np++].year = y;
    end = months ? bt_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1)
                 : bt_days_from_civil(y + 1, 1, 1);
  }
  out->pr = pr, out->n = np;
  /* time order is key order unless a year has other than 4 digits */
  period_ret *sorted = pr;
  bool in_order = true;
  for (size_t i = 1; i < np && in_order; i++) in_order = strcmp(pr[i - 1].key, pr[i].key) < 0;
  if (!in_order) {
    if (!(sorted = malloc(np * sizeof *sorted))) return -1;
    memcpy(sorted, pr, np * sizeof *sorted);
    qsort(sorted, np, sizeof *sorted, cmp_key);
  }
  bt_json_buf t = {0};
  bt_json_putc(&t, '{');
  for (size_t i = 0; i < np; i++) {
    if (isnan(sorted[i].r)) continue;
    if (t.len > 1) bt_json_putc(&t, ',');
    bt_json_str(&t, sorted[i].key, strlen(sorted[i].key));
    bt_json_putc(&t, ':');
    put_num(&t, sorted[i].r);
  }
  bt_json_putc(&t, '}');
  if (sorted != pr) free(sorted);
  out->json = bt_json_take(&t, &out->json_len);
  return out->json ? 0 : -1;
}

/* the growth index on `day` (1.0 before the series starts); days ascend between calls */
static double index_at(bt_index_series *s, int64_t day) {
  while (s->at < s->n && s->pts[s->at].day <= day) s->at++;
  return s->at ? s->pts[s->at - 1].value : 1.0;
}

/* ---- compute ---------------------------------------------------------------------------- */

#define ROLLING_WINDOW 126 /* six months of trading days */

typedef struct bench_fig {
  double total_return, cagr, sharpe, max_drawdown, volatility, alpha, beta, corr;
} bench_fig;

struct bt_run_days {
  size_t n;
  bool hb, hx;
  int64_t first, last;
  double last_equity, last_bench, last_extra, volatility;
  line equity, bench, extra, underwater, rolling;
  line tips; /* the equity line's points, with every line's value there */
  double *tip_bench, *tip_extra;
  size_t drawdown_periods, ntop;
  period top[BT_RUN_DAYS_DRAWDOWNS];
  bench_fig bench_stats, extra_stats;
  periods months, years;
  size_t nrets;
  bool has_rolling;
};

static bench_fig fig_of(const stats *st, const stats *strategy) {
  bench_fig f = {st->total_return, st->cagr, st->sharpe, st->max_drawdown, st->volatility, NAN, NAN, NAN};
  regress(strategy, st, &f.alpha, &f.beta, &f.corr);
  return f;
}

int bt_run_days_compute(bt_run_days **out, const bt_run_day *days, size_t n, double init,
                        bt_index_series *bench, bt_index_series *extra, bt_err *err) {
  bt_run_days *d = calloc(1, sizeof *d);
  bool hb = n && bench && bench->pts, hx = n && extra && extra->pts;
  /* memory: what a day needs at once (a 1M-day run keeps no more than it must) */
  size_t cap = n ? n : 1;
  int64_t *ts = malloc(cap * sizeof *ts), *rx = NULL;
  double *eq = malloc(cap * sizeof *eq), *bq = hb ? malloc(cap * sizeof *bq) : NULL,
         *xq = hx ? malloc(cap * sizeof *xq) : NULL, *uw = malloc(cap * sizeof *uw), *ry = NULL;
  size_t *idx = malloc(2 * BT_RUN_DAYS_BUCKETS * sizeof *idx); /* a reduced line's points */
  int *col = malloc(cap * sizeof *col);
  stats se = {0}, sb = {0}, sx = {0};
  int rc = -1;
  if (!d || !ts || !eq || (hb && !bq) || (hx && !xq) || !uw || !idx || !col) goto done;
  d->n = n, d->hb = hb, d->hx = hx;
  double peak = init;
  for (size_t i = 0; i < n; i++) {
    ts[i] = days[i].time;
    eq[i] = bt_dec_to_double(days[i].equity);
    int64_t day = bt_run_series_day(ts[i]);
    if (hb) bq[i] = index_at(bench, day) * init;
    if (hx) xq[i] = index_at(extra, day) * init;
    if (eq[i] > peak) peak = eq[i];
    uw[i] = peak > 0 ? eq[i] / peak - 1 : 0; /* underwater: below the peak so far */
  }
  if (series_stats(ts, eq, n, init, &se) || (hb && series_stats(ts, bq, n, init, &sb)) ||
      (hx && series_stats(ts, xq, n, init, &sx)))
    goto done;
  if (n) {
    d->first = ts[0], d->last = ts[n - 1];
    d->last_equity = eq[n - 1], d->last_bench = hb ? bq[n - 1] : NAN, d->last_extra = hx ? xq[n - 1] : NAN;
  }
  columns(ts, n, col);
  size_t k = downsample(eq, col, n, idx);
  if (keep_line(&d->equity, ts, eq, idx, k) || keep_line(&d->tips, ts, eq, idx, k)) goto done;
  d->tip_bench = malloc((k ? k : 1) * sizeof *d->tip_bench);
  d->tip_extra = malloc((k ? k : 1) * sizeof *d->tip_extra);
  if (!d->tip_bench || !d->tip_extra) goto done;
  for (size_t j = 0; j < k; j++) d->tip_bench[j] = hb ? bq[idx[j]] : NAN, d->tip_extra[j] = hx ? xq[idx[j]] : NAN;
  if (hb && keep_line(&d->bench, ts, bq, idx, downsample(bq, col, n, idx))) goto done;
  if (hx && keep_line(&d->extra, ts, xq, idx, downsample(xq, col, n, idx))) goto done;
  if (keep_line(&d->underwater, ts, uw, idx, downsample(uw, col, n, idx))) goto done;
  free(bq), free(xq), free(uw);
  bq = xq = uw = NULL;
  d->volatility = se.volatility;
  d->drawdown_periods = drawdowns(ts, eq, n, init, d->top, &d->ntop);
  if (hb) d->bench_stats = fig_of(&sb, &se);
  if (hx) d->extra_stats = fig_of(&sx, &se);
  free(sb.rets), free(sx.rets);
  sb.rets = sx.rets = NULL;
  if (periods_of(&d->months, ts, eq, n, init, true) || periods_of(&d->years, ts, eq, n, init, false))
    goto done;

  /* rolling Sharpe of the last ROLLING_WINDOW daily returns, at the window's last day */
  d->nrets = se.nrets;
  if (se.nrets >= ROLLING_WINDOW + 2) {
    const double w = ROLLING_WINDOW, *r = se.rets;
    double sum = 0, sq = 0;
    size_t nr = 0;
    rx = malloc(se.nrets * sizeof *rx), ry = malloc(se.nrets * sizeof *ry);
    if (!rx || !ry) goto done;
    for (size_t i = 1; i <= se.nrets; i++) {
      sum += r[i - 1], sq += r[i - 1] * r[i - 1];
      if (i > ROLLING_WINDOW) sum -= r[i - 1 - ROLLING_WINDOW], sq -= r[i - 1 - ROLLING_WINDOW] * r[i - 1 - ROLLING_WINDOW];
      if (i >= ROLLING_WINDOW) {
        double mean = sum / w, var = (sq - w * mean * mean) / (w - 1);
        rx[nr] = ts[i];
        ry[nr++] = var > 1e-18 ? mean / sqrt(var) * sqrt(PERIODS) : NAN;
      }
    }
    columns(rx, nr, col);
    d->has_rolling = true;
    if (keep_line(&d->rolling, rx, ry, idx, downsample(ry, col, nr, idx))) goto done;
  }
  rc = 0;
done:
  free(se.rets), free(sb.rets), free(sx.rets);
  free(ts), free(rx), free(eq), free(bq), free(xq), free(uw), free(ry), free(idx), free(col);
  if (rc) {
    bt_run_days_free(d);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  *out = d;
  return 0;
}

void bt_run_days_free(bt_run_days *d) {
  if (!d) return;
  line *ls[] = {&d->equity, &d->bench, &d->extra, &d->underwater, &d->rolling, &d->tips};
  for (size_t i = 0; i < sizeof ls / sizeof ls[0]; i++) free_line(ls[i]);
  free(d->tip_bench), free(d->tip_extra);
  free(d->months.pr), free(d->months.json), free(d->years.pr), free(d->years.json);
  free(d);
}

/* ---- push --------------------------------------------------------------------------------- */

static void set_nums(lua_State *L, const char *key, const double *v, size_t k) {
  lua_createtable(L, (int)k, 0);
  for (size_t j = 0; j < k; j++) {
    bt_formats_push_num(L, v[j]);
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
  lua_setfield(L, -2, key);
}

static void set_times(lua_State *L, const char *key, const int64_t *v, size_t k) {
  lua_createtable(L, (int)k, 0);
  for (size_t j = 0; j < k; j++) {
    bt_formats_push_num(L, (double)v[j]);
    lua_rawseti(L, -2, (lua_Integer)j + 1);
  }
  lua_setfield(L, -2, key);
}

static void set_line(lua_State *L, const char *key, const line *l) {
  lua_newtable(L);
  set_times(L, "xs", l->xs, l->k);
  set_nums(L, "ys", l->ys, l->k);
  lua_setfield(L, -2, key);
}

static void set_fig(lua_State *L, const char *key, const bench_fig *f) {
  lua_newtable(L);
  bt_formats_set_num(L, "total_return", f->total_return);
  bt_formats_set_num(L, "cagr", f->cagr);
  bt_formats_set_num(L, "sharpe", f->sharpe);
  bt_formats_set_num(L, "max_drawdown", f->max_drawdown);
  bt_formats_set_num(L, "volatility", f->volatility);
  bt_formats_set_num(L, "alpha", f->alpha);
  bt_formats_set_num(L, "beta", f->beta);
  bt_formats_set_num(L, "correlation", f->corr);
  lua_setfield(L, -2, key);
}

static void set_periods(lua_State *L, const char *name, const periods *p, bool months) {
  char key[32];
  lua_createtable(L, (int)p->n, 0);
  for (size_t i = 0; i < p->n; i++) {
    bt_formats_push_num(L, p->pr[i].r);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, name);
  lua_createtable(L, (int)p->n, 0);
  for (size_t i = 0; i < p->n; i++) {
    if (months) lua_pushstring(L, p->pr[i].key);
    else bt_formats_push_num(L, (double)p->pr[i].year);
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  snprintf(key, sizeof key, "%s_keys", name);
  lua_setfield(L, -2, key);
  lua_pushlstring(L, p->json, p->json_len);
  snprintf(key, sizeof key, "%s_json", name);
  lua_setfield(L, -2, key);
}

void bt_run_days_push(lua_State *L, const bt_run_days *d) {
  lua_newtable(L);
  bt_formats_set_num(L, "rows", (double)d->n);
  bt_formats_set_num(L, "stride", 1); /* every row is used */
  if (d->n) {
    bt_formats_set_num(L, "first", (double)d->first);
    bt_formats_set_num(L, "last", (double)d->last);
    bt_formats_set_num(L, "last_equity", d->last_equity);
    bt_formats_set_num(L, "last_bench", d->last_bench);
    bt_formats_set_num(L, "last_extra", d->last_extra);
  }
  set_line(L, "equity", &d->equity);
  if (d->hb) set_line(L, "bench", &d->bench);
  if (d->hx) set_line(L, "extra", &d->extra);
  lua_newtable(L);
  set_times(L, "xs", d->tips.xs, d->tips.k);
  set_nums(L, "equity", d->tips.ys, d->tips.k);
  set_nums(L, "bench", d->tip_bench, d->tips.k);
  set_nums(L, "extra", d->tip_extra, d->tips.k);
  lua_setfield(L, -2, "tips");
  set_line(L, "underwater", &d->underwater);
  bt_formats_set_num(L, "volatility", d->volatility);
  bt_formats_set_num(L, "drawdown_periods", (double)d->drawdown_periods);
  lua_createtable(L, (int)d->ntop, 0);
  for (size_t i = 0; i < d->ntop; i++) {
    const period *p = &d->top[i];
    bool rec = p->recovery != INT64_MIN;
    lua_newtable(L);
    bt_formats_set_num(L, "start", (double)p->start);
    bt_formats_set_num(L, "trough", (double)p->trough);
    bt_formats_set_num(L, "depth", p->depth);
    if (rec) bt_formats_set_num(L, "recovery", (double)p->recovery);
    bt_formats_set_num(L, "days", (double)(((rec ? p->recovery : d->last) - p->start) / 86400));
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
  lua_setfield(L, -2, "drawdowns");
  if (d->hb) set_fig(L, "bench_stats", &d->bench_stats);
  if (d->hx) set_fig(L, "extra_stats", &d->extra_stats);
  set_periods(L, "months", &d->months, true);
  set_periods(L, "years", &d->years, false);
  lua_newtable(L);
  bt_formats_set_num(L, "returns", (double)d->nrets);
  if (d->has_rolling) {
    set_times(L, "xs", d->rolling.xs, d->rolling.k);
    set_nums(L, "ys", d->rolling.ys, d->rolling.k);
  }
  lua_setfield(L, -2, "rolling");
}
