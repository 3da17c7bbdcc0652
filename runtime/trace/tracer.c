/* tracer.c - the tracer observer: the run thread's side (ring records for each event)
 * and the run's start and end. The writer thread is in tracer_writer.c, the config in
 * tracer_config.c, the sampler and histograms in tracer_sampler.c and tracer_hist.c. */
#include "tracer_internal.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "log.h"

static const char *intern_source(bt_tracer *t, trace_run *r, const char *src) {
  if (!src) return NULL;
  /* Publishers pass string literals, a handful of them taking turns (strategy, broker,
   * ledger): remembering the pointers makes the common case a few compares. */
  for (int i = 0; i < r->nsrc_seen; i++)
    if (r->src_ptr[i] == src) return r->src_name[i];
  const char *found = NULL;
  pthread_mutex_lock(&t->sources_mu);
  for (int i = 0; i < t->nsources && !found; i++)
    if (strcmp(t->sources[i], src) == 0) found = t->sources[i];
  if (!found && t->nsources < MAX_SOURCES && (t->sources[t->nsources] = strdup(src)))
    found = t->sources[t->nsources++];
  pthread_mutex_unlock(&t->sources_mu);
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
void tracer_nap(trace_run *r, pthread_cond_t *cv, _Atomic bool *flag, long us) {
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

void tracer_signal(trace_run *r, pthread_cond_t *cv) {
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
          tracer_signal(r, &r->wake);
        tracer_nap(r, &r->space, &r->producer_waiting, 1000);
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
    tracer_signal(r, &r->wake);
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

/* Payloads too long for the ring travel as heap copies: their bytes in flight are bounded
 * (HEAP_MAX), the run thread waiting for the writer as on a full ring, so a strategy
 * tracing large data cannot grow the process without limit. */
static void heap_reserve(trace_run *r, size_t n) {
  uint64_t t0 = 0;
  while (r->thread_started && atomic_load_explicit(&r->heap_bytes, memory_order_acquire) &&
         atomic_load_explicit(&r->heap_bytes, memory_order_acquire) + n > HEAP_MAX) {
    if (!t0) t0 = bt_bus_clock_ns(), r->blocked_waits++;
    if (atomic_load_explicit(&r->writer_napping, memory_order_relaxed))
      tracer_signal(r, &r->wake);
    tracer_nap(r, &r->space, &r->producer_waiting, 1000);
  }
  if (t0) r->blocked_ns += bt_bus_clock_ns() - t0;
  atomic_fetch_add_explicit(&r->heap_bytes, n, memory_order_relaxed);
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
      bt_json_buf b = {0};
      size_t off = bt_flat_render_json(ev->data_flat, ev->data_flat_len, &b);
      text = off == (size_t)-1 || b.failed ? NULL : strdup(b.data + off);
      bt_json_free(&b);
    } else if (ev->data_json) {
      size_t n = strnlen(ev->data_json, INLINE_MAX);
      if (n < INLINE_MAX) pay = ev->data_json, pay_len = n, pay_kind = PAY_JSON;
      else text = strdup(ev->data_json);
    }
    if (ev->type == BT_EV_USER && ev->user_type) user_type = strdup(ev->user_type);
  }
  size_t heap = text ? strlen(text) + 1 : 0;
  if (heap) heap_reserve(r, heap);
  size_t size = (sizeof(rec_event) + pay_len + 7) & ~(size_t)7;
  rec_event *rec =
      ring_reserve(r, size, (r->t->cfg.critical_mask & BT_EV_MASK(ev->type)) != 0);
  if (!rec) {
    note_drop(r, ev->event_id);
    atomic_fetch_sub_explicit(&r->heap_bytes, heap, memory_order_relaxed);
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

/* ---- observer ---- */

/* Stop the writer (it drains the ring and commits), then the checkpointer. */
static void stop_threads(trace_run *r) {
  if (r->thread_started) {
    atomic_store_explicit(&r->stop, true, memory_order_release);
    tracer_signal(r, &r->wake);
    pthread_join(r->thread, NULL);
    r->thread_started = false;
  }
  if (r->ckpt_started) {
    atomic_store_explicit(&r->ckpt_stop, true, memory_order_release);
    tracer_signal(r, &r->ckpt_wake);
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
  free(r->chunk);
  free(r);
}

/* The default store follows the data dir as it is when the first run starts. */
static void resolve_store(bt_tracer *t) {
  pthread_mutex_lock(&t->sources_mu);
  if (t->follow_data_dir) {
    bt_trace_cfg def;
    bt_trace_cfg_defaults(&def, t->follow_data_dir);
    if (strcmp(def.store, t->cfg.store) != 0) {
      snprintf(t->cfg.store, sizeof t->cfg.store, "%s", def.store);
      char *json = bt_trace_cfg_json(&t->cfg);
      if (json) {
        free(t->cfg_json);
        t->cfg_json = json;
      }
    }
    t->follow_data_dir = NULL;
  }
  pthread_mutex_unlock(&t->sources_mu);
}

static int tr_on_start(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err) {
  bt_tracer *t = ud;
  trace_run *r = aligned_alloc(CACHE_LINE, (sizeof *r + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE);
  if (!r) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
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
  r->chunk = malloc(2 * sizeof *r->chunk);
  int rc = r->ring && r->chunk ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc && bt_sampler_new(&r->sampler, &t->cfg, tracer_on_sampled, r))
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc) resolve_store(t);
  if (!rc) rc = bt_store_open(&r->store, t->cfg.store, err);
  r->origin = bt_bus_clock_ns();
  if (!rc) rc = bt_store_run_begin(r->store, info, t->cfg_json, r->origin, &r->run_no, err);
  /* then short waits per attempt: the writer retries with its own backoff */
  if (!rc) bt_store_busy_timeout(r->store, 250);
  if (!rc && (bt_bus_subscribe(bus, BT_EV_MASK_ALL, on_event, r) ||
              bt_bus_subscribe_bars(bus, t->cfg.bars == BT_TRACE_BARS_NONE ? stash_bar : put_bar,
                                    r)))
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "trace: too many bus subscribers");
  if (!rc) {
    /* The writer must not take the process's SIGINT/SIGTERM: the run thread handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    /* The checkpointer first: the writer's connection is told to leave checkpoints to it
     * before the writer thread owns that connection. Without a checkpointer the writer
     * checkpoints itself (SQLite's default). */
    if (pthread_create(&r->ckpt_thread, NULL, tracer_ckpt_main, r) == 0) {
      r->ckpt_started = true;
      bt_store_no_autocheckpoint(r->store);
    }
    if (pthread_create(&r->thread, NULL, tracer_writer_main, r))
      rc = bt_errf(err, BT_EIO, "io_error", "trace: cannot start the writer thread");
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

/* Every bar of every run is kept by default (docs/events.md "Storage"): a store that
 * has grown past trace.warn_size_mb says so once per process, with the way out. */
static void warn_size(bt_tracer *t) {
  if (t->cfg.warn_size_mb <= 0 || atomic_load(&t->size_warned)) return;
  uint64_t size = bt_store_disk_size(t->cfg.store);
  if ((double)size <= t->cfg.warn_size_mb * 1e6 || atomic_exchange(&t->size_warned, true)) return;
  bt_log("trace", BT_LOG_WARNING, "trace_store_large", BT_F_STR("store", t->cfg.store),
         BT_F_DBL("size_mb", (double)(size / 100000) / 10), BT_F_INT("size_bytes", size),
         BT_F_DBL("warn_size_mb", t->cfg.warn_size_mb),
         BT_F_STR("hint", "see the size per run with `btrun runs list`; free space with "
                          "`btrun events prune --keep-runs 5` (or --before DATE); store fewer "
                          "bars with trace.bars = \"none\"; trace.warn_size_mb = 0 silences this"));
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
    /* A run that lost events says so: status "events_lost" (it completed, its events
     * are not all there) and the count and cause in its error. */
    char lost_msg[sizeof r->werr.msg + 64];
    if (r->lost)
      snprintf(lost_msg, sizeof lost_msg, "trace: %llu events lost: %s",
               (unsigned long long)r->lost, r->werr.msg);
    bt_store_run_end end = {
        .status = out->status == BT_RUN_COMPLETED ? (r->lost ? "events_lost" : "completed")
                  : out->error && strcmp(out->error->type, "interrupted") == 0 ? "interrupted"
                                                                               : "failed",
        .completed_at = bt_wall_ms(), .duration_ms = out->duration_ms,
        .metrics_json = out->metrics_json,
        .error = out->error ? out->error->msg : (r->lost ? lost_msg : NULL),
        .bars = out->bars, .event_count = out->events, .stored = r->stored,
        .sampled_out = r->sampled_out, .dropped = r->dropped,
        .lineage_gaps = bt_sampler_gaps(r->sampler) +
                        (t->cfg.sample_rate >= 1.0 ? r->drop_gaps : 0)};
    /* one short transaction, retried with backoff while other writers hold the lock */
    uint64_t t_end = bt_now_ns(), backoff_ns = 20000000;
    for (;;) {
      bt_err_clear(&err);
      int rc = bt_store_begin(r->store, &err);
      if (!rc) {
        add_latency(r, &err);
        rc = err.code;
      }
      if (!rc) rc = bt_store_run_finish(r->store, r->run_no, &end, &err);
      if (!rc) rc = bt_store_commit(r->store, &err);
      else bt_store_rollback(r->store);
      if (!rc || bt_now_ns() - t_end >= FINAL_RETRY_NS) break;
      struct timespec ts = {0, (long)backoff_ns};
      nanosleep(&ts, NULL);
      if ((backoff_ns *= 2) > 500000000) backoff_ns = 500000000;
    }
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
    warn_size(t);
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
  pthread_mutex_destroy(&t->sources_mu);
  free(t->cfg_json);
  free(t);
}

int bt_tracer_new(bt_tracer **out, const bt_trace_cfg *cfg, bt_err *err) {
  bt_tracer *t = calloc(1, sizeof *t);
  if (!t || !(t->cfg_json = bt_trace_cfg_json(cfg))) {
    free(t);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  t->cfg = *cfg;
  pthread_mutex_init(&t->sources_mu, NULL);
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
  bt_tracer *t = NULL; /* gcc -O3 cannot see bt_errf never returns 0 */
  if (bt_tracer_new(&t, &cfg, err)) return err->code;
  bt_trace_cfg def;
  bt_trace_cfg_defaults(&def, app->cfg.data_dir);
  if (strcmp(def.store, cfg.store) == 0) t->follow_data_dir = app->cfg.data_dir;
  bt_run_observer obs = bt_tracer_observer(t);
  if (bt_app_add_observer(app, &obs)) {
    tr_on_close(t);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "trace: too many run observers");
  }
  return 0;
}
