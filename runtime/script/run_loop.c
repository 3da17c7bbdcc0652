/* run_loop.c - the bar loop. Per bar, in this order (docs/strategy-api.md): 1. the broker
 * fills orders pending from earlier bars of the bar's symbol (FILL events, on_fill), 2.
 * the ledger marks the symbol, 3. on_bar(ctx, bar), 4. equity sample, metrics, risk
 * limits, progress. Lua is called only through registry refs resolved once; the bar
 * table is reused. */
#include <lauxlib.h>
#include <stdio.h>

#include "log.h"
#include "lua_ctx.h"
#include "luabind.h"
#include "run_internal.h"

#define LIVE_AFTER_NS 1000000000ull  /* runs shorter than this never show the line */
#define LIVE_EVERY_NS 200000000ull   /* redraw at most 5 times a second */

/* 950, 12,345, 123.4k, 1.23M: a count at a glance */
static void human_count(double v, char *out, size_t n) {
  if (v >= 1e6) snprintf(out, n, "%.2fM", v / 1e6);
  else if (v >= 1e5) snprintf(out, n, "%.1fk", v / 1e3);
  else if (v >= 1e3) snprintf(out, n, "%d,%03d", (int)v / 1000, (int)v % 1000);
  else snprintf(out, n, "%d", (int)v);
}

/* The share of the data read so far, 0..1: the feeds' average. */
static double feeds_done(const bt_run *run) {
  double done = 0;
  for (int i = 0; i < run->e.nfeeds; i++) done += bt_feed_progress(run->e.feeds[i]);
  return done / run->e.nfeeds;
}

/* " 42.1% [######----------] 1.23M bars, 2.05M bars/s, ETA 0:03, at 2006-01-03" */
static void live_progress(bt_run *run, uint64_t t0, uint64_t *next_draw) {
  uint64_t now = bt_now_ns();
  if (now < *next_draw) return;
  *next_draw = now + LIVE_EVERY_NS;
  double done = feeds_done(run);
  double secs = (double)(now - t0) / 1e9, rate = (double)run->bars / secs;
  char bar[24], bars[24], per_s[24], eta[32] = "", when[32], text[160];
  int fill = (int)(done * 16 + 0.5);
  for (int i = 0; i < 16; i++) bar[i] = i < fill ? '#' : '-';
  bar[16] = 0;
  human_count((double)run->bars, bars, sizeof bars);
  human_count(rate, per_s, sizeof per_s);
  if (done > 0.001) {
    long left = (long)(secs * (1 - done) / done + 0.5);
    if (left >= 3600) snprintf(eta, sizeof eta, ", ETA %ld:%02ld:%02ld", left / 3600, left / 60 % 60, left % 60);
    else snprintf(eta, sizeof eta, ", ETA %ld:%02ld", left / 60, left % 60);
  }
  bt_format_time(run->e.bar->time, when);
  snprintf(text, sizeof text, "%5.1f%% [%s] %s bars, %s bars/s%s, at %.10s", 100 * done, bar,
           bars, per_s, eta, when);
  bt_log_status(text);
}

enum { K_SYMBOL, K_TIME, K_OPEN, K_HIGH, K_LOW, K_CLOSE, K_VOLUME, K__N };

