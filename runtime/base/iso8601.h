/* iso8601.h - ISO-8601 dates and date-times to UTC epoch seconds: the one parser behind
 * price data (feed.h: bt_parse_time, which adds epoch integers, blanks and quotes) and
 * trade logs, schedules and run files (strict). bt_format_time (common.h) writes them.
 *
 * Both modes read exactly len bytes: YYYY-MM-DD (a real day of the proleptic Gregorian
 * calendar), optionally 'T' or ' ' and a time of day, then an optional zone (none = UTC).
 * They differ where their inputs differ:
 *
 *               BT_ISO_STRICT (trade logs)        BT_ISO_LENIENT (price data)
 *   separator   'T' or ' '                        also 't'
 *   time        HH:MM:SS (second 60: a leap)      HH:MM or HH:MM:SS
 *   fraction    any digits, dropped               zeros only: bars are whole seconds
 *   zone        Z, +HH:MM, +HHMM (two digits      Z or z, +HH, +HH:MM, +HHMM (hours <= 23,
 *               each, not range-checked)          minutes <= 59); '-' likewise */
#ifndef BT_ISO8601_H
#define BT_ISO8601_H

#include <stdbool.h>
#include <stdint.h>

typedef enum { BT_ISO_STRICT, BT_ISO_LENIENT } bt_iso_mode;

/* s[0..len) -> UTC epoch seconds; false when it is not a date(-time) of that mode. */
bool bt_iso8601_parse(const char *s, long len, bt_iso_mode mode, int64_t *out);
/* Exactly the 10 bytes "YYYY-MM-DD" at s -> days since 1970-01-01. */
bool bt_iso8601_date(const char *s, int64_t *days);
/* A lenient time of day at [s, e): "HH:MM" or "HH:MM:SS" and a zero fraction; returns
 * the bytes consumed (0: not a time) and *secs since midnight. */
int bt_iso8601_tod(const char *s, const char *e, int *secs);
/* Days in month m (1..12) of year y. */
unsigned bt_days_in_month(int64_t y, unsigned m);

#endif
