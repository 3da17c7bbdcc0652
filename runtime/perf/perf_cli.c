/* perf_cli.c - `btrun perf`: summaries, targets and alerts from the command line. */
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "cli_opts.h"
#include "perf.h"
#include "perf_time.h"

const char bt_perf_help[] =
    "usage: btrun perf [--window daily|weekly|monthly] [--start YYYY-MM-DD] [--end YYYY-MM-DD]\n"
    "                  [--all] [--export json|md|html] [--backfill N]\n"
    "                  [--run RUN_DIR|latest | --trades PATH] [--out DIR]\n"
    "                  [--timezone ZONE] [--targets FILE] [--stats] [--strict]\n"
    "       btrun perf watch [--every SECONDS] [--count N] [--window W] [source options]\n"
    "       btrun perf alerts [--all] [--run RUN_DIR|latest | --trades PATH]\n"
    "       btrun perf ack ALERT_ID | --all [--run RUN_DIR|latest | --trades PATH]\n"
    "\n"
    "Summarise trade logs (JSONL) per window, compare with config/targets.lua, raise alerts.\n"
    "  --window W      daily (default), weekly (ISO weeks, Monday start) or monthly\n"
    "  --start/--end   days in market time; with --window: every window from start to end,\n"
    "                  without --window: one custom window [start, end]\n"
    "                  default: the window holding the most recent trade\n"
    "  --all           one row per window (day/week/month) from the first trade (or --start)\n"
    "                  to the last (or --end), windows without trades as empty rows, a total\n"
    "                  row, then the targets of the last window\n"
    "  --backfill N    re-read the logs from scratch and rebuild the summaries of the last N days\n"
    "  --export F      print the rendered json, md or html summary instead of the text view\n"
    "                  (html is also written next to the .json/.md files)\n"
    "  --run DIR       read a backtest's DIR/trades.jsonl; 'latest' = the run directory under\n"
    "                  runs/ (config out_dir) or <data_dir>/runs with the newest result.json;\n"
    "                  summaries go to DIR/performance unless --out is given\n"
    "  --trades PATH   a .jsonl file or a directory of them (config perf.trades, logs/trades)\n"
    "  --out DIR       output directory (config perf.out_dir, logs/performance)\n"
    "  --timezone TZ   market time zone: an IANA name such as America/New_York (days follow\n"
    "                  its DST changes) or a fixed offset such as -05:00\n"
    "                  (PERFORMANCE_SUMMARY_TIMEZONE, config perf.timezone; default UTC)\n"
    "  --targets FILE  targets file (config perf.targets, config/targets.lua)\n"
    "  --stats         print refresh timing and bytes read\n"
    "  --strict        fail on the first trade-log line that cannot be used (default: skip\n"
    "                  it, count it in skipped_lines, log trade_line_skipped, mark partial)\n"
    "Rolling targets (win_rate, risk_reward) look at the last N closed trades up to the\n"
    "window's end, across windows: each target line shows the exit dates they span.\n"
    "watch re-evaluates the current window every --every seconds (default 60) until\n"
    "interrupted or --count evaluations.\n"
    "alerts lists the active alerts (--all: acknowledged too) with the trade log that raised\n"
    "them; ack marks one alert (or --all of them) acknowledged. With --run/--trades both act\n"
    "on that log's alerts only.\n"
    "Files: {window}-summary-YYYY-MM-DD.json/.md(/.html) in the output directory, rewritten only\n"
    "when their source checksum changes; alerts appended to perf.alerts_file.\n"
    "Exit status: 0 healthy, 2 degraded (unacknowledged alerts of this trade log), 1 error.\n"
    "See docs/performance.md.\n";

typedef struct opts {
  bt_perf_window window;
  bool has_window, has_start, has_end, stats, all;
  const char *run;          /* --run DIR|latest */
  bool source_given;        /* --run or --trades: alerts/ack act on that log only */
  bool out_given;
  int64_t start, end;
  const char *export_fmt;
  long backfill;
  double every;
  long count;
} opts;

/* Print the error and release it (a Lua error owns its traceback). */
static const bt_cli_usage USAGE_ERR = {.prog = "btrun perf",
                                       .hint = "(see btrun perf --help)",
                                       .unknown = "unknown argument '%s'",
                                       .needs_value = "%s needs a value"};

