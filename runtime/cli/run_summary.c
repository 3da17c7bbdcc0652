/* run_summary.c - the console's table of a completed run (run_summary.h). */
#include "run_summary.h"

#include <string.h>
#include <unistd.h>

/* 1234567 -> "1,234,567" (also with a sign and decimals: "-1,234.50"). */
static const char *grouped(const char *digits, char *out, size_t n) {
  const char *p = digits;
  size_t o = 0;
  if (*p == '-' && o + 1 < n) out[o++] = *p++;
  size_t int_len = strcspn(p, ".");
  for (size_t i = 0; i < int_len && o + 2 < n; i++) {
    if (i && (int_len - i) % 3 == 0) out[o++] = ',';
    out[o++] = p[i];
  }
  snprintf(out + o, n - o, "%s", p + int_len);
  return out;
}

static const char *count(uint64_t v, char *out, size_t n) {
  char d[24];
  snprintf(d, sizeof d, "%llu", (unsigned long long)v);
  return grouped(d, out, n);
}

static const char *money(bt_dec v, char *out, size_t n) {
  char d[BT_DEC_STRLEN];
  bt_dec_format_fixed(v, 2, d);
  return grouped(d, out, n);
}

static const char *pct(bool has, double v, int decimals, char *out, size_t n) {
  if (!has || v != v) snprintf(out, n, "n/a");
  else snprintf(out, n, "%.*f%%", decimals, 100 * v);
  return out;
}

static const char *ratio(bool has, double v, char *out, size_t n) {
  if (!has || v != v) snprintf(out, n, "n/a");
  else snprintf(out, n, "%.2f", v);
  return out;
}

/* "2015-01-02 .. 2024-12-31", with minutes when the run spans a single day. */
static void period(const bt_run_result *r, char *out, size_t n) {
  char a[32], z[32];
  bt_format_time(r->first_time, a);
  bt_format_time(r->last_time, z);
  if (strncmp(a, z, 10) == 0 && r->first_time != r->last_time)
    snprintf(out, n, "%.10s %.5s .. %.5s", a, a + 11, z + 11);
  else snprintf(out, n, "%.10s .. %.10s", a, z);
}

#define ROW2(l1, v1, l2, v2) fprintf(out, "  %-15s %-20s %-15s %s\n", l1, v1, l2, v2)

void bt_run_summary_print(FILE *out, const char *strategy, const bt_run_result *r) {
  const bt_metrics_result *m = &r->metrics;
  char a[64], b[64], when[64];
  const char *base = strrchr(strategy, '/');
  base = base ? base + 1 : strategy;
  period(r, when, sizeof when);
  fprintf(out, "\n  %s  %s (%s bars", base, when, count(r->bars, a, sizeof a));
  if (r->nsymbols > 1) fprintf(out, ", %d symbols", r->nsymbols);
  else if (r->nsymbols == 1) fprintf(out, ", %s", r->symbols[0].symbol);
  fprintf(out, ")\n\n");

  uint64_t open = 0;
  for (int i = 0; i < r->nsymbols && i < BT_RUN_MAX_SYMBOLS; i++) open += r->symbols[i].open;
  char trades[64];
  if (open) snprintf(trades, sizeof trades, "%s closed, %llu open", count(m->trades, a, sizeof a),
                     (unsigned long long)open);
  else count(m->trades, trades, sizeof trades);
  ROW2("trades", trades, "win rate", pct(m->has_win_rate, m->win_rate, 1, b, sizeof b));
  ROW2("total return", pct(true, m->total_return, 2, a, sizeof a), "profit factor",
       ratio(m->has_profit_factor, m->profit_factor, b, sizeof b));
  ROW2("CAGR", pct(m->has_cagr, m->cagr, 2, a, sizeof a), "max drawdown",
       pct(true, m->max_drawdown, 2, b, sizeof b));
  ROW2("sharpe", ratio(m->has_sharpe, m->sharpe, a, sizeof a), "exposure",
       pct(true, m->exposure, 1, b, sizeof b));
  ROW2("sortino", ratio(m->has_sortino, m->sortino, a, sizeof a), "rejected orders",
       count(r->rejected_orders, b, sizeof b));
  fprintf(out, "  %-15s %s\n", "final equity", money(m->final_equity, a, sizeof a));
  if (r->skipped_rows) fprintf(out, "  %-15s %s\n", "skipped rows", count(r->skipped_rows, a, sizeof a));

  if (r->nsymbols > 1) {
    fprintf(out, "\n  %-12s %10s %7s %9s %15s %15s\n", "symbol", "bars", "trades", "win rate",
            "realized pnl", "open pnl");
    for (int i = 0; i < r->nsymbols && i < BT_RUN_MAX_SYMBOLS; i++) {
      const bt_run_symbol *s = &r->symbols[i];
      char w[16], bars[32], pnl[48], opnl[48] = "-";
      pct(s->trades > 0, s->trades ? (double)s->wins / (double)s->trades : 0, 1, w, sizeof w);
      if (s->open) money(s->open_pnl, opnl, sizeof opnl);
      fprintf(out, "  %-12.12s %10s %7llu %9s %15s %15s\n", s->symbol, count(s->bars, bars, sizeof bars),
              (unsigned long long)s->trades, w, money(s->pnl, pnl, sizeof pnl), opnl);
    }
    if (r->nsymbols > BT_RUN_MAX_SYMBOLS)
      fprintf(out, "  (%d more symbols: see report.html)\n", r->nsymbols - BT_RUN_MAX_SYMBOLS);
  }

  char report[600];
  snprintf(report, sizeof report, "%s/report.html", r->out_dir);
  fputc('\n', out);
  if (access(report, F_OK) == 0) fprintf(out, "  %-15s %s\n", "report", report);
  fprintf(out, "  %-15s %s\n\n", "run dir", r->out_dir);
}
