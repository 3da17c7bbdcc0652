/* pg_runs.c - see pg_runs.h. */
#include "pg_runs.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "pg_conn.h"
#include "pg_schema.h"
#include "pg_store.h"
#include "tracer.h"

#define SYNC_PER_RUN 8 /* spooled runs copied at the end of each run: bounded work */

typedef struct pg_obs {
  bt_app *app;
  /* The local event store as the tracer writes it. "" when tracing is off. Like the
   * tracer's, the default <data_dir>/events.db follows a --data-dir applied after the
   * app was set up: follow is set until the first run resolves it. */
  char store[1024];
  bool follow;
  bt_pg *pg;           /* opened at the first run, kept for the process's later runs */
  char url[1024];      /* what pg was opened with (app->db may change between runs) */
  bool migrated;
} pg_obs;

/* Next to the store it replays from: <store>.pg-spool/<run_id>. */
static void spool_dir(const pg_obs *o, char *out, size_t n) {
  snprintf(out, n, "%s.pg-spool", o->store);
}

/* The connection, (re)opened and migrated as needed. */
static int connect_db(pg_obs *o, bt_err *err) {
  if (o->pg && strcmp(o->url, o->app->db) != 0) {
    bt_pg_close(o->pg);
    o->pg = NULL;
  }
  if (o->pg && bt_pg_lost(o->pg) && bt_pg_reconnect(o->pg, err)) return err->code;
  if (!o->pg) {
    if (bt_pg_open(&o->pg, o->app->db, err)) return err->code;
    snprintf(o->url, sizeof o->url, "%s", o->app->db);
    o->migrated = false;
  }
  if (!o->migrated && bt_pg_migrate(o->pg, NULL, err)) return err->code;
  o->migrated = true;
  return 0;
}

/* The local store of this app, read-only; NULL (err set) when tracing is off or it is
 * missing. */
static bt_store *open_local(pg_obs *o, bt_err *err) {
  bt_store *s = NULL;
  if (!o->store[0]) {
    bt_errf(err, BT_ESTATE, "db_error", "tracing is off: no local store");
    return NULL;
  }
  return bt_store_open_readonly(&s, o->store, err) ? NULL : s;
}

/* Copy run_id from the local store (row, events, latency). BT_EINVAL type "not_found"
 * when the local store does not have it. */
static int copy_run(pg_obs *o, bt_store *local, const char *run_id, bt_err *err) {
  bt_store_run r;
  if (bt_store_find_run(local, run_id, &r, err)) return err->code;
  int rc = connect_db(o, err);
  if (!rc) rc = bt_pg_store_push(o->pg, local, &r, true, o->app->cfg.path, err);
  bt_store_run_clear(&r);
  return rc;
}

static void spool(pg_obs *o, const char *run_id, const bt_err *why) {
  char dir[1100], path[1200];
  spool_dir(o, dir, sizeof dir);
  snprintf(path, sizeof path, "%s/%s", dir, run_id);
  FILE *f = (mkdir(dir, 0755) == 0 || errno == EEXIST) ? fopen(path, "w") : NULL;
  if (f) fclose(f);
  bt_log("pg", BT_LOG_WARNING, "pg_unavailable", BT_F_STR("run_id", run_id),
         BT_F_STR("error", why->msg), BT_F_BOOL("spooled", f != NULL),
         BT_F_STR("spool", dir));
}

/* Copy up to max spooled runs; the rest stay. */
static int sync_spool(pg_obs *o, bt_store *local, int max, int *copied, int *left,
                      bt_err *err) {
  char dir[1100];
  spool_dir(o, dir, sizeof dir);
  int nc = 0, nl = 0, rc = 0;
  DIR *d = opendir(dir);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    if (rc || nc >= max) {
      nl++;
      continue;
    }
    char path[1400];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    rc = copy_run(o, local, e->d_name, err);
    if (rc && !strcmp(err->type, "not_found")) { /* pruned locally: nothing left to copy */
      bt_log("pg", BT_LOG_WARNING, "pg_spool_dropped", BT_F_STR("run_id", e->d_name),
             BT_F_STR("error", err->msg));
      bt_err_clear(err);
      rc = 0;
      unlink(path);
    } else if (rc) {
      nl++;
    } else {
      unlink(path);
      nc++;
    }
  }
  if (d) closedir(d);
  if (copied) *copied = nc;
  if (left) *left = nl;
  return rc;
}

/* The row of a run as its start describes it; host (64 bytes) receives this machine's
 * name, which the row points to. */
static void run_row(const bt_run_info *info, char *host, bt_store_run *r) {
  memset(host, 0, 64);
  gethostname(host, 63);
  *r = (bt_store_run){.created_at = info->started_ms,
                      .pid = getpid(),
                      .strategy_path = (char *)info->strategy_path,
                      .origin = (char *)info->origin,
                      .user_id = (char *)info->user_id,
                      .params = (char *)info->params_json,
                      .data = (char *)info->data_json,
                      .config = (char *)info->config_json,
                      .out_dir = (char *)info->out_dir,
                      .host = host};
  snprintf(r->run_id, sizeof r->run_id, "%s", info->run_id);
  snprintf(r->correlation_id, sizeof r->correlation_id, "%s", info->correlation_id);
  snprintf(r->strategy, sizeof r->strategy, "%s", info->strategy_id);
}

