/* test_ta.c - the exactness claims of ta/: the running fsum equals an exact integer
 * reference, SMA never drifts where a running double sum does, partial compaction
 * keeps the sum exact, and the window structures (min/max deque, Welford stddev, WMA)
 * agree with brute force over long random runs. Indicator values against backtrader
 * are in tests/lua/test_ta.lua. */
#include <math.h>
#include <stdlib.h>

#include "check.h"
#include "ta.h"
#include "ta_fsum.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next_u64(void) { /* xorshift64: reproducible everywhere */
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}
static int64_t rand_range(int64_t lo, int64_t hi) { return lo + (int64_t)(next_u64() % (uint64_t)(hi - lo + 1)); }

/* s * 2^e / d rounded once to the nearest double (ties to even), from integers: the
 * quotient is taken with >= 76 bits and a sticky bit for any remainder, so the one
 * rounding in the int128 -> double conversion is the correct one. */
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

/* A series built to make running sums drift: values on a 2^-20 grid, with spikes of
 * +-2^58 units (2^38) now and then whose passage through the window wipes out the low bits of a
 * plain running sum. Every value is a multiple of 2^-20 below 2^43, so the reference
 * keeps the window sum exactly as an integer. Without spikes the values fit the SMA's
 * fixed-point sum; the spikes are beyond it for n = 1000 and push it to the partials. */
static int64_t drift_value(bool spikes) {
  int64_t v = rand_range(-(1ll << 30), 1ll << 30);
  if (spikes && next_u64() % 97 == 0) v += (next_u64() & 1 ? 1 : -1) * (1ll << 58);
  return v;
}

static void test_sma_exact(int n, int bars, bool spikes) {
  double *buf = calloc((size_t)bt_ta_sma_bufn(n), sizeof(double));
  int64_t *ring = calloc((size_t)n, sizeof(int64_t));
  bt_ta_sma s;
  bt_ta_sma_init(&s, n, buf);
  bt_ta_fsum f;
  bt_ta_fsum_reset(&f);
  __int128 exact = 0;
  double naive = 0;
  int wrong = 0, naive_wrong = 0, twice_rounded = 0;
  for (int i = 0; i < bars; i++) {
    double x = ldexp((double)drift_value(spikes), -20);
    int64_t v = (int64_t)ldexp(x, 20); /* exactly the double's value, in 2^-20 units */
    if (i >= n) {
      exact -= ring[i % n];
      naive -= ldexp((double)ring[i % n], -20);
      bt_ta_fsum_add(&f, -ldexp((double)ring[i % n], -20));
    }
    ring[i % n] = v;
    exact += v;
    naive += x;
    bt_ta_fsum_add(&f, x);
    bool warm = bt_ta_sma_update(&s, x);
    if (warm != (i >= n - 1)) wrong++;
    if (!warm) continue;
    double want = exact_div(exact, n, -20); /* the exact mean, rounded once */
    if (s.value != want) wrong++;
    if (naive / n != want) naive_wrong++;
    if (bt_ta_fsum_value(&f) / n != want) twice_rounded++;
  }
  CHECK(wrong == 0);
  if (spikes) {
    CHECK(naive_wrong > bars / 10); /* the series does defeat a running sum */
    CHECK(twice_rounded > 0);       /* and fsum(window) / n is not the exact mean */
  }
  CHECK(s.fixed == !spikes);                  /* both sums were exercised */
  if (wrong) fprintf(stderr, "sma(%d): %d bars differ from the exact mean\n", n, wrong);
  free(buf);
  free(ring);
}

/* A value of a random shape: cents, a random mantissa at a price-like or extreme
 * exponent (extremes do not fit the fixed point), or one that makes an exact tie. */
static double shaped_value(void) {
  switch (next_u64() % 8) {
  case 0: return (double)rand_range(1, 10000000) / 100;
  case 1: return -(double)rand_range(1, 10000000) / 100;
  case 2: return ldexp((double)rand_range(1, 1ll << 52), (int)rand_range(-70, -20));
  case 3: return ldexp((double)rand_range(1, 1ll << 52), (int)rand_range(-120, 10)); /* often too fine */
  case 4: return ldexp((double)rand_range(1, 1ll << 20), (int)rand_range(20, 60));   /* often too large */
  case 5: return 1.0 + 0x1p-52;
  case 6: return 1.0;
  default: return (double)rand_range(-1000, 1000);
  }
}

/* The SMA (fixed point while it fits, partials after) equals the partials' correctly
 * rounded mean on every bar of random windows of mixed shapes, ties included. */
