#define _GNU_SOURCE /* memmem, memrchr */
/* run_report.c - report.html for every completed run, rendered by lua/formats/run_report.lua
 * from the run directory's result.json and trades.jsonl (read once, a chunk at a time, so
 * memory does not grow with the trade log), the equity rows the run kept in memory
 * (figures and chart lines computed by run_days.h), what the run's bus showed while it
 * ran (run_collect.h: the buy-and-hold benchmark, fill lineage) and the app's --benchmark
 * series. The page's input is built as Lua tables directly (no JSON document parsed
 * back): the numbers are the same values the JSON text carried (bt_formats_push_num). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <lua.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "iso8601.h"
#include "formats.h"
#include "perf.h"
#include "perf_files.h"
#include "perf_index.h"
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

#define IDLE_STATES 16        /* formats states kept for the next renders */

/* The observer is concurrent (a sweep's runs end on several threads): `mu` guards the
 * list of live runs and the idle formats states, never a render. Each render takes an
 * idle state (or opens one), so the page's Lua is compiled once per state, and there are
 * only as many states as renders ever ran at once. */
typedef struct run_report {
  char formats_dir[1024];
  const bt_app *app;
  pthread_mutex_t mu;
  bt_formats *idle[IDLE_STATES];
  int nidle;
  run_state *runs;         /* runs between on_start and on_end */
} run_report;

static int formats_take(run_report *rr, bt_formats **out, bt_err *err) {
  pthread_mutex_lock(&rr->mu);
  *out = rr->nidle ? rr->idle[--rr->nidle] : NULL;
  pthread_mutex_unlock(&rr->mu);
  return *out ? 0 : bt_formats_open(out, rr->formats_dir, err);
}

static void formats_give(run_report *rr, bt_formats *f) {
  if (!f) return;
  pthread_mutex_lock(&rr->mu);
  bool kept = rr->nidle < IDLE_STATES;
  if (kept) rr->idle[rr->nidle++] = f;
  pthread_mutex_unlock(&rr->mu);
  if (!kept) bt_formats_close(f);
}

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

/* ---- trades.jsonl, read once in chunks ------------------------------------------------ */

#define CHUNK ((size_t)1 << 20)

typedef struct sym_stats {
  char name[64];
  uint64_t trades, wins, open;
  bt_dec pnl, unrealized;
} sym_stats;

typedef struct tline {
  char *text;
  size_t len, cap;
} tline;

/* What the page shows of the trades, gathered in one pass: the first TRADE_HEAD lines,
 * the last TRADE_TAIL lines before the open trades that end the file (outputs.md), those
 * open trades, per-symbol results (exact sums) and each closed trade's return. Memory is
 * bounded by the listed lines and 8 bytes per closed trade. */
typedef struct trade_scan {
  uint64_t total;
  tline head[TRADE_HEAD];
  size_t nhead;
  tline ring[TRADE_TAIL];  /* the last lines known not to be in the trailing open run */
  uint64_t settled;
  tline *pend;             /* the current run of open lines */
  size_t npend, cappend;
  sym_stats syms[MAX_SYMBOLS];
  int nsyms;
  double *rets;            /* each closed trade's pnl / (qty x entry price); NaN: no price */
  size_t nrets, caprets;
  bool oom;
} trade_scan;


/* A slot keeps its buffer (the tail ring takes every settled line): it grows only for
 * a longer line. */
static bool copy_line(tline *t, const char *p, size_t n) {
  if (n + 1 > t->cap) {
    free(t->text);
    t->cap = 0;
    if (!(t->text = malloc(n + 1))) return false;
    t->cap = n + 1;
  }
  memcpy(t->text, p, n);
  t->text[n] = 0, t->len = n;
  return true;
}

static void settle(trade_scan *ts, const char *p, size_t n) {
  if (!copy_line(&ts->ring[ts->settled++ % TRADE_TAIL], p, n)) ts->oom = true;
}

/* A symbol as the page names it: the JSON string text of the line, unescaped, at most
 * cap - 1 bytes and up to a NUL (as "%.*s" would, without printf for every trade). */
static void symbol_name(const bt_perf_trade_shown *sh, char *out, size_t cap) {
  if (!sh->symbol_escaped) {
    size_t n = strnlen(sh->symbol, sh->symbol_len < cap ? sh->symbol_len : cap - 1);
    memcpy(out, sh->symbol, n);
    out[n] = 0;
    return;
  }
  char *q = malloc(sh->symbol_len + 3);
  cJSON *v = NULL;
  if (q) {
    q[0] = '"', memcpy(q + 1, sh->symbol, sh->symbol_len), q[sh->symbol_len + 1] = '"';
    v = cJSON_ParseWithLength(q, sh->symbol_len + 2);
  }
  snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "?");
  cJSON_Delete(v);
  free(q);
}

