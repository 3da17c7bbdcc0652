/* run_days.c - see run_days.h. The formulas are run_report.lua's former per-row Lua,
 * operation for operation (x^2 as x*x, as Lua computes it), so the figures are the
 * same doubles. Every figure is computed while reading the run's days in order (three
 * passes: values, deviations from the means, returns paired with the benchmarks'),
 * not from arrays of per-day values: on a 1M-day run those were ~70 MB of memory
 * written once and read once, and the page faults of getting it cost more than the
 * arithmetic. */
#include "run_days.h"

#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decimal.h"
#include "formats.h"
#include "grow.h"
#include "json.h"

#define PERIODS 252 /* trading days a year, as in metrics.h */

/* ---- the days as lines of doubles ------------------------------------------------------ */

/* the growth index on `day` (1.0 before the series starts); days ascend between calls */
static inline double index_at(bt_index_series *s, int64_t day) {
  while (s->at < s->n && s->pts[s->at].day <= day) s->at++;
  return s->at ? s->pts[s->at - 1].value : 1.0;
}

/* A line read day by day: the equity, or a benchmark's growth index times the starting
 * capital (idx.pts set). Benchmarks are looked up through a cursor, so a line is read
 * in ascending day order; each pass reads its own copy. */
typedef struct src {
  const bt_run_day *days;
  size_t n;
  bt_index_series idx;
  double init;
} src;

/* a benchmark line's value on day number `day` */
static inline double bench_at(src *s, int64_t day) { return index_at(&s->idx, day) * s->init; }

static inline double src_at(src *s, size_t i) {
  if (!s->idx.pts) return bt_dec_to_double(s->days[i].equity);
  return bench_at(s, bt_run_series_day(s->days[i].time));
}

/* the benchmark lines present (1, 2) into bl; returns how many */
static int bench_lines(const src *ls, int bl[2]) {
  int nb = 0;
  for (int j = 1; j < 3; j++)
    if (ls[j].days) bl[nb++] = j;
  return nb;
}

/* The returns between consecutive values of a line (a value <= 0 starts none), in order. */
typedef struct rets {
  src s;
  size_t i;
  double prev;
} rets;

static rets rets_of(const src *s) {
  rets w = {*s, 0, 0};
  w.s.idx.at = 0;
  if (s->n) w.prev = src_at(&w.s, 0);
  return w;
}

/* the next day (false: none left); *has: that day has a return, *r */
static bool rets_step(rets *w, bool *has, double *r) {
  if (w->i + 1 >= w->s.n) return false;
  double v = src_at(&w->s, ++w->i), p = w->prev;
  w->prev = v;
  if ((*has = p > 0)) *r = v / p - 1;
  return true;
}

static bool rets_next(rets *w, double *r) {
  bool has = false;
  while (rets_step(w, &has, r) && !has) {}
  return has;
}

/* ---- series statistics ------------------------------------------------------------------ */

typedef struct stats {
  size_t nrets;
  double sum, q, peak, mdd, last;
  double total_return, cagr, volatility, sharpe, max_drawdown; /* NAN: none */
} stats;

static void stats_start(stats *st, double base) { *st = (stats){.peak = base}; }

/* day i with value v (prev: day i-1's) */
static inline void stats_day(stats *st, size_t i, double v, double prev) {
  if (i > 0 && prev > 0) st->sum += v / prev - 1, st->nrets++;
  if (v > st->peak) st->peak = v;
  if (st->peak > 0 && 1 - v / st->peak > st->mdd) st->mdd = 1 - v / st->peak;
  st->last = v;
}

static double stats_mean(const stats *st) { return st->nrets ? st->sum / (double)st->nrets : NAN; }

/* st->q holds the squared deviations from the mean (when nrets >= 2) */
static void stats_finish(stats *st, const bt_run_day *days, size_t n, double base) {
  double m = stats_mean(st), sd = st->nrets >= 2 ? sqrt(st->q / (double)(st->nrets - 1)) : NAN;
  st->total_return = st->cagr = st->volatility = st->sharpe = NAN;
  double last = n ? st->last : NAN;
  if (n && base > 0) st->total_return = last / base - 1;
  double years = n > 1 ? (double)(days[n - 1].time - days[0].time) / (365.25 * 86400) : 0;
  if (!isnan(st->total_return) && years > 0 && last > 0) st->cagr = pow(last / base, 1 / years) - 1;
  if (sd > 0) {
    st->volatility = sd * sqrt(PERIODS);
    st->sharpe = m / sd * sqrt(PERIODS);
  }
  st->max_drawdown = st->mdd;
}

