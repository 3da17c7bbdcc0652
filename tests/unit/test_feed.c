/* test_feed.c - CSV feed: the real sample files, every date form, the backtrader
 * minute quirk, malformed input (file:line:field in every message), skip_bad_rows. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "feed.h"

#include "check.h"

static char tmpdir[512];

/* Expected instants come from glibc's timegm, independent of the feed's own code. */
static int64_t utc(int y, int mo, int d, int h, int mi, int s) {
  struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                  .tm_hour = h, .tm_min = mi, .tm_sec = s};
  return (int64_t)timegm(&tm);
}

static int64_t dec(const char *s) {
  bt_dec d;
  if (bt_dec_parse(s, -1, &d) != (int)strlen(s)) {
    fprintf(stderr, "bad decimal literal in test: %s\n", s);
    exit(2);
  }
  return d.v;
}

static const char *write_tmp(const char *name, const char *content) {
  static char path[1024];
  snprintf(path, sizeof path, "%s/%s", tmpdir, name);
  FILE *f = fopen(path, "wb");
  if (!f) {
    perror(path);
    exit(2);
  }
  fputs(content, f);
  fclose(f);
  return path;
}

/* Read every bar of `path` into bars (up to max). Returns the count, or -1 on error
 * (err filled). */
static long load(const char *path, bool skip, bt_bar *bars, long max, bt_err *err,
                 uint64_t *skipped, long *first_skipped) {
  bt_feed *f;
  bt_feed_opts o = {.skip_bad_rows = skip};
  memset(err, 0, sizeof *err);
  if (bt_feed_open(&f, path, "T", 3, &o, err) != 0) return -1;
  long n = 0;
  bt_bar b;
  int rc;
  while ((rc = bt_feed_next(f, &b, err)) == 1) {
    CHECK(b.symbol == 3);
    if (n < max) bars[n] = b;
    n++;
  }
  CHECK((uint64_t)n == bt_feed_rows(f));
  if (skipped) *skipped = bt_feed_skipped(f);
  if (first_skipped) *first_skipped = bt_feed_first_skipped_line(f);
  bt_feed_close(f);
  return rc < 0 ? -1 : n;
}

/* Load content that must fail; check the error names this file, line and field. */
static void expect_error(const char *name, const char *content, long line, const char *field,
                         const char *words) {
  const char *path = write_tmp(name, content);
  bt_err err;
  bt_bar bars[8];
  long n = load(path, false, bars, 8, &err, NULL, NULL);
  char where[1200];
  snprintf(where, sizeof where, "%s:%ld: %s", path, line, field);
  bool ok = n == -1 && err.code == BT_EINVAL && strcmp(err.type, "csv_error") == 0 &&
            strcmp(err.file, path) == 0 && err.line == line && strcmp(err.field, field) == 0 &&
            strncmp(err.msg, where, strlen(where)) == 0 && strstr(err.msg, words) != NULL;
  if (!ok) {
    fprintf(stderr, "  %s: want error at '%s' mentioning '%s', got n=%ld msg='%s' field='%s'\n",
            name, where, words, n, n < 0 ? err.msg : "", n < 0 ? err.field : "");
    failures++;
  }
}

/* ---- the real sample data ---- */

struct known {
  const char *file;
  long rows;
  int64_t first, last;
  const char *first_open, *last_close;
};

