#include "perf_summary.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "log.h"
#include "perf_hash.h"

static double ratio(bt_dec a, bt_dec b) { return bt_dec_to_double(a) / bt_dec_to_double(b); }

int bt_perf_summarize(const bt_perf_index *ix, bt_perf_window w, int64_t start, int64_t end,
                      bt_perf_summary *s, bt_err *err) {
  memset(s, 0, sizeof *s);
  s->window = w, s->start = start, s->end = end;
  memcpy(s->timezone, ix->tz_label, sizeof s->timezone);
  s->partial = bt_perf_index_partial(ix);
  s->skipped_lines = ix->skipped_lines;
  memcpy(s->skipped_first, ix->skipped_first, sizeof s->skipped_first);
  if (ix->ndays) {
    s->has_data = true;
    s->first_data_day = ix->days[0].day;
    s->last_data_day = ix->days[ix->ndays - 1].day;
  }
  uint64_t h = bt_perf_mix64((uint64_t)w * 31 + (uint64_t)start) ^
               bt_perf_mix64((uint64_t)end + 7) ^
               bt_perf_mix64(bt_perf_fnv(BT_PERF_FNV_BASIS, ix->tz_label, strlen(ix->tz_label)) + 11) ^
               (s->partial ? 0x5bd1e995ULL : 0);
  bt_perf_streak st = {0};
  bt_perf_dd dd = {0};
  size_t first = bt_perf_index_lower(ix, start), last = bt_perf_index_lower(ix, end + 1);
  if (last > first) {
    s->series = calloc(last - first, sizeof *s->series);
    if (!s->series) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  bool ovf = false;
  for (size_t i = first; i < last; i++) {
    const bt_perf_day *d = &ix->days[i];
    s->trades += d->trades, s->wins += d->wins, s->losses += d->losses;
    s->r_trades += d->r_trades;
    ovf |= !bt_dec_add(s->gross_profit, d->gross_profit, &s->gross_profit);
    ovf |= !bt_dec_add(s->gross_loss, d->gross_loss, &s->gross_loss);
    ovf |= !bt_dec_add(s->commission, d->commission, &s->commission);
    bt_perf_streak_combine(&st, &d->streak);
    ovf |= !bt_perf_dd_combine(&dd, &d->dd);
    bt_perf_point *pt = &s->series[s->nseries++];
    pt->day = d->day, pt->trades = d->trades, pt->wins = d->wins, pt->losses = d->losses;
    pt->pnl = d->dd.sum, pt->equity = dd.sum;
    ovf |= !bt_dec_sub(dd.max_pre, dd.sum, &pt->drawdown);
    pt->win_rate = s->trades ? (double)s->wins / s->trades : 0;
    h ^= bt_perf_mix64((uint64_t)d->day ^ bt_perf_mix64(d->fp + d->trades));
  }
  /* average R: exact sum of per-trade R values, averaged once */
  bt_dec r_total = BT_DEC_ZERO;
  for (size_t i = first; i < last; i++) ovf |= !bt_dec_add(r_total, ix->days[i].r_sum, &r_total);
  for (size_t i = 0; i < ix->nopen; i++) {
    const bt_perf_open_trade *o = &ix->open[i];
    if (o->entry_day > end) continue;
    s->open_trades++;
    if (o->pnl.v == BT_PERF_PNL_UNKNOWN.v) s->open_unknown_pnl++; /* left out, flagged */
    else ovf |= !bt_dec_add(s->unrealized_pnl, o->pnl, &s->unrealized_pnl);
    h ^= bt_perf_mix64(o->fp + 0x632be59bd9b4e019ULL);
  }
  if (ovf) {
    bt_perf_summary_free(s);
    return bt_errf(err, BT_ERANGE, "overflow", "performance sums exceed the decimal range");
  }
  s->checksum = bt_perf_mix64(h);
  s->breakeven = s->trades - s->wins - s->losses;
  s->no_trades = s->trades == 0;
  s->realized_pnl = dd.sum;
  s->max_drawdown = dd.dd;
  bt_dec_add(s->realized_pnl, s->unrealized_pnl, &s->total_pnl);
  s->cur_streak_sign = st.n ? st.suf_sign : 0;
  s->cur_streak = s->cur_streak_sign ? st.suf_len : 0;
  s->longest_win_streak = st.max_win;
  s->longest_loss_streak = st.max_loss;
  if (s->trades) {
    s->win_rate = (double)s->wins / s->trades;
    bt_dec_muldiv(s->realized_pnl, 1, s->trades, &s->expectancy);
    if (s->wins) bt_dec_muldiv(s->gross_profit, 1, s->wins, &s->avg_win);
    if (s->losses) bt_dec_muldiv(s->gross_loss, 1, s->losses, &s->avg_loss);
    /* Ratios from the exact sums, not from the rounded averages. */
    s->has_profit_factor = s->losses > 0 || s->wins == 0;
    s->profit_factor = s->losses ? ratio(s->gross_profit, bt_dec_abs(s->gross_loss)) : 0;
    s->has_payoff_ratio = s->has_profit_factor;
    s->payoff_ratio = s->losses && s->wins ? s->profit_factor * s->losses / s->wins : 0;
    if (s->r_trades) {
      s->has_avg_r_multiple = true;
      s->avg_r_multiple = bt_dec_to_double(r_total) / s->r_trades;
    }
  } else {
    s->has_profit_factor = s->has_payoff_ratio = true; /* zeros when nothing traded */
  }
  return 0;
}

void bt_perf_summary_free(bt_perf_summary *s) {
  free(s->series);
  free(s->checks);
  s->series = NULL, s->checks = NULL;
  s->nseries = s->nchecks = s->capchecks = 0;
}

bt_perf_check *bt_perf_summary_add_check(bt_perf_summary *s) {
  if (BT_GROW(s->checks, s->capchecks, s->nchecks + 1)) return NULL;
  bt_perf_check *c = &s->checks[s->nchecks++];
  memset(c, 0, sizeof *c);
  return c;
}

void bt_perf_rolling_last(const bt_perf_index *ix, int64_t end_day, uint32_t n,
                          bt_perf_rolling *out) {
  memset(out, 0, sizeof *out);
  size_t i = bt_perf_index_lower(ix, end_day + 1);
  /* tail_k >= n, so a day holding fewer trades than still needed is complete in its tail. */
  while (i > 0 && out->n < n) {
    const bt_perf_day *d = &ix->days[--i];
    if (!out->n && d->tail_n) out->last_day = d->day;
    if (d->tail_n) out->first_day = d->day;
    for (uint32_t k = 0; k < d->tail_n && out->n < n; k++) {
      uint32_t at = (d->tail_pos + ix->tail_k - 1 - k) % ix->tail_k;
      const bt_perf_tail_item *t = &d->tail[at];
      int sg = bt_dec_sign(t->pnl);
      out->n++;
      if (sg > 0) out->wins++, bt_dec_add(out->gross_profit, t->pnl, &out->gross_profit);
      if (sg < 0) out->losses++, bt_dec_add(out->gross_loss, t->pnl, &out->gross_loss);
      bt_dec r;
      if (t->risk.v && bt_dec_div(t->pnl, t->risk, &r)) {
        out->r_trades++;
        bt_dec_add(out->r_sum, r, &out->r_sum);
      }
    }
  }
}

void bt_perf_summary_checksum(const bt_perf_summary *s, uint64_t extra, char out[24]) {
  snprintf(out, 24, "%016" PRIx64, bt_perf_mix64(s->checksum ^ bt_perf_mix64(extra)));
}

void bt_perf_summary_basename(const bt_perf_summary *s, char out[80]) {
  char a[16], b[16];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, b);
  if (s->window == BT_PERF_CUSTOM) snprintf(out, 80, "custom-summary-%s--%s", a, b);
  else snprintf(out, 80, "%s-summary-%s", bt_perf_window_name(s->window), a);
}

