/* job_exec.c - the backtest of one job, inside its job process (bt_job_execute in
 * supervisor.h): the same bt_run_execute as `btrun strategy.lua`, on the process's copy
 * of the app, with the job's identity in place of the command line's. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "supervisor.h"

/* The run's metrics as its observers see them (the JSON of result.json). */
typedef struct capture {
  char *metrics_json;
} capture;

static void capture_end(void *ud, const bt_run_info *info, const bt_run_outcome *out) {
  (void)info;
  capture *c = ud;
  if (out->metrics_json) c->metrics_json = strdup(out->metrics_json);
}

int bt_job_execute(void *ud, const bt_job_exec *x, bt_job_outcome *out) {
  bt_app *app = ud;
  const bt_job *j = x->job;
  /* This process is the job's own (a fork): its app copy can take the job's identity. */
  snprintf(app->cfg.user_id, sizeof app->cfg.user_id, "%s", j->user_id);
  snprintf(app->correlation_id, sizeof app->correlation_id, "%s", j->correlation_id);
  app->cfg.progress_every = 0; /* progress lines come from the job, by time */
  capture cap = {0};
  bt_run_observer obs = {.name = "job", .ud = &cap, .on_end = capture_end};
  bt_app_add_observer(app, &obs);

  bt_param params[BT_JOB_SPEC_MAX_PARAMS];
  for (int i = 0; i < x->spec->nparams; i++)
    params[i] = (bt_param){x->spec->params[i].name, x->spec->params[i].value};
  bt_run_spec spec = {.strategy_path = x->strategy_path, .data = x->data, .ndata = x->ndata,
                      .params = params, .nparams = x->spec->nparams,
                      .has_cash = x->spec->has_cash, .cash = x->spec->cash,
                      .out_dir = x->out_dir, .correlation_id = j->correlation_id, .run_id = j->run_id,
                      .origin = j->origin, .write_files = true, .sandbox = true, .on_progress = x->on_progress,
                      .progress_ud = x->progress_ud};
  bt_run_result res;
  bt_err err = {0};
  int rc = bt_run_execute(app, &spec, &res, &err);
  if (rc) {
    out->end = BT_JOB_END_FAILED;
    out->error_json = bt_log_err_json(&err);
  } else {
    cJSON *o = cJSON_CreateObject();
    cJSON *m = cap.metrics_json ? cJSON_Parse(cap.metrics_json) : NULL;
    cJSON_AddItemToObject(o, "metrics", m ? m : cJSON_CreateObject());
    cJSON_AddNumberToObject(o, "bars", (double)res.bars);
    cJSON_AddNumberToObject(o, "skipped_rows", (double)res.skipped_rows);
    cJSON_AddNumberToObject(o, "wall_ms", (double)res.wall_ms);
    out->end = BT_JOB_END_SUCCEEDED;
    out->result_json = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
  }
  free(cap.metrics_json);
  bt_err_clear(&err);
  return 0;
}
