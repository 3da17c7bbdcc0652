/* feed.h - OHLCV bar sources: CSV readers with exact price parsing.
 *
 * A feed reads one file holding one symbol. Columns are found by header name,
 * case-insensitively: date/datetime/time/timestamp, open, high, low, close, volume;
 * "adj close" and "openinterest" are ignored. Date forms: YYYY-MM-DD,
 * "YYYY-MM-DD HH:MM:SS", ISO-8601 with 'T' and an optional zone (Z, +HH:MM), epoch
 * seconds or milliseconds (an integer of 12 or more digits is milliseconds, as exchanges
 * export them; it must be a whole second), separate Date and Time columns, or any form
 * given as a strptime format (opts.date_format). An "open_time" column is a time column
 * too; opts.columns maps roles to other column names. A row with one more field than the
 * header names is read as Date,Time,... (backtrader's minute files). LF or CRLF.
 * Rows must be in strictly increasing time; anything else is an error that names the
 * file, the line and the field. */
#ifndef BT_FEED_H
#define BT_FEED_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"

typedef struct bt_bar {
  int64_t time;          /* epoch seconds, UTC */
  bt_dec open, high, low, close;
  double volume;         /* not money: kept as a double */
  uint32_t symbol;       /* index of the feed in the run (0-based) */
} bt_bar;

typedef struct bt_feed_opts {
  bool skip_bad_rows;    /* skip (and count) malformed rows instead of failing */
  /* strptime(3) format of the time column, e.g. "%m/%d/%Y" or "%d.%m.%Y %H:%M", read as
   * UTC; NULL/"" = the built-in forms. The whole field must match. */
  const char *date_format;
  /* Column mapping "role=name,...", roles time, date, open, high, low, close, volume:
   * "time=open_time,close=c". Named columns override the header's own names; a name the
   * header lacks is an error. NULL/"" = by header names only. */
  const char *columns;
} bt_feed_opts;

typedef struct bt_feed bt_feed;

/* Open `path` (memory-mapped) and read its header. The symbol name is copied. */
int bt_feed_open(bt_feed **out, const char *path, const char *symbol, uint32_t symbol_index,
                 const bt_feed_opts *opts, bt_err *err);
/* A bar source other than the CSV text (the bar cache, barcache.h). The feed calls
 * next for each bar (it sets bar->symbol itself), progress for bt_feed_progress, and
 * close (may be NULL) when it closes. skipped/first_skipped: what reading the CSV
 * skipped (bt_feed_skipped reports them from the start). */
typedef struct bt_feed_source {
  void *ud;
  int (*next)(void *ud, bt_bar *bar, bt_err *err); /* as bt_feed_next */
  double (*progress)(void *ud);
  void (*close)(void *ud);
  uint64_t skipped;
  long first_skipped;
} bt_feed_source;

/* A feed on `src`; path is the CSV it stands for (bt_feed_path, messages). On failure
 * src->close is called. */
int bt_feed_open_source(bt_feed **out, const char *path, const char *symbol,
                        uint32_t symbol_index, const bt_feed_source *src, bt_err *err);

/* Next bar: 1 = *bar filled, 0 = end of data, <0 = error (err says file:line:field). */
int bt_feed_next(bt_feed *f, bt_bar *bar, bt_err *err);
const char *bt_feed_symbol(const bt_feed *f);
const char *bt_feed_path(const bt_feed *f);
uint64_t bt_feed_rows(const bt_feed *f);          /* good rows returned so far */
uint64_t bt_feed_skipped(const bt_feed *f);       /* malformed rows skipped so far */
long bt_feed_first_skipped_line(const bt_feed *f); /* 0 when none */
/* Fraction of the file consumed so far, 0..1 (for progress reports). */
double bt_feed_progress(const bt_feed *f);
/* The run is done reading: the file, its read window and the bar source go; the symbol,
 * path and row counts stay for messages. bt_feed_next then returns 0 (end of data). */
void bt_feed_release(bt_feed *f);
void bt_feed_close(bt_feed *f);

/* Symbol for a data argument: "SYM=path" gives SYM; otherwise the file name up to the
 * first '-', '_' or '.', upper-cased ("orcl-1995-2014.txt" -> "ORCL"). Writes into buf;
 * *path_out points at the path part of arg. */
void bt_feed_symbol_from_arg(const char *arg, char *buf, size_t buflen, const char **path_out);

/* Parse a timestamp in any of the accepted forms (without a separate time column).
 * Returns false when the text is not a timestamp. */
bool bt_parse_time(const char *s, long len, int64_t *epoch_out);

#endif
