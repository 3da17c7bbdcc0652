/* serve.c - `btrun serve`: flags, the queue, the HTTP server, and the signal wait. */
#include "serve.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli_opts.h"
#include "http_server.h"
#include "log.h"
#include "pg_conn.h"
#include "pg_queue.h"
#include "scheduler.h"
#include "supervisor.h"
#include "svc_jobs.h"
#include "svc_config.h"
#include "tracer.h"

const char bt_serve_help[] =
    "usage: btrun serve [--listen HOST:PORT] [--workers N] [--db URL] [--data-dir DIR]\n"
    "                   [--log-format json|console] [--log-level LEVEL]\n"
    "\n"
    "Runs the backtest service: an HTTP API (JSON) that queues backtests, and worker\n"
    "processes that run them. Stops on SIGTERM or SIGINT.\n"
    "Fires the schedules of config/schedules.lua as jobs (SIGHUP reloads them).\n"
    "\n"
    "  --listen HOST:PORT   address to listen on (default 127.0.0.1:8080, or config\n"
    "                       service.listen). Port 0 picks a free port (logged in\n"
    "                       service_listening). A non-loopback address needs\n"
    "                       service.api_keys in the config\n"
    "  --workers N          backtests run at once (default: CPU cores, or service.workers);\n"
    "                       0: none here (API only; `btrun worker`s elsewhere run them)\n"
    "  --db URL             the queue, runs and events: postgresql://... (shared by many\n"
    "                       machines, docs/postgresql.md) or sqlite:PATH (default\n"
    "                       service.queue, else $BTRUN_DB, else <data dir>/queue.db)\n"
    "  --data-dir DIR       queue (queue.db), run directories (runs/), event store\n"
    "                       (default $BTRUN_DATA_DIR, else ~/.local/share/btrun)\n"
    "  --log-format FMT     json | console (default: console on a terminal, else json)\n"
    "  --log-level LEVEL    debug | info | warning | error\n"
    "  --schedules FILE     cron schedules to fire (default config/schedules.lua when it\n"
    "                       exists; docs/schedules.md). Reloaded when the file changes\n"
    "                       and on SIGHUP\n"
    "  --config FILE        config file (the `service` section; docs/service.md)\n"
    "  -h, --help           this help\n"
    "\n"
    "Endpoints: POST /v1/backtests, GET /v1/backtests[/{run_id}[/result|trades|equity|\n"
    "report]], POST /v1/backtests/{run_id}/cancel, GET /v1/strategies, /v1/datasets,\n"
    "/healthz, /metrics. Docs: docs/service.md\n";

static const bt_cli_usage USAGE_ERR = {.prog = "btrun serve",
                                       .hint = "Try 'btrun serve --help'.",
                                       .unknown = "unknown option %s",
                                       .needs_value = "missing value for %s"};

int bt_service_queue_open(const char *url, const char *data_dir, bt_queue **out, bt_err *err) {
  char path[1024];
  if (bt_pg_is_url(url)) return bt_queue_open_pg(out, url, err);
  if (!url || !*url) {
    snprintf(path, sizeof path, "%s/queue.db", data_dir);
  } else if (strncmp(url, "sqlite:", 7) == 0) {
    snprintf(path, sizeof path, "%s", url + 7);
  } else {
    char shown[512]; /* an unknown URL may still hold a password */
    bt_pg_redact(url, shown, sizeof shown);
    return bt_errf(err, BT_EINVAL, "config_error",
                   "unsupported queue \"%s\" (want postgresql://..., sqlite:PATH or none)", shown);
  }
  return bt_queue_open_sqlite(out, path, err);
}

/* In the supervisor process. */
typedef struct queue_where {
  const char *url, *data_dir;
} queue_where;

static int open_queue(void *ud, bt_queue **out, bt_err *err) {
  const queue_where *w = ud;
  return bt_service_queue_open(w->url, w->data_dir, out, err);
}

/* Job durations for /metrics: the histograms live in shared memory mapped before the
 * supervisor is forked, and a run observer of the app (inherited by every job process)
 * records each run's duration there. [0] completed, [1] failed. */
static void job_metrics_end(void *ud, const bt_run_info *info, const bt_run_outcome *o) {
  (void)info;
  bt_svc_hist *h = ud;
  bt_svc_hist_observe(&h[o->status == BT_RUN_COMPLETED ? 0 : 1], (uint64_t)o->duration_ms * 1000);
}

/* A job was queued: the supervisor claims at once instead of at its next poll. */
static void wake_supervisor(void *ud) {
  pid_t pid = *(pid_t *)ud;
  if (pid > 0) kill(pid, SIGUSR1);
}

