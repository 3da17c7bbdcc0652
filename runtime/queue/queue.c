/* queue.c - the backend-independent parts of queue.h. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

static const char *const state_names[BT_JOB_NSTATES] = {"queued", "running", "succeeded",
                                                         "failed", "cancelled"};

const char *bt_job_state_name(bt_job_state s) {
  return (unsigned)s < BT_JOB_NSTATES ? state_names[s] : "unknown";
}

int bt_job_state_parse(const char *name) {
  for (int i = 0; name && i < BT_JOB_NSTATES; i++)
    if (strcmp(name, state_names[i]) == 0) return i;
  return -1;
}

bool bt_job_origin_valid(const char *origin) {
  static const char *const origins[] = {BT_JOB_ORIGINS};
  for (size_t i = 0; origin && i < sizeof origins / sizeof origins[0]; i++)
    if (strcmp(origin, origins[i]) == 0) return true;
  return false;
}

void bt_job_clear(bt_job *j) {
  free(j->spec_json);
  free(j->result_json);
  free(j->error_json);
  free(j->idempotency_key);
  free(j->unique_key);
  memset(j, 0, sizeof *j);
}

int bt_job_filter_check(const bt_job_filter *f, int *limit, int64_t *before, bt_err *err) {
  *limit = f->limit <= 0 ? 100 : f->limit;
  if (*limit > 1000)
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "limit",
                      "limit: at most 1000, got %d", *limit);
  *before = INT64_MAX;
  if (f->cursor && *f->cursor) {
    char *end = NULL;
    errno = 0;
    long long v = f->cursor[0] == 's' ? strtoll(f->cursor + 1, &end, 10) : -1;
    if (v <= 0 || errno || !end || *end)
      return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "cursor",
                        "cursor: '%s' is not a cursor of this queue", f->cursor);
    *before = v;
  }
  if (f->state >= BT_JOB_NSTATES)
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "status", "unknown state");
  return 0;
}

int bt_job_new_check(const bt_job_new *nj, bt_err *err) {
  const char *missing = !nj->spec_json                                      ? "spec"
                        : !nj->strategy || !*nj->strategy                   ? "strategy"
                        : !nj->correlation_id || !*nj->correlation_id      ? "correlation_id"
                        : !nj->origin                                       ? "origin"
                                                                            : NULL;
  if (missing)
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, missing, "job: %s is required",
                      missing);
  if (!bt_job_origin_valid(nj->origin))
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "origin",
                      "job: origin '%s' is not one of manual, schedule, api, sweep", nj->origin);
  if (strlen(nj->correlation_id) >= BT_JOB_TEXT_LEN ||
      (nj->user_id && strlen(nj->user_id) >= BT_JOB_TEXT_LEN) ||
      strlen(nj->strategy) >= BT_JOB_TEXT_LEN)
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0,
                      strlen(nj->correlation_id) >= BT_JOB_TEXT_LEN ? "correlation_id"
                      : strlen(nj->strategy) >= BT_JOB_TEXT_LEN    ? "strategy"
                                                                   : "user_id",
                      "job: value longer than %d characters", BT_JOB_TEXT_LEN - 1);
  if (nj->run_id && strlen(nj->run_id) >= BT_JOB_ID_LEN)
    return bt_errf_at(err, BT_EINVAL, "invalid_request", "", 0, "run_id",
                      "job: run_id longer than %d characters", BT_JOB_ID_LEN - 1);
  return 0;
}
