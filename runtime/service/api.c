#include "api.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "job_json.h"
#include "job_spec.h"
#include "log.h"
#include "store.h"
#include "trace_cli.h"

#define KEY_MAX 128 /* Idempotency-Key, user_id */

/* ---- small helpers ----------------------------------------------------------------- */

/* 1..KEY_MAX-1 printable ASCII characters without spaces. */
static bool token_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if ((unsigned char)s[n] <= 0x20 || (unsigned char)s[n] > 0x7e || n >= KEY_MAX - 1)
      return false;
  return n > 0;
}

static bool run_id_ok(const char *s) {
  if (strlen(s) != 36) return false;
  for (int i = 0; i < 36; i++) {
    char c = s[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

static void queue_error(bt_http_response *resp, const bt_err *e) {
  bt_log("api", BT_LOG_ERROR, "queue_error", BT_F_STR("type", e->type), BT_F_STR("message", e->msg));
  bt_http_error(resp, 503, "queue_unavailable", NULL, "the job queue failed: %s", e->msg);
}

/* ---- authentication ---------------------------------------------------------------- */

typedef struct auth {
  bool required;        /* keys configured */
  const char *user;     /* the authenticated user (keys configured) */
} auth;

/* 0 when the request may go on; otherwise resp is the 401. */
static int authenticate(bt_api *a, bt_http_request *req, bt_http_response *resp, auth *out) {
  out->required = a->cfg->nkeys > 0;
  out->user = NULL;
  if (!out->required) return 0;
  const char *h = bt_http_header(req, "Authorization");
  const char *token = h && strncasecmp(h, "Bearer ", 7) == 0 ? h + 7 : NULL;
  while (token && *token == ' ') token++;
  out->user = bt_svc_key_user(a->cfg, token);
  if (out->user) {
    bt_http_set_user(req, out->user);
    return 0;
  }
  resp->headers[0][0] = "WWW-Authenticate";
  resp->headers[0][1] = "Bearer";
  bt_http_error(resp, 401, "unauthorized", "Authorization",
                h ? "unknown API key" : "missing Authorization: Bearer <API key>");
  return -1;
}

/* May the caller see or change a job of `owner`? resp is the 403 otherwise. */
static bool may_access(const auth *au, const char *owner, bt_http_response *resp) {
  if (!au->required || strcmp(au->user, owner) == 0) return true;
  bt_http_error(resp, 403, "forbidden", NULL, "this job belongs to another user");
  return false;
}

/* ---- the per-user cap ---------------------------------------------------------------- */

/* A count is reused for this long: the cap is then checked against a number at most this
 * old (jobs claimed since are still counted, jobs this server queued since are added). */
#define CAP_FRESH_NS 200000000ull

void bt_api_init(bt_api *a) {
  memset(a, 0, sizeof *a);
  pthread_mutex_init(&a->cap_mu, NULL);
}

void bt_api_free(bt_api *a) { pthread_mutex_destroy(&a->cap_mu); }

static bt_api_cap_slot *cap_slot(bt_api *a, const char *user) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (const char *p = user; *p; p++) h = (h ^ (unsigned char)*p) * 16777619u;
  return &a->cap[h % BT_API_CAP_SLOTS];
}

static int queued_of(bt_api *a, const char *user, int64_t *queued, bt_err *err) {
  uint64_t now = bt_now_ns();
  pthread_mutex_lock(&a->cap_mu);
  bt_api_cap_slot *c = cap_slot(a, user);
  bool hit = c->at_ns && now - c->at_ns < CAP_FRESH_NS && strcmp(c->user, user) == 0;
  if (hit) *queued = c->queued;
  pthread_mutex_unlock(&a->cap_mu);
  if (hit) return 0;
  bt_queue_counts counts;
  if (bt_queue_counts_get(a->q, user, &counts, err)) return err->code;
  *queued = counts.by_state[BT_JOB_QUEUED];
  pthread_mutex_lock(&a->cap_mu);
  snprintf(c->user, sizeof c->user, "%s", user);
  c->queued = *queued;
  c->at_ns = now;
  pthread_mutex_unlock(&a->cap_mu);
  return 0;
}

static void queued_bump(bt_api *a, const char *user) {
  pthread_mutex_lock(&a->cap_mu);
  bt_api_cap_slot *c = cap_slot(a, user);
  if (c->at_ns && strcmp(c->user, user) == 0) c->queued++;
  pthread_mutex_unlock(&a->cap_mu);
}

/* ---- POST /v1/backtests -------------------------------------------------------------- */

static const char *const BODY_EXTRA[] = {"user_id", NULL};

static void created(bt_http_response *resp, int status, const bt_job *j) {
  snprintf(resp->location, sizeof resp->location, "/v1/backtests/%s", j->run_id);
  resp->headers[0][0] = "Location";
  resp->headers[0][1] = resp->location;
  bt_http_json(resp, status, bt_job_json(j));
}

static void post_backtest(bt_api *a, bt_http_request *req, bt_http_response *resp,
                          const auth *au) {
  size_t len;
  const char *body = bt_http_body(req, &len);
  const char *end = NULL;
  cJSON *o = cJSON_ParseWithLengthOpts(body, len, &end, false);
  if (!o) {
    bt_http_error(resp, 400, "invalid_json", NULL, "request body is not valid JSON (at byte %zu)",
                  end && end >= body ? (size_t)(end - body) : 0);
    return;
  }
  bt_job_spec spec = {0};
  bt_err err = {0};
  bt_job job = {0};
  char *spec_json = NULL;
  const char *user = NULL;
  if (!cJSON_IsObject(o)) {
    bt_http_error(resp, 400, "invalid_request", NULL, "request body must be a JSON object");
    goto out;
  }
  if (cJSON_GetObjectItemCaseSensitive(o, "source")) {
    bt_http_error(resp, 400, "invalid_request", "source",
                  "inline strategy source is disabled on this server; name a strategy");
    goto out;
  }
  const cJSON *u = cJSON_GetObjectItemCaseSensitive(o, "user_id");
  if (u && !cJSON_IsNull(u)) {
    if (!cJSON_IsString(u) || !token_ok(u->valuestring)) {
      bt_http_error(resp, 400, "invalid_request", "user_id",
                    "user_id: want a string of 1..127 printable characters without spaces");
      goto out;
    }
    user = u->valuestring;
  }
  if (au->required) {
    if (user && strcmp(user, au->user) != 0) {
      bt_http_error(resp, 403, "forbidden", "user_id", "user_id differs from the API key's user");
      goto out;
    }
    user = au->user;
  }
  if (user) bt_http_set_user(req, user);
  if (bt_job_spec_from_cjson(o, BODY_EXTRA, &spec, &err)) {
    bt_http_error(resp, 400, err.type[0] ? err.type : "invalid_request",
                  err.field[0] ? err.field : NULL, "%s", err.msg);
    goto out;
  }
  if (!spec.ndata) { /* the job names its data, so the worker needs no default of its own */
    snprintf(spec.data[0], sizeof spec.data[0], "%s", a->cfg->datasets[a->cfg->default_dataset].name);
    spec.ndata = 1;
  }
  char path[600];
  if (!bt_svc_strategy_path(a->cfg, spec.strategy, path, sizeof path)) {
    bt_http_error(resp, 400, "unknown_strategy", "strategy",
                  "no strategy named \"%s\" (GET /v1/strategies lists them)", spec.strategy);
    goto out;
  }
  for (int i = 0; i < spec.ndata; i++)
    if (!bt_svc_dataset_find(a->cfg, spec.data[i])) {
      char field[32];
      snprintf(field, sizeof field, "data[%d]", i);
      bt_http_error(resp, 400, "unknown_dataset", field,
                    "no dataset named \"%s\" (GET /v1/datasets lists them)", spec.data[i]);
      goto out;
    }
  const char *key = bt_http_header(req, "Idempotency-Key");
  if (key && !token_ok(key)) {
    bt_http_error(resp, 400, "invalid_request", "Idempotency-Key",
                  "Idempotency-Key: want 1..127 printable characters without spaces");
    goto out;
  }
  int64_t queued = 0;
  if (queued_of(a, user ? user : "", &queued, &err)) {
    queue_error(resp, &err);
    goto out;
  }
  if (queued >= a->cfg->max_queued_per_user) {
    resp->headers[0][0] = "Retry-After";
    resp->headers[0][1] = "1";
    bt_http_error(resp, 429, "too_many_queued", NULL,
                  "%lld jobs of this user are queued (limit %lld); retry when some have started",
                  (long long)queued, (long long)a->cfg->max_queued_per_user);
    goto out;
  }
  if (!(spec_json = bt_job_spec_to_json(&spec))) {
    bt_http_error(resp, 500, "internal", NULL, "out of memory");
    goto out;
  }
  bt_job_new nj = {.spec_json = spec_json, .strategy = spec.strategy,
                   .correlation_id = bt_http_correlation_id(req), .user_id = user,
                   .origin = "api", .idempotency_key = key};
  bool existed = false;
  if (bt_queue_enqueue(a->q, &nj, &job, &existed, &err)) {
    if (err.code == BT_EINVAL)
      bt_http_error(resp, 400, "invalid_request", err.field[0] ? err.field : NULL, "%s", err.msg);
    else queue_error(resp, &err);
    goto out;
  }
  if (existed && (!job.spec_json || strcmp(job.spec_json, spec_json) != 0)) {
    bt_http_error(resp, 409, "idempotency_conflict", "Idempotency-Key",
                  "this Idempotency-Key was used for a different request (job %s)", job.run_id);
    goto out;
  }
  if (!existed) queued_bump(a, user ? user : "");
  if (!existed && a->on_enqueued) a->on_enqueued(a->enqueued_ud);
  if (!existed)
    bt_log("api", BT_LOG_INFO, "backtest_queued", BT_F_STR("run_id", job.run_id),
           BT_F_STR("strategy_id", job.strategy), BT_F_STR("user_id", user),
           BT_F_STR("origin", job.origin));
  created(resp, 202, &job);
out:
  bt_job_clear(&job);
  free(spec_json);
  bt_job_spec_clear(&spec);
  bt_err_clear(&err);
  cJSON_Delete(o);
}

/* ---- GET /v1/backtests ------------------------------------------------------------- */

static const char *const LIST_ARGS[] = {"status", "user_id", "limit", "cursor", NULL};

typedef struct arg_check {
  const char *bad;
} arg_check;

static int check_arg(void *ud, const char *key) {
  for (const char *const *k = LIST_ARGS; *k; k++)
    if (strcmp(*k, key) == 0) return 0;
  ((arg_check *)ud)->bad = key;
  return 1;
}

static void list_backtests(bt_api *a, bt_http_request *req, bt_http_response *resp,
                           const auth *au) {
  arg_check ac = {NULL};
  if (bt_http_query_each(req, check_arg, &ac)) {
    bt_http_error(resp, 400, "invalid_request", ac.bad,
                  "unknown query parameter (want status, user_id, limit, cursor)");
    return;
  }
  bt_job_filter f = {.state = -1};
  const char *s = bt_http_query(req, "status");
  if (s && (f.state = bt_job_state_parse(s)) < 0) {
    bt_http_error(resp, 400, "invalid_request", "status",
                  "status: want queued, running, succeeded, failed or cancelled");
    return;
  }
  const char *lim = bt_http_query(req, "limit");
  if (lim) {
    char *end;
    long v = strtol(lim, &end, 10);
    if (!*lim || *end || v < 1 || v > 1000) {
      bt_http_error(resp, 400, "invalid_request", "limit", "limit: want an integer 1..1000");
      return;
    }
    f.limit = (int)v;
  }
  f.user_id = bt_http_query(req, "user_id");
  if (f.user_id && !token_ok(f.user_id)) {
    bt_http_error(resp, 400, "invalid_request", "user_id", "user_id: not a valid user id");
    return;
  }
  if (au->required) {
    if (f.user_id && strcmp(f.user_id, au->user) != 0) {
      bt_http_error(resp, 403, "forbidden", "user_id", "you may list only your own jobs");
      return;
    }
    f.user_id = au->user;
  }
  f.cursor = bt_http_query(req, "cursor");
  bt_job *jobs = NULL;
  size_t n = 0;
  char next[BT_QUEUE_CURSOR_LEN] = "";
  bt_err err = {0};
  if (bt_queue_list(a->q, &f, &jobs, &n, next, &err)) {
    if (err.code == BT_EINVAL)
      bt_http_error(resp, 400, "invalid_request", err.field[0] ? err.field : "cursor", "%s",
                    err.msg);
    else queue_error(resp, &err);
    bt_err_clear(&err);
    return;
  }
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "backtests");
  for (size_t i = 0; i < n; i++) {
    cJSON_AddItemToArray(arr, bt_job_json(&jobs[i]));
    bt_job_clear(&jobs[i]);
  }
  free(jobs);
  if (next[0]) cJSON_AddStringToObject(root, "next_cursor", next);
  else cJSON_AddNullToObject(root, "next_cursor");
  bt_http_json(resp, 200, root);
}

/* ---- one job ----------------------------------------------------------------------- */

/* Loads the job of a path segment; false when resp is already the answer. */
static bool load_job(bt_api *a, const char *id, const auth *au, bt_job *j,
                     bt_http_response *resp) {
  if (!run_id_ok(id)) {
    bt_http_error(resp, 400, "invalid_request", "run_id", "not a run id (a lowercase UUID)");
    return false;
  }
  bool found = false;
  bt_err err = {0};
  if (bt_queue_get(a->q, id, j, &found, &err)) {
    queue_error(resp, &err);
    bt_err_clear(&err);
    return false;
  }
  if (!found) {
    bt_http_error(resp, 404, "not_found", "run_id", "no backtest %s", id);
    return false;
  }
  return may_access(au, j->user_id, resp);
}

static void cancel_backtest(bt_api *a, const char *id, bt_http_response *resp, const auth *au) {
  bt_job j = {0};
  if (!load_job(a, id, au, &j, resp)) goto out;
  bt_job_clear(&j);
  bool found = false;
  bt_err err = {0};
  if (bt_queue_cancel(a->q, id, &j, &found, &err)) {
    queue_error(resp, &err);
    bt_err_clear(&err);
  } else if (!found) {
    bt_http_error(resp, 404, "not_found", "run_id", "no backtest %s", id);
  } else {
    bt_log("api", BT_LOG_INFO, "backtest_cancel_requested", BT_F_STR("run_id", j.run_id),
           BT_F_STR("status", bt_job_state_name(j.state)));
    bt_http_json(resp, 200, bt_job_json(&j));
  }
out:
  bt_job_clear(&j);
}

typedef struct artifact {
  const char *name, *file, *content_type;
} artifact;

static const artifact ARTIFACTS[] = {
    {"result", "result.json", "application/json"},
    {"trades", "trades.jsonl", "application/x-ndjson"},
    {"equity", "equity.csv", "text/csv"},
    {"report", "report.html", "text/html; charset=utf-8"},
    {NULL, NULL, NULL},
};

static void get_artifact(bt_api *a, const char *id, const artifact *art, bt_http_response *resp,
                         const auth *au) {
  bt_job j = {0};
  if (!load_job(a, id, au, &j, resp)) goto out;
  if (!bt_job_state_final(j.state)) {
    bt_http_error(resp, 409, "not_finished", NULL, "backtest %s is %s; its %s comes when it ends",
                  id, bt_job_state_name(j.state), art->name);
    goto out;
  }
  char path[1024];
  snprintf(path, sizeof path, "%s/%s/%s", a->out_dir, j.run_id, art->file);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) {
    if (fd >= 0) close(fd);
    bt_http_error(resp, 404, "not_found", NULL, "backtest %s has no %s (it %s)", id, art->name,
                  bt_job_state_name(j.state));
    goto out;
  }
  resp->status = 200;
  resp->has_fd = true;
  resp->fd = fd;
  resp->fd_size = (uint64_t)st.st_size;
  resp->content_type = art->content_type;
out:
  bt_job_clear(&j);
}

