/* run_fills.c - what the broker reports during a bar: a fill (FILL and PORTFOLIO events,
 * the closed trade into the metrics and trades.jsonl, on_fill) or a rejection (ORDER
 * event, on_reject, counted per reason and told once when the run ends). */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "lua_ctx.h"
#include "run_internal.h"

static int on_trade_closed(bt_run *run, const bt_trade *t, bt_err *err) {
  if (bt_metrics_on_trade(&run->metrics, t))
    return bt_errf(err, BT_ERANGE, "overflow", "trade statistics overflow at trade %llu",
                   (unsigned long long)t->trade_id);
  bt_run_symbol *s = &run->syms[t->symbol];
  s->trades++;
  s->wins += t->pnl.v > 0;
  bt_dec_add(s->pnl, t->pnl, &s->pnl); /* bounded by the metrics' sums checked above */
  run_write_trade(run, t);
  return 0;
}

/* The portfolio after a fill: what the strategy holds and is worth (cause: the FILL).
 * Flat-encoded: the decimals are formatted by the subscriber that stores them. */
static void publish_portfolio(bt_run *run, const bt_fill *fill, uint64_t cause) {
#define KEY(lit) lit, sizeof lit - 1
  const struct { const char *key; size_t klen; bt_dec v; } fields[] = {
      {KEY("cash"), bt_ledger_cash(run->e.ledger)},
      {KEY("equity"), bt_ledger_equity(run->e.ledger)},
      {KEY("position"), bt_ledger_position(run->e.ledger, fill->symbol)},
      {KEY("position_value"), bt_ledger_position_value(run->e.ledger)}};
#undef KEY
  uint8_t buf[BT_FLAT_MAX];
  size_t n = 0;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    bt_flat_add(buf, &n, BT_FLAT_DEC, fields[i].key, fields[i].klen, &fields[i].v.v, 8);
  bt_event ev = {.type = BT_EV_PORTFOLIO, .timestamp = fill->time, .causation_id = cause,
                 .source = "ledger", .symbol = fill->symbol, .data_flat = buf,
                 .data_flat_len = n};
  bt_bus_publish(run->e.bus, &ev);
}

static void run_count_rejection(bt_run *run, const bt_order *order) {
  const char *why = order->reject_reason;
  int len = (int)strcspn(why, ":");
  int k = 0;
  while (k < run->nreject_kinds &&
         (strncmp(run->reject_kinds[k].reason, why, (size_t)len) != 0 ||
          run->reject_kinds[k].reason[len] != 0))
    k++;
  if (k == run->nreject_kinds) {
    /* more kinds than slots: counted with the last one (the broker has one today) */
    if (k == (int)(sizeof run->reject_kinds / sizeof run->reject_kinds[0])) k--;
    else {
      struct run_reject_kind *r = &run->reject_kinds[run->nreject_kinds++];
      snprintf(r->reason, sizeof r->reason, "%.*s", len, why);
      snprintf(r->first_reason, sizeof r->first_reason, "%s", why);
      r->first_order = order->id;
      r->first_time = run->e.bar->time;
      r->first_symbol = order->symbol;
    }
  }
  run->reject_kinds[k].count++;
}

/* One warning per kind of rejection; each order is a debug record (order_rejected) and
 * an ORDER event in the store. */
void run_rejections_log(bt_run *run) {
  for (int k = 0; k < run->nreject_kinds; k++) {
    const struct run_reject_kind *r = &run->reject_kinds[k];
    char when[32], day[20], text[200];
    bt_format_time(r->first_time, when);
    /* the day, and the minute when the data is intraday */
    if (r->first_time % 86400) snprintf(day, sizeof day, "%.10s %.5s", when, when + 11);
    else snprintf(day, sizeof day, "%.10s", when);
    const char *sym = bt_feed_symbol(run->e.feeds[r->first_symbol]);
    snprintf(text, sizeof text, "%llu order%s rejected: %s; first %s %s",
             (unsigned long long)r->count, r->count == 1 ? "" : "s", r->reason, sym, day);
    bt_log("broker", BT_LOG_WARNING, "orders_rejected", BT_F_TEXT(text),
           BT_F_JSON_ONLY(BT_F_INT("count", r->count)),
           BT_F_JSON_ONLY(BT_F_STR("reason", r->reason)),
           BT_F_JSON_ONLY(BT_F_STR("first_time", when)),
           BT_F_JSON_ONLY(BT_F_STR("first_symbol", sym)),
           BT_F_JSON_ONLY(BT_F_INT("first_order_id", r->first_order)),
           BT_F_JSON_ONLY(BT_F_STR("first_reason", r->first_reason)));
  }
}

void run_on_broker_event(void *ud, const bt_order *order, const bt_fill *fill) {
  run_fill_ctx *fc = ud;
  bt_run *run = fc->run;
  lua_State *L = run->L;
  if (!fill) {
    run->rejections++;
    bt_event ev = {.type = BT_EV_ORDER, .timestamp = run->e.bar->time,
                   .causation_id = order->event_id, .source = "broker",
                   .symbol = order->symbol, .p.order = order};
    bt_bus_publish(run->e.bus, &ev);
    run_count_rejection(run, order);
    bt_log("broker", BT_LOG_DEBUG, "order_rejected", BT_F_INT("order_id", order->id),
           BT_F_STR("symbol", bt_feed_symbol(run->e.feeds[order->symbol])),
           BT_F_STR("reason", order->reject_reason));
    if (fc->rc == 0 && run->ref_on_reject != LUA_NOREF) {
      bt_ctx_push_order(L, run->ctx, order);
      int ref = luaL_ref(L, LUA_REGISTRYINDEX);
      fc->rc = run_call_cb(run, run->ref_on_reject, ref, fc->err);
      luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }
    return;
  }
  const bt_trade *closed = bt_ledger_last_closed(run->e.ledger);
  if (closed && !fc->rc) fc->rc = on_trade_closed(run, closed, fc->err);
  bt_event ev = {.type = BT_EV_FILL, .timestamp = fill->time, .causation_id = order->event_id,
                 .source = "broker", .symbol = fill->symbol};
  ev.p.fill.order = order;
  ev.p.fill.fill = fill;
  bt_bus_publish(run->e.bus, &ev);
  if (bt_bus_wants(run->e.bus, BT_EV_PORTFOLIO)) publish_portfolio(run, fill, ev.event_id);
  if (fc->rc || run->ref_on_fill == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_fill);
  lua_pushinteger(L, (lua_Integer)fill->order_id);
  lua_setfield(L, -2, "order_id");
  lua_pushstring(L, bt_feed_symbol(run->e.feeds[fill->symbol]));
  lua_setfield(L, -2, "symbol");
  lua_pushstring(L, fill->side == BT_BUY ? "buy" : "sell");
  lua_setfield(L, -2, "side");
  lua_pushnumber(L, bt_dec_to_double(fill->qty));
  lua_setfield(L, -2, "qty");
  lua_pushnumber(L, bt_dec_to_double(fill->price));
  lua_setfield(L, -2, "price");
  lua_pushnumber(L, bt_dec_to_double(fill->commission));
  lua_setfield(L, -2, "commission");
  lua_pushinteger(L, fill->time);
  lua_setfield(L, -2, "time");
  lua_pop(L, 1);
  run->e.cause = ev.event_id;
  fc->rc = run_call_cb(run, run->ref_on_fill, run->ref_fill, fc->err);
}
