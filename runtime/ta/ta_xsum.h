/* ta_xsum.h - the fast exact sum behind the SMA: a 128-bit fixed-point accumulator in
 * units of 2^-BT_TA_XSUM_FRAC. Adding a double is a shift and an integer add, and the
 * correctly rounded mean is one integer division: several times cheaper than
 * bt_ta_fsum's partials, with the same result (the exact sum, rounded once).
 *
 * Only doubles that are whole multiples of 2^-80 and below 2^max_exp fit (prices do:
 * 0.01 .. 10^12); bt_ta_xsum_add refuses the others without changing the sum, and the
 * caller falls back to bt_ta_fsum. max_exp = bt_ta_xsum_max_exp(n) keeps any n of
 * them from overflowing. Stored as two 64-bit halves: Lua userdata is only 8-byte
 * aligned, so no __int128 member. */
#ifndef BT_TA_XSUM_H
#define BT_TA_XSUM_H

#include <stdbool.h>
#include <stdint.h>

#define BT_TA_XSUM_FRAC 80

typedef struct bt_ta_xsum {
  uint64_t lo, hi; /* two's complement */
} bt_ta_xsum;

/* The largest binary exponent (exclusive) of values, so that n of them cannot overflow. */
int bt_ta_xsum_max_exp(int n);
/* sum += sign * x (sign 1 or -1); false, sum unchanged, when x does not fit. */
bool bt_ta_xsum_add(bt_ta_xsum *s, double x, int sign, int max_exp);
/* The sum / d rounded once to the nearest double (ties to even), d >= 1. False when the
 * quotient is too small to be decided here (|sum / d| < 2^-27): use bt_ta_fsum_div. */
bool bt_ta_xsum_div(const bt_ta_xsum *s, uint64_t d, double *out);

#endif
