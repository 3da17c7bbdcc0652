/* metrics.h - streaming run statistics (O(1) memory in the number of bars).
 *
 * Equity is sampled after every bar; returns are taken between the closing equity of
 * consecutive UTC days (so minute and daily data are treated alike) and annualised
 * with 252 periods a year. Definitions (docs/outputs.md repeats them):
 *   total_return  = final_equity / initial_cash - 1
 *   cagr          = (final_equity / initial_cash)^(1 / years) - 1, years = span / 365.25 d
 *   sharpe        = mean(daily r) / stdev(daily r, n-1) * sqrt(252)          (rf = 0)
 *   sortino       = mean(daily r) / sqrt(mean(min(r,0)^2)) * sqrt(252)
 *   max_drawdown  = max over time of 1 - equity / running peak (0..1)
 *   win_rate      = winning closed trades / closed trades (pnl > 0 wins)
 *   profit_factor = gross profit / |gross loss| (null when no losing trade)
 *   expectancy    = total closed pnl / closed trades (money)
 *   exposure      = bars with any open position / bars
 * The peak starts at initial_cash. A day's return needs a previous day with equity > 0;
 * sharpe needs >= 2 returns with non-zero spread, sortino a negative return, cagr a
 * positive final equity and a time span (the has_* flags say which are defined).
 * Ratios are doubles (they are statistics, not money); money stays bt_dec. */
#ifndef BT_METRICS_H
#define BT_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "decimal.h"
#include "ledger.h"

typedef struct bt_metrics {
  /* inputs accumulated */
  bt_dec initial_cash;
  uint64_t bars;
  uint64_t bars_exposed;
  int64_t first_time, last_time;
  bt_dec final_equity;
  bt_dec peak_equity;
  double max_drawdown;
  /* daily returns */
  int64_t cur_day;          /* UTC day number of the last sample */
  bt_dec day_close_equity;  /* equity at the last sample of cur_day */
  bt_dec prev_day_equity;   /* equity at the close of the previous day */
  bool have_prev_day;
  uint64_t n_returns;
  double ret_mean, ret_m2, downside_sq_sum;  /* Welford mean/M2, sum of min(r,0)^2 */
  /* closed trades */
  uint64_t trades, wins, losses;
  bt_dec gross_profit, gross_loss, total_pnl;  /* gross_loss is a sum of losses: <= 0 */
} bt_metrics;

typedef struct bt_metrics_result {
  uint64_t bars, trades, wins, losses;
  bt_dec final_equity, total_pnl, gross_profit, gross_loss, expectancy;
  double total_return, cagr, sharpe, sortino, max_drawdown, win_rate, profit_factor, exposure;
  bool has_sharpe, has_sortino, has_profit_factor, has_win_rate, has_cagr;
} bt_metrics_result;

void bt_metrics_init(bt_metrics *m, bt_dec initial_cash);
/* After each bar: equity now, whether any position is open. Returns the current
 * drawdown (0..1) for the equity curve. */
double bt_metrics_on_equity(bt_metrics *m, int64_t time, bt_dec equity, bool exposed);
/* Count a closed trade. BT_ERANGE (metrics unchanged) if a pnl sum would overflow. */
int bt_metrics_on_trade(bt_metrics *m, const bt_trade *closed);
void bt_metrics_finish(const bt_metrics *m, bt_metrics_result *out);

#endif