int run_loop(bt_run *run, bt_err *err) {
  lua_State *L = run->L;
  static const char *const names[K__N] = {"symbol", "time", "open", "high", "low", "close",
                                          "volume"};
  /* Fixed stack slots: the traceback handler, K__N interned keys, the bar table,
   * on_bar and ctx: the per-bar path pushes only values. */
  lua_pushcfunction(L, bt_lua_msghandler);
  int handler = lua_gettop(L), base = handler; /* keys at base + 1 + K_* */
  for (int i = 0; i < K__N; i++) lua_pushstring(L, names[i]);
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_bar);
  int bar_t = lua_gettop(L);
  int last_symbol = -1;
  bool has_on_bar = run->ref_on_bar != LUA_NOREF;
  int on_bar_slot = 0, ctx_slot = 0;
  if (has_on_bar) {
    lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_on_bar);
    on_bar_slot = lua_gettop(L);
    lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_ctx);
    ctx_slot = lua_gettop(L);
  }
  uint64_t progress_every = run->app->cfg.progress_every;
  /* the live line replaces the records for a person at a terminal */
  bool live = run->spec->live_progress && bt_log_status_supported();
  if (live) progress_every = 0;
  bool has_risk = run->app->cfg.risk_max_drawdown > 0 || run->app->cfg.risk_max_position_value.v;
  uint64_t t0 = bt_now_ns(), next_draw = t0 + LIVE_AFTER_NS;
  run_fill_ctx fc = {run, err, 0};
  int rc;
  /* The bar lives in the run, so a failure report can still name it after the loop. */
  while ((rc = run_next_bar(run, &run->current, err)) == 1) {
    const bt_bar bar = run->current;
    if (atomic_load_explicit(&run->stop, memory_order_relaxed)) return run_stopped_error(run, err);
    run->e.bar = &run->current;
    run->bars++;
    run->syms[bar.symbol].bars++;
    run->e.bar_event = bt_bus_publish_bar(run->e.bus, &run->current);
    run->e.cause = run->e.bar_event;
    /* Every bar, even with nothing queued: the broker's clock is what keeps an order
     * placed during another symbol's bar at the same time from filling on this one. */
    if (bt_broker_on_bar(run->e.broker, run->e.ledger, &run->current, run_on_broker_event, &fc, err))
      return err->code;
    if (fc.rc) return fc.rc;
    if (bt_ledger_mark(run->e.ledger, bar.symbol, bar.close, bar.time)) {
      char when[32];
      bt_format_time(bar.time, when);
      return bt_errf(err, BT_ERANGE, "overflow", "position value overflows at %s bar %s",
                     bt_feed_symbol(run->e.feeds[bar.symbol]), when);
    }
    run->e.cause = run->e.bar_event; /* on_fill may have moved it to a FILL */
    if (has_on_bar) {
      if ((int)bar.symbol != last_symbol) {
        lua_pushvalue(L, base + 1 + K_SYMBOL);
        lua_pushstring(L, bt_feed_symbol(run->e.feeds[bar.symbol]));
        lua_rawset(L, bar_t);
        last_symbol = (int)bar.symbol;
      }
      lua_pushvalue(L, base + 1 + K_TIME);
      lua_pushinteger(L, bar.time);
      lua_rawset(L, bar_t);
      const bt_dec *px[4] = {&bar.open, &bar.high, &bar.low, &bar.close};
      for (int k = 0; k < 4; k++) {
        lua_pushvalue(L, base + 1 + K_OPEN + k);
        lua_pushnumber(L, bt_dec_to_double(*px[k]));
        lua_rawset(L, bar_t);
      }
      lua_pushvalue(L, base + 1 + K_VOLUME);
      lua_pushnumber(L, bar.volume);
      lua_rawset(L, bar_t);
      bt_ctx_update_indicators(L, run->ctx, &bar, bar_t);
      lua_pushvalue(L, on_bar_slot);
      lua_pushvalue(L, ctx_slot);
      lua_pushvalue(L, bar_t);
      int status = lua_pcall(L, 2, 0, handler);
      if (status != LUA_OK) {
        if (atomic_load(&run->stop)) return run_stopped_error(run, err);
        return bt_lua_error(L, status, err);
      }
    }
    bt_dec equity = bt_ledger_equity(run->e.ledger);
    double dd = bt_metrics_on_equity(&run->metrics, bar.time, equity,
                                     bt_ledger_exposed(run->e.ledger));
    if (has_risk && run_check_risk(run, dd, err)) return err->code;
    if (run->equity_f) run_equity_sample(run, bar.time, equity, dd);
    if (live && (run->bars & 63) == 0) live_progress(run, t0, &next_draw);
    if (run->spec->on_progress && run->bars % BT_RUN_PROGRESS_BARS == 0)
      run->spec->on_progress(run->spec->progress_ud, run->bars, feeds_done(run));
    if (progress_every && run->bars % progress_every == 0) {
      double secs = (double)(bt_now_ns() - t0) / 1e9;
      char when[32];
      bt_log("run", BT_LOG_INFO, "backtest_progress", BT_F_INT("bars_done", run->bars),
             BT_F_DBL("percent", 100.0 * feeds_done(run)),
             BT_F_DBL("bars_per_s", secs > 0 ? (double)run->bars / secs : 0),
             BT_F_STR("bar_time", (bt_format_time(bar.time, when), when)));
    }
  }
  run->e.bar = NULL;
  return rc < 0 ? rc : 0;
}
