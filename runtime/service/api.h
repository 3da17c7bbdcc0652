/* api.h - the /v1 HTTP API of `btrun serve` (docs/service.md): routing, request
 * validation, authentication and the JSON views of jobs. Handlers only read and write
 * the queue and the run directories: backtests run in the supervisor's processes.
 *
 * Authentication: with service.api_keys configured, every route but /healthz needs
 * `Authorization: Bearer TOKEN` (401 without a known token) and a user sees and
 * creates only their own jobs (403). Without keys (loopback only) anyone may name any
 * user_id. */
#ifndef BT_API_H
#define BT_API_H

#include <pthread.h>

#include "http_server.h"
#include "queue.h"
#include "sched_ledger.h"
#include "svc_config.h"

/* Recent per-user queued counts, so a burst of POSTs does not count a user's jobs in
 * the queue once per request. */
#define BT_API_CAP_SLOTS 64
typedef struct bt_api_cap_slot {
  char user[128];
  int64_t queued;      /* as counted, plus the jobs this server queued since */
  uint64_t at_ns;      /* when counted; 0 = empty */
} bt_api_cap_slot;

typedef struct bt_api {
  const bt_svc_config *cfg;
  bt_queue *q;
  const char *out_dir;          /* where job run directories are: <out_dir>/<run_id> */
  const char *events_store;     /* the event store jobs write (trace.store), NULL = off */
  const bt_http_stats *http;    /* set once the server is up, for /metrics */
  /* Run durations of this server's jobs by run status (completed, failed), observed in
   * the job processes (shared memory); NULL = none. */
  const bt_svc_hist *job_duration;
  /* Called after a job was queued (wakes the supervisor); NULL = none. */
  void (*on_enqueued)(void *ud);
  void *enqueued_ud;
  /* What the scheduler fired (GET /v1/schedules/fires); NULL = none. */
  bt_sched_ledger *ledger;
  pthread_mutex_t cap_mu;
  bt_api_cap_slot cap[BT_API_CAP_SLOTS];
} bt_api;

/* Set the fields above (cfg, q, out_dir, ...) after bt_api_init; bt_api_free undoes it. */
void bt_api_init(bt_api *a);
void bt_api_free(bt_api *a);

/* The bt_http_handler of the service: ud is a bt_api. */
void bt_api_handle(void *ud, bt_http_request *req, bt_http_response *resp);

#endif