static void test_sma_paths(void) {
  int wrong = 0, fixed_bars = 0, partial_bars = 0;
  for (int round = 0; round < 400; round++) {
    int n = (int)rand_range(1, 40), bars = (int)rand_range(1, 300);
    double *buf = calloc((size_t)bt_ta_sma_bufn(n), sizeof(double));
    double *xs = calloc((size_t)bars, sizeof(double));
    bt_ta_sma s;
    bt_ta_sma_init(&s, n, buf);
    bt_ta_fsum f;
    bt_ta_fsum_reset(&f);
    bool fits_only = round % 2 == 0; /* half the rounds stay on the fixed point */
    for (int i = 0; i < bars; i++) {
      double x = shaped_value();
      if (fits_only) x = (double)rand_range(-100000, 100000) / (next_u64() % 2 ? 100 : 64);
      xs[i] = x;
      if (i >= n) bt_ta_fsum_add(&f, -xs[i - n]);
      bt_ta_fsum_add(&f, x);
      if (!bt_ta_sma_update(&s, x)) continue;
      double want = bt_ta_fsum_div(&f, n);
      if (s.value != want && !(s.value == 0 && want == 0)) {
        if (wrong++ < 5) fprintf(stderr, "sma(%d) bar %d: %a, want %a\n", n, i, s.value, want);
      }
      if (s.fixed) fixed_bars++;
      else partial_bars++;
    }
    if (round % 50 == 1) { /* reset: the fixed point is back */
      bt_ta_sma_reset(&s);
      CHECK(s.fixed && !bt_ta_sma_update(&s, 1.5) == (n > 1));
    }
    free(buf);
    free(xs);
  }
  CHECK(wrong == 0);
  CHECK(fixed_bars > 10000 && partial_bars > 1000);
  /* the tie: (1 + (1 + 2^-52)) / 2 = 1 + 2^-53, halfway between 1 (even) and 1 + 2^-52 */
  double b2[2];
  bt_ta_sma t;
  bt_ta_sma_init(&t, 2, b2);
  bt_ta_sma_update(&t, 1.0);
  CHECK(bt_ta_sma_update(&t, 1.0 + 0x1p-52) && t.value == 1.0 && t.fixed);
  bt_ta_sma_update(&t, 1.0 + 0x1p-51); /* (1 + 2^-52 + 1 + 2^-51) / 2 = 1 + 1.5 ulp: to 1 + 2 ulp (even) */
  CHECK(t.value == 1.0 + 0x1p-51 && t.fixed);
  /* a tiny mean on the fixed point: decided by the partials, still exact */
  bt_ta_sma_reset(&t);
  bt_ta_sma_update(&t, 0x1p-60);
  CHECK(bt_ta_sma_update(&t, 0x1p-60) && t.value == 0x1p-60 && t.fixed);
}

static double wide_value(void) {
  double m = (double)rand_range(1, 1ll << 52);
  return ldexp(m, (int)rand_range(-1000, 900)) * (next_u64() & 1 ? 1 : -1);
}

static void test_fsum_compaction(void) {
  enum { N = 20000 };
  static double xs[N];
  bt_ta_fsum a, b;
  bt_ta_fsum_reset(&a);
  bt_ta_fsum_reset(&b);
  bool hit_cap = false;
  for (int i = 0; i < N; i++) {
    xs[i] = wide_value();
    hit_cap |= a.n == BT_TA_FSUM_CAP; /* the next add compacts */
    bt_ta_fsum_add(&a, xs[i]);
  }
  CHECK(hit_cap);
  /* exactly rounded: the same whatever the order (b compacts at other moments) */
  for (int i = N - 1; i >= 0; i--) bt_ta_fsum_add(&b, xs[i]);
  CHECK(bt_ta_fsum_value(&a) == bt_ta_fsum_value(&b));
  double before = bt_ta_fsum_value(&a);
  bt_ta_fsum_compact(&a);
  CHECK(a.n <= 41);
  CHECK(bt_ta_fsum_value(&a) == before);
  /* the exact sum survived every compaction: taking all values back out leaves 0 */
  for (int i = 0; i < N; i += 2) bt_ta_fsum_add(&a, -xs[i]);
  for (int i = 1; i < N; i += 2) bt_ta_fsum_add(&a, -xs[i]);
  CHECK(a.n == 0 && bt_ta_fsum_value(&a) == 0.0);
  /* the classic: 1e-16 breaks the tie of 1 + 1e16 upwards (CPython's half-even fix) */
  bt_ta_fsum_reset(&a);
  bt_ta_fsum_add(&a, 1e-16);
  bt_ta_fsum_add(&a, 1.0);
  bt_ta_fsum_add(&a, 1e16);
  CHECK(bt_ta_fsum_value(&a) == 10000000000000002.0);
}

/* bt_ta_fsum_div against integers on windows of prices (k / 100 as doubles: full
 * mantissas, so the partials spread over several exponents): every part of the sum
 * counts, not only the two largest. */
