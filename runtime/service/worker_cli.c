/* worker_cli.c - `btrun worker`: a supervisor without the HTTP API, claiming jobs from
 * the queue that `btrun serve` (or `btrun jobs submit`, or the scheduler) fills. Start
 * one per machine on a shared PostgreSQL queue, or next to `btrun serve` on SQLite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "log.h"
#include "svc_jobs.h"
#include "worker_cli.h"

const char bt_worker_help[] =
    "usage: btrun worker [--concurrency N] [--db URL] [--data-dir DIR] [--worker-id ID]\n"
    "                    [--exit-when-idle SECONDS] [--log-format json|console]\n"
    "                    [--log-level LEVEL] [--config FILE]\n"
    "\n"
    "Runs queued backtest jobs, each in its own process, until SIGTERM or SIGINT (then\n"
    "running jobs get service.shutdown_grace seconds to finish; the rest go back to the\n"
    "queue). Strategies and datasets are resolved by name from the config's service\n"
    "section (strategy_dirs, datasets), as `btrun serve` does.\n"
    "\n"
    "  --concurrency N          jobs at once (default service.workers, else CPU cores)\n"
    "  --db URL                 the queue: sqlite:PATH or postgresql://... (default\n"
    "                           service.queue, else SQLite <data dir>/queue.db)\n"
    "  --data-dir DIR           queue.db, run directories (runs/), event store\n"
    "                           (default $BTRUN_DATA_DIR, else ~/.local/share/btrun)\n"
    "  --worker-id ID           name in the queue's leases (default host:pid:random)\n"
    "  --exit-when-idle SECONDS stop once nothing was queued or running for this long\n"
    "                           (batch runs); default: run until stopped\n"
    "  --log-format FMT         json | console (default: console on a terminal, else json)\n"
    "  --log-level LEVEL        debug | info | warning | error\n"
    "  -h, --help               this help\n"
    "\n"
    "Exit status: 0 stopped cleanly, 1 bad arguments, config or queue error.\n"
    "Docs: docs/service.md (Workers)\n";

static const bt_cli_usage USAGE_ERR = {.prog = "btrun worker",
                                       .hint = "Try 'btrun worker --help'.",
                                       .unknown = "unknown option %s",
                                       .needs_value = "missing value for %s"};

static int usage_error(const char *msg, const char *arg) {
  return bt_cli_usage_error(&USAGE_ERR, "%s%s", msg, arg);
}

typedef struct worker_opts {
  const char *concurrency, *db, *data_dir, *worker_id, *idle, *log_format, *log_level;
} worker_opts;

static int parse(int argc, char **argv, worker_opts *o) {
  const bt_cli_opt table[] = {
      {"--concurrency", .value = &o->concurrency},
      {"--db", .value = &o->db},
      {"--data-dir", .value = &o->data_dir},
      {"--worker-id", .value = &o->worker_id},
      {"--exit-when-idle", .value = &o->idle},
      {"--log-format", .value = &o->log_format},
      {"--log-level", .value = &o->log_level},
      {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, table, argc, argv, 1, &args)) return 1;
  if (args.npos) return usage_error("unexpected argument ", args.pos[0]);
  return 0;
}


int bt_worker_cli(bt_app *app, int argc, char **argv) {
  worker_opts o = {0};
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
  /* Like serve: the log is this command's output (`btrun worker | jq`). */
  bt_log_set_fd(1);
  if (o.log_format) {
    bt_log_format f;
    if (bt_log_format_parse(o.log_format, &f) || f == BT_LOG_FORMAT_AUTO)
      return usage_error("--log-format: want json or console, got ", o.log_format);
    bt_log_set_format(f);
  }
  if (o.log_level) {
    bt_log_level l;
    if (bt_log_level_parse(o.log_level, &l))
      return usage_error("--log-level: want debug, info, warning or error, got ", o.log_level);
    bt_log_set_level(l);
  }
  long workers = 0, idle = 0;
  if (o.concurrency && !bt_cli_long(o.concurrency, 1, 1024, &workers))
    return usage_error("--concurrency: want 1..1024, got ", o.concurrency);
  if (o.idle && !bt_cli_long(o.idle, 1, 86400, &idle))
    return usage_error("--exit-when-idle: want 1..86400 seconds, got ", o.idle);
  if (o.worker_id && (!*o.worker_id || strlen(o.worker_id) >= BT_JOB_TEXT_LEN))
    return usage_error("--worker-id: want 1..127 characters, got ", o.worker_id);
  if (o.data_dir) snprintf(app->cfg.data_dir, sizeof app->cfg.data_dir, "%s", o.data_dir);

  bt_svc_config sc;
  bt_err err = {0};
  bt_queue *q = NULL;
  if (bt_svc_config_read(&app->cfg, &sc, &err)) goto fail;
  bt_svc_resolve_db(&sc, app, o.db); /* its job processes write runs and events there too */
  if (bt_svc_queue_open(&sc, NULL, app->cfg.data_dir, &q, &err)) goto fail;
  char runs[1024];
  snprintf(runs, sizeof runs, "%s/runs", app->cfg.data_dir);
  bt_supervisor_opts so = bt_svc_supervisor_opts(&sc, app, runs);
  if (workers) so.workers = (int)workers;
  so.worker_id = o.worker_id;
  so.exit_when_idle_ms = idle * 1000;
  bt_supervisor_stats st;
  rc = bt_supervisor_run(q, &so, &st, &err) ? 1 : 0;
  bt_queue_close(q);
  bt_svc_config_free(&sc);
  if (!rc) return 0;
fail:;
  char *exc = bt_log_err_json(&err);
  bt_log("worker", BT_LOG_ERROR, "worker_failed", BT_F_STR("field", err.field[0] ? err.field : NULL),
         BT_F_JSON("exception", exc));
  free(exc);
  fprintf(stderr, "btrun worker: %s\n", err.msg);
  bt_queue_close(q);
  bt_svc_config_free(&sc);
  bt_err_clear(&err);
  return 1;
}
