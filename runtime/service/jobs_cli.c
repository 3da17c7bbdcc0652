/* jobs_cli.c - `btrun jobs`: submit, list, show and cancel queued backtests from the
 * command line, on the same queue as `btrun serve` and `btrun worker`. Output is JSON
 * (one job per line for list), the same view as the HTTP API's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_opts.h"
#include "job_json.h"
#include "job_spec.h"
#include "log.h"
#include "svc_jobs.h"
#include "jobs_cli.h"

const char bt_jobs_help[] =
    "usage: btrun jobs submit SPEC_JSON [--user-id ID] [--correlation-id ID]\n"
    "                  [--origin manual|api|schedule|sweep] [--idempotency-key KEY]\n"
    "                  [--count N]\n"
    "       btrun jobs list [--status STATE] [--user-id ID] [--limit N] [--cursor C]\n"
    "       btrun jobs show RUN_ID\n"
    "       btrun jobs cancel RUN_ID\n"
    "  common: [--db URL] [--data-dir DIR] [--config FILE]\n"
    "\n"
    "The job queue of `btrun serve` and `btrun worker`, from the command line.\n"
    "  submit   queue a backtest; SPEC_JSON names a strategy and datasets, e.g.\n"
    "           '{\"strategy\":\"sma_cross\",\"data\":[\"sample\"],\"params\":{\"fast\":10}}';\n"
    "           prints the run_id of each job (--count N queues N copies; origin\n"
    "           default manual; correlation id default: a new UUID)\n"
    "  list     jobs, newest first, as JSON lines; the last line is {\"next_cursor\":...}\n"
    "           when there are more (STATE: queued running succeeded failed cancelled)\n"
    "  show     one job as JSON, with its state history\n"
    "  cancel   cancel a job (idempotent; a running job stops within a second)\n"
    "  --db URL        the queue: sqlite:PATH or postgresql://... (default service.queue,\n"
    "                  else SQLite <data dir>/queue.db)\n"
    "  --data-dir DIR  default $BTRUN_DATA_DIR, else ~/.local/share/btrun\n"
    "\n"
    "Exit status: 0 ok, 1 error (bad spec, unknown job, queue error).\n"
    "Docs: docs/service.md (Jobs from the command line)\n";

static const bt_cli_usage USAGE_ERR = {.prog = "btrun jobs",
                                       .hint = "Try 'btrun jobs --help'.",
                                       .unknown = "unknown option %s",
                                       .needs_value = "missing value for %s"};

static int usage_error(const char *msg, const char *arg) {
  return bt_cli_usage_error(&USAGE_ERR, "%s%s", msg, arg);
}

typedef struct jobs_opts {
  const char *arg;  /* SPEC_JSON or RUN_ID */
  const char *db, *data_dir, *user_id, *correlation_id, *origin, *idempotency_key, *count,
      *status, *limit, *cursor;
} jobs_opts;

static int parse(int argc, char **argv, jobs_opts *o) {
  const bt_cli_opt table[] = {
      {"--db", .value = &o->db},
      {"--data-dir", .value = &o->data_dir},
      {"--user-id", .value = &o->user_id},
      {"--correlation-id", .value = &o->correlation_id},
      {"--origin", .value = &o->origin},
      {"--idempotency-key", .value = &o->idempotency_key},
      {"--count", .value = &o->count},
      {"--status", .value = &o->status},
      {"--limit", .value = &o->limit},
      {"--cursor", .value = &o->cursor},
      {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, table, argc, argv, 2, &args)) return 1;
  if (args.npos > 1) return usage_error("unexpected argument ", args.pos[1]);
  o->arg = args.npos ? args.pos[0] : NULL;
  return 0;
}


static void print_json(cJSON *o) {
  char *t = cJSON_PrintUnformatted(o);
  if (t) puts(t);
  free(t);
  cJSON_Delete(o);
}

