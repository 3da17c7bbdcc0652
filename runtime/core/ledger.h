/* ledger.h - cash, positions and round-trip trades, all in exact decimals.
 *
 * A trade is a round trip on one symbol: it opens when the position leaves zero and
 * closes when it returns to zero. Adding to a position extends the trade (the entry
 * price shown is the quantity-weighted average, rounded to 8 decimals; the P&L is
 * exact: exit proceeds - entry cost - all commissions). A fill that reverses a
 * position closes the trade and opens a new one with the remainder; its commission is
 * split pro rata. Open trades at the end are reported with status "open", marked at
 * the last price. */
#ifndef BT_LEDGER_H
#define BT_LEDGER_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "common.h"
#include "decimal.h"

typedef struct bt_trade {
  uint64_t trade_id;       /* 1-based, in order of opening */
  uint32_t symbol;
  bt_side side;            /* BT_BUY = long, BT_SELL = short */
  bt_dec qty;              /* largest absolute position held during the trade */
  int64_t entry_time;
  bt_dec entry_price;      /* average entry price */
  int64_t exit_time;       /* 0 while open */
  bt_dec exit_price;       /* average exit price; last mark while open */
  bt_dec pnl;              /* net of commission; unrealized while open */
  bt_dec commission;
  bool open;
} bt_trade;

typedef struct bt_ledger bt_ledger;

bt_ledger *bt_ledger_new(bt_dec cash, uint32_t nsymbols);
void bt_ledger_free(bt_ledger *l);

/* Can a fill of this size be paid for from current cash? A buy needs
 * cash >= qty * price + commission; a sell only needs cash + proceeds >= commission
 * (it raises cash, shorts included). An amount that would overflow is not affordable. */
bool bt_ledger_can_afford(const bt_ledger *l, bt_side side, bt_dec qty, bt_dec price,
                          bt_dec commission);
/* Apply a fill: cash, position, trades (the trade it closes: bt_ledger_last_closed). */
int bt_ledger_apply(bt_ledger *l, const bt_fill *f, bt_err *err);
/* The trade closed by the most recent bt_ledger_apply (a fill closes at most one), NULL
 * if it closed none. Valid until the next apply: lets a fill callback report the fill
 * first and then the trade it closed. */
const bt_trade *bt_ledger_last_closed(const bt_ledger *l);
/* Record the latest price of a symbol (for equity and the open trade's unrealized pnl).
 * Returns BT_OK, or BT_ERANGE (ledger unchanged) when the position value, equity or
 * pnl would overflow, BT_EINVAL for an unknown symbol. O(1), no arithmetic when flat. */
int bt_ledger_mark(bt_ledger *l, uint32_t symbol, bt_dec price, int64_t time);

bt_dec bt_ledger_cash(const bt_ledger *l);
bt_dec bt_ledger_position(const bt_ledger *l, uint32_t symbol);
bool bt_ledger_exposed(const bt_ledger *l);          /* any symbol not flat? O(1) */
bt_dec bt_ledger_position_value(const bt_ledger *l);  /* sum of position * last price */
bt_dec bt_ledger_equity(const bt_ledger *l);          /* cash + position value */
/* The open trade of a symbol, NULL when flat (unrealized pnl updated to last mark). */
const bt_trade *bt_ledger_open_trade(bt_ledger *l, uint32_t symbol);
uint64_t bt_ledger_closed_count(const bt_ledger *l);

#endif
