/* engine.c - see engine.h. */
#include "engine.h"

#include <string.h>

int bt_engine_submit(bt_engine *e, bt_side side, bt_dec qty, bt_order_type type, bt_dec limit,
                     bt_dec stop, uint32_t symbol, uint64_t cause, uint64_t *id, bt_err *err) {
  bt_order o = {.symbol = symbol, .side = side, .type = type, .qty = qty, .limit = limit,
                .stop = stop, .submitted_time = e->bar ? e->bar->time : 0,
                .cause_id = cause, .event_id = bt_bus_next_id(e->bus)};
  if (bt_broker_submit(e->broker, &o, id, err)) return err->code;
  bt_event ev = {.type = BT_EV_ORDER, .timestamp = o.submitted_time, .causation_id = cause,
                 .source = "strategy", .symbol = symbol,
                 .p.order = bt_broker_order(e->broker, *id)};
  bt_bus_publish(e->bus, &ev); /* takes the id reserved above */
  return 0;
}

int bt_engine_symbol_index(const bt_engine *e, const char *name) {
  for (int i = 0; i < e->nfeeds; i++)
    if (strcmp(bt_feed_symbol(e->feeds[i]), name) == 0) return i;
  return -1;
}

uint64_t bt_engine_publish(bt_engine *e, bt_event_type type, const char *user_type,
                           uint64_t cause, const char *json, const uint8_t *flat,
                           size_t flat_len) {
  bt_event ev = {.type = type, .user_type = user_type,
                 .timestamp = e->bar ? e->bar->time : 0, .causation_id = cause,
                 .source = "strategy", .symbol = e->bar ? e->bar->symbol : 0,
                 .data_json = flat ? NULL : json ? json : "{}", .data_flat = flat,
                 .data_flat_len = flat ? flat_len : 0};
  return bt_bus_publish(e->bus, &ev);
}