static int obs_start(void *ud, const bt_run_info *info, bt_bus *bus, bt_err *err) {
  (void)bus;
  (void)err;
  pg_obs *o = ud;
  if (o->follow) {
    bt_trace_cfg def;
    bt_trace_cfg_defaults(&def, o->app->cfg.data_dir);
    snprintf(o->store, sizeof o->store, "%s", def.store);
    o->follow = false;
  }
  if (!bt_pg_is_url(o->app->db)) return 0;
  char host[64];
  bt_store_run r;
  run_row(info, host, &r);
  snprintf(r.status, sizeof r.status, "running");
  /* The row tells other machines the run started; failing to write it only costs that
   * (the end of the run writes it all, or spools it). */
  bt_err e = {0};
  if (connect_db(o, &e) || bt_pg_store_push(o->pg, NULL, &r, false, o->app->cfg.path, &e))
    bt_log("pg", BT_LOG_WARNING, "pg_unavailable", BT_F_STR("run_id", info->run_id),
           BT_F_STR("error", e.msg));
  bt_err_clear(&e);
  return 0;
}

/* A run without a local store row: its row from what the run reports. */
static int push_reported(pg_obs *o, const bt_run_info *info, const bt_run_outcome *out,
                         bt_err *err) {
  static const char *const status[] = {"completed", "failed", "interrupted"};
  char host[64];
  bt_store_run r;
  run_row(info, host, &r);
  r.completed_at = bt_wall_ms();
  r.duration_ms = out->duration_ms;
  r.bars = out->bars;
  r.event_count = out->events;
  r.metrics = (char *)out->metrics_json;
  r.error = out->error ? (char *)out->error->msg : NULL;
  snprintf(r.status, sizeof r.status, "%s",
           (unsigned)out->status < 3 ? status[out->status] : "failed");
  int rc = connect_db(o, err);
  return rc ? rc : bt_pg_store_push(o->pg, NULL, &r, false, o->app->cfg.path, err);
}

static void obs_end(void *ud, const bt_run_info *info, const bt_run_outcome *out) {
  pg_obs *o = ud;
  if (!bt_pg_is_url(o->app->db)) return;
  bt_err err = {0};
  bt_store *local = open_local(o, &err);
  if (!local) {
    bt_err_clear(&err);
    if (push_reported(o, info, out, &err))
      bt_log("pg", BT_LOG_WARNING, "pg_unavailable", BT_F_STR("run_id", info->run_id),
             BT_F_STR("error", err.msg), BT_F_BOOL("spooled", false));
    bt_err_clear(&err);
    return;
  }
  if (copy_run(o, local, info->run_id, &err)) spool(o, info->run_id, &err);
  else sync_spool(o, local, SYNC_PER_RUN, NULL, NULL, &err); /* what failed stays spooled */
  bt_err_clear(&err);
  bt_store_close(local);
}

static void obs_close(void *ud) {
  pg_obs *o = ud;
  bt_pg_close(o->pg);
  free(o);
}

/* The local event store the runs' rows are copied from ("" when tracing is off). */
static int local_store(pg_obs *o, bt_err *err) {
  bt_trace_cfg tc;
  if (bt_trace_cfg_load(&o->app->cfg, &tc, err)) return err->code;
  if (tc.enabled) {
    snprintf(o->store, sizeof o->store, "%s", tc.store);
    bt_trace_cfg def;
    bt_trace_cfg_defaults(&def, o->app->cfg.data_dir);
    o->follow = strcmp(def.store, tc.store) == 0;
  }
  return 0;
}

int bt_pg_register(bt_app *app, bt_err *err) {
  pg_obs *o = calloc(1, sizeof *o);
  if (!o) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  o->app = app;
  if (local_store(o, err)) {
    free(o);
    return err->code;
  }
  bt_run_observer obs = {.name = "pg", .ud = o, .on_start = obs_start, .on_end = obs_end,
                         .on_close = obs_close};
  if (bt_app_add_observer(app, &obs)) {
    free(o);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "too many run observers");
  }
  return 0;
}

int bt_pg_sync(bt_app *app, int *copied, int *left, bt_err *err) {
  if (!bt_pg_is_url(app->db))
    return bt_errf(err, BT_EINVAL, "usage_error",
                   "no postgresql:// database: give --db URL or set BTRUN_DB");
  pg_obs o = {.app = app};
  if (local_store(&o, err)) return err->code;
  char dir[1100];
  spool_dir(&o, dir, sizeof dir);
  DIR *d = opendir(dir);
  bool any = false;
  for (struct dirent *e; d && !any && (e = readdir(d));) any = e->d_name[0] != '.';
  if (d) closedir(d);
  if (copied) *copied = 0;
  if (left) *left = 0;
  if (!any) return 0; /* nothing spooled (maybe no local store either) */
  bt_store *local = open_local(&o, err);
  int rc = local ? sync_spool(&o, local, 1 << 30, copied, left, err) : err->code;
  bt_store_close(local);
  bt_pg_close(o.pg);
  return rc;
}
