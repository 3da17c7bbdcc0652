/* Ledger: exact cash, positions, round-trip trades (scaling, reversal, shorts), marks. */
#include <stdio.h>
#include <string.h>

#include "ledger.h"

#include "check.h"



typedef struct closed_log {
  int n;
  bt_trade last;
  bt_dec pnl_sum;
} closed_log;

static void on_close(void *ud, const bt_trade *t) {
  closed_log *c = ud;
  c->n++;
  c->last = *t;
  bt_dec_add(c->pnl_sum, t->pnl, &c->pnl_sum);
}

/* bt_ledger_apply, then the trade it closed (if any) into c. */
static int apply(bt_ledger *l, const bt_fill *f, closed_log *c, bt_err *err) {
  int rc = bt_ledger_apply(l, f, err);
  const bt_trade *t = rc ? NULL : bt_ledger_last_closed(l);
  if (t) on_close(c, t);
  return rc;
}

static int fill(bt_ledger *l, closed_log *c, uint32_t sym, bt_side side, const char *qty,
                const char *price, const char *comm, int64_t t) {
  bt_fill f = {.order_id = 1, .symbol = sym, .side = side, .qty = DEC(qty), .price = DEC(price),
               .commission = DEC(comm), .time = t};
  bt_err err = {0};
  int rc = apply(l, &f, c, &err);
  if (rc) fprintf(stderr, "  apply: %s\n", err.msg);
  return rc;
}

static void test_many_small_fills_exact(void) {
  bt_ledger *l = bt_ledger_new(DEC("100000"), 1);
  closed_log c = {0};
  /* 1000 buys of 3 units at 0.1 with 0.01 commission: 0.1 has no binary form, but the
   * ledger must land exactly on 100000 - 1000 * (0.3 + 0.01) = 99690. */
  for (int i = 0; i < 1000; i++) CHECK(fill(l, &c, 0, BT_BUY, "3", "0.1", "0.01", i) == 0);
  CHECK(dec_is(bt_ledger_cash(l), "99690"));
  CHECK(dec_is(bt_ledger_position(l, 0), "3000"));
  const bt_trade *t = bt_ledger_open_trade(l, 0);
  CHECK(t && t->trade_id == 1 && dec_is(t->entry_price, "0.1") && dec_is(t->commission, "10"));
  for (int i = 0; i < 1000; i++) CHECK(fill(l, &c, 0, BT_SELL, "3", "0.1", "0", 1000 + i) == 0);
  CHECK(dec_is(bt_ledger_cash(l), "99990"));
  CHECK(c.n == 1 && dec_is(c.last.pnl, "-10") && dec_is(c.last.qty, "3000"));
  CHECK(c.last.entry_time == 0 && c.last.exit_time == 1999);
  bt_ledger_free(l);
}

static void test_round_trip_long(void) {
  bt_ledger *l = bt_ledger_new(DEC("10000"), 2);
  closed_log c = {0};
  CHECK(fill(l, &c, 1, BT_BUY, "100", "10", "1", 100) == 0);
  CHECK(bt_ledger_last_closed(l) == NULL);
  CHECK(dec_is(bt_ledger_cash(l), "8999"));
  CHECK(bt_ledger_exposed(l));
  CHECK(dec_is(bt_ledger_position(l, 0), "0") && dec_is(bt_ledger_position(l, 1), "100"));
  CHECK(fill(l, &c, 1, BT_SELL, "100", "12", "1", 200) == 0);
  /* pnl = 1200 - 1000 - 2 commissions */
  CHECK(c.n == 1);
  CHECK(dec_is(c.last.pnl, "198") && dec_is(c.last.entry_price, "10") &&
        dec_is(c.last.exit_price, "12") && dec_is(c.last.commission, "2"));
  CHECK(c.last.side == BT_BUY && !c.last.open && c.last.symbol == 1);
  CHECK(c.last.entry_time == 100 && c.last.exit_time == 200);
  const bt_trade *lc = bt_ledger_last_closed(l);
  CHECK(lc && lc->trade_id == 1 && lc->pnl.v == c.last.pnl.v);
  CHECK(dec_is(bt_ledger_cash(l), "10198"));
  CHECK(!bt_ledger_exposed(l));
  CHECK(bt_ledger_open_trade(l, 1) == NULL);
  CHECK(bt_ledger_closed_count(l) == 1);
  bt_ledger_free(l);
}

