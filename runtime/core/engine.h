/* engine.h - the core side of one running backtest: what a strategy layer may ask of it.
 *
 * The run (script/run*.c, the loop in run_loop.c) owns a bt_engine and drives it bar by
 * bar; bindings (the Lua ctx, bt.trace) hold a pointer to it and call these functions,
 * never the loop's internals. Submitting an order publishes its ORDER event and queues it with
 * the broker; it fills on a later bar of its symbol (docs/strategy-api.md). */
#ifndef BT_ENGINE_H
#define BT_ENGINE_H

#include <stdint.h>

#include "broker.h"
#include "bus.h"
#include "common.h"
#include "feed.h"
#include "json.h"
#include "ledger.h"

typedef struct bt_engine {
  bt_broker *broker;
  bt_ledger *ledger;
  bt_bus *bus;
  bt_feed **feeds;
  int nfeeds;
  const bt_bar *bar;   /* the bar being processed, NULL outside the loop */
  uint64_t bar_event;  /* BAR event id of the current bar */
  uint64_t cause;      /* cause for orders submitted now: BAR or latest SIGNAL */
  bt_json_buf payload; /* reused for SIGNAL/USER event payloads */
} bt_engine;

/* Queue an order; *id = its order id. cause: the event it answers (0 = none). */
int bt_engine_submit(bt_engine *e, bt_side side, bt_dec qty, bt_order_type type, bt_dec limit,
                     bt_dec stop, uint32_t symbol, uint64_t cause, uint64_t *id, bt_err *err);
/* Symbol index by name; -1 if unknown. */
int bt_engine_symbol_index(const bt_engine *e, const char *name);
static inline const char *bt_engine_symbol(const bt_engine *e, uint32_t symbol) {
  return bt_feed_symbol(e->feeds[symbol]);
}
/* Publish a strategy event (SIGNAL or a user type) at the current bar; returns its id.
 * data: a flat payload (flat_len bytes) or JSON text, or neither. */
uint64_t bt_engine_publish(bt_engine *e, bt_event_type type, const char *user_type,
                           uint64_t cause, const char *json, const uint8_t *flat,
                           size_t flat_len);

#endif
