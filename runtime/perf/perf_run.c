/* perf_run.c - report.html for every completed run, rendered by lua/formats/run_report.lua
 * from the run directory's result.json, trades.jsonl and equity.csv. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "perf.h"
#include "perf_files.h"
#include "perf_time.h"

#define EQUITY_BUCKETS 1000  /* at most 2 points per bucket in the SVG, whatever the bar count */
#define TRADE_ROWS 200       /* trades listed in the report table */

typedef struct run_report {
  char formats_dir[1024];
  bt_report *report;
} run_report;

static int find_col(const char *hdr, size_t n, const char *name) {
  int col = 0;
  size_t nl = strlen(name);
  for (size_t i = 0; i <= n;) {
    size_t j = i;
    while (j < n && hdr[j] != ',') j++;
    size_t l = j - i;
    if (l && hdr[i + l - 1] == '\r') l--;
    if (l == nl && memcmp(hdr + i, name, nl) == 0) return col;
    col++;
    i = j + 1;
  }
  return -1;
}

typedef struct row {
  const char *f[8];
  size_t n[8];
  bt_dec equity;
} row;

static bool split_row(const char *p, size_t len, int tcol, int ecol, int dcol, row *r) {
  int col = 0;
  size_t i = 0;
  while (col < 8) {
    size_t j = i;
    while (j < len && p[j] != ',') j++;
    size_t l = j - i;
    if (l && p[i + l - 1] == '\r') l--;
    r->f[col] = p + i, r->n[col] = l;
    col++;
    if (j >= len) break;
    i = j + 1;
  }
  if (tcol >= col || ecol >= col || dcol >= col) return false;
  return bt_dec_parse(r->f[ecol], (long)r->n[ecol], &r->equity) == (int)r->n[ecol];
}

static void emit_point(bt_log_buf *b, const row *r, int tcol, int ecol, int dcol, bool *first) {
  bt_log_buf_printf(b, "%s[\"%.*s\",\"%.*s\",\"%.*s\"]", *first ? "" : ",", (int)r->n[tcol],
                    r->f[tcol], (int)r->n[ecol], r->f[ecol], (int)r->n[dcol], r->f[dcol]);
  *first = false;
}

/* equity.csv -> {"rows":N,"downsampled":bool,"points":[[time,equity,drawdown],...]} keeping
 * each bucket's lowest and highest equity rows in time order. */
static int equity_json(const char *path, bt_log_buf *b, bt_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    if (fd >= 0) close(fd);
    bt_log_buf_printf(b, "{\"rows\":0,\"downsampled\":false,\"points\":[]}");
    return 0;
  }
  size_t size = (size_t)st.st_size;
  const char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return bt_errf(err, BT_EIO, "io_error", "%s: mmap failed", path);
  const char *e = m + size, *hdr_end = memchr(m, '\n', size);
  const char *body = hdr_end ? hdr_end + 1 : e;
  size_t hl = (size_t)((hdr_end ? hdr_end : e) - m);
  int tcol = find_col(m, hl, "time"), ecol = find_col(m, hl, "equity"), dcol = find_col(m, hl, "drawdown");
  if (tcol < 0 || ecol < 0 || dcol < 0 || tcol > 7 || ecol > 7 || dcol > 7) {
    munmap((void *)m, size);
    return bt_errf(err, BT_EINVAL, "csv_error", "%s: header needs time, equity and drawdown", path);
  }
  /* Bucket size from the first rows' length: one pass over a file that can hold tens of
   * millions of rows; a skewed estimate only changes the point count by that factor. */
  size_t sample = 0;
  uint64_t sampled = 0;
  for (const char *p = body; p < e && sampled < 256; sampled++) {
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    p = nl ? nl + 1 : e;
    sample = (size_t)(p - body);
  }
  uint64_t est = sampled ? (uint64_t)((double)(e - body) / ((double)sample / (double)sampled)) : 0;
  uint64_t per = est / EQUITY_BUCKETS + 1;
  bt_log_buf_printf(b, "{\"downsampled\":%s,\"points\":[", per > 1 ? "true" : "false");
  bool first = true;
  uint64_t k = 0, line = 1;
  row lo, hi, cur;
  bool have = false;
  for (const char *p = body; p < e; line++) {
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    size_t len = (size_t)((nl ? nl : e) - p);
    if (len) {
      if (!split_row(p, len, tcol, ecol, dcol, &cur)) {
        munmap((void *)m, size);
        return bt_errf_at(err, BT_EINVAL, "csv_error", path, (long)line + 1, "equity", "bad row");
      }
      if (!have) lo = hi = cur, have = true;
      if (bt_dec_cmp(cur.equity, lo.equity) < 0) lo = cur;
      if (bt_dec_cmp(cur.equity, hi.equity) > 0) hi = cur;
      if (++k % per == 0 || !nl || nl + 1 >= e) {
        bool lo_first = lo.f[tcol] <= hi.f[tcol];
        emit_point(b, lo_first ? &lo : &hi, tcol, ecol, dcol, &first);
        if (lo.f[tcol] != hi.f[tcol]) emit_point(b, lo_first ? &hi : &lo, tcol, ecol, dcol, &first);
        have = false;
      }
    }
    p = nl ? nl + 1 : e;
  }
  bt_log_buf_printf(b, "],\"rows\":%llu}", (unsigned long long)k);
  munmap((void *)m, size);
  return 0;
}

