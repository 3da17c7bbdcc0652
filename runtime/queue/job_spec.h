/* job_spec.h - what a backtest job asks for, and the one check every producer of jobs
 * (HTTP API, scheduler, sweeps) and the worker share.
 *
 * A spec is JSON, stored as bt_job.spec_json:
 *   {"strategy":"sma_cross","data":["orcl"],"params":{"fast":10},"cash":"100000"}
 *   strategy  required: a strategy NAME, resolved by the worker in its strategy dirs
 *   data      optional: dataset NAMES from the server's catalog ([] or absent = the
 *             default dataset); at most BT_JOB_SPEC_MAX_DATA
 *   params    optional: an object of scalars (number, string, boolean) overriding the
 *             strategy's params, at most BT_JOB_SPEC_MAX_PARAMS
 *   cash      optional: starting cash, a decimal string or a number ("100000.50")
 * A name is 1..100 characters of [A-Za-z0-9_.-] not starting with '.': a spec never
 * holds a file path ("../x", "/etc/passwd", "a/b" are refused). Unknown keys, wrong
 * types and bad names are BT_EINVAL errors whose field names the key ("data[1]",
 * "params.fast"), type "invalid_request". */
#ifndef BT_JOB_SPEC_H
#define BT_JOB_SPEC_H

#include <stdbool.h>

#include <cjson/cJSON.h>

#include "common.h"
#include "decimal.h"

#define BT_JOB_SPEC_MAX_DATA 16
#define BT_JOB_SPEC_MAX_PARAMS 64
#define BT_JOB_NAME_MAX 100

typedef struct bt_job_spec {
  char strategy[BT_JOB_NAME_MAX + 1];
  char data[BT_JOB_SPEC_MAX_DATA][BT_JOB_NAME_MAX + 1];
  int ndata;
  struct {
    char name[BT_JOB_NAME_MAX + 1];
    char *value;   /* heap: the value as text (numbers as written, true/false) */
  } params[BT_JOB_SPEC_MAX_PARAMS];
  int nparams;
  bool has_cash;
  bt_dec cash;
} bt_job_spec;

/* A name as above (strategy, dataset, param key)? */
bool bt_job_name_valid(const char *s);

/* Parse the object o. Keys listed in allowed_extra (NULL-terminated, may be NULL) are
 * skipped rather than refused: the HTTP body carries user_id next to the spec. */
int bt_job_spec_from_cjson(const cJSON *o, const char *const *allowed_extra,
                           bt_job_spec *out, bt_err *err);
/* Parse JSON text (as stored in a job). */
int bt_job_spec_parse(const char *json, bt_job_spec *out, bt_err *err);
/* The canonical JSON text of a spec (heap), what enqueue stores. NULL on OOM. */
char *bt_job_spec_to_json(const bt_job_spec *s);
void bt_job_spec_clear(bt_job_spec *s);

#endif
