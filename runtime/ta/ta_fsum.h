/* ta_fsum.h - exactly rounded running sum of doubles (Shewchuk's partials, as Python's
 * math.fsum), with removal: adding -x takes x back out exactly, so a sliding window
 * sum never drifts, however many values went through it.
 *
 * The sum is kept as non-overlapping partials whose exact total is the exact sum of
 * everything added. bt_ta_fsum_value rounds that total once (half-even), so the
 * result is the same whatever order the values came in. Fixed size, no allocation:
 * when the partials would outgrow BT_TA_FSUM_CAP (only with inputs spread over a huge
 * exponent range; prices use 1-3) they are rewritten as a canonical expansion of at
 * most ~41 parts (each part at most half an ulp of the one above).
 * Inputs must be finite and the exact sum must stay below DBL_MAX. */
#ifndef BT_TA_FSUM_H
#define BT_TA_FSUM_H

#define BT_TA_FSUM_CAP 64

typedef struct bt_ta_fsum {
  int n;                      /* partials in use, increasing magnitude */
  double p[BT_TA_FSUM_CAP];
} bt_ta_fsum;

void bt_ta_fsum_reset(bt_ta_fsum *s);
void bt_ta_fsum_add(bt_ta_fsum *s, double x);
/* The exact sum rounded to the nearest double (ties to even). */
double bt_ta_fsum_value(const bt_ta_fsum *s);
/* The exact sum divided by d, rounded once to the nearest double (ties to even): the
 * correctly rounded mean when d is the count. d: a positive whole number below 2^53;
 * results in the normal range (no subnormals). */
double bt_ta_fsum_div(const bt_ta_fsum *s, double d);
/* Rewrite the partials in canonical form (same exact sum, at most ~41 parts). Called
 * by bt_ta_fsum_add when full; public so tests can check it keeps the sum. */
void bt_ta_fsum_compact(bt_ta_fsum *s);

#endif