static bool color(void) { return isatty(1) && !getenv("NO_COLOR"); }

static void money(char out[BT_DEC_STRLEN], bt_dec d) { bt_dec_format(d, out); }

static void print_targets(const bt_perf_summary *s);

/* Where the numbers come from: the log and the span of its exits, so a window that is a
 * small part of a long backtest says so. */
static void print_log_line(const bt_perf *p, const bt_perf_summary *s) {
  if (!s->has_data) {
    printf("  trade log        %s (no closed trades)\n", p->cfg.trades);
    return;
  }
  char a[16], e[16];
  bt_perf_day_format(s->first_data_day, a);
  bt_perf_day_format(s->last_data_day, e);
  printf("  trade log        %s, exits %s .. %s\n", p->cfg.trades, a, e);
  if (s->window != BT_PERF_CUSTOM && (s->first_data_day < s->start || s->last_data_day > s->end))
    printf("                   (one %s window of it shown; every one: --window %s --all)\n",
           bt_perf_window_name(s->window), bt_perf_window_name(s->window));
}

static void print_summary(const bt_perf *p, const bt_perf_summary *s) {
  char a[16], e[16];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, e);
  printf("Performance %s %s%s%s (%s%s)%s\n", bt_perf_window_name(s->window), a,
         s->start == s->end ? "" : " .. ", s->start == s->end ? "" : e,
         s->timezone[0] == '+' || s->timezone[0] == '-' ? "UTC" : "", s->timezone,
         s->partial ? "  [partial: last line incomplete]" : "");
  print_log_line(p, s);
  if (s->no_trades) {
    printf("  No trades in window%s\n", s->open_trades ? " (open trades only)" : "");
  }
  char w[BT_DEC_STRLEN], l[BT_DEC_STRLEN], x[BT_DEC_STRLEN], r[BT_DEC_STRLEN], u[BT_DEC_STRLEN],
      t[BT_DEC_STRLEN], dd[BT_DEC_STRLEN];
  money(w, s->avg_win), money(l, s->avg_loss), money(x, s->expectancy);
  money(r, s->realized_pnl), money(u, s->unrealized_pnl), money(t, s->total_pnl);
  money(dd, s->max_drawdown);
  printf("  trades           %u (%u wins, %u losses, %u breakeven), %u open\n", s->trades, s->wins,
         s->losses, s->breakeven, s->open_trades);
  printf("  win rate         %.2f%%\n", s->win_rate * 100);
  printf("  current streak   %u %s  (longest: %u wins, %u losses)\n", s->cur_streak,
         s->cur_streak_sign > 0 ? "wins" : s->cur_streak_sign < 0 ? "losses" : "-",
         s->longest_win_streak, s->longest_loss_streak);
  printf("  avg win / loss   %s / %s\n", w, l);
  if (s->has_payoff_ratio) printf("  payoff ratio     %.4f\n", s->payoff_ratio);
  else printf("  payoff ratio     n/a (no losing trade)\n");
  if (s->has_avg_r_multiple) printf("  avg R-multiple   %.4f (%u trades with risk)\n", s->avg_r_multiple, s->r_trades);
  if (s->has_profit_factor) printf("  profit factor    %.4f\n", s->profit_factor);
  else printf("  profit factor    n/a (no losing trade)\n");
  printf("  expectancy       %s\n", x);
  printf("  realized P&L     %s   unrealized %s   total %s\n", r, u, t);
  printf("  max drawdown     %s\n", dd);
  if (!s->nchecks) return;
  print_targets(s);
}

/* Each target on two lines: the comparison, then what it measured: rolling targets
 * look at the last N closed trades up to the window's end, whatever window they fall
 * in, so their exit-date range is printed next to them (it often starts long before the
 * window shown above). */
