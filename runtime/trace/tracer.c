#define _GNU_SOURCE /* pthread_setname_np */
#include "tracer.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "bus.h"
#include "log.h"

#define CRITICAL_DEFAULT                                                                   \
  (BT_EV_MASK(BT_EV_SIGNAL) | BT_EV_MASK(BT_EV_ORDER) | BT_EV_MASK(BT_EV_FILL) |          \
   BT_EV_MASK(BT_EV_PORTFOLIO) | BT_EV_MASK(BT_EV_RISK_BREACH))

/* ---- config -------------------------------------------------------------------- */

void bt_trace_cfg_defaults(bt_trace_cfg *c, const char *data_dir) {
  memset(c, 0, sizeof *c);
  c->enabled = true;
  snprintf(c->store, sizeof c->store, "%s/events.db", data_dir && *data_dir ? data_dir : ".");
  c->sample_rate = 1.0;
  c->context_window = 5;
  c->critical_mask = CRITICAL_DEFAULT;
  c->bars = BT_TRACE_BARS_ALL;
  c->seed = 1;
  c->ring_size = 65536;
  c->full_policy = BT_TRACE_FULL_BLOCK;
  c->commit_ms = 100;
}

static const char *const bars_names[] = {"all", "sampled", "none"};
static const char *const full_names[] = {"block", "drop"};

static int pick(const char *v, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(v, names[i]) == 0) return i;
  return -1;
}

static int cfg_bad(bt_config *cfg, const char *key, bt_err *err, const char *what) {
  char k[64];
  snprintf(k, sizeof k, "trace.%s", key);
  return bt_errf_at(err, BT_EINVAL, "config_error", cfg->path, 0, k, "%s", what);
}

int bt_trace_cfg_load(bt_config *cfg, bt_trace_cfg *c, bt_err *err) {
  bt_trace_cfg_defaults(c, cfg->data_dir);
  lua_State *L = cfg->L;
  int t = bt_config_section(cfg, "trace");
  if (!t) return 0;
  static const char *const keys[] = {"enabled", "store",     "sample_rate", "context_window",
                                     "critical", "bars",     "seed",        "ring_size",
                                     "full_policy", "commit_ms", NULL};
  char bars[16] = "", full[16] = "";
  double rate = c->sample_rate;
  int64_t ctx = c->context_window, seed = (int64_t)c->seed, ring = c->ring_size,
          commit = c->commit_ms;
  int rc = bt_cfg_check_keys(L, t, "trace", keys, err);
  if (!rc) rc = bt_cfg_bool(L, t, "trace", "enabled", &c->enabled, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "store", c->store, sizeof c->store, err);
  if (!rc) rc = bt_cfg_number(L, t, "trace", "sample_rate", &rate, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "context_window", &ctx, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "bars", bars, sizeof bars, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "seed", &seed, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "ring_size", &ring, err);
  if (!rc) rc = bt_cfg_string(L, t, "trace", "full_policy", full, sizeof full, err);
  if (!rc) rc = bt_cfg_integer(L, t, "trace", "commit_ms", &commit, err);
  if (!rc && !(rate >= 0 && rate <= 1)) rc = cfg_bad(cfg, "sample_rate", err, "must be in 0..1");
  if (!rc && (ctx < 0 || ctx > 10000))
    rc = cfg_bad(cfg, "context_window", err, "must be in 0..10000");
  if (!rc && (ring < 1024 || ring > (1 << 24)))
    rc = cfg_bad(cfg, "ring_size", err, "must be in 1024..16777216");
  if (!rc && (commit < 1 || commit > 60000))
    rc = cfg_bad(cfg, "commit_ms", err, "must be in 1..60000");
  if (!rc && *bars) {
    int b = pick(bars, bars_names, 3);
    if (b < 0) rc = cfg_bad(cfg, "bars", err, "must be \"all\", \"sampled\" or \"none\"");
    else c->bars = (bt_trace_bars)b;
  }
  if (!rc && *full) {
    int f = pick(full, full_names, 2);
    if (f < 0) rc = cfg_bad(cfg, "full_policy", err, "must be \"block\" or \"drop\"");
    else c->full_policy = (bt_trace_full)f;
  }
  if (!rc) {
    int ct = lua_getfield(L, t, "critical");
    if (ct == LUA_TTABLE) {
      c->critical_mask = 0;
      lua_Integer n = luaL_len(L, -1);
      for (lua_Integer i = 1; !rc && i <= n; i++) {
        lua_rawgeti(L, -1, i);
        int ty = lua_type(L, -1) == LUA_TSTRING ? bt_event_type_parse(lua_tostring(L, -1)) : -1;
        if (ty < 0) {
          char k[48];
          snprintf(k, sizeof k, "critical[%lld]", (long long)i);
          rc = cfg_bad(cfg, k, err, "not an event type (SIGNAL, ORDER, FILL, ...)");
        } else {
          c->critical_mask |= BT_EV_MASK(ty);
        }
        lua_pop(L, 1);
      }
    } else if (ct != LUA_TNIL) {
      rc = cfg_bad(cfg, "critical", err, "expected a list of event type names");
    }
    lua_pop(L, 1);
  }
  lua_settop(L, t - 1);
  if (rc) return rc;
  c->sample_rate = rate;
  c->context_window = (int)ctx;
  c->seed = (uint64_t)seed;
  uint32_t r = 1024;
  while (r < (uint32_t)ring) r <<= 1;
  c->ring_size = r;
  c->commit_ms = (int)commit;
  return 0;
}

