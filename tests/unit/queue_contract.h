/* queue_contract.h - the job queue contract (queue.h) as tests every backend must pass:
 * enqueue with idempotency and unique keys, claim order, heartbeat and finish fenced by
 * (worker, attempt), cancel in every state, lease expiry -> requeue -> worker_lost after
 * max_attempts, graceful release, list pages with cursors and filters, counts, history;
 * two handles (as two processes) on one queue. Included by test_queue.c (SQLite) and
 * test_pg_queue.c (PostgreSQL). */
#ifndef BT_QUEUE_CONTRACT_H
#define BT_QUEUE_CONTRACT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#include "check.h"

static bt_err err;

static bt_job_new new_job(const char *strategy, const char *user) {
  return (bt_job_new){.spec_json = "{\"strategy\":\"x\"}", .strategy = strategy,
                      .correlation_id = "corr-1", .user_id = user, .origin = "api"};
}

static bt_job enqueue(bt_queue *q, bt_job_new nj) {
  bt_job j = {0};
  CHECK_OK(bt_queue_enqueue(q, &nj, &j, NULL, &err));
  return j;
}

static bt_job_state state_of(bt_queue *q, const char *run_id) {
  bt_job j;
  bool found = false;
  CHECK_OK(bt_queue_get(q, run_id, &j, &found, &err));
  CHECK(found);
  bt_job_state s = found ? j.state : BT_JOB_NSTATES;
  if (found) bt_job_clear(&j);
  return s;
}

static void test_enqueue_claim_finish(bt_queue *q) {
  bt_job a = enqueue(q, new_job("first", "u1"));
  bt_job b = enqueue(q, new_job("second", "u2"));
  CHECK(strlen(a.run_id) == 36 && strcmp(a.run_id, b.run_id) != 0);
  CHECK(a.state == BT_JOB_QUEUED && a.attempt == 0 && a.max_attempts == 3);
  CHECK(strcmp(a.user_id, "u1") == 0 && strcmp(a.origin, "api") == 0);
  CHECK(a.created_ms > 0 && a.spec_json && strcmp(a.spec_json, "{\"strategy\":\"x\"}") == 0);

  /* Oldest first. */
  bt_job c;
  bool got = false;
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(got && strcmp(c.run_id, a.run_id) == 0);
  CHECK(c.state == BT_JOB_RUNNING && c.attempt == 1 && strcmp(c.worker_id, "w1") == 0);
  CHECK(c.lease_until_ms >= c.started_ms + 30000);
  bt_job_clear(&c);

  bool cancel = true;
  CHECK_OK(bt_queue_heartbeat(q, a.run_id, "w1", 1, 30000, 0.5, 1234, &cancel, &err));
  CHECK(!cancel);
  bt_job g;
  bool found;
  CHECK_OK(bt_queue_get(q, a.run_id, &g, &found, &err));
  CHECK(found && g.progress == 0.5 && g.bars_done == 1234);
  bt_job_clear(&g);

  /* Another worker, or this one with a stale attempt, cannot touch it. */
  CHECK(bt_queue_heartbeat(q, a.run_id, "w2", 1, 30000, 0.9, 1, NULL, &err) == BT_ESTATE);
  CHECK(strcmp(err.type, "lease_lost") == 0);
  CHECK(bt_queue_finish(q, a.run_id, "w1", 2, BT_JOB_END_SUCCEEDED, "{}", NULL, &err) ==
        BT_ESTATE);
  CHECK(state_of(q, a.run_id) == BT_JOB_RUNNING);

  CHECK_OK(bt_queue_finish(q, a.run_id, "w1", 1, BT_JOB_END_SUCCEEDED, "{\"trades\":3}", NULL,
                           &err));
  CHECK_OK(bt_queue_get(q, a.run_id, &g, &found, &err));
  CHECK(g.state == BT_JOB_SUCCEEDED && g.progress == 1 && g.finished_ms >= g.started_ms);
  CHECK(g.result_json && strcmp(g.result_json, "{\"trades\":3}") == 0 && !g.error_json);
  CHECK(g.lease_until_ms == 0);
  bt_job_clear(&g);
  /* Final: a second finish (the job completing twice) is refused. */
  CHECK(bt_queue_finish(q, a.run_id, "w1", 1, BT_JOB_END_FAILED, NULL, "{}", &err) == BT_ESTATE);
  CHECK(state_of(q, a.run_id) == BT_JOB_SUCCEEDED);

  bt_job_transition *h;
  size_t n;
  CHECK_OK(bt_queue_history(q, a.run_id, &h, &n, &err));
  CHECK(n == 3);
  if (n == 3) {
    CHECK(strcmp(h[0].to, "queued") == 0 && strcmp(h[0].reason, "enqueued") == 0);
    CHECK(strcmp(h[1].from, "queued") == 0 && strcmp(h[1].to, "running") == 0);
    CHECK(h[1].attempt == 1 && strcmp(h[1].worker_id, "w1") == 0);
    CHECK(strcmp(h[2].to, "succeeded") == 0);
  }
  free(h);

  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(got && strcmp(c.run_id, b.run_id) == 0);
  bt_job_clear(&c);
  CHECK_OK(bt_queue_finish(q, b.run_id, "w1", 1, BT_JOB_END_FAILED, NULL,
                           "{\"type\":\"lua_error\"}", &err));
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(!got);
  bt_job_clear(&a);
  bt_job_clear(&b);
}

