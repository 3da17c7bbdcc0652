/* perf_summary.h - metrics of one summary window, computed from the per-day index.
 *
 * Definitions (docs/performance.md repeats them; pnl > 0 is a win, < 0 a loss, 0 is
 * breakeven and counts as a trade but neither; open trades are excluded from all of
 * these except unrealized_pnl):
 *   win_rate       = wins / closed trades
 *   avg_win        = gross profit / wins            avg_loss = gross loss / losses (<= 0)
 *   payoff_ratio   = avg_win / |avg_loss|           (null: no losing trade)
 *   avg_r_multiple = mean of pnl / risk over trades carrying "risk" (null: none)
 *   profit_factor  = gross profit / |gross loss|    (null: no losing trade)
 *   expectancy     = realized P&L / closed trades   (money)
 *   max_drawdown   = largest fall of the running realized P&L from its peak inside the
 *                    window, starting at 0 at the window start (money)
 *   streaks        = runs of wins / losses in exit order (file order within a day)
 *   unrealized_pnl = sum of the last marks of trades still open that were entered on or
 *                    before the window's last day
 * A window without closed trades reports zeros and no_trades = true. */
#ifndef BT_PERF_SUMMARY_H
#define BT_PERF_SUMMARY_H

#include <stdbool.h>
#include <stdint.h>

#include "decimal.h"
#include "perf_index.h"
#include "perf_time.h"

/* One day of the window that has closed trades (chart series). */
typedef struct bt_perf_point {
  int64_t day;
  uint32_t trades, wins, losses;
  bt_dec pnl, equity, drawdown;   /* equity: running realized P&L since the window start */
  double win_rate;                /* cumulative since the window start */
} bt_perf_point;

/* A target compared with its actual value (filled by perf_alerts). */
typedef enum { BT_PERF_CHECK_OK, BT_PERF_CHECK_BREACH, BT_PERF_CHECK_SKIPPED } bt_perf_check_status;

typedef struct bt_perf_check {
  char name[64];        /* "win_rate", "risk_reward", "avg_win", "avg_loss", custom rule */
  char type[80];        /* alert type: "win_rate_breach", "risk_reward_breach", ... */
  char op[4];           /* ">=" or "<=" */
  char actual[40], target[40]; /* JSON values: numbers, or decimal strings in quotes */
  double variance;      /* actual - target */
  bool has_variance;
  bt_perf_check_status status;
  char severity[16];
  uint32_t window_trades; /* rolling window size (0: the summary window) */
  bool has_rolling_range; /* a rolling check that saw its trades: */
  int64_t rolling_start, rolling_end; /* exit days of the oldest and newest of them */
  char note[160];
  char alert_id[40];    /* alert raised or already on file for this breach */
} bt_perf_check;

typedef struct bt_perf_summary {
  bt_perf_window window;
  int64_t start, end;
  char timezone[128];   /* bt_perf_tz_label of the market zone */
  uint32_t trades, wins, losses, breakeven, open_trades, r_trades;
  double win_rate, payoff_ratio, avg_r_multiple, profit_factor;
  bool has_payoff_ratio, has_avg_r_multiple, has_profit_factor;
  int cur_streak_sign;  /* +1 wins, -1 losses, 0 none */
  uint32_t cur_streak, longest_win_streak, longest_loss_streak;
  bt_dec avg_win, avg_loss, gross_profit, gross_loss, commission, expectancy;
  bt_dec realized_pnl, unrealized_pnl, total_pnl, max_drawdown;
  bool partial, no_trades;
  uint32_t open_unknown_pnl;      /* open trades logged with "pnl": null */
  uint64_t skipped_lines;         /* unusable trade-log lines skipped (index lifetime) */
  char skipped_first[BT_PERF_SKIP_KEEP][300]; /* "file:line" of the first ones */
  uint64_t checksum;    /* of the index data that fed this window */
  bt_perf_point *series;
  size_t nseries;
  bt_perf_check *checks;
  size_t nchecks, capchecks;
  int64_t first_data_day, last_data_day; /* of the whole index (0/0 when empty) */
  bool has_data;
} bt_perf_summary;

int bt_perf_summarize(const bt_perf_index *ix, bt_perf_window w, int64_t start, int64_t end,
                      bt_perf_summary *out, bt_err *err);
void bt_perf_summary_free(bt_perf_summary *s);
bt_perf_check *bt_perf_summary_add_check(bt_perf_summary *s);

/* Last n closed trades exiting on or before end_day (newest first across days).
 * first_day/last_day: exit days of the oldest and newest of them (when n > 0). */
typedef struct bt_perf_rolling {
  uint32_t n, wins, losses, r_trades;
  bt_dec gross_profit, gross_loss, r_sum;
  int64_t first_day, last_day;
} bt_perf_rolling;
void bt_perf_rolling_last(const bt_perf_index *ix, int64_t end_day, uint32_t n,
                          bt_perf_rolling *out);

/* The summary as a JSON document (schema in docs/performance.md). generated_at is an
 * ISO time string; checksum_extra is mixed into source_checksum (targets, formats). */
char *bt_perf_summary_json(const bt_perf_summary *s, const char *generated_at,
                           uint64_t checksum_extra, size_t *len);
/* "%016llx" of the checksum mixed with checksum_extra, as written in source_checksum. */
void bt_perf_summary_checksum(const bt_perf_summary *s, uint64_t checksum_extra, char out[24]);
/* Money as the JSON documents write it: a quoted decimal string ("12.5"). */
void bt_perf_money_json(bt_dec d, char out[40]);
/* Summary file base name: "{window}-summary-YYYY-MM-DD" (custom: start--end). */
void bt_perf_summary_basename(const bt_perf_summary *s, char out[80]);

#endif
