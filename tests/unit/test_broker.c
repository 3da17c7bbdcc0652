/* Broker: every fill rule, slippage, commission, cash rejection, cancel, ordering. */
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "ledger.h"

#include "check.h"



/* What the callbacks saw. */
typedef struct seen {
  int fills, rejects;
  uint64_t ids[16];         /* order ids in callback order */
  int n;
  bt_fill fill;             /* last fill */
  bt_order order;           /* last order reported */
  bt_broker *resubmit;      /* when set, each fill submits a market order from the callback */
  bt_ledger *ledger;
  bool saw_closed;
} seen;

static void on_event(void *ud, const bt_order *o, const bt_fill *f) {
  seen *s = ud;
  if (s->n < 16) s->ids[s->n++] = o->id;
  s->order = *o;
  if (f) {
    s->fills++;
    s->fill = *f;
    if (s->ledger && bt_ledger_last_closed(s->ledger)) s->saw_closed = true;
  } else {
    s->rejects++;
  }
  if (s->resubmit && f) {
    bt_order m = {.symbol = o->symbol, .side = BT_SELL, .type = BT_MARKET, .qty = o->qty};
    bt_err err = {0};
    uint64_t id;
    CHECK(bt_broker_submit(s->resubmit, &m, &id, &err) == 0);
  }
}

typedef struct rig {
  bt_broker *b;
  bt_ledger *l;
  seen s;
  int64_t t;
} rig;

static void rig_init(rig *r, const bt_broker_cfg *cfg, const char *cash, uint32_t nsym) {
  static const bt_broker_cfg none = {{0}, {0}, {0}, {0}};
  memset(r, 0, sizeof *r);
  r->b = bt_broker_new(cfg ? cfg : &none, nsym);
  r->l = bt_ledger_new(DEC(cash), nsym);
  r->s.ledger = r->l;
  r->t = 1000;
}

static void rig_free(rig *r) {
  bt_broker_free(r->b);
  bt_ledger_free(r->l);
}

/* Process one bar of `sym` (times advance by a day per call). */
static void bar(rig *r, uint32_t sym, const char *o, const char *h, const char *l, const char *c) {
  bt_bar b = {.time = r->t, .open = DEC(o), .high = DEC(h), .low = DEC(l), .close = DEC(c), .symbol = sym};
  r->t += 86400;
  bt_err err = {0};
  int rc = bt_broker_on_bar(r->b, r->l, &b, on_event, &r->s, &err);
  if (rc) fprintf(stderr, "  on_bar: %s\n", err.msg);
  CHECK(rc == 0);
}

static uint64_t submit(rig *r, bt_side side, bt_order_type type, const char *qty,
                       const char *limit, const char *stop) {
  bt_order o = {.symbol = 0, .side = side, .type = type, .qty = DEC(qty),
                .limit = limit ? DEC(limit) : BT_DEC_ZERO, .stop = stop ? DEC(stop) : BT_DEC_ZERO,
                .submitted_time = r->t};
  uint64_t id = 0;
  bt_err err = {0};
  int rc = bt_broker_submit(r->b, &o, &id, &err);
  if (rc) fprintf(stderr, "  submit: %s\n", err.msg);
  CHECK(rc == 0);
  return id;
}

static void test_market_next_open(void) {
  rig r;
  rig_init(&r, NULL, "100000", 1);
  /* Submitted before any bar: eligible on the first. */
  uint64_t a = submit(&r, BT_BUY, BT_MARKET, "10", NULL, NULL);
  CHECK(a == 1 && bt_broker_pending(r.b) == 1);
  bar(&r, 0, "50", "55", "45", "52");
  CHECK(r.s.fills == 1 && dec_is(r.s.fill.price, "50") && r.s.fill.order_id == a);
  CHECK(bt_broker_order(r.b, a)->status == BT_FILLED && bt_broker_pending(r.b) == 0);
  /* Submitted during bar 2 (after its processing): not on bar 2, at bar 3's open. */
  bar(&r, 0, "60", "61", "59", "60");
  uint64_t b = submit(&r, BT_SELL, BT_MARKET, "10", NULL, NULL);
  CHECK(b == 2 && r.s.fills == 1);
  bar(&r, 0, "70", "71", "69", "70");
  CHECK(r.s.fills == 2 && dec_is(r.s.fill.price, "70") && r.s.fill.side == BT_SELL);
  CHECK(r.s.fill.time == r.t - 86400);
  CHECK(r.s.saw_closed);  /* the fill callback sees the trade the fill closed */
  CHECK(dec_is(bt_ledger_cash(r.l), "100200"));
  rig_free(&r);
}