static void test_keys(bt_queue *q) {
  bt_job_new nj = new_job("idem", "u1");
  nj.idempotency_key = "key-1";
  bool existed = true;
  bt_job a, b, c;
  CHECK_OK(bt_queue_enqueue(q, &nj, &a, &existed, &err));
  CHECK(!existed);
  CHECK_OK(bt_queue_enqueue(q, &nj, &b, &existed, &err));
  CHECK(existed && strcmp(a.run_id, b.run_id) == 0);
  CHECK(b.idempotency_key && strcmp(b.idempotency_key, "key-1") == 0);
  /* The key is per user. */
  nj.user_id = "u2";
  CHECK_OK(bt_queue_enqueue(q, &nj, &c, &existed, &err));
  CHECK(!existed && strcmp(a.run_id, c.run_id) != 0);
  bt_job_clear(&a), bt_job_clear(&b), bt_job_clear(&c);

  bt_job_new sj = new_job("sched", "");
  sj.origin = "schedule";
  sj.unique_key = "schedule:nightly@1700000000000";
  CHECK_OK(bt_queue_enqueue(q, &sj, &a, &existed, &err));
  CHECK(!existed);
  sj.user_id = "someone";
  CHECK_OK(bt_queue_enqueue(q, &sj, &b, &existed, &err));
  CHECK(existed && strcmp(a.run_id, b.run_id) == 0 && strcmp(b.origin, "schedule") == 0);
  bt_job_clear(&a), bt_job_clear(&b);

  bt_job_new bad = new_job("x", NULL);
  bad.origin = "cron";
  CHECK(bt_queue_enqueue(q, &bad, &a, NULL, &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "origin") == 0);
  bad = new_job("x", NULL);
  bad.correlation_id = "";
  CHECK(bt_queue_enqueue(q, &bad, &a, NULL, &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "correlation_id") == 0);
  bad = new_job("x", NULL);
  bad.run_id = "fixed-run-id";
  CHECK_OK(bt_queue_enqueue(q, &bad, &a, NULL, &err));
  CHECK(strcmp(a.run_id, "fixed-run-id") == 0);
  bt_job_clear(&a);
  CHECK(bt_queue_enqueue(q, &bad, &a, NULL, &err) == BT_EINVAL);
  CHECK(strcmp(err.type, "conflict") == 0);
}

/* Claims everything queued and finishes it, so each test starts from an empty queue. */
static void drain(bt_queue *q) {
  bt_job c;
  bool got = true;
  while (got && bt_queue_claim(q, "drain", 1000, &c, &got, &err) == 0 && got) {
    CHECK_OK(bt_queue_finish(q, c.run_id, "drain", c.attempt, BT_JOB_END_SUCCEEDED, "{}", NULL,
                             &err));
    bt_job_clear(&c);
  }
}

