/* analytics_register.c - config section `analytics` and the run observer that emits
 * backtest_job_started / _completed / _failed.
 *
 * The client is started on first use (a run, a Lua capture, `btrun analytics`, or the
 * app's shutdown), not in bt_app_init: command-line overrides such as --data-dir and
 * --user-id are applied to the config after bt_app_init, and the client must see them. */
#include <math.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lua.h>

#include "analytics.h"
#include "luabind.h"
#include "log.h"

#define LOGGER "analytics"

/* The section's target: the options and the schema set schemas = {...} adds to. */
typedef struct an_section {
  bt_analytics_opts o;
  bt_an_schemas *schemas;
} an_section;

static int read_schemas(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  return bt_an_schemas_add_list(((an_section *)obj)->schemas, L, idx, path, err);
}

#define F(kind, k, ...) BT_CFG_F_##kind(an_section, #k, o.k, __VA_ARGS__)
static const bt_cfg_field fields[] = {
    F(BOOL, enabled, NULL),
    {"api_key", BT_CFG_STR, BT_CFG_AT(an_section, o.api_key), 0, 0, NULL, NULL, BT_CFG_SECRET,
     NULL},
    F(STR, host, NULL),
    F(INT, batch_size, 1, INFINITY, "events per request"),
    F(INT, flush_interval_ms, 0, INFINITY, NULL),
    F(INT, sync_interval_ms, 1, INFINITY, NULL),
    F(INT, request_timeout_ms, 1, INFINITY, NULL),
    F(INT, shutdown_timeout_ms, 0, INFINITY, NULL),
    F(INT, max_queue, 1, INFINITY, "events"),
    F(INT, spool_max_bytes, 1024, INFINITY, NULL),
    F(INT, session_timeout_minutes, 1, INFINITY, NULL),
    F(INT, max_retries, 0, INFINITY, NULL),
    F(INT, retry_base_ms, 1, INFINITY, NULL),
    F(INT, retry_max_ms, 1, INFINITY, NULL),
    F(INT, replay_interval_ms, 1, INFINITY, NULL),
    BT_CFG_F_TABLE("schemas", read_schemas, "a list of schema tables"),
    {0}};
#undef F

static const char *cfg_name(const bt_app *app) {
  return app->cfg.path[0] ? app->cfg.path : "config";
}

int bt_analytics_read_config(bt_app *app, bt_analytics_opts *o, bt_an_schemas *schemas,
                             bool *configured, bt_err *err) {
  an_section sec = {.schemas = schemas};
  bt_analytics_opts_default(&sec.o);
  snprintf(sec.o.data_dir, sizeof sec.o.data_dir, "%s", app->cfg.data_dir);
  snprintf(sec.o.user_id, sizeof sec.o.user_id, "%s", app->cfg.user_id);
  int t = bt_config_section(&app->cfg, "analytics");
  if (t) {
    int rc = bt_cfg_read(app->cfg.L, t, "analytics", fields, &sec, err);
    lua_settop(app->cfg.L, t - 1);
    if (rc) return rc;
  }
  *o = sec.o;
  const char *env = getenv("POSTHOG_API_KEY");
  if (env && *env) snprintf(o->api_key, sizeof o->api_key, "%s", env);
  env = getenv("POSTHOG_HOST");
  if (env && *env) snprintf(o->host, sizeof o->host, "%s", env);
  env = getenv("SESSION_TIMEOUT_MINUTES");
  if (env && *env) {
    char *end;
    long long m = strtoll(env, &end, 10);
    if (*end || m < 1)
      return bt_errf_at(err, BT_EINVAL, "config_error", "environment", 0,
                        "SESSION_TIMEOUT_MINUTES", "expected a positive integer, got \"%s\"", env);
    o->session_timeout_minutes = m;
  }
  if (strncmp(o->host, "http://", 7) != 0 && strncmp(o->host, "https://", 8) != 0)
    return bt_errf_at(err, BT_EINVAL, "config_error", cfg_name(app), 0, "host",
                      "analytics.host / POSTHOG_HOST must start with http:// or https://");
  *configured = o->api_key[0] != '\0';
  return 0;
}

/* ---- run observer -------------------------------------------------------------- */

static cJSON *base_props(const bt_run_info *info, int64_t duration_ms, bool has_duration) {
  cJSON *p = cJSON_CreateObject();
  if (!p) return NULL;
  cJSON_AddStringToObject(p, "correlation_id", info->correlation_id);
  if (info->user_id) cJSON_AddStringToObject(p, "user_id", info->user_id);
  else cJSON_AddNullToObject(p, "user_id");
  cJSON_AddStringToObject(p, "strategy_id", info->strategy_id);
  cJSON_AddStringToObject(p, "run_id", info->run_id);
  if (has_duration) cJSON_AddNumberToObject(p, "duration_ms", (double)duration_ms);
  else cJSON_AddNullToObject(p, "duration_ms");
  cJSON_AddStringToObject(p, "origin", info->origin ? info->origin : "cli");
  return p;
}

static void add_double(cJSON *p, const char *k, bool has, double v) {
  if (has && isfinite(v)) cJSON_AddNumberToObject(p, k, v);
  else cJSON_AddNullToObject(p, k);
}

