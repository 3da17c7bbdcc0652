/* broker_bench - per-bar cost of the broker -> ledger -> metrics path on synthetic bars.
 * Prints bars/s for: idle (no orders), and trading (a market order every 100 bars
 * plus a protective stop that is always pending, so the queue is never empty). */
#include <stdio.h>
#include <stdlib.h>

#include "broker.h"
#include "ledger.h"
#include "metrics.h"

static void on_fill(void *ud, const bt_order *o, const bt_fill *f) {
  (void)o;
  if (f) ++*(uint64_t *)ud;
}

static double run(const bt_bar *bars, uint64_t n, bool trading, uint64_t *fills) {
  bt_broker_cfg cfg = {.commission_percent = bt_dec_raw(100000), .slippage_bps = bt_dec_raw(2 * BT_DEC_SCALE)};
  bt_broker *b = bt_broker_new(&cfg, 1);
  bt_ledger *l = bt_ledger_new(bt_dec_from_int(10000000), 1);
  bt_metrics m;
  bt_metrics_init(&m, bt_dec_from_int(10000000));
  bt_err err = {0};
  uint64_t stop_id = 0;
  *fills = 0;
  uint64_t t0 = bt_now_ns();
  for (uint64_t i = 0; i < n; i++) {
    if (bt_broker_on_bar(b, l, &bars[i], on_fill, fills, &err) ||
        bt_ledger_mark(l, 0, bars[i].close, bars[i].time)) {
      fprintf(stderr, "error: %s\n", err.msg);
      exit(1);
    }
    if (trading && i % 100 == 0) {
      bt_dec pos = bt_ledger_position(l, 0);
      bt_order o = {.symbol = 0, .type = BT_MARKET, .qty = bt_dec_from_int(100),
                    .side = bt_dec_sign(pos) > 0 ? BT_SELL : BT_BUY};
      uint64_t id;
      if (stop_id) bt_broker_cancel(b, stop_id);
      bt_broker_submit(b, &o, &id, &err);
      bt_order s = {.symbol = 0, .type = BT_STOP, .qty = bt_dec_from_int(1), .side = BT_SELL,
                    .stop = bt_dec_raw(1)};
      bt_broker_submit(b, &s, &stop_id, &err);
    }
    bt_metrics_on_equity(&m, bars[i].time, bt_ledger_equity(l), bt_ledger_exposed(l));
  }
  double secs = (double)(bt_now_ns() - t0) / 1e9;
  bt_metrics_result r;
  bt_metrics_finish(&m, &r);
  bt_broker_free(b);
  bt_ledger_free(l);
  return (double)n / secs;
}

int main(int argc, char **argv) {
  uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 10000000;
  bt_bar *bars = malloc(n * sizeof *bars);
  if (!bars) return 1;
  int64_t px = 100 * BT_DEC_SCALE;
  uint64_t x = 42;
  for (uint64_t i = 0; i < n; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    int64_t step = (int64_t)(x >> 33) % 2000000 - 1000000; /* +-0.01 */
    if (px + step > BT_DEC_SCALE) px += step;
    bars[i] = (bt_bar){.time = 946684800 + (int64_t)i * 60, .open = bt_dec_raw(px),
                       .high = bt_dec_raw(px + 500000), .low = bt_dec_raw(px - 500000),
                       .close = bt_dec_raw(px + step / 2), .symbol = 0};
  }
  uint64_t fills;
  double idle = run(bars, n, false, &fills);
  printf("broker+ledger+metrics idle:    %llu bars, %.2f M bars/s\n", (unsigned long long)n, idle / 1e6);
  double trading = run(bars, n, true, &fills);
  printf("broker+ledger+metrics trading: %llu bars, %.2f M bars/s (%llu fills, a stop always pending)\n",
         (unsigned long long)n, trading / 1e6, (unsigned long long)fills);
  free(bars);
  return 0;
}