char *bt_trace_cfg_json(const bt_trace_cfg *c) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "store", c->store);
  cJSON_AddNumberToObject(o, "sample_rate", c->sample_rate);
  cJSON_AddNumberToObject(o, "context_window", c->context_window);
  cJSON *crit = cJSON_AddArrayToObject(o, "critical");
  for (int t = 0; t < BT_EV__COUNT; t++)
    if (c->critical_mask & BT_EV_MASK(t))
      cJSON_AddItemToArray(crit, cJSON_CreateString(bt_event_type_name((bt_event_type)t)));
  cJSON_AddStringToObject(o, "bars", bars_names[c->bars]);
  cJSON_AddNumberToObject(o, "seed", (double)c->seed);
  cJSON_AddNumberToObject(o, "ring_size", c->ring_size);
  cJSON_AddStringToObject(o, "full_policy", full_names[c->full_policy]);
  cJSON_AddNumberToObject(o, "commit_ms", c->commit_ms);
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

/* ---- latency histogram --------------------------------------------------------- */

static int hist_bucket(uint64_t v) {
  if (v < BT_HIST_SUB) return (int)v;
  int e = 63 - __builtin_clzll(v); /* >= 4 */
  return (e - 3) * BT_HIST_SUB + (int)((v >> (e - 4)) & (BT_HIST_SUB - 1));
}

static uint64_t hist_mid(int b) {
  if (b < BT_HIST_SUB) return (uint64_t)b;
  int e = b / BT_HIST_SUB + 3, sub = b % BT_HIST_SUB;
  uint64_t lo = (uint64_t)(BT_HIST_SUB + sub) << (e - 4), width = 1ull << (e - 4);
  return lo + width / 2;
}

void bt_lat_hist_add_n(bt_lat_hist *h, uint64_t v, uint64_t n) {
  h->count += n;
  h->sum += v * n;
  if (v > h->max) h->max = v;
  h->b[hist_bucket(v)] += n;
}

void bt_lat_hist_add(bt_lat_hist *h, uint64_t v) { bt_lat_hist_add_n(h, v, 1); }

uint64_t bt_lat_hist_quantile(const bt_lat_hist *h, double q) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
  if (rank < 1) rank = 1;
  uint64_t acc = 0;
  for (int b = 0; b < BT_HIST_BUCKETS; b++) {
    acc += h->b[b];
    if (acc >= rank) {
      uint64_t m = hist_mid(b);
      return m > h->max ? h->max : m;
    }
  }
  return h->max;
}

/* ---- sampler ------------------------------------------------------------------- */

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

/* ---- tracer -------------------------------------------------------------------- */

#define MAX_SOURCES 64
#define CACHE_LINE 64
#define RING_BYTES_PER_EVENT 128 /* trace.ring_size counts events of this size */
#define INLINE_MAX 4096          /* longer JSON payloads travel as a heap copy */
#define LAG_BYTES (256 * 1024)   /* how far the writer stays behind the producer */
#define SRC_CACHE 8              /* source pointers remembered per run */
#define DROP_MEMORY 1024         /* dropped seqs remembered for lineage gaps */
#define CLOCK_EVERY 64           /* events between the writer's clock reads (~2 us) */

/* The ring is a byte ring of records, 8-byte aligned, that never wrap: a record that
 * would cross the end is preceded by REC_WRAP and starts over at offset 0. The first
 * byte is the kind. Bars are almost every event of a run, so a bar is the bt_bar as the
 * feed made it plus its id and time: a few stores, no conversion on the run thread (a
 * delta-encoded 40-byte form was tried: its range checks cost the run thread more than
 * the bytes it saved, once the writer stays clear of the lines being written). */
enum { REC_WRAP = 0, REC_BAR, REC_EVENT };

typedef struct rec_bar {
  uint8_t kind, pad[7];
  uint64_t seq;
  uint64_t created, emitted;
  bt_bar bar;
} rec_bar;

enum { PAY_NONE, PAY_FLAT, PAY_JSON };
typedef struct rec_event {
  uint8_t kind, pay;            /* PAY_*: how the payload bytes after the record read */
  uint16_t pay_len;
  uint32_t size;                /* of the whole record, payload and padding included */
  bt_trace_event ev;            /* text: NULL when the payload is inline, else heap */
} rec_event;

/* State of one traced run. The run thread owns the producer side, the writer thread
 * the consumer side; they share only the ring offsets and the stop flag. */