static void test_other_symbol_same_time(void) {
  /* An order for B placed while A's bar at time t is current waits for B's next bar
   * after t, even though B's bar at t has not been processed yet. */
  rig r;
  rig_init(&r, NULL, "100000", 2);
  bt_bar a = {.time = 500, .open = DEC("1"), .high = DEC("1"), .low = DEC("1"), .close = DEC("1"), .symbol = 0};
  bt_bar b1 = {.time = 500, .open = DEC("7"), .high = DEC("8"), .low = DEC("6"), .close = DEC("7"), .symbol = 1};
  bt_bar b2 = b1;
  b2.time = 600, b2.open = DEC("9");
  bt_err err = {0};
  CHECK(bt_broker_on_bar(r.b, r.l, &a, on_event, &r.s, &err) == 0);
  bt_order o = {.symbol = 1, .side = BT_BUY, .type = BT_MARKET, .qty = DEC("1"), .submitted_time = 500};
  uint64_t id;
  CHECK(bt_broker_submit(r.b, &o, &id, &err) == 0);
  CHECK(bt_broker_on_bar(r.b, r.l, &b1, on_event, &r.s, &err) == 0);
  CHECK(r.s.fills == 0);
  CHECK(bt_broker_on_bar(r.b, r.l, &b2, on_event, &r.s, &err) == 0);
  CHECK(r.s.fills == 1 && dec_is(r.s.fill.price, "9") && r.s.fill.symbol == 1);
  CHECK(dec_is(bt_ledger_position(r.l, 1), "1") && dec_is(bt_ledger_position(r.l, 0), "0"));
  bt_bar bad = a;
  bad.symbol = 9;
  CHECK(bt_broker_on_bar(r.b, r.l, &bad, on_event, &r.s, &err) == BT_EINVAL);
  rig_free(&r);
}

static void test_limit(void) {
  rig r;
  rig_init(&r, NULL, "100000", 1);
  bar(&r, 0, "10", "10", "10", "10");
  submit(&r, BT_BUY, BT_LIMIT, "1", "9.5", NULL);
  bar(&r, 0, "10", "10.5", "9.6", "10");  /* low above the limit: no touch */
  CHECK(r.s.fills == 0 && bt_broker_pending(r.b) == 1);
  bar(&r, 0, "10", "10.5", "9.5", "10");  /* touches exactly: fills at the limit */
  CHECK(r.s.fills == 1 && dec_is(r.s.fill.price, "9.5"));
  submit(&r, BT_BUY, BT_LIMIT, "1", "9.5", NULL);
  bar(&r, 0, "9", "9.2", "8.8", "9");     /* gaps below: fills at the better open */
  CHECK(r.s.fills == 2 && dec_is(r.s.fill.price, "9"));

  submit(&r, BT_SELL, BT_LIMIT, "1", "11", NULL);
  bar(&r, 0, "10", "10.99", "9", "10");
  CHECK(r.s.fills == 2);
  bar(&r, 0, "10", "11.5", "9", "10");
  CHECK(r.s.fills == 3 && dec_is(r.s.fill.price, "11") && r.s.fill.side == BT_SELL);
  submit(&r, BT_SELL, BT_LIMIT, "1", "11", NULL);
  bar(&r, 0, "12", "12.5", "11.8", "12");  /* gaps above: sells at the open */
  CHECK(r.s.fills == 4 && dec_is(r.s.fill.price, "12"));
  rig_free(&r);
}

