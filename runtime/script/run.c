/* run.c - one backtest: the bar loop and the run directory.
 *
 * Per bar, in this order (docs/strategy-api.md): 1. the broker fills orders pending
 * from earlier bars of the bar's symbol (FILL events, on_fill), 2. the ledger marks the
 * symbol, 3. on_bar(ctx, bar), 4. equity sample and metrics. Lua is called only through
 * registry refs resolved once; the bar table is reused. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "barcache.h"
#include "log.h"
#include "lua_mem.h"
#include "luabind.h"
#include "fs.h"
#include "lua_ctx.h"
#include "run_internal.h"
#include "suggest.h"

volatile sig_atomic_t bt_interrupted;

void bt_run_interrupt(void) { bt_interrupted = 1; }
bool bt_run_interrupted(void) { return bt_interrupted != 0; }


/* ---- feeds --------------------------------------------------------------------- */

/* The app's bar cache, made on first use (the config's data_dir is final by then). */
static bt_barcache *bar_cache(bt_app *app) {
  if (!app->cfg.bar_cache) return NULL;
  pthread_mutex_lock(&app->bars_mu);
  if (!app->bars) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/cache/bars", app->cfg.data_dir);
    bt_err e = {0};
    if (bt_barcache_new(&app->bars, dir, (uint64_t)app->cfg.bar_cache_min_bytes, &e))
      app->bars = NULL; /* out of memory: the feeds read their CSV */
    bt_err_clear(&e);
  }
  pthread_mutex_unlock(&app->bars_mu);
  return app->bars;
}

static int open_feeds(bt_run *run, bt_err *err) {
  static const char *const sample[] = {"SAMPLE=" BT_SOURCE_DATA_DIR "/sample-daily.csv"};
  const char *const *data = run->spec->ndata ? run->spec->data : sample;
  int n = run->spec->ndata ? run->spec->ndata : 1;
  run->e.feeds = calloc((size_t)n, sizeof *run->e.feeds);
  run->next = calloc((size_t)n, sizeof *run->next);
  run->has_next = calloc((size_t)n, sizeof *run->has_next);
  run->syms = calloc((size_t)n, sizeof *run->syms);
  if (!run->e.feeds || !run->next || !run->has_next || !run->syms)
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  bt_feed_opts opts = {.skip_bad_rows = run->app->cfg.skip_bad_rows,
                       .date_format = run->app->cfg.date_format,
                       .columns = run->app->cfg.columns};
  cJSON *arr = cJSON_CreateArray();
  for (int i = 0; i < n; i++) {
    char sym[64];
    const char *path;
    bt_feed_symbol_from_arg(data[i], sym, sizeof sym, &path);
    for (int j = 0; j < i; j++)
      if (strcmp(bt_feed_symbol(run->e.feeds[j]), sym) == 0) {
        cJSON_Delete(arr);
        return bt_errf(err, BT_EINVAL, "usage_error",
                       "symbol %s given twice (use SYM=path to name feeds)", sym);
      }
    if (bt_barcache_open_feed(bar_cache(run->app), &run->e.feeds[i], path, sym, (uint32_t)i,
                              &opts, err)) {
      cJSON_Delete(arr);
      return err->code;
    }
    run->e.nfeeds++;
    snprintf(run->syms[i].symbol, sizeof run->syms[i].symbol, "%s", sym);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "symbol", sym);
    cJSON_AddStringToObject(o, "path", path);
    cJSON_AddItemToArray(arr, o);
  }
  run->info.data_json = cJSON_PrintUnformatted(arr);
  cJSON_Delete(arr);
  for (int i = 0; i < n; i++) {
    int rc = bt_feed_next(run->e.feeds[i], &run->next[i], err);
    if (rc < 0) return rc;
    run->has_next[i] = rc == 1;
  }
  return 0;
}

/* Next bar in time order across feeds (ties: feed order). 1 = bar, 0 = done. */
static int next_bar(bt_run *run, bt_bar *bar, bt_err *err) {
  int best = -1;
  for (int i = 0; i < run->e.nfeeds; i++)
    if (run->has_next[i] && (best < 0 || run->next[i].time < run->next[best].time)) best = i;
  if (best < 0) return 0;
  *bar = run->next[best];
  int rc = bt_feed_next(run->e.feeds[best], &run->next[best], err);
  if (rc < 0) return rc;
  run->has_next[best] = rc == 1;
  return 1;
}