typedef struct trace_run {
  struct bt_tracer *t;
  const bt_run_info *info;
  struct trace_run *next;
  bt_store *store;
  int64_t run_no;
  uint64_t origin;              /* clock origin: timings are stored relative to it */
  uint8_t *ring;
  size_t cap;                   /* bytes, a power of two */
  /* producer */
  _Alignas(CACHE_LINE) size_t head_local, tail_cache;
  uint64_t dropped, blocked_waits, blocked_ns;
  /* full_policy "drop": the latest dropped seqs, to count the kept events whose cause
   * was dropped (the sampler counts them itself when it samples) */
  uint64_t dropped_seq[DROP_MEMORY], drop_gaps;
  bool bars_critical;
  rec_bar stash;                /* bars "none": the latest BAR, pushed if it causes something */
  bool stash_full;
  const char *src_ptr[SRC_CACHE], *src_name[SRC_CACHE], *src_feed;
  int nsrc_seen;
  /* shared: byte offsets that count up forever */
  _Alignas(CACHE_LINE) _Atomic size_t head;
  _Alignas(CACHE_LINE) _Atomic size_t tail;
  _Atomic bool stop;
  /* Sleeping and waking: the writer naps on `wake` when the ring is empty (the producer,
   * looking every wake_every bytes, signals it once the ring is a quarter full); the
   * producer waits on `space` when the ring is full (the writer signals after each batch
   * while it waits). Naps are short (1 ms), so a signal is only a shortcut. */
  _Atomic bool writer_napping, producer_waiting, ckpt_napping;
  pthread_mutex_t mu;
  pthread_cond_t wake, space, ckpt_wake;
  size_t wake_every;
  /* writer */
  _Alignas(CACHE_LINE) pthread_t thread;
  bool thread_started;
  /* checkpointer: its own connection copies the WAL into the database file every
   * CKPT_MS, so the writer never stalls on a checkpoint's copy and fsync */
  bt_store *ckpt_store;
  pthread_t ckpt_thread;
  bool ckpt_started;
  _Atomic bool ckpt_stop;
  bt_sampler *sampler;
  bt_trace_event chunk[2][BT_STORE_CHUNK]; /* stream 0: BARs, 1: other events */
  size_t nchunk[2];
  bool in_tx;
  uint64_t stored, sampled_out;
  int write_failed;
  bt_err werr;
  bt_lat_hist lat[BT_EV__COUNT], queue[BT_EV__COUNT];
  /* Consecutive events of one type with the same latency and queue time (bars that
   * share a clock reading and a batch) go into the histograms at once. */
  struct { int type; uint64_t lat, queue, n; } same;
  uint64_t now;                 /* the writer's clock, refreshed every CLOCK_EVERY events */
} trace_run;

struct bt_tracer {
  bt_trace_cfg cfg;
  char *cfg_json;
  trace_run *runs;
  /* interned source names (the run thread adds, the writer reads through the ring) */
  char *sources[MAX_SOURCES];
  int nsources;
};

static const char *intern_source(bt_tracer *t, trace_run *r, const char *src) {
  if (!src) return NULL;
  /* Publishers pass string literals, a handful of them taking turns (strategy, broker,
   * ledger): remembering the pointers makes the common case a few compares. */
  for (int i = 0; i < r->nsrc_seen; i++)
    if (r->src_ptr[i] == src) return r->src_name[i];
  const char *found = NULL;
  for (int i = 0; i < t->nsources && !found; i++)
    if (strcmp(t->sources[i], src) == 0) found = t->sources[i];
  if (!found && t->nsources < MAX_SOURCES && (t->sources[t->nsources] = strdup(src)))
    found = t->sources[t->nsources++];
  if (!found) found = "other";
  if (r->nsrc_seen < SRC_CACHE) {
    r->src_ptr[r->nsrc_seen] = src;
    r->src_name[r->nsrc_seen++] = found;
  }
  return found;
}

/* The ring's memory, mapped in at once: faulting its pages in one by one as the run
 * first writes them costs ~15 us each under a hypervisor (~65 ms for 16 MB, on the run
 * thread) against ~5 ms for populating the mapping. */
static void *ring_alloc(size_t n) {
#ifdef MAP_POPULATE
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
#else
  void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#endif
  return p == MAP_FAILED ? NULL : p;
}

static void ring_free(void *p, size_t n) {
  if (p) munmap(p, n);
}

/* Wait on cv for at most `us` microseconds (the caller rechecks its condition). */
static void nap(trace_run *r, pthread_cond_t *cv, _Atomic bool *flag, long us) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  ts.tv_nsec += us * 1000;
  ts.tv_sec += ts.tv_nsec / 1000000000;
  ts.tv_nsec %= 1000000000;
  pthread_mutex_lock(&r->mu);
  atomic_store(flag, true);
  pthread_cond_timedwait(cv, &r->mu, &ts);
  atomic_store(flag, false);
  pthread_mutex_unlock(&r->mu);
}

static void signal_cv(trace_run *r, pthread_cond_t *cv) {
  pthread_mutex_lock(&r->mu);
  pthread_cond_signal(cv);
  pthread_mutex_unlock(&r->mu);
}

/* ring_reserve when the record does not fit before the end of the ring or the ring
 * looks full: wraps, waits for space, or drops. */