static void test_scale_in_out(void) {
  bt_ledger *l = bt_ledger_new(DEC("10000"), 1);
  closed_log c = {0};
  CHECK(fill(l, &c, 0, BT_BUY, "100", "10", "0", 1) == 0);
  CHECK(fill(l, &c, 0, BT_BUY, "50", "11", "0", 2) == 0);
  CHECK(fill(l, &c, 0, BT_SELL, "75", "12", "0", 3) == 0);
  CHECK(c.n == 0);
  CHECK(fill(l, &c, 0, BT_SELL, "75", "13", "0", 4) == 0);
  /* entry 1000 + 550 = 1550 over 150 units = 10.3333...; exit 900 + 975 = 1875 -> 12.5 */
  CHECK(c.n == 1 && dec_is(c.last.pnl, "325") && dec_is(c.last.qty, "150"));
  CHECK(dec_is(c.last.entry_price, "10.33333333") && dec_is(c.last.exit_price, "12.5"));
  CHECK(dec_is(bt_ledger_cash(l), "10325"));
  bt_ledger_free(l);
}

static void test_reversal(void) {
  bt_ledger *l = bt_ledger_new(DEC("10000"), 1);
  closed_log c = {0};
  CHECK(fill(l, &c, 0, BT_BUY, "100", "10", "1", 1) == 0);
  /* Sell 300: 100 close the long (1/3 of the commission), 200 open a short. */
  CHECK(fill(l, &c, 0, BT_SELL, "300", "12", "3", 2) == 0);
  CHECK(c.n == 1 && c.last.trade_id == 1 && dec_is(c.last.pnl, "198") &&
        dec_is(c.last.commission, "2"));
  CHECK(dec_is(bt_ledger_position(l, 0), "-200"));
  const bt_trade *t = bt_ledger_open_trade(l, 0);
  CHECK(t && t->trade_id == 2 && t->side == BT_SELL && dec_is(t->qty, "200") &&
        dec_is(t->entry_price, "12") && dec_is(t->commission, "2") && t->entry_time == 2);
  /* cash: 10000 - 1000 - 1 + 3600 - 3 */
  CHECK(dec_is(bt_ledger_cash(l), "12596"));
  CHECK(fill(l, &c, 0, BT_BUY, "200", "11", "0", 3) == 0);
  /* short: 2400 proceeds - 2200 cover - 2 commission */
  CHECK(c.n == 2 && c.last.trade_id == 2 && c.last.side == BT_SELL && dec_is(c.last.pnl, "198"));
  CHECK(dec_is(bt_ledger_cash(l), "10396"));

  /* An indivisible commission is split without losing the last unit. */
  CHECK(fill(l, &c, 0, BT_BUY, "1", "1", "0", 4) == 0);
  CHECK(fill(l, &c, 0, BT_SELL, "3", "1", "0.00000001", 5) == 0);
  const bt_trade *s = bt_ledger_open_trade(l, 0);
  CHECK(s && s->trade_id == 4);
  bt_dec sum;
  CHECK(bt_dec_add(c.last.commission, s->commission, &sum) && dec_is(sum, "0.00000001"));
  bt_ledger_free(l);
}

static void test_short_and_marks(void) {
  bt_ledger *l = bt_ledger_new(DEC("1000"), 2);
  closed_log c = {0};
  CHECK(fill(l, &c, 0, BT_SELL, "10", "50", "0.5", 1) == 0);
  CHECK(dec_is(bt_ledger_cash(l), "1499.5"));
  CHECK(dec_is(bt_ledger_position(l, 0), "-10"));
  /* Before any mark the position is valued at the fill price. */
  CHECK(dec_is(bt_ledger_equity(l), "999.5"));
  CHECK(bt_ledger_mark(l, 0, DEC("45"), 2) == BT_OK);
  CHECK(dec_is(bt_ledger_position_value(l), "-450"));
  CHECK(dec_is(bt_ledger_equity(l), "1049.5"));
  const bt_trade *t = bt_ledger_open_trade(l, 0);
  CHECK(t && t->open && t->side == BT_SELL && dec_is(t->pnl, "49.5") &&
        dec_is(t->exit_price, "45") && t->exit_time == 0);

  /* A long in the other symbol: marks move equity through both positions. */
  CHECK(fill(l, &c, 1, BT_BUY, "4", "100", "0", 3) == 0);
  CHECK(bt_ledger_mark(l, 1, DEC("110"), 4) == BT_OK);
  CHECK(dec_is(bt_ledger_position_value(l), "-10"));
  CHECK(dec_is(bt_ledger_equity(l), "1089.5"));
  t = bt_ledger_open_trade(l, 1);
  CHECK(t && dec_is(t->pnl, "40") && dec_is(t->exit_price, "110"));
  CHECK(bt_ledger_mark(l, 0, DEC("60"), 5) == BT_OK);
  t = bt_ledger_open_trade(l, 0);
  CHECK(t && dec_is(t->pnl, "-100.5"));
  CHECK(dec_is(bt_ledger_equity(l), "939.5"));
  CHECK(bt_ledger_mark(l, 7, DEC("1"), 5) == BT_EINVAL);
  bt_ledger_free(l);
}