static int submit(bt_queue *q, const bt_svc_config *sc, const jobs_opts *o, bt_err *err) {
  if (!o->arg) return usage_error("submit: SPEC_JSON is required", "");
  long count = 1;
  if (o->count && !bt_cli_long(o->count, 1, 100000, &count))
    return usage_error("--count: want 1..100000, got ", o->count);
  const char *origin = o->origin ? o->origin : "manual";
  if (!bt_job_origin_valid(origin))
    return usage_error("--origin: want manual, api, schedule or sweep, got ", origin);
  bt_job_spec spec;
  if (bt_job_spec_parse(o->arg, &spec, err)) return err->code;
  /* No data: the catalog's default dataset, as for a request to the HTTP API. */
  if (!spec.ndata && sc->ndatasets > 0) {
    snprintf(spec.data[0], sizeof spec.data[0], "%s", sc->datasets[sc->default_dataset].name);
    spec.ndata = 1;
  }
  char path[1024];
  int rc = 0;
  /* Refused here rather than failed later by a worker. */
  if (!bt_svc_strategy_path(sc, spec.strategy, path, sizeof path))
    rc = bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "strategy",
                    "strategy: no strategy named '%s' in the strategy dirs", spec.strategy);
  for (int i = 0; !rc && i < spec.ndata; i++)
    if (!bt_svc_dataset_find(sc, spec.data[i]))
      rc = bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "data",
                      "data: no dataset named '%s' in the catalog", spec.data[i]);
  char *json = rc ? NULL : bt_job_spec_to_json(&spec);
  if (!rc && !json) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  for (long i = 0; !rc && i < count; i++) {
    char cid[BT_JOB_ID_LEN];
    if (!o->correlation_id) bt_uuid(cid);
    bt_job_new nj = {.spec_json = json, .strategy = spec.strategy,
                     .correlation_id = o->correlation_id ? o->correlation_id : cid,
                     .user_id = o->user_id, .origin = origin,
                     .idempotency_key = o->idempotency_key};
    bt_job j;
    rc = bt_queue_enqueue(q, &nj, &j, NULL, err);
    if (!rc) puts(j.run_id);
    if (!rc) bt_job_clear(&j);
  }
  free(json);
  bt_job_spec_clear(&spec);
  return rc;
}

static int list(bt_queue *q, const jobs_opts *o, bt_err *err) {
  bt_job_filter f = {.state = -1, .user_id = o->user_id, .cursor = o->cursor};
  long limit = 0;
  if (o->status && (f.state = bt_job_state_parse(o->status)) < 0)
    return usage_error("--status: want queued, running, succeeded, failed or cancelled, got ",
                       o->status);
  if (o->limit && !bt_cli_long(o->limit, 1, 1000, &limit))
    return usage_error("--limit: want 1..1000, got ", o->limit);
  f.limit = (int)limit;
  bt_job *jobs;
  size_t n;
  char next[BT_QUEUE_CURSOR_LEN];
  if (bt_queue_list(q, &f, &jobs, &n, next, err)) return err->code;
  for (size_t i = 0; i < n; i++) {
    print_json(bt_job_json(&jobs[i]));
    bt_job_clear(&jobs[i]);
  }
  free(jobs);
  if (next[0]) {
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "next_cursor", next);
    print_json(c);
  }
  return 0;
}

static int show_or_cancel(bt_queue *q, const jobs_opts *o, bool cancel, bt_err *err) {
  if (!o->arg) return usage_error(cancel ? "cancel" : "show", ": RUN_ID is required");
  bt_job j;
  bool found = false;
  int rc = cancel ? bt_queue_cancel(q, o->arg, &j, &found, err)
                  : bt_queue_get(q, o->arg, &j, &found, err);
  if (rc) return rc;
  if (!found)
    return bt_errf_at(err, BT_EINVAL, "not_found", "", 0, "run_id", "no job with run_id %s",
                      o->arg);
  cJSON *out = bt_job_json(&j);
  bt_job_clear(&j);
  bt_job_transition *h;
  size_t n;
  if (bt_queue_history(q, o->arg, &h, &n, err)) {
    cJSON_Delete(out);
    return err->code;
  }
  cJSON_AddItemToObject(out, "history", bt_job_history_json(h, n));
  free(h);
  print_json(out);
  return 0;
}

const char *const bt_jobs_subcommands[] = {"submit", "list", "show", "cancel", NULL};

int bt_jobs_cli(bt_app *app, int argc, char **argv) {
  const char *cmd = argv[1]; /* one of bt_jobs_subcommands (bt_cli_main) */
  bool is_submit = strcmp(cmd, "submit") == 0, is_list = strcmp(cmd, "list") == 0,
       is_cancel = strcmp(cmd, "cancel") == 0;
  jobs_opts o = {0};
  int rc = parse(argc, argv, &o);
  if (rc) return rc;
  if (o.data_dir) snprintf(app->cfg.data_dir, sizeof app->cfg.data_dir, "%s", o.data_dir);
  bt_svc_config sc;
  bt_err err = {0};
  bt_queue *q = NULL;
  rc = bt_svc_config_read(&app->cfg, &sc, &err);
  if (!rc) bt_svc_resolve_db(&sc, app, o.db);
  if (!rc) rc = bt_svc_queue_open(&sc, NULL, app->cfg.data_dir, &q, &err);
  if (!rc) {
    rc = is_submit ? submit(q, &sc, &o, &err)
         : is_list ? list(q, &o, &err)
                   : show_or_cancel(q, &o, is_cancel, &err);
  }
  /* usage errors already printed; err.code says whether err holds the message */
  if (rc && err.code) fprintf(stderr, "btrun jobs: %s\n", err.msg);
  bt_queue_close(q);
  bt_svc_config_free(&sc);
  bt_err_clear(&err);
  return rc ? 1 : 0;
}