static __attribute__((noinline)) void *ring_reserve_slow(trace_run *r, size_t size, bool must_keep) {
  size_t h = r->head_local, pos = h & (r->cap - 1);
  size_t need = pos + size > r->cap ? r->cap - pos + size : size;
  if (h + need - r->tail_cache > r->cap) {
    r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (h + need - r->tail_cache > r->cap) {
      if (!must_keep && r->t->cfg.full_policy == BT_TRACE_FULL_DROP) {
        r->dropped++;
        return NULL;
      }
      r->blocked_waits++;
      uint64_t t0 = bt_bus_clock_ns();
      while (h + need - (r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire)) >
             r->cap) {
        if (atomic_load_explicit(&r->writer_napping, memory_order_relaxed))
          signal_cv(r, &r->wake);
        nap(r, &r->space, &r->producer_waiting, 1000);
      }
      r->blocked_ns += bt_bus_clock_ns() - t0;
    }
  }
  if (need != size) { /* wrap: the writer skips to offset 0 */
    r->ring[pos] = REC_WRAP;
    r->head_local = h + (r->cap - pos);
    pos = 0;
  }
  return r->ring + pos;
}

/* Room for a record of `size` bytes (a multiple of 8, at most cap / 4), or NULL when the
 * ring is full and the event may be dropped. */
static inline void *ring_reserve(trace_run *r, size_t size, bool must_keep) {
  size_t h = r->head_local, pos = h & (r->cap - 1);
  if (__builtin_expect(pos + size <= r->cap && h + size - r->tail_cache <= r->cap, 1))
    return r->ring + pos;
  return ring_reserve_slow(r, size, must_keep);
}

static __attribute__((noinline)) void wake_writer(trace_run *r) {
  if (atomic_load_explicit(&r->writer_napping, memory_order_relaxed) &&
      r->head_local - atomic_load_explicit(&r->tail, memory_order_relaxed) > r->cap / 4)
    signal_cv(r, &r->wake);
}

static inline void ring_commit(trace_run *r, size_t size) {
  size_t h = r->head_local += size;
  atomic_store_explicit(&r->head, h, memory_order_release);
  /* The writer naps at most 1 ms when it finds the ring empty; a wake-up (a syscall) is
   * only worth it when the ring is filling up faster than that: look once per
   * wake_every bytes. */
  if (((h - size) ^ h) >= r->wake_every) wake_writer(r);
}

static inline void fill_bar(trace_run *r, rec_bar *b, uint64_t id, uint64_t created,
                            uint64_t emitted, const bt_bar *bar) {
  b->kind = REC_BAR;
  b->seq = id;
  b->created = created;
  b->emitted = emitted;
  b->bar = *bar;
  ring_commit(r, sizeof *b);
}

static void note_drop(trace_run *r, uint64_t seq) {
  r->dropped_seq[seq & (DROP_MEMORY - 1)] = seq;
}

static __attribute__((noinline)) void put_bar_slow(trace_run *r, uint64_t id, uint64_t created,
                                                   uint64_t emitted, const bt_bar *bar) {
  rec_bar *b = ring_reserve_slow(r, sizeof *b, r->bars_critical);
  if (b) fill_bar(r, b, id, created, emitted, bar);
  else note_drop(r, id);
}

/* The bus's bar handler (bars "all" and "sampled"): runs on the run thread for every
 * bar. Also called with a stashed bar under bars "none". The common case calls nothing
 * (it is most of the tracer's cost on the run thread). */
static void put_bar(void *ud, uint64_t id, uint64_t created, uint64_t emitted,
                    const bt_bar *bar) {
  trace_run *r = ud;
  size_t h = r->head_local, pos = h & (r->cap - 1);
  if (__builtin_expect(pos + sizeof(rec_bar) > r->cap ||
                           h + sizeof(rec_bar) - r->tail_cache > r->cap, 0)) {
    put_bar_slow(r, id, created, emitted, bar);
    return;
  }
  fill_bar(r, (rec_bar *)(r->ring + pos), id, created, emitted, bar);
}

/* bars "none" keeps only the BARs that caused something: the latest waits here. */
static void stash_bar(void *ud, uint64_t id, uint64_t created, uint64_t emitted,
                      const bt_bar *bar) {
  trace_run *r = ud;
  r->stash = (rec_bar){.kind = REC_BAR, .seq = id, .created = created, .emitted = emitted,
                       .bar = *bar};
  r->stash_full = true;
}

