/* test_decimal.c - exact money arithmetic: parsing, rounding, overflow, formatting. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "decimal.h"

#include "check.h"

/* Parse the whole string; raw value or INT64_MIN when refused. */
static int64_t P(const char *s) {
  bt_dec d;
  int n = bt_dec_parse(s, -1, &d);
  return n == (int)strlen(s) ? d.v : INT64_MIN;
}

static bt_dec D(const char *s) { return bt_dec_raw(P(s)); }

static int fmt_is(bt_dec a, const char *want) {
  char buf[BT_DEC_STRLEN];
  int n = bt_dec_format(a, buf);
  if (strcmp(buf, want) != 0 || n != (int)strlen(want)) {
    fprintf(stderr, "  format: got '%s' want '%s'\n", buf, want);
    return 0;
  }
  return 1;
}

static int fixed_is(bt_dec a, int decimals, const char *want) {
  char buf[BT_DEC_STRLEN];
  bt_dec_format_fixed(a, decimals, buf);
  if (strcmp(buf, want) != 0) {
    fprintf(stderr, "  format_fixed(%d): got '%s' want '%s'\n", decimals, buf, want);
    return 0;
  }
  return 1;
}

static void test_parse(void) {
  CHECK(P("2.370370") == 237037000);
  CHECK(P("2.179012") == 217901200);
  CHECK(P("0") == 0);
  CHECK(P("-0.5") == -50000000);
  CHECK(P("+7") == 700000000);
  CHECK(P("3578.73") == 357873000000);
  CHECK(P("0.00000001") == 1);
  CHECK(P("1.23456789") == 123456789);
  CHECK(P("1.234567890000") == 123456789); /* trailing zeros past 8 decimals are exact */
  CHECK(P(".5") == 50000000);
  CHECK(P("5.") == 500000000);
  CHECK(P("1.5e2") == 15000000000);
  CHECK(P("25E-2") == 25000000);
  CHECK(P("92233720368.54775807") == INT64_MAX);
  bt_dec d;
  CHECK(bt_dec_parse("-92233720368.54775808", -1, &d) == 21 && d.v == INT64_MIN);

  /* length-limited parse stops at len */
  CHECK(bt_dec_parse("12.34,56", 5, &d) == 5 && d.v == 1234000000);
  CHECK(bt_dec_parse("12.34,56", -1, &d) == 5 && d.v == 1234000000);
}

static void test_refused(void) {
  bt_dec d = bt_dec_raw(777);
  /* 9 significant decimals cannot be represented: refused, not rounded */
  CHECK(bt_dec_parse("1.000000001", -1, &d) == -1);
  CHECK(bt_dec_parse("0.123456789", -1, &d) == -1);
  CHECK(bt_dec_parse("1e-9", -1, &d) == -1);
  /* out of range */
  CHECK(bt_dec_parse("92233720368.54775808", -1, &d) == -1);
  CHECK(bt_dec_parse("100000000000", -1, &d) == -1);
  CHECK(bt_dec_parse("1e20", -1, &d) == -1);
  CHECK(bt_dec_parse("99999999999999999999999", -1, &d) == -1);
  /* garbage */
  CHECK(bt_dec_parse("", -1, &d) == 0);
  CHECK(bt_dec_parse("abc", -1, &d) == 0);
  CHECK(bt_dec_parse("-", -1, &d) == 0);
  CHECK(bt_dec_parse(".", -1, &d) == 0);
  CHECK(bt_dec_parse("1e", -1, &d) == 0);
  CHECK(bt_dec_parse("nan", -1, &d) == 0);
  CHECK(d.v == 777); /* untouched by refused input */
  /* trailing garbage: consumed count stops before it, callers compare with the length */
  CHECK(bt_dec_parse("1.5x", -1, &d) == 3);
  CHECK(P("1.5x") == INT64_MIN);
  CHECK(P("1,5") == INT64_MIN);
  CHECK(P(" 1.5") == INT64_MIN);
}

static void test_exact_sums(void) {
  bt_dec sum = BT_DEC_ZERO, tenth = D("0.1");
  for (int i = 0; i < 10; i++) CHECK(bt_dec_add(sum, tenth, &sum));
  CHECK(sum.v == bt_dec_from_int(1).v);
  CHECK(fmt_is(sum, "1.0"));
  /* the classic float failure */
  bt_dec a, b = D("0.2"), c;
  CHECK(bt_dec_add(tenth, b, &a));
  CHECK(a.v == P("0.3"));
  CHECK(bt_dec_sub(a, D("0.3"), &c) && bt_dec_is_zero(c));
  /* a million additions of one cent */
  sum = BT_DEC_ZERO;
  for (int i = 0; i < 1000000; i++) bt_dec_add(sum, D("0.01"), &sum);
  CHECK(sum.v == bt_dec_from_int(10000).v);
}