static void test_cancel(bt_queue *q) {
  drain(q);
  bt_job a = enqueue(q, new_job("cancel", "u1"));
  bt_job out;
  bool found;
  CHECK_OK(bt_queue_cancel(q, a.run_id, &out, &found, &err));
  CHECK(found && out.state == BT_JOB_CANCELLED && out.error_json &&
        strstr(out.error_json, "\"cancelled\""));
  bt_job_clear(&out);
  /* Idempotent, and a cancelled job is never claimed. */
  CHECK_OK(bt_queue_cancel(q, a.run_id, &out, &found, &err));
  CHECK(found && out.state == BT_JOB_CANCELLED);
  bt_job_clear(&out);
  bool got;
  bt_job c;
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(!got);
  CHECK_OK(bt_queue_cancel(q, "no-such-job", &out, &found, &err));
  CHECK(!found);

  bt_job b = enqueue(q, new_job("cancel-running", "u1"));
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(got);
  bt_job_clear(&c);
  char(*ids)[BT_JOB_ID_LEN] = NULL;
  size_t n = 9;
  CHECK_OK(bt_queue_cancel_requested(q, "w1", &ids, &n, &err));
  CHECK(n == 0);
  free(ids);
  CHECK_OK(bt_queue_cancel(q, b.run_id, &out, &found, &err));
  CHECK(found && out.state == BT_JOB_RUNNING && out.cancel_requested);
  bt_job_clear(&out);
  CHECK_OK(bt_queue_cancel(q, b.run_id, &out, &found, &err));
  bt_job_clear(&out);
  CHECK_OK(bt_queue_cancel_requested(q, "w1", &ids, &n, &err));
  CHECK(n == 1 && strcmp(ids[0], b.run_id) == 0);
  free(ids);
  CHECK_OK(bt_queue_cancel_requested(q, "w2", &ids, &n, &err));
  CHECK(n == 0);
  free(ids);
  bool cancel = false;
  CHECK_OK(bt_queue_heartbeat(q, b.run_id, "w1", 1, 30000, 0.1, 10, &cancel, &err));
  CHECK(cancel);
  bt_queue_counts counts;
  CHECK_OK(bt_queue_counts_get(q, NULL, &counts, &err));
  CHECK(counts.cancel_requested == 1 && counts.by_state[BT_JOB_RUNNING] == 1);
  CHECK_OK(bt_queue_finish(q, b.run_id, "w1", 1, BT_JOB_END_CANCELLED, NULL,
                           "{\"type\":\"cancelled\"}", &err));
  CHECK(state_of(q, b.run_id) == BT_JOB_CANCELLED);
  bt_job_transition *h;
  CHECK_OK(bt_queue_history(q, b.run_id, &h, &n, &err));
  /* enqueued, claimed, cancel_requested (once, though cancelled twice), finished */
  CHECK(n == 4 && strcmp(h[2].reason, "cancel_requested") == 0);
  free(h);
  bt_job_clear(&a), bt_job_clear(&b);
}

static void test_leases(bt_queue *q) {
  drain(q);
  bt_job_new nj = new_job("lost", "u1");
  nj.max_attempts = 2;
  bt_job a = enqueue(q, nj);
  bt_job c;
  bool got;
  int requeued = -1, failed = -1;
  CHECK_OK(bt_queue_claim(q, "w1", 60000, &c, &got, &err));
  bt_job_clear(&c);
  /* Not yet expired. */
  CHECK_OK(bt_queue_requeue_expired(q, bt_wall_ms(), &requeued, &failed, &err));
  CHECK(requeued == 0 && failed == 0);
  CHECK_OK(bt_queue_requeue_expired(q, bt_wall_ms() + 120000, &requeued, &failed, &err));
  CHECK(requeued == 1 && failed == 0);
  CHECK(state_of(q, a.run_id) == BT_JOB_QUEUED);
  /* The old worker comes back: fenced off. */
  CHECK(bt_queue_finish(q, a.run_id, "w1", 1, BT_JOB_END_SUCCEEDED, "{}", NULL, &err) ==
        BT_ESTATE);
  CHECK_OK(bt_queue_claim(q, "w2", 60000, &c, &got, &err));
  CHECK(got && c.attempt == 2 && strcmp(c.run_id, a.run_id) == 0);
  bt_job_clear(&c);
  CHECK(bt_queue_heartbeat(q, a.run_id, "w1", 1, 60000, 0, 0, NULL, &err) == BT_ESTATE);
  /* Lost on its last attempt: failed, worker_lost. */
  bt_job_state now;
  CHECK_OK(bt_queue_release(q, a.run_id, "w2", 2, true, "child_died", &now, &err));
  CHECK(now == BT_JOB_FAILED);
  bt_job g;
  bool found;
  CHECK_OK(bt_queue_get(q, a.run_id, &g, &found, &err));
  CHECK(g.state == BT_JOB_FAILED && g.error_json && strstr(g.error_json, "\"worker_lost\""));
  bt_job_clear(&g);

  /* A graceful release gives the attempt back; a lost one keeps it counted. */
  bt_job b = enqueue(q, new_job("graceful", "u1"));
  CHECK_OK(bt_queue_claim(q, "w1", 60000, &c, &got, &err));
  bt_job_clear(&c);
  CHECK_OK(bt_queue_release(q, b.run_id, "w1", 1, false, "shutdown", &now, &err));
  CHECK(now == BT_JOB_QUEUED);
  CHECK_OK(bt_queue_get(q, b.run_id, &g, &found, &err));
  CHECK(g.attempt == 0 && g.worker_id[0] == 0);
  bt_job_clear(&g);
  CHECK_OK(bt_queue_claim(q, "w1", 60000, &c, &got, &err));
  CHECK(got && c.attempt == 1);
  bt_job_clear(&c);
  CHECK_OK(bt_queue_release(q, b.run_id, "w1", 1, true, "child_died", &now, &err));
  CHECK(now == BT_JOB_QUEUED);
  CHECK_OK(bt_queue_claim(q, "w1", 60000, &c, &got, &err));
  CHECK(got && c.attempt == 2);
  bt_job_clear(&c);
  /* Released while a cancel was pending: cancelled, not requeued. */
  CHECK_OK(bt_queue_cancel(q, b.run_id, &g, &found, &err));
  bt_job_clear(&g);
  CHECK_OK(bt_queue_release(q, b.run_id, "w1", 2, true, "child_died", &now, &err));
  CHECK(now == BT_JOB_CANCELLED);
  bt_job_clear(&a), bt_job_clear(&b);
}

