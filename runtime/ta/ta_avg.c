/* ta_avg.c - the window ring and the moving averages: SMA, EMA/Wilder, WMA, DEMA/TEMA. */
#include <math.h>

#include "ta.h"
#include "ta_internal.h"

void bt_ta_win_init(bt_ta_win *w, int n, double *buf) {
  w->buf = buf;
  w->n = n;
  w->head = w->count = 0;
}

bool bt_ta_win_push(bt_ta_win *w, double x, double *old) {
  bool full = w->count == w->n;
  if (full) *old = w->buf[w->head];
  else w->count++;
  w->buf[w->head] = x;
  w->head = w->head + 1 == w->n ? 0 : w->head + 1;
  return full;
}

int bt_ta_sma_bufn(int n) { return n; }

void bt_ta_sma_init(bt_ta_sma *s, int n, double *buf) {
  bt_ta_win_init(&s->w, n, buf);
  bt_ta_sma_reset(s);
}

void bt_ta_sma_reset(bt_ta_sma *s) {
  s->w.head = s->w.count = 0;
  s->fixed = true;
  s->max_exp = bt_ta_xsum_max_exp(s->w.n);
  s->x = (bt_ta_xsum){0, 0};
  bt_ta_fsum_reset(&s->sum);
  s->value = 0;
}

/* The window's exact sum into partials (fixed point gave up, or the mean is tiny). */
static void window_fsum(const bt_ta_win *w, bt_ta_fsum *f) {
  bt_ta_fsum_reset(f);
  for (int i = 0; i < w->count; i++) bt_ta_fsum_add(f, w->buf[i]);
}

bool bt_ta_sma_update(bt_ta_sma *s, double x) {
  double old = 0;
  bool full = bt_ta_win_push(&s->w, x, &old);
  if (s->fixed) {
    /* old fitted when it came in; x may not: then the partials take over for good */
    if (full) bt_ta_xsum_add(&s->x, old, -1, s->max_exp);
    if (!bt_ta_xsum_add(&s->x, x, 1, s->max_exp)) {
      s->fixed = false;
      window_fsum(&s->w, &s->sum);
    }
  } else {
    if (full) bt_ta_fsum_add(&s->sum, -old);
    bt_ta_fsum_add(&s->sum, x);
  }
  if (s->w.count < s->w.n) return false;
  if (!s->fixed) {
    s->value = bt_ta_fsum_div(&s->sum, s->w.n);
  } else if (!bt_ta_xsum_div(&s->x, (uint64_t)s->w.n, &s->value)) {
    bt_ta_fsum tiny;
    window_fsum(&s->w, &tiny);
    s->value = bt_ta_fsum_div(&tiny, s->w.n);
  }
  return true;
}

static void smooth_init(bt_ta_ema *e, int n, double alpha) {
  e->n = n;
  e->alpha = alpha;
  e->alpha1 = 1.0 - alpha;
  bt_ta_ema_reset(e);
}

void bt_ta_ema_init(bt_ta_ema *e, int n) { smooth_init(e, n, 2.0 / (1.0 + n)); }
void bt_ta_wilder_init(bt_ta_ema *e, int n) { smooth_init(e, n, 1.0 / n); }

void bt_ta_ema_reset(bt_ta_ema *e) {
  e->count = 0;
  bt_ta_fsum_reset(&e->seed);
  e->value = 0;
}

bool bt_ta_ema_update(bt_ta_ema *e, double x) {
  if (e->count >= e->n) {
    e->value = e->value * e->alpha1 + x * e->alpha;
    return true;
  }
  bt_ta_fsum_add(&e->seed, x);
  if (++e->count < e->n) return false;
  e->value = bt_ta_fsum_div(&e->seed, e->n);
  return true;
}

int bt_ta_wma_bufn(int n) { return n; }

void bt_ta_wma_init(bt_ta_wma *s, int n, double *buf) {
  bt_ta_win_init(&s->w, n, buf);
  bt_ta_wma_reset(s);
}

void bt_ta_wma_reset(bt_ta_wma *s) {
  s->w.head = s->w.count = 0;
  bt_ta_fsum_reset(&s->sum);
  bt_ta_fsum_reset(&s->wsum);
  s->value = 0;
}

/* w * x added exactly: the product and its rounding error (fma). */
static void add_product(bt_ta_fsum *s, double w, double x) {
  double p = w * x;
  bt_ta_fsum_add(s, p);
  bt_ta_fsum_add(s, fma(w, x, -p));
}

bool bt_ta_wma_update(bt_ta_wma *s, double x) {
  /* Shifting the window lowers every weight by one: wsum -= sum, then the new input
   * comes in with weight n (weight count+1 while filling). Both sums stay exact. */
  double old = 0;
  int weight = s->w.count + 1 > s->w.n ? s->w.n : s->w.count + 1;
  if (s->w.count == s->w.n)
    for (int i = 0; i < s->sum.n; i++) bt_ta_fsum_add(&s->wsum, -s->sum.p[i]);
  if (bt_ta_win_push(&s->w, x, &old)) bt_ta_fsum_add(&s->sum, -old);
  bt_ta_fsum_add(&s->sum, x);
  add_product(&s->wsum, weight, x);
  if (s->w.count < s->w.n) return false;
  s->value = bt_ta_fsum_div(&s->wsum, s->w.n * (s->w.n + 1.0) / 2.0);
  return true;
}

void bt_ta_dema_init(bt_ta_dema *d, int n, int order) {
  d->order = order;
  for (int i = 0; i < 3; i++) bt_ta_ema_init(&d->e[i], n);
  d->value = 0;
}

void bt_ta_dema_reset(bt_ta_dema *d) {
  for (int i = 0; i < 3; i++) bt_ta_ema_reset(&d->e[i]);
  d->value = 0;
}

bool bt_ta_dema_update(bt_ta_dema *d, double x) {
  if (!bt_ta_ema_update(&d->e[0], x)) return false;
  if (!bt_ta_ema_update(&d->e[1], d->e[0].value)) return false;
  if (d->order == 2) {
    d->value = 2.0 * d->e[0].value - d->e[1].value;
    return true;
  }
  if (!bt_ta_ema_update(&d->e[2], d->e[1].value)) return false;
  d->value = 3.0 * d->e[0].value - 3.0 * d->e[1].value + d->e[2].value;
  return true;
}
