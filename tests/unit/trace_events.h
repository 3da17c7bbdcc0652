/* trace_events.h - shared by the event store's tests: is a stored event the one written? */
#ifndef BT_TEST_TRACE_EVENTS_H
#define BT_TEST_TRACE_EVENTS_H

#include <stdbool.h>
#include <string.h>

#include "bus.h"
#include "store.h"

/* Every field a chunk stores: identity, timings, source, user type and the payload of the
 * event's type (a flat payload compared as bytes). */
static inline bool same_event(const bt_trace_event *a, const bt_trace_event *b) {
  if (a->seq != b->seq || a->type != b->type || a->ts != b->ts || a->cause != b->cause ||
      a->symbol != b->symbol || a->created != b->created || a->emitted != b->emitted ||
      a->received != b->received || a->processed != b->processed ||
      strcmp(a->source ? a->source : "", b->source ? b->source : "") != 0 ||
      strcmp(a->user_type ? a->user_type : "", b->user_type ? b->user_type : "") != 0)
    return false;
  switch (a->type) {
  case BT_EV_BAR:
    return memcmp(&a->p.bar, &b->p.bar, sizeof a->p.bar) == 0;
  case BT_EV_ORDER:
    return a->side == b->side && a->otype == b->otype && a->ostatus == b->ostatus &&
           memcmp(&a->p.order, &b->p.order, sizeof a->p.order) == 0 &&
           strcmp(a->text ? a->text : "", b->text ? b->text : "") == 0;
  case BT_EV_FILL:
    return a->side == b->side && memcmp(&a->p.fill, &b->p.fill, sizeof a->p.fill) == 0;
  default:
    if (a->flat_len != b->flat_len || !a->text != !b->text) return false;
    if (!a->text) return true;
    return a->flat_len ? memcmp(a->text, b->text, a->flat_len) == 0 : strcmp(a->text, b->text) == 0;
  }
}

#endif