static void test_stop(void) {
  rig r;
  rig_init(&r, NULL, "100000", 1);
  bar(&r, 0, "10", "10", "10", "10");
  submit(&r, BT_BUY, BT_STOP, "1", NULL, "11");
  bar(&r, 0, "10.5", "10.99", "10", "10.5");
  CHECK(r.s.fills == 0);
  bar(&r, 0, "10.5", "11.2", "10", "11");   /* crosses the stop: fills at the stop */
  CHECK(r.s.fills == 1 && dec_is(r.s.fill.price, "11"));
  submit(&r, BT_BUY, BT_STOP, "1", NULL, "11");
  bar(&r, 0, "11.5", "12", "11.4", "11.8");  /* gaps over: fills at the worse open */
  CHECK(r.s.fills == 2 && dec_is(r.s.fill.price, "11.5"));

  submit(&r, BT_SELL, BT_STOP, "1", NULL, "9");
  bar(&r, 0, "10", "10", "9.01", "10");
  CHECK(r.s.fills == 2);
  bar(&r, 0, "10", "10", "8", "8.5");
  CHECK(r.s.fills == 3 && dec_is(r.s.fill.price, "9"));
  submit(&r, BT_SELL, BT_STOP, "1", NULL, "9");
  bar(&r, 0, "8.2", "8.5", "8", "8.1");
  CHECK(r.s.fills == 4 && dec_is(r.s.fill.price, "8.2"));
  rig_free(&r);
}

static void test_stop_limit(void) {
  rig r;
  rig_init(&r, NULL, "100000", 1);
  bar(&r, 0, "10", "10", "10", "10");
  /* Triggers intrabar at 11, which satisfies the 11.2 limit: fills at the stop price. */
  submit(&r, BT_BUY, BT_STOP_LIMIT, "1", "11.2", "11");
  bar(&r, 0, "10.5", "10.9", "10", "10.5");
  CHECK(r.s.fills == 0 && bt_broker_order(r.b, 1)->stop_triggered == false);
  bar(&r, 0, "10.5", "11.5", "10.4", "11");
  CHECK(r.s.fills == 1 && dec_is(r.s.fill.price, "11"));

  /* Gap open between stop and limit: fills at the open. */
  submit(&r, BT_BUY, BT_STOP_LIMIT, "1", "11.2", "11");
  bar(&r, 0, "11.1", "11.6", "11.05", "11.3");
  CHECK(r.s.fills == 2 && dec_is(r.s.fill.price, "11.1"));

  /* Gap over the limit: triggered, not filled; a later bar reaching the limit fills it. */
  uint64_t id = submit(&r, BT_BUY, BT_STOP_LIMIT, "1", "11.2", "11");
  bar(&r, 0, "11.5", "12", "11.3", "11.8");
  CHECK(r.s.fills == 2 && bt_broker_order(r.b, id)->stop_triggered);
  CHECK(bt_broker_order(r.b, id)->status == BT_PENDING);
  bar(&r, 0, "11.6", "11.7", "11.21", "11.5"); /* still above the limit */
  CHECK(r.s.fills == 2);
  bar(&r, 0, "11.4", "11.5", "11", "11.1");    /* now a plain limit: fills at 11.2 */
  CHECK(r.s.fills == 3 && dec_is(r.s.fill.price, "11.2"));
  /* Triggered limit bought at a gap below the limit fills at the open. */
  id = submit(&r, BT_BUY, BT_STOP_LIMIT, "1", "11.2", "11");
  bar(&r, 0, "11.5", "12", "11.3", "11.8");
  bar(&r, 0, "10", "10.5", "9.5", "10");
  CHECK(r.s.fills == 4 && dec_is(r.s.fill.price, "10"));

  /* Gap over the limit but the same bar comes back to it: fills at the limit. */
  submit(&r, BT_BUY, BT_STOP_LIMIT, "1", "11.2", "11");
  bar(&r, 0, "11.5", "12", "11.1", "11.8");
  CHECK(r.s.fills == 5 && dec_is(r.s.fill.price, "11.2"));

  /* Sell side mirror: stop 9, limit 8.8. Gap below the limit, then recovers to it. */
  submit(&r, BT_SELL, BT_STOP_LIMIT, "1", "8.8", "9");
  bar(&r, 0, "8.5", "8.7", "8.4", "8.6");
  CHECK(r.s.fills == 5);
  bar(&r, 0, "8.6", "8.9", "8.5", "8.7");
  CHECK(r.s.fills == 6 && dec_is(r.s.fill.price, "8.8") && r.s.fill.side == BT_SELL);
  submit(&r, BT_SELL, BT_STOP_LIMIT, "1", "8.8", "9");
  bar(&r, 0, "9.5", "9.6", "8.5", "8.7");     /* triggers intrabar at 9 >= 8.8 */
  CHECK(r.s.fills == 7 && dec_is(r.s.fill.price, "9"));
  rig_free(&r);
}

