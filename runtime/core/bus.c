#include "bus.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common.h"
#include "log.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define BT_HAVE_TSC 1
#endif

static const char *const type_names[BT_EV__COUNT] = {
    "BAR", "SIGNAL", "ORDER", "FILL", "PORTFOLIO", "RISK_BREACH", "LOG", "USER"};

const char *bt_event_type_name(bt_event_type t) {
  return (unsigned)t < BT_EV__COUNT ? type_names[t] : "UNKNOWN";
}

int bt_event_type_parse(const char *name) {
  for (int i = 0; i < BT_EV__COUNT; i++)
    if (strcasecmp(name, type_names[i]) == 0) return i;
  return -1;
}

/* ---- the bus clock --------------------------------------------------------------
 * The TSC rate is a property of the machine, so the calibration is process-wide:
 * computed once (pthread_once), read-only afterwards, shared by every run and thread. */
static struct {
  int use_tsc;
  uint64_t tsc0, ns0;
  uint64_t mult; /* ns per tick, 32.32 fixed point */
} clk;
static pthread_once_t clk_once = PTHREAD_ONCE_INIT;

#ifdef BT_HAVE_TSC
/* A (tsc, ns) pair read as close together as possible: the ns read sandwiched by two
 * TSC reads, keeping the tightest of a few tries. */
static void clk_pair(uint64_t *tsc, uint64_t *ns) {
  uint64_t best = UINT64_MAX;
  for (int i = 0; i < 5; i++) {
    uint64_t a = __rdtsc(), n = bt_now_ns(), b = __rdtsc();
    if (b - a < best) {
      best = b - a;
      *tsc = a + (b - a) / 2;
      *ns = n;
    }
  }
}
#endif

static void clk_calibrate(void) {
#ifdef BT_HAVE_TSC
  unsigned a, b, c, d;
  /* CPUID 0x80000007 EDX bit 8: invariant TSC (constant rate, synchronised cores). */
  if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8))) return;
  uint64_t t1 = 0, n1 = 0, t2 = 0, n2 = 0;
  clk_pair(&t1, &n1);
  do clk_pair(&t2, &n2);
  while (n2 - n1 < 2000000); /* 2 ms: rate error ~1e-4 */
  if (t2 <= t1) return;
  clk.mult = (uint64_t)(((unsigned __int128)(n2 - n1) << 32) / (t2 - t1));
  clk.tsc0 = t2;
  clk.ns0 = n2;
  clk.use_tsc = clk.mult > 0;
#endif
}

static inline uint64_t clk_now(void) {
#ifdef BT_HAVE_TSC
  if (clk.use_tsc) {
    uint64_t t = __rdtsc();
    if (t >= clk.tsc0)
      return clk.ns0 + (uint64_t)(((unsigned __int128)(t - clk.tsc0) * clk.mult) >> 32);
  }
#endif
  return bt_now_ns();
}

uint64_t bt_bus_clock_ns(void) {
  pthread_once(&clk_once, clk_calibrate);
  return clk_now();
}

/* ---- the bus ------------------------------------------------------------------- */

bt_bus *bt_bus_new(void) {
  pthread_once(&clk_once, clk_calibrate);
  bt_bus *bus = calloc(1, sizeof *bus);
  if (bus) bus->next_id = 1;
  return bus;
}

void bt_bus_free(bt_bus *bus) { free(bus); }

int bt_bus_subscribe(bt_bus *bus, uint32_t mask, bt_bus_handler fn, void *ud) {
  if (bus->nsubs == (int)(sizeof bus->subs / sizeof bus->subs[0])) return BT_ENOMEM;
  mask &= ~BT_EV_MASK(BT_EV_BAR);
  bus->subs[bus->nsubs++] = (struct bt_bus_sub){mask, fn, ud};
  bus->mask |= mask;
  return BT_OK;
}

