/* perf_cli.c - `btrun perf`: summaries, targets and alerts from the command line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "cli_opts.h"
#include "perf.h"
#include "perf_time.h"

static const char usage[] =
    "usage: btrun perf [--window daily|weekly|monthly] [--start YYYY-MM-DD] [--end YYYY-MM-DD]\n"
    "                  [--export json|md|html] [--backfill N] [--trades PATH] [--out DIR]\n"
    "                  [--timezone ZONE] [--targets FILE] [--stats] [--strict]\n"
    "       btrun perf watch [--every SECONDS] [--count N] [--window W] [options above]\n"
    "       btrun perf ack ALERT_ID\n"
    "\n"
    "Summarise trade logs (JSONL) per window, compare with config/targets.lua, raise alerts.\n"
    "  --window W      daily (default), weekly (ISO weeks, Monday start) or monthly\n"
    "  --start/--end   days in market time; with --window: every window from start to end,\n"
    "                  without --window: one custom window [start, end]\n"
    "                  default: the window holding the most recent trade\n"
    "  --backfill N    re-read the logs from scratch and rebuild the summaries of the last N days\n"
    "  --export F      print the rendered json, md or html summary instead of the text view\n"
    "                  (html is also written next to the .json/.md files)\n"
    "  --trades PATH   a .jsonl file or a directory of them (config perf.trades, logs/trades)\n"
    "  --out DIR       output directory (config perf.out_dir, logs/performance)\n"
    "  --timezone TZ   market time zone: an IANA name such as America/New_York (days follow\n"
    "                  its DST changes) or a fixed offset such as -05:00\n"
    "                  (PERFORMANCE_SUMMARY_TIMEZONE, config perf.timezone; default UTC)\n"
    "  --targets FILE  targets file (config perf.targets, config/targets.lua)\n"
    "  --stats         print refresh timing and bytes read\n"
    "  --strict        fail on the first trade-log line that cannot be used (default: skip\n"
    "                  it, count it in skipped_lines, log trade_line_skipped, mark partial)\n"
    "watch re-evaluates the current window every --every seconds (default 60) until\n"
    "interrupted or --count evaluations. ack marks an alert acknowledged.\n"
    "Files: {window}-summary-YYYY-MM-DD.json/.md(/.html) in the output directory, rewritten only\n"
    "when their source checksum changes; alerts appended to perf.alerts_file.\n"
    "Exit status: 0 healthy, 2 degraded (unacknowledged alerts), 1 error. See docs/performance.md.\n";

typedef struct opts {
  bt_perf_window window;
  bool has_window, has_start, has_end, stats;
  int64_t start, end;
  const char *export_fmt;
  long backfill;
  double every;
  long count;
} opts;

/* Print the error and release it (a Lua error owns its traceback). */
static const bt_cli_usage USAGE_ERR = {"btrun perf", "(see btrun perf --help)",
                                       "unknown argument '%s'", "%s needs a value", .help = false};

static bool color(void) { return isatty(1) && !getenv("NO_COLOR"); }

static void money(char out[BT_DEC_STRLEN], bt_dec d) { bt_dec_format(d, out); }

static void print_summary(const bt_perf_summary *s) {
  char a[16], e[16];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, e);
  bool c = color();
  printf("Performance %s %s%s%s (%s%s)%s\n", bt_perf_window_name(s->window), a,
         s->start == s->end ? "" : " .. ", s->start == s->end ? "" : e,
         s->timezone[0] == '+' || s->timezone[0] == '-' ? "UTC" : "", s->timezone,
         s->partial ? "  [partial: last line incomplete]" : "");
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
  printf("Targets\n");
  for (size_t i = 0; i < s->nchecks; i++) {
    const bt_perf_check *k = &s->checks[i];
    const char *st = k->status == BT_PERF_CHECK_BREACH ? "BREACH" : k->status == BT_PERF_CHECK_OK ? "ok" : "skipped";
    char var[32] = "";
    if (k->has_variance) snprintf(var, sizeof var, "%+.4f", k->variance);
    printf("  %-14s %-12s %-2s %-12s %-10s %s%s%s", k->name, k->actual[0] ? k->actual : "-", k->op,
           k->target, var, c && k->status == BT_PERF_CHECK_BREACH ? "\033[1;31m" : "", st,
           c && k->status == BT_PERF_CHECK_BREACH ? "\033[0m" : "");
    if (k->note[0]) printf("  (%s)", k->note);
    if (k->alert_id[0]) printf("  alert %s", k->alert_id);
    printf("\n");
  }
}