/* The bus handler for every other event: runs on the run thread; copies, never formats. */
static void on_event(void *ud, const bt_event *ev) {
  trace_run *r = ud;
  if (r->stash_full && ev->causation_id == r->stash.seq) {
    /* the start of a critical event's lineage waits like the event itself */
    bool keep = r->bars_critical || (r->t->cfg.critical_mask & BT_EV_MASK(ev->type));
    rec_bar *b = ring_reserve(r, sizeof *b, keep);
    if (b) { /* else a later critical child may still bring it */
      fill_bar(r, b, r->stash.seq, r->stash.created, r->stash.emitted, &r->stash.bar);
      r->stash_full = false;
    }
  }
  /* the payload first: it decides the record's size */
  const void *pay = NULL;
  size_t pay_len = 0;
  int pay_kind = PAY_NONE;
  char *text = NULL, *user_type = NULL;
  if (ev->type == BT_EV_ORDER) {
    if (ev->p.order && ev->p.order->status == BT_REJECTED && ev->p.order->reject_reason[0])
      text = strdup(ev->p.order->reject_reason);
  } else if (ev->type != BT_EV_FILL) {
    if (ev->data_flat && ev->data_flat_len <= BT_FLAT_MAX) {
      pay = ev->data_flat, pay_len = ev->data_flat_len, pay_kind = PAY_FLAT;
    } else if (ev->data_flat) { /* longer than bus.h allows: kept, as its JSON text */
      bt_log_buf b = {0};
      size_t off = bt_flat_render_json(ev->data_flat, ev->data_flat_len, &b);
      text = off == (size_t)-1 || b.failed ? NULL : strdup(b.data + off);
      bt_log_buf_free(&b);
    } else if (ev->data_json) {
      size_t n = strnlen(ev->data_json, INLINE_MAX);
      if (n < INLINE_MAX) pay = ev->data_json, pay_len = n, pay_kind = PAY_JSON;
      else text = strdup(ev->data_json);
    }
    if (ev->type == BT_EV_USER && ev->user_type) user_type = strdup(ev->user_type);
  }
  size_t size = (sizeof(rec_event) + pay_len + 7) & ~(size_t)7;
  rec_event *rec =
      ring_reserve(r, size, (r->t->cfg.critical_mask & BT_EV_MASK(ev->type)) != 0);
  if (!rec) {
    note_drop(r, ev->event_id);
    free(text);
    free(user_type);
    return;
  }
  uint64_t cause = ev->causation_id;
  if (r->dropped && cause && r->dropped_seq[cause & (DROP_MEMORY - 1)] == cause) r->drop_gaps++;
  rec->kind = REC_EVENT;
  rec->pay = (uint8_t)pay_kind;
  rec->pay_len = (uint16_t)pay_len;
  rec->size = (uint32_t)size;
  /* written in place: the writer reads only the fields of the event's type */
  bt_trace_event *e = &rec->ev;
  e->seq = ev->event_id;
  e->cause = ev->causation_id;
  e->ts = ev->timestamp;
  e->created = ev->created_at;
  e->emitted = ev->emitted_at;
  e->symbol = ev->symbol;
  e->type = (uint8_t)ev->type;
  e->source = intern_source(r->t, r, ev->source);
  e->text = text;
  e->user_type = user_type;
  if (ev->type == BT_EV_ORDER) {
    const bt_order *o = ev->p.order;
    static const bt_order none;
    if (!o) o = &none;
    e->side = o->side == BT_SELL;
    e->otype = (uint8_t)o->type;
    e->ostatus = (uint8_t)o->status;
    e->p.order.order_id = o->id;
    e->p.order.qty = o->qty.v;
    e->p.order.limit = o->limit.v;
    e->p.order.stop = o->stop.v;
  } else if (ev->type == BT_EV_FILL) {
    const bt_fill *f = ev->p.fill.fill;
    static const bt_fill none;
    if (!f) f = &none;
    e->side = f->side == BT_SELL;
    e->p.fill.order_id = f->order_id;
    e->p.fill.qty = f->qty.v;
    e->p.fill.price = f->price.v;
    e->p.fill.commission = f->commission.v;
  }
  if (pay_len) memcpy(rec + 1, pay, pay_len);
  ring_commit(r, size);
}

/* ---- writer thread ---- */

static void write_fail(trace_run *r, bt_err *err) {
  if (!r->write_failed) {
    r->werr = *err;
    r->werr.traceback = NULL;
    bt_log("trace", BT_LOG_ERROR, "trace_store_error", BT_F_STR("error", err->msg),
           BT_F_STR("store", r->t->cfg.store));
  }
  r->write_failed = 1;
  bt_err_clear(err);
}

static void ensure_tx(trace_run *r) {
  bt_err err = {0};
  if (!r->in_tx && !r->write_failed) {
    if (bt_store_begin(r->store, &err)) write_fail(r, &err);
    else r->in_tx = true;
  }
}

static void flush_chunk(trace_run *r, int stream) {
  size_t n = r->nchunk[stream];
  if (!n) return;
  ensure_tx(r);
  bt_err err = {0};
  if (!r->write_failed && bt_store_put_chunk(r->store, r->run_no, stream, r->chunk[stream], n, &err))
    write_fail(r, &err);
  for (size_t i = 0; i < n; i++) {
    free(r->chunk[stream][i].text);
    free(r->chunk[stream][i].user_type);
  }
  r->nchunk[stream] = 0;
}

static void commit(trace_run *r) {
  flush_chunk(r, 0);
  flush_chunk(r, 1);
  bt_err err = {0};
  if (r->in_tx && !r->write_failed && bt_store_commit(r->store, &err)) write_fail(r, &err);
  r->in_tx = false;
}

/* Sampler output: the end of the event's life in the tracer. */
/* The end of an event's life in the tracer: processed_at, the latency histograms, and
 * (when kept) its timings made relative to the run's clock origin, as stored. */
static void hist_flush(trace_run *r) {
  if (!r->same.n) return;
  bt_lat_hist_add_n(&r->lat[r->same.type], r->same.lat, r->same.n);
  bt_lat_hist_add_n(&r->queue[r->same.type], r->same.queue, r->same.n);
  r->same.n = 0;
}

