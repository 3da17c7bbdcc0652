/* store.h - the event store: traced runs and their events in one SQLite file (WAL) plus
 * one append-only segment file per run holding the encoded events,
 * <store path>.chunks/<run_id>.seg.
 *
 * One writer at a time per run (the tracer's writer thread); any number of readers
 * (CLI, Lua) at any time, also while a run is being written. The schema, the event
 * identity and the payload encodings are documented in docs/events.md:
 *   runs        one row per run (status "running" until the run ends; a run killed
 *               before it ended keeps "running" and is shown as incomplete)
 *   chunks      events, up to BT_STORE_CHUNK per row, delta + varint encoded, in two
 *               streams per run: 0 = BAR, 1 = every other type (so queries by type
 *               skip the bars); indexed by (run, stream, first_seq). The encoded
 *               bytes are in the run's segment file (the row has their offset and
 *               length), written before the row, so a committed row never points past
 *               what a killed process wrote; stores of schema version 2 hold them inline
 *               and are still read (and upgraded to version 3 by bt_store_open)
 *   links       (cause, seq) pairs by bucket of 1024 causes: what an event caused
 *   latency     per run and event type: count, mean, median, p95, max of latency and
 *               queue time
 * Times: `ts` is market time (epoch seconds); timings are nanoseconds since the run's
 * clock origin (runs.clock_origin, a bt_bus_clock_ns value). */
#ifndef BT_STORE_H
#define BT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "run.h"

#define BT_STORE_CHUNK 1024 /* BAR events per bar_chunks row */

/* One traced event, compact and fixed-size (the tracer's ring holds these). */
typedef struct bt_trace_event {
  uint64_t seq;        /* event id within the run (the bus's sequence number) */
  uint64_t cause;      /* seq of the event that caused it, 0 = none */
  int64_t ts;          /* market time, epoch seconds */
  uint64_t created, emitted, received, processed; /* ns, see the header comment */
  uint32_t symbol;
  uint8_t type;        /* bt_event_type */
  uint8_t side;        /* ORDER/FILL: 0 buy, 1 sell */
  uint8_t otype;       /* ORDER: bt_order_type */
  uint8_t ostatus;     /* ORDER: bt_order_status */
  const char *source;  /* emitting component; owned by the producer of the event */
  union {
    struct { int64_t open, high, low, close; double volume; } bar;  /* bt_dec raw */
    struct { uint64_t order_id; int64_t qty, limit, stop; } order;
    struct { uint64_t order_id; int64_t qty, price, commission; } fill;
  } p;
  char *text;          /* ORDER: reject reason; other non-BAR types: data JSON; or NULL */
  uint32_t flat_len;   /* > 0: text holds a flat payload (bus.h) of this many bytes instead
                        * of JSON, stored and read back as is (bt_trace_event_data_json
                        * renders it) */
  char *user_type;     /* USER: the user's type name; else NULL */
} bt_trace_event;

typedef struct bt_store bt_store;

/* Open for writing (creating the file, its directory and the schema when missing;
 * upgrading a schema version 2 store to 3). */
int bt_store_open(bt_store **out, const char *path, bt_err *err);
/* Open an existing store read-only; BT_EIO with a clear message when it is missing. */
int bt_store_open_readonly(bt_store **out, const char *path, bt_err *err);
void bt_store_close(bt_store *s);
const char *bt_store_path(const bt_store *s);

/* ---- runs ---- */
/* Insert the runs row (status "running") and commit it at once. A run_id already in the
 * store is an earlier attempt of the same run (a queued job run again after its worker
 * died): its rows are replaced, so a run_id names one run. */
int bt_store_run_begin(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                       uint64_t clock_origin, int64_t *run_no, bt_err *err);

typedef struct bt_store_run_end {
  const char *status;           /* "completed" | "failed" | "interrupted" */
  int64_t completed_at;         /* wall ms */
  int64_t duration_ms;
  const char *metrics_json;     /* NULL when failed */
  const char *error;            /* NULL when completed */
  uint64_t bars, event_count;   /* event_count: events published on the bus */
  uint64_t stored, sampled_out, dropped, lineage_gaps;
} bt_store_run_end;
int bt_store_run_finish(bt_store *s, int64_t run_no, const bt_store_run_end *end, bt_err *err);

