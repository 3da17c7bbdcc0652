/* ta.h - streaming technical indicators (bt_ta_*): O(1) per update, no allocation.
 *
 * Each indicator is a struct the caller owns. Indicators with a window take their
 * buffer at init: `bt_ta_X_bufn(params)` doubles, owned by the caller and kept for the
 * indicator's life (the Lua binding puts it in the same userdata). `update` feeds one
 * input and returns true once the indicator is warm; the outputs are then in the
 * struct's `value` (or named) fields, and are meaningless before. `reset` forgets all
 * inputs and keeps the parameters and buffer. Inputs must be finite.
 * Formulas and warm-up lengths: docs/indicators.md (backtrader / TA-Lib seeding). */
#ifndef BT_TA_H
#define BT_TA_H

#include <stdbool.h>
#include <stdint.h>

#include "ta_fsum.h"
#include "ta_xsum.h"

/* The last n inputs (a ring). */
typedef struct bt_ta_win {
  double *buf;
  int n, head, count;
} bt_ta_win;

/* Simple moving average: the exact window sum / n, rounded once (backtrader:
 * fsum(window)/n, which rounds twice). The sum is kept in fixed point (ta_xsum.h) while
 * the inputs fit, else in bt_ta_fsum partials: the same values either way. */
typedef struct bt_ta_sma {
  bt_ta_win w;
  bool fixed;     /* the window's sum is in x (else in sum) */
  int max_exp;
  bt_ta_xsum x;
  bt_ta_fsum sum;
  double value;
} bt_ta_sma;
int bt_ta_sma_bufn(int n);
void bt_ta_sma_init(bt_ta_sma *s, int n, double *buf);
void bt_ta_sma_reset(bt_ta_sma *s);
bool bt_ta_sma_update(bt_ta_sma *s, double x);

/* Exponential smoothing seeded with the mean of the first n inputs:
 * v = v * (1 - alpha) + x * alpha. EMA: alpha = 2/(n+1); Wilder (SMMA): alpha = 1/n. */
typedef struct bt_ta_ema {
  int n, count;
  double alpha, alpha1;
  bt_ta_fsum seed;
  double value;
} bt_ta_ema;
void bt_ta_ema_init(bt_ta_ema *e, int n);
void bt_ta_wilder_init(bt_ta_ema *e, int n);
void bt_ta_ema_reset(bt_ta_ema *e);
bool bt_ta_ema_update(bt_ta_ema *e, double x);

/* Weighted moving average, weights 1..n (newest heaviest); both sums exact. */
typedef struct bt_ta_wma {
  bt_ta_win w;
  bt_ta_fsum sum, wsum;
  double value;
} bt_ta_wma;
int bt_ta_wma_bufn(int n);
void bt_ta_wma_init(bt_ta_wma *s, int n, double *buf);
void bt_ta_wma_reset(bt_ta_wma *s);
bool bt_ta_wma_update(bt_ta_wma *s, double x);

/* DEMA = 2 e1 - e2, TEMA = 3 e1 - 3 e2 + e3, where e(k+1) = EMA(n) of e(k). */
typedef struct bt_ta_dema {
  int order;  /* 2: DEMA, 3: TEMA */
  bt_ta_ema e[3];
  double value;
} bt_ta_dema;
void bt_ta_dema_init(bt_ta_dema *d, int n, int order);
void bt_ta_dema_reset(bt_ta_dema *d);
bool bt_ta_dema_update(bt_ta_dema *d, double x);

/* RSI with Wilder smoothing of up and down closes-to-close moves. */
typedef struct bt_ta_rsi {
  bool has_prev;
  double prev;
  bt_ta_ema up, down;
  double value;
} bt_ta_rsi;
void bt_ta_rsi_init(bt_ta_rsi *r, int n);
void bt_ta_rsi_reset(bt_ta_rsi *r);
bool bt_ta_rsi_update(bt_ta_rsi *r, double close);

/* MACD: line = EMA(fast) - EMA(slow), signal = EMA(signal_n) of line, hist = line - signal.
 * update returns true once the line is warm; signal_ready says the other two are. */
typedef struct bt_ta_macd {
  bt_ta_ema fast, slow, sig;
  bool signal_ready;
  double line, signal, hist;
} bt_ta_macd;
void bt_ta_macd_init(bt_ta_macd *m, int fast, int slow, int signal);
void bt_ta_macd_reset(bt_ta_macd *m);
bool bt_ta_macd_update(bt_ta_macd *m, double x);

/* Rolling maximum (is_max) or minimum of the last n inputs: a monotonic deque. */
typedef struct bt_ta_minmax {
  int n, head, len;
  bool is_max;
  int64_t t;
  double *val, *at;  /* deque values and their input numbers */
  double value;
} bt_ta_minmax;
int bt_ta_minmax_bufn(int n);
void bt_ta_minmax_init(bt_ta_minmax *m, int n, bool is_max, double *buf);
void bt_ta_minmax_reset(bt_ta_minmax *m);
bool bt_ta_minmax_update(bt_ta_minmax *m, double x);

/* Rolling population standard deviation: Welford's update with the oldest input
 * replaced, re-seeded from the window every n inputs so rounding cannot accumulate. */
typedef struct bt_ta_stddev {
  bt_ta_win w;
  double mean, m2, value;
} bt_ta_stddev;
int bt_ta_stddev_bufn(int n);
void bt_ta_stddev_init(bt_ta_stddev *s, int n, double *buf);
void bt_ta_stddev_reset(bt_ta_stddev *s);
bool bt_ta_stddev_update(bt_ta_stddev *s, double x);

