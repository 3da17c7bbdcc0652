#include "decimal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef __int128 i128;

/* Divide rounding half to even; den > 0. */
static i128 div_round(i128 num, i128 den) {
  i128 q = num / den, r = num % den;
  if (r == 0) return q;
  i128 twice = (r < 0 ? -r : r) * 2;
  int dir = num < 0 ? -1 : 1;
  if (twice > den || (twice == den && (q % 2 != 0))) q += dir;
  return q;
}

static bool fits(i128 x, bt_dec *out) {
  if (x > INT64_MAX || x < INT64_MIN) return false;
  out->v = (int64_t)x;
  return true;
}

bool bt_dec_add(bt_dec a, bt_dec b, bt_dec *out) {
  int64_t r;
  if (__builtin_add_overflow(a.v, b.v, &r)) return false;
  out->v = r;
  return true;
}

bool bt_dec_sub(bt_dec a, bt_dec b, bt_dec *out) {
  int64_t r;
  if (__builtin_sub_overflow(a.v, b.v, &r)) return false;
  out->v = r;
  return true;
}

bool bt_dec_mul(bt_dec a, bt_dec b, bt_dec *out) {
  return fits(div_round((i128)a.v * b.v, BT_DEC_SCALE), out);
}

bool bt_dec_div(bt_dec a, bt_dec b, bt_dec *out) {
  if (b.v == 0) return false;
  i128 num = (i128)a.v * BT_DEC_SCALE, den = b.v;
  if (den < 0) num = -num, den = -den;
  return fits(div_round(num, den), out);
}

bool bt_dec_muldiv(bt_dec a, int64_t num, int64_t den, bt_dec *out) {
  if (den == 0) return false;
  i128 n = (i128)a.v * num, d = den;
  if (d < 0) n = -n, d = -d;
  return fits(div_round(n, d), out);
}

int bt_dec_parse(const char *s, long len, bt_dec *out) {
  const char *p = s, *end = len < 0 ? s + strlen(s) : s + len;
  bool neg = false;
  if (p < end && (*p == '-' || *p == '+')) neg = (*p++ == '-');
  uint64_t mant = 0;
  int frac = 0, digits = 0;
  bool overflow = false, dropped = false;
  while (p < end && (unsigned)(*p - '0') < 10) {
    if (mant > (UINT64_MAX - 9) / 10) overflow = true;
    else mant = mant * 10 + (uint64_t)(*p - '0');
    p++, digits++;
  }
  if (p < end && *p == '.') {
    p++;
    while (p < end && (unsigned)(*p - '0') < 10) {
      if (frac < BT_DEC_DIGITS) {
        if (mant > (UINT64_MAX - 9) / 10) overflow = true;
        else mant = mant * 10 + (uint64_t)(*p - '0');
        frac++;
      } else if (*p != '0') {
        dropped = true;
      }
      p++, digits++;
    }
  }
  if (digits == 0) return 0;
  int exp = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    const char *q = p + 1;
    bool eneg = false;
    if (q < end && (*q == '-' || *q == '+')) eneg = (*q++ == '-');
    if (!(q < end && (unsigned)(*q - '0') < 10)) return 0;
    while (q < end && (unsigned)(*q - '0') < 10) {
      if (exp < 1000) exp = exp * 10 + (*q - '0');
      q++;
    }
    if (eneg) exp = -exp;
    p = q;
  }
  if (overflow || dropped) return -1;
  /* value = mant * 10^(exp - frac); we need mant * 10^(8 - frac + exp) */
  int shift = BT_DEC_DIGITS - frac + exp;
  i128 v = mant;
  if (shift >= 0) {
    for (int i = 0; i < shift; i++) {
      v *= 10;
      if (v > (i128)INT64_MAX + 1) return -1;
    }
  } else {
    for (int i = 0; i < -shift; i++) {
      if (v % 10 != 0) return -1; /* would lose digits */
      v /= 10;
    }
  }
  if (neg) v = -v;
  if (!fits(v, out)) return -1;
  return (int)(p - s);
}

bool bt_dec_from_double(double d, bt_dec *out) {
  if (!isfinite(d)) return false;
  /* Below 1e6 the scaled product is far from 2^53, so rounding it is the same as
   * rounding the decimal rendering of d (0.1 -> 0.10000000 exactly). Larger values go
   * through a %.8f rendering, which is slower but exact. */
  if (fabs(d) < 1e6) {
    out->v = (int64_t)nearbyint(d * (double)BT_DEC_SCALE);
    return true;
  }
  if (fabs(d) >= 9.2e10) return false;
  char buf[64];
  snprintf(buf, sizeof buf, "%.8f", d);
  bt_dec v;
  if (bt_dec_parse(buf, -1, &v) <= 0) return false;
  *out = v;
  return true;
}