static void test_slippage_and_commission(void) {
  bt_broker_cfg cfg = {.commission_per_unit = DEC("0.01"), .commission_percent = DEC("0.001"),
                       .commission_minimum = DEC("1"), .slippage_bps = DEC("10")};
  rig r;
  rig_init(&r, &cfg, "100000", 1);
  bar(&r, 0, "100", "100", "100", "100");
  submit(&r, BT_BUY, BT_MARKET, "100", NULL, NULL);
  bar(&r, 0, "100", "101", "99", "100");
  /* 10 bps of 100 = 0.1 worse; commission 100 * 0.01 + 10010 * 0.001 = 1 + 10.01 */
  CHECK(dec_is(r.s.fill.price, "100.1") && dec_is(r.s.fill.commission, "11.01"));
  CHECK(dec_is(bt_ledger_cash(r.l), "89978.99"));
  submit(&r, BT_SELL, BT_MARKET, "10", NULL, NULL);
  bar(&r, 0, "100", "101", "99", "100");
  /* 0.1 + 999 * 0.001 = 1.099 */
  CHECK(dec_is(r.s.fill.price, "99.9") && dec_is(r.s.fill.commission, "1.099"));
  submit(&r, BT_SELL, BT_MARKET, "1", NULL, NULL);
  bar(&r, 0, "100", "101", "99", "100");
  /* 0.01 + 0.0999 is below the minimum */
  CHECK(dec_is(r.s.fill.commission, "1"));
  rig_free(&r);

  bt_dec p, c;
  /* one rounding, half to even: 1.23456789 * 1 / 10000 = 0.000123456789 -> 0.00012346 */
  bt_broker_cfg one = {.slippage_bps = DEC("1")};
  CHECK(bt_broker_fill_terms(&one, BT_BUY, DEC("1"), DEC("1.23456789"), &p, &c) == 0);
  CHECK(dec_is(p, "1.23469135") && dec_is(c, "0"));
  CHECK(bt_broker_fill_terms(&one, BT_SELL, DEC("1"), DEC("1.23456789"), &p, &c) == 0);
  CHECK(dec_is(p, "1.23444443"));
  /* ties go to even: 0.00015 * 1 bp = 1.5e-8 -> 2e-8, 0.00025 * 1 bp = 2.5e-8 -> 2e-8 */
  CHECK(bt_broker_fill_terms(&one, BT_BUY, DEC("1"), DEC("0.00015"), &p, &c) == 0);
  CHECK(dec_is(p, "0.00015002"));
  CHECK(bt_broker_fill_terms(&one, BT_BUY, DEC("1"), DEC("0.00025"), &p, &c) == 0);
  CHECK(dec_is(p, "0.00025002"));
  /* A minimum alone is not a commission schedule. */
  bt_broker_cfg min_only = {.commission_minimum = DEC("5")};
  CHECK(bt_broker_fill_terms(&min_only, BT_BUY, DEC("3"), DEC("10"), &p, &c) == 0);
  CHECK(dec_is(p, "10") && dec_is(c, "0"));
  bt_broker_cfg huge = {.commission_per_unit = DEC("90000000000")};
  CHECK(bt_broker_fill_terms(&huge, BT_BUY, DEC("1000"), DEC("10"), &p, &c) == BT_ERANGE);
}