typedef struct serve_opts {
  const char *listen, *workers, *db, *data_dir, *log_format, *log_level, *schedules;
} serve_opts;

static int parse(int argc, char **argv, serve_opts *o) {
  const bt_cli_opt table[] = {
      {"--listen", .value = &o->listen},
      {"--workers", .value = &o->workers},
      {"--db", .value = &o->db},
      {"--data-dir", .value = &o->data_dir},
      {"--log-format", .value = &o->log_format},
      {"--log-level", .value = &o->log_level},
      {"--schedules", .value = &o->schedules},
      {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, table, argc, argv, 1, &args)) return 1;
  if (args.npos) return bt_cli_usage_error(&USAGE_ERR, "unknown option %s", args.pos[0]);
  return 0;
}

/* Flags over config; a non-loopback address without API keys is refused. */
static int apply(bt_app *app, const serve_opts *o, bt_svc_config *sc) {
  if (o->log_format) {
    bt_log_format f;
    if (bt_log_format_parse(o->log_format, &f) || f == BT_LOG_FORMAT_AUTO)
      return bt_cli_usage_error(&USAGE_ERR, "--log-format: want json or console, got %s",
                                o->log_format);
    bt_log_set_format(f);
  }
  if (o->log_level) {
    bt_log_level l;
    if (bt_log_level_parse(o->log_level, &l))
      return bt_cli_usage_error(
          &USAGE_ERR, "--log-level: want debug, info, warning or error, got %s", o->log_level);
    bt_log_set_level(l);
  }
  if (o->listen) snprintf(sc->listen, sizeof sc->listen, "%s", o->listen);
  if (o->workers) {
    long n;
    if (!bt_cli_long(o->workers, 0, 1024, &n))
      return bt_cli_usage_error(&USAGE_ERR, "--workers: want 0..1024, got %s", o->workers);
    sc->workers = (int)n;
  }
  bt_svc_resolve_db(sc, app, o->db);
  if (o->data_dir) snprintf(app->cfg.data_dir, sizeof app->cfg.data_dir, "%s", o->data_dir);
  return 0;
}

static int fail(bt_err *err) {
  char *exc = bt_log_err_json(err);
  bt_log("service", BT_LOG_ERROR, "service_failed", BT_F_STR("field", err->field[0] ? err->field : NULL),
         BT_F_JSON("exception", exc));
  free(exc);
  return bt_cli_fail("btrun serve", err);
}

