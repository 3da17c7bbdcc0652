/* test_perf.c - performance tracking against hand calculations on hand-made trade logs
 * (tests/fixtures/perf): every window metric, strings vs numbers, partial lines,
 * incremental refresh, timezone boundaries, open trades, windows, path confinement,
 * targets (with a Lua rule) and alert de-duplication. */
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso8601.h"
#include "log.h"
#include "perf.h"
#include "perf_files.h"
#include "perf_index_json.h"
#include "perf_source.h"
#include "perf_time.h"

#include "check.h"

static char tmp[512];


static int64_t day(const char *s) {
  int64_t d = 0;
  CHECK(bt_perf_day_parse(s, &d));
  return d;
}

static void write_file(const char *path, const char *text, const char *mode) {
  FILE *f = fopen(path, mode);
  CHECK(f != NULL);
  if (!f) return;
  fputs(text, f);
  fclose(f);
}

/* A fixed-offset zone by seconds east of UTC, loaded once (indexes keep the pointer). */
static const bt_tz *zone(int32_t off) {
  static bt_tz *zones[3];
  static const int32_t offs[3] = {0, 3600, -18000};
  static const char *const specs[3] = {"UTC", "+01:00", "-05:00"};
  for (int i = 0; i < 3; i++)
    if (offs[i] == off) {
      bt_err err = {0};
      if (!zones[i]) CHECK_OK(bt_tz_load(specs[i], &zones[i], &err));
      return zones[i];
    }
  failures++;
  return NULL;
}

static void build(bt_perf_index *ix, const char *src, int32_t tz, uint32_t k) {
  bt_err err = {0};
  bt_perf_index_init(ix, src, zone(tz), k);
  int rc = bt_perf_index_refresh(ix, false, &err);
  if (rc) fprintf(stderr, "  refresh: %s\n", err.msg);
  CHECK(rc == 0);
}

static void summary(const bt_perf_index *ix, bt_perf_window w, const char *a, const char *b,
                    bt_perf_summary *s) {
  bt_err err = {0};
  CHECK(bt_perf_summarize(ix, w, day(a), day(b), s, &err) == 0);
}

static void test_time(void) {
  int64_t t, a, b;
  CHECK(bt_iso8601_parse("2024-01-08T15:00:00Z", 20, BT_ISO_STRICT, &t) && t == 1704726000);
  CHECK(bt_iso8601_parse("2024-01-08T16:00:00+01:00", 25, BT_ISO_STRICT, &t) && t == 1704726000);
  CHECK(bt_iso8601_parse("2024-01-08T10:00:00.250-05:00", 29, BT_ISO_STRICT, &t) && t == 1704726000);
  CHECK(bt_iso8601_parse("2024-01-08 15:00:00", 19, BT_ISO_STRICT, &t) && t == 1704726000);
  CHECK(!bt_iso8601_parse("2024-02-30T00:00:00Z", 20, BT_ISO_STRICT, &t));
  CHECK(!bt_iso8601_parse("2024-01-08T15:00", 16, BT_ISO_STRICT, &t));
  char label[128];
  bt_perf_tz_label(zone(-18000), label);
  CHECK(strcmp(label, "-05:00") == 0);
  /* ISO weeks start on Monday, also across a year end */
  bt_perf_window_bounds(BT_PERF_WEEKLY, day("2024-01-10"), &a, &b);
  CHECK(a == day("2024-01-08") && b == day("2024-01-14"));
  bt_perf_window_bounds(BT_PERF_WEEKLY, day("2025-01-01"), &a, &b);
  CHECK(a == day("2024-12-30") && b == day("2025-01-05"));
  bt_perf_window_bounds(BT_PERF_WEEKLY, day("2024-01-14"), &a, &b); /* Sunday */
  CHECK(a == day("2024-01-08"));
  bt_perf_window_bounds(BT_PERF_MONTHLY, day("2024-02-17"), &a, &b);
  CHECK(a == day("2024-02-01") && b == day("2024-02-29"));
  /* market-local days: 23:30Z is the next day at +01:00, 03:00Z the previous at -05:00 */
  CHECK(bt_perf_local_day(day("2024-01-10") * 86400 + 23 * 3600 + 1800, zone(3600)) == day("2024-01-11"));
  CHECK(bt_perf_local_day(day("2024-01-11") * 86400 + 3 * 3600, zone(-18000)) == day("2024-01-10"));
  CHECK(bt_perf_local_day(-1, zone(0)) == -1);
}

/* basic.jsonl by hand (pnl in exit order):
 *   2024-01-08: 100 (risk 50, R 2), -40 (risk 40, R -1), 60.5 (risk 50, R 1.21)
 *   2024-01-09: -20.25, 0, 30        open: 7.5 entered 2024-01-09
 *   2024-01-10: -10, -15 */