/* alpha (annualised), beta and correlation of the strategy's returns against a
 * benchmark's, paired in order over the first n of each (n: the shorter count) */
typedef struct regress {
  size_t n;
  bool in_step; /* both lines have their returns on the same days */
  double ma, mb, cov, va, vb;
} regress;

static void regress_finish(const regress *g, double *alpha, double *beta, double *corr) {
  if (g->n < 3 || g->vb == 0) return; /* too few, or a flat benchmark: NAN */
  *beta = g->cov / g->vb;
  *alpha = (g->ma - *beta * g->mb) * PERIODS;
  *corr = g->va > 0 ? g->cov / sqrt(g->va * g->vb) : NAN;
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

/* Each period runs from the peak it fell from to the first day back at that peak;
 * the worst BT_RUN_DAYS_DRAWDOWNS are kept. */
typedef struct drawdowns {
  size_t count, ntop;
  period top[BT_RUN_DAYS_DRAWDOWNS], cur;
  double peak;
  int64_t peak_t;
  bool in;
} drawdowns;

static void keep_worst(drawdowns *dd) {
  size_t i = dd->ntop < BT_RUN_DAYS_DRAWDOWNS ? dd->ntop++ : BT_RUN_DAYS_DRAWDOWNS;
  while (i > 0 && worse(&dd->cur, &dd->top[i - 1])) {
    if (i < BT_RUN_DAYS_DRAWDOWNS) dd->top[i] = dd->top[i - 1];
    i--;
  }
  if (i < BT_RUN_DAYS_DRAWDOWNS) dd->top[i] = dd->cur;
  dd->count++;
}

static void drawdowns_day(drawdowns *dd, int64_t t, double v) {
  if (v >= dd->peak) {
    if (dd->in) dd->cur.recovery = t, keep_worst(dd), dd->in = false;
    dd->peak = v, dd->peak_t = t;
  } else {
    double depth = 1 - v / dd->peak;
    if (!dd->in) dd->cur = (period){dd->peak_t, t, INT64_MIN, depth}, dd->in = true;
    if (depth > dd->cur.depth) dd->cur.depth = depth, dd->cur.trough = t;
  }
}

/* ---- chart lines ---------------------------------------------------------------------- */

/* A day's x column: charts.lua M.downsample's floor((x - x0) / span * buckets), the same
 * for every line over these days. It never decreases as x grows, so it is computed
 * again only when x reaches the first x of the next column (found by bisection: a few
 * dozen evaluations per column instead of one per day). */
typedef struct columns {
  int64_t x0, span;
  int col;      /* the column of the latest x, -1 before the first */
  int64_t next; /* the first x of a later column */
} columns;

static columns columns_of(int64_t first, int64_t last) {
  return (columns){first, last - first > 0 ? last - first : 1, -1, 0};
}

static int column_at(const columns *c, int64_t x) {
  const int buckets = BT_RUN_DAYS_BUCKETS;
  double f = floor((double)(x - c->x0) / (double)c->span * buckets);
  return f < buckets - 1 ? (int)f : buckets - 1;
}

/* x ascends between calls */
static inline int column(columns *c, int64_t x) {
  if (c->col >= 0 && x < c->next) return c->col;
  c->col = column_at(c, x);
  int64_t lo = x + 1, hi = c->x0 + c->span; /* the last x is in the last column */
  if (c->col == BT_RUN_DAYS_BUCKETS - 1 || lo > hi) lo = INT64_MAX;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (column_at(c, mid) > c->col) hi = mid;
    else lo = mid + 1;
  }
  c->next = lo;
  return c->col;
}

/* A reduced line: at most 2 * BT_RUN_DAYS_BUCKETS points (idx: their day numbers). */
typedef struct line {
  size_t k;
  int64_t *xs;
  double *ys;
  size_t *idx;
} line;