static void test_market_data(void) {
  const char *dir = getenv("MARKET_DATA");
  DIR *d = dir ? opendir(dir) : NULL;
  if (!d) {
    fprintf(stderr, "MARKET_DATA directory %s is absent (data/market)\n", dir ? dir : "(unset)");
    failures++;
    return;
  }
  const struct known known[] = {
      {"orcl-1995-2014.txt", 5036, utc(1995, 1, 3, 0, 0, 0), utc(2014, 12, 31, 0, 0, 0),
       "2.179012", "44.970001"},
      {"yhoo-1996-2014.txt", 4713, utc(1996, 4, 12, 0, 0, 0), utc(2014, 12, 31, 0, 0, 0),
       "1.052083", "50.509998"},
      {"nvda-1999-2014.txt", 4012, utc(1999, 1, 22, 0, 0, 0), utc(2014, 12, 31, 0, 0, 0),
       "1.750000", "20.049999"},
      {"2006-day-001.txt", 255, utc(2006, 1, 2, 0, 0, 0), utc(2006, 12, 29, 0, 0, 0),
       "3578.73", "4119.94"},
      {"2006-01-02-volume-min-001.txt", 30889, utc(2006, 1, 2, 9, 1, 0),
       utc(2006, 2, 27, 22, 0, 0), "3602.00", "3838.00"},
  };
  int checked = 0, loaded = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *n = de->d_name;
    size_t len = strlen(n);
    if (n[0] == '.' || len < 4 || (strcmp(n + len - 4, ".txt") && strcmp(n + len - 4, ".csv")))
      continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, n);
    bt_feed *f;
    bt_err err = {0};
    if (bt_feed_open(&f, path, "X", 0, &(bt_feed_opts){0}, &err) != 0) {
      fprintf(stderr, "  open %s: %s\n", path, err.msg);
      failures++;
      continue;
    }
    bt_bar b, first = {0}, last = {0};
    long rows = 0;
    int rc;
    double volume = 0;
    while ((rc = bt_feed_next(f, &b, &err)) == 1) {
      if (rows == 0) first = b;
      CHECK(b.low.v <= b.open.v && b.open.v <= b.high.v);
      CHECK(b.low.v <= b.close.v && b.close.v <= b.high.v);
      CHECK(rows == 0 || b.time > last.time);
      volume += b.volume;
      last = b;
      rows++;
    }
    if (rc < 0) {
      fprintf(stderr, "  read %s: %s\n", path, err.msg);
      failures++;
    }
    CHECK(bt_feed_skipped(f) == 0);
    bt_feed_close(f);
    loaded++;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
      if (strcmp(known[i].file, n) != 0) continue;
      checked++;
      if (rows != known[i].rows || first.time != known[i].first || last.time != known[i].last ||
          first.open.v != dec(known[i].first_open) || last.close.v != dec(known[i].last_close)) {
        char a[32], z[32];
        bt_format_time(first.time, a);
        bt_format_time(last.time, z);
        fprintf(stderr, "  %s: got %ld rows %s .. %s\n", n, rows, a, z);
        failures++;
      }
      if (strcmp(n, "orcl-1995-2014.txt") == 0) {
        /* 1995-01-03,2.179012,2.191358,2.117284,2.117284,1.883304,36301200: Adj Close skipped */
        CHECK(first.high.v == 219135800 && first.low.v == 211728400);
        CHECK(first.close.v == 211728400 && first.volume == 36301200.0);
      }
      if (strcmp(n, "2006-01-02-volume-min-001.txt") == 0) {
        /* Date,Time,... rows under a 7-name header, CRLF; volume is the 7th field */
        CHECK(first.close.v == dec("3599") && first.volume == 5699.0);
        CHECK(last.volume == 327.0);
        CHECK(volume == 23244742.0);
      }
    }
  }
  closedir(d);
  CHECK(checked == 5);
  printf("shared data: %d files loaded, %d checked against the README\n", loaded, checked);
}

static void test_sample(void) {
  char sym[32];
  const char *path;
  bt_feed_symbol_from_arg("data/sample-daily.csv", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "SAMPLE") == 0);
  bt_err err;
  static bt_bar bars[3000];
  long n = load(path, false, bars, 3000, &err, NULL, NULL);
  CHECK(n == 2500);
  if (n == 2500) {
    for (long i = 0; i < n; i++) {
      /* weekdays only, 2 decimals */
      CHECK((bars[i].time / 86400 + 3) % 7 < 5);
      CHECK(bars[i].close.v % 1000000 == 0);
    }
  }
}

static bool same_file(const char *a, const char *b) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  bool same = fa && fb;
  while (same) {
    int ca = getc(fa), cb = getc(fb);
    if (ca != cb) same = false;
    if (ca == EOF) break;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return same;
}

/* The generator is deterministic: run by btrun itself it rebuilds the shipped sample
 * byte for byte, and its minute bars load as a valid feed. */
static void test_generator(void) {
  const char *btrun = getenv("BTRUN");
  if (!btrun || access(btrun, X_OK) != 0) {
    printf("SKIP generator checks: BTRUN is not set to an executable\n");
    return;
  }
  char cmd[4096], out[1024];
  snprintf(out, sizeof out, "%s/regen.csv", tmpdir);
  snprintf(cmd, sizeof cmd,
           "BTRUN_DATA_DIR='%s' '%s' scripts/gen_bars.lua -- --out '%s' >/dev/null 2>&1", tmpdir,
           btrun, out);
  CHECK(system(cmd) == 0);
  CHECK(same_file(out, "data/sample-daily.csv"));
  snprintf(cmd, sizeof cmd,
           "BTRUN_DATA_DIR='%s' '%s' scripts/gen_bars.lua -- --bars 3000 --freq minute --seed 9 "
           "--out '%s' >/dev/null 2>&1",
           tmpdir, btrun, out);
  CHECK(system(cmd) == 0);
  static bt_bar bars[3000];
  bt_err err;
  CHECK(load(out, false, bars, 3000, &err, NULL, NULL) == 3000);
  CHECK(bars[0].time == utc(2015, 1, 2, 0, 0, 0));
  CHECK(bars[2999].time == bars[0].time + 2999 * 60);
}

/* ---- formats ---- */