static void print_targets(const bt_perf_summary *s) {
  bool c = color();
  char a[16], e[16];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, e);
  printf("Targets        actual        goal        variance  status  alert\n");
  for (size_t i = 0; i < s->nchecks; i++) {
    const bt_perf_check *k = &s->checks[i];
    const char *st = k->status == BT_PERF_CHECK_BREACH ? "BREACH" : k->status == BT_PERF_CHECK_OK ? "ok" : "skipped";
    char var[32] = "", goal[48];
    if (k->has_variance) snprintf(var, sizeof var, "%+.4f", k->variance);
    snprintf(goal, sizeof goal, "%s %s", k->op, k->target);
    printf("  %-12s %-13s %-10s %9s  %s%-7s%s", k->name, k->actual[0] ? k->actual : "-", goal, var,
           c && k->status == BT_PERF_CHECK_BREACH ? "\033[1;31m" : "", st,
           c && k->status == BT_PERF_CHECK_BREACH ? "\033[0m" : "");
    if (k->alert_id[0]) printf(" %s", k->alert_id);
    printf("\n");
    char ra[16], re[16];
    if (k->has_rolling_range) {
      bt_perf_day_format(k->rolling_start, ra);
      bt_perf_day_format(k->rolling_end, re);
      printf("      %s%sexits %s .. %s\n", k->note, k->note[0] ? ", " : "", ra, re);
    } else if (k->window_trades) {
      printf("      %s%sno closed trade by %s\n", k->note, k->note[0] ? ", " : "", e);
    } else {
      printf("      %s%sthe window's trades, %s .. %s\n", k->note, k->note[0] ? ", " : "", a, e);
    }
  }
}

static int parse_opts(int argc, char **argv, int first, opts *o, bt_perf_cfg *cfg) {
  static const char *const valued[] = {"--window",   "--start",  "--end",  "--export",
                                       "--backfill", "--trades", "--out",  "--targets",
                                       "--timezone", "--every",  "--count", "--run"};
  enum { NVALUED = sizeof valued / sizeof valued[0] };
  const char *vals[NVALUED] = {0};
  bt_cli_opt table[NVALUED + 4];
  for (int k = 0; k < NVALUED; k++) table[k] = (bt_cli_opt){valued[k], .value = &vals[k]};
  const bt_cli_opt flags[] = {
      {"--stats", .flag = &o->stats}, {"--strict", .flag = &cfg->strict},
      {"--all", .flag = &o->all}, {.name = NULL}};
  memcpy(table + NVALUED, flags, sizeof flags);
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, table, argc, argv, first, &args)) return 1;
  if (args.npos) return bt_cli_usage_error(&USAGE_ERR, "unknown argument '%s'", args.pos[0]);
  for (int k = 0; k < NVALUED; k++) {
    const char *a = valued[k], *v = vals[k];
    if (!v) continue;
    if (strcmp(a, "--window") == 0) {
      if (!bt_perf_window_parse(v, &o->window) || o->window == BT_PERF_CUSTOM)
        return bt_cli_usage_error(&USAGE_ERR,
                                  "--window: expected daily, weekly or monthly, got '%s'", v);
      o->has_window = true;
    } else if (strcmp(a, "--start") == 0) {
      if (!bt_perf_day_parse(v, &o->start))
        return bt_cli_usage_error(&USAGE_ERR, "--start: expected YYYY-MM-DD, got '%s'", v);
      o->has_start = true;
    } else if (strcmp(a, "--end") == 0) {
      if (!bt_perf_day_parse(v, &o->end))
        return bt_cli_usage_error(&USAGE_ERR, "--end: expected YYYY-MM-DD, got '%s'", v);
      o->has_end = true;
    } else if (strcmp(a, "--export") == 0) {
      if (strcmp(v, "json") && strcmp(v, "md") && strcmp(v, "html"))
        return bt_cli_usage_error(&USAGE_ERR, "--export: expected json, md or html, got '%s'", v);
      o->export_fmt = v;
    } else if (strcmp(a, "--backfill") == 0) {
      if (!bt_cli_long(v, 1, 100000, &o->backfill))
        return bt_cli_usage_error(&USAGE_ERR,
                                  "--backfill: expected a number of days 1..100000, got '%s'", v);
    } else if (strcmp(a, "--trades") == 0) {
      if (vals[NVALUED - 1])
        return bt_cli_usage_error(&USAGE_ERR, "--run and --trades name the trade log twice: give one");
      snprintf(cfg->trades, sizeof cfg->trades, "%s", v);
      o->source_given = true;
    } else if (strcmp(a, "--run") == 0) {
      o->run = v;
      o->source_given = true;
    } else if (strcmp(a, "--out") == 0) {
      snprintf(cfg->out_dir, sizeof cfg->out_dir, "%s", v);
      o->out_given = true;
    } else if (strcmp(a, "--targets") == 0) {
      snprintf(cfg->targets, sizeof cfg->targets, "%s", v);
      cfg->targets_explicit = true;
    } else if (strcmp(a, "--timezone") == 0) {
      bt_err err = {0};
      if (bt_perf_timezone_check(v, &err) || strlen(v) >= sizeof cfg->timezone)
        return bt_cli_usage_error(&USAGE_ERR, "--timezone: %s", err.msg);
      snprintf(cfg->timezone, sizeof cfg->timezone, "%s", v);
    } else if (strcmp(a, "--every") == 0) {
      char *end;
      o->every = strtod(v, &end);
      if (*end || !(o->every >= 0.01 && o->every <= 86400))
        return bt_cli_usage_error(&USAGE_ERR,
                                  "--every: expected seconds between 0.01 and 86400, got '%s'", v);
    } else if (strcmp(a, "--count") == 0) {
      if (!bt_cli_long(v, 0, LONG_MAX, &o->count))
        return bt_cli_usage_error(&USAGE_ERR, "--count: expected a number >= 0, got '%s'", v);
    }
  }
  return 0;
}