/* The traced events of the job's run as JSON lines (at most ?limit=, default 10,000):
 * read from the event store the job processes write, while it runs or after. */
static void get_events(bt_api *a, bt_http_request *req, const char *id, bt_http_response *resp,
                       const auth *au) {
  bt_job j = {0};
  bt_store *st = NULL;
  bt_err err = {0};
  char *text = NULL;
  size_t len = 0;
  FILE *mem = NULL;
  if (!load_job(a, id, au, &j, resp)) goto out;
  long limit = 10000;
  const char *lim = bt_http_query(req, "limit");
  if (lim) {
    char *end;
    limit = strtol(lim, &end, 10);
    if (!*lim || *end || limit < 1 || limit > 1000000) {
      bt_http_error(resp, 400, "invalid_request", "limit", "limit: want an integer 1..1000000");
      goto out;
    }
  }
  if (!a->events_store || j.state == BT_JOB_QUEUED ||
      bt_store_open_readonly(&st, a->events_store, &err)) {
    bt_http_error(resp, 404, "not_found", NULL, "backtest %s has no traced events (it is %s%s)",
                  id, bt_job_state_name(j.state), a->events_store ? "" : "; tracing is off");
    goto out;
  }
  if (!(mem = open_memstream(&text, &len))) {
    bt_http_error(resp, 500, "internal", NULL, "out of memory");
    goto out;
  }
  int rc = bt_events_write_jsonl(st, j.run_id, (uint64_t)limit, mem, &err);
  fclose(mem);
  if (rc) {
    bt_http_error(resp, strcmp(err.type, "not_found") == 0 ? 404 : 503,
                  strcmp(err.type, "not_found") == 0 ? "not_found" : "store_unavailable", NULL,
                  "backtest %s: no traced events (%s)", id, err.type);
    goto out;
  }
  resp->status = 200;
  resp->body = text;
  resp->len = len;
  resp->content_type = "application/x-ndjson";
  text = NULL;
out:
  free(text);
  if (st) bt_store_close(st);
  bt_err_clear(&err);
  bt_job_clear(&j);
}

