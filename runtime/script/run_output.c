/* run_output.c - the run directory: trades.jsonl, equity.csv (one row per UTC day) and
 * result.json, written as *.part and renamed when the run completes. */
#define _GNU_SOURCE /* sync_file_range */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "grow.h"
#include "json.h"
#include "run_internal.h"

#define PUT_LIT(p, lit) (memcpy((p), (lit), sizeof(lit) - 1), (p) + sizeof(lit) - 1)

/* trades.jsonl and equity.csv are written through a buffer of their own: rows are
 * formatted straight into it and written RUN_FILE_BUF bytes at a time. (stdio kept a
 * 4 KiB buffer whatever setvbuf asked for without one of its own, so a 1M-day
 * equity.csv took ~13,500 write calls, and every row paid fwrite's lock.) */
#define RUN_FILE_BUF (256 * 1024)
#define ROW_MAX 1024 /* room asked for a row: its fields are bounded (a symbol is not: put) */

#define RUN_FILE_SYNC (8 << 20) /* written bytes handed to the disk at a time */

struct run_file {
  int fd;
  int err;           /* the first write error (errno), 0 if none */
  size_t len;        /* bytes in buf */
  off_t off, synced; /* bytes written; of those, handed to the disk */
  char buf[RUN_FILE_BUF];
};

static void file_flush(run_file *f) {
  if (!f->err && !(f->err = bt_write_all(f->fd, f->buf, f->len))) f->off += (off_t)f->len;
  f->len = 0;
  /* Start writing back what is written (without waiting), so the fsync at the end of
   * the run waits for the last few MB, not for the whole file. Advisory: no error. */
  if (f->off - f->synced >= RUN_FILE_SYNC) {
    sync_file_range(f->fd, f->synced, f->off - f->synced, SYNC_FILE_RANGE_WRITE);
    f->synced = f->off;
  }
}

/* where `need` (<= ROW_MAX) more bytes go; file_end says where they ended */
static char *file_room(run_file *f, size_t need) {
  if (f->len + need > RUN_FILE_BUF) file_flush(f);
  return f->buf + f->len;
}

static void file_end(run_file *f, const char *end) { f->len = (size_t)(end - f->buf); }

static void file_put(run_file *f, const char *s, size_t n) {
  while (n) {
    if (f->len == RUN_FILE_BUF) file_flush(f);
    size_t k = RUN_FILE_BUF - f->len < n ? RUN_FILE_BUF - f->len : n;
    memcpy(f->buf + f->len, s, k);
    f->len += k, s += k, n -= k;
  }
}

/* Rows are written with the printf-free writers (bt_dec_put, bt_time_put): on daily data
 * equity.csv gets a row per bar, and printf cost more than the strategy did. */
void run_write_trade(bt_run *run, const bt_trade *t) {
  run_file *f = run->trades_f;
  if (!f) return;
  char *p = file_room(f, ROW_MAX);
  p = PUT_LIT(p, "{\"trade_id\":");
  p = bt_dec_put_uint(t->trade_id, p);
  p = PUT_LIT(p, ",\"run_id\":\"");
  p = stpcpy(p, run->info.run_id); /* a UUID or the caller's id (run.h bounds it) */
  p = PUT_LIT(p, "\",\"symbol\":\"");
  file_end(f, p);
  const char *sym = bt_feed_symbol(run->e.feeds[t->symbol]); /* any length */
  file_put(f, sym, strlen(sym));
  p = file_room(f, ROW_MAX);
  if (t->side == BT_BUY) p = PUT_LIT(p, "\",\"side\":\"long\",\"qty\":\"");
  else p = PUT_LIT(p, "\",\"side\":\"short\",\"qty\":\"");
  p = bt_dec_put(t->qty, p);
  p = PUT_LIT(p, "\",\"entry_time\":\"");
  p = bt_time_put(t->entry_time, p);
  p = PUT_LIT(p, "\",\"entry_price\":\"");
  p = bt_dec_put(t->entry_price, p);
  p = PUT_LIT(p, "\",\"exit_time\":");
  if (t->open) p = PUT_LIT(p, "null");
  else {
    *p++ = '"';
    p = bt_time_put(t->exit_time, p);
    *p++ = '"';
  }
  p = PUT_LIT(p, ",\"exit_price\":\"");
  p = bt_dec_put(t->exit_price, p);
  p = PUT_LIT(p, "\",\"pnl\":\"");
  p = bt_dec_put(t->pnl, p);
  p = PUT_LIT(p, "\",\"commission\":\"");
  p = bt_dec_put(t->commission, p);
  if (t->open) p = PUT_LIT(p, "\",\"status\":\"open\"}\n");
  else p = PUT_LIT(p, "\",\"status\":\"closed\"}\n");
  file_end(f, p);
}

/* equity.csv keeps one row per UTC day (the day's last sample): daily data gets every
 * bar, minute data its daily closes, and the file stays small for 10M-bar runs. The
 * sample is kept raw and formatted only when its day is over. */