static void test_date_forms(void) {
  bt_err err;
  bt_bar b[8];
  const char *p;

  p = write_tmp("dt.csv",
                "Datetime,Open,High,Low,Close,Volume\n"
                "2020-03-01 09:30:00,1,2,0.5,1.5,10\n"
                "2020-03-01 09:31:00,1,2,0.5,1.5,10.5\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 2);
  CHECK(b[0].time == utc(2020, 3, 1, 9, 30, 0) && b[1].time == utc(2020, 3, 1, 9, 31, 0));
  CHECK(b[1].volume == 10.5);

  p = write_tmp("iso.csv",
                "timestamp,open,high,low,close\n"
                "2020-03-01T09:30:00Z,1,2,0.5,1.5\n"
                "2020-03-01T11:31:00+02:00,1,2,0.5,1.5\n"
                "2020-03-01T04:02:00-0530,1,2,0.5,1.5\n"
                "2020-03-01T09:33:00,1,2,0.5,1.5\n"
                "2020-03-01T09:34:00.000Z,1,2,0.5,1.5\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 5);
  CHECK(b[0].time == utc(2020, 3, 1, 9, 30, 0));
  CHECK(b[1].time == utc(2020, 3, 1, 9, 31, 0));
  CHECK(b[2].time == utc(2020, 3, 1, 9, 32, 0));
  CHECK(b[3].time == utc(2020, 3, 1, 9, 33, 0));
  CHECK(b[4].time == utc(2020, 3, 1, 9, 34, 0));

  p = write_tmp("epoch.csv",
                "Time,Open,High,Low,Close,Volume\n"
                "1583055000,1,2,0.5,1.5,1\n"
                "1583055060,1,2,0.5,1.5,1\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 2);
  CHECK(b[0].time == utc(2020, 3, 1, 9, 30, 0) && b[1].time == b[0].time + 60);

  p = write_tmp("datetime-cols.csv",
                "Date,Time,Open,High,Low,Close,Volume\n"
                "2020-03-01,09:30:00,1,2,0.5,1.5,1\n"
                "2020-03-01,09:31,1,2,0.5,1.5,1\n"
                "2020-03-02,00:00:00,1,2,0.5,1.5,1\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 3);
  CHECK(b[0].time == utc(2020, 3, 1, 9, 30, 0) && b[1].time == utc(2020, 3, 1, 9, 31, 0));
  CHECK(b[2].time == utc(2020, 3, 2, 0, 0, 0));

  /* BOM, upper case names, quoted header, ignored columns, CRLF, blank trailing lines,
   * column order other than the usual, no Volume column */
  p = write_tmp("quirks.csv",
                "\xEF\xBB\xBF\"DATE\",Close,Adj Close,LOW,HIGH,Open,OpenInterest,Note\r\n"
                "2024-02-28,10.25,9.9,10.00,10.50,10.10,7,x\r\n"
                "2024-02-29,10.30,9.9,10.20,10.40,10.25,7,y\r\n"
                "\r\n\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 2);
  CHECK(b[0].time == utc(2024, 2, 28, 0, 0, 0) && b[1].time == utc(2024, 2, 29, 0, 0, 0));
  CHECK(b[0].open.v == dec("10.10") && b[0].high.v == dec("10.5") && b[0].low.v == dec("10") &&
        b[0].close.v == dec("10.25") && b[0].volume == 0);

  /* backtrader's minute layout: 7 names, 8 fields per row; CRLF; no trailing newline */
  p = write_tmp("short-header.csv",
                "Date,Open,High,Low,Close,Volume,OpenInterest\r\n"
                "2006-01-02,09:01:00,3602.00,3603.00,3597.00,3599.00,5699,0\r\n"
                "2006-01-02,09:02:00,3599.00,3601.00,3598.00,3600.00,3000,0");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 2);
  CHECK(b[0].time == utc(2006, 1, 2, 9, 1, 0) && b[1].time == utc(2006, 1, 2, 9, 2, 0));
  CHECK(b[0].open.v == dec("3602") && b[1].close.v == dec("3600") && b[1].volume == 3000);

  /* exact prices in other spellings go through bt_dec_parse */
  p = write_tmp("prices.csv",
                "Date,Open,High,Low,Close\n"
                "2020-01-01,\"1.5\",1.50000000000,+1.5,1.5e0\n"
                "2020-01-02,-2.25,-1,-3,-2.123456780000\n");
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == 2);
  CHECK(b[0].open.v == dec("1.5") && b[0].high.v == dec("1.5") && b[0].low.v == dec("1.5") &&
        b[0].close.v == dec("1.5"));
  CHECK(b[1].open.v == dec("-2.25") && b[1].close.v == dec("-2.12345678"));

  /* empty file and header only: no bars, no error */
  CHECK(load(write_tmp("empty.csv", ""), false, b, 8, &err, NULL, NULL) == 0);
  CHECK(load(write_tmp("header.csv", "Date,Open,High,Low,Close\n"), false, b, 8, &err, NULL,
             NULL) == 0);
}

static void test_parse_time(void) {
  int64_t t;
  CHECK(bt_parse_time("1995-05-12", -1, &t) && t == utc(1995, 5, 12, 0, 0, 0));
  CHECK(bt_parse_time("2000-02-29 23:59:59", -1, &t) && t == utc(2000, 2, 29, 23, 59, 59));
  CHECK(bt_parse_time("2000-02-29T23:59:59Z", -1, &t) && t == utc(2000, 2, 29, 23, 59, 59));
  CHECK(bt_parse_time("2021-06-30T18:00:00+0200", -1, &t) && t == utc(2021, 6, 30, 16, 0, 0));
  CHECK(bt_parse_time("2021-06-30T18:00-01:30", -1, &t) && t == utc(2021, 6, 30, 19, 30, 0));
  CHECK(bt_parse_time("2021-06-30T18:00:00+02", -1, &t) && t == utc(2021, 6, 30, 16, 0, 0));
  CHECK(bt_parse_time("1600-03-01", -1, &t) && t == utc(1600, 3, 1, 0, 0, 0));
  CHECK(bt_parse_time("0", -1, &t) && t == 0);
  CHECK(bt_parse_time("-86400", -1, &t) && t == -86400);
  CHECK(bt_parse_time("1583055000", -1, &t) && t == utc(2020, 3, 1, 9, 30, 0));
  /* 12+ digits are epoch milliseconds (exchange klines), whole seconds only */
  CHECK(bt_parse_time("1583055000000", -1, &t) && t == utc(2020, 3, 1, 9, 30, 0));
  CHECK(bt_parse_time("99999999999", -1, &t) && t == 99999999999LL);
  CHECK(bt_parse_time("100000000000", -1, &t) && t == 100000000);
  CHECK(bt_parse_time("1995-05-12,rest", 10, &t) && t == utc(1995, 5, 12, 0, 0, 0));
  const char *bad[] = {"", "abc", "2021-02-29", "1900-02-29", "2021-13-01", "2021-00-10",
                       "2021-04-31", "2021-1-01", "2021-01-01 24:00:00", "2021-01-01 10:60",
                       "2021-01-01T10:00:00.5", "2021-01-01T10:00:00+25:00", "2021-01-01X",
                       "2021-01-01T10:00:00 Z", "1583055000001", "-1583055000000",
                       "253402300800000", "12:00:00", "1.5"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (bt_parse_time(bad[i], -1, &t)) {
      fprintf(stderr, "  bt_parse_time accepted '%s'\n", bad[i]);
      failures++;
    }
  }
  char buf[32];
  bt_format_time(800236800, buf);
  CHECK(strcmp(buf, "1995-05-12T00:00:00Z") == 0);
  bt_format_time(-1, buf);
  CHECK(strcmp(buf, "1969-12-31T23:59:59Z") == 0);
  bt_format_time(utc(2006, 2, 27, 22, 0, 5), buf);
  CHECK(strcmp(buf, "2006-02-27T22:00:05Z") == 0);
  /* format then parse is the identity across a wide range */
  for (int64_t e = -5000000000LL; e < 250000000000LL; e += 7777777777LL) {
    bt_format_time(e, buf);
    CHECK(bt_parse_time(buf, -1, &t) && t == e);
  }
}

/* Load with options; -1 on error (err filled). */
static long load_opts(const char *path, const bt_feed_opts *o, bt_bar *bars, long max,
                      bt_err *err) {
  bt_feed *f;
  memset(err, 0, sizeof *err);
  if (bt_feed_open(&f, path, "T", 0, o, err) != 0) return -1;
  long n = 0;
  bt_bar b;
  int rc;
  while ((rc = bt_feed_next(f, &b, err)) == 1)
    if (n < max) bars[n++] = b;
  bt_feed_close(f);
  return rc < 0 ? -1 : n;
}

/* Files as people really have them: exchange klines in epoch ms with open_time, US
 * dates, other column names, no header, newest first. Each loads with the right option
 * or fails with a message that says what to do. */
static void test_real_world_files(void) {
  bt_bar bars[8];
  bt_err err;
  const char *klines = write_tmp("klines.csv",
      "open_time,open,high,low,close,volume,close_time\n"
      "1577836800000,7195.24,7196.25,7175.46,7177.02,511.814901,1577837699999\n"
      "1577837700000,7176.47,7230.00,7175.71,7216.27,883.052603,1577838599999\n");
  CHECK(load_opts(klines, &(bt_feed_opts){0}, bars, 8, &err) == 2);
  CHECK(bars[0].time == utc(2020, 1, 1, 0, 0, 0) && bars[1].time == utc(2020, 1, 1, 0, 15, 0));
  CHECK(bars[1].close.v == dec("7216.27"));
  expect_error("klines_subsecond.csv",
               "open_time,open,high,low,close\n1577836800500,1,2,0.5,1\n", 2, "open_time",
               "not a date/time");

  /* write_tmp returns one static buffer: expect_error (which writes too) comes first */
  expect_error("us_hint.csv", "Date,Open,High,Low,Close\n01/02/2020,1,2,0.5,1\n", 2, "Date",
               "--date-format %m/%d/%Y");
  const char *us = write_tmp("us.csv", "Date,Open,High,Low,Close\n01/02/2020,1,2,0.5,1\n"
                                       "12/31/2020,1,2,0.5,1\n");
  CHECK(load_opts(us, &(bt_feed_opts){.date_format = "%m/%d/%Y"}, bars, 8, &err) == 2);
  CHECK(bars[0].time == utc(2020, 1, 2, 0, 0, 0) && bars[1].time == utc(2020, 12, 31, 0, 0, 0));
  CHECK(load_opts(us, &(bt_feed_opts){.date_format = "%d/%m/%Y"}, bars, 8, &err) == -1);
  CHECK(strstr(err.msg, "us.csv:3: Date: does not match --date-format") != NULL);
  const char *eu = write_tmp("eu.csv", "Date,Open,High,Low,Close\n02.01.2020 15:30,1,2,0.5,1\n");
  CHECK(load_opts(eu, &(bt_feed_opts){.date_format = "%d.%m.%Y %H:%M"}, bars, 8, &err) == 1);
  CHECK(bars[0].time == utc(2020, 1, 2, 15, 30, 0));

  /* --columns: the mapped name wins over the header's own "close" */
  const char *odd = write_tmp("odd.csv", "ts,o,h,l,close,c\n2020-01-02,1,2,0.5,9,1.5\n");
  bt_feed_opts map = {.columns = "time=ts,open=o,high=h,low=l,close=c"};
  CHECK(load_opts(odd, &map, bars, 8, &err) == 1);
  CHECK(bars[0].time == utc(2020, 1, 2, 0, 0, 0) && bars[0].close.v == dec("1.5"));
  CHECK(load_opts(odd, &(bt_feed_opts){.columns = "time=ts,open=o,high=h,low=l,close=cc"}, bars,
                  8, &err) == -1);
  CHECK(strstr(err.msg, "odd.csv:1: cc: column mapping names a column the header does not have"));
  CHECK(load_opts(odd, &(bt_feed_opts){.columns = "price=c"}, bars, 8, &err) == -1);
  CHECK(strstr(err.msg, "bad column mapping 'price=c'") != NULL);
  expect_error("odd_hint.csv", "ts,o,h,l,c\n2020-01-02,1,2,0.5,1\n", 1, "Date",
               "--columns time=NAME");

  expect_error("noheader.csv", "2020-01-02,1,2,0.5,1\n2020-01-03,1,2,0.5,1\n", 1, "Date",
               "the first line looks like data, not a header");
  expect_error("newest_first.csv",
               "Date,Open,High,Low,Close\n2020-01-03,1,2,0.5,1\n2020-01-02,1,2,0.5,1\n", 3,
               "Date", "sorted newest first: sort its rows oldest first");
  expect_error("unsorted.csv",
               "Date,Open,High,Low,Close\n2020-01-02,1,2,0.5,1\n2020-01-04,1,2,0.5,1\n"
               "2020-01-03,1,2,0.5,1\n", 4, "Date", "rows must be in ascending time order");
}

static void test_symbols(void) {
  char sym[16];
  const char *path;
  bt_feed_symbol_from_arg("orcl-1995-2014.txt", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "ORCL") == 0 && strcmp(path, "orcl-1995-2014.txt") == 0);
  bt_feed_symbol_from_arg("/x/y/nvda_daily.csv", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "NVDA") == 0 && strcmp(path, "/x/y/nvda_daily.csv") == 0);
  bt_feed_symbol_from_arg("Spy.csv", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "SPY") == 0);
  bt_feed_symbol_from_arg("es=data/2006-day-001.txt", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "es") == 0 && strcmp(path, "data/2006-day-001.txt") == 0);
  bt_feed_symbol_from_arg("./a=b/qqq.csv", sym, sizeof sym, &path);
  CHECK(strcmp(sym, "QQQ") == 0 && strcmp(path, "./a=b/qqq.csv") == 0);
  bt_feed_symbol_from_arg("averyveryverylongname.csv", sym, sizeof sym, &path);
  CHECK(strlen(sym) == sizeof sym - 1);
}

