/* pg_queue_wake.c - the wake-up hint (bt_queue_wake_fd): a second connection LISTENing
 * on "btrun_jobs", which enqueue and requeue NOTIFY. */
#include "pg_queue_internal.h"

#define LISTEN_RETRY_MS 1000 /* a lost listener is reopened at most this often */

int pq_wake_fd(bt_queue *base) {
  pg_queue *q = (pg_queue *)base;
  pthread_mutex_lock(&q->listen_mu);
  if (q->listener && bt_pg_lost(q->listener)) {
    bt_pg_close(q->listener);
    q->listener = NULL;
  }
  int64_t now = bt_wall_ms();
  if (!q->listener && now - q->listen_tried_ms >= LISTEN_RETRY_MS) {
    q->listen_tried_ms = now;
    bt_err err = {0};
    if (bt_pg_open(&q->listener, q->url, &err) == 0 &&
        bt_pg_exec(q->listener, "LISTEN btrun_jobs", &err) != 0) {
      bt_pg_close(q->listener);
      q->listener = NULL;
    }
    bt_err_clear(&err);
  }
  int fd = q->listener ? PQsocket(bt_pg_conn(q->listener)) : -1;
  pthread_mutex_unlock(&q->listen_mu);
  return fd;
}

bool pq_wake_drain(bt_queue *base) {
  pg_queue *q = (pg_queue *)base;
  pthread_mutex_lock(&q->listen_mu);
  bool woken = false;
  if (q->listener) {
    PGconn *c = bt_pg_conn(q->listener);
    bool ok = PQconsumeInput(c) && PQstatus(c) == CONNECTION_OK;
    for (PGnotify *n; ok && (n = PQnotifies(c));) {
      woken = true;
      PQfreemem(n);
    }
    /* Readable without a notification: on a connection that only listens, that is the
     * server going away (its last words, then EOF). Reopened by the next wake_fd. */
    if (!woken) {
      bt_pg_close(q->listener);
      q->listener = NULL;
    }
  }
  pthread_mutex_unlock(&q->listen_mu);
  return woken;
}
