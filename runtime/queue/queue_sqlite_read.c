/* queue_sqlite_read.c - what the SQLite queue answers without changing anything: one job,
 * a page of jobs, counts by state, a job's history, the cancels a worker must act on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue_sqlite_internal.h"

int sq_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  int rc = sq_get_locked(q, run_id, out, NULL, found, err);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

/* The filters vary, so this statement is prepared per call (a list is not a hot path). */
int sq_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,
            char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  *out = NULL;
  *n = 0;
  next_cursor[0] = 0;
  int limit;
  int64_t before;
  if (bt_job_filter_check(f, &limit, &before, err)) return err->code;
  char sql[512];
  snprintf(sql, sizeof sql, "SELECT " JOB_COLS " FROM jobs WHERE seq < ?1%s%s%s"
           " ORDER BY seq DESC LIMIT ?5",
           f->state >= 0 ? " AND state = ?2" : "", f->user_id ? " AND user_id = ?3" : "",
           f->origin ? " AND origin = ?4" : "");
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = NULL;
  bt_job_page page;
  int rc = bt_job_page_start(&page, limit, next_cursor, err);
  if (!rc && sqlite3_prepare_v2(q->db, sql, -1, &s, NULL) != SQLITE_OK)
    rc = sq_db_error(q, err, "list jobs");
  if (!rc) {
    sqlite3_bind_int64(s, 1, before);
    if (f->state >= 0) sq_bind_text(s, 2, bt_job_state_name((bt_job_state)f->state));
    if (f->user_id) sq_bind_text(s, 3, f->user_id);
    if (f->origin) sq_bind_text(s, 4, f->origin);
    sqlite3_bind_int(s, 5, limit + 1);
    bt_queue_row row = sq_row(s);
    int src = SQLITE_DONE;
    while (!rc && (src = sqlite3_step(s)) == SQLITE_ROW) rc = bt_job_page_add(&page, &row, err);
    if (rc == 1) rc = 0; /* the page is full */
    else if (!rc && src != SQLITE_DONE) rc = sq_db_error(q, err, "list jobs");
  }
  bt_job_page_end(&page, rc, out, n);
  sqlite3_finalize(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

int sq_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = sq_stmt(q, user_id ? S_COUNTS_USER : S_COUNTS);
  if (user_id) sq_bind_text(s, 1, user_id);
  bt_queue_row row = sq_row(s);
  int src;
  while ((src = sqlite3_step(s)) == SQLITE_ROW) bt_queue_counts_add_row(out, &row);
  int rc = src == SQLITE_DONE ? 0 : sq_db_error(q, err, "count jobs");
  sqlite3_reset(s);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static void read_transition(sqlite3_stmt *s, void *slot) {
  bt_queue_row row = sq_row(s);
  bt_job_transition_read_row(&row, slot);
}

int sq_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,
               bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = sq_stmt(q, S_HISTORY);
  sq_bind_text(s, 1, run_id);
  int rc = sq_collect(q, s, out, sizeof **out, n, read_transition, "read history", err);
  pthread_mutex_unlock(&q->mu);
  return rc;
}

static void read_run_id(sqlite3_stmt *s, void *slot) { sq_copy_col(s, 0, slot, BT_JOB_ID_LEN); }

int sq_cancel_requested(bt_queue *base, const char *worker_id,
                        char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  sq_queue *q = (sq_queue *)base;
  pthread_mutex_lock(&q->mu);
  sqlite3_stmt *s = sq_stmt(q, S_CANCEL_REQUESTED);
  sq_bind_text(s, 1, worker_id);
  int rc = sq_collect(q, s, run_ids, sizeof **run_ids, n, read_run_id, "read cancel requests",
                      err);
  pthread_mutex_unlock(&q->mu);
  return rc;
}
