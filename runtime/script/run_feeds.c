/* run_feeds.c - a run's feeds: opened from the run's data arguments (through the app's bar
 * cache), each with its first bar read ahead for run_next_bar's time merge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "barcache.h"
#include "run_internal.h"

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

int run_open_feeds(bt_run *run, bt_err *err) {
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
