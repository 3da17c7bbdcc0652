/* svc_config.h - the `service` section of the config (docs/service.md) and the catalog
 * it defines: which strategies and datasets a request may name.
 *
 *   service = {
 *     listen = "127.0.0.1:8080",
 *     queue = "",                  -- "" = SQLite <data_dir>/queue.db; "sqlite:PATH";
 *                                  -- "postgresql://user@host/db" (shared by many machines)
 *     max_attempts = 3,            -- a job whose process dies this often: "worker_lost"
 *     job_lease = 30,              -- seconds a job stays claimed without a heartbeat
 *     shutdown_grace = 30,         -- seconds running jobs get on SIGTERM (0: none)
 *     workers = 0,                 -- job processes at once, 0 = CPU cores
 *     http_threads = 0,            -- HTTP thread pool, 0 = CPU cores
 *     max_body = 65536,            -- bytes per request body (413 above)
 *     max_queued_per_user = 1000,  -- queued jobs of one user (429 above)
 *     connection_timeout = 10,     -- seconds a connection may idle or trickle
 *     strategy_dirs = { "strategies" },
 *     datasets = { orcl = "/srv/data/orcl.csv" },  -- name -> CSV ("SYM=path" allowed)
 *     api_keys = { { user_id = "u1", sha256 = "<hex of the token>" } },
 *   }
 *
 * Requests name strategies and datasets, never paths: a name is what bt_svc_name_valid
 * accepts and is looked up here. With no `datasets`, the data shipped with btrun is the
 * catalog: "sample" (data/sample-daily.csv) and "nvda", "orcl", "yhoo" (data/market). */
#ifndef BT_SVC_CONFIG_H
#define BT_SVC_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"

#define BT_SVC_NAME_MAX 100
#define BT_SVC_MAX_DIRS 8

typedef struct bt_svc_dataset {
  char name[BT_SVC_NAME_MAX + 1];
  char data[512];                  /* a bt_run_spec data entry: "path" or "SYM=path" */
} bt_svc_dataset;

typedef struct bt_svc_key {
  unsigned char sha256[32];        /* of the bearer token; the token itself is never kept */
  char user_id[128];
} bt_svc_key;

typedef struct bt_svc_config {
  char listen[128];
  char queue[1024];                /* queue URL; may hold a password: never logged */
  int64_t max_attempts, job_lease_s, shutdown_grace_s;
  int workers, http_threads;       /* resolved: never 0 after bt_svc_config_read */
  int64_t max_body;
  int64_t max_queued_per_user;
  int64_t connection_timeout_s;
  char strategy_dirs[BT_SVC_MAX_DIRS][512];
  int nstrategy_dirs;
  bt_svc_dataset *datasets;        /* sorted by name */
  int ndatasets;
  int default_dataset;             /* for a request without data: "sample" when the
                                      catalog is the bundled one, else the first */
  bt_svc_key *keys;
  int nkeys;
} bt_svc_config;

/* Defaults, then the config's `service` section. Errors name the key
 * ("service.api_keys[2].sha256"). */
int bt_svc_config_read(bt_config *cfg, bt_svc_config *out, bt_err *err);
void bt_svc_config_free(bt_svc_config *c);

/* 1..100 characters of [A-Za-z0-9_.-], not starting with '.': never a path. */
bool bt_svc_name_valid(const char *s);
/* The file of strategy `name` (first strategy dir holding <name>.lua); false if none. */
bool bt_svc_strategy_path(const bt_svc_config *c, const char *name, char *out, size_t n);
const bt_svc_dataset *bt_svc_dataset_find(const bt_svc_config *c, const char *name);
/* Strategy names of every strategy dir (first dir wins), sorted; heap array of heap
 * strings (free each, then the array). */
int bt_svc_strategy_list(const bt_svc_config *c, char ***names, int *n, bt_err *err);
/* The user of a bearer token, NULL when no key matches. */
const char *bt_svc_key_user(const bt_svc_config *c, const char *token);

/* The queue: flag (--db) when given, else service.queue, else app->db ($BTRUN_DB); when
 * it is postgresql://, it is also where this process's runs and events go (app->db). */
struct bt_app;
void bt_svc_resolve_db(bt_svc_config *c, struct bt_app *app, const char *flag);

#endif
