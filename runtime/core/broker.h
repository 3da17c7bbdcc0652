/* broker.h - the simulated broker: pending orders and the fill rules.
 *
 * Rules (no look-ahead): an order submitted while bar N of its symbol is current
 * is first eligible on the next bar of that symbol. Market orders fill at that bar's
 * open. Limit buy fills when low <= limit (at the open if the open is already at or
 * below the limit, else at the limit); limit sell mirrors with high. Stop buy
 * triggers when high >= stop and fills at max(open, stop); stop sell mirrors with
 * low. Stop-limit: once the stop triggers it becomes a limit order, which may fill in
 * the same bar. Slippage (bps) worsens every fill price. Commission = qty * per_unit +
 * notional * percent, at least `minimum`. Fills are checked against the ledger: a
 * buy that cash cannot pay for (price * qty + commission) is rejected, never filled
 * into negative cash. The broker never calls Lua; the run loop turns its callbacks
 * into events. */
#ifndef BT_BROKER_H
#define BT_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"
#include "feed.h"

typedef enum { BT_BUY = 1, BT_SELL = -1 } bt_side;
typedef enum { BT_MARKET, BT_LIMIT, BT_STOP, BT_STOP_LIMIT } bt_order_type;
typedef enum { BT_PENDING, BT_FILLED, BT_CANCELLED, BT_REJECTED } bt_order_status;

typedef struct bt_order {
  uint64_t id;             /* assigned by bt_broker_submit, 1-based per run */
  uint32_t symbol;
  bt_side side;
  bt_order_type type;
  bt_dec qty;              /* > 0 */
  bt_dec limit;            /* limit price (LIMIT, STOP_LIMIT) */
  bt_dec stop;             /* stop price (STOP, STOP_LIMIT) */
  int64_t submitted_time;  /* market time of the bar during which it was submitted */
  uint64_t cause_id;       /* event id that caused the order (BAR or SIGNAL), 0 = none */
  uint64_t event_id;       /* event id of the ORDER event, set by the run loop */
  bool stop_triggered;     /* STOP_LIMIT only */
  bt_order_status status;
  char reject_reason[96];
} bt_order;

typedef struct bt_fill {
  uint64_t order_id;
  uint32_t symbol;
  bt_side side;
  bt_dec qty;
  bt_dec price;            /* after slippage */
  bt_dec commission;
  int64_t time;            /* market time of the bar that filled it */
} bt_fill;

typedef struct bt_broker_cfg {
  bt_dec commission_per_unit;  /* money per unit traded */
  bt_dec commission_percent;   /* fraction of notional: 0.001 = 0.1% */
  bt_dec commission_minimum;   /* per fill */
  bt_dec slippage_bps;         /* basis points, worsens the fill price */
} bt_broker_cfg;

struct bt_ledger;

/* Called for each order that leaves the book while a bar is processed:
 * fill != NULL: the order filled (the ledger has already applied it; a trade it
 * closed is bt_ledger_last_closed(ledger));
 * fill == NULL: the order was rejected (order->status, order->reject_reason). */
typedef void (*bt_broker_fill_fn)(void *ud, const bt_order *order, const bt_fill *fill);

typedef struct bt_broker bt_broker;

bt_broker *bt_broker_new(const bt_broker_cfg *cfg, uint32_t nsymbols);
void bt_broker_free(bt_broker *b);
/* Queue an order; validates qty/prices for its type. The order is copied; its id is
 * returned in *id_out and the copy's status is PENDING. */
int bt_broker_submit(bt_broker *b, const bt_order *order, uint64_t *id_out, bt_err *err);
/* Cancel a pending order; false if it is not pending (filled, rejected, unknown). */
bool bt_broker_cancel(bt_broker *b, uint64_t id);
/* Process `bar` (its symbol only): evaluates orders eligible on it, in submission
 * order, applies fills to the ledger and reports each through fn (which may submit or
 * cancel orders). An order is eligible on a bar whose time is later than every bar
 * (any symbol) passed here before the order was submitted: orders submitted during a
 * bar wait for the symbol's next bar, and an order placed for B while A's bar at time t
 * is current cannot fill at B's bar at t. The broker's clock comes from these calls, so
 * call it for EVERY bar, also when nothing is pending (O(1) then: no scan, no
 * allocation). On error (overflow) the unprocessed orders stay pending. */
int bt_broker_on_bar(bt_broker *b, struct bt_ledger *ledger, const bt_bar *bar,
                     bt_broker_fill_fn fn, void *ud, bt_err *err);
/* Check a configuration: nothing negative, slippage_bps < 10000, commission.percent < 1.
 * bt_broker_new assumes a validated configuration. */
int bt_broker_cfg_validate(const bt_broker_cfg *cfg, bt_err *err);
/* The terms a fill at `price` (before slippage) gets under cfg: the price worsened by
 * slippage (|price| * bps / 10000, rounded half to even to 8 decimals) and the
 * commission (qty * per_unit + |qty * fill_price| * percent, at least minimum when
 * per_unit or percent is non-zero). BT_ERANGE on overflow. */
int bt_broker_fill_terms(const bt_broker_cfg *cfg, bt_side side, bt_dec qty, bt_dec price,
                         bt_dec *fill_price, bt_dec *commission);
/* Look up an order (pending or done); NULL if unknown. Pointer valid until next submit.
 * Pending orders are always found; done orders are remembered at least until 65536
 * newer orders have been submitted (then forgotten, to bound memory). */
const bt_order *bt_broker_order(const bt_broker *b, uint64_t id);
size_t bt_broker_pending(const bt_broker *b);

#endif