static void test_cfg_validate(void) {
  bt_err err = {0};
  bt_broker_cfg ok = {.commission_percent = DEC("0.001"), .slippage_bps = DEC("5")};
  CHECK(bt_broker_cfg_validate(&ok, &err) == 0);
  bt_broker_cfg neg = {.commission_minimum = DEC("-1")};
  CHECK(bt_broker_cfg_validate(&neg, &err) == BT_EINVAL && strstr(err.msg, "commission.minimum"));
  CHECK(strcmp(err.field, "commission.minimum") == 0 && strcmp(err.type, "config_error") == 0);
  bt_broker_cfg slip = {.slippage_bps = DEC("10000")};
  CHECK(bt_broker_cfg_validate(&slip, &err) == BT_EINVAL && strstr(err.msg, "slippage_bps"));
  bt_broker_cfg pct = {.commission_percent = DEC("1.5")};
  CHECK(bt_broker_cfg_validate(&pct, &err) == BT_EINVAL && strstr(err.msg, "percent"));
}

static void test_rejection_and_order(void) {
  bt_broker_cfg cfg = {.commission_per_unit = DEC("0.01")};
  rig r;
  rig_init(&r, &cfg, "1001", 1);
  bar(&r, 0, "10", "10", "10", "10");
  /* Two buys: the first takes the cash exactly (100 * 10 + 1), the second is refused. */
  uint64_t a = submit(&r, BT_BUY, BT_MARKET, "100", NULL, NULL);
  uint64_t b = submit(&r, BT_BUY, BT_MARKET, "1", NULL, NULL);
  bar(&r, 0, "10", "10", "10", "10");
  CHECK(r.s.n == 2 && r.s.ids[0] == a && r.s.ids[1] == b);
  CHECK(r.s.fills == 1 && r.s.rejects == 1);
  CHECK(dec_is(bt_ledger_cash(r.l), "0"));
  const bt_order *ob = bt_broker_order(r.b, b);
  CHECK(ob->status == BT_REJECTED && r.s.order.status == BT_REJECTED);
  CHECK(strcmp(ob->reject_reason, "insufficient cash: need 10.01, have 0.0") == 0);
  CHECK(bt_broker_pending(r.b) == 0);
  /* Selling is always possible: it raises cash (and the position goes short beyond 100). */
  submit(&r, BT_SELL, BT_MARKET, "150", NULL, NULL);
  bar(&r, 0, "10", "10", "10", "10");
  CHECK(r.s.fills == 2 && dec_is(bt_ledger_position(r.l, 0), "-50"));
  rig_free(&r);
}

static void test_cancel_and_validation(void) {
  rig r;
  rig_init(&r, NULL, "1000", 1);
  uint64_t id = submit(&r, BT_BUY, BT_LIMIT, "1", "5", NULL);
  CHECK(bt_broker_cancel(r.b, id));
  CHECK(bt_broker_pending(r.b) == 0 && bt_broker_order(r.b, id)->status == BT_CANCELLED);
  CHECK(!bt_broker_cancel(r.b, id));
  CHECK(!bt_broker_cancel(r.b, 99) && !bt_broker_cancel(r.b, 0));
  bar(&r, 0, "4", "6", "3", "5");
  CHECK(r.s.n == 0 && bt_ledger_cash(r.l).v == DEC("1000").v);
  CHECK(bt_broker_order(r.b, 42) == NULL);
  /* A filled order cannot be cancelled. */
  uint64_t m = submit(&r, BT_BUY, BT_MARKET, "1", NULL, NULL);
  bar(&r, 0, "4", "6", "3", "5");
  CHECK(r.s.fills == 1 && !bt_broker_cancel(r.b, m));

  bt_err err = {0};
  uint64_t out;
  bt_order o = {.symbol = 0, .side = BT_BUY, .type = BT_MARKET, .qty = DEC("0")};
  CHECK(bt_broker_submit(r.b, &o, &out, &err) == BT_EINVAL && strcmp(err.field, "qty") == 0);
  o.qty = DEC("1"), o.type = BT_LIMIT;
  CHECK(bt_broker_submit(r.b, &o, &out, &err) == BT_EINVAL && strcmp(err.field, "limit") == 0);
  o.type = BT_STOP_LIMIT, o.limit = DEC("1");
  CHECK(bt_broker_submit(r.b, &o, &out, &err) == BT_EINVAL && strcmp(err.field, "stop") == 0);
  o.type = BT_MARKET, o.symbol = 5;
  CHECK(bt_broker_submit(r.b, &o, &out, &err) == BT_EINVAL && strcmp(err.field, "symbol") == 0);
  o.symbol = 0, o.side = (bt_side)0;
  CHECK(bt_broker_submit(r.b, &o, &out, &err) == BT_EINVAL && strcmp(err.field, "side") == 0);
  CHECK(bt_broker_pending(r.b) == 0);
  rig_free(&r);
}