static int on_trade_closed(bt_run *run, const bt_trade *t, bt_err *err) {
  if (bt_metrics_on_trade(&run->metrics, t))
    return bt_errf(err, BT_ERANGE, "overflow", "trade statistics overflow at trade %llu",
                   (unsigned long long)t->trade_id);
  bt_run_symbol *s = &run->syms[t->symbol];
  s->trades++;
  s->wins += t->pnl.v > 0;
  bt_dec_add(s->pnl, t->pnl, &s->pnl); /* bounded by the metrics' sums checked above */
  run_write_trade(run, t);
  return 0;
}

/* ---- strategy ------------------------------------------------------------------ */

/* The strategy table's callbacks (docs/strategy-api.md): the one list the run resolves
 * and checks other keys against. */
static const char *const CALLBACKS[] = {"on_start", "on_bar",    "on_fill",
                                        "on_finish", "on_reject", "on_risk"};
enum { NCALLBACKS = sizeof CALLBACKS / sizeof CALLBACKS[0] };

/* A key that looks like a callback but is none (onBar, on_tick, a function named
 * on_bars) is almost always a typo that silently trades nothing: warn, naming the
 * closest callback. Functions far from every callback name are helpers, left alone. */
static void check_strategy_keys(lua_State *L, int strategy, const char *path) {
  lua_pushnil(L);
  while (lua_next(L, strategy)) {
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : NULL;
    bool known = !key || strcmp(key, "params") == 0;
    for (int i = 0; !known && i < NCALLBACKS; i++) known = strcmp(key, CALLBACKS[i]) == 0;
    if (!known) {
      const char *near = bt_suggest(key, CALLBACKS, NCALLBACKS);
      bool on = (key[0] == 'o' || key[0] == 'O') && (key[1] == 'n' || key[1] == 'N');
      if (on || (near && lua_type(L, -1) == LUA_TFUNCTION)) {
        char msg[320];
        int n = near ? snprintf(msg, sizeof msg, "strategy key '%.100s' is not a callback; did "
                                "you mean '%s'?", key, near)
                     : snprintf(msg, sizeof msg, "strategy key '%.100s' is not a callback "
                                "(callbacks:", key);
        for (int i = 0; !near && i < NCALLBACKS; i++)
          n += snprintf(msg + n, sizeof msg - (size_t)n, " %s%s", CALLBACKS[i],
                        i + 1 < NCALLBACKS ? "," : ")");
        bt_log("run", BT_LOG_WARNING, "strategy_key_unknown", BT_F_STR("file", path),
               BT_F_STR("key", key), BT_F_STR("suggestion", near ? near : ""),
               BT_F_STR("message", msg));
      }
    }
    lua_pop(L, 1);
  }
}

static int ref_callback(lua_State *L, int strategy, const char *name) {
  if (lua_getfield(L, strategy, name) == LUA_TFUNCTION) return luaL_ref(L, LUA_REGISTRYINDEX);
  lua_pop(L, 1);
  return LUA_NOREF;
}

