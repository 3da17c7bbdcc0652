#include "broker.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "ledger.h"

/* Orders live in fixed-size chunks: lookup by id is O(1) and a bt_order never moves.
 * A chunk whose orders are all done is freed once KEEP_CHUNKS newer chunks exist, so a
 * strategy that re-places an order on every one of 10M bars does not keep 10M orders. */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1u << CHUNK_BITS)
#define KEEP_CHUNKS 64

typedef struct slot {
  bt_order o;
  int64_t submit_now;    /* broker clock when submitted: eligible on bars after it */
} slot;

typedef struct symq {
  uint64_t *ids;         /* pending order ids in submission order (may hold done ones) */
  size_t len, cap;
} symq;

struct bt_broker {
  bt_broker_cfg cfg;
  uint32_t nsymbols;
  symq *syms;
  slot **chunks;         /* NULL once reclaimed */
  uint32_t *live;        /* pending orders per chunk */
  size_t nchunks, cap_chunks;
  size_t *dead;          /* chunks to free at the next submit (no pointer is handed out then) */
  size_t ndead;
  uint64_t norders;
  size_t pending;
  int64_t now;           /* latest bar time processed (any symbol), INT64_MIN before any */
};

int bt_broker_cfg_validate(const bt_broker_cfg *cfg, bt_err *err) {
  static const struct { const char *key; size_t off; } fields[] = {
      {"commission.per_unit", offsetof(bt_broker_cfg, commission_per_unit)},
      {"commission.percent", offsetof(bt_broker_cfg, commission_percent)},
      {"commission.minimum", offsetof(bt_broker_cfg, commission_minimum)},
      {"slippage_bps", offsetof(bt_broker_cfg, slippage_bps)},
  };
  const char *bad = NULL, *why = "must not be negative";
  for (size_t i = 0; i < sizeof fields / sizeof fields[0] && !bad; i++)
    if (bt_dec_sign(*(const bt_dec *)((const char *)cfg + fields[i].off)) < 0) bad = fields[i].key;
  if (!bad && bt_dec_cmp(cfg->slippage_bps, bt_dec_from_int(10000)) >= 0)
    bad = "slippage_bps", why = "must be below 10000 (100%)";
  if (!bad && bt_dec_cmp(cfg->commission_percent, bt_dec_from_int(1)) >= 0)
    bad = "commission.percent", why = "is a fraction of notional (0.001 = 0.1%) and must be below 1";
  if (!bad) return BT_OK;
  bt_errf(err, BT_EINVAL, "config_error", "%s %s", bad, why);
  if (err) snprintf(err->field, sizeof err->field, "%s", bad);
  return BT_EINVAL;
}

bt_broker *bt_broker_new(const bt_broker_cfg *cfg, uint32_t nsymbols) {
  bt_broker *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->syms = calloc(nsymbols ? nsymbols : 1, sizeof *b->syms);
  if (!b->syms) {
    free(b);
    return NULL;
  }
  b->cfg = *cfg;
  b->nsymbols = nsymbols;
  b->now = INT64_MIN;
  return b;
}

void bt_broker_free(bt_broker *b) {
  if (!b) return;
  for (uint32_t i = 0; i < b->nsymbols; i++) free(b->syms[i].ids);
  free(b->syms);
  for (size_t i = 0; i < b->nchunks; i++) free(b->chunks[i]);
  free(b->chunks);
  free(b->live);
  free(b->dead);
  free(b);
}

static slot *slot_of(const bt_broker *b, uint64_t id) {
  if (id == 0 || id > b->norders) return NULL;
  uint64_t i = id - 1;
  slot *c = b->chunks[i >> CHUNK_BITS];
  return c ? &c[i & (CHUNK_SIZE - 1)] : NULL;
}

/* An order left the book: its chunk may become reclaimable. */
static void order_done(bt_broker *b, uint64_t id) {
  size_t c = (size_t)((id - 1) >> CHUNK_BITS);
  b->pending--;
  if (--b->live[c] == 0 && c + KEEP_CHUNKS < b->nchunks) b->dead[b->ndead++] = c;
}