/* ---- catalog, health, metrics ------------------------------------------------------ */

static void list_strategies(bt_api *a, bt_http_response *resp) {
  char **names;
  int n;
  bt_err err = {0};
  if (bt_svc_strategy_list(a->cfg, &names, &n, &err)) {
    bt_http_error(resp, 500, "internal", NULL, "%s", err.msg);
    return;
  }
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "strategies");
  for (int i = 0; i < n; i++) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "name", names[i]);
    cJSON_AddItemToArray(arr, s);
    free(names[i]);
  }
  free(names);
  bt_http_json(resp, 200, root);
}

static void list_datasets(bt_api *a, bt_http_response *resp) {
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "datasets");
  /* Names only: where the files are is the server's business. */
  for (int i = 0; i < a->cfg->ndatasets; i++) {
    cJSON *d = cJSON_CreateObject();
    cJSON_AddStringToObject(d, "name", a->cfg->datasets[i].name);
    cJSON_AddItemToArray(arr, d);
  }
  bt_http_json(resp, 200, root);
}

/* Liveness only, and cheap: a load balancer may poll it often. Queue trouble shows in
 * the 503s of the endpoints that use the queue and in /metrics. */
static void healthz(bt_http_response *resp) {
  static const char ok[] = "{\"status\":\"ok\"}";
  resp->status = 200;
  resp->body = strdup(ok);
  resp->len = resp->body ? sizeof ok - 1 : 0;
}

