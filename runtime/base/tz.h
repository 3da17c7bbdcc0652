/* tz.h - time zones: IANA names from the system tz database, and fixed offsets.
 *
 * A bt_tz is immutable once loaded, so one zone can be shared by threads (libc's
 * localtime_r depends on the process-wide TZ variable instead). A named zone is read from
 * its TZif file (RFC 8536) under $TZDIR or /usr/share/zoneinfo: the 64-bit table of
 * transitions, then the POSIX TZ rule of the file's footer for instants past the table.
 * A fixed offset ("UTC", "Z", "+05:30", "-0400", "-4") never changes.
 *
 * Local times are counted like UTC ones: seconds since 1970-01-01T00:00:00 of the local
 * wall clock. Resolving a local time to UTC follows the rules the scheduler documents
 * (docs/schedules.md): a local time skipped by a forward change resolves to the first
 * instant after the gap; a local time that happens twice resolves to its first
 * occurrence. */
#ifndef BT_TZ_H
#define BT_TZ_H

#include <stdint.h>

#include "common.h"

typedef struct bt_tz bt_tz;

/* Zone `spec`: an IANA name ("America/New_York", "UTC") or a fixed offset. A name never
 * reaches outside the zone directory: "..", a leading '/' and other characters are
 * rejected (config_error naming the zone). */
int bt_tz_load(const char *spec, bt_tz **out, bt_err *err);
void bt_tz_free(bt_tz *tz);
/* UTC, never freed (a constant: nothing to load, nothing to free). */
const bt_tz *bt_tz_utc(void);

/* The spec the zone was loaded from. */
const char *bt_tz_name(const bt_tz *tz);
/* True for a fixed offset (no transitions ever). */
int bt_tz_is_fixed(const bt_tz *tz);

/* Offset east of UTC in seconds at instant `utc`. */
int32_t bt_tz_offset(const bt_tz *tz, int64_t utc);
static inline int64_t bt_tz_to_local(const bt_tz *tz, int64_t utc) {
  return utc + bt_tz_offset(tz, utc);
}

/* The first change of offset strictly after `utc`: 1 with *at, *before and *after filled
 * (seconds east of UTC), 0 when the offset never changes again. */
int bt_tz_next_change(const bt_tz *tz, int64_t utc, int64_t *at, int32_t *before,
                      int32_t *after);

/* How a local time resolved. */
typedef enum {
  BT_TZ_UNIQUE = 0, /* it happens once */
  BT_TZ_GAP,        /* skipped by a forward change: *utc is the end of the gap */
  BT_TZ_REPEATED,   /* happens twice (backward change): *utc is the first occurrence */
} bt_tz_kind;

/* Local time -> UTC under the rules above. */
bt_tz_kind bt_tz_resolve(const bt_tz *tz, int64_t local, int64_t *utc);

/* Largest minus smallest offset the zone ever uses, in seconds (0 for a fixed offset):
 * how far apart two instants with the same local time can be, which bounds searches. */
int32_t bt_tz_span(const bt_tz *tz);

/* Format `utc` as local ISO-8601 with its offset: "2027-03-15T17:30:00-04:00" (buf >= 32). */
void bt_tz_format_local(const bt_tz *tz, int64_t utc, char *buf);

#endif
