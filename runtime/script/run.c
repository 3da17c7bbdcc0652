/* run.c - one backtest from start to end: identity and log context, the feeds, the
 * strategy and the outputs set up, observers told, the loop (run_loop.c) run under the
 * watchdog, then the run directory published and the outcome logged. The pieces:
 * run_feeds.c, run_strategy.c, run_loop.c, run_fills.c, run_risk.c, run_output.c,
 * run_watchdog.c (run_internal.h). */
#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "luabind.h"
#include "fs.h"
#include "lua_ctx.h"
#include "run_internal.h"

volatile sig_atomic_t bt_interrupted;

void bt_run_interrupt(void) { bt_interrupted = 1; }
bool bt_run_interrupted(void) { return bt_interrupted != 0; }

static void free_run(bt_run *run) {
  for (int i = 0; i < run->e.nfeeds; i++) bt_feed_close(run->e.feeds[i]);
  free(run->e.feeds);
  free(run->next);
  free(run->has_next);
  free(run->syms);
  bt_ledger_free(run->e.ledger); /* the broker and the ctx went at release_loop */
  bt_bus_free(run->e.bus);
  run_close_file(&run->trades_f, run->trades_tmp, false, NULL);
  run_close_file(&run->equity_f, run->equity_tmp, false, NULL);
  if (run->L) {
    lua_State *L = run->L;
    int refs[] = {run->ref_ctx, run->ref_bar, run->ref_fill,
                  run->ref_on_start, run->ref_on_bar, run->ref_on_fill, run->ref_on_finish,
                  run->ref_on_reject, run->ref_on_risk};
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++)
      luaL_unref(L, LUA_REGISTRYINDEX, refs[i]);
    bt_lua_set_run(L, NULL, NULL);
    if (run->owns_state) bt_lua_close(L);
  }
  bt_json_free(&run->e.payload);
  free(run->days);
  free((void *)run->info.params_json);
  free((void *)run->info.data_json);
  free((void *)run->info.config_json);
}

/* backtest_started in words: "backtest sma_cross on ORCL, NVDA: fast=10 slow=30", cut
 * with "..." to fit an 80-column console line (the JSON record has everything). */
#define STARTED_TEXT_MAX 66
static void started_text(const bt_run *run, char *out, size_t n) {
  size_t len = (size_t)snprintf(out, n, "backtest %s on", run->info.strategy_id);
  for (int i = 0; i < run->e.nfeeds && len < n; i++) {
    if (i == 3) {
      len += (size_t)snprintf(out + len, n - len, " +%d more", run->e.nfeeds - 3);
      break;
    }
    len += (size_t)snprintf(out + len, n - len, "%s %s", i ? "," : "", bt_feed_symbol(run->e.feeds[i]));
  }
  cJSON *params = run->info.params_json ? cJSON_Parse(run->info.params_json) : NULL;
  const cJSON *p;
  const char *sep = ":";
  cJSON_ArrayForEach(p, params) {
    if (len >= n) break;
    if (cJSON_IsNumber(p))
      len += (size_t)snprintf(out + len, n - len, "%s %s=%.10g", sep, p->string, p->valuedouble);
    else if (cJSON_IsString(p))
      len += (size_t)snprintf(out + len, n - len, "%s %s=%.20s", sep, p->string, p->valuestring);
    else if (cJSON_IsBool(p))
      len += (size_t)snprintf(out + len, n - len, "%s %s=%s", sep, p->string, cJSON_IsTrue(p) ? "true" : "false");
    sep = "";
  }
  cJSON_Delete(params);
  if (len > STARTED_TEXT_MAX && n > STARTED_TEXT_MAX) {
    char *cut = out + STARTED_TEXT_MAX - 4;
    *cut = 0;
    char *sp = strrchr(out, ' ');
    snprintf(sp && sp > out ? sp : cut, 5, " ...");
  }
}