static int order_error(bt_err *err, const char *field, const char *msg) {
  return bt_errf_at(err, BT_EINVAL, "order_error", "order", 0, field, "%s", msg);
}

int bt_broker_submit(bt_broker *b, const bt_order *order, uint64_t *id_out, bt_err *err) {
  if (order->symbol >= b->nsymbols) return order_error(err, "symbol", "unknown symbol");
  if (order->side != BT_BUY && order->side != BT_SELL)
    return order_error(err, "side", "side must be buy or sell");
  if (bt_dec_sign(order->qty) <= 0) return order_error(err, "qty", "qty must be > 0");
  switch (order->type) {
  case BT_MARKET: break;
  case BT_LIMIT:
    if (bt_dec_sign(order->limit) <= 0) return order_error(err, "limit", "limit must be > 0");
    break;
  case BT_STOP:
    if (bt_dec_sign(order->stop) <= 0) return order_error(err, "stop", "stop must be > 0");
    break;
  case BT_STOP_LIMIT:
    if (bt_dec_sign(order->stop) <= 0) return order_error(err, "stop", "stop must be > 0");
    if (bt_dec_sign(order->limit) <= 0) return order_error(err, "limit", "limit must be > 0");
    break;
  default: return order_error(err, "type", "unknown order type");
  }

  for (size_t i = 0; i < b->ndead; i++) {
    free(b->chunks[b->dead[i]]);
    b->chunks[b->dead[i]] = NULL;
  }
  b->ndead = 0;

  symq *q = &b->syms[order->symbol];
  if (BT_GROW(q->ids, q->cap, q->len + 1))
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory queueing an order");
  uint64_t idx = b->norders;
  if ((idx >> CHUNK_BITS) >= b->nchunks) {
    /* three arrays of one length: the capacity is recorded once all three have grown */
    size_t cap = b->cap_chunks, cap_live = cap, cap_dead = cap;
    if (BT_GROW(b->chunks, cap, b->nchunks + 1) || BT_GROW(b->live, cap_live, b->nchunks + 1) ||
        BT_GROW(b->dead, cap_dead, b->nchunks + 1))
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory storing an order");
    b->cap_chunks = cap;
    slot *c = malloc(CHUNK_SIZE * sizeof *c);
    if (!c) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory storing an order");
    b->live[b->nchunks] = 0;
    b->chunks[b->nchunks++] = c;
    /* the chunk that just left the kept window goes now if nothing in it is pending */
    if (b->nchunks > KEEP_CHUNKS) {
      size_t old = b->nchunks - 1 - KEEP_CHUNKS;
      if (b->chunks[old] && b->live[old] == 0) b->dead[b->ndead++] = old;
    }
  }
  slot *s = &b->chunks[idx >> CHUNK_BITS][idx & (CHUNK_SIZE - 1)];
  s->o = *order;
  s->o.id = idx + 1;
  s->o.status = BT_PENDING;
  s->o.stop_triggered = false;
  s->o.reject_reason[0] = '\0';
  s->submit_now = b->now;
  b->norders++;
  q->ids[q->len++] = s->o.id;
  b->pending++;
  b->live[idx >> CHUNK_BITS]++;
  if (id_out) *id_out = s->o.id;
  return BT_OK;
}

bool bt_broker_cancel(bt_broker *b, uint64_t id) {
  slot *s = slot_of(b, id);
  if (!s || s->o.status != BT_PENDING) return false;
  /* Its id stays in the symbol queue until that symbol's next bar drops it. */
  s->o.status = BT_CANCELLED;
  order_done(b, id);
  return true;
}

/* Limit rule: a buy fills if the bar trades at or below the limit, at the open when the
 * open is already there; a sell mirrors it. */
