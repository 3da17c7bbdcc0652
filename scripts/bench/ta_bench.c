/* ta_bench.c - cost of one update of each bt_ta indicator (ns), and SMA against the
 * exact mean over many bars of a series built to make running sums drift.
 *   ta_bench [UPDATES] [SMA_BARS]      (defaults 10,000,000 each) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "ta.h"

#define NDATA (1 << 20)
static double px[NDATA], hi[NDATA], lo[NDATA], vol[NDATA];
static volatile double sink;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static double unit(void) { return (double)(next_u64() >> 11) / 9007199254740992.0; }

/* s * 2^e / d rounded once (as tests/unit/test_ta.c): >= 76 quotient bits + sticky. */
static double exact_div(__int128 s, int64_t d, int e) {
  if (s == 0) return 0;
  unsigned __int128 a = s < 0 ? -(unsigned __int128)s : (unsigned __int128)s;
  int k = 0;
  while (a < ((unsigned __int128)1 << 100)) a <<= 1, k++;
  unsigned __int128 q = a / (unsigned __int128)d;
  q |= a % (unsigned __int128)d != 0;
  double r = ldexp((double)q, e - k);
  return s < 0 ? -r : r;
}

#define BENCH(label, decl, init, update, out)                                     \
  do {                                                                            \
    decl;                                                                         \
    init;                                                                         \
    double t0 = now(), acc = 0;                                                   \
    for (long i = 0; i < updates; i++) {                                          \
      long j = i & (NDATA - 1);                                                   \
      if (update) acc += out;                                                     \
    }                                                                             \
    double dt = now() - t0;                                                       \
    sink = acc;                                                                   \
    printf("  %-26s %7.1f ns/update\n", label, dt * 1e9 / updates);              \
  } while (0)

int main(int argc, char **argv) {
  long updates = argc > 1 ? atol(argv[1]) : 10000000;
  long sma_bars = argc > 2 ? atol(argv[2]) : 10000000;
  double p = 100;
  for (int i = 0; i < NDATA; i++) {
    p *= 1 + (unit() - 0.5) * 0.01;
    px[i] = p;
    hi[i] = p * (1 + unit() * 0.005);
    lo[i] = p * (1 - unit() * 0.005);
    vol[i] = floor(unit() * 10000);
  }
  static double buf[1 << 16];
  printf("update cost, %ld updates each (random walk, period 14-30):\n", updates);
  BENCH("sma(30)", bt_ta_sma s, bt_ta_sma_init(&s, 30, buf), bt_ta_sma_update(&s, px[j]), s.value);
  BENCH("ema(30)", bt_ta_ema s, bt_ta_ema_init(&s, 30), bt_ta_ema_update(&s, px[j]), s.value);
  BENCH("wma(30)", bt_ta_wma s, bt_ta_wma_init(&s, 30, buf), bt_ta_wma_update(&s, px[j]), s.value);
  BENCH("dema(30)", bt_ta_dema s, bt_ta_dema_init(&s, 30, 2), bt_ta_dema_update(&s, px[j]), s.value);
  BENCH("tema(30)", bt_ta_dema s, bt_ta_dema_init(&s, 30, 3), bt_ta_dema_update(&s, px[j]), s.value);
  BENCH("rsi(14)", bt_ta_rsi s, bt_ta_rsi_init(&s, 14), bt_ta_rsi_update(&s, px[j]), s.value);
  BENCH("macd(12,26,9)", bt_ta_macd s, bt_ta_macd_init(&s, 12, 26, 9), bt_ta_macd_update(&s, px[j]), s.hist);
  BENCH("bollinger(20,2)", bt_ta_bbands s, bt_ta_bbands_init(&s, 20, 2, buf), bt_ta_bbands_update(&s, px[j]), s.upper);
  BENCH("stddev(20)", bt_ta_stddev s, bt_ta_stddev_init(&s, 20, buf), bt_ta_stddev_update(&s, px[j]), s.value);
  BENCH("highest(20)", bt_ta_minmax s, bt_ta_minmax_init(&s, 20, true, buf), bt_ta_minmax_update(&s, px[j]), s.value);
  BENCH("momentum/roc(10)", bt_ta_change s, bt_ta_change_init(&s, 10, buf), bt_ta_change_update(&s, px[j]), s.roc);
  BENCH("tr", bt_ta_tr s, bt_ta_tr_reset(&s), bt_ta_tr_update(&s, hi[j], lo[j], px[j]), s.value);
  BENCH("atr(14)", bt_ta_atr s, bt_ta_atr_init(&s, 14), bt_ta_atr_update(&s, hi[j], lo[j], px[j]), s.value);
  BENCH("stochastic(14,3,3)", bt_ta_stoch s, bt_ta_stoch_init(&s, 14, 3, 3, buf), bt_ta_stoch_update(&s, hi[j], lo[j], px[j]), s.k);
  BENCH("adx(14)", bt_ta_adx s, bt_ta_adx_init(&s, 14), bt_ta_adx_update(&s, hi[j], lo[j], px[j]), s.value);
  BENCH("donchian(20)", bt_ta_donchian s, bt_ta_donchian_init(&s, 20, buf), bt_ta_donchian_update(&s, hi[j], lo[j]), s.mid);
  BENCH("obv", bt_ta_obv s, bt_ta_obv_reset(&s), bt_ta_obv_update(&s, px[j], vol[j]), s.value);
  BENCH("vwap(day, minute bars)", bt_ta_vwap s, bt_ta_vwap_init(&s, 86400, 0), bt_ta_vwap_update(&s, i * 60, hi[j], lo[j], px[j], vol[j]), s.value);
  BENCH("crossover", bt_ta_cross s, bt_ta_cross_reset(&s), 1, bt_ta_cross_update(&s, px[j], px[(j + 7) & (NDATA - 1)]));

  /* SMA(1000) vs the exact mean at every bar: values on a 2^-20 grid with +-2^38
   * spikes (as tests/unit/test_ta.c), the window sum kept exactly in an int128. */
  enum { W = 1000 };
  static int64_t ring[W];
  bt_ta_sma s;
  bt_ta_sma_init(&s, W, buf);
  __int128 exact = 0;
  double naive = 0, t0 = now();
  long wrong = 0, naive_wrong = 0, naive_worst_bar = 0;
  double naive_worst = 0;
  for (long i = 0; i < sma_bars; i++) {
    int64_t r = (int64_t)(next_u64() % (2ull << 30)) - (1ll << 30);
    if (next_u64() % 97 == 0) r += (next_u64() & 1 ? 1 : -1) * (1ll << 58);
    double x = ldexp((double)r, -20);
    int64_t v = (int64_t)ldexp(x, 20);
    if (i >= W) {
      exact -= ring[i % W];
      naive -= ldexp((double)ring[i % W], -20);
    }
    ring[i % W] = v;
    exact += v;
    naive += x;
    if (!bt_ta_sma_update(&s, x)) continue;
    double want = exact_div(exact, W, -20);
    wrong += s.value != want;
    naive_wrong += naive / W != want;
    if (fabs(naive / W - want) > naive_worst) naive_worst = fabs(naive / W - want), naive_worst_bar = i;
  }
  printf("sma(%d) over %ld bars: %ld bars differ from the exact mean rounded once (%.1f ns/bar with the check);\n"
         "  a running double sum differs on %ld bars, by up to %.3g (bar %ld)\n",
         W, sma_bars, wrong, (now() - t0) * 1e9 / sma_bars, naive_wrong, naive_worst, naive_worst_bar);
  return wrong != 0;
}