/* The windows to summarise, oldest first. */
static int select_windows(const bt_perf *p, const opts *o, bt_perf_window *w, int64_t **starts,
                          int64_t **ends, size_t *n) {
  int64_t anchor = o->has_end ? o->end : bt_perf_anchor_day(p);
  *w = o->has_window ? o->window : BT_PERF_DAILY;
  int64_t from = anchor;
  if (o->backfill) from = anchor - o->backfill + 1;
  else if (o->has_start) from = o->start;
  else if (o->all && p->ix.ndays) from = p->ix.days[0].day;
  if (from > anchor) return -1;
  if (o->has_start && !o->has_window && !o->backfill && !o->all) {
    *w = BT_PERF_CUSTOM;
    *starts = malloc(sizeof **starts), *ends = malloc(sizeof **ends);
    if (!*starts || !*ends) return -2;
    (*starts)[0] = from, (*ends)[0] = anchor, *n = 1;
    return 0;
  }
  size_t cap_starts = 0, cap_ends = 0;
  *n = 0;
  for (int64_t d = from; d <= anchor;) {
    int64_t s, e;
    bt_perf_window_bounds(*w, d, &s, &e);
    if (BT_GROW(*starts, cap_starts, *n + 1) || BT_GROW(*ends, cap_ends, *n + 1)) return -2;
    (*starts)[*n] = s, (*ends)[*n] = e, (*n)++;
    d = e + 1;
  }
  return 0;
}

/* One row of the --all table; a window without closed trades is an empty row. */
static void print_row(bt_perf_window w, const char *label, const bt_perf_summary *s) {
  char period[40];
  if (label) {
    snprintf(period, sizeof period, "%s", label);
  } else {
    char a[16], e[16];
    bt_perf_day_format(s->start, a);
    bt_perf_day_format(s->end, e);
    if (w == BT_PERF_DAILY) snprintf(period, sizeof period, "%s", a);
    else snprintf(period, sizeof period, "%s..%s", a, e);
  }
  if (s->no_trades) {
    printf("%-22s %6u\n", period, 0u);
    return;
  }
  char pnl[BT_DEC_STRLEN], dd[BT_DEC_STRLEN];
  bt_dec_format(s->realized_pnl, pnl);
  bt_dec_format(s->max_drawdown, dd);
  printf("%-22s %6u %5u %6u %8.2f%% %13s %12s\n", period, s->trades, s->wins, s->losses,
         s->win_rate * 100, pnl, dd);
}

static void print_table_head(const bt_perf *p, bt_perf_window w, int64_t from, int64_t to) {
  char a[16], e[16], tz[140];
  bt_perf_day_format(from, a);
  bt_perf_day_format(to, e);
  bt_perf_tz_label(p->tz, tz);
  printf("Performance, every %s window %s .. %s (%s%s), %s\n", bt_perf_window_name(w), a, e,
         tz[0] == '+' || tz[0] == '-' ? "UTC" : "", tz, p->cfg.trades);
  printf("%-22s %6s %5s %6s %9s %13s %12s\n", "period", "trades", "wins", "losses", "win rate",
         "realized P&L", "max drawdown");
}