void run_equity_write(bt_run *run) {
  const bt_equity_sample *e = &run->equity_last;
  run_file *f = run->equity_f;
  char *p = file_room(f, 32 + 3 * BT_DEC_STRLEN + BT_FIXED8_MAX + 8);
  p = bt_time_put_cached(&run->equity_tc, e->time, p);
  *p++ = ',';
  p = bt_dec_put_cached(&run->equity_dc[0], e->equity, p); /* flat: the same as yesterday */
  *p++ = ',';
  p = bt_dec_put_cached(&run->equity_dc[1], e->cash, p);    /* changes only with fills */
  *p++ = ',';
  p = bt_dec_put(e->position_value, p);
  *p++ = ',';
  p = bt_fixed8_put(e->drawdown, p);
  *p++ = '\n';
  file_end(f, p);
  if (run->days_lost) return;
  if (BT_GROW(run->days, run->cap_days, run->ndays + 1)) {
    /* the report goes without its series; the files are complete */
    free(run->days);
    run->days = NULL, run->ndays = run->cap_days = 0, run->days_lost = true;
    return;
  }
  run->days[run->ndays++] = (bt_run_day){e->time, e->equity};
}

static run_file *file_open(const char *path) {
  run_file *f = malloc(sizeof *f); /* not calloc: the buffer is touched only as it fills */
  if (!f) return NULL;
  f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
  if (f->fd < 0) {
    int e = errno;
    free(f);
    errno = e;
    return NULL;
  }
  f->err = 0, f->len = 0, f->off = f->synced = 0;
  return f;
}

int run_open_outputs(bt_run *run, bt_err *err) {
  const char *dir = run->info.out_dir;
  if (bt_mkdirs(dir, 0755) != 0)
    return bt_errf_at(err, BT_EIO, "io_error", dir, 0, "", "cannot create run directory: %s",
                      strerror(errno));
  /* A reused --out directory must not mix this run's result with an earlier run's files. */
  static const char *const previous[] = {"result.json", "trades.jsonl", "equity.csv",
                                         "report.html", "trades.jsonl.part", "equity.csv.part"};
  for (size_t i = 0; i < sizeof previous / sizeof previous[0]; i++) {
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, previous[i]);
    if (unlink(path) != 0 && errno != ENOENT)
      return bt_errf_at(err, BT_EIO, "io_error", path, 0, "", "cannot remove: %s", strerror(errno));
  }
  /* Written under .part names and renamed only when the run completes, so a failed or
   * killed run never leaves files that look complete. */
  snprintf(run->trades_tmp, sizeof run->trades_tmp, "%s/trades.jsonl.part", dir);
  snprintf(run->equity_tmp, sizeof run->equity_tmp, "%s/equity.csv.part", dir);
  run->trades_f = file_open(run->trades_tmp);
  run->equity_f = run->trades_f ? file_open(run->equity_tmp) : NULL;
  if (!run->trades_f || !run->equity_f)
    return bt_errf_at(err, BT_EIO, "io_error", dir, 0, "", "cannot write run files: %s",
                      strerror(errno));
  static const char header[] = "time,equity,cash,position_value,drawdown\n";
  file_put(run->equity_f, header, sizeof header - 1);
  return 0;
}

int run_close_file(run_file **fp, const char *tmp, bool keep, bt_err *err) {
  run_file *f = *fp;
  if (!f) return 0;
  *fp = NULL;
  file_flush(f); /* a failed run leaves its .part files as far as it got */
  /* on disk before anything says the run completed */
  int e = f->err;
  if (keep && !e && fsync(f->fd) != 0) e = errno;
  if (close(f->fd) != 0 && !e) e = errno;
  free(f);
  if (keep && e)
    return bt_errf_at(err, BT_EIO, "io_error", tmp, 0, "", "cannot write: %s", strerror(e));
  return 0;
}

int run_publish_file(const char *tmp, const char *dir, const char *name, bt_err *err) {
  char final[700];
  snprintf(final, sizeof final, "%s/%s", dir, name);
  if (rename(tmp, final) != 0)
    return bt_errf_at(err, BT_EIO, "io_error", final, 0, "", "cannot write: %s",
                      strerror(errno));
  return 0;
}

void run_unpublish(bt_run *run) {
  static const char *const names[] = {"trades.jsonl", "equity.csv"};
  const char *tmps[] = {run->trades_tmp, run->equity_tmp};
  for (int i = 0; i < 2; i++) {
    char final[700];
    snprintf(final, sizeof final, "%s/%s", run->info.out_dir, names[i]);
    if (rename(final, tmps[i]) != 0) unlink(final); /* never leave it looking complete */
  }
}

static cJSON *dec_json(bt_dec d) {
  char b[BT_DEC_STRLEN];
  bt_dec_format(d, b);
  return cJSON_CreateString(b);
}

