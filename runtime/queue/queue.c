/* queue.c - the backend-independent parts of queue.h. */
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
