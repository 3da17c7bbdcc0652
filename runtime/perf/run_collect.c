#include "run_collect.h"

#include <stdlib.h>
#include <string.h>

#include "grow.h"

/* Lineage is kept for a bounded number of fills, so memory stays flat however long the
 * run: the first FIRST_FILLS fills (the report's first trades) and the latest LAST_FILLS
 * (its last trades and open positions). An order's cause is resolved when it is placed
 * (its SIGNAL was just published), kept for the latest RECENT orders until a fill asks. */
#define FIRST_FILLS 1024
#define LAST_FILLS 4096
#define RECENT 65536 /* orders, and SIGNAL ids */
/* The rings grow on demand up to these sizes: a run with few orders holds little while it
 * waits for its end (a sweep keeps up to 2W such runs). BT_GROW doubles from 16, so a
 * power-of-two size is reached exactly and never passed. */
_Static_assert((LAST_FILLS & (LAST_FILLS - 1)) == 0 && LAST_FILLS >= 16, "LAST_FILLS: a power of two");
_Static_assert((RECENT & (RECENT - 1)) == 0 && RECENT >= 16, "RECENT: a power of two");

typedef struct order_cause { uint64_t order_id, cause_id; bool signal; } order_cause;

struct bt_run_collect {
  int nsym;
  double *first, *last;  /* per symbol: first and latest close (0 = no bar yet) */
  int64_t day;           /* day of the latest bar; INT64_MIN before the first */
  bt_index_point *pts;
  size_t npts, cappts;
  bt_rc_fill head[FIRST_FILLS], *tail; /* tail: a ring of LAST_FILLS */
  uint64_t nfills;                     /* fills seen */
  order_cause *orders;   /* ring of RECENT, in event id order (ids only grow) */
  uint64_t norders;
  uint64_t *signals;     /* ring of RECENT SIGNAL ids, ascending */
  uint64_t nsignals;
  size_t captail, caporders, capsignals; /* allocated so far (<= the ring's size) */
  bool oom; /* a growth failed: no benchmark, no lineage (the report goes without) */
};

/* The index at the end of c->day: the mean over symbols of close / first close (1 for a
 * symbol not yet traded: its share is still cash). */
static void close_day(bt_run_collect *c) {
  double sum = 0;
  for (int i = 0; i < c->nsym; i++) sum += c->first[i] > 0 ? c->last[i] / c->first[i] : 1.0;
  if (BT_GROW(c->pts, c->cappts, c->npts + 1)) {
    c->oom = true;
    return;
  }
  c->pts[c->npts++] = (bt_index_point){c->day, c->nsym ? sum / c->nsym : 1.0};
}

static void on_bar(void *ud, uint64_t id, uint64_t created_at, uint64_t emitted_at, const bt_bar *bar) {
  (void)id, (void)created_at, (void)emitted_at;
  bt_run_collect *c = ud;
  if (bar->symbol >= (uint32_t)c->nsym) return;
  int64_t d = bt_run_series_day(bar->time);
  if (d != c->day && c->day != INT64_MIN) close_day(c);
  c->day = d;
  double px = bt_dec_to_double(bar->close);
  if (c->first[bar->symbol] <= 0 && px > 0) c->first[bar->symbol] = px;
  if (px > 0) c->last[bar->symbol] = px;
}

/* Binary search of a ring of `cap` ascending ids holding the last min(n, cap) of n;
 * returns the ring slot of id, or -1. */
static long ring_find(const void *base, size_t size, uint64_t n, size_t cap, uint64_t id) {
  uint64_t lo = n > cap ? n - cap : 0, hi = n; /* logical positions */
  while (lo < hi) {
    uint64_t mid = lo + (hi - lo) / 2;
    if (*(const uint64_t *)((const char *)base + (mid % cap) * size) < id) lo = mid + 1;
    else hi = mid;
  }
  if (lo < n && *(const uint64_t *)((const char *)base + (lo % cap) * size) == id) return (long)(lo % cap);
  return -1;
}

/* Room for the n-th entry of a ring of `size` elements at *ring: grown while the ring
 * fills for the first time. False when that growth fails (then c->oom). */
static bool ring_room(bt_run_collect *c, void *ring, size_t *cap, uint64_t n, size_t size,
                      size_t elem) {
  if (n >= size || !bt_grow(ring, cap, (size_t)n + 1, elem)) return true;
  c->oom = true;
  return false;
}

