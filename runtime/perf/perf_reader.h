/* perf_reader.h - trade-log reading and the incremental performance index.
 *
 * Trade logs are JSONL (docs/performance.md, notes on trades.jsonl): one trade per
 * line, money as decimal strings or JSON numbers (always parsed from their text, never
 * through a double). Closed trades are aggregated per market-local day of their exit;
 * open trades are kept apart (unrealized P&L). Every per-day aggregate is a monoid
 * (counts, exact sums, streak runs, drawdown of the running P&L), so any range of days
 * combines exactly without re-reading trades, and a refresh only parses the bytes
 * appended since the last one. The index persists as performance-index.json. */
#ifndef BT_PERF_READER_H
#define BT_PERF_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"
#include "tz.h"

/* Runs of wins (+1) and losses (-1) in exit order; a breakeven trade (0) breaks runs. */
typedef struct bt_perf_streak {
  uint32_t n;                 /* trades in the sequence */
  int8_t pre_sign, suf_sign;  /* sign of the first / last run */
  uint32_t pre_len, suf_len;
  uint32_t max_win, max_loss;
} bt_perf_streak;

/* Running realized P&L starting at 0: total, highest and lowest prefix sums (the empty
 * prefix counts, so max_pre >= 0 >= min_pre) and the largest peak-to-trough fall. */
typedef struct bt_perf_dd {
  bt_dec sum, max_pre, min_pre, dd;
} bt_perf_dd;

typedef struct bt_perf_tail_item {
  bt_dec pnl, risk;  /* risk.v == 0: the trade carried no risk */
} bt_perf_tail_item;

/* Closed trades exiting on one market-local day. */
typedef struct bt_perf_day {
  int64_t day;
  uint32_t trades, wins, losses, r_trades;
  bt_dec gross_profit, gross_loss, commission, r_sum;
  bt_perf_streak streak;
  bt_perf_dd dd;            /* dd.sum is the day's realized P&L */
  uint64_t fp;              /* order-independent fingerprint of the day's trades */
  uint32_t tail_n, tail_pos;
  bt_perf_tail_item *tail;  /* ring of the day's last tail_k closed trades */
} bt_perf_day;

typedef struct bt_perf_open_trade {
  uint64_t key;             /* hash of run_id, trade_id, symbol */
  int64_t entry_day;
  bt_dec pnl;               /* unrealized, at the last mark written */
  uint64_t fp;
} bt_perf_open_trade;

typedef struct bt_perf_file {
  char *path;
  uint64_t dev, ino;
  uint64_t offset;          /* bytes consumed: always just after a newline */
  uint64_t lines;           /* lines consumed */
  uint32_t head_crc, tail_crc; /* crc32 of the first / last <= 4 KiB consumed */
  bool partial;             /* bytes after offset without a final newline */
} bt_perf_file;

/* The pnl of an open trade logged before its first mark ("pnl": null): counted as open,
 * left out of the unrealized P&L, and the report is partial. */
#define BT_PERF_PNL_UNKNOWN ((bt_dec){INT64_MIN})
/* Skipped lines whose "file:line" the index keeps (the count is complete). */
#define BT_PERF_SKIP_KEEP 5

typedef struct bt_perf_index {
  char source[1024];
  const bt_tz *tz;          /* not owned: the market zone days are counted in */
  char tz_label[128];       /* bt_perf_tz_label: an index made for another zone is rebuilt */
  uint32_t tail_k;
  bt_perf_file *files;
  size_t nfiles;
  bt_perf_day *days;        /* sorted by day */
  size_t ndays, capdays;
  bt_perf_open_trade *open;
  size_t nopen, capopen;
  bool strict;              /* a line that cannot be used is an error (else skipped) */
  uint64_t skipped_lines;   /* lines skipped as unusable, since the index was built */
  char skipped_first[BT_PERF_SKIP_KEEP][300]; /* "file:line" of the first ones */
  bool dirty;               /* differs from what was loaded */
  bool overflow;            /* a sum left the bt_dec range */
  size_t last_hit;
  /* statistics of the last refresh */
  uint64_t bytes_read, lines_read;
  bool rebuilt;
} bt_perf_index;

/* One parsed trade line. */
typedef struct bt_perf_trade {
  bool closed, has_risk;
  int64_t entry_ts, exit_ts;  /* UTC epoch seconds; exit_ts undefined when open */
  bt_dec pnl, commission, risk;
  uint64_t key;
} bt_perf_trade;

void bt_perf_index_init(bt_perf_index *ix, const char *source, const bt_tz *tz,
                        uint32_t tail_k);
void bt_perf_index_free(bt_perf_index *ix);

/* Parse one line (without its newline). Errors name file, line and field. */
int bt_perf_parse_trade(const char *p, size_t len, bt_perf_trade *t, const char *file,
                        uint64_t line, bt_err *err);
/* Aggregate one trade into the index (a closed trade supersedes an open one with the
 * same key). */
int bt_perf_index_add(bt_perf_index *ix, const bt_perf_trade *t, bt_err *err);
/* Parse and add every complete line of buf; *consumed = bytes up to the last newline,
 * *nlines = lines consumed. first_line is the 1-based number of buf's first line. */
int bt_perf_index_add_buffer(bt_perf_index *ix, const char *buf, size_t len, const char *file,
                             uint64_t first_line, size_t *consumed, uint64_t *nlines,
                             bt_err *err);

/* Bring the index up to date with the trade logs under ix->source (a .jsonl file or a
 * directory of *.jsonl files): reads only bytes appended since the last refresh; starts
 * over when a file shrank, was replaced or rewritten (head/tail checksums), vanished, or
 * when force_cold. */
int bt_perf_index_refresh(bt_perf_index *ix, bool force_cold, bt_err *err);
bool bt_perf_index_partial(const bt_perf_index *ix);

/* Load from the JSON text of performance-index.json. Returns 0 when loaded, 1 when the
 * text is unusable or made for another source/timezone/tail size (ix reset, fresh). */
int bt_perf_index_load(bt_perf_index *ix, const char *json, size_t len);
/* Serialize; returns a malloc'd NUL-terminated string (NULL on out of memory). */
char *bt_perf_index_dump(const bt_perf_index *ix, size_t *len);

/* Index of the first day >= day (ndays when none). */
size_t bt_perf_index_lower(const bt_perf_index *ix, int64_t day);

void bt_perf_streak_combine(bt_perf_streak *a, const bt_perf_streak *b);
bool bt_perf_dd_combine(bt_perf_dd *a, const bt_perf_dd *b); /* false on overflow */

#endif