typedef struct bt_store_run {
  int64_t run_no;
  char run_id[40];
  char correlation_id[128];
  char strategy[128];
  char status[16];              /* "running", "completed", "failed", "interrupted" */
  bool incomplete;              /* "running" but its process is gone (killed) */
  int64_t created_at, completed_at, duration_ms, pid;
  uint64_t bars, event_count, stored, sampled_out, dropped, lineage_gaps;
  uint64_t clock_origin;
  char *strategy_path, *origin, *user_id, *params, *data, *config, *trace_config, *out_dir,
      *metrics, *error, *host;  /* heap, NULL when absent */
} bt_store_run;
void bt_store_run_clear(bt_store_run *r);

/* Find a run by its run_id or a unique prefix of it (at least 4 characters); "latest"
 * is the newest run of the store. */
int bt_store_find_run(bt_store *s, const char *id, bt_store_run *out, bt_err *err);
/* The length of the shortest prefix of run_id, at least min, that no other run of the
 * store starts with: what to print so that the id can be typed back. */
int bt_store_run_id_prefix(bt_store *s, const char *run_id, size_t min, size_t *len,
                           bt_err *err);
/* Bytes the events of a run take on disk: its segment file, and its links (and, in a
 * schema 2 store, its inline chunks) inside the database. */
int bt_store_run_size(bt_store *s, int64_t run_no, const char *run_id, uint64_t *bytes,
                      bt_err *err);
/* Bytes the store at path takes: the database, its -wal/-shm and every segment file
 * (0 when missing). What `du -cb events.db*` says. */
uint64_t bt_store_disk_size(const char *path);
/* Runs, newest first (limit 0 = all). fn returns non-zero to stop. */
typedef int (*bt_store_run_fn)(void *ud, const bt_store_run *r);
int bt_store_list_runs(bt_store *s, const char *correlation_id, int limit, bt_store_run_fn fn,
                       void *ud, bt_err *err);

/* ---- writing events (one thread) ----
 * bt_store_put_chunk appends the chunk to the run's segment file and stages its rows;
 * bt_store_flush inserts the staged rows in one short write transaction, so that many
 * processes can write one store: the write lock is held for the inserts only. A failed
 * flush rolls back and keeps the rows staged for the next attempt (the caller retries
 * with backoff, or drops them and counts the events as lost). */
int bt_store_flush(bt_store *s, uint64_t *events, bt_err *err); /* *events: committed */
uint64_t bt_store_staged_events(const bt_store *s);
uint64_t bt_store_drop_staged(bt_store *s);   /* returns the events dropped */
/* An explicit transaction (begin .. commit) also covers the staged rows. A failed commit
 * rolls back; bt_store_rollback ends a transaction whatever happened in it. */
int bt_store_begin(bt_store *s, bt_err *err);   /* start a write transaction */
void bt_store_rollback(bt_store *s);
/* How long one statement waits for another process's write lock (default 10 s). A
 * writer that retries with its own backoff waits less per attempt. */
void bt_store_busy_timeout(bt_store *s, int ms);
/* Leave checkpoints (copying the WAL into the database file, with an fsync) to another
 * connection calling bt_store_checkpoint, so that a writer never stalls on them. */
void bt_store_no_autocheckpoint(bt_store *s);
/* A passive checkpoint: copies what it can without blocking the writer. */
int bt_store_checkpoint(bt_store *s, bt_err *err);
int bt_store_commit(bt_store *s, bt_err *err);
/* n (1..BT_STORE_CHUNK) events of one stream (0: BARs, 1: the other types) in increasing
 * seq order: one chunks row, plus the links of those that have a cause (staged). */
int bt_store_put_chunk(bt_store *s, int64_t run_no, int stream, const bt_trace_event *evs,
                       size_t n, bt_err *err);