static cJSON *num_or_null(bool has, double v) {
  return has && v == v ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

/* The metrics object shared by result.json and the observers. */
cJSON *run_metrics_json(const bt_metrics_result *m) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "bars", (double)m->bars);
  cJSON_AddNumberToObject(o, "trades", (double)m->trades);
  cJSON_AddItemToObject(o, "final_equity", dec_json(m->final_equity));
  cJSON_AddNumberToObject(o, "total_return", m->total_return);
  cJSON_AddItemToObject(o, "cagr", num_or_null(m->has_cagr, m->cagr));
  cJSON_AddItemToObject(o, "sharpe", num_or_null(m->has_sharpe, m->sharpe));
  cJSON_AddItemToObject(o, "sortino", num_or_null(m->has_sortino, m->sortino));
  cJSON_AddNumberToObject(o, "max_drawdown", m->max_drawdown);
  cJSON_AddItemToObject(o, "win_rate", num_or_null(m->has_win_rate, m->win_rate));
  cJSON_AddItemToObject(o, "profit_factor", num_or_null(m->has_profit_factor, m->profit_factor));
  cJSON_AddItemToObject(o, "expectancy", dec_json(m->expectancy));
  cJSON_AddNumberToObject(o, "exposure", m->exposure);
  return o;
}

static void add_json_text(cJSON *o, const char *key, const char *json) {
  cJSON *v = json ? cJSON_Parse(json) : NULL;
  cJSON_AddItemToObject(o, key, v ? v : cJSON_CreateNull());
}

int run_write_result(bt_run *run, const bt_run_result *res, const cJSON *metrics,
                     const bt_err *failure, bt_err *err) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run_id", run->info.run_id);
  cJSON_AddStringToObject(o, "correlation_id", run->info.correlation_id);
  cJSON_AddStringToObject(o, "status", failure ? "failed" : "completed");
  cJSON_AddStringToObject(o, "strategy", run->info.strategy_path);
  cJSON_AddStringToObject(o, "strategy_id", run->info.strategy_id);
  add_json_text(o, "params", run->info.params_json);
  add_json_text(o, "data", run->info.data_json);
  cJSON_AddItemToObject(o, "initial_cash", dec_json(run->metrics.initial_cash));
  cJSON_AddNumberToObject(o, "bars", (double)run->bars);
  cJSON_AddNumberToObject(o, "skipped_rows", (double)res->skipped_rows);
  if (metrics) {
    for (const cJSON *m = metrics->child; m; m = m->next)
      if (strcmp(m->string, "bars") != 0)
        cJSON_AddItemToObject(o, m->string, cJSON_Duplicate(m, 1));
  }
  cJSON_AddNumberToObject(o, "rejected_orders", (double)run->rejections);
  cJSON_AddNumberToObject(o, "risk_breaches", (double)run->risk_breaches);
  cJSON_AddNumberToObject(o, "wall_ms", (double)res->wall_ms);
  cJSON_AddNumberToObject(o, "bars_per_s", res->bars_per_s);
  if (failure) {
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "type", failure->type);
    cJSON_AddStringToObject(e, "message", failure->msg);
    if (failure->traceback) cJSON_AddStringToObject(e, "traceback", failure->traceback);
  }
  char *tabbed = cJSON_Print(o);
  char *text = bt_json_indent2(tabbed);
  free(tabbed);
  cJSON_Delete(o);
  char tmp[700], final[700];
  snprintf(tmp, sizeof tmp, "%s/result.json.part", run->info.out_dir);
  snprintf(final, sizeof final, "%s/result.json", run->info.out_dir);
  FILE *f = fopen(tmp, "w");
  int rc = 0;
  bool ok = f && text && fputs(text, f) >= 0 && fputc('\n', f) >= 0 && fflush(f) == 0 &&
            fsync(fileno(f)) == 0;
  int e = errno;
  if (f && fclose(f) != 0 && ok) ok = false, e = errno;
  if (ok && rename(tmp, final) != 0) ok = false, e = errno;
  if (!ok) {
    if (f) unlink(tmp); /* no empty or torn result.json.part */
    rc = bt_errf_at(err, BT_EIO, "io_error", final, 0, "", "cannot write: %s", strerror(e));
  }
  free(text);
  return rc;
}

char *run_config_json(const bt_app *app, bt_dec cash) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "cash", dec_json(cash));
  cJSON *c = cJSON_AddObjectToObject(o, "commission");
  cJSON_AddItemToObject(c, "per_unit", dec_json(app->cfg.broker.commission_per_unit));
  cJSON_AddItemToObject(c, "percent", dec_json(app->cfg.broker.commission_percent));
  cJSON_AddItemToObject(c, "minimum", dec_json(app->cfg.broker.commission_minimum));
  cJSON_AddItemToObject(o, "slippage_bps", dec_json(app->cfg.broker.slippage_bps));
  cJSON_AddNumberToObject(o, "timeout", app->cfg.timeout_s);
  cJSON_AddNumberToObject(o, "max_memory", (double)app->cfg.max_memory);
  cJSON *r = cJSON_AddObjectToObject(o, "risk");
  cJSON_AddNumberToObject(r, "max_drawdown", app->cfg.risk_max_drawdown);
  cJSON_AddItemToObject(r, "max_position_value", dec_json(app->cfg.risk_max_position_value));
  char *s = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return s;
}

