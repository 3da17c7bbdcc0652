#define _GNU_SOURCE /* memmem */
/* run_report.c - report.html for every completed run, rendered by lua/formats/run_report.lua
 * from the run directory's result.json and trades.jsonl, the equity rows the run kept in
 * memory (figures and chart lines computed by run_days.h), what the run's bus showed
 * while it ran (run_collect.h: the buy-and-hold benchmark, fill lineage) and the app's
 * --benchmark series. */
#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "iso8601.h"
#include "perf.h"
#include "perf_files.h"
#include "perf_source.h"
#include "perf_time.h"
#include "run_collect.h"
#include "run_days.h"
#include "run_series.h"

#define TRADE_HEAD 25        /* first and last closed trades listed in the report table */
#define TRADE_TAIL 25
#define RETURNS_CAP 20000    /* closed trades' returns in the histogram (every k-th beyond) */
#define MAX_SYMBOLS 64

typedef struct run_state {
  const bt_run_info *info;
  bt_run_collect *collect;
  struct run_state *next;
} run_state;

typedef struct run_report {
  char formats_dir[1024];
  const bt_app *app;
  bt_formats *report;
  run_state *runs;         /* runs between on_start and on_end */
} run_report;

/* --benchmark SYM=PATH: the series' last close of each day, as a growth index from its
 * close on (or just before) the run's first day. Its own error names the file and line. */
static int extra_series(const char *arg, int64_t run_start, bt_index_point **out, size_t *n,
                        char *name, size_t namelen, bt_err *err) {
  const char *path;
  bt_feed_symbol_from_arg(arg, name, namelen, &path);
  bt_feed *f;
  bt_feed_opts fo = {0};
  int rc = bt_feed_open(&f, path, name, 0, &fo, err);
  if (rc) return rc;
  bt_index_point *p = NULL;
  size_t np = 0, cap = 0;
  bt_bar bar;
  while ((rc = bt_feed_next(f, &bar, err)) == 1) {
    int64_t d = bt_run_series_day(bar.time);
    if (np && p[np - 1].day == d) {
      p[np - 1].value = bt_dec_to_double(bar.close);
      continue;
    }
    if (BT_GROW(p, cap, np + 1)) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    p[np++] = (bt_index_point){d, bt_dec_to_double(bar.close)};
  }
  bt_feed_close(f);
  if (rc < 0 || (rc == 0 && np == 0)) {
    free(p);
    return rc < 0 ? rc : bt_errf(err, BT_EINVAL, "csv_error", "%s: no bars", path);
  }
  size_t base = 0;
  while (base + 1 < np && p[base + 1].day <= bt_run_series_day(run_start)) base++;
  double b0 = p[base].value;
  for (size_t i = 0; i < np; i++) p[i].value = b0 > 0 ? p[i].value / b0 : 1.0;
  *out = p, *n = np;
  return 0;
}

/* One trades.jsonl line as {"t":<line>,"in":[fill,order,cause,signal?],"out":[...]} with
 * the event ids behind its entry and exit fills (when the run's bus was seen). */
static void trade_json(bt_json_buf *b, const char *line, size_t len, const bt_run_collect *c,
                       const cJSON *symbols) {
  bt_json_printf(b, "{\"t\":");
  bt_json_put(b, line, len);
  cJSON *t = c ? cJSON_ParseWithLength(line, len) : NULL;
  const char *sym = t ? cJSON_GetStringValue(cJSON_GetObjectItem(t, "symbol")) : NULL;
  int si = -1, i = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, symbols) {
    const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(s, "symbol"));
    if (sym && nm && strcmp(sym, nm) == 0) si = i;
    i++;
  }
  const char *keys[2] = {"entry_time", "exit_time"}, *names[2] = {"in", "out"};
  for (int k = 0; k < 2 && si >= 0; k++) {
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(t, keys[k]));
    int64_t when;
    if (!ts || !bt_iso8601_parse(ts, (long)strlen(ts), BT_ISO_STRICT, &when)) continue;
    const bt_rc_fill *f = bt_run_collect_fill(c, (uint32_t)si, when, k == 0);
    if (f)
      bt_json_printf(b, ",\"%s\":[%llu,%llu,%llu,%s]", names[k], (unsigned long long)f->fill_id,
                        (unsigned long long)f->order_id, (unsigned long long)f->cause_id,
                        f->cause_signal ? "true" : "false");
  }
  cJSON_Delete(t);
  bt_json_putc(b, '}');
}