static void test_mul_div(void) {
  bt_dec r;
  CHECK(bt_dec_mul(D("2.5"), D("4"), &r) && r.v == P("10"));
  CHECK(bt_dec_mul(D("-1.5"), D("1.5"), &r) && r.v == P("-2.25"));
  CHECK(bt_dec_mul(D("100"), D("0.0001"), &r) && r.v == P("0.01"));
  /* half to even at the 8th decimal */
  CHECK(bt_dec_mul(D("0.00000001"), D("0.5"), &r) && r.v == 0);  /* 0.5e-8 -> 0 */
  CHECK(bt_dec_mul(D("0.00000003"), D("0.5"), &r) && r.v == 2);  /* 1.5e-8 -> 2e-8 */
  CHECK(bt_dec_mul(D("0.00000005"), D("0.5"), &r) && r.v == 2);  /* 2.5e-8 -> 2e-8 */
  CHECK(bt_dec_mul(D("-0.00000003"), D("0.5"), &r) && r.v == -2);
  CHECK(bt_dec_mul(D("-0.00000005"), D("0.5"), &r) && r.v == -2);
  CHECK(bt_dec_mul(D("0.00000007"), D("0.3"), &r) && r.v == 2);  /* 2.1e-8 -> 2e-8 */
  CHECK(bt_dec_div(D("1"), D("3"), &r) && r.v == 33333333);
  CHECK(bt_dec_div(D("2"), D("3"), &r) && r.v == 66666667);
  CHECK(bt_dec_div(D("-2"), D("3"), &r) && r.v == -66666667);
  CHECK(bt_dec_div(D("2"), D("-3"), &r) && r.v == -66666667);
  CHECK(bt_dec_div(D("0.00000001"), D("2"), &r) && r.v == 0);
  CHECK(bt_dec_div(D("0.00000003"), D("2"), &r) && r.v == 2);
  CHECK(bt_dec_div(D("10"), D("4"), &r) && r.v == P("2.5"));
  /* muldiv: one rounding for notional * bps / 10000 */
  CHECK(bt_dec_muldiv(D("12345.67"), 5, 10000, &r) && r.v == P("6.172835"));
  CHECK(bt_dec_muldiv(D("0.00000001"), 1, 2, &r) && r.v == 0);
  CHECK(bt_dec_muldiv(D("0.00000003"), 1, 2, &r) && r.v == 2);
  CHECK(bt_dec_muldiv(D("1"), 1, -4, &r) && r.v == P("-0.25"));
}

static void test_overflow(void) {
  bt_dec max = bt_dec_raw(INT64_MAX), min = bt_dec_raw(INT64_MIN), r = bt_dec_raw(123);
  CHECK(!bt_dec_add(max, bt_dec_raw(1), &r));
  CHECK(!bt_dec_sub(min, bt_dec_raw(1), &r));
  CHECK(!bt_dec_mul(D("10000000000"), D("10"), &r));
  CHECK(!bt_dec_mul(D("-10000000000"), D("10"), &r));
  CHECK(!bt_dec_div(D("1"), BT_DEC_ZERO, &r));
  CHECK(!bt_dec_div(D("90000000000"), D("0.5"), &r));
  CHECK(!bt_dec_muldiv(D("1"), 1, 0, &r));
  CHECK(!bt_dec_muldiv(max, 2, 1, &r));
  CHECK(r.v == 123); /* untouched on failure */
  CHECK(bt_dec_add(max, bt_dec_raw(-1), &r) && r.v == INT64_MAX - 1);
  CHECK(bt_dec_mul(D("9000000000"), D("10"), &r) && r.v == P("90000000000"));
}

static void test_format(void) {
  CHECK(fmt_is(D("12.5"), "12.5"));
  CHECK(fmt_is(BT_DEC_ZERO, "0.0"));
  CHECK(fmt_is(D("-3.14159"), "-3.14159"));
  CHECK(fmt_is(D("0.00000001"), "0.00000001"));
  CHECK(fmt_is(D("100"), "100.0"));
  CHECK(fmt_is(D("-0.5"), "-0.5"));
  CHECK(fmt_is(bt_dec_raw(INT64_MAX), "92233720368.54775807"));
  CHECK(fmt_is(bt_dec_raw(INT64_MIN), "-92233720368.54775808"));
  CHECK(fixed_is(D("12.5"), 2, "12.50"));
  CHECK(fixed_is(D("12.5"), 0, "12"));   /* half to even */
  CHECK(fixed_is(D("13.5"), 0, "14"));
  CHECK(fixed_is(D("0.125"), 2, "0.12"));
  CHECK(fixed_is(D("0.135"), 2, "0.14"));
  CHECK(fixed_is(D("0.1251"), 2, "0.13"));
  CHECK(fixed_is(D("-0.125"), 2, "-0.12"));
  CHECK(fixed_is(D("-0.001"), 2, "0.00"));
  CHECK(fixed_is(D("2.370370"), 8, "2.37037000"));
  CHECK(fixed_is(D("7"), 3, "7.000"));
  /* round trip: format then parse gives the same value */
  const char *vals[] = {"0.1", "-12345.6789", "3578.73", "0.00000001", "92233720368.5"};
  for (size_t i = 0; i < sizeof vals / sizeof vals[0]; i++) {
    char buf[BT_DEC_STRLEN];
    bt_dec_format(D(vals[i]), buf);
    CHECK(P(buf) == P(vals[i]));
  }
}