static int cmp_items(const void *a, const void *b) {
  return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

static void sort_object(cJSON *o) {
  int n = cJSON_GetArraySize(o);
  if (n < 2) return;
  cJSON **items = malloc((size_t)n * sizeof *items);
  if (!items) return;
  int i = 0;
  while (o->child) items[i++] = cJSON_DetachItemViaPointer(o, o->child);
  qsort(items, (size_t)n, sizeof *items, cmp_items);
  for (i = 0; i < n; i++) cJSON_AddItemToArray(o, items[i]); /* keeps each item's key */
  free(items);
}

/* Merge the strategy's default params with --param overrides into a new table.
 * Overrides of names the strategy does not declare are errors (typos). */
static int build_params(bt_run *run, int strategy, bt_err *err) {
  lua_State *L = run->L;
  lua_newtable(L);
  int params = lua_gettop(L);
  bool declared = lua_getfield(L, strategy, "params") == LUA_TTABLE;
  if (declared) {
    lua_pushnil(L);
    while (lua_next(L, -2)) {
      lua_pushvalue(L, -2);
      lua_insert(L, -2);
      lua_settable(L, params);
    }
  }
  lua_pop(L, 1);
  for (int i = 0; i < run->spec->nparams; i++) {
    const bt_param *p = &run->spec->params[i];
    if (declared && lua_getfield(L, params, p->name) == LUA_TNIL) {
      lua_pop(L, 2);
      return bt_errf(err, BT_EINVAL, "usage_error",
                     "--param %s: the strategy declares no parameter named '%s'", p->name,
                     p->name);
    }
    if (declared) lua_pop(L, 1);
    if (lua_stringtonumber(L, p->value) == 0) {
      if (strcmp(p->value, "true") == 0 || strcmp(p->value, "false") == 0)
        lua_pushboolean(L, p->value[0] == 't');
      else
        lua_pushstring(L, p->value);
    }
    lua_setfield(L, params, p->name);
  }
  /* params as JSON for result.json and observers (scalars only; tables render null),
   * keys sorted so the text does not depend on Lua's table order. */
  cJSON *o = cJSON_CreateObject();
  lua_pushnil(L);
  while (lua_next(L, params)) {
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      int t = lua_type(L, -1);
      if (t == LUA_TNUMBER && lua_isinteger(L, -1))
        cJSON_AddNumberToObject(o, k, (double)lua_tointeger(L, -1));
      else if (t == LUA_TNUMBER) cJSON_AddNumberToObject(o, k, lua_tonumber(L, -1));
      else if (t == LUA_TBOOLEAN) cJSON_AddBoolToObject(o, k, lua_toboolean(L, -1));
      else if (t == LUA_TSTRING) cJSON_AddStringToObject(o, k, lua_tostring(L, -1));
      else cJSON_AddNullToObject(o, k);
    }
    lua_pop(L, 1);
  }
  sort_object(o);
  run->info.params_json = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return 0; /* params table left on the stack */
}

static int setup_strategy(bt_run *run, int strategy, bt_err *err) {
  lua_State *L = run->L;
  int *refs[] = {&run->ref_on_start, &run->ref_on_bar, &run->ref_on_fill,
                 &run->ref_on_finish, &run->ref_on_reject, &run->ref_on_risk};
  _Static_assert(sizeof refs / sizeof refs[0] == NCALLBACKS, "one ref per callback");
  for (int i = 0; i < NCALLBACKS; i++) *refs[i] = ref_callback(L, strategy, CALLBACKS[i]);
  check_strategy_keys(L, strategy, run->info.strategy_path);
  if (build_params(run, strategy, err)) return err->code;
  run->ctx = bt_ctx_push_new(L, &run->e, run->info.run_id, run->info.correlation_id);
  lua_insert(L, -2);
  lua_setfield(L, -2, "params");
  run->ref_ctx = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, 8);
  run->ref_bar = luaL_ref(L, LUA_REGISTRYINDEX);
  lua_createtable(L, 0, 8);
  run->ref_fill = luaL_ref(L, LUA_REGISTRYINDEX);
  return 0;
}

/* Calls ref(ctx, [arg ref]) if the callback exists. */
static int call_cb(bt_run *run, int ref, int arg_ref, bt_err *err) {
  if (ref == LUA_NOREF) return 0;
  lua_State *L = run->L;
  lua_rawgeti(L, LUA_REGISTRYINDEX, ref);
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_ctx);
  int nargs = 1;
  if (arg_ref != LUA_NOREF) lua_rawgeti(L, LUA_REGISTRYINDEX, arg_ref), nargs = 2;
  int rc = bt_lua_pcall(L, nargs, 0, err);
  if (rc && atomic_load(&run->stop)) return run_stopped_error(run, err);
  return rc;
}

/* ---- portfolio and risk ------------------------------------------------------- */

/* The portfolio after a fill: what the strategy holds and is worth (cause: the FILL).
 * Flat-encoded: the decimals are formatted by the subscriber that stores them. */
static void publish_portfolio(bt_run *run, const bt_fill *fill, uint64_t cause) {
  const struct { const char *key; bt_dec v; } fields[] = {
      {"cash", bt_ledger_cash(run->e.ledger)},
      {"equity", bt_ledger_equity(run->e.ledger)},
      {"position", bt_ledger_position(run->e.ledger, fill->symbol)},
      {"position_value", bt_ledger_position_value(run->e.ledger)}};
  uint8_t buf[BT_FLAT_MAX];
  size_t n = 0;
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    bt_flat_add(buf, &n, BT_FLAT_DEC, fields[i].key, strlen(fields[i].key), &fields[i].v.v, 8);
  bt_event ev = {.type = BT_EV_PORTFOLIO, .timestamp = fill->time, .causation_id = cause,
                 .source = "ledger", .symbol = fill->symbol, .data_flat = buf,
                 .data_flat_len = n};
  bt_bus_publish(run->e.bus, &ev);
}