static bool limit_fill(bt_side side, bt_dec limit, const bt_bar *bar, bt_dec *price) {
  if (side == BT_BUY) {
    if (bt_dec_cmp(bar->low, limit) > 0) return false;
    *price = bt_dec_cmp(bar->open, limit) <= 0 ? bar->open : limit;
  } else {
    if (bt_dec_cmp(bar->high, limit) < 0) return false;
    *price = bt_dec_cmp(bar->open, limit) >= 0 ? bar->open : limit;
  }
  return true;
}

/* Stop rule: returns whether the bar reaches the stop, and the price it triggers at
 * (the open when the bar gaps through the stop). */
static bool stop_trigger(bt_side side, bt_dec stop, const bt_bar *bar, bt_dec *price) {
  if (side == BT_BUY) {
    if (bt_dec_cmp(bar->high, stop) < 0) return false;
    *price = bt_dec_max(bar->open, stop);
  } else {
    if (bt_dec_cmp(bar->low, stop) > 0) return false;
    *price = bt_dec_min(bar->open, stop);
  }
  return true;
}

/* Does order o fill on bar, and at which price (before slippage)? May mark a stop-limit
 * as triggered even when it does not fill. */
static bool evaluate(bt_order *o, const bt_bar *bar, bt_dec *price) {
  switch (o->type) {
  case BT_MARKET: *price = bar->open; return true;
  case BT_LIMIT: return limit_fill(o->side, o->limit, bar, price);
  case BT_STOP: return stop_trigger(o->side, o->stop, bar, price);
  case BT_STOP_LIMIT: {
    if (o->stop_triggered) return limit_fill(o->side, o->limit, bar, price);
    bt_dec at;
    if (!stop_trigger(o->side, o->stop, bar, &at)) return false;
    o->stop_triggered = true;
    /* The limit is live from the trigger price on: fill there if it already satisfies the
     * limit (a gap open fills at the open), else only if the bar later reaches the limit. */
    int c = bt_dec_cmp(at, o->limit);
    if (o->side == BT_BUY ? c <= 0 : c >= 0) {
      *price = at;
      return true;
    }
    if (o->side == BT_BUY ? bt_dec_cmp(bar->low, o->limit) <= 0
                          : bt_dec_cmp(bar->high, o->limit) >= 0) {
      *price = o->limit;
      return true;
    }
    return false;
  }
  }
  return false;
}

int bt_broker_fill_terms(const bt_broker_cfg *cfg, bt_side side, bt_dec qty, bt_dec price,
                         bt_dec *fill_price, bt_dec *commission) {
  bt_dec slip, p = price;
  if (!bt_dec_is_zero(cfg->slippage_bps)) {
    /* |price| * bps / 10000, rounded once (half to even) to 8 decimals */
    if (!bt_dec_muldiv(bt_dec_abs(price), cfg->slippage_bps.v, 10000 * BT_DEC_SCALE, &slip))
      return BT_ERANGE;
    if (!(side == BT_BUY ? bt_dec_add(price, slip, &p) : bt_dec_sub(price, slip, &p)))
      return BT_ERANGE;
  }
  bt_dec comm = BT_DEC_ZERO;
  /* the minimum applies only when a commission is configured at all */
  bool any = !bt_dec_is_zero(cfg->commission_per_unit) || !bt_dec_is_zero(cfg->commission_percent);
  if (any) {
    bt_dec per_unit, notional, pct;
    if (!bt_dec_mul(qty, cfg->commission_per_unit, &per_unit) ||
        !bt_dec_mul(qty, p, &notional) ||
        !bt_dec_mul(bt_dec_abs(notional), cfg->commission_percent, &pct) ||
        !bt_dec_add(per_unit, pct, &comm))
      return BT_ERANGE;
    comm = bt_dec_max(comm, cfg->commission_minimum);
  }
  *fill_price = p;
  *commission = comm;
  return BT_OK;
}

