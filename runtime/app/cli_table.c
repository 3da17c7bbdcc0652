#include "cli.h"
#include "analytics.h"
#include "perf.h"
#include "pg_cli.h"
#include "pg_store.h"
#include "serve.h"
#include "run_compare.h"
#include "sched_cli.h"
#include "svc_config.h"
#include "trace_cli.h"
#include "jobs_cli.h"
#include "worker_cli.h"

/* The event store commands read a postgresql:// database too (--db, BTRUN_DB). */
static int events_cli(bt_app *app, int argc, char **argv) {
  return bt_events_cli(app, &bt_pg_store_remote, argc, argv);
}
static int trace_cli(bt_app *app, int argc, char **argv) {
  return bt_trace_cli(app, &bt_pg_store_remote, argc, argv);
}
static int runs_cli(bt_app *app, int argc, char **argv) {
  return bt_runs_cli(app, &bt_pg_store_remote, argc, argv, bt_run_compare_html);
}

/* The queue `btrun serve` uses: service.queue, else SQLite in the data dir. */
static int open_service_queue(bt_app *app, bt_queue **out, bt_err *err) {
  bt_svc_config sc;
  int rc = bt_svc_config_read(&app->cfg, &sc, err);
  if (!rc) rc = bt_service_queue_open(sc.queue, app->cfg.data_dir, out, err);
  bt_svc_config_free(&sc);
  return rc;
}

static int schedules_cli(bt_app *app, int argc, char **argv) {
  return bt_sched_cli(app, argc, argv, open_service_queue);
}

/* One row per subcommand: its summary for `btrun --help` and its own --help text
 * (bt_cli_main prints it); modules add theirs here. */
const bt_cli_command bt_cli_commands[] = {
    {"analytics", bt_analytics_cli, "product analytics: flush the spool, status, opt-out/opt-in",
     .help = bt_analytics_help, .subcommands = bt_analytics_subcommands},
    {"cache", bt_cache_cli, "the bar cache (CSV data parsed once): clear it, print its path",
     .help = bt_cache_help},
    {"perf", bt_perf_cli, "performance summaries per day/week/month, targets and alerts",
     .help = bt_perf_help},
    {"events", events_cli, "traced events of a run: list (by type/time, table/jsonl/csv), prune",
     .help = bt_events_help, .subcommands = bt_events_subcommands},
    {"trace", trace_cli, "lineage of an event (cause chain and effects), latency per event type",
     .help = bt_trace_help, .subcommands = bt_trace_subcommands},
    {"serve", bt_serve_cli, "the backtest service: HTTP API, job queue and worker processes",
     .help = bt_serve_help},
    {"db", bt_db_cli, "the shared PostgreSQL database: migrate, status, sync spooled runs",
     .help = bt_db_help, .subcommands = bt_db_subcommands},
    {"worker", bt_worker_cli, "run queued backtest jobs (no HTTP API): one per machine, or next to serve",
     .help = bt_worker_help},
    {"jobs", bt_jobs_cli, "the job queue from the command line: submit, list, show, cancel",
     .help = bt_jobs_help, .subcommands = bt_jobs_subcommands},
    {"runs", runs_cli, "traced runs: list, show metadata and metrics, compare",
     .help = bt_runs_help, .subcommands = bt_runs_subcommands},
    {"schedules", schedules_cli, "cron schedules (config/schedules.lua): next fire times, run one now, history",
     .help = bt_sched_help, .subcommands = bt_sched_subcommands},
    {.name = NULL},
};