enum { RISK_DRAWDOWN, RISK_POSITION_VALUE };

/* A limit crossed: RISK_BREACH event (cause: the bar), warning record, on_risk(ctx, info).
 * One breach per episode: the rule re-arms once the value is back inside its limit. */
static int risk_breach(bt_run *run, int rule, double actual, double limit, bt_err *err) {
  static const char *const names[] = {"max_drawdown", "max_position_value"};
  run->risk_breaches++;
  snprintf(run->event_json, sizeof run->event_json,
           "{\"rule\":\"%s\",\"actual\":%.10g,\"limit\":%.10g}", names[rule], actual, limit);
  bt_event ev = {.type = BT_EV_RISK_BREACH, .timestamp = run->e.bar->time,
                 .causation_id = run->e.bar_event, .source = "risk", .symbol = run->e.bar->symbol,
                 .data_json = run->event_json};
  uint64_t id = bt_bus_publish(run->e.bus, &ev);
  char when[32];
  bt_format_time(run->e.bar->time, when);
  bt_log("risk", BT_LOG_WARNING, "risk_breach", BT_F_STR("rule", names[rule]),
         BT_F_DBL("actual", actual), BT_F_DBL("limit", limit), BT_F_STR("bar_time", when));
  if (run->ref_on_risk == LUA_NOREF) return 0;
  lua_State *L = run->L;
  lua_createtable(L, 0, 4);
  lua_pushstring(L, names[rule]);
  lua_setfield(L, -2, "rule");
  lua_pushnumber(L, actual);
  lua_setfield(L, -2, "actual");
  lua_pushnumber(L, limit);
  lua_setfield(L, -2, "limit");
  lua_pushinteger(L, (lua_Integer)id);
  lua_setfield(L, -2, "event_id");
  int ref = luaL_ref(L, LUA_REGISTRYINDEX);
  run->e.cause = id; /* orders placed in reaction are caused by the breach */
  int rc = call_cb(run, run->ref_on_risk, ref, err);
  luaL_unref(L, LUA_REGISTRYINDEX, ref);
  return rc;
}

static int check_risk(bt_run *run, double drawdown, bt_err *err) {
  const bt_config *c = &run->app->cfg;
  double values[2] = {drawdown, 0}, limits[2] = {c->risk_max_drawdown, 0};
  if (c->risk_max_position_value.v) {
    values[1] = fabs(bt_dec_to_double(bt_ledger_position_value(run->e.ledger)));
    limits[1] = bt_dec_to_double(c->risk_max_position_value);
  }
  for (int rule = 0; rule < 2; rule++) {
    if (limits[rule] <= 0) continue;
    bool over = values[rule] > limits[rule];
    if (over && !run->in_breach[rule]) {
      run->in_breach[rule] = true;
      if (risk_breach(run, rule, values[rule], limits[rule], err)) return err->code;
    } else if (!over) {
      run->in_breach[rule] = false;
    }
  }
  return 0;
}

/* ---- fills --------------------------------------------------------------------- */

static void run_count_rejection(bt_run *run, const bt_order *order) {
  const char *why = order->reject_reason;
  int len = (int)strcspn(why, ":");
  int k = 0;
  while (k < run->nreject_kinds &&
         (strncmp(run->reject_kinds[k].reason, why, (size_t)len) != 0 ||
          run->reject_kinds[k].reason[len] != 0))
    k++;
  if (k == run->nreject_kinds) {
    /* more kinds than slots: counted with the last one (the broker has one today) */
    if (k == (int)(sizeof run->reject_kinds / sizeof run->reject_kinds[0])) k--;
    else {
      struct run_reject_kind *r = &run->reject_kinds[run->nreject_kinds++];
      snprintf(r->reason, sizeof r->reason, "%.*s", len, why);
      snprintf(r->first_reason, sizeof r->first_reason, "%s", why);
      r->first_order = order->id;
      r->first_time = run->e.bar->time;
      r->first_symbol = order->symbol;
    }
  }
  run->reject_kinds[k].count++;
}

/* One warning per kind of rejection; each order is a debug record (order_rejected) and
 * an ORDER event in the store. */