typedef struct sym_stats {
  char name[64];
  uint64_t trades, wins, open;
  bt_dec pnl, unrealized;
} sym_stats;

/* All trades: per-symbol results (exact sums) and each closed trade's return
 * (pnl / (qty x entry price)), every `stride`-th when there are more than RETURNS_CAP. */
static void trade_stats(bt_json_buf *b, const char *m, const size_t *starts, size_t n, size_t size,
                        size_t nclosed) {
  sym_stats *syms = calloc(MAX_SYMBOLS, sizeof *syms);
  int nsyms = 0;
  size_t stride = nclosed > RETURNS_CAP ? nclosed / RETURNS_CAP + 1 : 1, k = 0;
  bt_json_printf(b, ",\"returns_stride\":%zu,\"returns\":[", stride);
  bool first = true;
  for (size_t i = 0; i < n && syms; i++) {
    const char *ln = m + starts[i], *nl = memchr(ln, '\n', size - starts[i]);
    cJSON *t = cJSON_ParseWithLength(ln, (size_t)(nl - ln));
    const char *sym = cJSON_GetStringValue(cJSON_GetObjectItem(t, "symbol"));
    const char *pnl_s = cJSON_GetStringValue(cJSON_GetObjectItem(t, "pnl"));
    const char *st = cJSON_GetStringValue(cJSON_GetObjectItem(t, "status"));
    bt_dec pnl;
    if (!sym || !pnl_s || !st || bt_dec_parse(pnl_s, (long)strlen(pnl_s), &pnl) != (int)strlen(pnl_s)) {
      cJSON_Delete(t);
      continue;
    }
    int j = 0;
    while (j < nsyms && strcmp(syms[j].name, sym)) j++;
    if (j == nsyms && nsyms < MAX_SYMBOLS) snprintf(syms[nsyms++].name, sizeof syms[0].name, "%s", sym);
    bool open = strcmp(st, "open") == 0;
    if (j < nsyms) {
      sym_stats *x = &syms[j];
      if (open) x->open++, bt_dec_add(x->unrealized, pnl, &x->unrealized);
      else x->trades++, x->wins += pnl.v > 0, bt_dec_add(x->pnl, pnl, &x->pnl);
    }
    if (!open && k++ % stride == 0) {
      double qty = 0, px = 0;
      const char *q = cJSON_GetStringValue(cJSON_GetObjectItem(t, "qty"));
      const char *p = cJSON_GetStringValue(cJSON_GetObjectItem(t, "entry_price"));
      if (q) qty = strtod(q, NULL);
      if (p) px = strtod(p, NULL);
      if (qty * px != 0) {
        if (!first) bt_json_putc(b, ',');
        bt_json_dbl(b, bt_dec_to_double(pnl) / (qty * px));
        first = false;
      }
    }
    cJSON_Delete(t);
  }
  bt_json_printf(b, "],\"by_symbol\":[");
  for (int j = 0; j < nsyms; j++) {
    char pnl[BT_DEC_STRLEN], unr[BT_DEC_STRLEN];
    bt_dec_format(syms[j].pnl, pnl);
    bt_dec_format(syms[j].unrealized, unr);
    bt_json_printf(b, "%s{\"symbol\":", j ? "," : "");
    bt_log_json_str(b, syms[j].name, strlen(syms[j].name));
    bt_json_printf(b, ",\"trades\":%llu,\"wins\":%llu,\"pnl\":\"%s\",\"open\":%llu,\"unrealized\":\"%s\"}",
                      (unsigned long long)syms[j].trades, (unsigned long long)syms[j].wins, pnl,
                      (unsigned long long)syms[j].open, unr);
  }
  bt_json_putc(b, ']');
  free(syms);
}

/* trades.jsonl -> "trades":{"total":N,"closed":C,"head":[first closed],"tail":[last
 * closed],"open":[open at the end],...trade_stats}. Open trades are the file's last
 * lines (outputs.md). */