static void test_from_double(void) {
  bt_dec r;
  CHECK(bt_dec_from_double(0.1, &r) && r.v == 10000000);
  CHECK(bt_dec_from_double(-2.37037, &r) && r.v == -237037000);
  CHECK(bt_dec_from_double(100.0, &r) && r.v == P("100"));
  CHECK(bt_dec_from_double(1.0 / 3.0, &r) && r.v == 33333333);
  CHECK(bt_dec_from_double(1e-9, &r) && r.v == 0);
  CHECK(bt_dec_from_double(0.1 + 0.2, &r) && r.v == P("0.3"));
  r = bt_dec_raw(5);
  CHECK(!bt_dec_from_double(NAN, &r));
  CHECK(!bt_dec_from_double(INFINITY, &r));
  CHECK(!bt_dec_from_double(-INFINITY, &r));
  CHECK(!bt_dec_from_double(1e12, &r));
  CHECK(!bt_dec_from_double(-1e12, &r));
  CHECK(r.v == 5);
  CHECK(fabs(bt_dec_to_double(D("2.5")) - 2.5) == 0);
}

/* bt_dec_format's 64-bit path gives bt_dec_format_fixed's text at full precision with
 * trailing zeros trimmed to one decimal, for edge values and a pseudo-random sweep. */
static void test_format_matches_fixed(void) {
  int64_t edge[] = {0, 1, -1, 10, 99999999, 100000000, -100000000, 100000001, 123456789012,
                    -5, INT64_MAX, INT64_MIN, INT64_MIN + 1, 1000000000000000000LL};
  uint64_t x = 88172645463325252ULL;
  for (int i = 0; i < 20000; i++) {
    int64_t v;
    if (i < (int)(sizeof edge / sizeof edge[0])) {
      v = edge[i];
    } else { /* xorshift64, scaled to every magnitude */
      x ^= x << 13, x ^= x >> 7, x ^= x << 17;
      v = (int64_t)(x >> (i % 60));
      if (i & 1) v = -v;
    }
    char got[BT_DEC_STRLEN], want[BT_DEC_STRLEN];
    int n = bt_dec_format(bt_dec_raw(v), got);
    int m = bt_dec_format_fixed(bt_dec_raw(v), BT_DEC_DIGITS, want);
    while (m > 2 && want[m - 1] == '0' && want[m - 2] != '.') want[--m] = 0;
    if (n != m || strcmp(got, want) != 0) {
      fprintf(stderr, "bt_dec_format(%lld) = '%s', want '%s'\n", (long long)v, got, want);
      failures++;
      break;
    }
  }
}

/* splitmix64: a reproducible stream of test values */
static uint64_t next_u64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* bt_dec_put writes bt_dec_format's text: checked against format_fixed(8) with its
 * trailing zeros trimmed, an independent path. */
static int put_is_format(bt_dec a) {
  char want[BT_DEC_STRLEN], got[BT_DEC_STRLEN + 1];
  int n = bt_dec_format_fixed(a, 8, want);
  while (n > 2 && want[n - 1] == '0' && want[n - 2] != '.') want[--n] = '\0';
  char *end = bt_dec_put(a, got);
  *end = '\0';
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "  bt_dec_put(%lld): got '%s' want '%s'\n", (long long)a.v, got, want);
    return 0;
  }
  return 1;
}

static void test_put(void) {
  const int64_t edge[] = {0, 1, -1, 10, -10, 100000000, -100000000, 150000000, -50000000, 99999999,
                          INT64_MAX, INT64_MIN, INT64_MIN + 1, 1000000000000000000LL};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) CHECK(put_is_format(bt_dec_raw(edge[i])));
  uint64_t st = 7;
  for (int i = 0; i < 200000; i++) {
    uint64_t r = next_u64(&st);
    /* every magnitude: shift the 64 random bits down by 0..63 */
    int64_t v = (int64_t)(r >> (i % 64));
    if (i & 1) v = -v;
    CHECK(put_is_format(bt_dec_raw(v)));
  }
  char buf[BT_DEC_STRLEN];
  *bt_dec_put(D("-3.14159"), buf) = '\0';
  CHECK(strcmp(buf, "-3.14159") == 0);
}

