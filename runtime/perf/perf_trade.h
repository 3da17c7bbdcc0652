/* perf_trade.h - parsing trade-log lines (JSONL, docs/performance.md "Input").
 *
 * One line is one JSON object; only the keys a summary needs are read (pnl, status,
 * exit_time, entry_time, risk, commission, and run_id + trade_id + symbol as the key
 * that lets a later line replace an open trade); other keys are skipped unparsed, so
 * records that grow new fields stay readable. Money is parsed from its text into bt_dec
 * (never through a double). Errors name the file, line and field. */
#ifndef BT_PERF_TRADE_H
#define BT_PERF_TRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"

/* The pnl of an open trade logged before its first mark ("pnl": null): counted as open,
 * left out of the unrealized P&L, and the report is partial. */
#define BT_PERF_PNL_UNKNOWN ((bt_dec){INT64_MIN})
/* Skipped lines whose "file:line" the index keeps (the count is complete). */
#define BT_PERF_SKIP_KEEP 5

/* One parsed trade line. */
typedef struct bt_perf_trade {
  bool closed, has_risk;
  int64_t entry_ts, exit_ts;  /* UTC epoch seconds; exit_ts undefined when open */
  bt_dec pnl, commission, risk;
  uint64_t key;
} bt_perf_trade;

/* What a run's report shows of a trade besides bt_perf_trade: the symbol as it stands
 * in the line (JSON string text; symbol_escaped: it holds escapes; NULL when absent or
 * not a string), qty and entry price (0 when absent). Points into the parsed line. */
typedef struct bt_perf_trade_shown {
  const char *symbol;
  size_t symbol_len;
  bool symbol_escaped;
  double qty, entry_price;
} bt_perf_trade_shown;

/* Parse one line (without its newline); shown (optional) gets the fields above. Errors
 * name file, line and field. */
int bt_perf_parse_trade(const char *p, size_t len, bt_perf_trade *t, bt_perf_trade_shown *shown,
                        const char *file, uint64_t line, bt_err *err);

/* Every line of [p, e) (e just after a newline) parsed into a trade array. Set p, e,
 * file, first_line, strict and shown; t/cap and x/capx may be reused between calls
 * (free(t) and free(x) at the end). */
typedef struct bt_perf_batch {
  const char *p, *e;
  const char *file;
  uint64_t first_line, lines;
  bt_perf_trade *t;
  size_t n, cap;
  bool shown;                   /* x[i] gets what a report shows of t[i] */
  bt_perf_trade_shown *x;
  size_t capx;
  int rc;
  bt_err err;
  bool strict;                  /* a bad line is an error, not skipped */
  uint64_t skipped;
  struct { uint64_t line; char why[200]; } skip[BT_PERF_SKIP_KEEP];
} bt_perf_batch;

/* Parse the batch: b->n trades, b->lines lines; unusable lines are skipped and recorded
 * in skip[] (the first BT_PERF_SKIP_KEEP) unless strict, where the first sets rc/err. */
void bt_perf_batch_parse(bt_perf_batch *b);

#endif