static void trades_json(const char *path, bt_json_buf *b, const bt_run_collect *c,
                        const cJSON *symbols) {
  size_t size = 0;
  char *m = bt_perf_slurp(path, &size);
  size_t nlines = 0, cap = 0, *starts = NULL;
  for (size_t i = 0; m && i < size;) {
    char *nl = memchr(m + i, '\n', size - i);
    if (!nl) break; /* a partial last line is not a trade yet */
    if (nl > m + i) {
      if (BT_GROW(starts, cap, nlines + 1)) break;
      starts[nlines++] = i;
    }
    i = (size_t)(nl - m) + 1;
  }
  size_t nopen = 0;
  while (nopen < nlines) {
    size_t s = starts[nlines - 1 - nopen];
    const char *nl = memchr(m + s, '\n', size - s);
    if (!memmem(m + s, (size_t)(nl - (m + s)), "\"status\":\"open\"", 15)) break;
    nopen++;
  }
  size_t nclosed = nlines - nopen;
  size_t head = nclosed < TRADE_HEAD ? nclosed : TRADE_HEAD;
  size_t tail_from = nclosed - head > TRADE_TAIL ? nclosed - TRADE_TAIL : head;
  bt_json_printf(b, "{\"total\":%zu,\"closed\":%zu", nlines, nclosed);
  const char *part[3] = {"head", "tail", "open"};
  size_t from[3] = {0, tail_from, nclosed}, to[3] = {head, nclosed, nlines};
  for (int p = 0; p < 3; p++) {
    bt_json_printf(b, ",\"%s\":[", part[p]);
    for (size_t i = from[p]; i < to[p]; i++) {
      const char *ln = m + starts[i], *nl = memchr(ln, '\n', size - starts[i]);
      if (i > from[p]) bt_json_putc(b, ',');
      trade_json(b, ln, (size_t)(nl - ln), c, symbols);
    }
    bt_json_putc(b, ']');
  }
  trade_stats(b, m, starts, nlines, size, nclosed);
  bt_json_putc(b, '}');
  free(starts);
  free(m);
}

static int render(run_report *rr, const char *dir, bt_run_collect *c, const bt_run_outcome *o,
                  bt_err *err) {
  char path[1200];
  size_t rlen;
  snprintf(path, sizeof path, "%s/result.json", dir);
  char *result = bt_perf_slurp(path, &rlen);
  if (!result) return 0; /* the run wrote no files */
  cJSON *rj = cJSON_ParseWithLength(result, rlen);
  const cJSON *symbols = rj ? cJSON_GetObjectItem(rj, "data") : NULL;
  bt_json_buf b = {0};
  bt_json_printf(&b, "{\"result\":");
  bt_json_put(&b, result, rlen);
  free(result);

  snprintf(path, sizeof path, "%s/trades.jsonl", dir);
  bt_perf_index ix;
  bt_perf_index_init(&ix, path, bt_tz_utc(), 1);
  int rc = 0;
  if (access(path, F_OK) == 0) rc = bt_perf_index_refresh(&ix, true, err);
  if (!rc) {
    /* the window runs from the first exit day to the last exit or open entry day, so a
     * position opened after the last exit is still counted as open */
    int64_t a = ix.ndays ? ix.days[0].day : INT64_MAX, z = ix.ndays ? ix.days[ix.ndays - 1].day : INT64_MIN;
    for (size_t i = 0; i < ix.nopen; i++) {
      if (ix.open[i].entry_day < a) a = ix.open[i].entry_day;
      if (ix.open[i].entry_day > z) z = ix.open[i].entry_day;
    }
    if (a > z) a = z = 0;
    bt_perf_summary s;
    rc = bt_perf_summarize(&ix, BT_PERF_CUSTOM, a, z, &s, err);
    if (!rc) {
      s.nseries = 0; /* the page reads the totals, not the per-day rows ("days": []) */
      size_t n;
      char *js = bt_perf_summary_json(&s, "", 0, &n);
      bt_json_printf(&b, ",\"summary\":");
      if (js) bt_json_put(&b, js, n);
      else b.failed = true;
      free(js);
      bt_perf_summary_free(&s);
    }
  }
  bt_perf_index_free(&ix);
  bt_json_printf(&b, ",\"trades\":");
  trades_json(path, &b, c, symbols);

  /* benchmarks: the run's own buy-and-hold, and --benchmark's series */
  bt_index_series bench = {0}, extra = {0};
  bt_index_point *extra_pts = NULL;
  char extra_name[64] = "";
  if (c) bench.pts = bt_run_collect_bench(c, &bench.n);
  if (bench.pts && !bench.n) bench.pts = NULL;
  const char *barg = rr->app ? rr->app->benchmark : NULL;
  if (!rc && barg && *barg) {
    int64_t start = o->ndays ? o->days[0].time : 0;
    bt_err berr = {0};
    if (extra_series(barg, start, &extra_pts, &extra.n, extra_name, sizeof extra_name, &berr)) {
      bt_log("perf", BT_LOG_WARNING, "benchmark_unreadable", BT_F_STR("benchmark", barg),
             BT_F_STR("error", berr.msg));
      bt_json_printf(&b, ",\"benchmark_error\":");
      bt_log_json_str(&b, berr.msg, strlen(berr.msg));
    }
    bt_err_clear(&berr);
    extra.pts = extra_pts;
  }
  if (extra.pts) {
    bt_json_printf(&b, ",\"benchmark_name\":");
    bt_log_json_str(&b, extra_name, strlen(extra_name));
  }
  bt_json_printf(&b, ",\"series\":");
  if (!rc)
    rc = bt_run_days_json(o->days, o->ndays, bt_dec_to_double(o->initial_cash), &bench, &extra, &b, err);
  free(extra_pts);
  cJSON_Delete(rj);
  bt_json_printf(&b, "}");
  size_t len;
  char *doc = bt_json_take(&b, &len);
  if (!rc && !doc) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc && !rr->report) rc = bt_formats_open(&rr->report, rr->formats_dir, err);
  if (!rc) rc = bt_formats_push_json(bt_formats_lua(rr->report), doc, len, err);
  free(doc);
  char *html = NULL;
  if (!rc) rc = bt_formats_render(rr->report, "run_report", &html, &len, err);
  if (!rc) {
    int fd = bt_perf_dir_open(dir, err);
    rc = fd < 0 ? fd : bt_perf_write(fd, "report.html", html, len, true, err);
    if (fd >= 0) close(fd);
  }
  free(html);
  return rc;
}

