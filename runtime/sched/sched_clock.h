/* sched_clock.h - the scheduler's wall clock, which tests can move.
 *
 * Normally the real clock (bt_wall_ms). For tests only: BTRUN_TEST_NOW=ISO-8601 makes
 * the clock read that instant at the real moment BTRUN_TEST_ANCHOR_MS (wall ms; default:
 * when the clock was made) and run BTRUN_TEST_SPEED (default 1) times faster from there.
 * Processes given the same three values share one simulated timeline; a later
 * BTRUN_TEST_NOW on restart simulates downtime. docs/schedules.md ("Testing"). */
#ifndef BT_SCHED_CLOCK_H
#define BT_SCHED_CLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"

typedef struct bt_sched_clock {
  bool simulated;
  int64_t sim_ms, anchor_ms; /* the simulated time at the real time anchor_ms */
  double speed;
} bt_sched_clock;

/* From the environment; a malformed variable is an error naming it. */
int bt_sched_clock_init(bt_sched_clock *c, bt_err *err);
/* Now, in ms since the epoch. */
int64_t bt_sched_clock_ms(const bt_sched_clock *c);
/* Real seconds until the clock reads at_ms (0 when already past). */
double bt_sched_clock_wait_s(const bt_sched_clock *c, int64_t at_ms);

#endif