/* ---- errors ---- */

#define HDR "Date,Open,High,Low,Close,Volume\n"
#define ROW1 "2020-01-01,1,2,0.5,1.5,10\n"
#define ROW2 "2020-01-02,1,2,0.5,1.5,10\n"

static void test_errors(void) {
  expect_error("bad-number.csv", HDR ROW1 "2020-01-02,1,2,0.5,abc,10\n", 3, "Close", "abc");
  expect_error("empty-field.csv", HDR ROW1 "2020-01-02,1,,0.5,1.5,10\n", 3, "High", "empty");
  expect_error("nine-decimals.csv", HDR "2020-01-01,1.000000001,2,0.5,1.5,10\n", 2, "Open",
               "8 decimals");
  expect_error("bad-volume.csv", HDR ROW1 ROW2 "2020-01-03,1,2,0.5,1.5,1x\n", 4, "Volume",
               "not a number");
  expect_error("neg-volume.csv", HDR "2020-01-03,1,2,0.5,1.5,-3\n", 2, "Volume", "negative");
  expect_error("hex-volume.csv", HDR "2020-01-03,1,2,0.5,1.5,0x10\n", 2, "Volume", "0x10");
  expect_error("bad-date.csv", HDR ROW1 "2020-02-30,1,2,0.5,1.5,10\n", 3, "Date", "2020-02-30");
  expect_error("missing-column.csv", "Date,Open,High,Close,Volume\n" ROW1, 1, "Low",
               "missing required column");
  expect_error("semicolons.csv", "Date;Open;High;Low;Close\n2020-01-01;1;2;0,5;1,5\n", 1, "Date",
               "separated by commas");
  expect_error("no-time-column.csv", "Day,Open,High,Low,Close\n", 1, "Date",
               "missing required column");
  expect_error("too-few-fields.csv", HDR ROW1 ROW2 "2020-01-03,1,2,0.5,1.5\n", 4, "",
               "expected 6, got 5");
  expect_error("too-many-fields.csv", HDR ROW1 "2020-01-03,1,2,0.5,1.5,10,11\n", 3, "",
               "expected 6, got 7");
  expect_error("shifted-fields.csv", HDR ROW1 "2020-01-03,2,0.5,1.5,10\n", 3, "",
               "wrong number of fields");
  expect_error("duplicate-time.csv", HDR ROW1 ROW2 ROW2, 4, "Date",
               "time not after previous row (line 3)");
  expect_error("unsorted.csv", HDR ROW2 ROW1, 3, "Date", "time not after previous row (line 2)");
  expect_error("high-low.csv", HDR ROW1 "2020-01-02,1,0.5,2,1,10\n", 3, "High", "high below low");
  expect_error("open-outside.csv", HDR "2020-01-02,2.5,2,0.5,1,10\n", 2, "Open", "outside");
  expect_error("close-outside.csv", HDR "2020-01-02,1,2,0.5,0.4,10\n", 2, "Close", "outside");
  expect_error("dup-column.csv", "Date,Open,High,Low,Close,close\n", 1, "close", "twice");
  expect_error("bad-tod.csv", "Date,Time,Open,High,Low,Close\n2020-01-01,25:00,1,2,0.5,1.5\n",
               2, "Time", "time of day");

  /* missing file: an I/O error naming the file */
  bt_err err = {0};
  bt_feed *f = (bt_feed *)&err;
  char path[1024];
  snprintf(path, sizeof path, "%s/no-such-file.csv", tmpdir);
  CHECK(bt_feed_open(&f, path, "X", 0, NULL, &err) == BT_EIO);
  CHECK(f == NULL && err.code == BT_EIO && strstr(err.msg, path) != NULL);
}