static int parse_opts(int argc, char **argv, int first, opts *o, bt_perf_cfg *cfg) {
  static const char *const valued[] = {"--window",   "--start",  "--end",  "--export",
                                       "--backfill", "--trades", "--out",  "--targets",
                                       "--timezone", "--every",  "--count"};
  enum { NVALUED = sizeof valued / sizeof valued[0] };
  const char *vals[NVALUED] = {0};
  bt_cli_opt table[NVALUED + 3];
  for (int k = 0; k < NVALUED; k++) table[k] = (bt_cli_opt){valued[k], .value = &vals[k]};
  const bt_cli_opt flags[] = {
      {"--stats", .flag = &o->stats}, {"--strict", .flag = &cfg->strict}, {.name = NULL}};
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
      char *end;
      o->backfill = strtol(v, &end, 10);
      if (*end || o->backfill < 1 || o->backfill > 100000)
        return bt_cli_usage_error(&USAGE_ERR,
                                  "--backfill: expected a number of days 1..100000, got '%s'", v);
    } else if (strcmp(a, "--trades") == 0) {
      snprintf(cfg->trades, sizeof cfg->trades, "%s", v);
    } else if (strcmp(a, "--out") == 0) {
      snprintf(cfg->out_dir, sizeof cfg->out_dir, "%s", v);
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
      char *end;
      o->count = strtol(v, &end, 10);
      if (*end || o->count < 0)
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
  if (from > anchor) return -1;
  if (o->has_start && !o->has_window && !o->backfill) {
    *w = BT_PERF_CUSTOM;
    *starts = malloc(sizeof **starts), *ends = malloc(sizeof **ends);
    if (!*starts || !*ends) return -2;
    (*starts)[0] = from, (*ends)[0] = anchor, *n = 1;
    return 0;
  }
  size_t cap = 16;
  *n = 0;
  *starts = malloc(cap * sizeof **starts), *ends = malloc(cap * sizeof **ends);
  if (!*starts || !*ends) return -2;
  for (int64_t d = from; d <= anchor;) {
    int64_t s, e;
    bt_perf_window_bounds(*w, d, &s, &e);
    if (*n == cap) {
      cap *= 2;
      int64_t *a = realloc(*starts, cap * sizeof *a);
      if (a) *starts = a;
      int64_t *b = realloc(*ends, cap * sizeof *b);
      if (b) *ends = b;
      if (!a || !b) return -2;
    }
    (*starts)[*n] = s, (*ends)[*n] = e, (*n)++;
    d = e + 1;
  }
  return 0;
}

static int active_status(bt_perf *p, int *active, bt_err *err) {
  return bt_perf_alerts_active(p->cfg.alerts_file, active, err);
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
  for (size_t i = 0; i < n && !rc; i++) {
    bt_perf_summary s;
    if ((rc = bt_perf_window_summary(p, w, starts[i], ends[i], &s, &err))) break;
    bool is_last = i + 1 == n;
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
      rc = bt_perf_alerts_raise(p->cfg.alerts_file, &s, bt_wall_ms(), &raised, &err);
    if (!rc) rc = bt_perf_write_outputs(p, &s, html, &wr, &err);
    if (rc) {
      bt_perf_summary_free(&s);
      break;
    }
    written += wr;
    if (n > 1 && !o->export_fmt) {
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
    print_summary(&last);
    char base[80];
    bt_perf_summary_basename(&last, base);
    printf("Files: %s/%s.{json,md%s} (%s)\n", p->cfg.out_dir, base, html ? ",html" : "",
           written ? "written" : "unchanged");
  }
  bt_perf_summary_free(&last);
  int active = 0;
  if (active_status(p, &active, &err)) return bt_cli_fail("btrun perf", &err);
  if (!o->export_fmt) {
    if (active) printf("Alerts: %d active (%d new) in %s; acknowledge with: btrun perf ack ID\n", active, raised, p->cfg.alerts_file);
    else printf("Alerts: none active\n");
  }
  if (o->stats)
    fprintf(stderr, "perf stats: refresh %.3f ms, %llu bytes / %llu lines read, %s\n", p->refresh_ms,
            (unsigned long long)p->ix.bytes_read, (unsigned long long)p->ix.lines_read,
            p->ix.rebuilt ? "rebuilt" : "incremental");
  exit_code = active ? 2 : 0;
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

int bt_perf_cli(bt_app *app, int argc, char **argv) {
  int first = 1;
  const char *sub = argc > 1 ? argv[1] : NULL;
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      fputs(usage, stdout);
      return 0;
    }
  bt_err err = {0};
  bt_perf_cfg cfg;
  if (bt_perf_cfg_load(app, &cfg, &err)) return bt_cli_fail("btrun perf", &err);
  if (sub && strcmp(sub, "ack") == 0) {
    if (argc != 3) return bt_cli_usage_error(&USAGE_ERR, "ack needs exactly one ALERT_ID");
    int rc = bt_perf_alerts_ack(cfg.alerts_file, argv[2], bt_wall_ms(), &err);
    if (rc < 0) return bt_cli_fail("btrun perf", &err);
    printf("%s %s\n", argv[2], rc == 1 ? "was already acknowledged" : "acknowledged");
    return 0;
  }
  bool watch = sub && strcmp(sub, "watch") == 0;
  if (watch) first = 2;
  opts o = {.every = 60};
  if (parse_opts(argc, argv, first, &o, &cfg)) return 1;
  if (watch && (o.backfill || o.export_fmt || o.has_start))
    return bt_cli_usage_error(&USAGE_ERR, "watch takes --every, --count, --window and source options only");
  bt_perf p;
  if (bt_perf_open(&p, &cfg, &err)) {
    bt_perf_close(&p);
    return bt_cli_fail("btrun perf", &err);
  }
  int code = watch ? cmd_watch(&p, &o) : cmd_summary(&p, &o);
  bt_perf_close(&p);
  return code;
}
