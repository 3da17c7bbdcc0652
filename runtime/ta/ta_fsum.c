/* ta_fsum.c - Shewchuk's exact summation; the add and the final rounding follow
 * CPython's math_fsum (Modules/mathmodule.c). */
#include "ta_fsum.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Add x to the partials p[0..*n) (exact); *n grows by at most one. Inlined: it is most
 * of an SMA update. */
static inline __attribute__((always_inline)) void partials_add(double *p, int *n, double x) {
  int i = 0;
  for (int j = 0; j < *n; j++) {
    double y = p[j];
    if (fabs(x) < fabs(y)) {
      double t = x;
      x = y;
      y = t;
    }
    double hi = x + y;
    double lo = y - (hi - x);
    if (lo != 0.0) p[i++] = lo;
    x = hi;
  }
  if (x != 0.0) p[i++] = x;
  *n = i;
}

/* The partials' exact sum rounded to nearest even; *rest gets S - that, to a few ulps
 * of the largest part left: every part below is summed, not only the next one (the
 * parts further down can be a quarter of it, far above what bt_ta_fsum_div's midpoint
 * test tolerates). */
static double partials_round(const double *p, int n, double *rest) {
  *rest = 0.0;
  if (n == 0) return 0.0;
  double hi = p[--n], lo = 0.0;
  /* Sum from the top while it stays exact: then S = hi + lo + p[0..n). */
  while (n > 0) {
    double x = hi, y = p[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo != 0.0) break;
  }
  double below = n > 0 ? p[n - 1] : 0.0;
  /* Half-even rounding across partials: the parts below can break a tie at `lo`. */
  if ((lo < 0.0 && below < 0.0) || (lo > 0.0 && below > 0.0)) {
    double y = lo * 2.0, x = hi + y;
    if (y == x - hi) hi = x, lo -= y;
  }
  double tail = 0.0;
  for (int i = 0; i < n; i++) tail += p[i]; /* smallest first */
  *rest = lo + tail;
  return hi;
}

void bt_ta_fsum_reset(bt_ta_fsum *s) { s->n = 0; }

double bt_ta_fsum_value(const bt_ta_fsum *s) {
  double rest;
  return partials_round(s->p, s->n, &rest);
}

void bt_ta_fsum_compact(bt_ta_fsum *s) {
  /* c[k] = the remainder rounded, then the remainder minus it, exactly: each part is at
   * most half an ulp of the previous one, so from 2^1024 down to 2^-1074 there are at
   * most 41. The work copy grows by at most one partial per round: 64 + 41 < 128. */
  double work[2 * BT_TA_FSUM_CAP], c[BT_TA_FSUM_CAP];
  int wn = s->n, k = 0;
  for (int i = 0; i < wn; i++) work[i] = s->p[i];
  while (wn > 0 && k < BT_TA_FSUM_CAP) {
    double rest, r = partials_round(work, wn, &rest);
    c[k++] = r;
    partials_add(work, &wn, -r);
  }
  for (int i = 0; i < k; i++) s->p[i] = c[k - 1 - i];
  s->n = k;
}

void bt_ta_fsum_add(bt_ta_fsum *s, double x) {
  if (s->n == BT_TA_FSUM_CAP) bt_ta_fsum_compact(s);
  partials_add(s->p, &s->n, x);
}

/* The exact value of the partials plus up to three terms (0: none), rounded; p is not
 * changed. Rounding keeps the sign, so this also answers "above or below?". */
static double value_plus(const double *p, int n, double a, double b, double c) {
  double w[BT_TA_FSUM_CAP + 3];
  int wn = n;
  memcpy(w, p, (size_t)n * sizeof *p);
  if (a != 0) partials_add(w, &wn, a);
  if (b != 0) partials_add(w, &wn, b);
  if (c != 0) partials_add(w, &wn, c);
  double rest;
  return partials_round(w, wn, &rest);
}

static uint64_t bits_of(double q) {
  uint64_t b;
  memcpy(&b, &q, sizeof b);
  return b;
}

static double of_bits(uint64_t b) {
  double q;
  memcpy(&q, &b, sizeof q);
  return q;
}

/* The neighbouring double of a finite non-zero q, towards +inf (dir 1) or -inf (-1):
 * for IEEE doubles, one step of the magnitude's bit pattern (nextafter without errno). */
static double neighbour(double q, int dir) { return of_bits(bits_of(q) + ((q > 0) == (dir > 0) ? 1 : -1)); }

double bt_ta_fsum_div(const bt_ta_fsum *s, double d) {
  /* q = fl(fl(S) / d) is within 2 ulps of S / d: step to the neighbour while S / d is
   * beyond the midpoint towards it. The midpoints are q +- gap/2 and d * gap/2 is exact
   * (a power of two times a whole number), so comparing the remainder S - d q with them
   * decides. The remainder is ((hi - p) - e) + rest, where d q = p + e exactly (fma) and
   * S = hi + rest: accurate to far better than 2^-40 of the gap, so only a remainder
   * within that of a midpoint needs the exact expansion (and ties go to even). */
  double rest, hi = partials_round(s->p, s->n, &rest);
  double q = hi / d;
  if (q == 0 || !isfinite(q)) return q;
  const double m = 0x1p-40;
  for (int step = 0; step < 4; step++) {
    double p = q * d, e = fma(q, d, -p);
    double rem = ((hi - p) - e) + rest;
    double up = neighbour(q, 1), down = neighbour(q, -1);
    double hu = (up - q) * 0.5 * d, hd = (q - down) * 0.5 * d;
    if (rem > hu * (1 + m)) {
      q = up;
    } else if (rem < -hd * (1 + m)) {
      q = down;
    } else if (rem < hu * (1 - m) && rem > -hd * (1 - m)) {
      break;
    } else {
      double above = value_plus(s->p, s->n, -p, -e, -hu);
      double below = value_plus(s->p, s->n, -p, -e, hd);
      if (above > 0 || (above == 0 && (bits_of(q) & 1))) q = up;
      else if (below < 0 || (below == 0 && (bits_of(q) & 1))) q = down;
      else break;
    }
  }
  return q;
}