/* Everything after the strategy table is on top of run->L. */
static int run_body(bt_run *run, bt_run_result *res, bt_err *err) {
  lua_State *L = run->L;
  if (run->owns_state && run_load_strategy(run, err)) return err->code;
  int strategy = lua_gettop(L);
  if (run_open_feeds(run, err)) return err->code;
  if (run_setup_strategy(run, strategy, err)) return err->code;
  lua_settop(L, strategy - 1);
  bt_dec cash = run->spec->has_cash ? run->spec->cash : run->app->cfg.cash;
  run->e.broker = bt_broker_new(&run->app->cfg.broker, (uint32_t)run->e.nfeeds);
  run->e.ledger = bt_ledger_new(cash, (uint32_t)run->e.nfeeds);
  if (!run->e.broker || !run->e.ledger) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  bt_metrics_init(&run->metrics, cash);
  run->info.config_json = run_config_json(run->app, cash);
  if (run->spec->write_files && run_open_outputs(run, err)) return err->code;

  char text[160] = "";
  if (bt_log_enabled("run", BT_LOG_INFO)) started_text(run, text, sizeof text);
  bt_log("run", BT_LOG_INFO, "backtest_started", BT_F_TEXT(text),
         BT_F_JSON_ONLY(BT_F_STR("strategy", run->info.strategy_path)),
         BT_F_JSON_ONLY(BT_F_JSON("data", run->info.data_json)),
         BT_F_JSON_ONLY(BT_F_JSON("params", run->info.params_json)),
         BT_F_JSON_ONLY(BT_F_STR("out_dir", run->info.out_dir)),
         BT_F_JSON_ONLY(BT_F_STR("origin", run->info.origin)));
  for (int i = 0; i < run->app->nobservers; i++) {
    const bt_run_observer *o = &run->app->observers[i];
    if (!o->on_start) continue;
    if (!o->concurrent) pthread_mutex_lock(&run->app->obs_mu[i]);
    int orc = o->on_start(o->ud, &run->info, run->e.bus, err);
    if (!o->concurrent) pthread_mutex_unlock(&run->app->obs_mu[i]);
    if (orc) return err->code;
  }

  run_watchdog_start(run);
  int rc = run_call_cb(run, run->ref_on_start, LUA_NOREF, err);
  if (!rc) rc = run_loop(run, err);
  if (!rc) rc = run_call_cb(run, run->ref_on_finish, LUA_NOREF, err);
  run_watchdog_stop(run);
  lua_settop(L, strategy - 1);
  for (int i = 0; i < run->e.nfeeds; i++) {
    const bt_feed *f = run->e.feeds[i];
    if (!bt_feed_skipped(f)) continue;
    res->skipped_rows += bt_feed_skipped(f);
    bt_log("feed", BT_LOG_WARNING, "rows_skipped", BT_F_STR("file", bt_feed_path(f)),
           BT_F_STR("symbol", bt_feed_symbol(f)), BT_F_INT("skipped", bt_feed_skipped(f)),
           BT_F_INT("first_line", bt_feed_first_skipped_line(f)));
  }
  if (rc) return rc;
  if (run->equity_pending) run_equity_write(run);

  /* Open positions stay open: report them as open trades marked at the last close. */
  for (int i = 0; i < run->e.nfeeds; i++) {
    const bt_trade *t = bt_ledger_open_trade(run->e.ledger, (uint32_t)i);
    if (!t) continue;
    run_write_trade(run, t);
    run->syms[i].open = true;
    run->syms[i].open_pnl = t->pnl;
  }
  return 0;
}

/* The loop is over: what only it used goes now, so a run of a sweep waiting for its end
 * (up to 2W of them) does not hold it: the broker's order chunks (up to 64 x 1,024 orders)
 * and each feed's read window or bar-cache block. The ctx ends first, so a ctx the
 * strategy kept raises rather than reaching them; the feeds keep their symbols and counts,
 * which the failure text and the rejection log name. */
static void release_loop(bt_run *run) {
  if (run->L) bt_ctx_end(run->L, run->ctx);
  run->ctx = NULL;
  bt_broker_free(run->e.broker);
  run->e.broker = NULL;
  for (int i = 0; i < run->e.nfeeds; i++) bt_feed_release(run->e.feeds[i]);
}

