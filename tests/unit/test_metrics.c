/* Metrics: every statistic against values worked out by hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "metrics.h"

#include "check.h"
#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)


#define DAY 86400
#define HOUR 3600

static void test_equity_statistics(void) {
  bt_metrics m;
  bt_metrics_init(&m, DEC("100"));
  int64_t d0 = 1000LL * DAY;
  /* Intraday samples do not count for returns, only each day's last one:
   * closes 100, 110, 99, 108.9 -> daily returns +0.1, -0.1, +0.1. */
  CHECK(NEAR(bt_metrics_on_equity(&m, d0 + 9 * HOUR, DEC("100"), false), 0));
  bt_metrics_on_equity(&m, d0 + 16 * HOUR, DEC("100"), false);
  bt_metrics_on_equity(&m, d0 + DAY + 10 * HOUR, DEC("104"), true);
  bt_metrics_on_equity(&m, d0 + DAY + 16 * HOUR, DEC("110"), true);
  /* drawdown from the 110 peak: 1 - 95/110 = 3/22 */
  CHECK(NEAR(bt_metrics_on_equity(&m, d0 + 2 * DAY + 10 * HOUR, DEC("95"), true), 3.0 / 22.0));
  CHECK(NEAR(bt_metrics_on_equity(&m, d0 + 2 * DAY + 16 * HOUR, DEC("99"), false), 0.1));
  bt_metrics_on_equity(&m, d0 + 3 * DAY + 16 * HOUR, DEC("108.9"), false);

  bt_metrics_result r;
  bt_metrics_finish(&m, &r);
  CHECK(r.bars == 7);
  CHECK(r.final_equity.v == DEC("108.9").v);
  CHECK(NEAR(r.total_return, 0.089));
  CHECK(NEAR(r.max_drawdown, 3.0 / 22.0));
  CHECK(NEAR(r.exposure, 3.0 / 7.0));
  /* mean = 0.1/3 = 1/30; deviations 1/15, -2/15, 1/15 -> sum of squares 6/225, sample
   * variance 3/225 = 1/75, stdev 1/sqrt(75); sharpe = (1/30) * sqrt(75) * sqrt(252)
   * = sqrt(75 * 252) / 30 = sqrt(21) = 4.58257569... */
  CHECK(r.has_sharpe && NEAR(r.sharpe, sqrt(21.0)));
  /* downside: mean of min(r,0)^2 = 0.01/3; sortino = (1/30) / sqrt(1/300) * sqrt(252)
   * = sqrt(300 * 252) / 30 = sqrt(84) = 9.16515138... */
  CHECK(r.has_sortino && NEAR(r.sortino, sqrt(84.0)));
  /* span 3 days 7 hours: cagr = 1.089^(365.25 / (3 + 7/24)) - 1 */
  CHECK(r.has_cagr && NEAR(r.cagr, pow(1.089, 365.25 / (3.0 + 7.0 / 24.0)) - 1.0));
  /* finish does not disturb the running state: more samples continue the same series */
  CHECK(m.n_returns == 2);
}

