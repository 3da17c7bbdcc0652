#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "barcache.h"
#include "perf.h"
#include "pg_runs.h"
#include "run.h"
#include "tracer.h"

int bt_app_init(bt_app *app, const char *config_path, bool explicit_config, bt_err *err) {
  memset(app, 0, sizeof *app);
  for (size_t i = 0; i < sizeof app->obs_mu / sizeof app->obs_mu[0]; i++)
    pthread_mutex_init(&app->obs_mu[i], NULL);
  pthread_mutex_init(&app->bars_mu, NULL);
  if (bt_config_load(&app->cfg, config_path, explicit_config, err)) return err->code;
  /* Modules that observe runs register here, in the order they should see them. */
  if (bt_trace_register(app, err)) return err->code;
  if (bt_analytics_register(app, err)) return err->code;
  if (bt_perf_register(app, err)) return err->code;
  if (bt_pg_register(app, err)) return err->code;
  const char *db = getenv("BTRUN_DB");
  if (db) snprintf(app->db, sizeof app->db, "%s", db);
  return 0;
}

int bt_app_add_observer(bt_app *app, const bt_run_observer *obs) {
  if (app->nobservers == (int)(sizeof app->observers / sizeof app->observers[0]))
    return BT_ENOMEM;
  app->observers[app->nobservers++] = *obs;
  return 0;
}

void bt_app_close(bt_app *app) {
  for (int i = app->nobservers - 1; i >= 0; i--)
    if (app->observers[i].on_close) app->observers[i].on_close(app->observers[i].ud);
  app->nobservers = 0;
  bt_config_free(&app->cfg);
  for (size_t i = 0; i < sizeof app->obs_mu / sizeof app->obs_mu[0]; i++)
    pthread_mutex_destroy(&app->obs_mu[i]);
  bt_barcache_free(app->bars);
  app->bars = NULL;
  pthread_mutex_destroy(&app->bars_mu);
}