/* The status line under a summary: alerts of this trade log decide the exit status;
 * those of other logs (or written before logs were recorded) are only mentioned. */
static int alerts_status(bt_perf *p, int raised, bool quiet, bt_err *err) {
  int active = 0, other = 0;
  if (bt_perf_alerts_active(p->cfg.alerts_file, p->ix.source, &active, &other, err)) return -1;
  if (quiet) return active ? 2 : 0;
  if (active)
    printf("Alerts: %d active for this trade log (%d new) in %s\n"
           "        list: btrun perf alerts; acknowledge: btrun perf ack ID (or --all)\n",
           active, raised, p->cfg.alerts_file);
  else
    printf("Alerts: none active for this trade log\n");
  if (other)
    printf("        %d active alert%s of other or earlier trade logs (not counted here):\n"
           "        btrun perf alerts lists them with their logs\n",
           other, other == 1 ? "" : "s");
  return active ? 2 : 0;
}

static int cmd_summary(bt_perf *p, const opts *o) {
  bt_err err = {0};
  int rc = bt_perf_refresh(p, o->backfill > 0, &err);
  if (rc) return bt_cli_fail("btrun perf", &err);
  bt_perf_window w;
  int64_t *starts = NULL, *ends = NULL;
  size_t n = 0;
  int sel = select_windows(p, o, &w, &starts, &ends, &n);
  if (sel) {
    free(starts), free(ends);
    if (sel == -1) return bt_cli_usage_error(&USAGE_ERR, "--start is after --end");
    return bt_cli_usage_error(&USAGE_ERR, "out of memory");
  }
  bool html = p->cfg.html || (o->export_fmt && strcmp(o->export_fmt, "html") == 0);
  int exit_code = 0, raised = 0, written = 0, skipped_days = 0;
  char missing[256] = "";
  bt_perf_summary last = {0};
  bool have_last = false;
  if (o->all) print_table_head(p, w, starts[0], ends[n - 1]);
  for (size_t i = 0; i < n && !rc; i++) {
    bt_perf_summary s;
    bool is_last = i + 1 == n;
    if (o->all && !is_last) {
      /* rows only: targets and files are for the last window */
      if ((rc = bt_perf_summarize(&p->ix, w, starts[i], ends[i], &s, &err))) break;
      print_row(w, NULL, &s);
      bt_perf_summary_free(&s);
      continue;
    }
    if ((rc = bt_perf_window_summary(p, w, starts[i], ends[i], &s, &err))) break;
    if (n > 1 && s.no_trades && !is_last) {
      /* Missing days (no trade log lines) are skipped in ranges, reported once below. */
      if (skipped_days++ < 8) {
        char d[16];
        bt_perf_day_format(s.start, d);
        size_t l = strlen(missing);
        snprintf(missing + l, sizeof missing - l, "%s%s", l ? "," : "", d);
      }
      bt_perf_summary_free(&s);
      continue;
    }
    int wr = 0;
    if (is_last && !s.no_trades)
      rc = bt_perf_alerts_raise(p->cfg.alerts_file, p->ix.source, &s, bt_wall_ms(), &raised, &err);
    if (!rc) rc = bt_perf_write_outputs(p, &s, html, &wr, &err);
    if (rc) {
      bt_perf_summary_free(&s);
      break;
    }
    written += wr;
    if (o->all) print_row(w, NULL, &s);
    if (n > 1 && !o->export_fmt && !o->all) {
      char d[16], pnl[BT_DEC_STRLEN];
      bt_perf_day_format(s.start, d);
      bt_dec_format(s.realized_pnl, pnl);
      printf("%s %-8s %s  trades %-5u win rate %6.2f%%  realized %s%s\n",
             bt_perf_window_name(w), d, wr ? "written  " : "unchanged", s.trades, s.win_rate * 100,
             pnl, s.no_trades ? "  (no trades in window)" : "");
    }
    if (is_last) last = s, have_last = true;
    else bt_perf_summary_free(&s);
  }
  if (!rc && o->all) {
    bt_perf_summary total;
    if (!(rc = bt_perf_summarize(&p->ix, BT_PERF_CUSTOM, starts[0], ends[n - 1], &total, &err))) {
      printf("%.*s\n", 80, "--------------------------------------------------------------------------------");
      print_row(w, "total", &total);
      bt_perf_summary_free(&total);
    }
  }
  free(starts), free(ends);
  if (skipped_days)
    bt_log("perf", BT_LOG_WARNING, "perf_missing_days", BT_F_INT("days", skipped_days),
           BT_F_STR("first", missing), BT_F_STR("window", bt_perf_window_name(w)));
  if (rc) {
    if (have_last) bt_perf_summary_free(&last);
    return bt_cli_fail("btrun perf", &err);
  }
  if (o->export_fmt) {
    char *text;
    size_t len;
    if ((rc = bt_perf_render(p, &last, o->export_fmt, &text, &len, &err))) {
      bt_perf_summary_free(&last);
      return bt_cli_fail("btrun perf", &err);
    }
    fwrite(text, 1, len, stdout);
    free(text);
  } else {
    if (o->all && last.nchecks) print_targets(&last);
    else if (!o->all) print_summary(p, &last);
    char base[80];
    bt_perf_summary_basename(&last, base);
    printf("Files: %s/%s.{json,md%s} (%s)\n", p->cfg.out_dir, base, html ? ",html" : "",
           written ? "written" : "unchanged");
  }
  bt_perf_summary_free(&last);
  exit_code = alerts_status(p, raised, o->export_fmt != NULL, &err);
  if (exit_code < 0) return bt_cli_fail("btrun perf", &err);
  if (o->stats)
    fprintf(stderr, "perf stats: refresh %.3f ms, %llu bytes / %llu lines read, %s\n", p->refresh_ms,
            (unsigned long long)p->ix.bytes_read, (unsigned long long)p->ix.lines_read,
            p->ix.rebuilt ? "rebuilt" : "incremental");
  return exit_code;
}