static void run_rejections_log(bt_run *run) {
  for (int k = 0; k < run->nreject_kinds; k++) {
    const struct run_reject_kind *r = &run->reject_kinds[k];
    char when[32], day[20], text[200];
    bt_format_time(r->first_time, when);
    /* the day, and the minute when the data is intraday */
    if (r->first_time % 86400) snprintf(day, sizeof day, "%.10s %.5s", when, when + 11);
    else snprintf(day, sizeof day, "%.10s", when);
    const char *sym = bt_feed_symbol(run->e.feeds[r->first_symbol]);
    snprintf(text, sizeof text, "%llu order%s rejected: %s; first %s %s",
             (unsigned long long)r->count, r->count == 1 ? "" : "s", r->reason, sym, day);
    bt_log("broker", BT_LOG_WARNING, "orders_rejected", BT_F_TEXT(text),
           BT_F_JSON_ONLY(BT_F_INT("count", r->count)),
           BT_F_JSON_ONLY(BT_F_STR("reason", r->reason)),
           BT_F_JSON_ONLY(BT_F_STR("first_time", when)),
           BT_F_JSON_ONLY(BT_F_STR("first_symbol", sym)),
           BT_F_JSON_ONLY(BT_F_INT("first_order_id", r->first_order)),
           BT_F_JSON_ONLY(BT_F_STR("first_reason", r->first_reason)));
  }
}

typedef struct fill_ctx {
  bt_run *run;
  bt_err *err;
  int rc;
} fill_ctx;

static void on_broker_event(void *ud, const bt_order *order, const bt_fill *fill) {
  fill_ctx *fc = ud;
  bt_run *run = fc->run;
  lua_State *L = run->L;
  if (!fill) {
    run->rejections++;
    bt_event ev = {.type = BT_EV_ORDER, .timestamp = run->e.bar->time,
                   .causation_id = order->event_id, .source = "broker",
                   .symbol = order->symbol, .p.order = order};
    bt_bus_publish(run->e.bus, &ev);
    run_count_rejection(run, order);
    bt_log("broker", BT_LOG_DEBUG, "order_rejected", BT_F_INT("order_id", order->id),
           BT_F_STR("symbol", bt_feed_symbol(run->e.feeds[order->symbol])),
           BT_F_STR("reason", order->reject_reason));
    if (fc->rc == 0 && run->ref_on_reject != LUA_NOREF) {
      bt_ctx_push_order(L, run->ctx, order);
      int ref = luaL_ref(L, LUA_REGISTRYINDEX);
      fc->rc = call_cb(run, run->ref_on_reject, ref, fc->err);
      luaL_unref(L, LUA_REGISTRYINDEX, ref);
    }
    return;
  }
  const bt_trade *closed = bt_ledger_last_closed(run->e.ledger);
  if (closed && !fc->rc) fc->rc = on_trade_closed(run, closed, fc->err);
  bt_event ev = {.type = BT_EV_FILL, .timestamp = fill->time, .causation_id = order->event_id,
                 .source = "broker", .symbol = fill->symbol};
  ev.p.fill.order = order;
  ev.p.fill.fill = fill;
  bt_bus_publish(run->e.bus, &ev);
  if (bt_bus_wants(run->e.bus, BT_EV_PORTFOLIO)) publish_portfolio(run, fill, ev.event_id);
  if (fc->rc || run->ref_on_fill == LUA_NOREF) return;
  lua_rawgeti(L, LUA_REGISTRYINDEX, run->ref_fill);
  lua_pushinteger(L, (lua_Integer)fill->order_id);
  lua_setfield(L, -2, "order_id");
  lua_pushstring(L, bt_feed_symbol(run->e.feeds[fill->symbol]));
  lua_setfield(L, -2, "symbol");
  lua_pushstring(L, fill->side == BT_BUY ? "buy" : "sell");
  lua_setfield(L, -2, "side");
  lua_pushnumber(L, bt_dec_to_double(fill->qty));
  lua_setfield(L, -2, "qty");
  lua_pushnumber(L, bt_dec_to_double(fill->price));
  lua_setfield(L, -2, "price");
  lua_pushnumber(L, bt_dec_to_double(fill->commission));
  lua_setfield(L, -2, "commission");
  lua_pushinteger(L, fill->time);
  lua_setfield(L, -2, "time");
  lua_pop(L, 1);
  run->e.cause = ev.event_id;
  fc->rc = call_cb(run, run->ref_on_fill, run->ref_fill, fc->err);
}

