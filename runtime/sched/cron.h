/* cron.h - five-field cron expressions and their fire times in a time zone.
 *
 * "minute hour day-of-month month day-of-week" with lists (1,15), ranges (1-5), steps
 * (8-18/2; a star with /15 = every 15; 5/20 = 5-max/20), month names JAN..DEC and
 * weekday names SUN..SAT (case-insensitive; 0 and 7 are Sunday), the shorthands @yearly/@annually,
 * @monthly, @weekly, @daily/@midnight, @hourly. Day-of-month and day-of-week follow
 * vixie cron: when both fields are restricted (neither starts with '*') a day matches
 * if EITHER matches; otherwise both must.
 *
 * Fire times are local wall-clock minutes resolved to UTC by bt_tz_resolve: a minute
 * skipped by a forward DST change fires once at the end of the gap, a minute repeated
 * by a backward change fires once, at its first occurrence. docs/schedules.md. */
#ifndef BT_CRON_H
#define BT_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "tz.h"

typedef struct bt_cron {
  uint64_t minute;  /* bit i: minute i (0..59) */
  uint32_t hour;    /* bits 0..23 */
  uint32_t dom;     /* bits 1..31 */
  uint32_t month;   /* bits 1..12 */
  uint32_t dow;     /* bits 0..6, Sunday = 0 */
  bool dom_star, dow_star; /* the field starts with '*' (see the OR rule above) */
} bt_cron;

/* Parse `expr`. On error: config_error whose message names `label` (e.g. `schedule
 * "nightly"`), the expression and the field, with err->field set to "cron". An
 * expression that can never fire (e.g. "0 0 30 2 *") is an error too. */
int bt_cron_parse(const char *expr, const char *label, bt_cron *out, bt_err *err);

/* Does local wall-clock time `local` (seconds, counted like UTC) fall in a matching minute? */
bool bt_cron_matches(const bt_cron *c, int64_t local);

/* The first matching local minute strictly after `local`. */
int64_t bt_cron_next_local(const bt_cron *c, int64_t local);

/* The first fire time strictly after `utc` in zone tz (UTC seconds). */
int64_t bt_cron_next(const bt_cron *c, const bt_tz *tz, int64_t utc);

#endif