typedef struct lazy {
  pthread_mutex_t mu; /* scripts may run backtests from several threads later */
  bt_app *app;
  bt_analytics_opts o;
  bt_an_schemas *schemas; /* handed to the client when it starts */
  bt_analytics *a;
  bool failed;
} lazy;

static bt_analytics *lazy_client(lazy *z) {
  pthread_mutex_lock(&z->mu);
  if (!z->a && !z->failed) {
    snprintf(z->o.data_dir, sizeof z->o.data_dir, "%s", z->app->cfg.data_dir);
    snprintf(z->o.user_id, sizeof z->o.user_id, "%s", z->app->cfg.user_id);
    bt_err err = {0};
    z->a = bt_analytics_open(&z->o, z->schemas, &err);
    z->schemas = NULL;
    if (!z->a) {
      z->failed = true;
      /* A broken data dir must not stop backtests: run without analytics. */
      bt_log(LOGGER, BT_LOG_WARNING, "analytics_unavailable", BT_F_STR("reason", err.msg));
    }
  }
  bt_analytics *a = z->a;
  pthread_mutex_unlock(&z->mu);
  return a;
}

static int obs_start(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err) {
  (void)bus;
  (void)err;
  ud = lazy_client(ud);
  bt_analytics_capture_opts co = {.user_id = info->user_id, .timestamp_ms = info->started_ms,
                                  .urgent = true};
  bt_analytics_capture(ud, "backtest_job_started", base_props(info, 0, false), &co, NULL, NULL);
  return 0; /* analytics never fails a run */
}

static void obs_end(void *ud, const bt_run_info *info, const bt_run_outcome *out) {
  ud = lazy_client(ud);
  /* One end per run_id: a job run again after a lost worker re-sends the same event.
   * Durable: a job process killed right after its job was marked done still sent it. */
  char key[80];
  snprintf(key, sizeof key, "backtest_job_end:%s", info->run_id);
  bt_analytics_capture_opts co = {.user_id = info->user_id, .urgent = true,
                                  .idempotency_key = key, .durable = true};
  cJSON *p = base_props(info, out->duration_ms, true);
  if (!p) return;
  if (out->status == BT_RUN_COMPLETED) {
    const bt_metrics_result *m = out->metrics;
    cJSON_AddNumberToObject(p, "bars", (double)(m ? m->bars : out->bars));
    cJSON_AddNumberToObject(p, "trades", (double)(m ? m->trades : 0));
    if (m) {
      char dec[BT_DEC_STRLEN];
      bt_dec_format(m->final_equity, dec);
      cJSON_AddRawToObject(p, "final_equity", dec); /* exact decimal as a JSON number */
      add_double(p, "total_return", true, m->total_return);
      add_double(p, "max_drawdown", true, m->max_drawdown);
      add_double(p, "sharpe", m->has_sharpe, m->sharpe);
      add_double(p, "win_rate", m->has_win_rate, m->win_rate);
    }
    bt_analytics_capture(ud, "backtest_job_completed", p, &co, NULL, NULL);
  } else {
    cJSON_AddStringToObject(p, "error_type",
                            out->error && out->error->type[0] ? out->error->type : "error");
    cJSON_AddNumberToObject(p, "bars", (double)out->bars);
    bt_analytics_capture(ud, "backtest_job_failed", p, &co, NULL, NULL);
  }
}

/* Started here if nothing used it: every btrun process replays orphaned spools. */
static void obs_close(void *ud) {
  lazy *z = ud;
  bt_analytics_close(lazy_client(z));
  bt_an_schemas_free(z->schemas);
  pthread_mutex_destroy(&z->mu);
  free(z);
}

bt_analytics *bt_analytics_of(bt_app *app) {
  for (int i = 0; app && i < app->nobservers; i++)
    if (app->observers[i].name && strcmp(app->observers[i].name, "analytics") == 0)
      return lazy_client(app->observers[i].ud);
  return NULL;
}

int bt_analytics_register(bt_app *app, bt_err *err) {
  bt_an_schemas *schemas = bt_an_schemas_new();
  if (!schemas) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/schemas", bt_lua_dir());
  bt_analytics_opts o;
  bool configured = false;
  /* Config mistakes are the user's to fix: they fail like any other config error. */
  int rc = bt_an_schemas_load_dir(schemas, dir, err);
  if (!rc) rc = bt_analytics_read_config(app, &o, schemas, &configured, err);
  if (rc) {
    bt_an_schemas_free(schemas);
    return rc;
  }
  if (!configured || !o.enabled) {
    bt_an_schemas_free(schemas);
    bt_log(LOGGER, BT_LOG_DEBUG, "analytics_disabled",
           BT_F_STR("reason", !o.enabled ? "analytics.enabled = false"
                                         : "no POSTHOG_API_KEY or analytics.api_key"));
    return 0;
  }
  lazy *z = calloc(1, sizeof *z);
  if (!z) {
    bt_an_schemas_free(schemas);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  pthread_mutex_init(&z->mu, NULL);
  z->app = app;
  z->o = o;
  z->schemas = schemas;
  bt_run_observer obs = {.name = "analytics", .ud = z, .on_start = obs_start,
                         .on_end = obs_end, .on_close = obs_close};
  if (bt_app_add_observer(app, &obs)) {
    bt_an_schemas_free(schemas);
    pthread_mutex_destroy(&z->mu);
    free(z);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "too many run observers");
  }
  return 0;
}