/* put (bt_fixed8_put, bt_g17_put) writes exactly what printf's fmt writes */
static int is_printf(char *(*put)(double, char *), const char *fmt, double x) {
  char want[400], got[BT_FIXED8_MAX + 1];
  snprintf(want, sizeof want, fmt, x);
  *put(x, got) = '\0';
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "  %s of %a: got '%s' want '%s'\n", fmt, x, got, want);
    return 0;
  }
  return 1;
}

static int fixed8_is_printf(double x) { return is_printf(bt_fixed8_put, "%.8f", x); }

static void test_fixed8(void) {
  const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, 1e-9, -1e-9, 5e-9, -5e-9, 4.9999999e-9,
                         0.001953125, /* x * 1e8 = 195312.5 exactly: a true tie, to even */
                         0.005859375, /* 585937.5: a tie, to even (up) */
                         -0.001953125, 0.1, 0.25, 1.0 / 3.0, 2.0 / 3.0, 0.99999999999,
                         89999999.999999, -89999999.999999, 9e7, -9e7, 9.1e7, 1e15, 1e300, -1e300,
                         INFINITY, -INFINITY, NAN, 123456.123456785, 0.123456785, 0.000000015};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) CHECK(fixed8_is_printf(edge[i]));
  uint64_t st = 11;
  for (int i = 0; i < 200000; i++) {
    uint64_t r = next_u64(&st);
    double u = (double)(r >> 11) / 9007199254740992.0; /* [0, 1) */
    double scale[] = {1e-9, 1e-6, 1e-3, 1, 1e3, 1e6, 9e7};
    double x = u * scale[i % 7];
    /* near-ties: (k + 0.5) / 1e8 rounded to a double, whose exact value lies either side */
    if (i % 5 == 0) x = ((double)(r % 100000000) + 0.5) / 1e8;
    CHECK(fixed8_is_printf(i & 1 ? -x : x));
  }
}

/* bt_dec_put_cached writes what bt_dec_put does, over runs of repeated values */
static void test_put_cached(void) {
  bt_dec_cache c = {0};
  uint64_t st = 5;
  int64_t v = 0;
  for (int i = 0; i < 20000; i++) {
    uint64_t r = next_u64(&st);
    if (r % 3 == 0) v = (int64_t)(r >> 8) % 100000000000000 - 50000000000000; /* else repeat */
    if (r % 17 == 0) v = 0;
    char want[BT_DEC_STRLEN + 1], got[BT_DEC_STRLEN + 1];
    *bt_dec_put(bt_dec_raw(v), want) = '\0';
    *bt_dec_put_cached(&c, bt_dec_raw(v), got) = '\0';
    CHECK(strcmp(got, want) == 0);
  }
}

static int g17_is_printf(double x) { return is_printf(bt_g17_put, "%.17g", x); }

static void test_g17(void) {
  const double edge[] = {0.0, -0.0, 1.0, -1.0, 0.5, 0.1, 1e-4, 9.9999999999999991e-5, 1e-5, 1e-16,
                         9.9999999999999998e-17, 1e-17, 1e16, 1e17, 9.9999999999999984e16,
                         99999999999999999.0, 0.99999999999999994, 9.9999999999999995e-5,
                         1000000000000000.25, 1000000000000000.75, 4503599627370495.5, /* ties */
                         1.0 / 3.0, -2.0 / 3.0, 123456789.123456789, 5e-324, 2.2250738585072014e-308,
                         1.7976931348623157e308, INFINITY, -INFINITY, NAN, 0.30000000000000004};
  for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) CHECK(g17_is_printf(edge[i]));
  uint64_t st = 17;
  for (int i = 0; i < 300000; i++) {
    uint64_t r = next_u64(&st);
    double u = (double)(r >> 11) / 9007199254740992.0, x; /* [0, 1) */
    switch (i % 4) {
    case 0: memcpy(&x, &r, sizeof x); break;                   /* any bits */
    case 1: x = u * 3 - 1; break;                              /* returns */
    case 2: x = ldexp(u + 0.5, (int)(r % 120) - 60); break;    /* every exponent in range */
    default: x = (double)(r % 100000000000000000ull) + (double)(r >> 60) / 16; break; /* ties */
    }
    CHECK(g17_is_printf(i & 1 ? -x : x));
  }
}

int main(void) {
  test_format_matches_fixed();
  test_parse();
  test_refused();
  test_exact_sums();
  test_mul_div();
  test_overflow();
  test_format();
  test_from_double();
  test_put();
  test_fixed8();
  test_g17();
  test_put_cached();
  if (failures) {
    fprintf(stderr, "test_decimal: %d check(s) failed\n", failures);
    return 1;
  }
  printf("test_decimal: all checks passed\n");
  return 0;
}