static void test_list(bt_queue *q) {
  drain(q);
  char ids[25][BT_JOB_ID_LEN];
  for (int i = 0; i < 25; i++) {
    bt_job j = enqueue(q, new_job("list", i % 5 == 0 ? "lister" : "other"));
    memcpy(ids[i], j.run_id, sizeof ids[i]);
    bt_job_clear(&j);
  }
  bt_job_filter f = {.state = BT_JOB_QUEUED, .limit = 10};
  char cursor[BT_QUEUE_CURSOR_LEN], prev[BT_QUEUE_CURSOR_LEN];
  bt_job *jobs;
  size_t n;
  int seen = 0;
  for (int page = 0; page < 5; page++) {
    CHECK_OK(bt_queue_list(q, &f, &jobs, &n, cursor, &err));
    for (size_t i = 0; i < n; i++) {
      /* Newest first. */
      CHECK(strcmp(jobs[i].run_id, ids[24 - seen]) == 0);
      seen++;
      bt_job_clear(&jobs[i]);
    }
    free(jobs);
    if (!cursor[0]) break;
    memcpy(prev, cursor, sizeof prev);
    f.cursor = prev;
  }
  CHECK(seen == 25);
  f = (bt_job_filter){.state = -1, .user_id = "lister"};
  CHECK_OK(bt_queue_list(q, &f, &jobs, &n, cursor, &err));
  CHECK(n == 5 && cursor[0] == 0);
  for (size_t i = 0; i < n; i++) bt_job_clear(&jobs[i]);
  free(jobs);
  f.cursor = "garbage";
  CHECK(bt_queue_list(q, &f, &jobs, &n, cursor, &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "cursor") == 0);
  bt_queue_counts counts;
  CHECK_OK(bt_queue_counts_get(q, "lister", &counts, &err));
  CHECK(counts.by_state[BT_JOB_QUEUED] == 5);
  CHECK_OK(bt_queue_counts_get(q, NULL, &counts, &err));
  CHECK(counts.by_state[BT_JOB_QUEUED] == 25 && counts.by_state[BT_JOB_RUNNING] == 0);
}

/* Two handles on one queue stand for two processes: each job is claimed once. */
static void test_two_handles(bt_queue *a, bt_queue *b) {
  drain(a);
  for (int i = 0; i < 20; i++) {
    bt_job j = enqueue(a, new_job("shared", NULL));
    bt_job_clear(&j);
  }
  int claimed = 0;
  bool got_a = true, got_b = true;
  char seen[20][BT_JOB_ID_LEN];
  while (got_a || got_b) {
    bt_job c;
    for (int k = 0; k < 2; k++) {
      bool *got = k ? &got_b : &got_a;
      CHECK_OK(bt_queue_claim(k ? b : a, k ? "wb" : "wa", 1000, &c, got, &err));
      if (!*got) continue;
      for (int i = 0; i < claimed; i++) CHECK(strcmp(seen[i], c.run_id) != 0);
      if (claimed < 20) memcpy(seen[claimed], c.run_id, BT_JOB_ID_LEN);
      claimed++;
      bt_job_clear(&c);
    }
  }
  CHECK(claimed == 20);
}

/* Everything above on q (an empty queue), then on two handles a and b of one queue. */
static void queue_contract_run(bt_queue *q, bt_queue *a, bt_queue *b) {
  test_enqueue_claim_finish(q);
  test_keys(q);
  test_cancel(q);
  test_leases(q);
  test_list(q);
  test_two_handles(a, b);
}

#endif
