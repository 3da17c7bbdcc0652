/* ta_osc.c - oscillators and signals: RSI, MACD, stochastic, ADX, momentum/ROC, crossover. */
#include <math.h>

#include "ta.h"
#include "ta_internal.h"

void bt_ta_rsi_init(bt_ta_rsi *r, int n) {
  bt_ta_wilder_init(&r->up, n);
  bt_ta_wilder_init(&r->down, n);
  bt_ta_rsi_reset(r);
}

void bt_ta_rsi_reset(bt_ta_rsi *r) {
  r->has_prev = false;
  r->prev = r->value = 0;
  bt_ta_ema_reset(&r->up);
  bt_ta_ema_reset(&r->down);
}

bool bt_ta_rsi_update(bt_ta_rsi *r, double close) {
  bool had = r->has_prev;
  double d = close - r->prev;
  r->prev = close;
  r->has_prev = true;
  if (!had) return false;
  bt_ta_ema_update(&r->up, d > 0 ? d : 0.0);
  if (!bt_ta_ema_update(&r->down, d < 0 ? -d : 0.0)) return false;
  double up = r->up.value, down = r->down.value;
  /* No down moves: 100, or 50 when nothing moved at all (backtrader's safediv). */
  if (down == 0) r->value = up == 0 ? 50.0 : 100.0;
  else r->value = 100.0 - 100.0 / (1.0 + up / down);
  return true;
}

void bt_ta_macd_init(bt_ta_macd *m, int fast, int slow, int signal) {
  bt_ta_ema_init(&m->fast, fast);
  bt_ta_ema_init(&m->slow, slow);
  bt_ta_ema_init(&m->sig, signal);
  bt_ta_macd_reset(m);
}

void bt_ta_macd_reset(bt_ta_macd *m) {
  bt_ta_ema_reset(&m->fast);
  bt_ta_ema_reset(&m->slow);
  bt_ta_ema_reset(&m->sig);
  m->signal_ready = false;
  m->line = m->signal = m->hist = 0;
}

bool bt_ta_macd_update(bt_ta_macd *m, double x) {
  bool f = bt_ta_ema_update(&m->fast, x);
  bool s = bt_ta_ema_update(&m->slow, x);
  if (!f || !s) return false;
  m->line = m->fast.value - m->slow.value;
  m->signal_ready = bt_ta_ema_update(&m->sig, m->line);
  if (m->signal_ready) {
    m->signal = m->sig.value;
    m->hist = m->line - m->signal;
  }
  return true;
}

int bt_ta_stoch_bufn(int n, int k_smooth, int d_n) {
  return 2 * bt_ta_minmax_bufn(n) + bt_ta_sma_bufn(k_smooth) + bt_ta_sma_bufn(d_n);
}

void bt_ta_stoch_init(bt_ta_stoch *s, int n, int k_smooth, int d_n, double *buf) {
  bt_ta_minmax_init(&s->hh, n, true, buf);
  buf += bt_ta_minmax_bufn(n);
  bt_ta_minmax_init(&s->ll, n, false, buf);
  buf += bt_ta_minmax_bufn(n);
  bt_ta_sma_init(&s->ks, k_smooth, buf);
  bt_ta_sma_init(&s->ds, d_n, buf + bt_ta_sma_bufn(k_smooth));
  s->d_ready = false;
  s->k = s->d = 0;
}

void bt_ta_stoch_reset(bt_ta_stoch *s) {
  bt_ta_minmax_reset(&s->hh);
  bt_ta_minmax_reset(&s->ll);
  bt_ta_sma_reset(&s->ks);
  bt_ta_sma_reset(&s->ds);
  s->d_ready = false;
  s->k = s->d = 0;
}

bool bt_ta_stoch_update(bt_ta_stoch *s, double high, double low, double close) {
  bt_ta_minmax_update(&s->hh, high);
  if (!bt_ta_minmax_update(&s->ll, low)) return false;
  double range = s->hh.value - s->ll.value;
  double fast = range == 0 ? 0.0 : 100.0 * ((close - s->ll.value) / range);
  if (!bt_ta_sma_update(&s->ks, fast)) return false;
  s->k = s->ks.value;
  s->d_ready = bt_ta_sma_update(&s->ds, s->k);
  if (s->d_ready) s->d = s->ds.value;
  return true;
}

void bt_ta_adx_init(bt_ta_adx *a, int n) {
  bt_ta_atr_init(&a->atr, n);
  bt_ta_wilder_init(&a->pdm, n);
  bt_ta_wilder_init(&a->mdm, n);
  bt_ta_wilder_init(&a->dx, n);
  bt_ta_adx_reset(a);
}

void bt_ta_adx_reset(bt_ta_adx *a) {
  a->has_prev = a->di_ready = false;
  a->prev_high = a->prev_low = 0;
  bt_ta_atr_reset(&a->atr);
  bt_ta_ema_reset(&a->pdm);
  bt_ta_ema_reset(&a->mdm);
  bt_ta_ema_reset(&a->dx);
  a->plus_di = a->minus_di = a->value = 0;
}

bool bt_ta_adx_update(bt_ta_adx *a, double high, double low, double close) {
  bool had = a->has_prev;
  double up = high - a->prev_high, down = a->prev_low - low;
  a->prev_high = high;
  a->prev_low = low;
  a->has_prev = true;
  bool atr_ok = bt_ta_atr_update(&a->atr, high, low, close);
  if (!had) return false;
  bt_ta_ema_update(&a->pdm, up > down && up > 0 ? up : 0.0);
  bt_ta_ema_update(&a->mdm, down > up && down > 0 ? down : 0.0);
  if (!atr_ok) return false;
  double atr = a->atr.value;
  a->plus_di = atr == 0 ? 0.0 : 100.0 * a->pdm.value / atr;
  a->minus_di = atr == 0 ? 0.0 : 100.0 * a->mdm.value / atr;
  a->di_ready = true;
  double sum = a->plus_di + a->minus_di;
  double dx = sum == 0 ? 0.0 : fabs(a->plus_di - a->minus_di) / sum;
  if (!bt_ta_ema_update(&a->dx, dx)) return false;
  a->value = 100.0 * a->dx.value;
  return true;
}

int bt_ta_change_bufn(int n) { return n; }

void bt_ta_change_init(bt_ta_change *c, int n, double *buf) {
  bt_ta_win_init(&c->w, n, buf);
  bt_ta_change_reset(c);
}

void bt_ta_change_reset(bt_ta_change *c) {
  c->w.head = c->w.count = 0;
  c->roc_ok = false;
  c->momentum = c->roc = 0;
}

bool bt_ta_change_update(bt_ta_change *c, double x) {
  double old = 0;
  if (!bt_ta_win_push(&c->w, x, &old)) return false;
  c->momentum = x - old;
  c->roc_ok = old != 0;
  if (c->roc_ok) c->roc = 100.0 * ((x - old) / old);
  return true;
}

void bt_ta_cross_reset(bt_ta_cross *c) {
  c->has = false;
  c->nzd = 0;
  c->value = 0;
}

int bt_ta_cross_update(bt_ta_cross *c, double a, double b) {
  double d = a - b;
  c->value = 0;
  if (c->has) {
    if (c->nzd < 0 && a > b) c->value = 1;
    else if (c->nzd > 0 && a < b) c->value = -1;
  }
  if (d != 0 || !c->has) c->nzd = d;
  c->has = true;
  return c->value;
}