static void test_fsum_div_prices(void) {
  int wrong = 0;
  for (int round = 0; round < 20000; round++) {
    int n = (int)rand_range(2, 60);
    bt_ta_fsum f;
    bt_ta_fsum_reset(&f);
    __int128 units = 0; /* in 2^-80: every value here is a whole number of them */
    for (int i = 0; i < n; i++) {
      double x = (double)rand_range(-10000000, 10000000) / 100;
      bt_ta_fsum_add(&f, x);
      units += (__int128)ldexp(x, 80);
    }
    if (bt_ta_fsum_div(&f, n) != exact_div(units, n, -80) && wrong++ < 3)
      fprintf(stderr, "fsum_div n=%d: %a, want %a\n", n, bt_ta_fsum_div(&f, n), exact_div(units, n, -80));
  }
  CHECK(wrong == 0);
}

/* Exact quotients halfway between two doubles go to the even one. */
static void test_div_ties(void) {
  bt_ta_fsum f;
  bt_ta_fsum_reset(&f);
  bt_ta_fsum_add(&f, 3.0);
  bt_ta_fsum_add(&f, 9 * 0x1p-53); /* S / 3 = 1 + 1.5 ulp: between 1 + ulp (odd) and 1 + 2 ulp */
  CHECK(bt_ta_fsum_div(&f, 3) == 1 + 0x1p-51);
  bt_ta_fsum_reset(&f);
  bt_ta_fsum_add(&f, 3.0);
  bt_ta_fsum_add(&f, 3 * 0x1p-53); /* S / 3 = 1 + ulp/2: 1 is even */
  CHECK(bt_ta_fsum_div(&f, 3) == 1.0);
  bt_ta_fsum_add(&f, 0x1p-80);     /* just above the tie: up */
  CHECK(bt_ta_fsum_div(&f, 3) == 1 + 0x1p-52);
  bt_ta_fsum_reset(&f);
  bt_ta_fsum_add(&f, -3.0);
  bt_ta_fsum_add(&f, -9 * 0x1p-53);
  CHECK(bt_ta_fsum_div(&f, 3) == -(1 + 0x1p-51));
}

static void test_minmax(void) {
  enum { N = 50000, W = 17 };
  double buf[2 * W], xs[N];
  bt_ta_minmax hi, lo;
  bt_ta_minmax_init(&hi, W, true, buf);
  double lobuf[2 * W];
  bt_ta_minmax_init(&lo, W, false, lobuf);
  int bad = 0;
  for (int i = 0; i < N; i++) {
    xs[i] = (double)rand_range(0, 20); /* many ties */
    bool w1 = bt_ta_minmax_update(&hi, xs[i]), w2 = bt_ta_minmax_update(&lo, xs[i]);
    if (w1 != (i >= W - 1) || w2 != w1) bad++;
    if (!w1) continue;
    double mx = xs[i], mn = xs[i];
    for (int j = i - W + 1; j <= i; j++) mx = fmax(mx, xs[j]), mn = fmin(mn, xs[j]);
    if (hi.value != mx || lo.value != mn) bad++;
  }
  CHECK(bad == 0);
}

static void test_stddev_wma(void) {
  enum { N = 300000, W = 50 };
  static double xs[N];
  double sbuf[W], wbuf[W];
  bt_ta_stddev sd;
  bt_ta_wma wma;
  bt_ta_stddev_init(&sd, W, sbuf);
  bt_ta_wma_init(&wma, W, wbuf);
  double worst_sd = 0;
  int wma_bad = 0;
  for (int i = 0; i < N; i++) {
    /* a level far from 0 with small moves: the hard case for a rolling variance */
    xs[i] = 1e6 + (double)rand_range(-1000000, 1000000) / 1024.0;
    bool w1 = bt_ta_stddev_update(&sd, xs[i]), w2 = bt_ta_wma_update(&wma, xs[i]);
    if (!w1 || !w2 || i % 997) continue;
    double mean = 0, m2 = 0;
    for (int j = i - W + 1; j <= i; j++) mean += xs[j];
    mean /= W;
    for (int j = i - W + 1; j <= i; j++) m2 += (xs[j] - mean) * (xs[j] - mean);
    worst_sd = fmax(worst_sd, fabs(sd.value - sqrt(m2 / W)) / sqrt(m2 / W));
    /* every x is a multiple of 1/1024 below 2^21: the weighted sum, exactly, in integers */
    __int128 acc = 0;
    for (int j = i - W + 1; j <= i; j++) acc += (__int128)(j - (i - W)) * (__int128)(xs[j] * 1024.0);
    if (wma.value != exact_div(acc, W * (W + 1) / 2, -10)) wma_bad++;
  }
  CHECK(worst_sd < 1e-9);
  CHECK(wma_bad == 0);
}

int main(void) {
  test_sma_exact(1000, 200000, true);
  test_sma_exact(1000, 200000, false);
  test_sma_exact(7, 100000, false);
  test_sma_paths();
  test_fsum_compaction();
  test_div_ties();
  test_fsum_div_prices();
  test_minmax();
  test_stddev_wma();
  return failures != 0;
}
