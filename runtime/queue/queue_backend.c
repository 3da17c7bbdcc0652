/* queue_backend.c - see queue_backend.h. */
#include "queue_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uuid.h"

void bt_queue_base_init(bt_queue *q, const bt_queue_ops *ops) {
  q->ops = ops;
  q->default_max_attempts = BT_QUEUE_DEFAULT_MAX_ATTEMPTS;
}

/* ---- checks --------------------------------------------------------------------------- */

/* Enqueue's checks: required fields, a known origin, lengths. */
static int job_new_check(const bt_job_new *nj, bt_err *err) {
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

int bt_job_insert_prepare(const bt_queue *q, const bt_job_new *nj, bt_job_insert *ins,
                          bt_err *err) {
  if (job_new_check(nj, err)) return err->code;
  ins->generated = !(nj->run_id && *nj->run_id);
  if (ins->generated) bt_uuid(ins->run_id);
  else snprintf(ins->run_id, sizeof ins->run_id, "%s", nj->run_id);
  ins->user_id = nj->user_id ? nj->user_id : "";
  ins->max_attempts = nj->max_attempts > 0 ? nj->max_attempts : q->default_max_attempts;
  return 0;
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

double bt_job_progress_clamp(double progress) {
  if (progress < 0 || progress != progress) return 0;
  return progress > 1 ? 1 : progress;
}

const char *bt_job_end_state(bt_job_end end, bt_err *err) {
  const char *to = bt_job_state_name((bt_job_state)end);
  if (!bt_job_state_final((bt_job_state)end)) {
    bt_errf(err, BT_EINVAL, "queue_error", "finish: %s is not a final state", to);
    return NULL;
  }
  return to;
}

/* ---- the state machine ---------------------------------------------------------------- */

bt_job_state bt_job_release_to(bool cancel_requested, bool lost, int attempt, int max_attempts,
                               const char *reason, char error[BT_JOB_RELEASE_ERROR_LEN]) {
  error[0] = 0;
  if (cancel_requested) {
    snprintf(error, BT_JOB_RELEASE_ERROR_LEN,
             "{\"type\":\"cancelled\",\"message\":\"cancelled; its worker stopped (%s)\"}",
             reason);
    return BT_JOB_CANCELLED;
  }
  if (lost && attempt >= max_attempts) {
    snprintf(error, BT_JOB_RELEASE_ERROR_LEN,
             "{\"type\":\"worker_lost\",\"message\":\"the job's worker was lost on each of "
             "%d attempts (last: %s)\",\"attempts\":%d}",
             attempt, reason, attempt);
    return BT_JOB_FAILED;
  }
  return BT_JOB_QUEUED;
}

int bt_queue_lease_lost(bt_err *err, const char *run_id, const char *worker_id, int attempt) {
  return bt_errf(err, BT_ESTATE, "lease_lost",
                 "job %s is no longer running as attempt %d of worker %s", run_id, attempt,
                 worker_id);
}

int bt_queue_run_id_taken(bt_err *err, const char *run_id) {
  return bt_errf_at(err, BT_EINVAL, "conflict", "", 0, "run_id", "job: run_id %s already exists",
                    run_id);
}

/* ---- rows ----------------------------------------------------------------------------- */

static void copy_text(const bt_queue_row *r, int col, char *out, size_t n) {
  const char *t = r->ops->text(r, col);
  snprintf(out, n, "%s", t ? t : "");
}

/* NULL for SQL NULL; *oom set when a value could not be had or copied. */
static char *dup_text(const bt_queue_row *r, int col, bool *oom) {
  if (r->ops->is_null(r, col)) return NULL;
  const char *t = r->ops->text(r, col);
  char *d = t ? strdup(t) : NULL;
  if (!d) *oom = true;
  return d;
}

int bt_job_read_row(const bt_queue_row *r, bt_job *j, int64_t *seq, bt_err *err) {
  const bt_queue_row_ops *o = r->ops;
  memset(j, 0, sizeof *j);
  copy_text(r, 0, j->run_id, sizeof j->run_id);
  copy_text(r, 1, j->correlation_id, sizeof j->correlation_id);
  copy_text(r, 2, j->user_id, sizeof j->user_id);
  copy_text(r, 3, j->origin, sizeof j->origin);
  copy_text(r, 4, j->strategy, sizeof j->strategy);
  int st = bt_job_state_parse(o->text(r, 5));
  j->state = st < 0 ? BT_JOB_FAILED : (bt_job_state)st;
  j->cancel_requested = o->flag(r, 6);
  j->attempt = (int)o->int64(r, 7);
  j->max_attempts = (int)o->int64(r, 8);
  j->progress = o->real(r, 9);
  j->bars_done = o->int64(r, 10);
  j->created_ms = o->int64(r, 11);
  j->started_ms = o->int64(r, 12);
  j->finished_ms = o->int64(r, 13);
  j->updated_ms = o->int64(r, 14);
  j->lease_until_ms = o->int64(r, 15);
  copy_text(r, 16, j->worker_id, sizeof j->worker_id);
  bool oom = false;
  j->spec_json = dup_text(r, 17, &oom);
  j->result_json = dup_text(r, 18, &oom);
  j->error_json = dup_text(r, 19, &oom);
  j->idempotency_key = dup_text(r, 20, &oom);
  j->unique_key = dup_text(r, 21, &oom);
  if (seq) *seq = o->int64(r, 22);
  if (oom || !j->spec_json) {
    bt_job_clear(j);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  return 0;
}

void bt_job_transition_read_row(const bt_queue_row *r, bt_job_transition *t) {
  t->at_ms = r->ops->int64(r, 0);
  copy_text(r, 1, t->from, sizeof t->from);
  copy_text(r, 2, t->to, sizeof t->to);
  t->attempt = (int)r->ops->int64(r, 3);
  copy_text(r, 4, t->worker_id, sizeof t->worker_id);
  copy_text(r, 5, t->reason, sizeof t->reason);
}

void bt_queue_counts_add_row(bt_queue_counts *c, const bt_queue_row *r) {
  int st = bt_job_state_parse(r->ops->text(r, 0));
  if (st < 0) return;
  c->by_state[st] += r->ops->int64(r, 1);
  if (st == BT_JOB_RUNNING) c->cancel_requested += r->ops->int64(r, 2);
}

/* ---- pages ---------------------------------------------------------------------------- */

int bt_job_page_start(bt_job_page *p, int limit, char next_cursor[BT_QUEUE_CURSOR_LEN],
                      bt_err *err) {
  memset(p, 0, sizeof *p);
  p->limit = (size_t)limit;
  p->next_cursor = next_cursor;
  next_cursor[0] = 0;
  p->jobs = calloc(p->limit, sizeof *p->jobs);
  return p->jobs ? 0 : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
}

int bt_job_page_add(bt_job_page *p, const bt_queue_row *r, bt_err *err) {
  if (p->n == p->limit) {
    /* The format bt_job_filter_check reads back. */
    snprintf(p->next_cursor, BT_QUEUE_CURSOR_LEN, "s%" PRId64, p->last_seq);
    return 1;
  }
  int rc = bt_job_read_row(r, &p->jobs[p->n], &p->last_seq, err);
  if (!rc) p->n++;
  return rc;
}

int bt_job_page_end(bt_job_page *p, int rc, bt_job **out, size_t *n) {
  if (rc) {
    for (size_t i = 0; i < p->n; i++) bt_job_clear(&p->jobs[i]);
    free(p->jobs);
    if (p->next_cursor) p->next_cursor[0] = 0;
  } else {
    *out = p->jobs;
    *n = p->n;
  }
  p->jobs = NULL;
  p->n = 0;
  return rc;
}
