#include "ledger.h"

#include <stdlib.h>
#include <string.h>

/* Per-symbol book. The trade accumulators keep exact sums of the cash that moved so
 * a closed trade's pnl equals its cash effect to the last 10^-8. */
typedef struct sym_book {
  bt_dec pos;            /* signed position */
  bt_dec last;           /* last price (mark or, before any mark, first fill price) */
  bool marked;
  bt_dec value;          /* round(pos * last), kept so equity is O(1) */
  bt_dec entry_value;    /* sum of entry fill notionals of the open trade */
  bt_dec entry_qty;
  bt_dec exit_value;     /* sum of exit fill notionals of the open trade */
  bt_dec exit_qty;
  bt_trade t;            /* t.open says whether a trade is open */
} sym_book;

struct bt_ledger {
  bt_dec cash;
  bt_dec pos_value;      /* sum of sym_book.value */
  uint32_t nsymbols;
  uint64_t next_trade_id;
  uint64_t closed;
  uint32_t nonflat;      /* symbols with a position, so "any position?" is O(1) */
  bool has_last_closed;
  bt_trade last_closed;
  sym_book *syms;
};

bt_ledger *bt_ledger_new(bt_dec cash, uint32_t nsymbols) {
  bt_ledger *l = calloc(1, sizeof *l);
  if (!l) return NULL;
  l->syms = calloc(nsymbols ? nsymbols : 1, sizeof *l->syms);
  if (!l->syms) {
    free(l);
    return NULL;
  }
  l->cash = cash;
  l->nsymbols = nsymbols;
  l->next_trade_id = 1;
  return l;
}

void bt_ledger_free(bt_ledger *l) {
  if (!l) return;
  free(l->syms);
  free(l);
}

bool bt_ledger_can_afford(const bt_ledger *l, bt_side side, bt_dec qty, bt_dec price,
                          bt_dec commission) {
  bt_dec notional, after;
  if (!bt_dec_mul(qty, price, &notional)) return false;
  if (side == BT_BUY) {
    bt_dec need;
    if (!bt_dec_add(notional, commission, &need)) return false;
    return bt_dec_cmp(l->cash, need) >= 0;
  }
  /* A sell raises cash unless a commission exceeds the proceeds: still never negative. */
  if (!bt_dec_add(l->cash, notional, &after) || !bt_dec_sub(after, commission, &after))
    return false;
  return bt_dec_sign(after) >= 0;
}

static int overflow(bt_err *err, const char *what) {
  return bt_errf(err, BT_ERANGE, "overflow", "ledger: %s exceeds the decimal range", what);
}

/* Signed unrealized/realized pnl of the trade in b with the position valued at b->value. */
static bool trade_pnl(const sym_book *b, bt_dec *out) {
  bt_dec gross, pnl;
  if (b->t.side == BT_BUY) {
    if (!bt_dec_sub(b->exit_value, b->entry_value, &gross)) return false;
  } else {
    if (!bt_dec_sub(b->entry_value, b->exit_value, &gross)) return false;
  }
  /* value is pos * last: positive for a long (worth it), negative for a short (owed). */
  if (!bt_dec_add(gross, b->value, &pnl) || !bt_dec_sub(pnl, b->t.commission, &pnl))
    return false;
  *out = pnl;
  return true;
}

/* Start trade `id` in b (flat) with an entry of qty at notional, paying commission. */
static void open_leg(sym_book *b, uint64_t id, uint32_t symbol, bt_side side, bt_dec qty,
                     bt_dec notional, bt_dec commission, int64_t time) {
  memset(&b->t, 0, sizeof b->t);
  b->t.trade_id = id;
  b->t.symbol = symbol;
  b->t.side = side;
  b->t.entry_time = time;
  b->t.open = true;
  b->t.qty = qty;
  b->t.commission = commission;
  b->entry_value = notional;
  b->entry_qty = qty;
  b->exit_value = b->exit_qty = BT_DEC_ZERO;
  b->pos = side == BT_BUY ? qty : bt_dec_neg(qty);
}

