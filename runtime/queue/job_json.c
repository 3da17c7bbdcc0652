/* job_json.c - the JSON view of a job (job_json.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "job_json.h"

static void add_time(cJSON *o, const char *key, int64_t ms) {
  if (!ms) {
    cJSON_AddNullToObject(o, key);
    return;
  }
  char t[40];
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(t, sizeof t, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(t + n, sizeof t - n, ".%03dZ", (int)(ms % 1000));
  cJSON_AddStringToObject(o, key, t);
}

/* A stored JSON text (spec, error: written by btrun as JSON) inserted as is, null when
 * absent. Not re-parsed and re-printed: the API's status GET is a hot path. */
static void add_raw(cJSON *o, const char *key, const char *json) {
  if (json) cJSON_AddRawToObject(o, key, json);
  else cJSON_AddNullToObject(o, key);
}

static double bars_of(const cJSON *m) {
  const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "bars");
  return cJSON_IsNumber(b) ? b->valuedouble : 0;
}

/* The "metrics" member of a stored result ({"metrics":{...},"bars":...}) as its text;
 * returns metrics.bars (0 when absent), a finished run's bars done. */
static double add_metrics(cJSON *o, const char *result) {
  static const char lead[] = "{\"metrics\":";
  cJSON *m = NULL;
  if (result && strncmp(result, lead, sizeof lead - 1) == 0) {
    /* Parsed only to find where the object ends (numbers print slowly). */
    const char *start = result + sizeof lead - 1, *end = NULL;
    m = cJSON_ParseWithOpts(start, &end, false);
    char *text = cJSON_IsObject(m) ? strndup(start, (size_t)(end - start)) : NULL;
    if (text) {
      double bars = bars_of(m);
      cJSON_Delete(m);
      cJSON_AddRawToObject(o, "metrics", text);
      free(text);
      return bars;
    }
    cJSON_Delete(m);
  }
  cJSON *r = result ? cJSON_Parse(result) : NULL;
  m = r ? cJSON_DetachItemFromObject(r, "metrics") : NULL;
  cJSON_Delete(r);
  double bars = bars_of(m);
  cJSON_AddItemToObject(o, "metrics", m ? m : cJSON_CreateNull());
  return bars;
}

cJSON *bt_job_json(const bt_job *j) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run_id", j->run_id);
  cJSON_AddStringToObject(o, "status", bt_job_state_name(j->state));
  cJSON_AddBoolToObject(o, "cancel_requested", j->cancel_requested);
  cJSON_AddNumberToObject(o, "progress", j->state == BT_JOB_SUCCEEDED ? 1.0 : j->progress);
  cJSON *bars_done = cJSON_AddNumberToObject(o, "bars_done", (double)j->bars_done);
  cJSON_AddNumberToObject(o, "attempt", j->attempt);
  cJSON_AddNumberToObject(o, "max_attempts", j->max_attempts);
  cJSON_AddStringToObject(o, "origin", j->origin);
  if (j->user_id[0]) cJSON_AddStringToObject(o, "user_id", j->user_id);
  else cJSON_AddNullToObject(o, "user_id");
  cJSON_AddStringToObject(o, "correlation_id", j->correlation_id);
  cJSON_AddStringToObject(o, "strategy", j->strategy);
  add_time(o, "created_at", j->created_ms);
  add_time(o, "started_at", j->started_ms);
  add_time(o, "finished_at", j->finished_ms);
  add_time(o, "updated_at", j->updated_ms);
  add_raw(o, "request", j->spec_json);
  /* Progress is written about once a second; a finished run's count is in its metrics. */
  double bars = add_metrics(o, j->result_json);
  if (bars > (double)j->bars_done) cJSON_SetNumberValue(bars_done, bars);
  add_raw(o, "error", j->error_json);
  return o;
}

cJSON *bt_job_history_json(const bt_job_transition *h, size_t n) {
  cJSON *a = cJSON_CreateArray();
  for (size_t i = 0; i < n; i++) {
    cJSON *o = cJSON_CreateObject();
    add_time(o, "at", h[i].at_ms);
    if (h[i].from[0]) cJSON_AddStringToObject(o, "from", h[i].from);
    else cJSON_AddNullToObject(o, "from");
    cJSON_AddStringToObject(o, "to", h[i].to);
    cJSON_AddNumberToObject(o, "attempt", h[i].attempt);
    if (h[i].worker_id[0]) cJSON_AddStringToObject(o, "worker_id", h[i].worker_id);
    else cJSON_AddNullToObject(o, "worker_id");
    cJSON_AddStringToObject(o, "reason", h[i].reason);
    cJSON_AddItemToArray(a, o);
  }
  return a;
}