static int render(run_report *rr, const char *dir, bt_err *err) {
  char path[1200];
  size_t rlen;
  snprintf(path, sizeof path, "%s/result.json", dir);
  char *result = bt_perf_slurp(path, &rlen);
  if (!result) return 0; /* the run wrote no files */
  bt_log_buf b = {0};
  bt_log_buf_printf(&b, "{\"result\":");
  bt_log_buf_put(&b, result, rlen);
  free(result);

  snprintf(path, sizeof path, "%s/trades.jsonl", dir);
  bt_perf_index ix;
  bt_perf_index_init(&ix, path, 0, 1);
  int rc = 0;
  if (access(path, F_OK) == 0) rc = bt_perf_index_refresh(&ix, true, err);
  if (!rc) {
    int64_t a = ix.ndays ? ix.days[0].day : 0, z = ix.ndays ? ix.days[ix.ndays - 1].day : 0;
    bt_perf_summary s;
    rc = bt_perf_summarize(&ix, BT_PERF_CUSTOM, a, z, &s, err);
    if (!rc) {
      size_t n;
      char *js = bt_perf_summary_json(&s, "", 0, &n);
      bt_log_buf_printf(&b, ",\"summary\":");
      if (js) bt_log_buf_put(&b, js, n);
      else b.failed = true;
      free(js);
      bt_perf_summary_free(&s);
    }
  }
  bt_perf_index_free(&ix);
  /* the first trades, spliced as they are (each line is a JSON object); read line by
   * line so a run with millions of trades costs no more memory than one with 200 */
  FILE *tf = rc ? NULL : fopen(path, "r");
  bt_log_buf_printf(&b, ",\"trades\":[");
  int rows = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t got;
  while (tf && rows < TRADE_ROWS && (got = getline(&line, &cap, tf)) > 0) {
    if (line[got - 1] != '\n') break; /* partial last line */
    if (got == 1) continue; /* blank line */
    if (rows++) bt_log_buf_putc(&b, ',');
    bt_log_buf_put(&b, line, (size_t)got - 1);
  }
  free(line);
  if (tf) fclose(tf);
  bt_log_buf_printf(&b, "],\"equity\":");
  snprintf(path, sizeof path, "%s/equity.csv", dir);
  if (!rc) rc = equity_json(path, &b, err);
  bt_log_buf_printf(&b, "}");
  size_t len;
  char *doc = bt_log_buf_take(&b, &len);
  if (!rc && !doc) rc = bt_errf(err, BT_ENOMEM, "oom", "out of memory");
  if (!rc && !rr->report) rc = bt_report_open(&rr->report, rr->formats_dir, err);
  if (!rc) rc = bt_report_push_json(bt_report_lua(rr->report), doc, len, err);
  free(doc);
  char *html = NULL;
  if (!rc) rc = bt_report_render(rr->report, "run_report", &html, &len, err);
  if (!rc) {
    int fd = bt_perf_dir_open(dir, err);
    rc = fd < 0 ? fd : bt_perf_write(fd, "report.html", html, len, true, err);
    if (fd >= 0) close(fd);
  }
  free(html);
  return rc;
}

static void on_end(void *ud, const bt_run_info *info, const bt_run_outcome *outcome) {
  if (outcome->status != BT_RUN_COMPLETED || !info->out_dir) return;
  bt_err err = {0};
  if (render(ud, info->out_dir, &err))
    bt_log("perf", BT_LOG_WARNING, "run_report_failed", BT_F_STR("out_dir", info->out_dir),
           BT_F_STR("error", err.msg));
  bt_err_clear(&err);
}

static void on_close(void *ud) {
  run_report *rr = ud;
  bt_report_close(rr->report);
  free(rr);
}

int bt_perf_register(bt_app *app, bt_err *err) {
  bt_perf_cfg cfg;
  int rc = bt_perf_cfg_load(app, &cfg, err);
  if (rc) return rc;
  run_report *rr = calloc(1, sizeof *rr);
  if (!rr) return bt_errf(err, BT_ENOMEM, "oom", "out of memory");
  snprintf(rr->formats_dir, sizeof rr->formats_dir, "%s", cfg.formats_dir);
  bt_run_observer obs = {.name = "perf_report", .ud = rr, .on_end = on_end, .on_close = on_close};
  if (bt_app_add_observer(app, &obs)) {
    free(rr);
    return bt_errf(err, BT_ENOMEM, "error", "too many run observers");
  }
  return 0;
}
