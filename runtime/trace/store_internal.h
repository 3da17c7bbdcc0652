#ifndef BT_STORE_INTERNAL_H
#define BT_STORE_INTERNAL_H
/* store_internal.h - what the event store's files share (trace/ only, not a contract for
 * other modules): the store struct, the varint codec, the chunk decoder and the segment
 * files. store.c: schema, opening, staged rows, transactions; store_runs.c: runs and
 * latency rows; store_prune.c: retention; store_segment.c: segment files; store_chunk.c:
 * the chunk codec; store_query.c: event lookups and the query iterator; store_copy.c: a
 * run copied between stores. */
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"

/* Bound on one chunk's encoded size (1024 events and their payloads): a row claiming
 * more is corrupt. */
#define BT_STORE_CHUNK_MAX_BYTES ((int64_t)1 << 30)

enum { ST_INS_CHUNK, ST_INS_LINKS, ST_GET_CHUNK, ST_GET_LINKS, ST_RUN_ID, ST__N };

/* One run's segment file, <store>.chunks/<run_id>.seg: the chunk blobs of the run,
 * appended one after the other; a chunks row holds its blob's offset and length. */
typedef struct seg {
  int64_t run_no; /* 0 = none open */
  int fd;
  uint64_t end;   /* writer: where the next blob goes */
  char run_id[40];
  char path[1100];
} seg;

/* A reusable read buffer. */
typedef struct rbuf {
  uint8_t *p;
  size_t cap;
} rbuf;

/* A row whose blob is already in its segment file, waiting for bt_store_flush. */
typedef struct staged_row {
  bool links;                         /* a links row, else a chunks row */
  int stream;
  int64_t run_no, first_seq, last_seq, ts_min, ts_max, n, types, seg_off, seg_len, bucket;
  size_t blob_off, blob_len;          /* links: the blob in stage_blob */
} staged_row;

struct bt_store {
  sqlite3 *db;
  char path[1024];
  char host[64];
  int version;  /* schema version of the file (2: no segments yet, read-only open) */
  sqlite3_stmt *st[ST__N];
  uint8_t *buf; /* chunk encoding buffer */
  size_t cap;
  seg wseg, rseg; /* the segment being appended to / read from */
  rbuf rb;        /* blob of bt_store_get_event */
  /* Rows of chunks written to their segment but not yet inserted: the write lock is
   * taken only for the inserts (bt_store_flush), never while chunks are encoded. */
  staged_row *stage;
  size_t nstage, capstage;
  uint8_t *stage_blob;
  size_t stage_blob_len, stage_blob_cap;
  uint64_t staged_events;
  bool in_tx;     /* inside bt_store_begin .. bt_store_commit */
  /* per-chunk scratch, kept so that the writer does not allocate per chunk */
  uint8_t src_of[BT_STORE_CHUNK];
  uint64_t buckets[BT_STORE_CHUNK];
};

/* LEB128 varints; signed values zigzag-encoded. */
static inline size_t put_uv_long(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}
/* Encoding a chunk is mostly this, on the writer thread: values of up to 3 bytes (nearly
 * all of them) without a loop. */
static inline size_t put_uv(uint8_t *p, uint64_t v) {
  if (v < 0x80) {
    p[0] = (uint8_t)v;
    return 1;
  }
  if (v < 0x4000) {
    p[0] = (uint8_t)(v | 0x80);
    p[1] = (uint8_t)(v >> 7);
    return 2;
  }
  if (v < 0x200000) {
    p[0] = (uint8_t)(v | 0x80);
    p[1] = (uint8_t)((v >> 7) | 0x80);
    p[2] = (uint8_t)(v >> 14);
    return 3;
  }
  return put_uv_long(p, v);
}
static inline size_t put_sv(uint8_t *p, int64_t v) {
  return put_uv(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

typedef struct rd {
  const uint8_t *p, *end;
  bool bad;
} rd;
static inline uint64_t get_uv_slow(rd *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) break;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  r->bad = true;
  return 0;
}
/* Decoding a chunk is mostly this: one-byte values take the inline path. */
static inline uint64_t get_uv(rd *r) {
  if (r->p < r->end && *r->p < 0x80) return *r->p++;
  return get_uv_slow(r);
}
static inline int64_t get_sv(rd *r) {
  uint64_t u = get_uv(r);
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* Decoder of one chunk; yields its events one by one. Source names live as long as the
 * decoder (until the next chunk_start or chunk_end). */
typedef struct chunk_rd {
  rd r;
  int version;
  int64_t unit;                 /* BAR prices are stored in units of this many raw units */
  uint64_t left;
  bt_trace_event prev;
  char *srcs[64];
  size_t nsrc;
} chunk_rd;

/* A chunk's blob: `data` holds it in rows of version 2 stores; since version 3 `data` is
 * empty and seg_off/seg_len locate it in the run's segment. A version 2 store opened
 * read-only has no seg_* columns: NULL stands in for them. */
#define BLOB_COLS(s) ((s)->version >= 3 ? "data, seg_off, seg_len" : "data, NULL, NULL")

static inline int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

int store_db_err(bt_store *s, bt_err *err, const char *what);
/* Queue a row for the next flush (links: blob copied). 0, or BT_ENOMEM. */
int store_stage(bt_store *s, const staged_row *row, const uint8_t *blob, size_t len);
int store_exec(bt_store *s, const char *sql, bt_err *err);
void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t n);
/* Binds s as text, or NULL when s is NULL. */
void store_bind_text(sqlite3_stmt *st, int i, const char *s);

/* The runs columns store_read_run reads, in its order. */
#define RUN_COLS                                                                             \
  "run_no, run_id, correlation_id, strategy, status, created_at, completed_at, duration_ms," \
  " pid, bars, event_count, events_stored, events_sampled_out, events_dropped,"              \
  " lineage_gaps, clock_origin, strategy_path, origin, user_id, params, data, config,"       \
  " trace_config, out_dir, metrics, error, host"

/* One runs row selected as RUN_COLS into *r (strings heap: bt_store_run_clear). */
void store_read_run(bt_store *s, sqlite3_stmt *st, bt_store_run *r);

/* <store>.chunks/<run_id>.seg, or just the directory (run_id NULL). */
void store_seg_path(const bt_store *s, const char *run_id, char *out, size_t n);
void store_seg_close(seg *g);
/* A run id is a file name here: btrun makes UUIDs; anything else is refused. */
bool store_run_id_ok(const char *id);
/* Append one blob to run_no's segment; *off = where it starts. */
int store_seg_append(bt_store *s, int64_t run_no, const uint8_t *p, size_t len, uint64_t *off,
                     bt_err *err);
/* The blob of a chunks row whose columns col.. are data, seg_off, seg_len. */
int store_chunk_blob(bt_store *s, sqlite3_stmt *st, int col, int64_t run_no, rbuf *b,
                     const uint8_t **blob, int *len, bt_err *err);

void store_chunk_start(chunk_rd *c, const void *blob, int len, uint64_t first_seq, uint64_t n);
/* 1 = *ev filled (strings heap when want_strings, else NULL), 0 = done, -1 = corrupt. */
int store_chunk_next(chunk_rd *c, bt_trace_event *ev, bool want_strings);
void store_chunk_end(chunk_rd *c);

#endif