static void test_skip_bad_rows(void) {
  const char *p = write_tmp("skip.csv", HDR ROW1
                            "2020-01-02,1,2,0.5,oops,10\n"      /* line 3: bad number */
                            "2020-01-03,1,2,0.5\n"              /* line 4: field count */
                            "2020-01-04,1,2,0.5,1.5,10\n"
                            "2020-01-05,1,0.4,0.5,0.45,10\n"    /* line 6: high < low */
                            "2020-13-06,1,2,0.5,1.5,10\n"       /* line 7: bad date */
                            "2020-01-07,1,2,0.5,1.5,10\n");
  bt_err err;
  bt_bar b[8];
  uint64_t skipped = 99;
  long first = 99;
  CHECK(load(p, true, b, 8, &err, &skipped, &first) == 3);
  CHECK(skipped == 4 && first == 3);
  CHECK(b[0].time == utc(2020, 1, 1, 0, 0, 0) && b[1].time == utc(2020, 1, 4, 0, 0, 0) &&
        b[2].time == utc(2020, 1, 7, 0, 0, 0));
  /* without the option the first bad row stops the read */
  CHECK(load(p, false, b, 8, &err, NULL, NULL) == -1 && err.line == 3);
  /* a clean file reports nothing skipped */
  CHECK(load(write_tmp("clean.csv", HDR ROW1 ROW2), true, b, 8, &err, &skipped, &first) == 2);
  CHECK(skipped == 0 && first == 0);
  /* ordering errors are never skipped */
  p = write_tmp("skip-dup.csv", HDR ROW1 "bad\n" ROW2 ROW1);
  CHECK(load(p, true, b, 8, &err, &skipped, NULL) == -1);
  CHECK(err.line == 5 && strstr(err.msg, "time not after previous row (line 4)") != NULL);
}

