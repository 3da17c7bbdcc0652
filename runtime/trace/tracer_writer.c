#define _GNU_SOURCE /* pthread_setname_np */
/* tracer_writer.c - the store writer thread (drains the ring into chunks, stamps
 * timings, feeds the histograms) and the checkpointer thread. */
#include "tracer_internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* Events that will never be stored: counted, and said once per failure streak (the run's
 * status, result and log name the count; tracing goes on). */
static void lose(trace_run *r, uint64_t n, const bt_err *why) {
  if (!n) return;
  if (!r->lost) {
    r->werr = *why;
    r->werr.traceback = NULL;
  }
  r->lost += n;
  bt_log("trace", BT_LOG_ERROR, "trace_events_lost", BT_F_INT("lost", n),
         BT_F_INT("lost_total", r->lost), BT_F_STR("error", why->msg),
         BT_F_STR("store", r->t->cfg.store));
}

/* A segment write that fails (disk full for a moment) is retried for SEG_RETRY_NS (the
 * ring holds the run back meanwhile); then this chunk is lost, and counted. */
#define SEG_RETRY_NS 3000000000ull

static void flush_chunk(trace_run *r, int stream) {
  size_t n = r->nchunk[stream];
  if (!n) return;
  bt_err err = {0};
  uint64_t t0 = 0;
  long backoff_ns = 10000000;
  while (bt_store_put_chunk(r->store, r->run_no, stream, r->chunk[stream], n, &err)) {
    uint64_t now = bt_bus_clock_ns();
    if (!t0) {
      t0 = now;
      bt_log("trace", BT_LOG_WARNING, "trace_store_retry", BT_F_STR("error", err.msg));
    }
    if (now - t0 >= SEG_RETRY_NS) {
      lose(r, n, &err);
      break;
    }
    struct timespec ts = {0, backoff_ns};
    nanosleep(&ts, NULL);
    if ((backoff_ns *= 2) > 200000000) backoff_ns = 200000000;
    bt_err_clear(&err);
  }
  bt_err_clear(&err);
  for (size_t i = 0; i < n; i++) {
    free(r->chunk[stream][i].text);
    free(r->chunk[stream][i].user_type);
  }
  r->nchunk[stream] = 0;
}

/* Staged rows are retried with backoff (another process holds the write lock, the disk
 * is full for a moment) and given up as lost only after STAGE_GIVE_UP_NS of failures or
 * beyond STAGE_MAX events: memory stays bounded and nothing is lost silently. */
#define BACKOFF_MIN_NS 20000000ull     /* 20 ms */
#define BACKOFF_MAX_NS 1000000000ull   /* 1 s */
#define STAGE_GIVE_UP_NS 30000000000ull
#define STAGE_MAX (1u << 21)

static bool try_flush(trace_run *r, uint64_t now) {
  bt_err err = {0};
  uint64_t n = 0;
  if (!bt_store_flush(r->store, &n, &err)) {
    r->stored += n;
    if (r->failing_since)
      bt_log("trace", BT_LOG_INFO, "trace_store_recovered",
             BT_F_INT("failed_ms", (now - r->failing_since) / 1000000));
    r->failing_since = 0;
    r->backoff_ns = 0;
    return true;
  }
  if (!r->failing_since) {
    r->failing_since = now;
    bt_log("trace", BT_LOG_WARNING, "trace_store_retry", BT_F_STR("error", err.msg),
           BT_F_INT("staged_events", bt_store_staged_events(r->store)));
  }
  r->backoff_ns = r->backoff_ns ? r->backoff_ns * 2 : BACKOFF_MIN_NS;
  if (r->backoff_ns > BACKOFF_MAX_NS) r->backoff_ns = BACKOFF_MAX_NS;
  r->retry_at = now + r->backoff_ns;
  if (now - r->failing_since >= STAGE_GIVE_UP_NS || bt_store_staged_events(r->store) > STAGE_MAX) {
    lose(r, bt_store_drop_staged(r->store), &err);
    r->failing_since = 0;
  }
  bt_err_clear(&err);
  return false;
}

static void commit(trace_run *r) {
  flush_chunk(r, 0);
  flush_chunk(r, 1);
  uint64_t now = bt_bus_clock_ns();
  if (bt_store_staged_events(r->store) && now >= r->retry_at) try_flush(r, now);
}

/* The run's end: retry for a bounded time, then count what is left as lost. */
static void final_commit(trace_run *r) {
  flush_chunk(r, 0);
  flush_chunk(r, 1);
  uint64_t t0 = bt_bus_clock_ns();
  while (bt_store_staged_events(r->store)) {
    uint64_t now = bt_bus_clock_ns();
    if (try_flush(r, now)) break;
    if (now - t0 >= FINAL_RETRY_NS) {
      bt_err err = {0};
      bt_errf(&err, BT_EIO, "store_error", "%s: could not store the run's last events within "
              "%llu s", r->t->cfg.store, (unsigned long long)(FINAL_RETRY_NS / 1000000000ull));
      lose(r, bt_store_drop_staged(r->store), &err);
      break;
    }
    struct timespec ts = {0, (long)r->backoff_ns};
    nanosleep(&ts, NULL);
  }
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
  if (++r->nchunk[stream] == BT_STORE_CHUNK) flush_chunk(r, stream);
}

/* Sampler output. */
void tracer_on_sampled(void *ud, bt_trace_event *e, bool kept) {
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

void *tracer_ckpt_main(void *arg) {
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
  bool failing = false;
  while (!atomic_load_explicit(&r->ckpt_stop, memory_order_acquire)) {
    tracer_nap(r, &r->ckpt_wake, &r->ckpt_napping, CKPT_MS * 1000);
    bt_err err = {0};
    if (bt_store_checkpoint(r->ckpt_store, &err)) {
      if (!failing) /* once per streak: it is retried every CKPT_MS */
        bt_log("trace", BT_LOG_WARNING, "trace_checkpoint_failed", BT_F_STR("error", err.msg));
      failing = true;
      bt_err_clear(&err);
    } else {
      failing = false;
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
  if (e->text) /* a heap copy (tracer.c heap_reserve): now the writer's */
    atomic_fetch_sub_explicit(&r->heap_bytes, strlen(e->text) + 1, memory_order_relaxed);
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

void *tracer_writer_main(void *arg) {
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
        if ((bt_store_staged_events(r->store) || r->nchunk[0] || r->nchunk[1]) &&
            now - last_commit >= commit_ns) {
          commit(r);
          last_commit = now;
        }
        tracer_nap(r, &r->wake, &r->writer_napping, 1000);
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
      tracer_signal(r, &r->space);
    uint64_t now = bt_bus_clock_ns();
    if (now - last_commit >= commit_ns) {
      commit(r);
      last_commit = now;
    }
  }
  r->now = bt_bus_clock_ns();
  bt_sampler_flush(r->sampler);
  hist_flush(r);
  final_commit(r);
  return NULL;
}

