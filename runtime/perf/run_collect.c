#include "run_collect.h"

#include <stdlib.h>
#include <string.h>

typedef struct order_cause { uint64_t order_id, cause_id; } order_cause;

struct bt_run_collect {
  int nsym;
  double *first, *last;  /* per symbol: first and latest close (0 = no bar yet) */
  int64_t day;           /* day of the latest bar; INT64_MIN before the first */
  bt_index_point *pts;
  size_t npts, cappts;
  bt_rc_fill *fills;
  size_t nfills, capfills;
  order_cause *orders;   /* in event id order (ids only grow) */
  size_t norders, caporders;
  uint64_t *signals;     /* SIGNAL ids, ascending */
  size_t nsignals, capsignals;
  bool oom;
};

#define GROW(c, arr, n, cap)                                                    \
  do {                                                                          \
    if ((n) == (cap)) {                                                         \
      size_t nc_ = (cap) ? (cap) * 2 : 256;                                     \
      void *p_ = realloc((arr), nc_ * sizeof *(arr));                           \
      if (!p_) { (c)->oom = true; return; }                                     \
      (arr) = p_, (cap) = nc_;                                                  \
    }                                                                           \
  } while (0)

/* The index at the end of c->day: the mean over symbols of close / first close (1 for a
 * symbol not yet traded: its share is still cash). */
static void close_day(bt_run_collect *c) {
  double sum = 0;
  for (int i = 0; i < c->nsym; i++) sum += c->first[i] > 0 ? c->last[i] / c->first[i] : 1.0;
  GROW(c, c->pts, c->npts, c->cappts);
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

static void on_event(void *ud, const bt_event *ev) {
  bt_run_collect *c = ud;
  if (ev->type == BT_EV_SIGNAL) {
    GROW(c, c->signals, c->nsignals, c->capsignals);
    c->signals[c->nsignals++] = ev->event_id;
  } else if (ev->type == BT_EV_ORDER) {
    GROW(c, c->orders, c->norders, c->caporders);
    c->orders[c->norders++] = (order_cause){ev->event_id, ev->causation_id};
  } else if (ev->type == BT_EV_FILL) {
    GROW(c, c->fills, c->nfills, c->capfills);
    c->fills[c->nfills++] = (bt_rc_fill){.time = ev->timestamp, .symbol = ev->symbol,
                                         .fill_id = ev->event_id, .order_id = ev->causation_id};
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

static bool has_id(const uint64_t *a, size_t n, uint64_t id) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (a[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo < n && a[lo] == id;
}

void bt_run_collect_finish(bt_run_collect *c) {
  if (c->day != INT64_MIN) close_day(c);
  c->day = INT64_MIN;
  /* resolve each fill's order to the order's cause */
  for (size_t i = 0; i < c->nfills; i++) {
    bt_rc_fill *f = &c->fills[i];
    size_t lo = 0, hi = c->norders;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (c->orders[mid].order_id < f->order_id) lo = mid + 1;
      else hi = mid;
    }
    if (lo < c->norders && c->orders[lo].order_id == f->order_id) {
      f->cause_id = c->orders[lo].cause_id;
      f->cause_signal = has_id(c->signals, c->nsignals, f->cause_id);
    }
  }
}

const bt_index_point *bt_run_collect_bench(const bt_run_collect *c, size_t *n) {
  *n = c->oom ? 0 : c->npts;
  return c->pts;
}

const bt_rc_fill *bt_run_collect_fill(const bt_run_collect *c, uint32_t symbol, int64_t time,
                                      bool first) {
  if (c->oom) return NULL;
  /* fills are in time order: find the first at `time`, then scan that time's fills */
  size_t lo = 0, hi = c->nfills;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (c->fills[mid].time < time) lo = mid + 1;
    else hi = mid;
  }
  const bt_rc_fill *hit = NULL;
  for (size_t i = lo; i < c->nfills && c->fills[i].time == time; i++) {
    if (c->fills[i].symbol != symbol) continue;
    hit = &c->fills[i];
    if (first) break;
  }
  return hit;
}

void bt_run_collect_free(bt_run_collect *c) {
  if (!c) return;
  free(c->first);
  free(c->last);
  free(c->pts);
  free(c->fills);
  free(c->orders);
  free(c->signals);
  free(c);
}