static void test_cagr_and_edge_cases(void) {
  bt_metrics m;
  bt_metrics_init(&m, DEC("100"));
  /* two years (of 365.25 days) from 100 to 121: cagr = sqrt(1.21) - 1 = 0.1 */
  bt_metrics_on_equity(&m, 0, DEC("100"), false);
  bt_metrics_on_equity(&m, (int64_t)(2 * 365.25 * DAY), DEC("121"), false);
  bt_metrics_result r;
  bt_metrics_finish(&m, &r);
  CHECK(r.has_cagr && NEAR(r.cagr, 0.1));
  CHECK(NEAR(r.total_return, 0.21));
  /* one return (+0.21): no sample stdev, no downside */
  CHECK(!r.has_sharpe && !r.has_sortino);

  /* No bars at all: final equity is the initial cash, nothing else is defined. */
  bt_metrics_init(&m, DEC("100"));
  bt_metrics_finish(&m, &r);
  CHECK(r.bars == 0 && r.final_equity.v == DEC("100").v && r.total_return == 0);
  CHECK(!r.has_cagr && !r.has_sharpe && !r.has_sortino && !r.has_win_rate &&
        !r.has_profit_factor && r.exposure == 0 && r.max_drawdown == 0);

  /* Before 1970 days still split at UTC midnight: -1h and +1h are different days. */
  bt_metrics_init(&m, DEC("100"));
  bt_metrics_on_equity(&m, -HOUR, DEC("100"), false);
  bt_metrics_on_equity(&m, HOUR, DEC("110"), false);
  bt_metrics_on_equity(&m, DAY + HOUR, DEC("99"), false);
  bt_metrics_finish(&m, &r);
  /* returns +0.1 and -0.1: mean 0, so sharpe is defined and 0 */
  CHECK(r.has_sharpe && NEAR(r.sharpe, 0.0));
  CHECK(r.has_sortino && NEAR(r.sortino, 0.0));

  /* A day whose previous close is not positive has no return. */
  bt_metrics_init(&m, DEC("100"));
  bt_metrics_on_equity(&m, 0, DEC("-5"), true);
  bt_metrics_on_equity(&m, DAY, DEC("50"), true);
  bt_metrics_on_equity(&m, 2 * DAY, DEC("25"), true);
  bt_metrics_finish(&m, &r);
  CHECK(!r.has_sharpe && r.has_sortino && NEAR(r.sortino, -sqrt(252.0)));
  CHECK(NEAR(r.max_drawdown, 1.05) && NEAR(r.exposure, 1.0));
}

static void trade(bt_metrics *m, const char *pnl) {
  bt_trade t = {.trade_id = 1, .pnl = DEC(pnl)};
  CHECK(bt_metrics_on_trade(m, &t) == BT_OK);
}

static void test_trades(void) {
  bt_metrics m;
  bt_metrics_init(&m, DEC("1000"));
  trade(&m, "100");
  trade(&m, "-50");
  trade(&m, "0");
  trade(&m, "30");
  bt_metrics_result r;
  bt_metrics_finish(&m, &r);
  /* 4 trades: 2 wins, 1 loss, 1 flat; win rate 2/4; profit factor 130/50;
   * expectancy (100 - 50 + 0 + 30) / 4 = 20 */
  CHECK(r.trades == 4 && r.wins == 2 && r.losses == 1);
  CHECK(r.has_win_rate && NEAR(r.win_rate, 0.5));
  CHECK(r.has_profit_factor && NEAR(r.profit_factor, 2.6));
  CHECK(r.gross_profit.v == DEC("130").v && r.gross_loss.v == DEC("-50").v);
  CHECK(r.total_pnl.v == DEC("80").v && r.expectancy.v == DEC("20").v);

  /* Only winners: no profit factor. Expectancy rounds once: 1 / 3 = 0.33333333 */
  bt_metrics_init(&m, DEC("1000"));
  trade(&m, "0.5");
  trade(&m, "0.25");
  trade(&m, "0.25");
  bt_metrics_finish(&m, &r);
  CHECK(!r.has_profit_factor && r.has_win_rate && NEAR(r.win_rate, 1.0));
  CHECK(r.expectancy.v == DEC("0.33333333").v);

  /* Overflowing sums are refused and leave the counts as they were. */
  bt_metrics_init(&m, DEC("1000"));
  trade(&m, "90000000000");
  bt_trade big = {.pnl = DEC("90000000000")};
  CHECK(bt_metrics_on_trade(&m, &big) == BT_ERANGE);
  CHECK(m.trades == 1 && m.wins == 1 && m.total_pnl.v == DEC("90000000000").v);
}

int main(void) {
  test_equity_statistics();
  test_cagr_and_edge_cases();
  test_trades();
  if (failures) {
    fprintf(stderr, "test_metrics: %d failure(s)\n", failures);
    return 1;
  }
  printf("test_metrics: ok\n");
  return 0;
}