static void reject_cash(const bt_ledger *l, bt_order *o, bt_dec price, bt_dec comm) {
  char need[BT_DEC_STRLEN], have[BT_DEC_STRLEN];
  bt_dec cash = bt_ledger_cash(l), notional = BT_DEC_ZERO, v = BT_DEC_ZERO;
  bool ok = bt_dec_mul(o->qty, price, &notional);
  if (o->side == BT_BUY) {
    ok = ok && bt_dec_add(notional, comm, &v);
    bt_dec_format(cash, have);
  } else {
    v = comm; /* a sell is refused only when its commission exceeds cash + proceeds */
    bt_dec have_v;
    ok = ok && bt_dec_add(cash, notional, &have_v);
    bt_dec_format(ok ? have_v : cash, have);
  }
  if (ok) bt_dec_format(v, need);
  else snprintf(need, sizeof need, "more than the decimal range");
  o->status = BT_REJECTED;
  snprintf(o->reject_reason, sizeof o->reject_reason, "insufficient cash: need %s, have %s", need,
           have);
}

/* The callback gets a copy: it may submit, and a submit may reclaim the order's chunk. */
static void report(bt_broker_fill_fn fn, void *ud, const bt_order *o, const bt_fill *f) {
  if (!fn) return;
  bt_order copy = *o;
  fn(ud, &copy, f);
}

int bt_broker_on_bar(bt_broker *b, struct bt_ledger *ledger, const bt_bar *bar,
                     bt_broker_fill_fn fn, void *ud, bt_err *err) {
  if (bar->symbol >= b->nsymbols)
    return bt_errf(err, BT_EINVAL, "broker_error", "bar for unknown symbol %u",
                   (unsigned)bar->symbol);
  symq *q = &b->syms[bar->symbol];
  if (bar->time > b->now) b->now = bar->time;
  if (q->len == 0) return BT_OK; /* hot path: nothing queued for this symbol */

  /* Walk the orders queued before this call; callbacks may append (those wait for the
   * next bar) or cancel. Kept ids are compacted to the front as we go. */
  size_t n0 = q->len, w = 0, i = 0;
  int rc = BT_OK;
  for (; i < n0; i++) {
    uint64_t id = q->ids[i];
    slot *s = slot_of(b, id);
    if (!s || s->o.status != BT_PENDING) continue; /* done (maybe reclaimed): drop */
    bt_order *o = &s->o;
    /* Eligible only on a bar later in time than any bar seen before it was submitted:
     * the symbol's next bar, and never B's bar at t for an order placed during A's bar
     * at t. Orders appended by callbacks during this call sit beyond n0. */
    bt_dec price;
    if (s->submit_now >= bar->time || !evaluate(o, bar, &price)) {
      q->ids[w++] = id;
      continue;
    }
    bt_fill fill = {.order_id = id, .symbol = o->symbol, .side = o->side, .qty = o->qty,
                    .time = bar->time};
    if (bt_broker_fill_terms(&b->cfg, o->side, o->qty, price, &fill.price, &fill.commission)) {
      rc = bt_errf(err, BT_ERANGE, "overflow",
                   "order %llu: fill price or commission exceeds the decimal range",
                   (unsigned long long)id);
      break;
    }
    if (!bt_ledger_can_afford(ledger, o->side, o->qty, fill.price, fill.commission)) {
      reject_cash(ledger, o, fill.price, fill.commission);
      order_done(b, id);
      report(fn, ud, o, NULL);
      continue;
    }
    rc = bt_ledger_apply(ledger, &fill, err);
    if (rc) break;
    o->status = BT_FILLED;
    order_done(b, id);
    report(fn, ud, o, &fill);
  }
  /* Keep what was not reached (error exit) and what callbacks appended. */
  size_t rest = q->len - i;
  memmove(q->ids + w, q->ids + i, rest * sizeof *q->ids);
  q->len = w + rest;
  return rc;
}

const bt_order *bt_broker_order(const bt_broker *b, uint64_t id) {
  slot *s = slot_of(b, id);
  return s ? &s->o : NULL;
}

size_t bt_broker_pending(const bt_broker *b) { return b->pending; }