/* backtest_completed in words. The CLI prints the metrics in its summary table after
 * it; a script's run (no table) gets the main ones here. */
static void completed_text(const bt_run *run, const bt_run_result *res, char *out, size_t n) {
  const bt_metrics_result *m = &res->metrics;
  if (strcmp(run->info.origin, "cli") == 0)
    snprintf(out, n, "backtest done in %.2f s (%.0f bars/s)", (double)res->wall_ms / 1000,
             res->bars_per_s);
  else
    snprintf(out, n, "backtest: return %.2f%%, %llu trades, drawdown %.2f%%, %.2f s",
             100 * m->total_return, (unsigned long long)m->trades, 100 * m->max_drawdown,
             (double)res->wall_ms / 1000);
}

/* The run up to the end of its loop: identity, log context (bound here and left bound for
 * run_end), the body, the result's figures. Returns the loop's status. */
static int run_begin(bt_app *app, bt_run *run, const bt_run_spec *spec, bt_run_result *res,
                     bt_err *err) {
  uint64_t t0 = bt_now_ns();
  memset(res, 0, sizeof *res);
  run->app = app;
  run->spec = spec;
  run->ref_ctx = run->ref_bar = run->ref_fill = LUA_NOREF;
  run->ref_on_start = run->ref_on_bar = run->ref_on_fill = run->ref_on_finish =
      run->ref_on_reject = run->ref_on_risk = LUA_NOREF;
  if (spec->run_id && *spec->run_id)
    snprintf(run->info.run_id, sizeof run->info.run_id, "%s", spec->run_id);
  else bt_uuid(run->info.run_id);
  const char *cid = spec->correlation_id && *spec->correlation_id ? spec->correlation_id
                    : app->correlation_id[0]                     ? app->correlation_id
                                                                 : NULL;
  if (cid) snprintf(run->info.correlation_id, sizeof run->info.correlation_id, "%s", cid);
  else bt_uuid(run->info.correlation_id);
  run_strategy_id(spec->strategy_path, run->info.strategy_id, sizeof run->info.strategy_id);
  run->info.strategy_path = spec->strategy_path;
  run->info.user_id = app->cfg.user_id[0] ? app->cfg.user_id : NULL;
  run->info.origin = spec->origin ? spec->origin : "cli";
  run->info.started_ms = bt_wall_ms();
  if (spec->out_dir) snprintf(res->out_dir, sizeof res->out_dir, "%s", spec->out_dir);
  else snprintf(res->out_dir, sizeof res->out_dir, "%s/%s", app->cfg.out_dir, run->info.run_id);
  run->info.out_dir = res->out_dir;
  memcpy(res->run_id, run->info.run_id, sizeof res->run_id);
  memcpy(res->correlation_id, run->info.correlation_id, sizeof res->correlation_id);

  /* Every record of this run carries its identity. */
  bt_field ctx[] = {BT_F_STR("correlation_id", run->info.correlation_id),
                    BT_F_STR("run_id", run->info.run_id),
                    BT_F_STR("strategy_id", run->info.strategy_id),
                    BT_F_STR("user_id", run->info.user_id)};
  bt_log_bind(ctx, run->info.user_id ? 4 : 3);

  run->e.bus = bt_bus_new();
  int rc = run->e.bus ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc) bt_lua_set_run(run->L, run, &run->e);
  if (!rc) rc = run_body(run, res, err);
  release_loop(run);

  bt_log_status(NULL); /* the live progress line leaves nothing behind */
  bt_metrics_finish(&run->metrics, &res->metrics);
  res->bars = run->bars;
  res->first_time = run->metrics.first_time;
  res->last_time = run->metrics.last_time;
  res->rejected_orders = run->rejections;
  res->nsymbols = run->e.nfeeds;
  for (int i = 0; i < run->e.nfeeds && i < BT_RUN_MAX_SYMBOLS; i++) res->symbols[i] = run->syms[i];
  res->wall_ms = (int64_t)((bt_now_ns() - t0) / 1000000);
  double secs = (double)(bt_now_ns() - t0) / 1e9;
  res->bars_per_s = secs > 0 ? (double)run->bars / secs : 0;
  res->status = rc ? BT_RUN_FAILED : BT_RUN_COMPLETED;
  return rc;
}