/* Bollinger bands: mid = SMA(n), upper/lower = mid +/- k * stddev(n). */
typedef struct bt_ta_bbands {
  bt_ta_sma mid_sma;
  bt_ta_stddev sd;
  double k, mid, upper, lower;
} bt_ta_bbands;
int bt_ta_bbands_bufn(int n);
void bt_ta_bbands_init(bt_ta_bbands *b, int n, double k, double *buf);
void bt_ta_bbands_reset(bt_ta_bbands *b);
bool bt_ta_bbands_update(bt_ta_bbands *b, double x);

/* True range: max(high, prev close) - min(low, prev close); from the 2nd bar. */
typedef struct bt_ta_tr {
  bool has_prev;
  double prev_close, value;
} bt_ta_tr;
void bt_ta_tr_reset(bt_ta_tr *t);
bool bt_ta_tr_update(bt_ta_tr *t, double high, double low, double close);

/* ATR: Wilder smoothing of the true range. */
typedef struct bt_ta_atr {
  bt_ta_tr tr;
  bt_ta_ema avg;
  double value;
} bt_ta_atr;
void bt_ta_atr_init(bt_ta_atr *a, int n);
void bt_ta_atr_reset(bt_ta_atr *a);
bool bt_ta_atr_update(bt_ta_atr *a, double high, double low, double close);

/* Stochastic: fast %K = 100 (close - lowest low) / (highest high - lowest low) over n
 * (0 when the range is 0), %K = SMA(k_smooth) of it, %D = SMA(d_n) of %K.
 * update returns true once %K is warm; d_ready says %D is. */
typedef struct bt_ta_stoch {
  bt_ta_minmax hh, ll;
  bt_ta_sma ks, ds;
  bool d_ready;
  double k, d;
} bt_ta_stoch;
int bt_ta_stoch_bufn(int n, int k_smooth, int d_n);
void bt_ta_stoch_init(bt_ta_stoch *s, int n, int k_smooth, int d_n, double *buf);
void bt_ta_stoch_reset(bt_ta_stoch *s);
bool bt_ta_stoch_update(bt_ta_stoch *s, double high, double low, double close);

/* ADX (Wilder): +DI/-DI from Wilder-smoothed directional movement over ATR; ADX =
 * 100 * Wilder(n) of |+DI - -DI| / (+DI + -DI). update returns true once ADX is
 * warm; di_ready says plus_di/minus_di are. */
typedef struct bt_ta_adx {
  bool has_prev, di_ready;
  double prev_high, prev_low;
  bt_ta_atr atr;
  bt_ta_ema pdm, mdm, dx;
  double plus_di, minus_di, value;
} bt_ta_adx;
void bt_ta_adx_init(bt_ta_adx *a, int n);
void bt_ta_adx_reset(bt_ta_adx *a);
bool bt_ta_adx_update(bt_ta_adx *a, double high, double low, double close);

/* Change over n inputs: momentum = x - x[n ago], roc = 100 (x - x[n ago]) / x[n ago].
 * update returns true from the (n+1)th input; roc_ok is false when x[n ago] is 0. */
typedef struct bt_ta_change {
  bt_ta_win w;
  bool roc_ok;
  double momentum, roc;
} bt_ta_change;
int bt_ta_change_bufn(int n);
void bt_ta_change_init(bt_ta_change *c, int n, double *buf);
void bt_ta_change_reset(bt_ta_change *c);
bool bt_ta_change_update(bt_ta_change *c, double x);

/* Donchian channel: upper = highest high, lower = lowest low over n, mid = their mean. */
typedef struct bt_ta_donchian {
  bt_ta_minmax hh, ll;
  double upper, mid, lower;
} bt_ta_donchian;
int bt_ta_donchian_bufn(int n);
void bt_ta_donchian_init(bt_ta_donchian *d, int n, double *buf);
void bt_ta_donchian_reset(bt_ta_donchian *d);
bool bt_ta_donchian_update(bt_ta_donchian *d, double high, double low);

/* On-balance volume: starts at the first bar's volume (TA-Lib), then adds the volume
 * on an up close, subtracts it on a down close. Warm from the first bar. */
typedef struct bt_ta_obv {
  bool has_prev;
  double prev_close, value;
} bt_ta_obv;
void bt_ta_obv_reset(bt_ta_obv *o);
bool bt_ta_obv_update(bt_ta_obv *o, double close, double volume);

/* VWAP of the session: sum(typical * volume) / sum(volume), typical = (h + l + c) / 3;
 * a session is the interval floor((time - offset) / session) (seconds; 86400 and 0:
 * UTC days). The sums restart with each session; no value until it has volume. */
typedef struct bt_ta_vwap {
  int64_t session, offset, current;
  bool started;
  double pv, vol, value;
} bt_ta_vwap;
void bt_ta_vwap_init(bt_ta_vwap *v, int64_t session, int64_t offset);
void bt_ta_vwap_reset(bt_ta_vwap *v);
bool bt_ta_vwap_update(bt_ta_vwap *v, int64_t time, double high, double low, double close,
                       double volume);

/* Crossover of two series (backtrader's CrossOver): +1 when a goes above b, -1 when it
 * goes below, else 0. The sign of the last non-zero a - b decides, so touching (a ==
 * b) and leaving on the same side never signals, and a tie never signals by itself. */
typedef struct bt_ta_cross {
  bool has;
  double nzd;
  int value;
} bt_ta_cross;
void bt_ta_cross_reset(bt_ta_cross *c);
int bt_ta_cross_update(bt_ta_cross *c, double a, double b);

#endif