static inline void finish_event(trace_run *r, bt_trace_event *e, bool kept) {
  e->processed = r->now;
  uint64_t created = e->created ? e->created : e->emitted;
  if (e->type < BT_EV__COUNT) {
    uint64_t lat = e->processed > created ? e->processed - created : 0;
    uint64_t queue = e->received > e->emitted ? e->received - e->emitted : 0;
    if (r->same.n && r->same.type == e->type && r->same.lat == lat && r->same.queue == queue) {
      r->same.n++;
    } else {
      hist_flush(r);
      r->same.type = e->type;
      r->same.lat = lat;
      r->same.queue = queue;
      r->same.n = 1;
    }
  }
  if (!kept) return;
  e->created = created - r->origin;
  e->emitted -= r->origin;
  e->received -= r->origin;
  e->processed -= r->origin;
}

static inline void chunk_added(trace_run *r, int stream) {
  r->stored++;
  if (++r->nchunk[stream] == BT_STORE_CHUNK) flush_chunk(r, stream);
}

/* Sampler output. */
static void on_sampled(void *ud, bt_trace_event *e, bool kept) {
  trace_run *r = ud;
  finish_event(r, e, kept);
  if (!kept) {
    r->sampled_out++;
    free(e->text);
    free(e->user_type);
    return;
  }
  int stream = e->type != BT_EV_BAR;
  r->chunk[stream][r->nchunk[stream]] = *e;
  chunk_added(r, stream);
}

#define CKPT_MS 250

static void *ckpt_main(void *arg) {
  pthread_setname_np(pthread_self(), "bt-trace-ckpt");
  trace_run *r = arg;
  /* its own connection, opened here: off the run thread's start-up */
  bt_err err = {0};
  if (bt_store_open(&r->ckpt_store, r->t->cfg.store, &err)) {
    /* the WAL then grows until a later run's checkpointer or `btrun events prune` */
    bt_log("trace", BT_LOG_WARNING, "trace_checkpoint_failed", BT_F_STR("error", err.msg));
    bt_err_clear(&err);
    return NULL;
  }
  while (!atomic_load_explicit(&r->ckpt_stop, memory_order_acquire)) {
    nap(r, &r->ckpt_wake, &r->ckpt_napping, CKPT_MS * 1000);
    bt_err err = {0};
    if (bt_store_checkpoint(r->ckpt_store, &err)) {
      bt_log("trace", BT_LOG_WARNING, "trace_checkpoint_failed", BT_F_STR("error", err.msg));
      bt_err_clear(&err);
    }
  }
  return NULL;
}

/* The record at p as an event (strings on the heap); its size in *size. */
static void read_record(trace_run *r, const uint8_t *p, bt_trace_event *e, size_t *size) {
  if (p[0] == REC_BAR) {
    const rec_bar *b = (const rec_bar *)p;
    *e = (bt_trace_event){.seq = b->seq, .ts = b->bar.time, .created = b->created,
                          .emitted = b->emitted, .symbol = b->bar.symbol, .type = BT_EV_BAR,
                          .source = r->src_feed,
                          .p.bar = {b->bar.open.v, b->bar.high.v, b->bar.low.v,
                                    b->bar.close.v, b->bar.volume}};
    *size = sizeof *b;
    return;
  }
  const rec_event *rec = (const rec_event *)p; /* REC_EVENT */
  *e = rec->ev;
  e->flat_len = 0;
  *size = rec->size;
  if (rec->pay == PAY_JSON) {
    e->text = strndup((const char *)(rec + 1), rec->pay_len);
  } else if (rec->pay == PAY_FLAT && rec->pay_len && (e->text = malloc(rec->pay_len))) {
    /* stored as is: the store renders its JSON when it is read */
    memcpy(e->text, rec + 1, rec->pay_len);
    e->flat_len = rec->pay_len;
  }
}

static void *writer_main(void *arg) {
  pthread_setname_np(pthread_self(), "bt-trace-writer");
  trace_run *r = arg;
  uint64_t commit_ns = (uint64_t)r->t->cfg.commit_ms * 1000000ull;
  uint64_t last_commit = bt_bus_clock_ns();
  size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
  size_t lag = r->cap / 16 < LAG_BYTES ? r->cap / 16 : LAG_BYTES;
  uint64_t short_since = 0;     /* since when the backlog has been shorter than `lag` */
  uint64_t taken = 0;
  /* sample_rate 1 keeps every event the ring brings (bars "none" already left out the
   * bars that caused nothing): no look-back window needed */
  bool keep_all = r->t->cfg.sample_rate >= 1.0;
  for (;;) {
    bool stopping = atomic_load_explicit(&r->stop, memory_order_acquire);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    /* Reading records just behind the producer would bounce each cache line between
     * the two cores while the run thread is still writing next to it (~4x the cost of
     * the run thread's own work per event, measured). So the writer stays `lag` bytes
     * behind, and takes a short backlog only once it has waited for half a commit
     * interval (a run that publishes slowly still has its events committed). */
    if (head - tail < lag && !stopping) {
      uint64_t now = bt_bus_clock_ns();
      if (!short_since) short_since = now;
      if (head == tail || now - short_since < commit_ns / 2) {
        if ((r->in_tx || r->nchunk[0] || r->nchunk[1]) && now - last_commit >= commit_ns) {
          commit(r);
          last_commit = now;
        }
        nap(r, &r->wake, &r->writer_napping, 1000);
        continue;
      }
    }
    short_since = 0;
    if (head == tail) break; /* stopping, and everything taken */
    /* received_at: when this batch was taken off the ring */
    uint64_t received = r->now = bt_bus_clock_ns();
    size_t end = head - tail > r->cap / 8 ? tail + r->cap / 8 : head;
    while (tail < end) {
      const uint8_t *p = r->ring + (tail & (r->cap - 1));
      if (p[0] == REC_WRAP) {
        tail += r->cap - (tail & (r->cap - 1));
        continue;
      }
      /* processed_at: the clock is read every CLOCK_EVERY events, not per event */
      if ((++taken & (CLOCK_EVERY - 1)) == 0) r->now = bt_bus_clock_ns();
      /* decoded out of the ring (writing into it would pull its cache lines away from
       * the run thread, which writes them again one lap later): when every event is
       * kept, straight into its chunk */
      size_t size;
      if (keep_all) {
        int stream = p[0] != REC_BAR;
        bt_trace_event *e = &r->chunk[stream][r->nchunk[stream]];
        read_record(r, p, e, &size);
        e->received = received;
        finish_event(r, e, true);
        chunk_added(r, stream);
      } else {
        bt_trace_event e;
        read_record(r, p, &e, &size);
        e.received = received;
        bt_sampler_push(r->sampler, &e);
      }
      tail += size;
    }
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    if (atomic_load_explicit(&r->producer_waiting, memory_order_relaxed))
      signal_cv(r, &r->space);
    uint64_t now = bt_bus_clock_ns();
    if (now - last_commit >= commit_ns) {
      commit(r);
      last_commit = now;
    }
  }
  r->now = bt_bus_clock_ns();
  bt_sampler_flush(r->sampler);
  hist_flush(r);
  commit(r);
  return NULL;
}