/* Random damage to a valid file never crashes (the suite also runs under ASan) and
 * always ends in bars or an error that names the file and a line. */
static void test_fuzz(void) {
  const char *base = "Date,Time,Open,High,Low,Close,Volume\r\n"
                     "2020-01-01,09:30:00,1.5,2.25,0.5,1.75,100\r\n"
                     "2020-01-01,09:31:00,1.5,2.25,0.5,1.75,100.5\r\n"
                     "2020-01-02,00:00,1,2,1,2,0\r\n"
                     "2020-01-03,12:00:00,\"3\",4e0,2.00000000,3,1e3\r\n";
  const char alphabet[] = ",.-+:eT Z\"\r\n0123456789";
  uint64_t rng = 0x2545F4914F6CDD1DULL;
  char buf[512], path[1024];
  snprintf(path, sizeof path, "%s/fuzz.csv", tmpdir);
  for (int iter = 0; iter < 600; iter++) {
    size_t len = strlen(base);
    memcpy(buf, base, len);
    int edits = 1 + iter % 4;
    for (int k = 0; k < edits && len > 1; k++) {
      rng = rng * 6364136223846793005ULL + 1442695040888963407ULL;
      size_t at = (size_t)(rng >> 33) % len;
      char c = alphabet[(rng >> 20) % (sizeof alphabet - 1)];
      switch ((rng >> 8) % 4) {
        case 0: buf[at] = c; break;                                  /* replace */
        case 1: memmove(buf + at, buf + at + 1, len - at - 1), len--; break; /* delete */
        case 2:                                                     /* insert */
          if (len + 1 < sizeof buf) memmove(buf + at + 1, buf + at, len - at), buf[at] = c, len++;
          break;
        case 3: len = at + 1; break;                                /* truncate */
      }
    }
    FILE *f = fopen(path, "wb");
    if (!f) break;
    fwrite(buf, 1, len, f);
    fclose(f);
    for (int skip = 0; skip < 2; skip++) {
      bt_err err;
      bt_bar b[8];
      long n = load(path, skip, b, 8, &err, NULL, NULL);
      if (n < 0 && (strcmp(err.file, path) != 0 || err.line < 1 || !err.msg[0])) {
        fprintf(stderr, "  fuzz %d: error without a location: '%s'\n", iter, err.msg);
        failures++;
      }
      for (long i = 0; i < n && i < 8; i++) {
        CHECK(b[i].low.v <= b[i].open.v && b[i].open.v <= b[i].high.v);
        CHECK(b[i].low.v <= b[i].close.v && b[i].close.v <= b[i].high.v);
        CHECK(i == 0 || b[i].time > b[i - 1].time);
      }
    }
  }
}

