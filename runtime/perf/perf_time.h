/* perf_time.h - dates, market-timezone offsets and summary windows for performance
 * tracking.
 *
 * A "day" is a day number (days since 1970-01-01) in the market's local time: the
 * local date of a UTC instant in the market's zone (tz.h: an IANA zone with its DST
 * changes, or a fixed offset), so a day can last 23 or 25 hours. Weeks are ISO weeks
 * (Monday to Sunday), months are calendar months; a window is the inclusive day range
 * [start, end]. */
#ifndef BT_PERF_TIME_H
#define BT_PERF_TIME_H

#include <stdbool.h>
#include <stdint.h>

#include "tz.h"

typedef enum {
  BT_PERF_DAILY = 0,
  BT_PERF_WEEKLY,
  BT_PERF_MONTHLY,
  BT_PERF_CUSTOM,
} bt_perf_window;

/* "daily"/"weekly"/"monthly"/"custom" <-> enum; parse returns false on anything else. */
const char *bt_perf_window_name(bt_perf_window w);
bool bt_perf_window_parse(const char *s, bt_perf_window *out);

/* Day number -> "YYYY-MM-DD" (buf >= 16). */
void bt_perf_day_format(int64_t day, char *buf);
/* "YYYY-MM-DD" (exactly, validated) -> day number. */
bool bt_perf_day_parse(const char *s, int64_t *day);

/* How summaries name the zone: "+05:30" for a fixed offset (as before named zones),
 * else the IANA name (buf >= 128). */
void bt_perf_tz_label(const bt_tz *tz, char *buf);

/* Local day number of a UTC instant in the market's zone. */
static inline int64_t bt_perf_local_day(int64_t utc_s, const bt_tz *tz) {
  int64_t t = bt_tz_to_local(tz, utc_s);
  return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

/* The window of kind w that contains `day`: [*start, *end] (inclusive day numbers).
 * For BT_PERF_CUSTOM the range is left unchanged. */
void bt_perf_window_bounds(bt_perf_window w, int64_t day, int64_t *start, int64_t *end);

#endif