/* ---- the loop ------------------------------------------------------------------ */

#define LIVE_AFTER_NS 1000000000ull  /* runs shorter than this never show the line */
#define LIVE_EVERY_NS 200000000ull   /* redraw at most 5 times a second */

/* 950, 12,345, 123.4k, 1.23M: a count at a glance */
static void human_count(double v, char *out, size_t n) {
  if (v >= 1e6) snprintf(out, n, "%.2fM", v / 1e6);
  else if (v >= 1e5) snprintf(out, n, "%.1fk", v / 1e3);
  else if (v >= 1e3) snprintf(out, n, "%d,%03d", (int)v / 1000, (int)v % 1000);
  else snprintf(out, n, "%d", (int)v);
}

/* " 42.1% [######----------] 1.23M bars, 2.05M bars/s, ETA 0:03, at 2006-01-03" */
static void live_progress(bt_run *run, uint64_t t0, uint64_t *next_draw) {
  uint64_t now = bt_now_ns();
  if (now < *next_draw) return;
  *next_draw = now + LIVE_EVERY_NS;
  double done = 0;
  for (int i = 0; i < run->e.nfeeds; i++) done += bt_feed_progress(run->e.feeds[i]);
  done /= run->e.nfeeds;
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

static int loop(bt_run *run, bt_err *err) {
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
  fill_ctx fc = {run, err, 0};
  int rc;
  /* The bar lives in the run, so a failure report can still name it after the loop. */
  while ((rc = next_bar(run, &run->current, err)) == 1) {
    const bt_bar bar = run->current;
    if (atomic_load_explicit(&run->stop, memory_order_relaxed)) return run_stopped_error(run, err);
    run->e.bar = &run->current;
    run->bars++;
    run->syms[bar.symbol].bars++;
    run->e.bar_event = bt_bus_publish_bar(run->e.bus, &run->current);
    run->e.cause = run->e.bar_event;
    /* Every bar, even with nothing queued: the broker's clock is what keeps an order
     * placed during another symbol's bar at the same time from filling on this one. */
    if (bt_broker_on_bar(run->e.broker, run->e.ledger, &run->current, on_broker_event, &fc, err))
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
    if (has_risk && check_risk(run, dd, err)) return err->code;
    if (run->equity_f) run_equity_sample(run, bar.time, equity, dd);
    if (live && (run->bars & 63) == 0) live_progress(run, t0, &next_draw);
    if (run->spec->on_progress && run->bars % BT_RUN_PROGRESS_BARS == 0) {
      double done = 0;
      for (int i = 0; i < run->e.nfeeds; i++) done += bt_feed_progress(run->e.feeds[i]);
      run->spec->on_progress(run->spec->progress_ud, run->bars, done / run->e.nfeeds);
    }
    if (progress_every && run->bars % progress_every == 0) {
      double secs = (double)(bt_now_ns() - t0) / 1e9, done = 0;
      char when[32];
      for (int i = 0; i < run->e.nfeeds; i++) done += bt_feed_progress(run->e.feeds[i]);
      bt_log("run", BT_LOG_INFO, "backtest_progress", BT_F_INT("bars_done", run->bars),
             BT_F_DBL("percent", 100.0 * done / run->e.nfeeds),
             BT_F_DBL("bars_per_s", secs > 0 ? (double)run->bars / secs : 0),
             BT_F_STR("bar_time", (bt_format_time(bar.time, when), when)));
    }
  }
  run->e.bar = NULL;
  return rc < 0 ? rc : 0;
}

/* ---- execute ------------------------------------------------------------------- */

static void strategy_id_of(const char *path, char *out, size_t n) {
  const char *base = strrchr(path, '/');
  base = base ? base + 1 : path;
  size_t len = strlen(base);
  if (len > 4 && strcmp(base + len - 4, ".lua") == 0) len -= 4;
  snprintf(out, n, "%.*s", (int)len, base);
}

/* Loads the strategy file into the run's own state; leaves the strategy table on the
 * stack. A file that does not return a table is not a strategy. */
static int load_strategy(bt_run *run, bt_err *err) {
  lua_State *L = run->L;
  if (luaL_loadfilex(L, run->spec->strategy_path, "t") != LUA_OK) {
    const char *msg = lua_tostring(L, -1);
    int rc = bt_errf_at(err, BT_ELUA, "lua_error", run->spec->strategy_path, 0, "", "%s",
                        msg ? msg : "cannot load");
    snprintf(err->msg, sizeof err->msg, "%s", msg ? msg : "cannot load strategy");
    lua_pop(L, 1);
    return rc;
  }
  if (bt_lua_pcall(L, 0, 1, err)) return err->code;
  if (!lua_istable(L, -1)) {
    lua_pop(L, 1);
    return bt_errf_at(err, BT_EINVAL, "strategy_error", run->spec->strategy_path, 0, "",
                      "a strategy must return a table with on_bar/on_start/... callbacks");
  }
  return 0;
}

static void free_run(bt_run *run) {
  for (int i = 0; i < run->e.nfeeds; i++) bt_feed_close(run->e.feeds[i]);
  free(run->e.feeds);
  free(run->next);
  free(run->has_next);
  free(run->syms);
  bt_broker_free(run->e.broker);
  bt_ledger_free(run->e.ledger);
  bt_bus_free(run->e.bus);
  if (run->trades_f) fclose(run->trades_f);
  if (run->equity_f) fclose(run->equity_f);
  if (run->L) {
    lua_State *L = run->L;
    bt_ctx_end(L, run->ctx); /* a ctx the strategy kept now raises instead */
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
  if (run->owns_state && load_strategy(run, err)) return err->code;
  int strategy = lua_gettop(L);
  if (open_feeds(run, err)) return err->code;
  if (setup_strategy(run, strategy, err)) return err->code;
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
    pthread_mutex_lock(&run->app->obs_mu[i]);
    int orc = o->on_start(o->ud, &run->info, run->e.bus, err);
    pthread_mutex_unlock(&run->app->obs_mu[i]);
    if (orc) return err->code;
  }

  run_watchdog_start(run);
  int rc = call_cb(run, run->ref_on_start, LUA_NOREF, err);
  if (!rc) rc = loop(run, err);
  if (!rc) rc = call_cb(run, run->ref_on_finish, LUA_NOREF, err);
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

static int execute(bt_app *app, bt_run *run, const bt_run_spec *spec, bt_run_result *res,
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
  strategy_id_of(spec->strategy_path, run->info.strategy_id, sizeof run->info.strategy_id);
  run->info.strategy_path = spec->strategy_path;
  run->info.user_id = app->cfg.user_id[0] ? app->cfg.user_id : NULL;
  run->info.origin = spec->origin ? spec->origin : "cli";
  run->info.started_ms = bt_wall_ms();
  if (spec->out_dir) snprintf(res->out_dir, sizeof res->out_dir, "%s", spec->out_dir);
  else snprintf(res->out_dir, sizeof res->out_dir, "%s/%s", app->cfg.out_dir, run->info.run_id);
  run->info.out_dir = res->out_dir;
  memcpy(res->run_id, run->info.run_id, sizeof res->run_id);
  memcpy(res->correlation_id, run->info.correlation_id, sizeof res->correlation_id);

  /* Every record of this run carries its identity; the caller's context comes back after. */
  bt_log_ctx *saved = bt_log_save();
  bt_field ctx[] = {BT_F_STR("correlation_id", run->info.correlation_id),
                    BT_F_STR("run_id", run->info.run_id),
                    BT_F_STR("strategy_id", run->info.strategy_id),
                    BT_F_STR("user_id", run->info.user_id)};
  bt_log_bind(ctx, run->info.user_id ? 4 : 3);

  run->e.bus = bt_bus_new();
  int rc = run->e.bus ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc) bt_lua_set_run(run->L, run, &run->e);
  if (!rc) rc = run_body(run, res, err);

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
    if (!app->observers[i].on_end) continue;
    pthread_mutex_lock(&app->obs_mu[i]);
    app->observers[i].on_end(app->observers[i].ud, &run->info, &outcome);
    pthread_mutex_unlock(&app->obs_mu[i]);
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
  bt_log_restore(saved);
  return rc;
}

int bt_run_execute(bt_app *app, const bt_run_spec *spec, bt_run_result *res, bt_err *err) {
  bt_run run = {0};
  memset(res, 0, sizeof *res);
  run.L = bt_lua_new_strategy_state(app, spec->strategy_path,
                                    spec->sandbox || !app->cfg.trust_strategies, err);
  if (!run.L) return err->code;
  run.owns_state = true;
  return execute(app, &run, spec, res, err);
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
