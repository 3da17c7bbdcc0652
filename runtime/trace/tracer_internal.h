#ifndef BT_TRACER_INTERNAL_H
#define BT_TRACER_INTERNAL_H
/* tracer_internal.h - what tracer.c (the run thread's side and the observer) and
 * tracer_writer.c (the writer and checkpointer threads) share: the ring's records and
 * the state of one traced run. Not a contract for other modules. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "bus.h"
#include "store.h"
#include "tracer.h"

#define MAX_SOURCES 64
#define CACHE_LINE 64
#define RING_BYTES_PER_EVENT 128 /* trace.ring_size counts events of this size */
#define INLINE_MAX 4096          /* longer JSON payloads travel as a heap copy */
#define HEAP_MAX ((size_t)32 << 20) /* bytes of heap copies in flight, at most */
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
  _Atomic size_t heap_bytes;    /* payload heap copies between the run thread and the writer */
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
  /* stream 0: BARs, 1: other events; allocated apart and never zeroed (the writer reads
   * only what it wrote): zeroing its 250 KB cost the run thread's start ~0.4M instructions */
  bt_trace_event (*chunk)[BT_STORE_CHUNK];
  size_t nchunk[2];
  uint64_t stored, sampled_out;  /* stored: events in committed rows */
  uint64_t lost;                 /* events that could not be stored (werr says why) */
  bt_err werr;
  uint64_t failing_since, retry_at, backoff_ns; /* flush retries (bt_bus_clock_ns) */
  bt_lat_hist lat[BT_EV__COUNT], queue[BT_EV__COUNT];
  /* Consecutive events of one type with the same latency and queue time (bars that
   * share a clock reading and a batch) go into the histograms at once. */
  struct { int type; uint64_t lat, queue, n; } same;
  uint64_t now;                 /* the writer's clock, refreshed every CLOCK_EVERY events */
} trace_run;

struct bt_tracer {
  bt_trace_cfg cfg;
  char *cfg_json;
  /* The app's data_dir when the store is the default <data_dir>/events.db: a later
   * --data-dir (applied after the app is set up) moves it; resolved at the first run
   * (under sources_mu), NULL once done or when the config names the store. */
  const char *follow_data_dir;
  trace_run *runs;
  /* interned source names (run threads add under sources_mu, writers read through the
   * ring): the runs of a sweep publish from several threads */
  pthread_mutex_t sources_mu;
  char *sources[MAX_SOURCES];
  int nsources;
  _Atomic bool size_warned; /* the store-size warning: once per process (a sweep ends many runs) */
};

/* Wait on cv for at most `us` microseconds (the caller rechecks its condition). */
/* How long the writer keeps retrying the run's last events before counting them lost. */
#define FINAL_RETRY_NS 10000000000ull

void tracer_nap(trace_run *r, pthread_cond_t *cv, _Atomic bool *flag, long us);
void tracer_signal(trace_run *r, pthread_cond_t *cv);
/* The sampler's output (ud: the trace_run): the event goes into its chunk, or is counted. */
void tracer_on_sampled(void *ud, bt_trace_event *e, bool kept);
/* Thread bodies (arg: the trace_run). */
void *tracer_writer_main(void *arg);
void *tracer_ckpt_main(void *arg);

#endif
