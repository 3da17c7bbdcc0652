/* event_export_internal.h - what event_export.c (the export, JSONL) and
 * event_export_csv.c (CSV: payload columns, rows) share: the export's state and the
 * writers of a row at a cursor. trace/ only. */
#ifndef BT_EVENT_EXPORT_INTERNAL_H
#define BT_EVENT_EXPORT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "bus.h"
#include "decimal.h"
#include "event_export.h"
#include "json.h"

#define FLUSH_AT (1u << 20)
#define MAX_COLS 512 /* payload columns: more is an error (use JSONL), never a silent cut */

typedef struct keyset {
  char **v;
  size_t n, cap;
} keyset;

/* A flat payload key as stored (raw bytes) and what it stands for in the CSV. */
typedef struct flatkey {
  char *raw;      /* NULL: a free slot */
  uint8_t klen;
  uint32_t types; /* BT_EV_MASK of the types whose payloads were seen holding it (scan) */
  int col;        /* its column, -1 none, -2 not looked up yet */
  char *name;     /* the column's name without "data.": the key as its JSON reads back */
} flatkey;

typedef struct keymap { /* open addressing, linear probing, cap a power of 2 */
  flatkey *v;
  size_t n, cap;
} keymap;

typedef struct cell {
  size_t off, len;
  uint64_t row; /* set for this row when row == the export's row counter */
  int field;    /* flat payloads: the index of the field that set it */
} cell;

struct bt_event_export {
  FILE *out;
  bt_export_format fmt;
  bt_json_buf b;      /* output, flushed at FLUSH_AT */
  bool io_failed, header_done;
  int io_errno;
  /* CSV payload columns */
  bool present[BT_EV__COUNT];
  keyset types[BT_EV__COUNT]; /* free-form payload keys seen per type (scan) */
  keyset cols;                /* the columns, in order, once the header is written */
  keymap flat;                /* flat payload keys seen, by raw key */
  int fixed_col[BT_EV__COUNT][8];
  cell *cells;
  bt_json_buf scratch; /* this row's cell values; a flat key's name while it is made */
  bt_json_buf tmp;     /* a free-form payload's JSON text, to parse */
  uint64_t row;
  /* per run: the run's constant text, escaped once for the output's format */
  char **sym;         /* symbol names as JSON strings / CSV fields */
  size_t nsym;
  bt_json_buf id_pre; /* JSON: {"event_id":"RUN_ID:   CSV: RUN_ID: */
  bt_json_buf cause_pre; /* JSON: "RUN_ID:         CSV: RUN_ID: */
  bt_json_buf corr;   /* JSON: ,"correlation_id":"..","source":   CSV: the field */
  char src[64];       /* the last event's source, and its escaped form */
  bt_json_buf src_out;
  int64_t day;        /* of the cached date */
  char date[11];      /* "YYYY-MM-DD" of day */
};

/* Bytes one row's fixed fields take at most besides the escaped strings: names,
 * numbers (20 digits each), the time (31). */
#define ROW_FIXED 512

/* ---- writing at a cursor: the fixed fields of one row, after one bt_json_reserve --- */

static inline char *put_mem(char *p, const void *s, size_t n) {
  memcpy(p, s, n);
  return p + n;
}
#define PUT_LIT(p, lit) put_mem((p), (lit), sizeof(lit) - 1)

static inline char *put_i64(char *p, int64_t v) {
  if (v < 0) *p++ = '-';
  return bt_dec_put_uint(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, p);
}

static inline void commit(bt_json_buf *b, char *p) {
  b->len = (size_t)(p - b->data);
  b->data[b->len] = 0;
}

static inline const char *export_type_name(const bt_trace_event *e) {
  return bt_event_type_name((bt_event_type)e->type);
}

/* A field at p (room for 2n + 2 bytes), quoted when it holds a comma, quote or line
 * break (RFC 4180). */
static inline char *csv_put_at(char *p, const char *s, size_t n) {
  static const bool special[256] = {[','] = 1, ['"'] = 1, ['\n'] = 1, ['\r'] = 1};
  size_t i = 0;
  while (i < n && !special[(unsigned char)s[i]]) i++;
  if (i == n) return put_mem(p, s, n);
  *p++ = '"';
  for (size_t j = 0; j < n; j++) {
    if (s[j] == '"') *p++ = '"';
    *p++ = s[j];
  }
  *p++ = '"';
  return p;
}

static inline void csv_put(bt_json_buf *b, const char *s, size_t n) {
  if (bt_json_reserve(b, 2 * n + 2)) commit(b, csv_put_at(b->data + b->len, s, n));
}

/* event_export.c */
/* "YYYY-MM-DDTHH:MM:SSZ" at p (up to 31 bytes); the date is formatted once a day. */
char *export_put_time(bt_event_export *x, char *p, int64_t ts);
/* The symbol's name, escaped for the output's format. */
const char *export_sym_of(const bt_event_export *x, uint32_t i);
/* The event's source, escaped for the output's format (cached while it repeats). */
const bt_json_buf *export_source_of(bt_event_export *x, const char *src);

/* event_export_csv.c */
/* Writes the header line once the columns are known (scan), or fixed columns only. */
int export_csv_header(bt_event_export *x, bt_err *err);
void export_csv_row(bt_event_export *x, const bt_trace_event *e);
/* Frees the CSV state (payload keys, columns, cells, buffers). */
void export_csv_free(bt_event_export *x);

#endif