int bt_ledger_apply(bt_ledger *l, const bt_fill *f, bt_err *err) {
  if (f->symbol >= l->nsymbols)
    return bt_errf(err, BT_EINVAL, "ledger_error", "ledger: fill for unknown symbol %u",
                   (unsigned)f->symbol);
  if (bt_dec_sign(f->qty) <= 0 || (f->side != BT_BUY && f->side != BT_SELL))
    return bt_errf(err, BT_EINVAL, "ledger_error", "ledger: fill needs qty > 0 and a side");

  /* Work on copies and commit at the end, so an error leaves the ledger untouched. */
  sym_book b = l->syms[f->symbol];
  uint64_t next_id = l->next_trade_id;
  bt_dec notional, cash;
  if (!bt_dec_mul(f->qty, f->price, &notional)) return overflow(err, "fill notional");
  if (f->side == BT_BUY) {
    if (!bt_dec_sub(l->cash, notional, &cash) || !bt_dec_sub(cash, f->commission, &cash))
      return overflow(err, "cash");
  } else {
    if (!bt_dec_add(l->cash, notional, &cash) || !bt_dec_sub(cash, f->commission, &cash))
      return overflow(err, "cash");
  }
  if (!b.marked) b.last = f->price;

  bool closed = false;
  bt_trade closed_trade;
  int sign = bt_dec_sign(b.pos);
  if (sign == 0 || sign == (int)f->side) {
    if (sign == 0) {
      open_leg(&b, next_id++, f->symbol, f->side, f->qty, notional, f->commission, f->time);
    } else {
      bt_dec pos, abspos;
      if (!bt_dec_add(b.entry_value, notional, &b.entry_value) ||
          !bt_dec_add(b.entry_qty, f->qty, &b.entry_qty) ||
          !bt_dec_add(b.t.commission, f->commission, &b.t.commission) ||
          !bt_dec_add(b.pos, f->side == BT_BUY ? f->qty : bt_dec_neg(f->qty), &pos))
        return overflow(err, "position");
      b.pos = pos;
      abspos = bt_dec_abs(pos);
      b.t.qty = bt_dec_max(b.t.qty, abspos);
    }
  } else {
    /* Reduces, closes or reverses the position. */
    bt_dec held = bt_dec_abs(b.pos);
    bt_dec close_qty = bt_dec_min(held, f->qty);
    bt_dec close_notional = notional, close_comm = f->commission;
    bt_dec rest_qty = BT_DEC_ZERO, rest_notional = BT_DEC_ZERO, rest_comm = BT_DEC_ZERO;
    if (bt_dec_cmp(f->qty, held) > 0) {
      /* Reversal: split the fill; the parts add up exactly to the whole. */
      if (!bt_dec_mul(close_qty, f->price, &close_notional) ||
          !bt_dec_muldiv(f->commission, close_qty.v, f->qty.v, &close_comm))
        return overflow(err, "reversal split");
      bt_dec_sub(f->qty, close_qty, &rest_qty);
      if (!bt_dec_sub(notional, close_notional, &rest_notional) ||
          !bt_dec_sub(f->commission, close_comm, &rest_comm))
        return overflow(err, "reversal split");
    }
    if (!bt_dec_add(b.exit_value, close_notional, &b.exit_value) ||
        !bt_dec_add(b.exit_qty, close_qty, &b.exit_qty) ||
        !bt_dec_add(b.t.commission, close_comm, &b.t.commission))
      return overflow(err, "trade totals");
    bt_dec pos;
    bt_dec_add(b.pos, f->side == BT_BUY ? close_qty : bt_dec_neg(close_qty), &pos);
    b.pos = pos;
    if (bt_dec_is_zero(pos)) {
      b.value = BT_DEC_ZERO;
      closed_trade = b.t;
      closed_trade.open = false;
      closed_trade.exit_time = f->time;
      if (!bt_dec_div(b.entry_value, b.entry_qty, &closed_trade.entry_price) ||
          !bt_dec_div(b.exit_value, b.exit_qty, &closed_trade.exit_price) ||
          !trade_pnl(&b, &closed_trade.pnl))
        return overflow(err, "trade pnl");
      closed = true;
      memset(&b.t, 0, sizeof b.t);
      if (bt_dec_sign(rest_qty) > 0) {
        open_leg(&b, next_id++, f->symbol, f->side, rest_qty, rest_notional, rest_comm, f->time);
      }
    }
  }
  bt_dec value, pos_value, equity;
  if (!bt_dec_mul(b.pos, b.last, &value)) return overflow(err, "position value");
  if (!bt_dec_sub(l->pos_value, l->syms[f->symbol].value, &pos_value) ||
      !bt_dec_add(pos_value, value, &pos_value) || !bt_dec_add(cash, pos_value, &equity))
    return overflow(err, "equity");
  b.value = value;
  if (b.t.open && (!bt_dec_div(b.entry_value, b.entry_qty, &b.t.entry_price) ||
                   !trade_pnl(&b, &b.t.pnl)))
    return overflow(err, "open trade pnl");

  l->nonflat += (uint32_t)!bt_dec_is_zero(b.pos) - (uint32_t)!bt_dec_is_zero(l->syms[f->symbol].pos);
  l->syms[f->symbol] = b;
  l->cash = cash;
  l->pos_value = pos_value;
  l->next_trade_id = next_id;
  l->has_last_closed = closed;
  if (closed) {
    l->closed++;
    l->last_closed = closed_trade;
  }
  return BT_OK;
}

