/* tracer_sampler.c - which events are stored (trace.bars "sampled", sample_rate), keeping
 * every cause of a kept event. */
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "tracer.h"

#define KEPT_CACHE 65536 /* recently kept seqs, to tell whether an old cause was kept */

struct bt_sampler {
  bt_sampler_out out;
  void *ud;
  bool keep_all;                /* sample_rate 1: no window needed */
  double rate;
  int ctx;
  uint32_t critical;
  bt_trace_bars bars;
  uint64_t rng;
  double activity;
  int after_left;               /* events still to keep after the last critical one */
  uint64_t gaps;
  /* look-back window: a ring of pending events with their keep flags; cap events at
   * most, in mask + 1 slots */
  size_t cap, mask, head, n;
  bt_trace_event *win;
  bool *keep;
  uint64_t *kept_cache;
};

static uint64_t splitmix64(uint64_t *s) {
  uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

int bt_sampler_new(bt_sampler **out, const bt_trace_cfg *cfg, bt_sampler_out fn, void *ud) {
  bt_sampler *s = calloc(1, sizeof *s);
  if (!s) return BT_ENOMEM;
  s->out = fn;
  s->ud = ud;
  s->rate = cfg->sample_rate;
  s->ctx = cfg->context_window;
  s->critical = cfg->critical_mask;
  s->bars = cfg->bars;
  s->rng = cfg->seed;
  s->keep_all = cfg->sample_rate >= 1.0;
  if (!s->keep_all) {
    s->cap = BT_SAMPLER_LOOKBACK + (size_t)cfg->context_window;
    size_t slots = 1;
    while (slots < s->cap) slots <<= 1; /* indexes by mask: no division per event */
    s->mask = slots - 1;
    s->win = calloc(slots, sizeof *s->win);
    s->keep = calloc(slots, sizeof *s->keep);
    s->kept_cache = calloc(KEPT_CACHE, sizeof *s->kept_cache);
    if (!s->win || !s->keep || !s->kept_cache) {
      bt_sampler_free(s);
      return BT_ENOMEM;
    }
  }
  *out = s;
  return 0;
}

static void emit_oldest(bt_sampler *s) {
  size_t i = s->head;
  bool kept = s->keep[i];
  if (kept) s->kept_cache[s->win[i].seq % KEPT_CACHE] = s->win[i].seq;
  s->head = (s->head + 1) & s->mask;
  s->n--;
  s->out(s->ud, &s->win[i], kept);
}

void bt_sampler_push(bt_sampler *s, const bt_trace_event *ev) {
  if (s->keep_all) {
    bt_trace_event e = *ev;
    s->out(s->ud, &e, true);
    return;
  }
  bool crit = (s->critical & BT_EV_MASK(ev->type)) != 0;
  /* bars "all" always keeps BARs; under "none" the run thread only sends the BARs that
   * caused something, which are kept too */
  bool bar_fixed = ev->type == BT_EV_BAR && s->bars != BT_TRACE_BARS_SAMPLED;
  s->activity *= 0.99;
  bool keep;
  if (crit || bar_fixed) {
    keep = true;
  } else if (s->after_left > 0) {
    keep = true;
  } else {
    double p = s->rate * (1.0 + s->activity);
    keep = (double)(splitmix64(&s->rng) >> 11) * 0x1.0p-53 < p;
  }
  if (s->after_left > 0 && !crit) s->after_left--;
  if (crit) {
    s->activity += 1.0;
    s->after_left = s->ctx;
    /* context before: the newest ctx pending events */
    for (size_t k = 0; k < s->n && k < (size_t)s->ctx; k++)
      s->keep[(s->head + s->n - 1 - k) & s->mask] = true;
  }
  if (keep && ev->cause) {
    bool found = false;
    for (size_t k = 0; k < s->n; k++) {
      size_t i = (s->head + s->n - 1 - k) & s->mask;
      if (s->win[i].seq == ev->cause) {
        s->keep[i] = true;
        found = true;
        break;
      }
      if (s->win[i].seq < ev->cause) break;
    }
    if (!found && s->kept_cache[ev->cause % KEPT_CACHE] != ev->cause) s->gaps++;
  }
  if (s->n == s->cap) emit_oldest(s);
  size_t i = (s->head + s->n) & s->mask;
  s->win[i] = *ev;
  s->keep[i] = keep;
  s->n++;
}

void bt_sampler_flush(bt_sampler *s) {
  while (s->n) emit_oldest(s);
}

uint64_t bt_sampler_gaps(const bt_sampler *s) { return s->gaps; }

void bt_sampler_free(bt_sampler *s) {
  if (!s) return;
  free(s->win);
  free(s->keep);
  free(s->kept_cache);
  free(s);
}