/* The run's end, under its log context: the run directory published, the observers told,
 * the outcome logged, the run freed. rc: run_begin's. Returns the run's final status (a
 * failed publish fails a completed run). */
static int run_end(bt_run *run, bt_run_result *res, int rc, bt_err *err) {
  bt_app *app = run->app;
  const bt_run_spec *spec = run->spec;
  cJSON *mj = rc ? NULL : run_metrics_json(&res->metrics);
  char *mtext = mj ? cJSON_PrintUnformatted(mj) : NULL;
  if (spec->write_files && (run->trades_f || rc)) {
    /* Publishing: trades and equity on disk (.part), then result.json (fsync'd, renamed),
     * then their final names. So trades.jsonl or equity.csv never exist without a
     * result.json saying completed; a process killed just after result.json leaves
     * complete .part files beside it (docs/outputs.md). */
    bt_err werr = {0};
    bool keep = rc == 0;
    int wrc = run_close_file(&run->trades_f, run->trades_tmp, keep, &werr);
    if (!wrc) wrc = run_close_file(&run->equity_f, run->equity_tmp, keep, &werr);
    if (!wrc && bt_mkdirs(res->out_dir, 0755) == 0) wrc = run_write_result(run, res, mj, rc ? err : NULL, &werr);
    if (!wrc && keep) wrc = run_publish_file(run->trades_tmp, res->out_dir, "trades.jsonl", &werr);
    if (!wrc && keep) wrc = run_publish_file(run->equity_tmp, res->out_dir, "equity.csv", &werr);
    if (wrc && !rc) {
      /* The publish failed (disk full, a directory in the way): nothing may look
       * complete; a failed result.json replaces the completed one when it can. */
      run_unpublish(run);
      bt_err_move(err, &werr);
      rc = err->code;
      res->status = BT_RUN_FAILED;
      bt_err_clear(&werr);
      char rp[700];
      snprintf(rp, sizeof rp, "%s/result.json", res->out_dir);
      if (run_write_result(run, res, NULL, err, &werr)) unlink(rp);
    }
    bt_err_clear(&werr);
  }

  bt_run_outcome outcome = {.status = res->status, .duration_ms = res->wall_ms,
                            .bars = run->bars, .events = run->e.bus ? bt_bus_last_id(run->e.bus) : 0,
                            .metrics = rc ? NULL : &res->metrics,
                            .metrics_json = rc ? NULL : mtext, .error = rc ? err : NULL,
                            .days = run->days, .ndays = run->ndays,
                            .initial_cash = run->metrics.initial_cash};
  for (int i = 0; i < app->nobservers; i++) {
    const bt_run_observer *o = &app->observers[i];
    if (!o->on_end) continue;
    if (!o->concurrent) pthread_mutex_lock(&app->obs_mu[i]);
    o->on_end(o->ud, &run->info, &outcome);
    if (!o->concurrent) pthread_mutex_unlock(&app->obs_mu[i]);
  }

  run_rejections_log(run);
  char text[200];
  if (rc) {
    char *exc = bt_log_err_json(err);
    char when[32] = "";
    const char *sym = run->e.bar ? bt_feed_symbol(run->e.feeds[run->e.bar->symbol]) : NULL;
    if (run->e.bar) bt_format_time(run->e.bar->time, when);
    if (run->e.bar)
      snprintf(text, sizeof text, "backtest failed at bar %llu (%s %s)",
               (unsigned long long)run->bars, sym, when);
    else snprintf(text, sizeof text, "backtest failed before the first bar");
    bt_log("run", BT_LOG_ERROR, "backtest_failed", BT_F_TEXT(text), BT_F_JSON("exception", exc),
           BT_F_JSON_ONLY(BT_F_INT("duration_ms", res->wall_ms)),
           BT_F_JSON_ONLY(BT_F_INT("bars_done", run->bars)),
           BT_F_JSON_ONLY(BT_F_STR("bar_time", run->e.bar ? when : NULL)),
           BT_F_JSON_ONLY(BT_F_STR("bar_symbol", sym)),
           BT_F_JSON_ONLY(BT_F_STR("out_dir", res->out_dir)));
    free(exc);
  } else {
    completed_text(run, res, text, sizeof text);
    bt_log("run", BT_LOG_INFO, "backtest_completed", BT_F_TEXT(text),
           BT_F_JSON_ONLY(BT_F_JSON("metrics", mtext)),
           BT_F_JSON_ONLY(BT_F_INT("duration_ms", res->wall_ms)),
           BT_F_JSON_ONLY(BT_F_DBL("bars_per_s", res->bars_per_s)),
           BT_F_JSON_ONLY(BT_F_INT("skipped_rows", res->skipped_rows)),
           BT_F_JSON_ONLY(BT_F_STR("out_dir", res->out_dir)));
  }
  free(mtext);
  cJSON_Delete(mj);
  free_run(run);
  return rc;
}

