#include "sched_clock.h"

#include <stdlib.h>
#include <string.h>

#include "iso8601.h"
#include "perf_time.h"

int bt_sched_clock_init(bt_sched_clock *c, bt_err *err) {
  memset(c, 0, sizeof *c);
  c->speed = 1;
  const char *now = getenv("BTRUN_TEST_NOW");
  if (!now || !*now) return 0;
  int64_t t;
  if (!bt_iso8601_parse(now, (long)strlen(now), BT_ISO_STRICT, &t))
    return bt_errf(err, BT_EINVAL, "config_error",
                   "BTRUN_TEST_NOW: expected an ISO-8601 time such as 2027-03-14T05:00:00Z, got \"%s\"", now);
  c->simulated = true;
  c->sim_ms = t * 1000;
  c->anchor_ms = bt_wall_ms();
  const char *v = getenv("BTRUN_TEST_ANCHOR_MS");
  if (v && *v) {
    char *end;
    long long a = strtoll(v, &end, 10);
    if (*end || a <= 0)
      return bt_errf(err, BT_EINVAL, "config_error", "BTRUN_TEST_ANCHOR_MS: expected wall-clock milliseconds, got \"%s\"", v);
    c->anchor_ms = a;
  }
  v = getenv("BTRUN_TEST_SPEED");
  if (v && *v) {
    char *end;
    c->speed = strtod(v, &end);
    if (*end || !(c->speed >= 0.001 && c->speed <= 1e6))
      return bt_errf(err, BT_EINVAL, "config_error", "BTRUN_TEST_SPEED: expected a factor 0.001..1000000, got \"%s\"", v);
  }
  return 0;
}

int64_t bt_sched_clock_ms(const bt_sched_clock *c) {
  int64_t real = bt_wall_ms();
  if (!c->simulated) return real;
  return c->sim_ms + (int64_t)((double)(real - c->anchor_ms) * c->speed);
}

double bt_sched_clock_wait_s(const bt_sched_clock *c, int64_t at_ms) {
  int64_t left = at_ms - bt_sched_clock_ms(c);
  return left <= 0 ? 0 : (double)left / 1000.0 / (c->simulated ? c->speed : 1);
}