static int line_alloc(line *l, size_t n) {
  size_t cap = n < 2 * (size_t)BT_RUN_DAYS_BUCKETS ? n : 2 * (size_t)BT_RUN_DAYS_BUCKETS;
  l->k = 0;
  l->xs = malloc((cap ? cap : 1) * sizeof *l->xs);
  l->ys = malloc((cap ? cap : 1) * sizeof *l->ys);
  l->idx = malloc((cap ? cap : 1) * sizeof *l->idx);
  return l->xs && l->ys && l->idx ? 0 : -1;
}

static void free_line(line *l) { free(l->xs), free(l->ys), free(l->idx); }

static void line_add(line *l, size_t i, int64_t x, double y) {
  l->idx[l->k] = i, l->xs[l->k] = x, l->ys[l->k++] = y;
}

/* charts.lua M.downsample, fed a point at a time: the lowest and highest point of each
 * column, in time order; everything when the line is already small. NAN values are
 * gaps (skipped). */
typedef struct sampler {
  line *out;
  bool all;
  int cur;              /* the column being reduced, -1 before the first */
  size_t lo, hi;        /* its lowest and highest point so far */
  int64_t xlo, xhi;
  double ylo, yhi;
} sampler;

static sampler sampler_of(line *out, size_t n) {
  return (sampler){.out = out, .all = n <= 2 * (size_t)BT_RUN_DAYS_BUCKETS, .cur = -1};
}

static void sampler_flush(sampler *s) {
  bool lo_first = s->lo < s->hi;
  if (lo_first || s->lo == s->hi) line_add(s->out, s->lo, s->xlo, s->ylo);
  else line_add(s->out, s->hi, s->xhi, s->yhi);
  if (s->lo != s->hi) {
    if (lo_first) line_add(s->out, s->hi, s->xhi, s->yhi);
    else line_add(s->out, s->lo, s->xlo, s->ylo);
  }
}

static inline void sampler_add(sampler *s, size_t i, int col, int64_t x, double y) {
  if (s->all) {
    line_add(s->out, i, x, y);
    return;
  }
  if (isnan(y)) return;
  if (col != s->cur) {
    if (s->cur >= 0) sampler_flush(s);
    s->cur = col, s->lo = s->hi = i, s->xlo = s->xhi = x, s->ylo = s->yhi = y;
  } else {
    if (y < s->ylo) s->lo = i, s->xlo = x, s->ylo = y;
    if (y > s->yhi) s->hi = i, s->xhi = x, s->yhi = y;
  }
}

static void sampler_finish(sampler *s) {
  if (!s->all && s->cur >= 0) sampler_flush(s);
}

/* ---- monthly and yearly returns ------------------------------------------------------- */

typedef struct period_ret {
  char key[24];
  int64_t year;
  double r;
} period_ret;

/* Each period's last value over the previous period's last value (the first over base).
 * Days ascend, so the calendar is consulted once per period, not per day. */