int bt_dec_format_fixed(bt_dec a, int decimals, char buf[BT_DEC_STRLEN]) {
  if (decimals < 0) decimals = 0;
  if (decimals > BT_DEC_DIGITS) decimals = BT_DEC_DIGITS;
  i128 div = 1;
  for (int i = decimals; i < BT_DEC_DIGITS; i++) div *= 10;
  i128 v = div_round((i128)a.v, div);
  bool neg = v < 0;
  /* |v| <= 2^63 fits 64 bits: digits come from cheap 64-bit divisions */
  uint64_t u = neg ? (uint64_t)(-(v + 1)) + 1 : (uint64_t)v;
  char tmp[BT_DEC_STRLEN];
  int n = 0;
  for (int i = 0; i < decimals; i++) tmp[n++] = (char)('0' + (int)(u % 10)), u /= 10;
  if (decimals > 0) tmp[n++] = '.';
  do tmp[n++] = (char)('0' + (int)(u % 10)), u /= 10; while (u);
  int len = 0;
  if (neg) buf[len++] = '-';
  while (n) buf[len++] = tmp[--n];
  buf[len] = '\0';
  return len;
}

/* "00".."99": two digits per division */
static const char DIGITS2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

int bt_dec_format(bt_dec a, char buf[BT_DEC_STRLEN]) {
  char *end = bt_dec_put(a, buf);
  *end = '\0';
  return (int)(end - buf);
}

/* How many digits u has (1..20), from its bit length: no division. */
static inline int ndigits(uint64_t u) {
  static const uint64_t pow10[20] = {1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull,
                                     1000000ull, 10000000ull, 100000000ull, 1000000000ull,
                                     10000000000ull, 100000000000ull, 1000000000000ull,
                                     10000000000000ull, 100000000000000ull,
                                     1000000000000000ull, 10000000000000000ull,
                                     100000000000000000ull, 1000000000000000000ull,
                                     10000000000000000000ull};
  u |= 1; /* same digit count; log2 needs u > 0 */
  int t = (64 - __builtin_clzll(u)) * 1233 >> 12; /* ~log10(2^bits), one too high at most */
  return t - (u < pow10[t]) + 1;
}

/* Written from the end, straight at p: exports and output files write millions. */
char *bt_dec_put_uint(uint64_t u, char *p) {
  char *end = p + ndigits(u), *q = end;
  for (; u >= 100; u /= 100) q -= 2, memcpy(q, DIGITS2 + 2 * (u % 100), 2);
  if (u >= 10) memcpy(q - 2, DIGITS2 + 2 * u, 2);
  else q[-1] = (char)('0' + u);
  return end;
}

/* the 8 decimals of f < 10^8, in 32-bit arithmetic */
static void put_frac8(uint32_t f, char out[8]) {
  uint32_t hi = f / 10000, lo = f % 10000;
  memcpy(out, DIGITS2 + 2 * (hi / 100), 2);
  memcpy(out + 2, DIGITS2 + 2 * (hi % 100), 2);
  memcpy(out + 4, DIGITS2 + 2 * (lo / 100), 2);
  memcpy(out + 6, DIGITS2 + 2 * (lo % 100), 2);
}

char *bt_dec_put(bt_dec a, char *p) {
  uint64_t u = a.v < 0 ? 0 - (uint64_t)a.v : (uint64_t)a.v;
  if (a.v < 0) *p++ = '-';
  p = bt_dec_put_uint(u / BT_DEC_SCALE, p);
  *p++ = '.';
  uint32_t f = (uint32_t)(u % BT_DEC_SCALE);
  if (f == 0) {
    *p++ = '0';
    return p;
  }
  put_frac8(f, p); /* all 8 (room: BT_DEC_STRLEN), then trailing zeros trimmed */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t w; /* the last digits are the high bytes: its leading zero bytes are the '0's */
  memcpy(&w, p, 8);
  return p + 8 - __builtin_clzll(w ^ 0x3030303030303030ull) / 8; /* f != 0: w has a digit */
#else
  int k = BT_DEC_DIGITS;
  while (p[k - 1] == '0') k--;
  return p + k;
#endif
}

char *bt_dec_put_cached(bt_dec_cache *c, bt_dec a, char *p) {
  if (!c->len || c->v.v != a.v) c->v = a, c->len = (int)(bt_dec_put(a, c->text) - c->text);
  memcpy(p, c->text, sizeof c->text); /* the whole buffer: a fixed-size copy */
  return p + c->len;
}