/* one trade's per-symbol sums and return, handed over by the index as it adds the
 * trade (perf_index.h on_trade): the lines the summary cannot read are left out here
 * too, and each line is parsed once */
static void trade_stats(void *ctx, const bt_perf_trade *t, const bt_perf_trade_shown *sh) {
  trade_scan *ts = ctx;
  if (!sh->symbol || (!t->closed && t->pnl.v == BT_PERF_PNL_UNKNOWN.v)) return;
  char name[sizeof ts->syms[0].name];
  symbol_name(sh, name, sizeof name);
  size_t len = strlen(name);
  int j = 0;
  while (j < ts->nsyms && memcmp(ts->syms[j].name, name, len + 1) != 0) j++;
  if (j == ts->nsyms && ts->nsyms < MAX_SYMBOLS) memcpy(ts->syms[ts->nsyms++].name, name, len + 1);
  if (j < ts->nsyms) {
    sym_stats *x = &ts->syms[j];
    if (!t->closed) x->open++, bt_dec_add(x->unrealized, t->pnl, &x->unrealized);
    else x->trades++, x->wins += t->pnl.v > 0, bt_dec_add(x->pnl, t->pnl, &x->pnl);
  }
  if (t->closed) {
    double cost = sh->qty * sh->entry_price;
    if (BT_GROW(ts->rets, ts->caprets, ts->nrets + 1)) ts->oom = true;
    else ts->rets[ts->nrets++] = cost != 0 ? bt_dec_to_double(t->pnl) / cost : NAN;
  }
}

static void scan_line(trade_scan *ts, const char *p, size_t n) {
  if (ts->nhead < TRADE_HEAD && !copy_line(&ts->head[ts->nhead++], p, n)) ts->oom = true;
  ts->total++;
  if (memmem(p, n, "\"status\":\"open\"", 15)) {
    if (BT_GROW(ts->pend, ts->cappend, ts->npend + 1)) {
      ts->oom = true;
      return;
    }
    ts->pend[ts->npend] = (tline){0};
    if (!copy_line(&ts->pend[ts->npend++], p, n)) ts->oom = true;
  } else {
    for (size_t i = 0; i < ts->npend; i++) {
      settle(ts, ts->pend[i].text, ts->pend[i].len);
      free(ts->pend[i].text);
    }
    ts->npend = 0;
    settle(ts, p, n);
  }
}

static void scan_free(trade_scan *ts) {
  for (size_t i = 0; i < TRADE_HEAD; i++) free(ts->head[i].text);
  for (size_t i = 0; i < TRADE_TAIL; i++) free(ts->ring[i].text);
  for (size_t i = 0; i < ts->npend; i++) free(ts->pend[i].text);
  free(ts->pend);
  free(ts->rets);
}

/* One read of trades.jsonl (none: no trades) feeding the performance index (the
 * summary's figures, which hands each parsed trade to trade_stats) and the trade scan, a
 * chunk at a time; a partial last line is not a trade yet. */