/* The whole run on this thread; the caller's log context comes back after. */
static int execute(bt_app *app, bt_run *run, const bt_run_spec *spec, bt_run_result *res,
                   bt_err *err) {
  bt_log_ctx *saved = bt_log_save();
  int rc = run_end(run, res, run_begin(app, run, spec, res, err), err);
  bt_log_restore(saved);
  return rc;
}

/* The run's own Lua state, for the strategy file. */
static int open_state(bt_app *app, const bt_run_spec *spec, bt_run *run, bt_err *err) {
  run->L = bt_lua_new_strategy_state(app, spec->strategy_path,
                                     spec->sandbox || !app->cfg.trust_strategies, err);
  if (!run->L) return err->code;
  run->owns_state = true;
  return 0;
}

int bt_run_execute(bt_app *app, const bt_run_spec *spec, bt_run_result *res, bt_err *err) {
  bt_run run = {0};
  memset(res, 0, sizeof *res);
  if (open_state(app, spec, &run, err)) return err->code;
  return execute(app, &run, spec, res, err);
}

struct bt_run_pending {
  bt_run run;
  bt_run_result *res;
  int rc;              /* run_begin's */
  bt_err err;
  bt_log_ctx *log;     /* the run's log context, bound again by bt_run_finish */
};

int bt_run_start(bt_app *app, const bt_run_spec *spec, bt_run_result *res, bt_run_pending **out,
                 bt_err *err) {
  memset(res, 0, sizeof *res);
  *out = NULL;
  bt_run_pending *p = calloc(1, sizeof *p);
  if (!p) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (open_state(app, spec, &p->run, err)) {
    free(p);
    return err->code;
  }
  p->res = res;
  bt_log_ctx *saved = bt_log_save();
  p->rc = run_begin(app, &p->run, spec, res, &p->err);
  p->log = bt_log_save();
  bt_log_restore(saved);
  *out = p;
  return 0;
}

int bt_run_finish(bt_run_pending *p, bt_err *err) {
  bt_log_ctx *saved = bt_log_save();
  bt_log_restore(p->log);
  int rc = run_end(&p->run, p->res, p->rc, &p->err);
  bt_log_restore(saved);
  if (rc) bt_err_move(err, &p->err);
  bt_err_clear(&p->err);
  free(p);
  return rc;
}

int bt_run_execute_in(bt_app *app, lua_State *L, const bt_run_spec *spec, bt_run_result *res,
                      bt_err *err) {
  bt_run run = {0};
  memset(res, 0, sizeof *res);
  run.L = L;
  if (bt_lua_run(L)) {
    return bt_errf(err, BT_ESTATE, "usage_error", "bt.backtest cannot be called during a run");
  }
  return execute(app, &run, spec, res, err);
}