/* Set by SIGINT/SIGTERM: the watch loop is the only long-running part of the CLI and a
 * signal handler can only reach process-wide state. */
static volatile sig_atomic_t stop_watch;
static void on_signal(int sig) {
  (void)sig;
  stop_watch = 1;
}

static int cmd_watch(bt_perf *p, const opts *o) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  bt_perf_window w = o->has_window ? o->window : BT_PERF_DAILY;
  int code = 0;
  for (long k = 0; !stop_watch && (o->count == 0 || k < o->count); k++) {
    if (k) {
      double left = o->every;
      while (left > 0 && !stop_watch) {
        double step = left < 0.2 ? left : 0.2;
        struct timespec ts = {(time_t)step, (long)((step - (double)(time_t)step) * 1e9)};
        nanosleep(&ts, NULL);
        left -= step;
      }
      if (stop_watch) break;
    }
    bt_err err = {0};
    bt_perf_eval ev;
    /* The anchor is the latest day with trades: refresh first so a new day counts. */
    int rc = bt_perf_refresh(p, false, &err);
    if (!rc) rc = bt_perf_evaluate(p, w, bt_perf_anchor_day(p), bt_wall_ms(), &ev, &err);
    if (!rc) {
      char now[32], d[16];
      bt_format_time(bt_wall_ms() / 1000, now);
      bt_perf_day_format(ev.start, d);
      printf("%s %s %s trades %u win_rate %.4f new_alerts %d active_alerts %d eval_ms %.2f\n",
             now, bt_perf_window_name(w), d, ev.trades, ev.win_rate, ev.raised, ev.active, ev.ms);
      fflush(stdout);
    }
    if (rc) {
      bt_cli_fail("btrun perf", &err);
      code = 1;
      continue; /* a bad line may be fixed before the next round */
    }
    code = ev.active ? 2 : 0;
  }
  return code;
}

/* The newest run directory (by its result.json) directly under base or one level deeper
 * (the runs of a sweep: runs/sweep-DATE/fast5-slow20). */