/* ---- latency statistics ---- */
typedef struct bt_store_latency {
  char type[32];                /* event type name */
  char metric[16];              /* "latency" | "queue_time" */
  uint64_t count;
  double mean_ns;
  uint64_t p50_ns, p95_ns, max_ns;
} bt_store_latency;
int bt_store_put_latency(bt_store *s, int64_t run_no, const bt_store_latency *l, bt_err *err);
/* Rows of a run ordered by type then metric; returns the count in *n (heap array). */
int bt_store_get_latency(bt_store *s, int64_t run_no, bt_store_latency **out, size_t *n,
                         bt_err *err);

/* ---- queries ---- */
typedef struct bt_store_query {
  int64_t run_no;
  uint32_t type_mask;           /* BT_EV_MASK bits; 0 = all */
  const char *user_type;        /* with USER in the mask: only this user type (NULL = any) */
  bool has_from, has_to;
  int64_t from, to;             /* market time, inclusive */
} bt_store_filter;

typedef struct bt_store_iter bt_store_iter;
int bt_store_query(bt_store *s, const bt_store_filter *q, bt_store_iter **out, bt_err *err);
/* 1 = *ev filled (its strings stay valid until the next call), 0 = end, < 0 = error
 * (e.g. the run's segment file is missing or truncated: err names it and the run).
 * Events come in seq order; a chunk is decoded only when its types and time range
 * overlap the filter. */
int bt_store_iter_next(bt_store_iter *it, bt_trace_event *ev, bt_err *err);
void bt_store_iter_free(bt_store_iter *it);

/* One event by seq; *found false when the run has no stored event with that seq
 * (dropped by sampling or never published). Strings in ev are heap: bt_trace_event_clear. */
int bt_store_get_event(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event *ev,
                       bool *found, bt_err *err);
/* Stored events whose cause is seq, in seq order (heap array; clear each, free array). */
int bt_store_children(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event **out,
                      size_t *n, bt_err *err);
void bt_trace_event_clear(bt_trace_event *ev);

/* The payload as a JSON object (heap string): BAR prices, ORDER/FILL fields (money as
 * decimal strings), the data JSON of the other types ("{}" when none). */
char *bt_trace_event_data_json(const bt_trace_event *ev);
/* The same appended to b (no allocation per event: the export path). */
struct bt_json_buf;
void bt_trace_event_data_write(struct bt_json_buf *b, const bt_trace_event *ev);

/* ---- retention ---- */
/* Delete runs (and all their events) created before before_ms (when >= 0) and all but
 * the keep_runs newest (when >= 0). Runs still "running" in a live process are kept.
 * Segment files without a run (the deleted runs', any a crash left) are deleted after
 * the rows are committed. */
int bt_store_prune(bt_store *s, int64_t before_ms, int keep_runs, int *deleted, bt_err *err);

/* ---- copying a run between stores (a shared database keeps the same rows) ----
 * The rows of a run as stored: chunk blobs in the chunk codec (docs/events.md), link
 * blobs as written. bt_store_export hands them out in (stream, first_seq) and bucket
 * order; the bt_store_import_* calls write them into another store, which then reads
 * the run exactly as the original. */
typedef struct bt_store_raw_chunk {
  int stream;
  uint64_t first_seq, last_seq;
  int64_t ts_min, ts_max;
  uint32_t n, types;
  const uint8_t *data;
  size_t len;
} bt_store_raw_chunk;

typedef struct bt_store_raw_links {
  uint64_t bucket, first_seq;
  const uint8_t *data;
  size_t len;
} bt_store_raw_links;

typedef struct bt_store_sink {
  void *ud;
  int (*chunk)(void *ud, const bt_store_raw_chunk *c, bt_err *err);
  int (*links)(void *ud, const bt_store_raw_links *l, bt_err *err);
} bt_store_sink;

/* Every chunk, then every links row of run_no; a sink returning non-zero stops it. */
int bt_store_export(bt_store *s, int64_t run_no, const bt_store_sink *sink, bt_err *err);
/* Insert a run's row as r describes it (any earlier row of r->run_id is replaced);
 * *run_no is its number in this store. */
int bt_store_import_run(bt_store *s, const bt_store_run *r, int64_t *run_no, bt_err *err);
int bt_store_import_chunk(bt_store *s, int64_t run_no, const bt_store_raw_chunk *c, bt_err *err);
int bt_store_import_links(bt_store *s, int64_t run_no, const bt_store_raw_links *l, bt_err *err);

#endif