static void test_submit_from_callback_and_many_orders(void) {
  rig r;
  rig_init(&r, NULL, "1000000", 1);
  bar(&r, 0, "10", "10", "10", "10");
  uint64_t first = submit(&r, BT_BUY, BT_MARKET, "1", NULL, NULL);
  const bt_order *p = bt_broker_order(r.b, first);
  /* Far more than one storage chunk; the early pointer must stay valid. */
  for (int i = 0; i < 5000; i++) submit(&r, BT_BUY, BT_LIMIT, "1", "1", NULL);
  CHECK(p == bt_broker_order(r.b, first) && p->id == first);
  r.s.resubmit = r.b;
  bar(&r, 0, "10", "10", "10", "10");
  /* Only the market order filled; the callback's sell waits for the next bar. */
  CHECK(r.s.fills == 1 && bt_broker_pending(r.b) == 5001);
  r.s.resubmit = NULL;
  bar(&r, 0, "11", "11", "11", "11");
  CHECK(r.s.fills == 2 && dec_is(r.s.fill.price, "11") && r.s.fill.side == BT_SELL);
  bar(&r, 0, "1", "1", "1", "1");  /* all 5000 limits fill, in submission order */
  CHECK(r.s.fills == 5002 && bt_broker_pending(r.b) == 0);
  CHECK(dec_is(bt_ledger_position(r.l, 0), "5000"));
  rig_free(&r);
}

static void test_done_orders_are_reclaimed(void) {
  rig r;
  rig_init(&r, NULL, "1000", 1);
  /* A resting order from the start stays findable and fillable however many orders
   * come and go after it; old done orders are forgotten, recent ones kept. */
  uint64_t rest = submit(&r, BT_BUY, BT_LIMIT, "1", "2", NULL);
  uint64_t last = 0, early = 0;
  for (int i = 0; i < 200000; i++) {
    last = submit(&r, BT_BUY, BT_LIMIT, "1", "1", NULL);
    CHECK(bt_broker_cancel(r.b, last));
    if (i == 5000) early = last;
  }
  CHECK(bt_broker_pending(r.b) == 1);
  CHECK(bt_broker_order(r.b, early) == NULL && !bt_broker_cancel(r.b, early));
  CHECK(bt_broker_order(r.b, last) && bt_broker_order(r.b, last)->status == BT_CANCELLED);
  CHECK(bt_broker_order(r.b, last - 60000) != NULL);
  const bt_order *o = bt_broker_order(r.b, rest);
  CHECK(o && o->status == BT_PENDING);
  bar(&r, 0, "2", "2", "2", "2");
  CHECK(r.s.fills == 1 && r.s.fill.order_id == rest);
  rig_free(&r);
}

int main(void) {
  test_market_next_open();
  test_other_symbol_same_time();
  test_limit();
  test_stop();
  test_stop_limit();
  test_slippage_and_commission();
  test_cfg_validate();
  test_rejection_and_order();
  test_cancel_and_validation();
  test_submit_from_callback_and_many_orders();
  test_done_orders_are_reclaimed();
  if (failures) {
    fprintf(stderr, "test_broker: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_broker: ok\n");
  return 0;
}