static void newest_run(const char *base, char *best, size_t n, struct timespec *best_t, int depth) {
  DIR *d = opendir(base);
  if (!d) return;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (de->d_name[0] == '.') continue;
    char dir[PATH_MAX], res[PATH_MAX + 16];
    if (snprintf(dir, sizeof dir, "%s/%s", base, de->d_name) >= (int)sizeof dir) continue;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    snprintf(res, sizeof res, "%s/result.json", dir);
    if (stat(res, &st) == 0) {
      if (st.st_mtim.tv_sec > best_t->tv_sec ||
          (st.st_mtim.tv_sec == best_t->tv_sec && st.st_mtim.tv_nsec > best_t->tv_nsec)) {
        *best_t = st.st_mtim;
        snprintf(best, n, "%s", dir);
      }
    } else if (depth > 0) {
      newest_run(dir, best, n, best_t, depth - 1);
    }
  }
  closedir(d);
}

/* --run DIR|latest -> the trade log DIR/trades.jsonl (and DIR/performance as the output
 * directory unless --out). A missing log names every path tried. */
static int resolve_run(const bt_app *app, const opts *o, bt_perf_cfg *cfg, bt_err *err) {
  char dir[PATH_MAX] = "";
  if (strcmp(o->run, "latest") == 0) {
    const char *runs = app && app->cfg.out_dir[0] ? app->cfg.out_dir : "runs";
    char served[PATH_MAX] = "";
    if (app && app->cfg.data_dir[0]) snprintf(served, sizeof served, "%s/runs", app->cfg.data_dir);
    struct timespec t = {0, 0};
    newest_run(runs, dir, sizeof dir, &t, 1);
    if (served[0]) newest_run(served, dir, sizeof dir, &t, 1);
    if (!dir[0])
      return bt_errf(err, BT_EINVAL, "not_found",
                     "--run latest: no run found: tried %s/*/result.json and %s/*/*/result.json%s%s"
                     " (run a backtest first, or give --run RUN_DIR)", runs, runs,
                     served[0] ? " and the same under " : "", served);
  } else {
    snprintf(dir, sizeof dir, "%s", o->run);
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
      return bt_errf(err, BT_EINVAL, "not_found", "--run %s: no such run directory", dir);
  }
  if (snprintf(cfg->trades, sizeof cfg->trades, "%s/trades.jsonl", dir) >= (int)sizeof cfg->trades)
    return bt_errf(err, BT_EINVAL, "usage_error", "--run: path too long");
  if (access(cfg->trades, F_OK) != 0)
    return bt_errf(err, BT_EINVAL, "not_found",
                   "no trade log found in run directory %s: tried %s (a run writes it when it"
                   " completes)", dir, cfg->trades);
  if (!o->out_given) snprintf(cfg->out_dir, sizeof cfg->out_dir, "%s/performance", dir);
  return 0;
}

/* Before anything is created: a log that does not exist is named with where it came
 * from and how to point at one. */
static int check_trade_log(const bt_perf_cfg *cfg, const opts *o, bt_err *err) {
  if (access(cfg->trades, F_OK) == 0) return 0;
  return bt_errf(err, BT_EINVAL, "not_found",
                 "no trade log found: tried %s (%s); give --trades FILE|DIR or --run RUN_DIR|latest",
                 cfg->trades, o->source_given ? "--trades" : "config perf.trades");
}

static int cmd_alerts(const bt_perf_cfg *cfg, const opts *o) {
  bt_err err = {0};
  char src[PATH_MAX] = "";
  if (o->source_given) bt_perf_source_id(cfg->trades, src, sizeof src);
  bt_perf_alert *v;
  size_t n;
  if (bt_perf_alerts_list(cfg->alerts_file, &v, &n, &err)) return bt_cli_fail("btrun perf", &err);
  int shown = 0, active = 0;
  for (size_t i = 0; i < n; i++) {
    const bt_perf_alert *a = &v[i];
    if (src[0] && strcmp(a->source, src) != 0) continue;
    active += a->active;
    if (!a->active && !o->all) continue;
    shown++;
    printf("%s  %-8s %s %s %s %s\n", a->id, a->severity, a->metric, a->actual, a->op, a->target);
    if (a->rolling_end[0])
      printf("    over the last %u trades, exits %s .. %s\n", a->window_trades, a->rolling_start,
             a->rolling_end);
    printf("    raised %s by the %s window %s .. %s\n", a->raised_at, a->window, a->period_start,
           a->period_end);
    if (!a->active) printf("    acknowledged %s\n", a->acknowledged_at);
    printf("    log %s\n", a->source[0] ? a->source : "(not recorded: raised by an earlier btrun)");
  }
  free(v);
  if (!shown)
    printf("No %salerts%s in %s\n", o->all ? "" : "active ", src[0] ? " of this trade log" : "",
           cfg->alerts_file);
  else
    printf("%d active%s in %s; acknowledge: btrun perf ack ID (or --all)\n", active,
           src[0] ? " for this trade log" : "", cfg->alerts_file);
  return active ? 2 : 0;
}

