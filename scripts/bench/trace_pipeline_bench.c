/* trace_pipeline_bench.c - the tracer alone, without Lua or CSV (scripts/bench-trace.sh).
 *   trace_pipeline_bench STORE BARS
 * Publishes BARS bars and, like sma_cross on minute data, a SIGNAL, ORDER and FILL every
 * 26 bars, through a bus with the tracer subscribed (every event kept). Prints the cost
 * on the run thread per event and the time until everything is committed. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "bus.h"
#include "tracer.h"

static double cpu_ns(void) { /* CPU time of the whole process: both threads */
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static double thread_cpu_ns(void) { /* CPU time of the calling (run) thread */
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint64_t publish_all(bt_bus *bus, int64_t nbars) {
  bt_bar bar = {.open = bt_dec_from_int(10), .high = bt_dec_from_int(11),
                .low = bt_dec_from_int(9), .close = bt_dec_from_int(10), .volume = 1000};
  bt_order o = {.side = BT_BUY, .type = BT_MARKET, .qty = bt_dec_from_int(1)};
  bt_fill f = {.side = BT_BUY, .qty = bt_dec_from_int(1), .price = bt_dec_from_int(10)};
  uint64_t pending_order = 0;
  for (int64_t i = 0; i < nbars; i++) {
    bar.time = 1000000000 + i * 60;
    bar.close.v += (i & 1) ? 1000000 : -999999;
    bt_event be = {.type = BT_EV_BAR, .timestamp = bar.time, .source = "feed", .p.bar = &bar};
    uint64_t bar_id = bt_bus_publish(bus, &be);
    if (pending_order) {
      f.order_id = o.id;
      f.time = bar.time;
      bt_event fe = {.type = BT_EV_FILL, .timestamp = bar.time, .causation_id = pending_order,
                     .source = "broker", .p.fill = {&o, &f}};
      bt_bus_publish(bus, &fe);
      pending_order = 0;
    }
    if (i % 26 == 0) {
      bt_event se = {.type = BT_EV_SIGNAL, .timestamp = bar.time, .causation_id = bar_id,
                     .source = "strategy", .data_json = "{\"side\":\"buy\",\"fast\":10.5}"};
      uint64_t sig = bt_bus_publish(bus, &se);
      o.id++;
      bt_event oe = {.type = BT_EV_ORDER, .timestamp = bar.time, .causation_id = sig,
                     .source = "strategy", .p.order = &o};
      pending_order = o.event_id = bt_bus_publish(bus, &oe);
    }
  }
  return bt_bus_last_id(bus);
}

int main(int argc, char **argv) {
  if (argc != 3) return fprintf(stderr, "usage: trace_pipeline_bench STORE BARS\n"), 2;
  int64_t nbars = atoll(argv[2]);
  bt_err err = {0};
  /* baseline: the same publishing with nobody subscribed */
  bt_bus *bus = bt_bus_new();
  uint64_t t0 = bt_now_ns();
  double c0 = cpu_ns(), tc0 = thread_cpu_ns();
  uint64_t n = publish_all(bus, nbars);
  double base_cpu = cpu_ns() - c0, base_tcpu = thread_cpu_ns() - tc0;
  double base = (double)(bt_now_ns() - t0);
  bt_bus_free(bus);

  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, ".");
  snprintf(cfg.store, sizeof cfg.store, "%s", argv[1]);
  bt_tracer *t;
  if (bt_tracer_new(&t, &cfg, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  bt_run_observer obs = bt_tracer_observer(t);
  bt_run_info info = {.origin = "bench", .started_ms = bt_wall_ms()};
  bt_uuid(info.run_id);
  snprintf(info.correlation_id, sizeof info.correlation_id, "bench");
  snprintf(info.strategy_id, sizeof info.strategy_id, "pipeline");
  bus = bt_bus_new();
  if (obs.on_start(obs.ud, &info, bus, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  t0 = bt_now_ns();
  c0 = cpu_ns();
  tc0 = thread_cpu_ns();
  publish_all(bus, nbars);
  double traced = (double)(bt_now_ns() - t0), traced_tcpu = thread_cpu_ns() - tc0;
  bt_run_outcome out = {.status = BT_RUN_COMPLETED, .events = bt_bus_last_id(bus)};
  obs.on_end(obs.ud, &info, &out);
  double total = (double)(bt_now_ns() - t0);
  double total_cpu = cpu_ns() - c0;
  obs.on_close(obs.ud);
  bt_bus_free(bus);
  printf("pipeline: %" PRIu64 " events (%" PRId64 " bars)\n", n, nbars);
  printf("  run thread wall: %.1f ns/event untraced, %.1f ns/event traced (+%.1f ns; includes\n"
         "    waiting for ring space when the writer gets less than a core)\n",
         base / n, traced / n, (traced - base) / n);
  printf("  run thread CPU: %.1f ns/event untraced, %.1f ns/event traced (+%.1f ns)\n",
         base_tcpu / n, traced_tcpu / n, (traced_tcpu - base_tcpu) / n);
  printf("  CPU (both threads, load-independent): %.1f ns/event for tracing\n",
         (total_cpu - base_cpu) / n);
  printf("  until all committed: %.2f s = %.2f M events/s through the writer\n", total / 1e9,
         n / total * 1e3);
  return 0;
}