static void metrics(bt_api *a, bt_http_response *resp) {
  bt_json_buf b = {0};
  bt_queue_counts c;
  bt_err err = {0};
  if (bt_queue_counts_get(a->q, NULL, &c, &err)) {
    queue_error(resp, &err);
    return;
  }
  bt_json_printf(&b, "# HELP btrun_queue_jobs Jobs in the queue by state.\n"
                        "# TYPE btrun_queue_jobs gauge\n");
  for (int s = 0; s < BT_JOB_NSTATES; s++)
    if (!bt_job_state_final((bt_job_state)s))
      bt_json_printf(&b, "btrun_queue_jobs{state=\"%s\"} %lld\n",
                        bt_job_state_name((bt_job_state)s), (long long)c.by_state[s]);
  bt_json_printf(&b, "btrun_queue_jobs{state=\"cancel_requested\"} %lld\n",
                    (long long)c.cancel_requested);
  bt_json_printf(&b, "# HELP btrun_jobs_finished Jobs that ended, by outcome.\n"
                        "# TYPE btrun_jobs_finished gauge\n");
  for (int s = 0; s < BT_JOB_NSTATES; s++)
    if (bt_job_state_final((bt_job_state)s))
      bt_json_printf(&b, "btrun_jobs_finished{outcome=\"%s\"} %lld\n",
                        bt_job_state_name((bt_job_state)s), (long long)c.by_state[s]);
  if (a->http) {
    bt_svc_status_render(&a->http->by_status, "btrun_http_requests_total",
                         "HTTP requests answered, by status code.", &b);
    bt_svc_hist_render(&a->http->duration, "btrun_http_request_duration_seconds",
                       "Time from request line to response sent.", NULL, &b);
  }
  if (a->job_duration) {
    bt_svc_hist_render(&a->job_duration[0], "btrun_job_duration_seconds",
                       "Run time of the backtests of this server's jobs, by run status.",
                       "status=\"completed\"", &b);
    bt_svc_hist_render(&a->job_duration[1], "btrun_job_duration_seconds", NULL,
                       "status=\"failed\"", &b);
  }
  size_t len;
  char *text = bt_json_take(&b, &len);
  if (!text) {
    bt_http_error(resp, 500, "internal", NULL, "out of memory");
    return;
  }
  resp->status = 200;
  resp->body = text;
  resp->len = len;
  resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- GET /v1/schedules/fires ------------------------------------------------------- */

static const char *const FIRES_ARGS[] = {"schedule", "limit", NULL};

static int check_fires_arg(void *ud, const char *key) {
  for (const char *const *k = FIRES_ARGS; *k; k++)
    if (strcmp(*k, key) == 0) return 0;
  ((arg_check *)ud)->bad = key;
  return 1;
}

/* The scheduler's fires, newest first: a perf job's outcome (healthy/degraded) and
 * numbers, a backtest fire's run_id (docs/schedules.md). */
static void list_fires(bt_api *a, bt_http_request *req, bt_http_response *resp) {
  arg_check ac = {NULL};
  if (bt_http_query_each(req, check_fires_arg, &ac)) {
    bt_http_error(resp, 400, "invalid_request", ac.bad, "unknown query parameter (want schedule, limit)");
    return;
  }
  long limit = 100;
  const char *lim = bt_http_query(req, "limit");
  if (lim) {
    char *end;
    limit = strtol(lim, &end, 10);
    if (!*lim || *end || limit < 1 || limit > 1000) {
      bt_http_error(resp, 400, "invalid_request", "limit", "limit: want an integer 1..1000");
      return;
    }
  }
  bt_sched_fire *v = NULL;
  size_t n = 0;
  bt_err err = {0};
  if (a->ledger && bt_sched_ledger_list(a->ledger, bt_http_query(req, "schedule"), (int)limit, &v, &n, &err)) {
    bt_http_error(resp, 500, "internal", NULL, "%s", err.msg);
    return;
  }
  cJSON *root = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(root, "fires");
  for (size_t i = 0; i < n; i++) cJSON_AddItemToArray(arr, bt_sched_fire_json(&v[i]));
  free(v);
  bt_http_json(resp, 200, root);
}

/* ---- routing ----------------------------------------------------------------------- */

static void bad_method(bt_http_response *resp, const char *allow) {
  resp->headers[1][0] = "Allow";
  resp->headers[1][1] = allow;
  bt_http_error(resp, 405, "method_not_allowed", NULL, "method not allowed here (allowed: %s)",
                allow);
}

void bt_api_handle(void *ud, bt_http_request *req, bt_http_response *resp) {
  bt_api *a = ud;
  const char *m = bt_http_method(req), *path = bt_http_path(req);
  bool get = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0, post = strcmp(m, "POST") == 0;
  if (strcmp(path, "/healthz") == 0) {
    if (!get) return bad_method(resp, "GET, HEAD");
    return healthz(resp);
  }
  auth au;
  bool known = strcmp(path, "/metrics") == 0 || strncmp(path, "/v1/", 4) == 0;
  if (!known) {
    bt_http_error(resp, 404, "not_found", NULL, "no such endpoint");
    return;
  }
  if (authenticate(a, req, resp, &au)) return;
  if (strcmp(path, "/metrics") == 0) {
    if (!get) return bad_method(resp, "GET, HEAD");
    return metrics(a, resp);
  }
  if (strcmp(path, "/v1/strategies") == 0) {
    if (!get) return bad_method(resp, "GET, HEAD");
    return list_strategies(a, resp);
  }
  if (strcmp(path, "/v1/datasets") == 0) {
    if (!get) return bad_method(resp, "GET, HEAD");
    return list_datasets(a, resp);
  }
  if (strcmp(path, "/v1/schedules/fires") == 0) {
    if (!get) return bad_method(resp, "GET, HEAD");
    return list_fires(a, req, resp);
  }
  if (strcmp(path, "/v1/backtests") == 0 || strcmp(path, "/v1/backtests/") == 0) {
    if (post) return post_backtest(a, req, resp, &au);
    if (get) return list_backtests(a, req, resp, &au);
    return bad_method(resp, "GET, HEAD, POST");
  }
  if (strncmp(path, "/v1/backtests/", 14) == 0) {
    char id[64];
    const char *rest = path + 14, *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    snprintf(id, sizeof id, "%.*s", (int)(n < sizeof id ? n : sizeof id - 1), rest);
    const char *sub = slash ? slash + 1 : NULL;
    bt_job j = {0};
    if (!sub) {
      if (!get) return bad_method(resp, "GET, HEAD");
      if (load_job(a, id, &au, &j, resp)) bt_http_json(resp, 200, bt_job_json(&j));
      bt_job_clear(&j);
      return;
    }
    if (strcmp(sub, "cancel") == 0) {
      if (!post) return bad_method(resp, "POST");
      return cancel_backtest(a, id, resp, &au);
    }
    if (strcmp(sub, "events") == 0) {
      if (!get) return bad_method(resp, "GET, HEAD");
      return get_events(a, req, id, resp, &au);
    }
    for (const artifact *art = ARTIFACTS; art->name; art++)
      if (strcmp(sub, art->name) == 0) {
        if (!get) return bad_method(resp, "GET, HEAD");
        return get_artifact(a, id, art, resp, &au);
      }
  }
  bt_http_error(resp, 404, "not_found", NULL, "no such endpoint");
}
