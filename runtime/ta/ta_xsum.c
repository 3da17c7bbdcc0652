/* ta_xsum.c - exact fixed-point window sums (see ta_xsum.h). */
#include <string.h>

#include "ta_xsum.h"

typedef unsigned __int128 u128;

static u128 load(const bt_ta_xsum *s) { return ((u128)s->hi << 64) | s->lo; }

int bt_ta_xsum_max_exp(int n) {
  int bits = 0;
  while (bits < 31 && (1 << bits) <= n) bits++; /* n < 2^bits */
  return 126 - BT_TA_XSUM_FRAC - bits;          /* n values below 2^max_exp: |sum| < 2^126 */
}

bool bt_ta_xsum_add(bt_ta_xsum *s, double x, int sign, int max_exp) {
  uint64_t b;
  memcpy(&b, &x, sizeof b);
  int biased = (int)((b >> 52) & 0x7ff);
  uint64_t m = b & ((1ull << 52) - 1);
  u128 mag;
  if (biased == 0) {
    if (m) return false; /* subnormal */
    mag = 0;
  } else {
    int e = biased - 1023; /* |x| = 1.m * 2^e */
    if (e >= max_exp) return false;
    m |= 1ull << 52;
    int shift = e - 52 + BT_TA_XSUM_FRAC; /* |x| = m * 2^shift units */
    if (shift >= 0) {
      mag = (u128)m << shift;
    } else {
      if (shift < -52 || (m & ((1ull << -shift) - 1))) return false; /* finer than 2^-80 */
      mag = m >> -shift;
    }
  }
  if ((b >> 63) != 0) sign = -sign;
  u128 acc = load(s);
  acc = sign > 0 ? acc + mag : acc - mag;
  s->lo = (uint64_t)acc;
  s->hi = (uint64_t)(acc >> 64);
  return true;
}

static int bit_length(u128 q) {
  uint64_t hi = (uint64_t)(q >> 64);
  return hi ? 128 - __builtin_clzll(hi) : 64 - __builtin_clzll((uint64_t)q);
}

bool bt_ta_xsum_div(const bt_ta_xsum *s, uint64_t d, double *out) {
  u128 acc = load(s);
  bool neg = (s->hi >> 63) != 0;
  u128 a = neg ? -acc : acc;
  if (a == 0) {
    *out = 0.0;
    return true;
  }
  u128 q = a / d, r = a - q * d;
  if ((q >> 53) == 0) return false; /* fewer than 54 bits: the fraction r/d would matter */
  int sh = bit_length(q) - 53;        /* >= 1: the bits below the 53 kept */
  uint64_t mant = (uint64_t)(q >> sh);
  u128 rem = q & (((u128)1 << sh) - 1), half = (u128)1 << (sh - 1);
  /* r/d < 1 below the last bit of q: it only breaks a tie of the dropped bits, upwards */
  if (rem > half || (rem == half && (r != 0 || (mant & 1)))) {
    mant++;
    if (mant >> 53) mant >>= 1, sh++;
  }
  uint64_t scale_bits = (uint64_t)(1023 + sh - BT_TA_XSUM_FRAC) << 52; /* 2^(sh-80): normal */
  double scale;
  memcpy(&scale, &scale_bits, sizeof scale);
  double v = (double)mant * scale; /* exact: a power of two times 53 bits */
  *out = neg ? -v : v;
  return true;
}
