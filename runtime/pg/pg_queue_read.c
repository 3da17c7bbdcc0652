/* pg_queue_read.c - what the PostgreSQL queue answers without changing anything: one
 * job, a page of jobs (hot table and archive), counts by state, a job's history, the
 * cancels a worker must act on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_queue_internal.h"

int pq_get(bt_queue *base, const char *run_id, bt_job *out, bool *found, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, pq_get_job(q, run_id, out, found, err));
  return rc;
}

static int list_once(pg_queue *q, const bt_job_filter *f, int limit, int64_t before,
                     bt_job **out, size_t *n, char next_cursor[BT_QUEUE_CURSOR_LEN],
                     bt_err *err) {
  char where[256];
  snprintf(where, sizeof where, "seq < $1%s%s%s", f->state >= 0 ? " AND state = $2" : "",
           f->user_id ? " AND user_id = $3" : "", f->origin ? " AND origin = $4" : "");
  char sql[1536];
  snprintf(sql, sizeof sql,
           "SELECT * FROM (SELECT " JOB_COLS " FROM btrun.jobs WHERE %s UNION ALL SELECT "
           JOB_COLS " FROM btrun.jobs_archive WHERE %s) x ORDER BY seq DESC LIMIT $5",
           where, where);
  pq_nums nb;
  const char *p[] = {pq_num(&nb, 0, before),
                     f->state >= 0 ? bt_job_state_name((bt_job_state)f->state) : "",
                     f->user_id ? f->user_id : "", f->origin ? f->origin : "",
                     pq_num(&nb, 1, limit + 1)}; /* one more tells whether there is a next page */
  /* Unused parameters still need a type: declare them all text but $1 and $5. */
  const Oid types[] = {20, 25, 25, 25, 20};
  PGresult *r = PQexecParams(bt_pg_conn(q->pg), sql, 5, types, p, NULL, NULL, 0);
  if (PQresultStatus(r) != PGRES_TUPLES_OK) {
    bt_pg_fail(q->pg, r, "list jobs", err);
    PQclear(r);
    return err->code;
  }
  bt_job_page page;
  int rc = bt_job_page_start(&page, limit, next_cursor, err);
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    bt_queue_row row = pq_row(r, i);
    rc = bt_job_page_add(&page, &row, err);
  }
  if (rc == 1) rc = 0; /* the page is full */
  PQclear(r);
  return bt_job_page_end(&page, rc, out, n);
}

int pq_list(bt_queue *base, const bt_job_filter *f, bt_job **out, size_t *n,
            char next_cursor[BT_QUEUE_CURSOR_LEN], bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  *out = NULL;
  *n = 0;
  next_cursor[0] = 0;
  int limit;
  int64_t before;
  if (bt_job_filter_check(f, &limit, &before, err)) return err->code;
  int rc;
  WITH_RETRY(q, true, err, list_once(q, f, limit, before, out, n, next_cursor, err));
  return rc;
}

static int counts_once(pg_queue *q, const char *user_id, bt_queue_counts *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  PGresult *r = user_id ? pq_run(q, S_COUNTS_USER, 1, (const char *[]){user_id}, err)
                        : pq_run(q, S_COUNTS, 0, NULL, err);
  if (!r) return err->code;
  for (int i = 0; i < PQntuples(r); i++) {
    bt_queue_row row = pq_row(r, i);
    bt_queue_counts_add_row(out, &row);
  }
  PQclear(r);
  return 0;
}

int pq_counts(bt_queue *base, const char *user_id, bt_queue_counts *out, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, counts_once(q, user_id, out, err));
  return rc;
}

static void read_transition(PGresult *r, int row, void *slot) {
  bt_queue_row qr = pq_row(r, row);
  bt_job_transition_read_row(&qr, slot);
}

static int history_once(pg_queue *q, const char *run_id, bt_job_transition **out, size_t *n,
                        bt_err *err) {
  PGresult *r = pq_run(q, S_HISTORY, 1, (const char *[]){run_id}, err);
  if (!r) return err->code;
  int rc = pq_collect(r, out, sizeof **out, n, read_transition, err);
  PQclear(r);
  return rc;
}

int pq_history(bt_queue *base, const char *run_id, bt_job_transition **out, size_t *n,
               bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, history_once(q, run_id, out, n, err));
  return rc;
}

static void read_run_id(PGresult *r, int row, void *slot) {
  pq_copy_col(r, row, 0, slot, BT_JOB_ID_LEN);
}

static int cancel_requested_once(pg_queue *q, const char *worker_id,
                                 char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  PGresult *r = pq_run(q, S_CANCEL_REQUESTED, 1, (const char *[]){worker_id}, err);
  if (!r) return err->code;
  int rc = pq_collect(r, run_ids, sizeof **run_ids, n, read_run_id, err);
  PQclear(r);
  return rc;
}

int pq_cancel_requested(bt_queue *base, const char *worker_id,
                        char (**run_ids)[BT_JOB_ID_LEN], size_t *n, bt_err *err) {
  pg_queue *q = (pg_queue *)base;
  int rc;
  WITH_RETRY(q, true, err, cancel_requested_once(q, worker_id, run_ids, n, err));
  return rc;
}