static void test_can_afford(void) {
  bt_ledger *l = bt_ledger_new(DEC("1001"), 1);
  CHECK(bt_ledger_can_afford(l, BT_BUY, DEC("100"), DEC("10"), DEC("1")));
  CHECK(!bt_ledger_can_afford(l, BT_BUY, DEC("100"), DEC("10"), DEC("1.00000001")));
  CHECK(!bt_ledger_can_afford(l, BT_BUY, DEC("100"), DEC("10.00000001"), DEC("1")));
  CHECK(bt_ledger_can_afford(l, BT_SELL, DEC("1000000"), DEC("10"), DEC("1")));
  /* a sell whose commission exceeds cash + proceeds would drive cash negative */
  CHECK(!bt_ledger_can_afford(l, BT_SELL, DEC("1"), DEC("1"), DEC("1002.00000001")));
  /* overflow is never affordable */
  CHECK(!bt_ledger_can_afford(l, BT_BUY, DEC("90000000000"), DEC("90000000000"), DEC("0")));
  bt_ledger_free(l);
}

static void test_overflow(void) {
  bt_ledger *l = bt_ledger_new(DEC("90000000000"), 1);
  closed_log c = {0};
  bt_err err = {0};
  bt_fill f = {.symbol = 0, .side = BT_SELL, .qty = DEC("1000000000"), .price = DEC("1000"), .time = 1};
  CHECK(apply(l, &f, &c, &err) == BT_ERANGE && err.code == BT_ERANGE);
  CHECK(dec_is(bt_ledger_cash(l), "90000000000") && dec_is(bt_ledger_position(l, 0), "0"));
  CHECK(fill(l, &c, 0, BT_BUY, "1000", "1000", "0", 2) == 0);
  /* 1000 units at 10^8 would be worth 10^11: refused, state unchanged */
  CHECK(bt_ledger_mark(l, 0, DEC("100000000"), 3) == BT_ERANGE);
  CHECK(dec_is(bt_ledger_equity(l), "90000000000"));
  bt_fill bad = {.symbol = 3, .side = BT_BUY, .qty = DEC("1"), .price = DEC("1")};
  CHECK(bt_ledger_apply(l, &bad, &err) == BT_EINVAL);
  bad.symbol = 0, bad.qty = DEC("0");
  CHECK(bt_ledger_apply(l, &bad, &err) == BT_EINVAL);
  bt_ledger_free(l);
}

/* Whatever the sequence of fills, once flat the cash change equals the sum of the
 * closed trades' pnl, to the last 10^-8. */
static void test_pnl_reconciles_with_cash(void) {
  bt_ledger *l = bt_ledger_new(DEC("1000000"), 3);
  closed_log c = {0};
  uint64_t x = 12345;
  for (int i = 0; i < 5000; i++) {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t sym = (uint32_t)(x >> 60) % 3;
    bt_side side = (x >> 40) & 1 ? BT_BUY : BT_SELL;
    bt_dec pos = bt_ledger_position(l, sym); /* lean back towards flat: many reversals */
    if (bt_dec_cmp(bt_dec_abs(pos), DEC("100")) > 0) side = bt_dec_sign(pos) > 0 ? BT_SELL : BT_BUY;
    bt_fill f = {.symbol = sym, .side = side, .qty = bt_dec_raw((int64_t)((x >> 20) % 700 + 1) * 10000000),
                 .price = bt_dec_raw((int64_t)((x >> 8) % 5000 + 100) * 1234567),
                 .commission = bt_dec_raw((int64_t)(x % 1000000)), .time = i};
    bt_err err = {0};
    CHECK(apply(l, &f, &c, &err) == 0);
  }
  for (uint32_t s = 0; s < 3; s++) {
    bt_dec pos = bt_ledger_position(l, s);
    if (bt_dec_is_zero(pos)) continue;
    bt_fill f = {.symbol = s, .side = bt_dec_sign(pos) > 0 ? BT_SELL : BT_BUY,
                 .qty = bt_dec_abs(pos), .price = DEC("7.77777777"), .time = 9999};
    bt_err err = {0};
    CHECK(apply(l, &f, &c, &err) == 0);
  }
  CHECK(!bt_ledger_exposed(l));
  CHECK(c.n > 100 && (uint64_t)c.n == bt_ledger_closed_count(l));
  bt_dec delta;
  bt_dec_sub(bt_ledger_cash(l), DEC("1000000"), &delta);
  CHECK(delta.v == c.pnl_sum.v);
  CHECK(bt_ledger_equity(l).v == bt_ledger_cash(l).v);
  bt_ledger_free(l);
}

int main(void) {
  test_many_small_fills_exact();
  test_round_trip_long();
  test_scale_in_out();
  test_reversal();
  test_short_and_marks();
  test_can_afford();
  test_overflow();
  test_pnl_reconciles_with_cash();
  if (failures) {
    fprintf(stderr, "test_ledger: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_ledger: ok\n");
  return 0;
}