typedef struct periods {
  bool months;
  period_ret *pr;
  size_t n, cap;
  double prev;  /* the previous period's last value */
  int64_t end;  /* the first day after the current period */
  char *json;   /* {"<key>":r,..}: keys sorted, null returns left out, as lib.json writes */
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

/* the current period ends with value v */
static void periods_close(periods *p, double v) {
  p->pr[p->n - 1].r = p->prev > 0 ? v / p->prev - 1 : NAN;
  p->prev = v;
}

/* day number `day` of row i starts a new period; before: row i-1's value */
static int periods_start(periods *p, size_t i, int64_t day, double before) {
  if (i > 0) periods_close(p, before);
  if (BT_GROW(p->pr, p->cap, p->n + 1)) return -1;
  int64_t y;
  unsigned m, d;
  bt_civil_from_days(day, &y, &m, &d);
  period_key(p->pr[p->n].key, y, m, p->months);
  p->pr[p->n++].year = y;
  p->end = p->months ? bt_next_month_day(y, m) : bt_days_from_civil(y + 1, 1, 1);
  return 0;
}

/* "%.17g" (reads back as the same double) or null for NAN, as lib.json writes */
static void put_num(bt_json_buf *b, double v) {
  if (!isfinite(v)) {
    BT_JSON_PUTS(b, "null");
    return;
  }
  char tmp[BT_G17_MAX];
  bt_json_put(b, tmp, (size_t)(bt_g17_put(v, tmp) - tmp));
}

static int periods_json(periods *p) {
  /* time order is key order unless a year has other than 4 digits */
  period_ret *sorted = p->pr;
  bool in_order = true;
  for (size_t i = 1; i < p->n && in_order; i++) in_order = strcmp(p->pr[i - 1].key, p->pr[i].key) < 0;
  if (!in_order) {
    if (!(sorted = malloc(p->n * sizeof *sorted))) return -1;
    memcpy(sorted, p->pr, p->n * sizeof *sorted);
    qsort(sorted, p->n, sizeof *sorted, cmp_key);
  }
  bt_json_buf t = {0};
  bt_json_putc(&t, '{');
  for (size_t i = 0; i < p->n; i++) {
    if (isnan(sorted[i].r)) continue;
    if (t.len > 1) bt_json_putc(&t, ',');
    bt_json_str(&t, sorted[i].key, strlen(sorted[i].key));
    bt_json_putc(&t, ':');
    put_num(&t, sorted[i].r);
  }
  bt_json_putc(&t, '}');
  if (sorted != p->pr) free(sorted);
  p->json = bt_json_take(&t, &p->json_len);
  return p->json ? 0 : -1;
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
  double *tip_bench, *tip_extra; /* every line's value at the equity line's points */
  drawdowns dd;
  bench_fig bench_stats, extra_stats;
  periods months, years;
  size_t nrets;
  bool has_rolling;
};

static bench_fig fig_of(const stats *st, const regress *g) {
  bench_fig f = {st->total_return, st->cagr, st->sharpe, st->max_drawdown, st->volatility, NAN, NAN, NAN};
  regress_finish(g, &f.alpha, &f.beta, &f.corr);
  return f;
}

/* Pass 1: every value once: the statistics' sums, the chart lines, drawdown periods,
 * monthly and yearly returns; whether each benchmark's returns fall on the strategy's
 * days. ls[0] is the equity; absent lines have no days. */
static int pass_values(bt_run_days *d, const src *lines, stats *st, regress *g, double init) {
  src ls[3] = {lines[0], lines[1], lines[2]}; /* this pass's cursors */
  const bt_run_day *days = ls[0].days;
  size_t n = d->n;
  int bl[2], nb = bench_lines(ls, bl);
  line *out[3] = {&d->equity, &d->bench, &d->extra};
  sampler sm[3], uw = sampler_of(&d->underwater, n);
  for (int j = 0; j < 3; j++) sm[j] = sampler_of(out[j], n);
  columns cols = columns_of(n ? days[0].time : 0, n ? days[n - 1].time : 0);
  double prev[3] = {0};
  d->dd.peak = init, d->dd.peak_t = n ? days[0].time : 0;
  for (size_t i = 0; i < n; i++) {
    int64_t t = days[i].time, day = bt_run_series_day(t);
    int col = column(&cols, t);
    double v = bt_dec_to_double(days[i].equity), before = prev[0];
    stats_day(&st[0], i, v, before);
    sampler_add(&sm[0], i, col, t, v);
    for (int b = 0; b < nb; b++) {
      int j = bl[b];
      double x = bench_at(&ls[j], day);
      if (i > 0 && (prev[j] > 0) != (before > 0)) g[j].in_step = false;
      stats_day(&st[j], i, x, prev[j]);
      sampler_add(&sm[j], i, col, t, x);
      prev[j] = x;
    }
    double peak = st[0].peak; /* the equity's peak so far, this day included */
    sampler_add(&uw, i, col, t, peak > 0 ? v / peak - 1 : 0); /* underwater: below the peak so far */
    drawdowns_day(&d->dd, t, v);
    if ((i == 0 || day >= d->months.end) && periods_start(&d->months, i, day, before)) return -1;
    if ((i == 0 || day >= d->years.end) && periods_start(&d->years, i, day, before)) return -1;
    prev[0] = v;
  }
  d->last_equity = prev[0];
  if (d->dd.in) keep_worst(&d->dd);
  if (n) periods_close(&d->months, prev[0]), periods_close(&d->years, prev[0]);
  for (int j = 0; j < 3; j++) sampler_finish(&sm[j]);
  sampler_finish(&uw);
  return 0;
}

/* The rolling Sharpe of the last ROLLING_WINDOW of the strategy's returns, at the
 * window's last day; fed the returns in order. */
typedef struct rolling {
  double ring[ROLLING_WINDOW], sum, sq;
  columns cols;
  sampler s;
} rolling;

static void rolling_add(rolling *ro, const bt_run_day *days, size_t k, double r) { /* k: 1-based */
  const double w = ROLLING_WINDOW;
  double old = ro->ring[(k - 1) % ROLLING_WINDOW];
  ro->ring[(k - 1) % ROLLING_WINDOW] = r;
  ro->sum += r, ro->sq += r * r;
  if (k > ROLLING_WINDOW) ro->sum -= old, ro->sq -= old * old;
  if (k < ROLLING_WINDOW) return;
  double mean = ro->sum / w, var = (ro->sq - w * mean * mean) / (w - 1);
  int64_t x = days[k].time; /* the k-th return sits at the k-th day's time, as the page had it */
  sampler_add(&ro->s, k - ROLLING_WINDOW, column(&ro->cols, x), x,
              var > 1e-18 ? mean / sqrt(var) * sqrt(PERIODS) : NAN);
}

/* Pass 2: each line's squared deviations from its mean; the covariances of the
 * strategy's returns with a benchmark's whose returns fall on the same days (g.in_step:
 * the pairs are the days', the means pass 1's sums); the rolling Sharpe. */
static int pass_deviations(bt_run_days *d, const src *lines, stats *st, regress *g) {
  src ls[3] = {lines[0], lines[1], lines[2]}; /* this pass's cursors */
  const bt_run_day *days = ls[0].days;
  size_t n = d->n, nrets = st[0].nrets;
  int bl[2], nb = bench_lines(ls, bl);
  double m[3], prev[3] = {0};
  for (int j = 0; j < 3; j++) m[j] = stats_mean(&st[j]);
  for (int j = 1; j < 3; j++)
    if (g[j].in_step && g[j].n >= 3) g[j].ma = st[0].sum / (double)g[j].n, g[j].mb = st[j].sum / (double)g[j].n;
  rolling ro = {0};
  if ((d->has_rolling = nrets >= ROLLING_WINDOW + 2)) {
    if (line_alloc(&d->rolling, nrets - ROLLING_WINDOW + 1)) return -1;
    ro.s = sampler_of(&d->rolling, nrets - ROLLING_WINDOW + 1);
    ro.cols = columns_of(days[ROLLING_WINDOW].time, days[nrets].time);
  }
  size_t k = 0; /* the strategy's returns so far */
  for (size_t i = 0; i < n; i++) {
    double v = bt_dec_to_double(days[i].equity), r0 = 0;
    bool has0 = i > 0 && prev[0] > 0;
    if (has0) {
      r0 = v / prev[0] - 1;
      if (st[0].nrets >= 2) st[0].q += (r0 - m[0]) * (r0 - m[0]);
    }
    prev[0] = v;
    int64_t day = nb ? bt_run_series_day(days[i].time) : 0;
    for (int b = 0; b < nb; b++) {
      int j = bl[b];
      double x = bench_at(&ls[j], day), p = prev[j];
      prev[j] = x;
      if (i == 0 || !(p > 0)) continue;
      double r = x / p - 1;
      if (st[j].nrets >= 2) st[j].q += (r - m[j]) * (r - m[j]);
      if (g[j].in_step && g[j].n >= 3) { /* in step: has0 too */
        double dx = r0 - g[j].ma, dy = r - g[j].mb;
        g[j].cov += dx * dy, g[j].va += dx * dx, g[j].vb += dy * dy;
      }
    }
    if (has0 && d->has_rolling) rolling_add(&ro, days, ++k, r0);
  }
  if (d->has_rolling) sampler_finish(&ro.s);
  return 0;
}

/* Pass 3, only for a benchmark whose returns fall on other days than the strategy's
 * (a value <= 0 in one of them): the k-th return of each is paired, as the page did. */
static void pass_pairs(const src *eq, const src *bench, regress *g) {
  rets wa = rets_of(eq), wb = rets_of(bench);
  double a, b;
  for (size_t i = 0; i < g->n && rets_next(&wa, &a) && rets_next(&wb, &b); i++) g->ma += a, g->mb += b;
  g->ma /= (double)g->n, g->mb /= (double)g->n;
  wa = rets_of(eq), wb = rets_of(bench);
  for (size_t i = 0; i < g->n && rets_next(&wa, &a) && rets_next(&wb, &b); i++) {
    double x = a - g->ma, y = b - g->mb;
    g->cov += x * y, g->va += x * x, g->vb += y * y;
  }
}

int bt_run_days_compute(bt_run_days **out, const bt_run_day *days, size_t n, double init,
                        bt_index_series *bench, bt_index_series *extra, bt_err *err) {
  bt_run_days *d = calloc(1, sizeof *d);
  bool hb = n && bench && bench->pts, hx = n && extra && extra->pts;
  /* the lines: the equity, the benchmark(s) (no days: absent) */
  src ls[3] = {{days, n, {0}, init}};
  if (hb) ls[1] = (src){days, n, {bench->pts, bench->n, 0}, init};
  if (hx) ls[2] = (src){days, n, {extra->pts, extra->n, 0}, init};
  stats st[3];
  regress g[3] = {{0}};
  int rc = -1;
  if (!d || line_alloc(&d->equity, n) || line_alloc(&d->underwater, n) || (hb && line_alloc(&d->bench, n)) ||
      (hx && line_alloc(&d->extra, n)))
    goto done;
  d->n = n, d->hb = hb, d->hx = hx;
  d->months.months = true, d->months.prev = d->years.prev = init;
  for (int j = 0; j < 3; j++) stats_start(&st[j], init);
  for (int j = 1; j < 3; j++) g[j].in_step = true;
  if (pass_values(d, ls, st, g, init)) goto done;
  for (int j = 1; j < 3; j++) g[j].n = st[0].nrets < st[j].nrets ? st[0].nrets : st[j].nrets;
  if (pass_deviations(d, ls, st, g)) goto done;
  for (int j = 1; j < 3; j++)
    if (ls[j].days && !g[j].in_step && g[j].n >= 3) pass_pairs(&ls[0], &ls[j], &g[j]);
  for (int j = 0; j < 3; j++) stats_finish(&st[j], days, n, init);
  if (n) {
    d->first = days[0].time, d->last = days[n - 1].time;
    d->last_bench = hb ? st[1].last : NAN, d->last_extra = hx ? st[2].last : NAN;
  }
  d->volatility = st[0].volatility;
  d->nrets = st[0].nrets;
  if (hb) d->bench_stats = fig_of(&st[1], &g[1]);
  if (hx) d->extra_stats = fig_of(&st[2], &g[2]);
  /* every line's value at the equity line's points (ascending days: one cursor each) */
  size_t k = d->equity.k;
  d->tip_bench = malloc((k ? k : 1) * sizeof *d->tip_bench);
  d->tip_extra = malloc((k ? k : 1) * sizeof *d->tip_extra);
  if (!d->tip_bench || !d->tip_extra) goto done;
  for (size_t j = 0; j < k; j++) {
    d->tip_bench[j] = hb ? src_at(&ls[1], d->equity.idx[j]) : NAN;
    d->tip_extra[j] = hx ? src_at(&ls[2], d->equity.idx[j]) : NAN;
  }
  if (periods_json(&d->months) || periods_json(&d->years)) goto done;
  rc = 0;
done:
  if (rc) {
    bt_run_days_free(d);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  *out = d;
  return 0;
}

void bt_run_days_free(bt_run_days *d) {
  if (!d) return;
  line *ls[] = {&d->equity, &d->bench, &d->extra, &d->underwater, &d->rolling};
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
  set_times(L, "xs", d->equity.xs, d->equity.k);
  set_nums(L, "equity", d->equity.ys, d->equity.k);
  set_nums(L, "bench", d->tip_bench, d->equity.k);
  set_nums(L, "extra", d->tip_extra, d->equity.k);
  lua_setfield(L, -2, "tips");
  set_line(L, "underwater", &d->underwater);
  bt_formats_set_num(L, "volatility", d->volatility);
  bt_formats_set_num(L, "drawdown_periods", (double)d->dd.count);
  lua_createtable(L, (int)d->dd.ntop, 0);
  for (size_t i = 0; i < d->dd.ntop; i++) {
    const period *p = &d->dd.top[i];
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
