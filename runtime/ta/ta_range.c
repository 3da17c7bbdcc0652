/* ta_range.c - window extremes and dispersion: rolling min/max, stddev, Bollinger,
 * true range, ATR, Donchian. */
#include <math.h>

#include "ta.h"
#include "ta_internal.h"

int bt_ta_minmax_bufn(int n) { return 2 * n; }

void bt_ta_minmax_init(bt_ta_minmax *m, int n, bool is_max, double *buf) {
  m->n = n;
  m->is_max = is_max;
  m->val = buf;
  m->at = buf + n;
  bt_ta_minmax_reset(m);
}

void bt_ta_minmax_reset(bt_ta_minmax *m) {
  m->head = m->len = 0;
  m->t = 0;
  m->value = 0;
}

/* (a + b) mod n for 0 <= a, b < n, without a division */
static int wrap(int a, int b, int n) { return a + b >= n ? a + b - n : a + b; }

bool bt_ta_minmax_update(bt_ta_minmax *m, double x) {
  /* The deque holds inputs still in the window that no later input beats, best first:
   * each input enters and leaves once, so O(1) amortized. */
  int n = m->n;
  while (m->len > 0) {
    int back = wrap(m->head, m->len - 1, n);
    if (m->is_max ? m->val[back] > x : m->val[back] < x) break;
    m->len--;
  }
  if (m->len > 0 && m->at[m->head] <= (double)(m->t - n)) {
    m->head = m->head + 1 == n ? 0 : m->head + 1;
    m->len--;
  }
  int slot = wrap(m->head, m->len, n);
  m->val[slot] = x;
  m->at[slot] = (double)m->t;
  m->len++;
  m->t++;
  m->value = m->val[m->head];
  return m->t >= n;
}

int bt_ta_stddev_bufn(int n) { return n; }

void bt_ta_stddev_init(bt_ta_stddev *s, int n, double *buf) {
  bt_ta_win_init(&s->w, n, buf);
  bt_ta_stddev_reset(s);
}

void bt_ta_stddev_reset(bt_ta_stddev *s) {
  s->w.head = s->w.count = 0;
  s->mean = s->m2 = s->value = 0;
}

bool bt_ta_stddev_update(bt_ta_stddev *s, double x) {
  double old = 0;
  if (bt_ta_win_push(&s->w, x, &old)) {
    if (s->w.head == 0) {
      /* Once per n inputs: two-pass mean and M2 of the window, so the rounding of the
       * replace updates below never builds up (O(1) amortized). */
      double sum = 0, m2 = 0;
      for (int i = 0; i < s->w.n; i++) sum += s->w.buf[i];
      s->mean = sum / s->w.n;
      for (int i = 0; i < s->w.n; i++) m2 += (s->w.buf[i] - s->mean) * (s->w.buf[i] - s->mean);
      s->m2 = m2;
    } else {
      double mean0 = s->mean, d = x - old;
      s->mean += d / s->w.n;
      s->m2 += d * (x - s->mean + old - mean0);
      if (s->m2 < 0) s->m2 = 0;
    }
  } else {
    double d = x - s->mean;
    s->mean += d / s->w.count;
    s->m2 += d * (x - s->mean);
  }
  if (s->w.count < s->w.n) return false;
  s->value = sqrt(s->m2 / s->w.n);
  return true;
}

int bt_ta_bbands_bufn(int n) { return bt_ta_sma_bufn(n) + bt_ta_stddev_bufn(n); }

void bt_ta_bbands_init(bt_ta_bbands *b, int n, double k, double *buf) {
  bt_ta_sma_init(&b->mid_sma, n, buf);
  bt_ta_stddev_init(&b->sd, n, buf + bt_ta_sma_bufn(n));
  b->k = k;
  b->mid = b->upper = b->lower = 0;
}

void bt_ta_bbands_reset(bt_ta_bbands *b) {
  bt_ta_sma_reset(&b->mid_sma);
  bt_ta_stddev_reset(&b->sd);
  b->mid = b->upper = b->lower = 0;
}

bool bt_ta_bbands_update(bt_ta_bbands *b, double x) {
  bt_ta_stddev_update(&b->sd, x);
  if (!bt_ta_sma_update(&b->mid_sma, x)) return false;
  double dev = b->k * b->sd.value;
  b->mid = b->mid_sma.value;
  b->upper = b->mid + dev;
  b->lower = b->mid - dev;
  return true;
}

void bt_ta_tr_reset(bt_ta_tr *t) {
  t->has_prev = false;
  t->prev_close = t->value = 0;
}

bool bt_ta_tr_update(bt_ta_tr *t, double high, double low, double close) {
  bool had = t->has_prev;
  if (had) {
    double th = high > t->prev_close ? high : t->prev_close;
    double tl = low < t->prev_close ? low : t->prev_close;
    t->value = th - tl;
  }
  t->prev_close = close;
  t->has_prev = true;
  return had;
}

void bt_ta_atr_init(bt_ta_atr *a, int n) {
  bt_ta_wilder_init(&a->avg, n);
  bt_ta_atr_reset(a);
}

void bt_ta_atr_reset(bt_ta_atr *a) {
  bt_ta_tr_reset(&a->tr);
  bt_ta_ema_reset(&a->avg);
  a->value = 0;
}

bool bt_ta_atr_update(bt_ta_atr *a, double high, double low, double close) {
  if (!bt_ta_tr_update(&a->tr, high, low, close)) return false;
  if (!bt_ta_ema_update(&a->avg, a->tr.value)) return false;
  a->value = a->avg.value;
  return true;
}

int bt_ta_donchian_bufn(int n) { return 2 * bt_ta_minmax_bufn(n); }

void bt_ta_donchian_init(bt_ta_donchian *d, int n, double *buf) {
  bt_ta_minmax_init(&d->hh, n, true, buf);
  bt_ta_minmax_init(&d->ll, n, false, buf + bt_ta_minmax_bufn(n));
  d->upper = d->mid = d->lower = 0;
}

void bt_ta_donchian_reset(bt_ta_donchian *d) {
  bt_ta_minmax_reset(&d->hh);
  bt_ta_minmax_reset(&d->ll);
  d->upper = d->mid = d->lower = 0;
}

bool bt_ta_donchian_update(bt_ta_donchian *d, double high, double low) {
  bt_ta_minmax_update(&d->hh, high);
  if (!bt_ta_minmax_update(&d->ll, low)) return false;
  d->upper = d->hh.value;
  d->lower = d->ll.value;
  d->mid = (d->upper + d->lower) / 2.0;
  return true;
}
