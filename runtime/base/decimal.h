/* decimal.h - exact money arithmetic.
 *
 * A bt_dec is a signed 64-bit count of 10^-8 units (fixed point, 8 decimals).
 * Range: about +/-92,233,720,368.54775807. Addition and subtraction are exact;
 * multiplication and division are computed in 128 bits and rounded once, half to
 * even, to 8 decimals, so nothing ever accumulates binary floating-point error.
 * Every operation that could overflow reports it instead of wrapping. */
#ifndef BT_DECIMAL_H
#define BT_DECIMAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BT_DEC_SCALE 100000000LL
#define BT_DEC_DIGITS 8
#define BT_DEC_STRLEN 32 /* enough for any bt_dec as a string, with NUL */

typedef struct bt_dec {
  int64_t v;
} bt_dec;

#define BT_DEC_ZERO ((bt_dec){0})

static inline bt_dec bt_dec_raw(int64_t v) { return (bt_dec){v}; }
static inline bt_dec bt_dec_from_int(int64_t n) { return (bt_dec){n * BT_DEC_SCALE}; }
static inline bool bt_dec_is_zero(bt_dec a) { return a.v == 0; }
static inline int bt_dec_cmp(bt_dec a, bt_dec b) { return (a.v > b.v) - (a.v < b.v); }
static inline int bt_dec_sign(bt_dec a) { return (a.v > 0) - (a.v < 0); }
static inline bt_dec bt_dec_neg(bt_dec a) { return (bt_dec){-a.v}; }
static inline bt_dec bt_dec_abs(bt_dec a) { return (bt_dec){a.v < 0 ? -a.v : a.v}; }
static inline bt_dec bt_dec_min(bt_dec a, bt_dec b) { return a.v < b.v ? a : b; }
static inline bt_dec bt_dec_max(bt_dec a, bt_dec b) { return a.v > b.v ? a : b; }
static inline double bt_dec_to_double(bt_dec a) { return (double)a.v / (double)BT_DEC_SCALE; }

/* Checked arithmetic: return false (and leave *out untouched) on overflow or division by zero. */
bool bt_dec_add(bt_dec a, bt_dec b, bt_dec *out);
bool bt_dec_sub(bt_dec a, bt_dec b, bt_dec *out);
bool bt_dec_mul(bt_dec a, bt_dec b, bt_dec *out);
bool bt_dec_div(bt_dec a, bt_dec b, bt_dec *out);
/* a * num / den with one rounding (e.g. notional * bps / 10000). */
bool bt_dec_muldiv(bt_dec a, int64_t num, int64_t den, bt_dec *out);

/* Parse a decimal number: optional sign, digits, optional '.', digits; optional exponent
 * (e/E) is accepted when the result is exact within 8 decimals. Reads at most `len` bytes
 * (len < 0: up to NUL). Returns the number of bytes consumed, 0 on syntax error, -1 on
 * overflow or on more than 8 significant decimals that are not zero (a price like
 * 1.000000001 cannot be represented and is refused rather than silently rounded). */
int bt_dec_parse(const char *s, long len, bt_dec *out);
/* Nearest bt_dec to a double (Lua numbers from strategies); false if out of range or NaN. */
bool bt_dec_from_double(double d, bt_dec *out);
/* Canonical string: minus sign if negative, no exponent, trailing zeros trimmed but at
 * least one decimal kept ("12.5", "0.0", "-3.14159"). Returns the length written. */
int bt_dec_format(bt_dec a, char buf[BT_DEC_STRLEN]);
/* Fixed number of decimals (0..8), rounded half to even ("12.50"). */
int bt_dec_format_fixed(bt_dec a, int decimals, char buf[BT_DEC_STRLEN]);
/* bt_dec_format's text written at p without a NUL and without printf (output files
 * write several per row); returns the end. Room: BT_DEC_STRLEN. */
char *bt_dec_put(bt_dec a, char *p);
/* bt_dec_put for a column whose value often repeats (cash between trades): the text of
 * the latest value is kept and copied. Room: BT_DEC_STRLEN. A zeroed cache is empty. */
typedef struct bt_dec_cache {
  bt_dec v;
  int len; /* 0 = empty */
  char text[BT_DEC_STRLEN];
} bt_dec_cache;
char *bt_dec_put_cached(bt_dec_cache *c, bt_dec a, char *p);
/* An unsigned integer's digits at p (room: 20); returns the end. */
char *bt_dec_put_uint(uint64_t u, char *p);

/* A double with 8 decimals: exactly printf("%.8f", x)'s text (the exact binary value
 * rounded half to even, "-0.00000000" for a tiny negative), written at p without a NUL;
 * returns the end. Room: BT_FIXED8_MAX. Cheap for |x| < 9e7, printf beyond. */
#define BT_FIXED8_MAX 330
char *bt_fixed8_put(double x, char *p);

/* A double as printf("%.17g", x) writes it (reads back as the same double; the exact
 * binary value rounded half to even to 17 significant digits), written at p without a
 * NUL; returns the end. Room: BT_G17_MAX. Exact integer arithmetic for 1e-16 <= |x| <
 * 1e17 and 0, printf otherwise. */
#define BT_G17_MAX 32
char *bt_g17_put(double x, char *p);

#endif
