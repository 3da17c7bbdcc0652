/* feed_internal.h - what the feed's files share (core/ only, not a contract for other
 * modules): the feed struct, column roles, the window's line access, and the field
 * helpers both row parsers use (inline: they run on every row). feed.c: opening, the row
 * loop and its one-pass parser (fast_row); feed_window.c: reading the file through its
 * window; feed_header.c: the header line and the column mapping; feed_row.c: the general
 * row parser, its messages, and bt_parse_time. */
#ifndef BT_FEED_INTERNAL_H
#define BT_FEED_INTERNAL_H

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "feed.h"
#include "iso8601.h"

enum role {
  R_IGNORE = 0,
  R_TS,     /* full timestamp in one field */
  R_DATE,   /* date part of a Date + Time pair */
  R_TOD,    /* time of day of a Date + Time pair */
  R_OPEN,
  R_HIGH,
  R_LOW,
  R_CLOSE,
  R_VOLUME,
};

#define WINDOW (1u << 20)      /* the read buffer; grows for a longer line */
#define LINE_MAX_BYTES (64u << 20)
#define MAX_NAME 64
#define MAX_COLS 1024 /* bounds the per-column tables a hostile header could inflate */

struct bt_feed {
  char *path, *symbol;
  uint32_t symbol_index;
  bt_feed_opts opts;
  /* A window on the file, read with read(2): a file truncated under the run is an I/O
   * error naming it (a mapping would kill the process with SIGBUS), and memory stays flat
   * however long the file is. */
  int fd;
  char *data;       /* the window: file bytes [base, base + size) */
  size_t size, cap;
  uint64_t base;    /* file offset of data[0] */
  uint64_t total;   /* the file's size when opened (0: not a regular file) */
  size_t last_nl;   /* data[last_nl] is the window's last '\n' (SIZE_MAX: none) */
  size_t pin;       /* bytes from here on are kept by a refill (0 while the header is read) */
  bool eof;
  size_t pos;       /* start of the next unread line */
  long line;        /* 1-based number of the line last read */
  int ncols;        /* fields per data row */
  uint8_t *role;
  char (*name)[MAX_NAME]; /* column names as written, for error messages */
  int time_col;     /* column whose name is used for ordering errors */
  bool has_prev;
  int64_t prev_time;
  long prev_line;
  uint64_t rows, skipped;
  long first_skipped;
  char date_cache[10]; /* last YYYY-MM-DD seen and its day number */
  int64_t date_cache_days;
  bool date_cache_ok;
  char *date_format, *columns; /* owned copies of the options (NULL when not given) */
  bt_feed_source src;          /* src.next set: bars come from there, not the CSV */
};

static inline bool isdig(char c) { return (unsigned)(c - '0') < 10; }

/* Latest accepted instant: 9999-12-31T23:59:59Z. */
#define MAX_EPOCH 253402300799LL
/* Integer times of 12 or more digits (>= 10^11, the year 5138 in seconds) are epoch
 * milliseconds, as exchanges export them: no real bar is dated past 5138, and 10^11 ms is
 * 1973. A millisecond time must be a whole second (bars are whole seconds). */
#define MS_FROM 100000000000LL
#define MAX_EPOCH_MS (MAX_EPOCH * 1000 + 999)

/* An integer time: seconds below MS_FROM, whole milliseconds from it. */
static inline bool epoch_int(int64_t v, int64_t *t) {
  if (v < MS_FROM) {
    *t = v;
    return true;
  }
  if (v > MAX_EPOCH_MS || v % 1000 != 0) return false;
  *t = v / 1000;
  return true;
}

/* ---- the window ---- */

/* feed_window.c: opens f->path for reading through the window. */
int feed_load_file(bt_feed *f, bt_err *err);
/* feed_window.c: makes [pos, size) hold a whole line, unless the file ends first. */
int feed_refill(bt_feed *f, bt_err *err);

/* A whole line at pos, or the end of the file: 0, or an error. */
static inline int need_line(bt_feed *f, bt_err *err) {
  if (f->eof || (f->last_nl != SIZE_MAX && f->pos <= f->last_nl)) return 0;
  return feed_refill(f, err);
}

