/* ta_fsum.c - Shewchuk's exact summation; the add and the final rounding follow
 * CPython's math_fsum (Modules/mathmodule.c). */
#include "ta_fsum.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Add x to the partials p[0..*n) (exact); *n grows by at most one. */
static void partials_add(double *p, int *n, double x) {
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

static double partials_round(const double *p, int n) {
  if (n == 0) return 0.0;
  double hi = p[--n], lo = 0.0;
  /* Sum from the top while it stays exact. */
  while (n > 0) {
    double x = hi, y = p[--n];
    hi = x + y;
    lo = y - (hi - x);
    if (lo != 0.0) break;
  }
  /* Half-even rounding across partials: the parts below can break a tie at `lo`. */
  if (n > 0 && ((lo < 0.0 && p[n - 1] < 0.0) || (lo > 0.0 && p[n - 1] > 0.0))) {
    double y = lo * 2.0, x = hi + y;
    if (y == x - hi) hi = x;
  }
  return hi;
}

void bt_ta_fsum_reset(bt_ta_fsum *s) { s->n = 0; }

double bt_ta_fsum_value(const bt_ta_fsum *s) { return partials_round(s->p, s->n); }

void bt_ta_fsum_compact(bt_ta_fsum *s) {
  /* c[k] = the remainder rounded, then the remainder minus it, exactly: each part is at
   * most half an ulp of the previous one, so from 2^1024 down to 2^-1074 there are at
   * most 41. The work copy grows by at most one partial per round: 64 + 41 < 128. */
  double work[2 * BT_TA_FSUM_CAP], c[BT_TA_FSUM_CAP];
  int wn = s->n, k = 0;
  for (int i = 0; i < wn; i++) work[i] = s->p[i];
  while (wn > 0 && k < BT_TA_FSUM_CAP) {
    double r = partials_round(work, wn);
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
  return partials_round(w, wn);
}

static bool odd(double q) {
  uint64_t bits;
  memcpy(&bits, &q, sizeof bits);
  return bits & 1;
}

double bt_ta_fsum_div(const bt_ta_fsum *s, double d) {
  /* fl(fl(S) / d) is within 2 ulps of S / d; step to the neighbour while S / d lies
   * beyond the midpoint towards it (ties to even). The midpoints are q +- ulp/2, and
   * d * (ulp/2) is exact (a power of two times an integer), so every comparison is on
   * the exact expansion S - d q -+ d ulp/2, where d q = p + e exactly (fma). */
  double q = partials_round(s->p, s->n) / d;
  if (q == 0 || !isfinite(q)) return q;
  for (int step = 0; step < 4; step++) {
    double p = q * d, e = fma(q, d, -p);
    double up = nextafter(q, INFINITY), down = nextafter(q, -INFINITY);
    double hu = (up - q) * 0.5 * d, hd = (q - down) * 0.5 * d;
    /* the usual case: the remainder S - d q is well inside both midpoints */
    if (fabs(value_plus(s->p, s->n, -p, -e, 0)) < 0.5 * fmin(hu, hd)) break;
    double above = value_plus(s->p, s->n, -p, -e, -hu);
    if (above > 0 || (above == 0 && odd(q))) {
      q = up;
      continue;
    }
    double below = value_plus(s->p, s->n, -p, -e, hd);
    if (below < 0 || (below == 0 && odd(q))) {
      q = down;
      continue;
    }
    break;
  }
  return q;
}