int bt_bus_subscribe_bars(bt_bus *bus, bt_bus_bar_handler fn, void *ud) {
  if (bus->nbar_subs == (int)(sizeof bus->bar_subs / sizeof bus->bar_subs[0])) return BT_ENOMEM;
  bus->bar_subs[bus->nbar_subs++] = (struct bt_bus_bar_sub){fn, ud};
  bus->mask |= BT_EV_MASK(BT_EV_BAR);
  return BT_OK;
}

static uint64_t publish_bar(bt_bus *bus, uint64_t id, uint64_t created, const bt_bar *bar) {
  int n = bus->nbar_subs;
  if (!n) return id;
  /* A clock read costs ~15 ns under a hypervisor, 4 % of a bar's time in a fast
   * strategy: bars read it every BT_BUS_BAR_CLOCK_EVERY bars and otherwise take the
   * latest reading (which every other event refreshes). */
  if (bus->bar_clock_left == 0) {
    bus->clock = clk_now(); /* bt_bus_new ran the calibration */
    bus->bar_clock_left = BT_BUS_BAR_CLOCK_EVERY;
  }
  bus->bar_clock_left--;
  uint64_t now = bus->clock;
  if (!created) created = now;
  const struct bt_bus_bar_sub *sub = bus->bar_subs;
  do sub->fn(sub->ud, id, created, now, bar);
  while (++sub < bus->bar_subs + n);
  return id;
}

uint64_t bt_bus_publish_bar(bt_bus *bus, const bt_bar *bar) {
  return publish_bar(bus, bus->next_id++, 0, bar);
}

uint64_t bt_bus_publish(bt_bus *bus, bt_event *ev) {
  ev->event_id = bus->next_id++;
  if (!(bus->mask & BT_EV_MASK(ev->type))) return ev->event_id;
  if (ev->type == BT_EV_BAR) {
    bt_bar bar = ev->p.bar ? *ev->p.bar : (bt_bar){0};
    bar.time = ev->timestamp;
    bar.symbol = ev->symbol;
    return publish_bar(bus, ev->event_id, ev->created_at, &bar);
  }
  uint64_t now = bus->clock = clk_now();
  bus->bar_clock_left = BT_BUS_BAR_CLOCK_EVERY;
  if (!ev->created_at) ev->created_at = now;
  ev->emitted_at = now;
  ev->received_at = now;
  ev->processed_at = 0;
  bool first = true;
  for (int i = 0; i < bus->nsubs; i++) {
    if (!(bus->subs[i].mask & BT_EV_MASK(ev->type))) continue;
    if (!first) ev->received_at = clk_now();
    first = false;
    bus->subs[i].fn(bus->subs[i].ud, ev);
  }
  return ev->event_id;
}

uint64_t bt_bus_last_id(const bt_bus *bus) { return bus->next_id - 1; }

/* ---- flat payloads ------------------------------------------------------------- */

bool bt_flat_add(uint8_t buf[BT_FLAT_MAX], size_t *len, bt_flat_type type, const char *key,
                 size_t klen, const void *v, size_t n) {
  size_t vlen = type == BT_FLAT_STR ? 1 + n : type == BT_FLAT_TRUE || type == BT_FLAT_FALSE ? 0 : 8;
  if (klen > 255 || n > 255 || *len + 2 + klen + vlen > BT_FLAT_MAX) return false;
  uint8_t *p = buf + *len;
  p[0] = (uint8_t)type;
  p[1] = (uint8_t)klen;
  memcpy(p + 2, key, klen);
  p += 2 + klen;
  if (type == BT_FLAT_STR) p[0] = (uint8_t)n, memcpy(p + 1, v, n);
  else if (vlen) memcpy(p, v, 8);
  *len += 2 + klen + vlen;
  return true;
}

