/* perf_index.h - the performance index: per-day aggregates of closed trades and the
 * open trades, built from parsed trade lines (perf_trade.h).
 *
 * Closed trades are aggregated per market-local day of their exit; open trades are kept
 * apart (unrealized P&L). Every per-day aggregate is a monoid (counts, exact sums,
 * streak runs, drawdown of the running P&L), so any range of days combines exactly
 * without re-reading trades. Reading the log files incrementally is perf_source.h,
 * persisting the index is perf_index_json.h. */
#ifndef BT_PERF_INDEX_H
#define BT_PERF_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"
#include "perf_trade.h"
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

typedef struct bt_perf_index {
  char source[1024];
  const bt_tz *tz;          /* not owned: the market zone days are counted in */
  char tz_label[128];       /* bt_perf_tz_label: an index made for another zone is rebuilt */
  uint32_t tail_k;
  bt_perf_file *files;
  size_t nfiles, capfiles;
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
  /* Optional: bt_perf_index_add_buffer hands each trade it adds, in file order, with
   * what a report shows of it (pointing into the buffer) to on_trade, so a run's report
   * reads each line once and leaves out exactly the lines the summary leaves out. */
  void (*on_trade)(void *ctx, const bt_perf_trade *t, const bt_perf_trade_shown *shown);
  void *on_trade_ctx;
  /* statistics of the last refresh */
  uint64_t bytes_read, lines_read;
  bool rebuilt;
} bt_perf_index;

void bt_perf_index_init(bt_perf_index *ix, const char *source, const bt_tz *tz,
                        uint32_t tail_k);
void bt_perf_index_free(bt_perf_index *ix);
/* Drop every file, day and open trade (the source, zone and tail size stay). */
void bt_perf_index_reset(bt_perf_index *ix);

/* Aggregate one trade into the index (a closed trade supersedes an open one with the
 * same key). */
int bt_perf_index_add(bt_perf_index *ix, const bt_perf_trade *t, bt_err *err);
/* Parse and add every complete line of buf; *consumed = bytes up to the last newline,
 * *nlines = lines consumed. first_line is the 1-based number of buf's first line. */
int bt_perf_index_add_buffer(bt_perf_index *ix, const char *buf, size_t len, const char *file,
                             uint64_t first_line, size_t *consumed, uint64_t *nlines,
                             bt_err *err);
/* Skipped lines, a partial last line or an open trade of unknown P&L. */
bool bt_perf_index_partial(const bt_perf_index *ix);

/* Index of the first day >= day (ndays when none). */
size_t bt_perf_index_lower(const bt_perf_index *ix, int64_t day);

void bt_perf_streak_combine(bt_perf_streak *a, const bt_perf_streak *b);
bool bt_perf_dd_combine(bt_perf_dd *a, const bt_perf_dd *b); /* false on overflow */

#endif