void bt_perf_money_json(bt_dec d, char out[40]) {
  char s[BT_DEC_STRLEN];
  bt_dec_format(d, s);
  snprintf(out, 40, "\"%s\"", s);
}

static void put_money(bt_json_buf *b, bt_dec d) {
  char s[40];
  bt_perf_money_json(d, s);
  bt_json_put(b, s, strlen(s));
}

/* %.10g (ratios need no more), null when unknown or not finite; no "-0". */
static void put_num(bt_json_buf *b, bool has, double v) {
  if (!has || !isfinite(v)) bt_json_put(b, "null", 4);
  else if (v == 0) bt_json_putc(b, '0');
  else bt_json_printf(b, "%.10g", v);
}

static void put_str(bt_json_buf *b, const char *s) { bt_json_str(b, s, strlen(s)); }

static void put_day(bt_json_buf *b, bool has, int64_t day) {
  char d[16];
  if (!has) {
    bt_json_printf(b, "null");
    return;
  }
  bt_perf_day_format(day, d);
  bt_json_printf(b, "\"%s\"", d);
}

static const char *const check_status[] = {"ok", "breach", "skipped"};

char *bt_perf_summary_json(const bt_perf_summary *s, const char *generated_at,
                           uint64_t checksum_extra, size_t *len) {
  bt_json_buf b = {0};
  char a[16], e[16], ck[24];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, e);
  bt_perf_summary_checksum(s, checksum_extra, ck);
  bt_json_printf(&b,
                    "{\n  \"schema\": \"btrun.performance.summary/1\",\n  \"window\": \"%s\",\n"
                    "  \"period_start\": \"%s\",\n  \"period_end\": \"%s\",\n"
                    "  \"timezone\": \"%s\",\n  \"generated_at\": ",
                     bt_perf_window_name(s->window), a, e, s->timezone);
  put_str(&b, generated_at ? generated_at : "");
  bt_json_printf(&b,
                    ",\n  \"source_checksum\": \"%s\",\n  \"partial\": %s,\n  \"no_trades\": %s,\n"
                    "  \"trades\": %u,\n  \"wins\": %u,\n  \"losses\": %u,\n  \"breakeven\": %u,\n"
                    "  \"open_trades\": %u,\n  \"win_rate\": ",
                    ck, s->partial ? "true" : "false", s->no_trades ? "true" : "false", s->trades,
                    s->wins, s->losses, s->breakeven, s->open_trades);
  put_num(&b, true, s->win_rate);
  bt_json_printf(&b,
                    ",\n  \"current_streak\": {\"kind\": \"%s\", \"length\": %u},\n"
                    "  \"longest_win_streak\": %u,\n  \"longest_loss_streak\": %u,\n"
                    "  \"avg_win\": ",
                    s->cur_streak_sign > 0 ? "win" : s->cur_streak_sign < 0 ? "loss" : "none",
                    s->cur_streak, s->longest_win_streak, s->longest_loss_streak);
  put_money(&b, s->avg_win);
  bt_json_printf(&b, ",\n  \"avg_loss\": ");
  put_money(&b, s->avg_loss);
  bt_json_printf(&b, ",\n  \"payoff_ratio\": ");
  put_num(&b, s->has_payoff_ratio, s->payoff_ratio);
  bt_json_printf(&b, ",\n  \"avg_r_multiple\": ");
  put_num(&b, s->has_avg_r_multiple, s->avg_r_multiple);
  bt_json_printf(&b, ",\n  \"r_trades\": %u,\n  \"profit_factor\": ", s->r_trades);
  put_num(&b, s->has_profit_factor, s->profit_factor);
  static const char *const money_names[] = {"expectancy",   "gross_profit",   "gross_loss",
                                            "commission",   "realized_pnl",   "unrealized_pnl",
                                            "total_pnl",    "max_drawdown"};
  const bt_dec money[] = {s->expectancy,   s->gross_profit,   s->gross_loss, s->commission,
                          s->realized_pnl, s->unrealized_pnl, s->total_pnl,  s->max_drawdown};
  for (size_t i = 0; i < sizeof money / sizeof money[0]; i++) {
    bt_json_printf(&b, ",\n  \"%s\": ", money_names[i]);
    put_money(&b, money[i]);
  }
  /* what could not be used: the report is partial when any of these is non-zero */
  bt_json_printf(&b, ",\n  \"open_trades_unknown_pnl\": %u,\n  \"skipped_lines\": %" PRIu64
                     ",\n  \"skipped_line_numbers\": [",
                 s->open_unknown_pnl, s->skipped_lines);
  for (uint64_t i = 0; i < s->skipped_lines && i < BT_PERF_SKIP_KEEP; i++) {
    if (i) bt_json_printf(&b, ", ");
    put_str(&b, s->skipped_first[i]);
  }
  bt_json_printf(&b, "]");
  bt_json_printf(&b, ",\n  \"days\": [");
  for (size_t i = 0; i < s->nseries; i++) {
    const bt_perf_point *p = &s->series[i];
    char d[16];
    bt_perf_day_format(p->day, d);
    bt_json_printf(&b, "%s\n    {\"date\": \"%s\", \"trades\": %u, \"wins\": %u, \"losses\": %u, \"pnl\": ",
                      i ? "," : "", d, p->trades, p->wins, p->losses);
    put_money(&b, p->pnl);
    bt_json_printf(&b, ", \"equity\": ");
    put_money(&b, p->equity);
    bt_json_printf(&b, ", \"drawdown\": ");
    put_money(&b, p->drawdown);
    bt_json_printf(&b, ", \"win_rate\": ");
    put_num(&b, true, p->win_rate);
    bt_json_printf(&b, "}");
  }
  bt_json_printf(&b, "%s],\n  \"targets\": [", s->nseries ? "\n  " : "");
  for (size_t i = 0; i < s->nchecks; i++) {
    const bt_perf_check *c = &s->checks[i];
    bt_json_printf(&b, "%s\n    {\"name\": ", i ? "," : "");
    put_str(&b, c->name);
    bt_json_printf(&b, ", \"type\": ");
    put_str(&b, c->type);
    bt_json_printf(&b, ", \"op\": \"%s\", \"actual\": %s, \"target\": %s, \"variance\": ", c->op,
                      c->actual[0] ? c->actual : "null", c->target[0] ? c->target : "null");
    put_num(&b, c->has_variance, c->variance);
    bt_json_printf(&b, ", \"status\": \"%s\", \"severity\": ", check_status[c->status]);
    put_str(&b, c->severity);
    bt_json_printf(&b, ", \"window_trades\": %u, \"rolling_start\": ", c->window_trades);
    put_day(&b, c->has_rolling_range, c->rolling_start);
    bt_json_printf(&b, ", \"rolling_end\": ");
    put_day(&b, c->has_rolling_range, c->rolling_end);
    bt_json_printf(&b, ", \"note\": ");
    put_str(&b, c->note);
    bt_json_printf(&b, ", \"alert_id\": ");
    if (c->alert_id[0]) put_str(&b, c->alert_id);
    else bt_json_printf(&b, "null");
    bt_json_printf(&b, "}");
  }
  bt_json_printf(&b, "%s]\n}\n", s->nchecks ? "\n  " : "");
  return bt_json_take(&b, len);
}