int bt_flat_fields(const void *p, size_t len, bt_flat_field f[BT_FLAT_MAX_FIELDS]) {
  const uint8_t *s = p, *end = s + len;
  int n = 0;
  while (s < end) {
    if (n == BT_FLAT_MAX_FIELDS || end - s < 2 || end - s - 2 < s[1]) return -1;
    bt_flat_field *x = &f[n++];
    x->type = s[0];
    x->klen = s[1];
    x->key = (const char *)s + 2;
    s += 2 + x->klen;
    size_t left = (size_t)(end - s);
    switch (x->type) {
    case BT_FLAT_INT:
    case BT_FLAT_DBL:
    case BT_FLAT_DEC:
      if (left < 8) return -1;
      memcpy(&x->v, s, 8); /* int64, double and bt_dec share the union's first 8 bytes */
      s += 8;
      break;
    case BT_FLAT_TRUE:
    case BT_FLAT_FALSE: break;
    case BT_FLAT_STR:
      if (left < 1 || left - 1 < s[0]) return -1;
      x->v.str.s = (const char *)s + 1;
      x->v.str.n = s[0];
      s += 1 + s[0];
      break;
    default: return -1;
    }
  }
  return n;
}

int bt_flat_key_cmp(const bt_flat_field *a, const bt_flat_field *b) {
  int c = memcmp(a->key, b->key, a->klen < b->klen ? a->klen : b->klen);
  return c ? c : (a->klen > b->klen) - (a->klen < b->klen);
}

size_t bt_flat_render_json(const void *p, size_t len, bt_json_buf *b) {
  bt_flat_field f[BT_FLAT_MAX_FIELDS];
  int n = bt_flat_fields(p, len, f);
  if (n < 0) return (size_t)-1;
  for (int i = 1; i < n; i++) { /* insertion sort by key (stable): a handful of fields */
    bt_flat_field x = f[i];
    int j = i;
    while (j > 0 && bt_flat_key_cmp(&x, &f[j - 1]) < 0) f[j] = f[j - 1], j--;
    f[j] = x;
  }
  size_t off = b->len;
  bt_json_putc(b, '{');
  for (int i = 0; i < n; i++) {
    if (i) bt_json_putc(b, ',');
    bt_log_json_str(b, f[i].key, f[i].klen);
    bt_json_putc(b, ':');
    if (bt_log_secret_key(f[i].key, f[i].klen)) {
      bt_json_put(b, "\"[REDACTED]\"", 12);
      continue;
    }
    switch (f[i].type) {
    case BT_FLAT_INT: bt_json_int(b, f[i].v.i); break;
    case BT_FLAT_DBL: bt_json_dbl(b, f[i].v.d); break;
    case BT_FLAT_DEC: {
      char txt[BT_DEC_STRLEN];
      bt_log_json_str(b, txt, (size_t)bt_dec_format(f[i].v.dec, txt));
      break;
    }
    case BT_FLAT_TRUE: bt_json_put(b, "true", 4); break;
    case BT_FLAT_FALSE: bt_json_put(b, "false", 5); break;
    default: bt_log_json_str(b, f[i].v.str.s, f[i].v.str.n); break;
    }
  }
  bt_json_putc(b, '}');
  bt_json_put(b, "", 1);
  return off;
}

void bt_flat_text(const bt_flat_field *f, bt_json_buf *b) {
  if (bt_log_secret_key(f->key, f->klen)) {
    BT_JSON_PUTS(b, "[REDACTED]");
    return;
  }
  switch (f->type) {
  case BT_FLAT_INT: bt_json_int(b, f->v.i); break;
  case BT_FLAT_DBL:
    if (isfinite(f->v.d)) bt_json_dbl(b, f->v.d);
    break;
  case BT_FLAT_DEC: {
    char txt[BT_DEC_STRLEN];
    bt_json_put(b, txt, (size_t)bt_dec_format(f->v.dec, txt));
    break;
  }
  case BT_FLAT_TRUE: BT_JSON_PUTS(b, "true"); break;
  case BT_FLAT_FALSE: BT_JSON_PUTS(b, "false"); break;
  default: bt_log_redact_text(b, f->v.str.s, f->v.str.n); break;
  }
}