/* Next line as [*s, *e) without its line end; false at end of data. */
static inline bool next_line(bt_feed *f, const char **s, const char **e) {
  if (f->pos >= f->size) return false; /* callers call need_line first */
  const char *p = f->data + f->pos, *end = f->data + f->size;
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *le = nl ? nl : end;
  f->pos = nl ? (size_t)(nl + 1 - f->data) : f->size;
  if (le > p && le[-1] == '\r') le--;
  f->line++;
  *s = p, *e = le;
  return true;
}

static inline bool is_blank(const char *s, const char *e) {
  for (; s < e; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return false;
  return true;
}

static inline int count_fields(const char *s, const char *e) {
  int n = 1;
  while ((s = memchr(s, ',', (size_t)(e - s))) != NULL) n++, s++;
  return n;
}

static inline void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s)) (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
  if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') (*s)++, (*e)--;
}

/* ---- fields ---- */

/* A plain price at *pp: optional '-', up to 10 integer digits, '.', up to 8 decimals,
 * at least one digit. Converted with integer arithmetic only; advances *pp past it.
 * False when the text there is not of that shape (it may still be a valid number). */
static inline bool plain_price(const char **pp, const char *end, int64_t *out) {
  static const int64_t pow10_tab[9] = {100000000, 10000000, 1000000, 100000, 10000,
                                       1000,      100,      10,      1};
  const char *p = *pp;
  bool neg = p < end && *p == '-';
  p += neg;
  const char *is = p;
  uint64_t ip = 0, fp = 0;
  while (p < end && isdig(*p)) ip = ip * 10 + (uint64_t)(*p++ - '0');
  long ni = p - is, nf = 0;
  if (p < end && *p == '.') {
    const char *fs = ++p;
    while (p < end && isdig(*p)) fp = fp * 10 + (uint64_t)(*p++ - '0');
    nf = p - fs;
  }
  if (ni > 10 || nf > 8 || ni + nf == 0) return false;
  int64_t v = (int64_t)(ip * (uint64_t)BT_DEC_SCALE + fp * (uint64_t)pow10_tab[nf]);
  *out = neg ? -v : v;
  *pp = p;
  return true;
}

static inline bool date_cached(bt_feed *f, const char *p, int64_t *days) {
  if (f->date_cache_ok && memcmp(p, f->date_cache, 10) == 0) {
    *days = f->date_cache_days;
    return true;
  }
  if (!bt_iso8601_date(p, days)) return false;
  memcpy(f->date_cache, p, 10);
  f->date_cache_days = *days;
  f->date_cache_ok = true;
  return true;
}

/* ---- rows ---- */

/* feed_header.c: reads the header line into f->role, f->name, f->ncols, f->time_col. */
int feed_read_header(bt_feed *f, bt_err *err);
/* feed_row.c: parses one data row [s, e) into *bar, every accepted spelling: 0 ok, <0
 * malformed (err names the line and field). */
int feed_parse_row(bt_feed *f, const char *s, const char *e, bt_bar *bar, bt_err *err);
/* feed_row.c: the error of a bar whose prices contradict each other. */
int feed_ohlc_error(bt_feed *f, int role, const char *what, bt_dec a, bt_dec b, bt_err *err);

static inline int check_ohlc(bt_feed *f, const bt_bar *bar, bt_err *err) {
  if (bar->high.v < bar->low.v)
    return feed_ohlc_error(f, R_HIGH, "high below low", bar->high, bar->low, err);
  if (bar->open.v < bar->low.v || bar->open.v > bar->high.v)
    return feed_ohlc_error(f, R_OPEN, "open outside [low, high]", bar->open,
                           bar->open.v < bar->low.v ? bar->low : bar->high, err);
  if (bar->close.v < bar->low.v || bar->close.v > bar->high.v)
    return feed_ohlc_error(f, R_CLOSE, "close outside [low, high]", bar->close,
                           bar->close.v < bar->low.v ? bar->low : bar->high, err);
  return 0;
}

#endif
