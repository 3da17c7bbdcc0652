#include "metrics.h"

#include <math.h>
#include <string.h>

#define SECONDS_PER_DAY 86400
#define PERIODS_PER_YEAR 252.0

void bt_metrics_init(bt_metrics *m, bt_dec initial_cash) {
  memset(m, 0, sizeof *m);
  m->initial_cash = initial_cash;
  m->final_equity = initial_cash;
  m->peak_equity = initial_cash;
}

static int64_t utc_day(int64_t t) {
  /* floor division: times before 1970 are negative */
  return t >= 0 ? t / SECONDS_PER_DAY : -((-t + SECONDS_PER_DAY - 1) / SECONDS_PER_DAY);
}

/* Welford update of the daily-return statistics with r. */
static void add_return(uint64_t *n, double *mean, double *m2, double *down, double r) {
  (*n)++;
  double d = r - *mean;
  *mean += d / (double)*n;
  *m2 += d * (r - *mean);
  if (r < 0) *down += r * r;
}

/* Return of a finished day against the previous one; false when undefined (no previous
 * day, or a previous equity <= 0 that a ratio cannot be taken against). */
static bool day_return(bt_dec prev, bool have_prev, bt_dec close, double *r) {
  if (!have_prev || bt_dec_sign(prev) <= 0) return false;
  *r = bt_dec_to_double(close) / bt_dec_to_double(prev) - 1.0;
  return true;
}

double bt_metrics_on_equity(bt_metrics *m, int64_t time, bt_dec equity, bool exposed) {
  int64_t day = utc_day(time);
  if (m->bars == 0) {
    m->first_time = time;
    m->cur_day = day;
  } else if (day != m->cur_day) {
    double r;
    if (day_return(m->prev_day_equity, m->have_prev_day, m->day_close_equity, &r))
      add_return(&m->n_returns, &m->ret_mean, &m->ret_m2, &m->downside_sq_sum, r);
    m->prev_day_equity = m->day_close_equity;
    m->have_prev_day = true;
    m->cur_day = day;
  }
  m->day_close_equity = equity;
  m->bars++;
  if (exposed) m->bars_exposed++;
  m->last_time = time;
  m->final_equity = equity;
  if (bt_dec_cmp(equity, m->peak_equity) > 0) m->peak_equity = equity;
  double dd = 0.0;
  if (bt_dec_sign(m->peak_equity) > 0)
    dd = 1.0 - bt_dec_to_double(equity) / bt_dec_to_double(m->peak_equity);
  if (dd > m->max_drawdown) m->max_drawdown = dd;
  return dd;
}

int bt_metrics_on_trade(bt_metrics *m, const bt_trade *closed) {
  bt_dec total, gross = closed->pnl;
  int sign = bt_dec_sign(closed->pnl);
  if (!bt_dec_add(m->total_pnl, closed->pnl, &total)) return BT_ERANGE;
  if (sign > 0 && !bt_dec_add(m->gross_profit, closed->pnl, &gross)) return BT_ERANGE;
  if (sign < 0 && !bt_dec_add(m->gross_loss, closed->pnl, &gross)) return BT_ERANGE;
  m->total_pnl = total;
  if (sign > 0) m->gross_profit = gross, m->wins++;
  if (sign < 0) m->gross_loss = gross, m->losses++;
  m->trades++;
  return BT_OK;
}

void bt_metrics_finish(const bt_metrics *m, bt_metrics_result *out) {
  memset(out, 0, sizeof *out);
  out->bars = m->bars;
  out->trades = m->trades;
  out->wins = m->wins;
  out->losses = m->losses;
  out->final_equity = m->final_equity;
  out->total_pnl = m->total_pnl;
  out->gross_profit = m->gross_profit;
  out->gross_loss = m->gross_loss;
  out->max_drawdown = m->max_drawdown;

  double init = bt_dec_to_double(m->initial_cash), fin = bt_dec_to_double(m->final_equity);
  /* (final - initial) / initial in exact decimals, so 105015 / 100000 reads 0.05015 */
  bt_dec gain, ret;
  if (init > 0 && bt_dec_sub(m->final_equity, m->initial_cash, &gain) &&
      bt_dec_div(gain, m->initial_cash, &ret))
    out->total_return = bt_dec_to_double(ret);
  else if (init > 0)
    out->total_return = fin / init - 1.0;
  double years = (double)(m->last_time - m->first_time) / (365.25 * SECONDS_PER_DAY);
  if (init > 0 && fin > 0 && years > 0) {
    out->cagr = pow(fin / init, 1.0 / years) - 1.0;
    out->has_cagr = true;
  }

  /* The last day is still open in m: close it on a copy of the return statistics. */
  uint64_t n = m->n_returns;
  double mean = m->ret_mean, m2 = m->ret_m2, down = m->downside_sq_sum, r;
  if (m->bars > 0 && day_return(m->prev_day_equity, m->have_prev_day, m->day_close_equity, &r))
    add_return(&n, &mean, &m2, &down, r);
  if (n >= 2 && m2 > 0) {
    out->sharpe = mean / sqrt(m2 / (double)(n - 1)) * sqrt(PERIODS_PER_YEAR);
    out->has_sharpe = true;
  }
  if (n >= 1 && down > 0) {
    out->sortino = mean / sqrt(down / (double)n) * sqrt(PERIODS_PER_YEAR);
    out->has_sortino = true;
  }

  if (m->trades > 0) {
    out->win_rate = (double)m->wins / (double)m->trades;
    out->has_win_rate = true;
    bt_dec_muldiv(m->total_pnl, 1, (int64_t)m->trades, &out->expectancy); /* |result| <= |total| */
  }
  if (m->losses > 0) {
    out->profit_factor = bt_dec_to_double(m->gross_profit) / -bt_dec_to_double(m->gross_loss);
    out->has_profit_factor = true;
  }
  if (m->bars > 0) out->exposure = (double)m->bars_exposed / (double)m->bars;
}