int bt_ledger_mark(bt_ledger *l, uint32_t symbol, bt_dec price, int64_t time) {
  (void)time;
  if (symbol >= l->nsymbols) return BT_EINVAL;
  sym_book *b = &l->syms[symbol];
  if (bt_dec_is_zero(b->pos)) { /* hot path: flat symbols need no arithmetic */
    b->last = price;
    b->marked = true;
    return BT_OK;
  }
  /* Check everything before changing anything: a refused mark leaves the ledger as it was. */
  sym_book nb = *b;
  bt_dec pos_value, equity;
  if (!bt_dec_mul(b->pos, price, &nb.value) ||
      !bt_dec_sub(l->pos_value, b->value, &pos_value) ||
      !bt_dec_add(pos_value, nb.value, &pos_value) || !bt_dec_add(l->cash, pos_value, &equity) ||
      !trade_pnl(&nb, &nb.t.pnl))
    return BT_ERANGE;
  b->last = price;
  b->marked = true;
  b->value = nb.value;
  b->t.pnl = nb.t.pnl;
  l->pos_value = pos_value;
  return BT_OK;
}

bt_dec bt_ledger_cash(const bt_ledger *l) { return l->cash; }

bt_dec bt_ledger_position(const bt_ledger *l, uint32_t symbol) {
  return symbol < l->nsymbols ? l->syms[symbol].pos : BT_DEC_ZERO;
}

bool bt_ledger_exposed(const bt_ledger *l) { return l->nonflat > 0; }

bt_dec bt_ledger_position_value(const bt_ledger *l) { return l->pos_value; }

bt_dec bt_ledger_equity(const bt_ledger *l) {
  /* apply and mark refuse any state whose equity would not fit, so this cannot overflow */
  return (bt_dec){l->cash.v + l->pos_value.v};
}

const bt_trade *bt_ledger_open_trade(bt_ledger *l, uint32_t symbol) {
  if (symbol >= l->nsymbols) return NULL;
  sym_book *b = &l->syms[symbol];
  if (!b->t.open) return NULL;
  b->t.exit_price = b->last; /* pnl was brought up to date by the last apply or mark */
  return &b->t;
}

const bt_trade *bt_ledger_last_closed(const bt_ledger *l) {
  return l->has_last_closed ? &l->last_closed : NULL;
}

uint64_t bt_ledger_closed_count(const bt_ledger *l) { return l->closed; }