static void check_basic(const bt_perf_index *ix) {
  bt_perf_summary s;
  summary(ix, BT_PERF_DAILY, "2024-01-08", "2024-01-08", &s);
  CHECK(s.trades == 3 && s.wins == 2 && s.losses == 1 && s.breakeven == 0);
  CHECK(fabs(s.win_rate - 2.0 / 3.0) < 0.01);
  CHECK(dec_is(s.avg_win, "80.25") && dec_is(s.avg_loss, "-40.0"));
  CHECK(fabs(s.payoff_ratio - 80.25 / 40.0) < 0.001);           /* 2.00625 */
  CHECK(fabs(s.profit_factor - 160.5 / 40.0) < 0.001);          /* 4.0125 */
  CHECK(fabs(s.avg_r_multiple - (2.0 - 1.0 + 1.21) / 3) < 0.001); /* 0.7367 */
  CHECK(s.r_trades == 3);
  CHECK(dec_is(s.realized_pnl, "120.5") && dec_is(s.expectancy, "40.16666667"));
  CHECK(dec_is(s.max_drawdown, "40.0"));   /* peak 100 -> 60 */
  CHECK(dec_is(s.unrealized_pnl, "0.0") && s.open_trades == 0); /* opened the day after */
  CHECK(s.cur_streak_sign == 1 && s.cur_streak == 1);
  CHECK(s.longest_win_streak == 1 && s.longest_loss_streak == 1);
  bt_perf_summary_free(&s);

  summary(ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(s.trades == 8 && s.wins == 3 && s.losses == 4 && s.breakeven == 1);
  CHECK(fabs(s.win_rate - 0.375) < 0.01);
  CHECK(dec_is(s.gross_profit, "190.5") && dec_is(s.gross_loss, "-85.25"));
  CHECK(dec_is(s.avg_win, "63.5") && dec_is(s.avg_loss, "-21.3125"));
  CHECK(fabs(s.payoff_ratio - 63.5 / 21.3125) < 0.001);         /* 2.9795 */
  CHECK(fabs(s.profit_factor - 190.5 / 85.25) < 0.001);
  CHECK(dec_is(s.realized_pnl, "105.25") && dec_is(s.expectancy, "13.15625"));
  CHECK(dec_is(s.unrealized_pnl, "7.5") && s.open_trades == 1);
  CHECK(dec_is(s.total_pnl, "112.75"));
  /* running P&L 100 60 120.5 100.25 100.25 130.25 120.25 105.25: worst fall 40 */
  CHECK(dec_is(s.max_drawdown, "40.0"));
  /* W L W L 0 W L L */
  CHECK(s.cur_streak_sign == -1 && s.cur_streak == 2);
  CHECK(s.longest_win_streak == 1 && s.longest_loss_streak == 2);
  CHECK(s.nseries == 3 && dec_is(s.series[1].equity, "130.25") && dec_is(s.series[2].drawdown, "25.0"));
  bt_perf_summary_free(&s);

  /* rolling: the last 5 closed trades up to 2024-01-10 are -15 -10 30 0 -20.25 */
  bt_perf_rolling r;
  bt_perf_rolling_last(ix, day("2024-01-10"), 5, &r);
  CHECK(r.n == 5 && r.wins == 1 && r.losses == 3);
  CHECK(dec_is(r.gross_loss, "-45.25"));
  bt_perf_rolling_last(ix, day("2024-01-08"), 5, &r); /* only 3 exist by then */
  CHECK(r.n == 3 && r.r_trades == 3);

  summary(ix, BT_PERF_DAILY, "2024-01-11", "2024-01-11", &s); /* empty window */
  CHECK(s.no_trades && s.trades == 0 && s.win_rate == 0 && dec_is(s.realized_pnl, "0.0"));
  CHECK(s.open_trades == 1 && dec_is(s.unrealized_pnl, "7.5"));
  bt_perf_summary_free(&s);
}

static void test_basic(void) {
  bt_perf_index a, b;
  build(&a, "tests/fixtures/perf/basic.jsonl", 0, 5);
  build(&b, "tests/fixtures/perf/numbers.jsonl", 0, 5);
  check_basic(&a);
  check_basic(&b); /* numbers parsed from their text give the same exact results */
  bt_perf_summary sa, sb;
  summary(&a, BT_PERF_MONTHLY, "2024-01-01", "2024-01-31", &sa);
  summary(&b, BT_PERF_MONTHLY, "2024-01-01", "2024-01-31", &sb);
  CHECK(sa.checksum == sb.checksum); /* same trades, same fingerprint */
  bt_perf_summary_free(&sa);
  bt_perf_summary_free(&sb);
  bt_perf_index_free(&a);
  bt_perf_index_free(&b);
}

static void test_number_text(void) {
  /* 9223372036.85477581 has no exact double: parsing through strtod would lose it */
  char path[600];
  snprintf(path, sizeof path, "%s/big.jsonl", tmp);
  write_file(path,
             "{\"trade_id\":1,\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":9223372036.85477581,\"status\":\"closed\"}\n"
             "{\"trade_id\":2,\"exit_time\":\"2024-01-08T16:00:00Z\",\"pnl\":0.1,\"status\":\"closed\"}\n"
             "{\"trade_id\":3,\"exit_time\":\"2024-01-08T17:00:00Z\",\"pnl\":2e-1,\"status\":\"closed\"}\n",
             "w");
  bt_perf_index ix;
  build(&ix, path, 0, 1);
  bt_perf_summary s;
  summary(&ix, BT_PERF_DAILY, "2024-01-08", "2024-01-08", &s);
  CHECK(dec_is(s.realized_pnl, "9223372037.15477581"));
  bt_perf_summary_free(&s);
  bt_perf_index_free(&ix);
}

static void test_errors(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/bad.jsonl", tmp);
  write_file(path,
             "{\"trade_id\":1,\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":\"1.0\",\"status\":\"closed\"}\n"
             "\n"
             "{\"trade_id\":2,\"exit_time\":\"2024-01-08T16:00:00Z\",\"pnl\":\"1.0x\",\"status\":\"closed\"}\n",
             "w");
  bt_perf_index ix;
  bt_err err = {0};
  bt_perf_index_init(&ix, path, bt_tz_utc(), 1);
  ix.strict = true; /* fail fast (--strict); the default skips: test_rel_perf.c */
  CHECK(bt_perf_index_refresh(&ix, false, &err) == BT_EINVAL);
  CHECK(err.line == 3 && strcmp(err.field, "pnl") == 0 && strstr(err.msg, "bad.jsonl:3"));
  bt_perf_index_free(&ix);
  /* a string left open on one line never swallows the next line */
  write_file(path,
             "{\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":\"1\",\"note\":\"abc\n"
             "\",\"status\":\"closed\"}\n",
             "w");
  bt_perf_index_init(&ix, path, bt_tz_utc(), 1);
  ix.strict = true; /* fail fast (--strict); the default skips: test_rel_perf.c */
  CHECK(bt_perf_index_refresh(&ix, false, &err) == BT_EINVAL && err.line == 1);
  bt_perf_index_free(&ix);
  write_file(path, "{\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":\"1\"} x\n", "w");
  bt_perf_index_init(&ix, path, bt_tz_utc(), 1);
  ix.strict = true; /* fail fast (--strict); the default skips: test_rel_perf.c */
  CHECK(bt_perf_index_refresh(&ix, false, &err) == BT_EINVAL && strstr(err.msg, "trailing"));
  bt_perf_index_free(&ix);
  const char *bad[] = {
      "{\"exit_time\":\"2024-13-01T00:00:00Z\",\"pnl\":\"1\",\"status\":\"closed\"}", "exit_time",
      "{\"exit_time\":\"2024-01-01T00:00:00Z\",\"status\":\"closed\"}", "pnl",
      "{\"pnl\":\"1\",\"status\":\"closed\"}", "exit_time",
      "{\"pnl\":\"1\",\"status\":\"open\"}", "entry_time",
      "{\"exit_time\":\"2024-01-01T00:00:00Z\",\"pnl\":\"1\",\"status\":\"done\"}", "status",
      "{\"exit_time\":\"2024-01-01T00:00:00Z\",\"pnl\":\"1\",\"risk\":\"0\"}", "risk",
      "{\"exit_time\":\"2024-01-01T00:00:00Z\",\"pnl\":\"1.000000001\"}", "pnl",
      "[1,2]", "",
      "{\"pnl\":\"1\"", "",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i += 2) {
    bt_perf_trade t;
    bt_err e = {0};
    int rc = bt_perf_parse_trade(bad[i], strlen(bad[i]), &t, NULL, "x.jsonl", 7, &e);
    CHECK(rc == BT_EINVAL && e.line == 7 && strcmp(e.field, bad[i + 1]) == 0);
    if (rc != BT_EINVAL || strcmp(e.field, bad[i + 1])) fprintf(stderr, "  case %zu: %s\n", i / 2, e.msg);
  }
  /* unknown keys, nested values, escapes and whitespace are fine */
  const char *ok = " { \"note\" : {\"a\":[1,\"}\"]}, \"symbol\":\"A\\\"B\", \"exit_time\" : 1704726000 ,"
                   " \"pnl\" : -2.5 , \"status\":null } ";
  bt_perf_trade t;
  bt_err e = {0};
  CHECK(bt_perf_parse_trade(ok, strlen(ok), &t, NULL, "x", 1, &e) == 0);
  CHECK(t.closed && t.exit_ts == 1704726000 && t.pnl.v == -250000000);
  /* what a run's report shows besides: the symbol as it stands (escapes flagged), qty and
   * entry price from strings or numbers, zero when absent */
  bt_perf_trade_shown sh;
  CHECK(bt_perf_parse_trade(ok, strlen(ok), &t, &sh, "x", 1, &e) == 0);
  CHECK(sh.symbol && sh.symbol_len == 4 && memcmp(sh.symbol, "A\\\"B", 4) == 0 && sh.symbol_escaped);
  CHECK(sh.qty == 0 && sh.entry_price == 0);
  const char *full = "{\"symbol\":\"ORCL\",\"qty\":\"100.0\",\"entry_price\":11.76,"
                     "\"exit_time\":\"2004-07-15T00:00:00Z\",\"pnl\":\"-79.0\",\"status\":\"closed\"}";
  CHECK(bt_perf_parse_trade(full, strlen(full), &t, &sh, "x", 1, &e) == 0);
  CHECK(sh.symbol_len == 4 && memcmp(sh.symbol, "ORCL", 4) == 0 && !sh.symbol_escaped);
  CHECK(sh.qty == 100.0 && sh.entry_price == 11.76 && t.pnl.v == -7900000000);
  /* qty and entry price are the doubles strtod reads from the text, bit for bit (the
   * parser's own path for plain decimals included) */
  const char *nums[] = {"0", "-0", "1.", "100.0", "11.76", "0.1", "-3.14159", "1.2.3", "007",
                        "123456789012345", "1234567890123456", "999999999999999.9",
                        "9007199254740993", "0.000000000000001", "1e3", "1E-2", "0x1A", "+5",
                        ".5", "-.5", "inf", "nan", "-", "", "12abc", "5e", "2.5e+1"};
  char line[300], numq[40];
  for (int i = 0; i < 27 + 4000; i++) {
    const char *num = nums[i < 27 ? i : 0];
    if (i >= 27) { /* digits and a point anywhere, signs, 1..18 digits */
      unsigned r = (unsigned)i * 2654435761u;
      int nd = 1 + (int)(r % 18), dot = (int)((r >> 8) % (unsigned)(nd + 2));
      char *o = numq;
      if (r & 0x40000000u) *o++ = '-';
      for (int d = 0; d < nd; d++) {
        if (d == dot) *o++ = '.';
        *o++ = (char)('0' + (r >> (d % 24)) % 10);
      }
      *o = 0;
      num = numq;
    }
    /* as a JSON number too, when it can stand as one */
    const char *raw = *num && strspn(num, "-0123456789.") == strlen(num) && strcmp(num, "-") &&
                      num[0] != '.' ? num : "7";
    snprintf(line, sizeof line, "{\"qty\":\"%s\",\"entry_price\":%s,\"exit_time\":1,\"pnl\":\"1\"}",
             num, raw);
    double want = strtod(num, NULL), want2 = strtod(raw, NULL);
    CHECK(bt_perf_parse_trade(line, strlen(line), &t, &sh, "x", 1, &e) == 0);
    bool same = (memcmp(&sh.qty, &want, sizeof want) == 0 || (isnan(sh.qty) && isnan(want))) &&
                memcmp(&sh.entry_price, &want2, sizeof want2) == 0;
    CHECK(same);
    if (!same) fprintf(stderr, "  qty \"%s\": %.17g, strtod %.17g\n", num, sh.qty, want);
  }
}

static void test_partial_and_incremental(void) {
  char path[600], dir[600];
  snprintf(dir, sizeof dir, "%s/logs", tmp);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/a.jsonl", dir);
  write_file(path,
             "{\"trade_id\":1,\"exit_time\":\"2024-01-08T15:00:00Z\",\"pnl\":\"10\",\"status\":\"closed\"}\n"
             "{\"trade_id\":2,\"exit_time\":\"2024-01-08T16:00:00Z\",\"pnl\":\"-4\",\"sta",
             "w");
  bt_perf_index ix;
  build(&ix, dir, 0, 3);
  CHECK(bt_perf_index_partial(&ix));
  bt_perf_summary s;
  summary(&ix, BT_PERF_DAILY, "2024-01-08", "2024-01-08", &s);
  CHECK(s.trades == 1 && s.partial);
  bt_perf_summary_free(&s);

  /* persist, reload, complete the line and add a second file: only new bytes are read */
  size_t len;
  char *json = bt_perf_index_dump(&ix, &len);
  CHECK(json != NULL);
  bt_perf_index_free(&ix);
  bt_perf_index_init(&ix, dir, bt_tz_utc(), 3);
  CHECK(bt_perf_index_load(&ix, json, len) == 0);
  free(json);
  write_file(path, "tus\":\"closed\"}\n", "a");
  snprintf(path, sizeof path, "%s/b.jsonl", dir);
  write_file(path, "{\"trade_id\":3,\"exit_time\":\"2024-01-09T16:00:00Z\",\"pnl\":\"6\",\"status\":\"closed\"}\n", "w");
  bt_err err = {0};
  CHECK(bt_perf_index_refresh(&ix, false, &err) == 0);
  CHECK(!ix.rebuilt && ix.lines_read == 2);
  CHECK(!bt_perf_index_partial(&ix));
  summary(&ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(s.trades == 3 && !s.partial && dec_is(s.realized_pnl, "12.0") && dec_is(s.max_drawdown, "4.0"));
  uint64_t incremental = s.checksum;
  bt_perf_summary_free(&s);

  /* a cold build gives the same numbers and fingerprint */
  bt_perf_index cold;
  build(&cold, dir, 0, 3);
  summary(&cold, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(s.checksum == incremental && s.trades == 3);
  bt_perf_summary_free(&s);
  bt_perf_index_free(&cold);

  /* rewriting a file in place (not an append) forces a rebuild */
  write_file(path, "{\"trade_id\":3,\"exit_time\":\"2024-01-09T16:00:00Z\",\"pnl\":\"7\",\"status\":\"closed\"}\n", "w");
  CHECK(bt_perf_index_refresh(&ix, false, &err) == 0 && ix.rebuilt);
  summary(&ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(s.trades == 3 && dec_is(s.realized_pnl, "13.0"));
  bt_perf_summary_free(&s);
  bt_perf_index_free(&ix);
  /* an index made for another timezone is not reused */
  bt_perf_index_init(&ix, dir, zone(3600), 3);
  build(&cold, dir, 0, 3);
  json = bt_perf_index_dump(&cold, &len);
  CHECK(bt_perf_index_load(&ix, json, len) == 1);
  free(json);
  bt_perf_index_free(&cold);
  bt_perf_index_free(&ix);
}

/* Inputs over 4 MiB are parsed two blocks at a time on two threads: same results as a
 * line-by-line build, and errors still name the right line. */
static void test_blocks(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/many.jsonl", tmp);
  FILE *f = fopen(path, "w");
  CHECK(f != NULL);
  if (!f) return;
  const long n = 40000; /* ~6.5 MB */
  for (long i = 0; i < n; i++)
    fprintf(f, "{\"trade_id\":%ld,\"run_id\":\"a-long-run-identifier-0123456789abcdef\",\"exit_time\":\"2024-0%ld-1%ldT10:00:%02ldZ\",\"pnl\":\"%s%ld.%02ld\",\"risk\":\"25\",\"status\":\"closed\",\"note\":\"padding padding padding padding\"}\n",
            i, 1 + i % 9, i % 10, i % 60, i % 3 == 0 ? "-" : "", i % 97, i % 100);
  fclose(f);
  bt_perf_index a, b;
  build(&a, path, 0, 7);
  bt_perf_index_init(&b, path, bt_tz_utc(), 7);
  f = fopen(path, "r");
  char line[512];
  long ln = 0;
  while (f && fgets(line, sizeof line, f)) {
    bt_perf_trade t;
    bt_err err = {0};
    size_t len = strlen(line);
    CHECK(bt_perf_parse_trade(line, len - 1, &t, NULL, path, (uint64_t)++ln, &err) == 0);
    CHECK(bt_perf_index_add(&b, &t, &err) == 0);
  }
  if (f) fclose(f);
  CHECK(ln == n && a.ndays == b.ndays);
  /* the same bytes arriving as a small file, then a multi-MiB append (mapped at an offset) */
  char grow[600];
  snprintf(grow, sizeof grow, "%s/grow", tmp);
  mkdir(grow, 0755);
  snprintf(grow + strlen(grow), sizeof grow - strlen(grow), "/g.jsonl");
  FILE *in = fopen(path, "r"), *out = fopen(grow, "w");
  CHECK(in && out);
  char row[512];
  long copied = 0;
  while (in && out && copied < 1000 && fgets(row, sizeof row, in)) fputs(row, out), copied++;
  if (out) fclose(out);
  bt_perf_index c;
  build(&c, grow, 0, 7);
  out = fopen(grow, "a");
  while (in && out && fgets(row, sizeof row, in)) fputs(row, out);
  if (out) fclose(out);
  if (in) fclose(in);
  bt_err gerr = {0};
  CHECK(bt_perf_index_refresh(&c, false, &gerr) == 0 && !c.rebuilt && c.lines_read == (uint64_t)(n - 1000));
  bt_perf_summary sa, sb;
  summary(&c, BT_PERF_CUSTOM, "2024-01-01", "2024-12-31", &sa);
  summary(&a, BT_PERF_CUSTOM, "2024-01-01", "2024-12-31", &sb);
  CHECK(sa.checksum == sb.checksum && sa.realized_pnl.v == sb.realized_pnl.v);
  bt_perf_summary_free(&sa);
  bt_perf_summary_free(&sb);
  bt_perf_index_free(&c);
  summary(&a, BT_PERF_CUSTOM, "2024-01-01", "2024-12-31", &sa);
  summary(&b, BT_PERF_CUSTOM, "2024-01-01", "2024-12-31", &sb);
  CHECK(sa.trades == n && sa.checksum == sb.checksum && sa.wins == sb.wins);
  CHECK(sa.realized_pnl.v == sb.realized_pnl.v && sa.max_drawdown.v == sb.max_drawdown.v);
  CHECK(sa.longest_loss_streak == sb.longest_loss_streak && sa.cur_streak == sb.cur_streak);
  bt_perf_rolling ra, rb;
  bt_perf_rolling_last(&a, day("2024-12-31"), 7, &ra);
  bt_perf_rolling_last(&b, day("2024-12-31"), 7, &rb);
  CHECK(ra.n == 7 && ra.wins == rb.wins && ra.gross_loss.v == rb.gross_loss.v);
  bt_perf_summary_free(&sa);
  bt_perf_summary_free(&sb);
  bt_perf_index_free(&a);
  bt_perf_index_free(&b);
  /* a bad line deep in the second block */
  f = fopen(path, "a");
  if (f) {
    fputs("{\"exit_time\":\"2024-01-01T00:00:00Z\",\"pnl\":\"1\",\"status\":\"shut\"}\n", f);
    fclose(f);
  }
  bt_err err = {0};
  bt_perf_index_init(&a, path, bt_tz_utc(), 1);
  a.strict = true;
  CHECK(bt_perf_index_refresh(&a, false, &err) == BT_EINVAL);
  CHECK(err.line == n + 1 && strcmp(err.field, "status") == 0);
  bt_perf_index_free(&a);
}

/* perf_index.h on_trade: add_buffer hands over exactly the trades it adds, in file order,
 * with the fields a report shows, as bt_perf_parse_trade of each line gives them; lines
 * the summary skips (bad, blank) are not handed over. ~6.6 MB: two blocks on two threads. */
typedef struct seen {
  size_t n, cap;
  bt_perf_trade *t;
  bt_perf_trade_shown *x;
} seen;

static void on_trade(void *ctx, const bt_perf_trade *t, const bt_perf_trade_shown *x) {
  seen *s = ctx;
  if (s->n == s->cap) {
    s->cap = s->cap ? 2 * s->cap : 1024;
    s->t = realloc(s->t, s->cap * sizeof *s->t);
    s->x = realloc(s->x, s->cap * sizeof *s->x);
    if (!s->t || !s->x) abort();
  }
  s->t[s->n] = *t, s->x[s->n++] = *x;
}

static void test_on_trade(void) {
  size_t cap = 8u << 20, len = 0;
  char *buf = malloc(cap);
  CHECK(buf != NULL);
  if (!buf) return;
  for (long i = 0; i < 40000; i++) {
    const char *sym = i % 5 == 0 ? "A\\u0042" : i % 2 ? "X" : "YY";
    if (i % 997 == 0) len += (size_t)snprintf(buf + len, cap - len, "%s\n", i % 2 ? "" : "  ");
    else if (i % 1009 == 0)
      len += (size_t)snprintf(buf + len, cap - len, "{\"symbol\":\"X\",\"pnl\":\"1x\",\"status\":\"closed\"}\n");
    else if (i % 13 == 0)
      len += (size_t)snprintf(buf + len, cap - len,
                              "{\"trade_id\":%ld,\"symbol\":\"%s\",\"qty\":\"%ld.5\",\"entry_time\":\"2024-02-01T10:00:00Z\",\"entry_price\":%ld.25,\"pnl\":%s,\"status\":\"open\",\"note\":\"padding padding padding padding padding\"}\n",
                              i, sym, i % 7, 100 + i % 50, i % 26 ? "null" : "\"-3.5\"");
    else
      len += (size_t)snprintf(buf + len, cap - len,
                              "{\"trade_id\":%ld,\"symbol\":\"%s\",\"qty\":\"%ld.0\",\"entry_price\":\"%ld.5\",\"exit_time\":\"2024-0%ld-1%ldT10:00:00Z\",\"pnl\":\"%s%ld.%02ld\",\"status\":\"closed\",\"note\":\"padding padding padding padding padding\"}\n",
                              i, sym, 1 + i % 4, 90 + i % 30, 1 + i % 9, i % 10, i % 3 ? "" : "-", i % 97, i % 100);
  }
  CHECK(len > (4u << 20) + 1000 && len < cap);
  seen s = {0};
  bt_perf_index ix;
  bt_perf_index_init(&ix, "mem.jsonl", bt_tz_utc(), 1);
  ix.on_trade = on_trade, ix.on_trade_ctx = &s;
  size_t used = 0;
  uint64_t nl = 0;
  bt_err err = {0};
  CHECK(bt_perf_index_add_buffer(&ix, buf, len, "mem.jsonl", 1, &used, &nl, &err) == 0);
  CHECK(used == len && nl == 40000);
  size_t k = 0, want = 0;
  uint64_t skipped = 0;
  for (const char *p = buf, *e = buf + len; p < e;) {
    const char *q = memchr(p, '\n', (size_t)(e - p));
    bt_perf_trade t;
    bt_perf_trade_shown x;
    bt_err e1 = {0};
    bool blank = strspn(p, " ") == (size_t)(q - p);
    if (!blank && bt_perf_parse_trade(p, (size_t)(q - p), &t, &x, "", 0, &e1) == 0) {
      want++;
      bool same = k < s.n && memcmp(&t, &s.t[k], sizeof t) == 0 && x.qty == s.x[k].qty &&
                  x.entry_price == s.x[k].entry_price && x.symbol == s.x[k].symbol &&
                  x.symbol_len == s.x[k].symbol_len && x.symbol_escaped == s.x[k].symbol_escaped;
      CHECK(same);
      if (!same) break;
      k++;
    } else if (!blank) {
      skipped++;
    }
    p = q + 1;
  }
  CHECK(k == want && s.n == want && skipped == ix.skipped_lines && skipped == 39);
  bt_perf_index_free(&ix);
  free(s.t);
  free(s.x);
  free(buf);
}

static void test_timezone_and_open(void) {
  char path[600];
  snprintf(path, sizeof path, "%s/tz.jsonl", tmp);
  write_file(path,
             "{\"trade_id\":1,\"run_id\":\"r\",\"symbol\":\"X\",\"entry_time\":\"2024-01-10T20:00:00Z\",\"exit_time\":\"2024-01-10T23:30:00Z\",\"pnl\":\"5\",\"status\":\"closed\"}\n"
             "{\"trade_id\":2,\"run_id\":\"r\",\"symbol\":\"X\",\"entry_time\":\"2024-01-11T02:00:00Z\",\"exit_time\":null,\"pnl\":\"3\",\"status\":\"open\"}\n"
             "{\"trade_id\":2,\"run_id\":\"r\",\"symbol\":\"X\",\"entry_time\":\"2024-01-11T02:00:00Z\",\"exit_time\":null,\"pnl\":\"4\",\"status\":\"open\"}\n"
             "{\"trade_id\":3,\"run_id\":\"r\",\"symbol\":\"X\",\"entry_time\":\"2024-01-11T02:00:00Z\",\"exit_time\":null,\"pnl\":\"-1\",\"status\":\"open\"}\n"
             "{\"trade_id\":3,\"run_id\":\"r\",\"symbol\":\"X\",\"entry_time\":\"2024-01-11T02:00:00Z\",\"exit_time\":\"2024-01-11T03:00:00Z\",\"pnl\":\"-2\",\"status\":\"closed\"}\n",
             "w");
  bt_perf_index utc, east, west;
  build(&utc, path, 0, 1);
  build(&east, path, 3600, 1);
  build(&west, path, -18000, 1);
  bt_perf_summary s;
  summary(&utc, BT_PERF_DAILY, "2024-01-10", "2024-01-10", &s);
  CHECK(s.trades == 1 && dec_is(s.realized_pnl, "5.0"));
  CHECK(s.open_trades == 0); /* trade 2 was entered on the 11th */
  bt_perf_summary_free(&s);
  summary(&utc, BT_PERF_DAILY, "2024-01-11", "2024-01-11", &s);
  /* trade 3's open mark is superseded by its close; trade 2 keeps its last mark (4) */
  CHECK(s.trades == 1 && s.open_trades == 1 && dec_is(s.unrealized_pnl, "4.0"));
  CHECK(s.wins == 0 && s.losses == 1);
  bt_perf_summary_free(&s);
  summary(&east, BT_PERF_DAILY, "2024-01-10", "2024-01-10", &s);
  CHECK(s.trades == 0 && s.no_trades); /* 23:30Z is 00:30 on the 11th at +01:00 */
  bt_perf_summary_free(&s);
  summary(&east, BT_PERF_DAILY, "2024-01-11", "2024-01-11", &s);
  CHECK(s.trades == 2 && dec_is(s.realized_pnl, "3.0"));
  bt_perf_summary_free(&s);
  summary(&west, BT_PERF_DAILY, "2024-01-10", "2024-01-10", &s);
  CHECK(s.trades == 2); /* 03:00Z on the 11th is 22:00 on the 10th at -05:00 */
  bt_perf_summary_free(&s);
  bt_perf_index_free(&utc);
  bt_perf_index_free(&east);
  bt_perf_index_free(&west);
}

static void test_confinement(void) {
  bt_err err = {0};
  char p[700];
  snprintf(p, sizeof p, "%s/out/../../escape", tmp);
  CHECK(bt_perf_dir_open(p, &err) < 0 && strstr(err.msg, ".."));
  snprintf(p, sizeof p, "%s/out", tmp);
  int fd = bt_perf_dir_open(p, &err);
  CHECK(fd >= 0);
  CHECK(!bt_perf_safe_name("../x") && !bt_perf_safe_name("a/b") && !bt_perf_safe_name(".hidden"));
  CHECK(bt_perf_write(fd, "../x.json", "x", 1, false, &err) == BT_EINVAL);
  /* a symlink planted in the output directory is refused, its target untouched */
  char victim[700], link[700];
  snprintf(victim, sizeof victim, "%s/victim.txt", tmp);
  write_file(victim, "keep", "w");
  snprintf(link, sizeof link, "%s/out/daily-summary-2024-01-08.json", tmp);
  unlink(link);
  CHECK(symlink(victim, link) == 0);
  CHECK(bt_perf_write(fd, "daily-summary-2024-01-08.json", "evil", 4, true, &err) == BT_EINVAL);
  char *text;
  size_t len;
  CHECK(bt_perf_read(fd, "daily-summary-2024-01-08.json", &text, &len, &err) == BT_EINVAL);
  FILE *f = fopen(victim, "r");
  char buf[16] = "";
  if (f) {
    CHECK(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
  }
  CHECK(strcmp(buf, "keep") == 0);
  CHECK(bt_perf_write(fd, "ok.json", "fine", 4, true, &err) == 0);
  CHECK(bt_perf_read(fd, "ok.json", &text, &len, &err) == 0 && len == 4 && memcmp(text, "fine", 4) == 0);
  free(text);
  close(fd);
}

static void test_targets_and_alerts(void) {
  char targets[600], alerts[600];
  snprintf(targets, sizeof targets, "%s/targets.lua", tmp);
  snprintf(alerts, sizeof alerts, "%s/alerts/performance-alerts.jsonl", tmp);
  write_file(targets,
             "return {\n"
             "  win_rate = { min = 0.6, window = 5 },\n"
             "  risk_reward = { min = 2.0, window = 4 },\n"
             "  avg_win = { min = \"50\" },\n"
             "  avg_loss = { max = 25 },\n"
             "  rules = {\n"
             "    { name = \"pnl_floor\", severity = \"critical\",\n"
             "      check = function(s) local p = tonumber(s.realized_pnl) return p >= 200, p, 200 end },\n"
             "    { name = \"has_open\", check = function(s) return s.open_trades == 1 end },\n"
             "  },\n"
             "}\n",
             "w");
  bt_perf_targets *t;
  bt_err err = {0};
  int rc = bt_perf_targets_load(&t, targets, true, 0, &err);
  if (rc) fprintf(stderr, "  targets: %s\n", err.msg);
  CHECK(rc == 0 && bt_perf_targets_tail_k(t) == 5);
  bt_perf_index ix;
  build(&ix, "tests/fixtures/perf/basic.jsonl", 0, bt_perf_targets_tail_k(t));
  bt_perf_summary s;
  summary(&ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(bt_perf_targets_eval(t, &ix, &s, &err) == 0);
  CHECK(s.nchecks == 6);
  if (s.nchecks == 6) {
    /* last 5: -15 -10 30 0 -20.25 -> 1/5 */
    CHECK(strcmp(s.checks[0].name, "win_rate") == 0 && s.checks[0].status == BT_PERF_CHECK_BREACH);
    CHECK(fabs(atof(s.checks[0].actual) - 0.2) < 0.01);
    /* last 4: -15 -10 30 0 -> avg win 30 / avg loss 12.5 = 2.4 >= 2.0 */
    CHECK(strcmp(s.checks[1].type, "risk_reward_breach") == 0 && s.checks[1].status == BT_PERF_CHECK_OK);
    CHECK(fabs(atof(s.checks[1].actual) - 2.4) < 0.001);
    CHECK(s.checks[2].status == BT_PERF_CHECK_OK);     /* avg win 63.5 >= 50 */
    CHECK(s.checks[3].status == BT_PERF_CHECK_OK);     /* |avg loss| 21.3125 <= 25 */
    CHECK(s.checks[4].status == BT_PERF_CHECK_BREACH && strcmp(s.checks[4].severity, "critical") == 0);
    CHECK(strcmp(s.checks[4].actual, "105.25") == 0 && strcmp(s.checks[4].target, "200") == 0);
    CHECK(s.checks[5].status == BT_PERF_CHECK_OK);
  }
  /* the rolling targets name the exit days of the trades they looked at: the last 5
   * (win_rate) and 4 (risk_reward) closed trades up to the 14th exit on the 9th..10th */
  if (s.nchecks == 6) {
    CHECK(s.checks[0].has_rolling_range && s.checks[0].rolling_start == day("2024-01-09") &&
          s.checks[0].rolling_end == day("2024-01-10"));
    CHECK(s.checks[1].has_rolling_range && s.checks[1].rolling_start == day("2024-01-09") &&
          s.checks[1].rolling_end == day("2024-01-10"));
    CHECK(!s.checks[2].has_rolling_range && !s.checks[4].has_rolling_range);
  }
  int raised = 0, active = 0, other = 0;
  CHECK(bt_perf_alerts_raise(alerts, "log-a", &s, 1700000000000, &raised, &err) == 0 && raised == 2);
  char id[40], rule_id[40];
  snprintf(id, sizeof id, "%s", s.checks[0].alert_id);
  snprintf(rule_id, sizeof rule_id, "%s", s.checks[4].alert_id);
  CHECK(strncmp(id, "pa-", 3) == 0);
  bt_perf_summary_free(&s);
  /* the same breach on the same data is not raised again */
  summary(&ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  CHECK(bt_perf_targets_eval(t, &ix, &s, &err) == 0);
  CHECK(bt_perf_alerts_raise(alerts, "log-a", &s, 1700000001000, &raised, &err) == 0 && raised == 0);
  CHECK(strcmp(s.checks[0].alert_id, id) == 0);
  bt_perf_summary_free(&s);
  /* the daily and monthly views of that rolling breach are the same alert (same last 5
   * trades, same rolling window end); only targets on the window itself are new */
  summary(&ix, BT_PERF_DAILY, "2024-01-10", "2024-01-10", &s);
  CHECK(bt_perf_targets_eval(t, &ix, &s, &err) == 0);
  CHECK(bt_perf_alerts_raise(alerts, "log-a", &s, 1700000001000, &raised, &err) == 0);
  CHECK(raised == 2); /* avg_win and pnl_floor of that day; win_rate is not raised again */
  CHECK(s.nchecks == 6 && strcmp(s.checks[0].alert_id, id) == 0);
  CHECK(s.nchecks == 6 && s.checks[4].status == BT_PERF_CHECK_BREACH && strcmp(s.checks[4].alert_id, rule_id) != 0);
  bt_perf_summary_free(&s);
  summary(&ix, BT_PERF_MONTHLY, "2024-01-01", "2024-01-31", &s);
  CHECK(bt_perf_targets_eval(t, &ix, &s, &err) == 0);
  CHECK(bt_perf_alerts_raise(alerts, "log-a", &s, 1700000001000, &raised, &err) == 0);
  CHECK(raised == 1); /* pnl_floor of the month (a rule on the window); win_rate: same alert */
  CHECK(strcmp(s.checks[0].alert_id, id) == 0);
  /* another trade log with the same numbers has alerts of its own */
  CHECK(bt_perf_alerts_raise(alerts, "log-b", &s, 1700000001000, &raised, &err) == 0 && raised == 2);
  CHECK(strcmp(s.checks[0].alert_id, id) != 0);
  bt_perf_summary_free(&s);
  CHECK(bt_perf_alerts_active(alerts, "log-a", &active, &other, &err) == 0 && active == 5 && other == 2);
  CHECK(bt_perf_alerts_active(alerts, NULL, &active, NULL, &err) == 0 && active == 7);
  bt_perf_alert *list;
  size_t nlist;
  CHECK(bt_perf_alerts_list(alerts, &list, &nlist, &err) == 0 && nlist == 7);
  if (nlist == 7) {
    CHECK(strcmp(list[0].id, id) == 0 && strcmp(list[0].source, "log-a") == 0 && list[0].active);
    CHECK(strcmp(list[0].rolling_start, "2024-01-09") == 0 && strcmp(list[0].rolling_end, "2024-01-10") == 0);
    CHECK(strcmp(list[6].source, "log-b") == 0 && list[0].window_trades == 5);
    CHECK(strcmp(list[1].rolling_end, "") == 0); /* pnl_floor: the window itself */
  }
  free(list);
  int acked = 0;
  CHECK(bt_perf_alerts_ack_all(alerts, "log-b", 1700000002000, &acked, &err) == 0 && acked == 2);
  CHECK(bt_perf_alerts_active(alerts, "log-b", &active, &other, &err) == 0 && active == 0 && other == 5);
  CHECK(bt_perf_alerts_ack_all(alerts, "log-b", 1700000002000, &acked, &err) == 0 && acked == 0);
  CHECK(bt_perf_alerts_ack(alerts, id, 1700000002000, &err) == 0);
  CHECK(bt_perf_alerts_ack(alerts, id, 1700000003000, &err) == 1);
  CHECK(bt_perf_alerts_ack(alerts, "pa-0000000000000000", 0, &err) == BT_EINVAL);
  CHECK(bt_perf_alerts_active(alerts, "log-a", &active, NULL, &err) == 0 && active == 4);
  char *text = NULL;
  FILE *f = fopen(alerts, "r");
  if (f) {
    char line[2048];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
      n++;
      if (strstr(line, id)) CHECK(strstr(line, "\"acknowledged_at\":\"2023-11-14T22:13:22Z\"") != NULL);
      CHECK(strstr(line, "\"event\":\"performance.alert\"") && strstr(line, "\"raised_at\":\"2023-11-14T22:13:2"));
      CHECK(strstr(line, "\"source\":\"log-"));
    }
    CHECK(n == 7);
    fclose(f);
  }
  free(text);
  /* a window without trades suppresses every check */
  summary(&ix, BT_PERF_DAILY, "2024-01-20", "2024-01-20", &s);
  CHECK(bt_perf_targets_eval(t, &ix, &s, &err) == 0);
  for (size_t i = 0; i < s.nchecks; i++) CHECK(s.checks[i].status == BT_PERF_CHECK_SKIPPED);
  CHECK(bt_perf_alerts_raise(alerts, "log-a", &s, 0, &raised, &err) == 0 && raised == 0);
  bt_perf_summary_free(&s);
  bt_perf_targets_free(t);

  /* the rolling window override and a rule that raises a Lua error */
  write_file(targets,
             "return { win_rate = { min = 0.1, window = 5 },\n"
             "  rules = { { name = \"boom\", check = function(s) error(\"kaput\") end } } }\n", "w");
  CHECK(bt_perf_targets_load(&t, targets, true, 7, &err) == 0 && bt_perf_targets_tail_k(t) == 7);
  summary(&ix, BT_PERF_WEEKLY, "2024-01-08", "2024-01-14", &s);
  rc = bt_perf_targets_eval(t, &ix, &s, &err);
  CHECK(rc == BT_ELUA && strstr(err.msg, "kaput") && err.traceback);
  bt_err_clear(&err);
  bt_perf_summary_free(&s);
  bt_perf_targets_free(t);
  /* config mistakes name the key */
  write_file(targets, "return { win_rate = { min = 0.6, windw = 5 } }\n", "w");
  CHECK(bt_perf_targets_load(&t, targets, true, 0, &err) == BT_EINVAL && strstr(err.msg, "win_rate.windw"));
  bt_perf_targets_free(t);
  write_file(targets, "return { win_rate = { min = 1.5 } }\n", "w");
  CHECK(bt_perf_targets_load(&t, targets, true, 0, &err) == BT_EINVAL && strstr(err.msg, "win_rate.min"));
  bt_perf_targets_free(t);
  bt_perf_index_free(&ix);
}

/* report.html of a run: rendered by the run observer, equity curve bounded (downsampled). */
static void test_run_report(void) {
  bt_app app;
  bt_err err = {0};
  CHECK(bt_app_init(&app, NULL, false, &err) == 0);
  const bt_run_observer *obs = NULL;
  for (int i = 0; i < app.nobservers; i++)
    if (strcmp(app.observers[i].name, "perf_report") == 0) obs = &app.observers[i];
  CHECK(obs != NULL);
  if (!obs) return;
  char dir[600], path[700];
  snprintf(dir, sizeof dir, "%s/run", tmp);
  mkdir(dir, 0755);
  snprintf(path, sizeof path, "%s/result.json", dir);
  write_file(path, "{\"run_id\":\"r-1\",\"strategy\":\"s.lua\",\"final_equity\":\"1005.5\"}\n", "w");
  /* the run's equity rows, as the run hands them over in memory (run.h bt_run_day) */
  static bt_run_day days[30000];
  for (long i = 0; i < 30000; i++) /* one row a minute from 2020-01-01 */
    days[i] = (bt_run_day){1577836800 + i * 60, bt_dec_raw((1000 + (i * 7919) % 501) * BT_DEC_SCALE + 50000000)};
  snprintf(path, sizeof path, "cp tests/fixtures/perf/basic.jsonl '%s/trades.jsonl'", dir);
  CHECK(system(path) == 0);
  bt_run_info info = {0};
  info.out_dir = dir;
  bt_run_outcome failed = {.status = BT_RUN_FAILED},
                 done = {.status = BT_RUN_COMPLETED, .days = days, .ndays = 30000,
                         .initial_cash = bt_dec_from_int(1000)};
  obs->on_end(obs->ud, &info, &failed);
  snprintf(path, sizeof path, "%s/report.html", dir);
  CHECK(access(path, F_OK) != 0); /* no report for a failed run */
  obs->on_end(obs->ud, &info, &done);
  char *html = NULL;
  size_t len = 0;
  int fd = bt_perf_dir_open(dir, &err);
  CHECK(fd >= 0 && bt_perf_read(fd, "report.html", &html, &len, &err) == 0);
  if (fd >= 0) close(fd);
  if (html) {
    CHECK(strstr(html, "30000 equity rows") != NULL);
    const char *pl = strstr(html, "points=\"");
    long pts = 0;
    for (const char *q = pl ? pl + 8 : ""; *q && *q != '"'; q++) pts += *q == ',';
    CHECK(pts > 300 && pts <= 640); /* lowest and highest of each of 320 buckets */
    CHECK(strstr(html, "\"run_id\":\"r-1\"") != NULL);
    CHECK(strstr(html, "3 wins, 4 losses") != NULL);
    free(html);
  }
  bt_app_close(&app);
}

int main(void) {
  const char *base = getenv("BT_TEST_TMP");
  snprintf(tmp, sizeof tmp, "%s/test_perf.%ld", base && *base ? base : "/tmp", (long)getpid());
  char cmd[700];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", tmp);
  if (system(cmd) != 0) return 1;
  bt_log_set_level(BT_LOG_ERROR); /* alert warnings are expected here */
  test_time();
  test_basic();
  test_number_text();
  test_errors();
  test_partial_and_incremental();
  test_blocks();
  test_on_trade();
  test_timezone_and_open();
  test_confinement();
  test_targets_and_alerts();
  test_run_report();
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  if (system(cmd) != 0) failures++;
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures ? 1 : 0;
}
