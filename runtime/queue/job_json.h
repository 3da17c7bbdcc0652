/* job_json.h - the JSON view of a job, one for every reader (the HTTP API, `btrun jobs`):
 *   {"run_id","status","cancel_requested","progress","bars_done","attempt","max_attempts",
 *    "origin","user_id","correlation_id","strategy","created_at","started_at",
 *    "finished_at","updated_at","request","metrics","error"}
 * Times are ISO 8601 UTC with milliseconds (null when not yet); "request" is the spec,
 * "metrics" the result's metrics (null until succeeded), "error" {"type","message",...}
 * or null. docs/service.md shows an example. */
#ifndef BT_JOB_JSON_H
#define BT_JOB_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "queue.h"

cJSON *bt_job_json(const bt_job *j);
/* [{"at","from","to","attempt","worker_id","reason"}...] */
cJSON *bt_job_history_json(const bt_job_transition *h, size_t n);

#endif