static int read_trades(const char *path, bt_perf_index *ix, trade_scan *ts, bt_err *err) {
  ix->on_trade = trade_stats, ix->on_trade_ctx = ts;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? 0 : bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
  size_t cap = CHUNK, have = 0;
  char *buf = malloc(cap);
  uint64_t line = 1;
  int rc = buf ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  while (!rc) {
    if (BT_GROW(buf, cap, have + 1)) { /* a line longer than the buffer */
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    ssize_t r = read(fd, buf + have, cap - have);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
    if (r <= 0) break;
    have += (size_t)r;
    const char *last = memrchr(buf, '\n', have);
    if (!last) continue;
    size_t used = (size_t)(last + 1 - buf), iused;
    uint64_t nl;
    rc = bt_perf_index_add_buffer(ix, buf, used, path, line, &iused, &nl, err);
    line += nl;
    for (const char *p = buf, *e = buf + used; p < e && !rc;) {
      const char *q = memchr(p, '\n', (size_t)(e - p));
      if (q > p) scan_line(ts, p, (size_t)(q - p));
      p = q + 1;
    }
    if (!rc && ts->oom) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    memmove(buf, buf + used, have - used);
    have -= used;
  }
  free(buf);
  close(fd);
  return rc;
}

/* A listed trade: its line and the event ids behind its entry and exit fills (when the
 * run's bus was seen). */
typedef struct listed {
  cJSON *t;
  bool has[2];
  bt_rc_fill fill[2];
} listed;

static int list_trade(listed *l, const tline *ln, const bt_run_collect *c, const cJSON *symbols,
                      bt_err *err) {
  l->t = cJSON_ParseWithLength(ln->text, ln->len);
  if (!l->t) return bt_errf(err, BT_EINVAL, "json_error", "invalid JSON document");
  const char *sym = cJSON_GetStringValue(cJSON_GetObjectItem(l->t, "symbol"));
  int si = -1, i = 0;
  const cJSON *s;
  cJSON_ArrayForEach(s, symbols) {
    const char *nm = cJSON_GetStringValue(cJSON_GetObjectItem(s, "symbol"));
    if (sym && nm && strcmp(sym, nm) == 0) si = i;
    i++;
  }
  const char *keys[2] = {"entry_time", "exit_time"};
  for (int k = 0; k < 2 && si >= 0 && c; k++) {
    const char *ts = cJSON_GetStringValue(cJSON_GetObjectItem(l->t, keys[k]));
    int64_t when;
    if (!ts || !bt_iso8601_parse(ts, (long)strlen(ts), BT_ISO_STRICT, &when)) continue;
    const bt_rc_fill *f = bt_run_collect_fill(c, (uint32_t)si, when, k == 0);
    if (f) l->has[k] = true, l->fill[k] = *f;
  }
  return 0;
}

/* ---- the page's input, handed to Lua as tables (no JSON text in between) --------------- */

typedef struct doc {
  const cJSON *result, *summary;
  const trade_scan *ts;
  listed *lists[3];        /* head, tail, open */
  size_t nlists[3];
  size_t nclosed, stride;
  char *sym_names[MAX_SYMBOLS], *benchmark_error, *benchmark_name; /* logged_str */
  const bt_run_days *days; /* NULL: no series */
} doc;

/* A string as logged (bt_log_redact_text: secrets redacted, invalid UTF-8 replaced), the
 * text the page got when it came through JSON written with bt_log_json_str. NULL: out of
 * memory. */
static char *logged_str(const char *s) {
  bt_json_buf b = {0};
  bt_log_redact_text(&b, s, strlen(s));
  return bt_json_take(&b, NULL);
}

static void push_listed(lua_State *L, const listed *l, size_t n) {
  static const char *const names[2] = {"in", "out"};
  lua_createtable(L, (int)n, 0);
  for (size_t i = 0; i < n; i++) {
    lua_newtable(L);
    bt_formats_push_cjson(L, l[i].t);
    lua_setfield(L, -2, "t");
    for (int k = 0; k < 2; k++) {
      if (!l[i].has[k]) continue;
      const bt_rc_fill *f = &l[i].fill[k];
      lua_createtable(L, 4, 0);
      bt_formats_push_num(L, (double)f->fill_id);
      lua_rawseti(L, -2, 1);
      bt_formats_push_num(L, (double)f->order_id);
      lua_rawseti(L, -2, 2);
      bt_formats_push_num(L, (double)f->cause_id);
      lua_rawseti(L, -2, 3);
      lua_pushboolean(L, f->cause_signal);
      lua_rawseti(L, -2, 4);
      lua_setfield(L, -2, names[k]);
    }
    lua_rawseti(L, -2, (lua_Integer)i + 1);
  }
}

/* d.trades: {total=, closed=, head=, tail=, open=, returns_stride=, returns=, by_symbol=} */
static void push_trades(lua_State *L, const doc *d) {
  const trade_scan *ts = d->ts;
  static const char *const part[3] = {"head", "tail", "open"};
  lua_newtable(L);
  bt_formats_set_num(L, "total", ts->total);
  bt_formats_set_num(L, "closed", d->nclosed);
  for (int p = 0; p < 3; p++) {
    push_listed(L, d->lists[p], d->nlists[p]);
    lua_setfield(L, -2, part[p]);
  }
  bt_formats_set_num(L, "returns_stride", d->stride);
  /* every stride-th closed trade (RETURNS_CAP at most), those with a finite return (a
   * trade without a price counts for the stride only): the page's list has no holes */
  lua_createtable(L, (int)(ts->nrets / d->stride + 1), 0);
  lua_Integer k = 1;
  for (size_t i = 0; i < ts->nrets; i += d->stride)
    if (isfinite(ts->rets[i])) {
      bt_formats_push_num(L, ts->rets[i]);
      lua_rawseti(L, -2, k++);
    }
  lua_setfield(L, -2, "returns");
  lua_createtable(L, ts->nsyms, 0);
  for (int j = 0; j < ts->nsyms; j++) {
    const sym_stats *x = &ts->syms[j];
    char pnl[BT_DEC_STRLEN], unr[BT_DEC_STRLEN];
    bt_dec_format(x->pnl, pnl);
    bt_dec_format(x->unrealized, unr);
    lua_newtable(L);
    lua_pushstring(L, d->sym_names[j]);
    lua_setfield(L, -2, "symbol");
    bt_formats_set_num(L, "trades", x->trades);
    bt_formats_set_num(L, "wins", x->wins);
    lua_pushstring(L, pnl);
    lua_setfield(L, -2, "pnl");
    bt_formats_set_num(L, "open", x->open);
    lua_pushstring(L, unr);
    lua_setfield(L, -2, "unrealized");
    lua_rawseti(L, -2, j + 1);
  }
  lua_setfield(L, -2, "by_symbol");
}

static int push_doc(lua_State *L) {
  const doc *d = lua_touserdata(L, 1);
  lua_newtable(L);
  bt_formats_push_cjson(L, d->result);
  lua_setfield(L, -2, "result");
  if (d->summary) {
    bt_formats_push_cjson(L, d->summary);
    lua_setfield(L, -2, "summary");
  }
  push_trades(L, d);
  lua_setfield(L, -2, "trades");
  if (d->benchmark_error) {
    lua_pushstring(L, d->benchmark_error);
    lua_setfield(L, -2, "benchmark_error");
  }
  if (d->benchmark_name) {
    lua_pushstring(L, d->benchmark_name);
    lua_setfield(L, -2, "benchmark_name");
  }
  if (d->days) {
    bt_run_days_push(L, d->days);
    lua_setfield(L, -2, "series");
  }
  return 1;
}

/* the summary of the run's closed trades (the page reads its totals, not its per-day rows) */
static cJSON *summary_of(const bt_perf_index *ix, bt_err *err) {
  /* the window runs from the first exit day to the last exit or open entry day, so a
   * position opened after the last exit is still counted as open */
  int64_t a = ix->ndays ? ix->days[0].day : INT64_MAX, z = ix->ndays ? ix->days[ix->ndays - 1].day : INT64_MIN;
  for (size_t i = 0; i < ix->nopen; i++) {
    if (ix->open[i].entry_day < a) a = ix->open[i].entry_day;
    if (ix->open[i].entry_day > z) z = ix->open[i].entry_day;
  }
  if (a > z) a = z = 0;
  bt_perf_summary s;
  if (bt_perf_summarize(ix, BT_PERF_CUSTOM, a, z, &s, err)) return NULL;
  s.nseries = 0;
  size_t n;
  char *js = bt_perf_summary_json(&s, "", 0, &n);
  bt_perf_summary_free(&s);
  cJSON *j = js ? cJSON_ParseWithLength(js, n) : NULL;
  free(js);
  if (!j) bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  return j;
}

static int render(run_report *rr, const char *dir, bt_run_collect *c, const bt_run_outcome *o,
                  bt_err *err) {
  char path[1200];
  size_t rlen;
  snprintf(path, sizeof path, "%s/result.json", dir);
  char *result = bt_perf_slurp(path, &rlen);
  if (!result) return 0; /* the run wrote no files */
  cJSON *rj = cJSON_ParseWithLength(result, rlen), *sj = NULL;
  free(result);
  const cJSON *symbols = rj ? cJSON_GetObjectItem(rj, "data") : NULL;
  doc d = {.result = rj};
  trade_scan *ts = calloc(1, sizeof *ts);
  bt_perf_index ix;
  snprintf(path, sizeof path, "%s/trades.jsonl", dir);
  bt_perf_index_init(&ix, path, bt_tz_utc(), 1);
  bt_run_days *days = NULL;
  bt_index_point *extra_pts = NULL;
  char extra_name[64] = "";
  bt_err berr = {0};
  int rc = !rj ? bt_errf(err, BT_EINVAL, "json_error", "invalid JSON document")
           : !ts ? bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory")
                 : read_trades(path, &ix, ts, err);
  if (!rc && !(sj = summary_of(&ix, err))) rc = err->code;
  bt_perf_index_free(&ix);
  if (!rc) {
    /* open trades end the file: the lines listed as closed are those before them */
    size_t nclosed = ts->total - ts->npend, head = nclosed < TRADE_HEAD ? nclosed : TRADE_HEAD;
    size_t ntail = nclosed - head > TRADE_TAIL ? TRADE_TAIL : nclosed - head;
    d.summary = sj, d.ts = ts, d.nclosed = nclosed;
    d.stride = nclosed > RETURNS_CAP ? nclosed / RETURNS_CAP + 1 : 1;
    size_t n[3] = {head, ntail, ts->npend};
    for (int p = 0; p < 3 && !rc; p++) {
      if (!(d.lists[p] = calloc(n[p] ? n[p] : 1, sizeof *d.lists[p]))) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      for (size_t i = 0; i < n[p] && !rc; i++) {
        const tline *ln = p == 0 ? &ts->head[i]
                          : p == 1 ? &ts->ring[(ts->settled - ntail + i) % TRADE_TAIL]
                                   : &ts->pend[i];
        rc = list_trade(&d.lists[p][i], ln, c, symbols, err);
        d.nlists[p] = i + 1;
      }
    }
  }

  /* benchmarks: the run's own buy-and-hold, and --benchmark's series */
  bt_index_series bench = {0}, extra = {0};
  if (c) bench.pts = bt_run_collect_bench(c, &bench.n);
  if (bench.pts && !bench.n) bench.pts = NULL;
  const char *barg = rr->app ? rr->app->benchmark : NULL;
  if (!rc && barg && *barg) {
    int64_t start = o->ndays ? o->days[0].time : 0;
    if (extra_series(barg, start, &extra_pts, &extra.n, extra_name, sizeof extra_name, &berr)) {
      bt_log("perf", BT_LOG_WARNING, "benchmark_unreadable", BT_F_STR("benchmark", barg),
             BT_F_STR("error", berr.msg));
      if (!(d.benchmark_error = logged_str(berr.msg))) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
    extra.pts = extra_pts;
  }
  if (!rc && extra.pts && !(d.benchmark_name = logged_str(extra_name)))
    rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  for (int j = 0; !rc && j < ts->nsyms; j++)
    if (!(d.sym_names[j] = logged_str(ts->syms[j].name))) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc)
    rc = bt_run_days_compute(&days, o->days, o->ndays, bt_dec_to_double(o->initial_cash), &bench, &extra, err);
  d.days = days;
  bt_formats *fm = NULL;
  if (!rc) rc = formats_take(rr, &fm, err);
  if (!rc) {
    lua_State *L = bt_formats_lua(fm);
    lua_pushcfunction(L, push_doc);
    lua_pushlightuserdata(L, &d);
    if (lua_pcall(L, 1, 1, 0) != LUA_OK) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "report data: %s", lua_tostring(L, -1));
      lua_pop(L, 1);
    }
  }
  for (int p = 0; p < 3; p++) {
    for (size_t i = 0; i < d.nlists[p]; i++) cJSON_Delete(d.lists[p][i].t);
    free(d.lists[p]);
  }
  for (int j = 0; j < MAX_SYMBOLS; j++) free(d.sym_names[j]);
  free(d.benchmark_error), free(d.benchmark_name);
  if (ts) scan_free(ts);
  free(ts);
  bt_run_days_free(days);
  free(extra_pts);
  bt_err_clear(&berr);
  cJSON_Delete(sj);
  cJSON_Delete(rj);
  char *html = NULL;
  size_t len;
  if (!rc) rc = bt_formats_render(fm, "run_report", &html, &len, err);
  formats_give(rr, fm);
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
  pthread_mutex_lock(&rr->mu);
  s->next = rr->runs;
  rr->runs = s;
  pthread_mutex_unlock(&rr->mu);
  return bt_run_collect_subscribe(s->collect, bus, err);
}

static void on_end(void *ud, const bt_run_info *info, const bt_run_outcome *outcome) {
  run_report *rr = ud;
  pthread_mutex_lock(&rr->mu);
  run_state **pp = &rr->runs, *s;
  while (*pp && (*pp)->info != info) pp = &(*pp)->next;
  if ((s = *pp)) *pp = s->next;
  pthread_mutex_unlock(&rr->mu);
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
  for (int i = 0; i < rr->nidle; i++) bt_formats_close(rr->idle[i]);
  pthread_mutex_destroy(&rr->mu);
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
  pthread_mutex_init(&rr->mu, NULL);
  bt_run_observer obs = {.name = "perf_report", .ud = rr, .concurrent = true, .on_start = on_start,
                         .on_end = on_end, .on_close = on_close};
  if (bt_app_add_observer(app, &obs)) {
    pthread_mutex_destroy(&rr->mu);
    free(rr);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "too many run observers");
  }
  return 0;
}
