/* svc_jobs.h - the job machinery as the config's `service` section sets it up, shared by
 * `btrun serve`, `btrun worker` and `btrun jobs`. */
#ifndef BT_SVC_JOBS_H
#define BT_SVC_JOBS_H

#include "queue.h"
#include "supervisor.h"
#include "svc_config.h"

/* The supervisor: workers, lease, shutdown grace, and the catalog (strategies by name
 * from service.strategy_dirs, datasets from service.datasets). sc must outlive it. */
bt_supervisor_opts bt_svc_supervisor_opts(const bt_svc_config *sc, bt_app *app,
                                          const char *runs_dir);

/* The queue named by url (else service.queue, else SQLite <data_dir>/queue.db), with
 * service.max_attempts as the default of the jobs it creates. */
int bt_svc_queue_open(const bt_svc_config *sc, const char *url, const char *data_dir,
                      bt_queue **out, bt_err *err);

#endif