static void on_event(void *ud, const bt_event *ev) {
  bt_run_collect *c = ud;
  if (c->oom) return;
  if (ev->type == BT_EV_SIGNAL) {
    if (!ring_room(c, &c->signals, &c->capsignals, c->nsignals, RECENT, sizeof *c->signals)) return;
    c->signals[c->nsignals++ % RECENT] = ev->event_id;
  } else if (ev->type == BT_EV_ORDER) {
    bool sig = ring_find(c->signals, sizeof *c->signals, c->nsignals, RECENT, ev->causation_id) >= 0;
    if (!ring_room(c, &c->orders, &c->caporders, c->norders, RECENT, sizeof *c->orders)) return;
    c->orders[c->norders++ % RECENT] = (order_cause){ev->event_id, ev->causation_id, sig};
  } else if (ev->type == BT_EV_FILL) {
    bt_rc_fill f = {.time = ev->timestamp, .symbol = ev->symbol, .fill_id = ev->event_id,
                    .order_id = ev->causation_id};
    long o = ring_find(c->orders, sizeof *c->orders, c->norders, RECENT, f.order_id);
    if (o >= 0) f.cause_id = c->orders[o].cause_id, f.cause_signal = c->orders[o].signal;
    if (c->nfills < FIRST_FILLS) {
      c->head[c->nfills] = f;
    } else {
      uint64_t k = c->nfills - FIRST_FILLS;
      if (!ring_room(c, &c->tail, &c->captail, k, LAST_FILLS, sizeof *c->tail)) return;
      c->tail[k % LAST_FILLS] = f;
    }
    c->nfills++;
  }
}

bt_run_collect *bt_run_collect_new(int nsymbols) {
  bt_run_collect *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->nsym = nsymbols > 0 ? nsymbols : 0;
  c->first = calloc((size_t)c->nsym + 1, sizeof *c->first);
  c->last = calloc((size_t)c->nsym + 1, sizeof *c->last);
  c->day = INT64_MIN;
  if (!c->first || !c->last) {
    bt_run_collect_free(c);
    return NULL;
  }
  return c;
}

int bt_run_collect_subscribe(bt_run_collect *c, bt_bus *bus, bt_err *err) {
  if (bt_bus_subscribe_bars(bus, on_bar, c) ||
      bt_bus_subscribe(bus, BT_EV_MASK(BT_EV_SIGNAL) | BT_EV_MASK(BT_EV_ORDER) | BT_EV_MASK(BT_EV_FILL),
                       on_event, c))
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "report: too many bus subscribers");
  return 0;
}

void bt_run_collect_finish(bt_run_collect *c) {
  if (c->day != INT64_MIN) close_day(c);
  c->day = INT64_MIN;
}

const bt_index_point *bt_run_collect_bench(const bt_run_collect *c, size_t *n) {
  *n = c->oom ? 0 : c->npts;
  return c->pts;
}

/* the k-th fill kept, in time order: the head, then the tail ring's oldest first */
static const bt_rc_fill *kept(const bt_run_collect *c, uint64_t k) {
  if (k < FIRST_FILLS) return &c->head[k];
  uint64_t ntail = c->nfills - FIRST_FILLS, from = ntail > LAST_FILLS ? ntail - LAST_FILLS : 0;
  return &c->tail[(from + k - FIRST_FILLS) % LAST_FILLS];
}

const bt_rc_fill *bt_run_collect_fill(const bt_run_collect *c, uint32_t symbol, int64_t time,
                                      bool first) {
  if (c->oom) return NULL;
  uint64_t n = c->nfills < FIRST_FILLS + LAST_FILLS ? c->nfills : FIRST_FILLS + LAST_FILLS;
  /* kept fills are in time order: find the first at `time`, then scan that time's fills */
  uint64_t lo = 0, hi = n;
  while (lo < hi) {
    uint64_t mid = (lo + hi) / 2;
    if (kept(c, mid)->time < time) lo = mid + 1;
    else hi = mid;
  }
  const bt_rc_fill *hit = NULL;
  for (uint64_t i = lo; i < n && kept(c, i)->time == time; i++) {
    if (kept(c, i)->symbol != symbol) continue;
    hit = kept(c, i);
    if (first) break;
  }
  return hit;
}

void bt_run_collect_free(bt_run_collect *c) {
  if (!c) return;
  free(c->first);
  free(c->last);
  free(c->pts);
  free(c->tail);
  free(c->orders);
  free(c->signals);
  free(c);
}