static int cmd_ack(const bt_perf_cfg *cfg, const opts *o, const char *id) {
  bt_err err = {0};
  if (id) {
    int rc = bt_perf_alerts_ack(cfg->alerts_file, id, bt_wall_ms(), &err);
    if (rc < 0) return bt_cli_fail("btrun perf", &err);
    printf("%s %s\n", id, rc == 1 ? "was already acknowledged" : "acknowledged");
    return 0;
  }
  char src[PATH_MAX] = "";
  if (o->source_given) bt_perf_source_id(cfg->trades, src, sizeof src);
  int acked = 0;
  if (bt_perf_alerts_ack_all(cfg->alerts_file, src[0] ? src : NULL, bt_wall_ms(), &acked, &err))
    return bt_cli_fail("btrun perf", &err);
  printf("%d alert%s acknowledged%s\n", acked, acked == 1 ? "" : "s",
         src[0] ? " for this trade log" : "");
  return 0;
}

int bt_perf_cli(bt_app *app, int argc, char **argv) {
  int first = 1;
  const char *sub = argc > 1 ? argv[1] : NULL;
  bt_err err = {0};
  bt_perf_cfg cfg;
  if (bt_perf_cfg_load(app, &cfg, &err)) return bt_cli_fail("btrun perf", &err);
  bool watch = sub && strcmp(sub, "watch") == 0, alerts = sub && strcmp(sub, "alerts") == 0,
       ack = sub && strcmp(sub, "ack") == 0;
  const char *ack_id = NULL;
  if (watch || alerts || ack) first = 2;
  if (ack && argc > 2 && strncmp(argv[2], "--", 2) != 0) ack_id = argv[2], first = 3;
  opts o = {.every = 60};
  if (parse_opts(argc, argv, first, &o, &cfg)) return 1;
  if (o.run && resolve_run(app, &o, &cfg, &err)) return bt_cli_fail("btrun perf", &err);
  bool only_source = !o.has_window && !o.has_start && !o.has_end && !o.export_fmt &&
                     !o.backfill && !o.stats;
  if (ack) {
    if (!ack_id && !o.all) return bt_cli_usage_error(&USAGE_ERR, "ack needs an ALERT_ID or --all");
    if ((ack_id && (o.all || o.source_given)) || !only_source)
      return bt_cli_usage_error(&USAGE_ERR, "ack takes ALERT_ID, or --all with --run/--trades only");
    return cmd_ack(&cfg, &o, ack_id);
  }
  if (alerts) {
    if (!only_source) return bt_cli_usage_error(&USAGE_ERR, "alerts takes --all, --run and --trades only");
    return cmd_alerts(&cfg, &o);
  }
  if (watch && (o.backfill || o.export_fmt || o.has_start || o.all))
    return bt_cli_usage_error(&USAGE_ERR, "watch takes --every, --count, --window and source options only");
  if (o.all && (o.backfill || o.export_fmt))
    return bt_cli_usage_error(&USAGE_ERR, "--all prints a table: it does not combine with --backfill or --export");
  if (check_trade_log(&cfg, &o, &err)) return bt_cli_fail("btrun perf", &err);
  bt_perf p;
  if (bt_perf_open(&p, &cfg, &err)) {
    bt_perf_close(&p);
    return bt_cli_fail("btrun perf", &err);
  }
  int code = watch ? cmd_watch(&p, &o) : cmd_summary(&p, &o);
  bt_perf_close(&p);
  return code;
}