/* Plain rows take the reader's one-pass path; the same rows with a space after every
 * field take the general path. Both must give identical bars, for every time form the
 * one-pass path knows and prices of 0..10 digits and 0..8 decimals. */
static uint64_t next_rand(uint64_t *state) {
  *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
  return *state >> 24;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

static void test_paths_agree(void) {
  enum { ROWS = 400 };
  static char plain[ROWS * 160 + 64], spaced[ROWS * 200 + 64];
  size_t np = 0, ns = 0;
  const char *hdr = "Datetime,Open,High,Low,Close,Volume\n";
  np += (size_t)sprintf(plain + np, "%s", hdr);
  ns += (size_t)sprintf(spaced + ns, "%s", hdr);
  uint64_t rng = 12345;
  int64_t t0 = utc(2021, 12, 31, 23, 0, 0);
  for (int i = 0; i < ROWS; i++) {
    int64_t px[4];
    char txt[4][40];
    for (int k = 0; k < 4; k++) {
      /* 0..10 integer digits, 0..8 decimals, some negative */
      int ni = (int)(next_rand(&rng) % 11), nf = (int)(next_rand(&rng) % 9), n = 0;
      if (ni + nf == 0) ni = 1;
      char buf[40];
      if (next_rand(&rng) % 4 == 0) buf[n++] = '-';
      for (int j = 0; j < ni; j++) buf[n++] = (char)('0' + next_rand(&rng) % 10);
      if (nf) buf[n++] = '.';
      for (int j = 0; j < nf; j++) buf[n++] = (char)('0' + next_rand(&rng) % 10);
      buf[n] = '\0';
      px[k] = dec(buf);
    }
    qsort(px, 4, sizeof px[0], cmp_i64);
    /* low, open, close, high from the sorted values, printed back exactly */
    int64_t order[4] = {px[1], px[3], px[0], px[2]};
    for (int k = 0; k < 4; k++) {
      char b[BT_DEC_STRLEN];
      bt_dec_format(bt_dec_raw(order[k]), b);
      snprintf(txt[k], sizeof txt[k], "%s", b);
    }
    char when[32];
    bt_format_time(t0 + 61 * i, when); /* 2021-12-31T23:00:00Z */
    switch (i % 4) {
      case 0: when[10] = ' ', when[19] = '\0'; break;
      case 1: when[19] = '\0'; break;
      case 2: break;
      case 3: snprintf(when, sizeof when, "%lld", (long long)(t0 + 61 * i)); break;
    }
    unsigned long long vol = next_rand(&rng) % 1000000000000000ULL;
    np += (size_t)sprintf(plain + np, "%s,%s,%s,%s,%s,%llu\n", when, txt[0], txt[1], txt[2],
                          txt[3], vol);
    ns += (size_t)sprintf(spaced + ns, "%s ,%s ,%s ,%s ,%s ,%llu \n", when, txt[0], txt[1],
                          txt[2], txt[3], vol);
  }
  static bt_bar a[ROWS], b[ROWS];
  bt_err err;
  long na = load(write_tmp("plain.csv", plain), false, a, ROWS, &err, NULL, NULL);
  if (na < 0) fprintf(stderr, "  plain.csv: %s\n", err.msg);
  long nb = load(write_tmp("spaced.csv", spaced), false, b, ROWS, &err, NULL, NULL);
  if (nb < 0) fprintf(stderr, "  spaced.csv: %s\n", err.msg);
  CHECK(na == ROWS && nb == ROWS);
  for (long i = 0; i < na && i < nb; i++) {
    if (a[i].time != b[i].time || a[i].open.v != b[i].open.v || a[i].high.v != b[i].high.v ||
        a[i].low.v != b[i].low.v || a[i].close.v != b[i].close.v || a[i].volume != b[i].volume) {
      fprintf(stderr, "  row %ld differs between the two paths\n", i + 2);
      failures++;
      break;
    }
  }
}

/* A run done with its bars releases its feeds (the window, the file, the source) and
 * still names them: symbol, path and skip counts stay; the feed reads as ended. */
static int src_closed;
static int src_next(void *ud, bt_bar *bar, bt_err *err) {
  (void)ud, (void)err;
  *bar = (bt_bar){.time = 86400};
  return 1;
}
static void src_close(void *ud) { (void)ud, src_closed++; }

static void test_release(void) {
  const char *p = write_tmp("release.csv", HDR "oops\n" ROW1 ROW2);
  bt_feed *f = NULL;
  bt_err err = {0};
  bt_bar b;
  CHECK(bt_feed_open(&f, p, "REL", 2, &(bt_feed_opts){.skip_bad_rows = true}, &err) == 0);
  if (!f) return;
  CHECK(bt_feed_next(f, &b, &err) == 1); /* mid-file: ROW2 is unread */
  bt_feed_release(f);
  CHECK(strcmp(bt_feed_symbol(f), "REL") == 0 && strcmp(bt_feed_path(f), p) == 0);
  CHECK(bt_feed_skipped(f) == 1 && bt_feed_first_skipped_line(f) == 2 && bt_feed_rows(f) == 1);
  CHECK(bt_feed_next(f, &b, &err) == 0 && bt_feed_progress(f) == 1.0);
  bt_feed_release(f); /* twice is harmless */
  bt_feed_close(f);

  bt_feed_source src = {.next = src_next, .close = src_close, .skipped = 3, .first_skipped = 7};
  CHECK(bt_feed_open_source(&f, p, "SRC", 0, &src, &err) == 0);
  if (!f) return;
  CHECK(bt_feed_next(f, &b, &err) == 1);
  bt_feed_release(f);
  CHECK(src_closed == 1 && bt_feed_skipped(f) == 3 && bt_feed_first_skipped_line(f) == 7);
  CHECK(strcmp(bt_feed_symbol(f), "SRC") == 0 && bt_feed_next(f, &b, &err) == 0);
  bt_feed_close(f);
  CHECK(src_closed == 1); /* closed once */
}

/* A pipe cannot be mapped: the feed reads it into memory instead. */
static void test_pipe(void) {
  char path[1024];
  snprintf(path, sizeof path, "%s/fifo-%d", tmpdir, (int)getpid());
  unlink(path);
  if (mkfifo(path, 0600) != 0) {
    printf("SKIP pipe test: mkfifo: %s\n", strerror(errno));
    return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(path, O_WRONLY);
    const char *s = HDR ROW1 ROW2;
    ssize_t w = fd >= 0 ? write(fd, s, strlen(s)) : -1;
    _exit(w == (ssize_t)strlen(s) ? 0 : 1);
  }
  bt_err err;
  bt_bar b[4];
  CHECK(load(path, false, b, 4, &err, NULL, NULL) == 2);
  CHECK(b[1].time == utc(2020, 1, 2, 0, 0, 0) && b[1].close.v == dec("1.5"));
  int st;
  waitpid(pid, &st, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  unlink(path);
}

int main(void) {
  const char *t = getenv("BT_TEST_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s/feed-%d", t && *t ? t : "/tmp", (int)getpid());
  if (t && *t) mkdir(t, 0700);
  if (mkdir(tmpdir, 0700) != 0 && errno != EEXIST) {
    perror(tmpdir);
    return 2;
  }
  test_market_data();
  test_sample();
  test_generator();
  test_date_forms();
  test_parse_time();
  test_symbols();
  test_real_world_files();
  test_errors();
  test_skip_bad_rows();
  test_fuzz();
  test_paths_agree();
  test_pipe();
  test_release();
  if (failures) {
    fprintf(stderr, "test_feed: %d check(s) failed (temp files in %s)\n", failures, tmpdir);
    return 1;
  }
  DIR *d = opendir(tmpdir);
  for (struct dirent *de; d && (de = readdir(d)) != NULL;) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tmpdir, de->d_name);
    if (de->d_name[0] != '.') unlink(path);
  }
  if (d) closedir(d);
  rmdir(tmpdir);
  printf("test_feed: all checks passed\n");
  return 0;
}
