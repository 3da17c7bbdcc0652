/* run_days.c - see run_days.h. The formulas are run_report.lua's former per-row Lua,
 * operation for operation (x^2 as x*x, as Lua computes it), so the figures are the
 * same doubles. */
#include "run_days.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"

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

/* charts.lua M.downsample: the lowest and highest point of each of `buckets` equal time
 * ranges, in time order; everything when already small. NAN values are gaps (skipped). */
static size_t downsample(const int64_t *xs, const double *ys, size_t n, size_t *idx) {
  const int buckets = BT_RUN_DAYS_BUCKETS;
  if (n <= 2 * (size_t)buckets) {
    for (size_t i = 0; i < n; i++) idx[i] = i;
    return n;
  }
  int64_t x0 = xs[0], span = xs[n - 1] - xs[0] > 0 ? xs[n - 1] - xs[0] : 1;
  size_t k = 0, lo = 0, hi = 0;
  int cur = -1;
  for (size_t i = 0; i < n; i++) {
    if (isnan(ys[i])) continue;
    double f = floor((double)(xs[i] - x0) / (double)span * buckets);
    int bk = f < buckets - 1 ? (int)f : buckets - 1;
    if (bk != cur) {
      if (cur >= 0) {
        idx[k++] = lo < hi ? lo : hi;
        if (lo != hi) idx[k++] = lo < hi ? hi : lo;
      }
      cur = bk, lo = hi = i;
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

/* "%.17g" (reads back as the same double, cheaper than the shortest form for
 * arbitrary ratios) or null for NAN */
static void put_num(bt_json_buf *b, double v) {
  if (!isfinite(v)) {
    BT_JSON_PUTS(b, "null");
    return;
  }
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%.17g", v);
  bt_json_put(b, tmp, (size_t)n);
}

static void put_list(bt_json_buf *b, const char *key, const int64_t *xs, const double *ys,
                     const size_t *idx, size_t k, bool times) {
  bt_json_printf(b, "\"%s\":[", key);
  for (size_t j = 0; j < k; j++) {
    if (j) bt_json_putc(b, ',');
    if (times) bt_json_int(b, xs[idx[j]]);
    else put_num(b, ys[idx[j]]);
  }
  bt_json_putc(b, ']');
}

/* "key":{"xs":[..],"ys":[..]} of the reduced line; idx: room for n */
static void put_line(bt_json_buf *b, const char *key, const int64_t *xs, const double *ys, size_t n,
                     size_t *idx) {
  size_t k = downsample(xs, ys, n, idx);
  bt_json_printf(b, ",\"%s\":{", key);
  put_list(b, "xs", xs, ys, idx, k, true);
  bt_json_putc(b, ',');
  put_list(b, "ys", xs, ys, idx, k, false);
  bt_json_putc(b, '}');
}

static void put_stats(bt_json_buf *b, const char *key, const stats *st, const stats *strategy) {
  double alpha = NAN, beta = NAN, corr = NAN;
  regress(strategy, st, &alpha, &beta, &corr);
  bt_json_printf(b, ",\"%s\":{\"total_return\":", key);
  put_num(b, st->total_return);
  BT_JSON_PUTS(b, ",\"cagr\":");
  put_num(b, st->cagr);
  BT_JSON_PUTS(b, ",\"sharpe\":");
  put_num(b, st->sharpe);
  BT_JSON_PUTS(b, ",\"max_drawdown\":");
  put_num(b, st->max_drawdown);
  BT_JSON_PUTS(b, ",\"volatility\":");
  put_num(b, st->volatility);
  BT_JSON_PUTS(b, ",\"alpha\":");
  put_num(b, alpha);
  BT_JSON_PUTS(b, ",\"beta\":");
  put_num(b, beta);
  BT_JSON_PUTS(b, ",\"correlation\":");
  put_num(b, corr);
  bt_json_putc(b, '}');
}

/* ---- monthly and yearly returns ------------------------------------------------------- */

typedef struct period_ret {
  char key[24];
  double r;
} period_ret;

static int cmp_key(const void *a, const void *b) {
  return strcmp(((const period_ret *)a)->key, ((const period_ret *)b)->key);
}

/* Each period's last value over the previous period's last value (the first over base):
 * "<name>_keys":["YYYY-MM",..] (or [Y,..]) and "<name>":[r,..] for the page, and
 * "<name>_json": the text of {"<key>":r,..} with keys sorted and null returns left out,
 * exactly as the page's lib.json writes its data block (so Lua need not). Days ascend,
 * so the calendar is consulted once per period, not per day. */
static int put_periods(bt_json_buf *b, const int64_t *ts, const double *vs, size_t n, double base,
                       bool months) {
  const char *name = months ? "months" : "years";
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
    if (months) snprintf(pr[np].key, sizeof pr[np].key, "%04lld-%02u", (long long)y, m);
    else snprintf(pr[np].key, sizeof pr[np].key, "%lld", (long long)y);
    np++;
    end = months ? bt_days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1)
                 : bt_days_from_civil(y + 1, 1, 1);
  }
  bt_json_printf(b, ",\"%s\":[", name);
  for (size_t i = 0; i < np; i++) {
    if (i) bt_json_putc(b, ',');
    put_num(b, pr[i].r);
  }
  bt_json_printf(b, "],\"%s_keys\":[", name);
  for (size_t i = 0; i < np; i++) {
    if (i) bt_json_putc(b, ',');
    if (months) bt_json_str(b, pr[i].key, strlen(pr[i].key));
    else bt_json_put(b, pr[i].key, strlen(pr[i].key));
  }
  bt_json_printf(b, "],\"%s_json\":", name);
  /* time order is key order unless a year has other than 4 digits */
  bool sorted = true;
  for (size_t i = 1; i < np && sorted; i++) sorted = strcmp(pr[i - 1].key, pr[i].key) < 0;
  if (!sorted) qsort(pr, np, sizeof *pr, cmp_key);
  bt_json_buf t = {0};
  bt_json_putc(&t, '{');
  for (size_t i = 0; i < np; i++) {
    if (isnan(pr[i].r)) continue;
    if (t.len > 1) bt_json_putc(&t, ',');
    bt_json_str(&t, pr[i].key, strlen(pr[i].key));
    bt_json_putc(&t, ':');
    put_num(&t, pr[i].r);
  }
  bt_json_putc(&t, '}');
  if (t.failed) b->failed = true;
  else bt_json_str(b, t.data, t.len);
  bt_json_free(&t);
  free(pr);
  return 0;
}

/* the growth index on `day` (1.0 before the series starts); days ascend between calls */
static double index_at(bt_index_series *s, int64_t day) {
  while (s->at < s->n && s->pts[s->at].day <= day) s->at++;
  return s->at ? s->pts[s->at - 1].value : 1.0;
}

/* ---- the object ------------------------------------------------------------------------ */

#define ROLLING_WINDOW 126 /* six months of trading days */

int bt_run_days_json(const bt_run_day *days, size_t n, double init, bt_index_series *bench,
                     bt_index_series *extra, bt_json_buf *b, bt_err *err) {
  bool hb = n && bench && bench->pts, hx = n && extra && extra->pts;
  size_t cap = n ? n : 1;
  int64_t *ts = malloc(cap * sizeof *ts), *rx = malloc(cap * sizeof *rx);
  double *eq = malloc(cap * sizeof *eq), *bq = malloc(cap * sizeof *bq),
         *xq = malloc(cap * sizeof *xq), *uw = malloc(cap * sizeof *uw), *ry = malloc(cap * sizeof *ry);
  size_t *idx = malloc(cap * sizeof *idx);
  stats se = {0}, sb = {0}, sx = {0};
  int rc = 0;
  if (!ts || !rx || !eq || !bq || !xq || !uw || !ry || !idx) {
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    goto done;
  }
  double peak = init;
  for (size_t i = 0; i < n; i++) {
    ts[i] = days[i].time;
    eq[i] = bt_dec_to_double(days[i].equity);
    int64_t day = bt_run_series_day(ts[i]);
    bq[i] = hb ? index_at(bench, day) * init : NAN;
    xq[i] = hx ? index_at(extra, day) * init : NAN;
    if (eq[i] > peak) peak = eq[i];
    uw[i] = peak > 0 ? eq[i] / peak - 1 : 0; /* underwater: below the peak so far */
  }
  if (series_stats(ts, eq, n, init, &se) || (hb && series_stats(ts, bq, n, init, &sb)) ||
      (hx && series_stats(ts, xq, n, init, &sx))) {
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    goto done;
  }
  bt_json_printf(b, "{\"rows\":%zu,\"stride\":1", n); /* every row is used */
  if (n) {
    bt_json_printf(b, ",\"first\":%lld,\"last\":%lld,\"last_equity\":", (long long)ts[0],
                   (long long)ts[n - 1]);
    put_num(b, eq[n - 1]);
    BT_JSON_PUTS(b, ",\"last_bench\":");
    put_num(b, bq[n - 1]);
    BT_JSON_PUTS(b, ",\"last_extra\":");
    put_num(b, xq[n - 1]);
  }
  put_line(b, "equity", ts, eq, n, idx);
  if (hb) put_line(b, "bench", ts, bq, n, idx);
  if (hx) put_line(b, "extra", ts, xq, n, idx);
  /* hover rows: the equity line's points, with every line's value there */
  size_t k = downsample(ts, eq, n, idx);
  BT_JSON_PUTS(b, ",\"tips\":{");
  put_list(b, "xs", ts, eq, idx, k, true);
  BT_JSON_PUTS(b, ",");
  put_list(b, "equity", ts, eq, idx, k, false);
  BT_JSON_PUTS(b, ",");
  put_list(b, "bench", ts, bq, idx, k, false);
  BT_JSON_PUTS(b, ",");
  put_list(b, "extra", ts, xq, idx, k, false);
  bt_json_putc(b, '}');
  put_line(b, "underwater", ts, uw, n, idx);
  BT_JSON_PUTS(b, ",\"volatility\":");
  put_num(b, se.volatility);

  period top[BT_RUN_DAYS_DRAWDOWNS];
  size_t ntop, count = drawdowns(ts, eq, n, init, top, &ntop);
  bt_json_printf(b, ",\"drawdown_periods\":%zu,\"drawdowns\":[", count);
  for (size_t i = 0; i < ntop; i++) {
    const period *p = &top[i];
    bool rec = p->recovery != INT64_MIN;
    bt_json_printf(b, "%s{\"start\":%lld,\"trough\":%lld,\"depth\":", i ? "," : "",
                   (long long)p->start, (long long)p->trough);
    put_num(b, p->depth);
    if (rec) bt_json_printf(b, ",\"recovery\":%lld", (long long)p->recovery);
    bt_json_printf(b, ",\"days\":%lld}", (long long)(((rec ? p->recovery : ts[n - 1]) - p->start) / 86400));
  }
  bt_json_putc(b, ']');
  if (hb) put_stats(b, "bench_stats", &sb, &se);
  if (hx) put_stats(b, "extra_stats", &sx, &se);
  if (put_periods(b, ts, eq, n, init, true) || put_periods(b, ts, eq, n, init, false)) {
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    goto done;
  }

  /* rolling Sharpe of the last ROLLING_WINDOW daily returns, at the window's last day */
  bt_json_printf(b, ",\"rolling\":{\"returns\":%zu", se.nrets);
  if (se.nrets >= ROLLING_WINDOW + 2) {
    const double w = ROLLING_WINDOW, *r = se.rets;
    double sum = 0, sq = 0;
    size_t nr = 0;
    for (size_t i = 1; i <= se.nrets; i++) {
      sum += r[i - 1], sq += r[i - 1] * r[i - 1];
      if (i > ROLLING_WINDOW) sum -= r[i - 1 - ROLLING_WINDOW], sq -= r[i - 1 - ROLLING_WINDOW] * r[i - 1 - ROLLING_WINDOW];
      if (i >= ROLLING_WINDOW) {
        double mean = sum / w, var = (sq - w * mean * mean) / (w - 1);
        rx[nr] = ts[i];
        ry[nr++] = var > 1e-18 ? mean / sqrt(var) * sqrt(PERIODS) : NAN;
      }
    }
    k = downsample(rx, ry, nr, idx);
    bt_json_putc(b, ',');
    put_list(b, "xs", rx, ry, idx, k, true);
    bt_json_putc(b, ',');
    put_list(b, "ys", rx, ry, idx, k, false);
  }
  BT_JSON_PUTS(b, "}}");
done:
  free(se.rets), free(sb.rets), free(sx.rets);
  free(ts), free(rx), free(eq), free(bq), free(xq), free(uw), free(ry), free(idx);
  return rc;
}