/* ---- observer ---- */

/* Stop the writer (it drains the ring and commits), then the checkpointer. */
static void stop_threads(trace_run *r) {
  if (r->thread_started) {
    atomic_store_explicit(&r->stop, true, memory_order_release);
    signal_cv(r, &r->wake);
    pthread_join(r->thread, NULL);
    r->thread_started = false;
  }
  if (r->ckpt_started) {
    atomic_store_explicit(&r->ckpt_stop, true, memory_order_release);
    signal_cv(r, &r->ckpt_wake);
    pthread_join(r->ckpt_thread, NULL);
    r->ckpt_started = false;
  }
}

static void run_free(trace_run *r) {
  if (!r) return;
  pthread_mutex_destroy(&r->mu);
  pthread_cond_destroy(&r->wake);
  pthread_cond_destroy(&r->space);
  pthread_cond_destroy(&r->ckpt_wake);
  bt_store_close(r->ckpt_store);
  bt_sampler_free(r->sampler);
  bt_store_close(r->store);
  ring_free(r->ring, r->cap);
  free(r);
}

static int tr_on_start(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err) {
  bt_tracer *t = ud;
  trace_run *r = aligned_alloc(CACHE_LINE, (sizeof *r + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE);
  if (!r) return bt_errf(err, BT_ENOMEM, "error", "out of memory");
  memset(r, 0, sizeof *r);
  r->t = t;
  r->info = info;
  r->cap = (size_t)t->cfg.ring_size * RING_BYTES_PER_EVENT;
  r->wake_every = r->cap / 16;
  r->src_feed = intern_source(t, r, "feed");
  r->bars_critical = (t->cfg.critical_mask & BT_EV_MASK(BT_EV_BAR)) != 0;
  pthread_mutex_init(&r->mu, NULL);
  pthread_cond_init(&r->wake, NULL);
  pthread_cond_init(&r->space, NULL);
  pthread_cond_init(&r->ckpt_wake, NULL);
  r->ring = ring_alloc(r->cap);
  int rc = r->ring ? 0 : bt_errf(err, BT_ENOMEM, "error", "out of memory");
  if (!rc && bt_sampler_new(&r->sampler, &t->cfg, on_sampled, r))
    rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
  if (!rc) rc = bt_store_open(&r->store, t->cfg.store, err);
  r->origin = bt_bus_clock_ns();
  if (!rc) rc = bt_store_run_begin(r->store, info, t->cfg_json, r->origin, &r->run_no, err);
  if (!rc && (bt_bus_subscribe(bus, BT_EV_MASK_ALL, on_event, r) ||
              bt_bus_subscribe_bars(bus, t->cfg.bars == BT_TRACE_BARS_NONE ? stash_bar : put_bar,
                                    r)))
    rc = bt_errf(err, BT_ENOMEM, "error", "trace: too many bus subscribers");
  if (!rc) {
    /* The writer must not take the process's SIGINT/SIGTERM: the run thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* The checkpointer first: the writer's connection is told to leave checkpoints to it
     * before the writer thread owns that connection. Without a checkpointer the writer
     * checkpoints itself (SQLite's default). */
    if (pthread_create(&r->ckpt_thread, NULL, ckpt_main, r) == 0) {
      r->ckpt_started = true;
      bt_store_no_autocheckpoint(r->store);
    }
    if (pthread_create(&r->thread, NULL, writer_main, r))
      rc = bt_errf(err, BT_EIO, "error", "trace: cannot start the writer thread");
    else r->thread_started = true;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
  }
  /* Kept even on failure: the run calls on_end for every run it started, which frees it. */
  r->next = t->runs;
  t->runs = r;
  return rc;
}

static void add_latency(trace_run *r, bt_err *err) {
  for (int ty = 0; ty < BT_EV__COUNT; ty++) {
    for (int m = 0; m < 2; m++) {
      const bt_lat_hist *h = m ? &r->queue[ty] : &r->lat[ty];
      if (!h->count) continue;
      bt_store_latency l = {.count = h->count, .mean_ns = (double)h->sum / (double)h->count,
                            .p50_ns = bt_lat_hist_quantile(h, 0.5),
                            .p95_ns = bt_lat_hist_quantile(h, 0.95), .max_ns = h->max};
      snprintf(l.type, sizeof l.type, "%s", bt_event_type_name((bt_event_type)ty));
      snprintf(l.metric, sizeof l.metric, "%s", m ? "queue_time" : "latency");
      if (bt_store_put_latency(r->store, r->run_no, &l, err)) return;
    }
  }
}

static void tr_on_end(void *ud, const bt_run_info *info, const bt_run_outcome *out) {
  bt_tracer *t = ud;
  trace_run **pp = &t->runs;
  while (*pp && (*pp)->info != info) pp = &(*pp)->next;
  trace_run *r = *pp;
  if (!r) return;
  *pp = r->next;
  uint64_t t0 = bt_now_ns();
  stop_threads(r);
  uint64_t drain_ns = bt_now_ns() - t0;
  if (r->store && r->run_no) {
    bt_err err = {0};
    bt_store_run_end end = {
        .status = out->status == BT_RUN_COMPLETED                              ? "completed"
                  : out->error && strcmp(out->error->type, "interrupted") == 0 ? "interrupted"
                                                                               : "failed",
        .completed_at = bt_wall_ms(), .duration_ms = out->duration_ms,
        .metrics_json = out->metrics_json,
        .error = out->error ? out->error->msg : (r->write_failed ? r->werr.msg : NULL),
        .bars = out->bars, .event_count = out->events, .stored = r->stored,
        .sampled_out = r->sampled_out, .dropped = r->dropped,
        .lineage_gaps = bt_sampler_gaps(r->sampler) +
                        (t->cfg.sample_rate >= 1.0 ? r->drop_gaps : 0)};
    int rc = bt_store_begin(r->store, &err);
    if (!rc) add_latency(r, &err);
    if (!err.code) bt_store_run_finish(r->store, r->run_no, &end, &err);
    if (!rc) rc = err.code ? (bt_store_commit(r->store, NULL), err.code) : bt_store_commit(r->store, &err);
    if (err.code)
      bt_log("trace", BT_LOG_ERROR, "trace_store_error", BT_F_STR("error", err.msg),
             BT_F_STR("store", t->cfg.store));
    bt_err_clear(&err);
    /* ring_full_waits: how often the run thread waited for the writer (backpressure) */
    bt_log("trace", BT_LOG_DEBUG, "trace_run_stored", BT_F_INT("events", out->events),
           BT_F_INT("stored", r->stored), BT_F_INT("sampled_out", r->sampled_out),
           BT_F_INT("dropped", r->dropped), BT_F_INT("ring_full_waits", r->blocked_waits),
           BT_F_INT("ring_full_wait_ms", r->blocked_ns / 1000000),
           BT_F_INT("final_drain_ms", drain_ns / 1000000));
    if (r->dropped)
      bt_log("trace", BT_LOG_WARNING, "trace_events_dropped", BT_F_INT("dropped", r->dropped),
             BT_F_INT("ring_size", t->cfg.ring_size),
             BT_F_STR("hint", "raise trace.ring_size or use trace.full_policy = \"block\""));
  }
  run_free(r);
}

static void tr_on_close(void *ud) {
  bt_tracer *t = ud;
  while (t->runs) { /* runs that never ended (should not happen): stop their writers */
    trace_run *r = t->runs;
    t->runs = r->next;
    stop_threads(r);
    run_free(r);
  }
  for (int i = 0; i < t->nsources; i++) free(t->sources[i]);
  free(t->cfg_json);
  free(t);
}

int bt_tracer_new(bt_tracer **out, const bt_trace_cfg *cfg, bt_err *err) {
  bt_tracer *t = calloc(1, sizeof *t);
  if (!t || !(t->cfg_json = bt_trace_cfg_json(cfg))) {
    free(t);
    return bt_errf(err, BT_ENOMEM, "error", "out of memory");
  }
  t->cfg = *cfg;
  *out = t;
  return 0;
}

bt_run_observer bt_tracer_observer(bt_tracer *t) {
  return (bt_run_observer){.name = "trace", .ud = t, .on_start = tr_on_start,
                           .on_end = tr_on_end, .on_close = tr_on_close};
}

int bt_trace_register(bt_app *app, bt_err *err) {
  bt_trace_cfg cfg;
  if (bt_trace_cfg_load(&app->cfg, &cfg, err)) return err->code;
  if (!cfg.enabled) return 0;
  bt_tracer *t;
  if (bt_tracer_new(&t, &cfg, err)) return err->code;
  bt_run_observer obs = bt_tracer_observer(t);
  if (bt_app_add_observer(app, &obs)) {
    tr_on_close(t);
    return bt_errf(err, BT_ENOMEM, "error", "trace: too many run observers");
  }
  return 0;
}