char *bt_fixed8_put(double x, char *p) {
  if (x == 0 && !signbit(x)) { /* a drawdown at the peak: most rows */
    memcpy(p, "0.00000000", 10);
    return p + 10;
  }
  double a = fabs(x);
  if (!(a < 9e7)) { /* large, inf or NaN: rare enough for printf */
    int n = snprintf(p, BT_FIXED8_MAX, "%.8f", x);
    return p + (n < BT_FIXED8_MAX ? n : BT_FIXED8_MAX - 1);
  }
  /* s = a * 1e8 rounded to a double, e its exact error (fma), so a * 1e8 == s + e. Below
   * 9e15 every step is exact except at a tie of s: there e decides, as printf does on the
   * exact binary value (a true tie stays at nearbyint's even choice). */
  double s = a * 1e8, e = fma(a, 1e8, -s), r = nearbyint(s), d = s - r;
  if (d == 0.5 && e > 0) r += 1;
  else if (d == -0.5 && e < 0) r -= 1;
  uint64_t u = (uint64_t)r;
  if (signbit(x)) *p++ = '-';
  p = bt_dec_put_uint(u / BT_DEC_SCALE, p);
  *p++ = '.';
  put_frac8((uint32_t)(u % BT_DEC_SCALE), p);
  return p + BT_DEC_DIGITS;
}

/* the 17 significant digits of a (> 0) times 10^(16 - x10), exactly rounded half to
 * even, when 0 <= 16 - x10 <= 32 (a * 10^s = m * 5^s * 2^(e+s): m * 5^s < 2^128); -1:
 * out of that range */
static int64_t g17_digits(double a, int x10) {
  int s = 16 - x10, ex;
  if (s < 0 || s > 32) return -1;
  double f = frexp(a, &ex);
  unsigned __int128 n = (uint64_t)ldexp(f, 53), five = 1;
  for (int i = 0; i < s; i++) five *= 5;
  n *= five;
  int sh = ex - 53 + s; /* a * 10^s = n * 2^sh */
  if (sh >= 0) return sh < 64 && n < ((unsigned __int128)1 << (127 - sh)) ? (int64_t)(n << sh) : -1;
  if (sh <= -128) return -1;
  unsigned __int128 q = n >> -sh, r = n - (q << -sh), half = (unsigned __int128)1 << (-sh - 1);
  if (r > half || (r == half && (q & 1))) q++;
  return (int64_t)q;
}

char *bt_g17_put(double x, char *p) {
  double a = fabs(x);
  if (a == 0) {
    if (signbit(x)) *p++ = '-';
    *p++ = '0';
    return p;
  }
  /* the decimal exponent: floor(log10(a)) is that of 2^(ex-1) or one more */
  int ex;
  frexp(a, &ex);
  int x10 = (int)floor((ex - 1) * 0.30102999566398120);
  int64_t d = isfinite(a) ? g17_digits(a, x10) : -1;
  const int64_t lo = 10000000000000000; /* 10^16 */
  if (d >= 10 * lo) d = g17_digits(a, ++x10);
  if (d == 10 * lo) d = lo, x10++; /* rounded up to the next power of ten */
  if (d < lo) { /* out of range (or the estimate was off): printf */
    int n = snprintf(p, BT_G17_MAX, "%.17g", x);
    return p + (n < BT_G17_MAX ? n : BT_G17_MAX - 1);
  }
  char dig[17];
  for (int i = 16; i >= 0; i--, d /= 10) dig[i] = (char)('0' + d % 10);
  int last = 16; /* %g drops trailing zeros of the fraction, and a bare point */
  if (signbit(x)) *p++ = '-';
  if (x10 < -4) { /* d.ddde-XX (x10 >= 17 is printf's) */
    while (last > 0 && dig[last] == '0') last--;
    *p++ = dig[0];
    if (last > 0) *p++ = '.', memcpy(p, dig + 1, (size_t)last), p += last;
    *p++ = 'e', *p++ = '-'; /* here -16 <= x10 <= -5 */
    *p++ = (char)('0' + -x10 / 10), *p++ = (char)('0' + -x10 % 10);
  } else if (x10 >= 0) { /* ddd.ddd */
    while (last > x10 && dig[last] == '0') last--;
    memcpy(p, dig, (size_t)x10 + 1), p += x10 + 1;
    if (last > x10) *p++ = '.', memcpy(p, dig + x10 + 1, (size_t)(last - x10)), p += last - x10;
  } else { /* 0.000ddd */
    while (dig[last] == '0') last--;
    *p++ = '0', *p++ = '.';
    for (int i = -1; i > x10; i--) *p++ = '0';
    memcpy(p, dig, (size_t)last + 1), p += last + 1;
  }
  return p;
}