static int on_start(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err) {
  run_report *rr = ud;
  cJSON *data = info->data_json ? cJSON_Parse(info->data_json) : NULL;
  int nsym = cJSON_GetArraySize(data);
  cJSON_Delete(data);
  run_state *s = calloc(1, sizeof *s);
  if (!s || !(s->collect = bt_run_collect_new(nsym))) {
    free(s);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  s->info = info;
  s->next = rr->runs;
  rr->runs = s;
  return bt_run_collect_subscribe(s->collect, bus, err);
}

static void on_end(void *ud, const bt_run_info *info, const bt_run_outcome *outcome) {
  run_report *rr = ud;
  run_state **pp = &rr->runs, *s;
  while (*pp && (*pp)->info != info) pp = &(*pp)->next;
  if ((s = *pp)) *pp = s->next;
  bt_run_collect *c = s ? s->collect : NULL;
  free(s);
  if (outcome->status == BT_RUN_COMPLETED && info->out_dir) {
    if (c) bt_run_collect_finish(c);
    bt_err err = {0};
    if (render(rr, info->out_dir, c, outcome, &err))
      bt_log("perf", BT_LOG_WARNING, "run_report_failed", BT_F_STR("out_dir", info->out_dir),
             BT_F_STR("error", err.msg));
    bt_err_clear(&err);
  }
  bt_run_collect_free(c);
}

static void on_close(void *ud) {
  run_report *rr = ud;
  while (rr->runs) {
    run_state *s = rr->runs;
    rr->runs = s->next;
    bt_run_collect_free(s->collect);
    free(s);
  }
  bt_formats_close(rr->report);
  free(rr);
}

int bt_perf_register(bt_app *app, bt_err *err) {
  bt_perf_cfg cfg;
  int rc = bt_perf_cfg_load(app, &cfg, err);
  if (rc) return rc;
  run_report *rr = calloc(1, sizeof *rr);
  if (!rr) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  snprintf(rr->formats_dir, sizeof rr->formats_dir, "%s", cfg.formats_dir);
  rr->app = app;
  bt_run_observer obs = {.name = "perf_report", .ud = rr, .on_start = on_start, .on_end = on_end,
                         .on_close = on_close};
  if (bt_app_add_observer(app, &obs)) {
    free(rr);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "too many run observers");
  }
  return 0;
}