int bt_serve_cli(bt_app *app, int argc, char **argv) {
  serve_opts o = {0};
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
  /* The service's log is its output (`btrun serve | jq`), unlike other commands'. */
  bt_log_set_fd(1);
  bt_svc_config sc;
  bt_err err = {0};
  if (bt_svc_config_read(&app->cfg, &sc, &err)) return fail(&err);
  if ((rc = apply(app, &o, &sc))) goto out;
  /* After --data-dir: the tracer's default store follows it (resolved at the first run). */
  bt_trace_cfg tc;
  if (bt_trace_cfg_load(&app->cfg, &tc, &err)) {
    rc = fail(&err);
    goto out;
  }
  bool loopback;
  if (bt_http_parse_listen(sc.listen, &loopback, &err)) {
    rc = fail(&err);
    goto out;
  }
  if (!loopback && !sc.nkeys) {
    bt_errf_at(&err, BT_EINVAL, "config_error", app->cfg.path, 0, "service.listen",
               "refusing to listen on %s without authentication: configure service.api_keys "
               "or listen on a loopback address", sc.listen);
    rc = fail(&err);
    goto out;
  }

  /* SIGINT/SIGTERM (stop), SIGCHLD (the supervisor died) and SIGHUP (reload the
   * schedules) are taken by sigwait below: blocked before any thread starts, so every
   * thread inherits the mask. */
  sigset_t wait_set;
  sigemptyset(&wait_set);
  sigaddset(&wait_set, SIGINT);
  sigaddset(&wait_set, SIGTERM);
  sigaddset(&wait_set, SIGCHLD);
  sigaddset(&wait_set, SIGHUP);
  /* SIGUSR1 (wake_supervisor) too: the forked supervisor inherits it blocked, so a nudge
   * sent before its loop is set up waits instead of killing it (default action). */
  sigset_t block = wait_set;
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, NULL);

  char runs[1024];
  snprintf(runs, sizeof runs, "%s/runs", app->cfg.data_dir);
  bt_svc_hist *durations = mmap(NULL, 2 * sizeof *durations, PROT_READ | PROT_WRITE,
                                MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (durations == MAP_FAILED) durations = NULL;
  bt_run_observer mo = {.name = "service_metrics", .ud = durations, .on_end = job_metrics_end};
  if (durations && bt_app_add_observer(app, &mo)) {
    munmap(durations, 2 * sizeof *durations);
    durations = NULL;
  }
  /* The supervisor is forked first, while this process has no threads (supervisor.h). */
  bt_supervisor_opts so = bt_svc_supervisor_opts(&sc, app, runs);
  /* Open the queue once before the fork, so a new queue's schema exists before the
   * supervisor opens it, and close it again: no SQLite state may cross a fork. */
  bt_queue *q = NULL;
  bt_scheduler *sched = NULL;
  bt_http_server *http = NULL;
  pid_t sup = 0;
  bt_api api;
  bt_api_init(&api);
  queue_where qw = {sc.queue, app->cfg.data_dir};
  if (bt_svc_queue_open(&sc, NULL, app->cfg.data_dir, &q, &err)) {
    rc = fail(&err);
    goto stop;
  }
  bt_queue_close(q);
  q = NULL;
  if ((sc.workers > 0 && bt_supervisor_spawn(open_queue, &qw, &so, &sup, &err)) ||
      bt_svc_queue_open(&sc, NULL, app->cfg.data_dir, &q, &err)) {
    rc = fail(&err);
    goto stop;
  }
  api.cfg = &sc;
  api.q = q;
  api.out_dir = runs;
  api.events_store = tc.enabled ? tc.store : NULL;
  api.job_duration = durations;
  api.on_enqueued = wake_supervisor;
  api.enqueued_ud = &sup;
  /* Before the HTTP threads: they read the scheduler's ledger (GET /v1/schedules/fires). */
  if (bt_serve_sched_start(app, q, o.schedules, wake_supervisor, &sup, &sched, &err)) {
    rc = fail(&err);
    goto stop;
  }
  api.ledger = bt_scheduler_ledger(sched);
  bt_http_opts ho = {.threads = sc.http_threads, .max_body = (size_t)sc.max_body,
                     .timeout_s = (unsigned)sc.connection_timeout_s};
  snprintf(ho.listen, sizeof ho.listen, "%s", sc.listen);
  if (!(http = bt_http_start(&ho, bt_api_handle, &api, &err))) {
    rc = fail(&err);
    goto stop;
  }
  api.http = bt_http_get_stats(http);
  bt_log("service", BT_LOG_INFO, "service_listening", BT_F_STR("listen", sc.listen),
         BT_F_INT("port", bt_http_port(http)), BT_F_INT("workers", sc.workers),
         BT_F_INT("http_threads", sc.http_threads), BT_F_BOOL("auth", sc.nkeys > 0),
         BT_F_STR("data_dir", app->cfg.data_dir), BT_F_INT("supervisor_pid", sup));

  for (;;) {
    int sig = 0;
    sigwait(&wait_set, &sig);
    if (sig == SIGHUP) {
      bt_scheduler_reload(sched);
      continue;
    }
    if (sig != SIGCHLD) {
      bt_log("service", BT_LOG_INFO, "service_stopping",
             BT_F_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM"));
      break;
    }
    /* WNOWAIT: the dead supervisor stays a zombie until reaped below, so its pid cannot
     * be reused while HTTP threads may still signal it. */
    siginfo_t si = {0};
    if (waitid(P_PID, (id_t)sup, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == sup) {
      /* Without its supervisor the server would queue jobs nobody runs: stop, and let
       * the service manager restart the whole. */
      bt_log("service", BT_LOG_ERROR, "supervisor_exited",
             BT_F_INT("status", si.si_code == CLD_EXITED ? si.si_status : 128 + si.si_status));
      rc = 1;
      break;
    }
  }
  /* Stop accepting; requests on open connections are still answered while the
   * supervisor lets running jobs finish and hands the rest back to the queue. */
  bt_http_quiesce(http);
stop:
  bt_scheduler_stop(sched);
  if (sup > 0) {
    kill(sup, SIGTERM);
    int status;
    while (waitpid(sup, &status, 0) < 0 && errno == EINTR) {}
  }
  bt_http_stop(http);
  bt_queue_close(q);
  bt_api_free(&api);
  if (durations) munmap(durations, 2 * sizeof *durations);
  bt_log("service", BT_LOG_INFO, "service_stopped");
out:
  bt_err_clear(&err);
  bt_svc_config_free(&sc);
  return rc;
}
