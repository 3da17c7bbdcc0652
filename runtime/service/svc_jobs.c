/* svc_jobs.c - the supervisor and the queue as the service section configures them. */
#include "svc_jobs.h"

#include "serve.h"

static bool catalog_strategy(void *ud, const char *name, char *path, size_t n) {
  return bt_svc_strategy_path(ud, name, path, n);
}

static const char *catalog_dataset(void *ud, const char *name) {
  const bt_svc_dataset *d = bt_svc_dataset_find(ud, name);
  return d ? d->data : NULL;
}

bt_supervisor_opts bt_svc_supervisor_opts(const bt_svc_config *sc, bt_app *app,
                                          const char *runs_dir) {
  return (bt_supervisor_opts){.workers = sc->workers, .lease_ms = sc->job_lease_s * 1000,
                              .shutdown_grace_ms = sc->shutdown_grace_s ? sc->shutdown_grace_s * 1000 : -1,
                              .app = app,
                              .runs_dir = runs_dir,
                              .catalog = {(void *)sc, catalog_strategy, catalog_dataset}};
}

int bt_svc_queue_open(const bt_svc_config *sc, const char *url, const char *data_dir,
                      bt_queue **out, bt_err *err) {
  int rc = bt_service_queue_open(url ? url : sc->queue, data_dir, out, err);
  if (!rc) (*out)->default_max_attempts = (int)sc->max_attempts;
  return rc;
}
