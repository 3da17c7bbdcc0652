/* test_run_collect.c - the report's lineage collector (perf/run_collect.c) through the
 * wrap of its rings, which grow on demand: more signals and orders than the order ring
 * holds (65,536 each) and more fills than it keeps (the first 1,024 and the last 4,096). Each
 * kept fill names its order and the order's cause; a fill not kept, or whose order left the
 * ring, is answered as such. */
#include <stdlib.h>

#include "run_collect.h"

#include "check.h"

#define ROUNDS 70000 /* > the order ring (65,536) */

static bt_bus *bus;

static uint64_t publish(bt_event_type type, int64_t time, uint64_t cause) {
  bt_event ev = {.type = type, .timestamp = time, .causation_id = cause, .source = "test"};
  return bt_bus_publish(bus, &ev);
}

/* The fill at `time`: its order and cause as expected. */
static void check_fill(const bt_run_collect *c, int64_t time, uint64_t order, uint64_t cause,
                       bool signal) {
  const bt_rc_fill *f = bt_run_collect_fill(c, 0, time, true);
  CHECK(f != NULL);
  if (!f) return;
  CHECK(f->order_id == order);
  CHECK(f->cause_id == cause);
  CHECK(f->cause_signal == signal);
}

int main(void) {
  bus = bt_bus_new();
  bt_run_collect *c = bt_run_collect_new(1);
  CHECK(bus && c);
  if (!bus || !c) return 1;
  bt_err err = {0};
  CHECK_OK(bt_run_collect_subscribe(c, bus, &err));

  /* An order whose fill comes last, after the ring has moved past it. */
  uint64_t late_sig = publish(BT_EV_SIGNAL, 0, 0);
  uint64_t late = publish(BT_EV_ORDER, 0, late_sig);
  static uint64_t order[ROUNDS], cause[ROUNDS];
  uint64_t mid = 0, mid_sig = 0; /* filled last too, 40,000 orders on: still in the ring */
  for (int i = 0; i < ROUNDS; i++) {
    if (i == ROUNDS - 40000) {
      mid_sig = publish(BT_EV_SIGNAL, i + 1, 0);
      mid = publish(BT_EV_ORDER, i + 1, mid_sig);
    }
    /* a SIGNAL each round (that ring wraps too); it causes the odd rounds' orders, the
     * BAR the even rounds' */
    uint64_t bar = publish(BT_EV_BAR, i + 1, 0), sig = publish(BT_EV_SIGNAL, i + 1, bar);
    cause[i] = i % 2 ? sig : bar;
    order[i] = publish(BT_EV_ORDER, i + 1, cause[i]);
    publish(BT_EV_FILL, i + 1, order[i]);
  }
  publish(BT_EV_FILL, ROUNDS + 1, late);
  publish(BT_EV_FILL, ROUNDS + 2, mid);
  bt_run_collect_finish(c);

  /* the first fills (kept from the start) */
  check_fill(c, 1, order[0], cause[0], false);
  check_fill(c, 2, order[1], cause[1], true);
  check_fill(c, 1024, order[1023], cause[1023], true);
  /* between the first and the last fills kept: none */
  CHECK(bt_run_collect_fill(c, 0, 1025, true) == NULL);
  CHECK(bt_run_collect_fill(c, 0, ROUNDS + 2 - 4096, true) == NULL);
  /* the last 4,096 of the ROUNDS + 2 fills (the tail ring wrapped 16 times), the oldest to
   * the newest */
  check_fill(c, ROUNDS + 3 - 4096, order[ROUNDS + 2 - 4096], cause[ROUNDS + 2 - 4096], false);
  check_fill(c, ROUNDS, order[ROUNDS - 1], cause[ROUNDS - 1], true);
  /* orders came in after the order ring wrapped, their causes still resolve */
  check_fill(c, ROUNDS - 1, order[ROUNDS - 2], cause[ROUNDS - 2], false);
  /* the late fill: its order left the ring, so no cause */
  check_fill(c, ROUNDS + 1, late, 0, false);
  check_fill(c, ROUNDS + 2, mid, mid_sig, true);
  CHECK(bt_run_collect_fill(c, 1, ROUNDS, true) == NULL); /* another symbol */

  size_t n = 0;
  bt_run_collect_bench(c, &n);
  CHECK(n > 0);
  bt_run_collect_free(c);
  bt_bus_free(bus);
  return failures != 0;
}
