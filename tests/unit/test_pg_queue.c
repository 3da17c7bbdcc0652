/* test_pg_queue: the job queue contract (queue_contract.h) on PostgreSQL, and what is
 * particular to it: ended jobs leave the hot table, many claimers at once each get a
 * job exactly once, LISTEN/NOTIFY wakes a waiting worker, a finish repeated after a lost
 * answer is recognised, the connection comes back after a server restart and after its
 * backend is killed, and the password stays out of errors. */
#include <poll.h>
#include <pthread.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pg_conn.h"
#include "pg_queue.h"
#include "pg_test.h"
#include "queue_contract.h"

static pg_test pg;

static int count(const char *sql) {
  bt_err e = {0};
  bt_pg *c = NULL;
  if (bt_pg_open(&c, pg.url, &e)) return -1;
  PGresult *r = bt_pg_query(c, sql, 0, NULL, &e);
  int n = r ? atoi(PQgetvalue(r, 0, 0)) : -1;
  PQclear(r);
  bt_pg_close(c);
  return n;
}

static void test_archive(bt_queue *q) {
  drain(q);
  CHECK(count("SELECT count(*) FROM btrun.jobs WHERE strategy = 'arch'") == 0);
  bt_job a = enqueue(q, new_job("arch", "u1"));
  CHECK(count("SELECT count(*) FROM btrun.jobs WHERE strategy = 'arch'") == 1);
  bt_job c;
  bool got, found;
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  bt_job_clear(&c);
  CHECK_OK(bt_queue_finish(q, a.run_id, "w1", 1, BT_JOB_END_SUCCEEDED, "{\"x\":1}", NULL, &err));
  /* A finish repeated (its first answer lost) is recognised, not a second end. */
  CHECK_OK(bt_queue_finish(q, a.run_id, "w1", 1, BT_JOB_END_SUCCEEDED, "{\"x\":1}", NULL, &err));
  CHECK(count("SELECT count(*) FROM btrun.jobs WHERE strategy = 'arch'") == 0);
  CHECK(count("SELECT count(*) FROM btrun.jobs_archive WHERE strategy = 'arch'") == 1);
  bt_job_transition *h;
  size_t n;
  CHECK_OK(bt_queue_history(q, a.run_id, &h, &n, &err));
  CHECK(n == 3);
  free(h);
  CHECK_OK(bt_queue_get(q, a.run_id, &c, &found, &err));
  CHECK(found && c.state == BT_JOB_SUCCEEDED && c.result_json && !strcmp(c.result_json, "{\"x\":1}"));
  bt_job_clear(&c);
  /* Keys stay unique across the hot table and the archive. */
  bt_job_new again = new_job("arch", "u1");
  again.run_id = a.run_id;
  CHECK(bt_queue_enqueue(q, &again, &c, NULL, &err) == BT_EINVAL && !strcmp(err.type, "conflict"));
  bt_job_clear(&a);
}

#define CLAIMERS 4
#define JOBS 400
typedef struct claimer {
  pthread_barrier_t *start;
  bt_queue *q;
  char worker[16];
  char (*ids)[BT_JOB_ID_LEN];
  int n;
} claimer;

static void *claim_all(void *arg) {
  claimer *c = arg;
  bt_err e = {0};
  pthread_barrier_wait(c->start);
  for (;;) {
    bt_job j;
    bool got = false;
    if (bt_queue_claim(c->q, c->worker, 30000, &j, &got, &e) || !got) break;
    memcpy(c->ids[c->n++], j.run_id, BT_JOB_ID_LEN);
    if (bt_queue_finish(c->q, j.run_id, c->worker, j.attempt, BT_JOB_END_SUCCEEDED, "{}", NULL, &e))
      fprintf(stderr, "finish: %s\n", e.msg);
    bt_job_clear(&j);
  }
  return NULL;
}

static int cmp_id(const void *a, const void *b) { return strcmp(a, b); }

static void test_concurrent_claims(bt_queue *q) {
  drain(q);
  for (int i = 0; i < JOBS; i++) {
    bt_job j = enqueue(q, new_job("many", NULL));
    bt_job_clear(&j);
  }
  claimer cl[CLAIMERS];
  pthread_t t[CLAIMERS];
  static char ids[CLAIMERS][JOBS][BT_JOB_ID_LEN];
  /* Every claimer is connected and released at once: on a loaded machine a thread
   * started (and connected) first could otherwise take all jobs before the others run. */
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, CLAIMERS + 1);
  for (int i = 0; i < CLAIMERS; i++) {
    cl[i] = (claimer){.start = &start, .ids = ids[i]};
    snprintf(cl[i].worker, sizeof cl[i].worker, "c%d", i);
    CHECK_OK(bt_queue_open_pg(&cl[i].q, pg.url, &err));
    pthread_create(&t[i], NULL, claim_all, &cl[i]);
  }
  uint64_t t0 = bt_now_ns();
  pthread_barrier_wait(&start);
  static char all[JOBS * CLAIMERS][BT_JOB_ID_LEN];
  int total = 0, busy = 0;
  for (int i = 0; i < CLAIMERS; i++) {
    pthread_join(t[i], NULL);
    for (int k = 0; k < cl[i].n; k++) memcpy(all[total++], cl[i].ids[k], BT_JOB_ID_LEN);
    busy += cl[i].n > 0;
    bt_queue_close(cl[i].q);
  }
  pthread_barrier_destroy(&start);
  double s = (double)(bt_now_ns() - t0) / 1e9;
  printf("%d jobs claimed and finished by %d claimers in %.2f s (%.0f/s)\n", total, CLAIMERS, s,
         total / s);
  CHECK(total == JOBS);
  qsort(all, (size_t)total, BT_JOB_ID_LEN, cmp_id);
  for (int i = 1; i < total; i++) CHECK(strcmp(all[i - 1], all[i]) != 0);
  CHECK(busy >= 2); /* SKIP LOCKED: claimers do not queue up behind one another */
  CHECK(count("SELECT count(*) FROM btrun.job_history WHERE reason = 'claimed' AND run_id IN "
              "(SELECT run_id FROM btrun.jobs_archive WHERE strategy = 'many')") == JOBS);
}

/* Milliseconds until fd is readable (up to timeout_ms), or -1. */
static int readable_in(int fd, int timeout_ms) {
  struct pollfd p = {.fd = fd, .events = POLLIN};
  uint64_t t0 = bt_now_ns();
  return poll(&p, 1, timeout_ms) == 1 ? (int)((bt_now_ns() - t0) / 1000000) : -1;
}

static void test_notify(bt_queue *q) {
  bt_queue *w = NULL;
  CHECK_OK(bt_queue_open_pg(&w, pg.url, &err));
  if (!w) return;
  int fd = bt_queue_wake_fd(w);
  CHECK(fd >= 0);
  /* Nothing queued: no wake-up. */
  CHECK(readable_in(fd, 200) < 0);
  bt_job j = enqueue(q, new_job("wake", NULL));
  int ms = readable_in(fd, 5000);
  CHECK(ms >= 0 && ms < 2000); /* at once, not at the 5 s timeout */
  CHECK(bt_queue_wake_drain(w));
  CHECK(readable_in(fd, 100) < 0); /* drained */
  bt_job_clear(&j);
  /* Its connection killed: drain notices, the next wake fd is a new connection. */
  CHECK(count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE query = 'LISTEN btrun_jobs') x") == 1);
  CHECK(readable_in(fd, 2000) >= 0);
  CHECK(!bt_queue_wake_drain(w));
  usleep(1100 * 1000); /* reopening is rate-limited */
  fd = bt_queue_wake_fd(w);
  CHECK(fd >= 0);
  j = enqueue(q, new_job("wake-again", NULL));
  CHECK(readable_in(fd, 5000) >= 0 && bt_queue_wake_drain(w));
  bt_job_clear(&j);
  bt_queue_close(w);
}

static void test_reconnect(bt_queue *q) {
  drain(q);
  bt_job a = enqueue(q, new_job("reconnect", NULL));
  /* The backend serving q is killed: the next call reconnects and succeeds. */
  CHECK(count("SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
              "WHERE application_name = 'btrun' AND pid <> pg_backend_pid()) x") >= 1);
  bt_job c;
  bool got = false, found;
  CHECK_OK(bt_queue_get(q, a.run_id, &c, &found, &err));
  CHECK(found && c.state == BT_JOB_QUEUED);
  bt_job_clear(&c);
  /* The server restarts: calls made while it is down wait for it (bounded backoff). */
  CHECK(pg_test_ctl(&pg, "restart") == 0);
  CHECK_OK(bt_queue_claim(q, "w1", 30000, &c, &got, &err));
  CHECK(got && !strcmp(c.run_id, a.run_id));
  if (got) {
    CHECK(pg_test_ctl(&pg, "kill") == 0);
    pid_t child = fork();
    if (child == 0) { /* the server comes back while finish is retrying */
      execlp("bash", "bash", pg.sh, "up", pg.dir, (char *)NULL);
      _exit(127);
    }
    CHECK_OK(bt_queue_finish(q, c.run_id, "w1", c.attempt, BT_JOB_END_SUCCEEDED, "{}", NULL, &err));
    int st;
    waitpid(child, &st, 0);
    bt_job_clear(&c);
  }
  CHECK_OK(bt_queue_get(q, a.run_id, &c, &found, &err));
  CHECK(found && c.state == BT_JOB_SUCCEEDED);
  bt_job_clear(&c);
  bt_job_clear(&a);
}

static void test_secrets(void) {
  char bad[600];
  snprintf(bad, sizeof bad, "%s", pg.url);
  char *at = strstr(bad, pg.password);
  at[0] = at[0] == 'x' ? 'y' : 'x';
  bt_queue *q = NULL;
  CHECK(bt_queue_open_pg(&q, bad, &err) == BT_EIO && !q);
  CHECK(!strstr(err.msg, pg.password + 1) && strstr(err.msg, ":***@"));
}

int main(void) {
  pg_test_start(&pg);
  bt_queue *q = NULL, *a = NULL, *b = NULL;
  CHECK_OK(bt_queue_open_pg(&q, pg.url, &err));
  CHECK_OK(bt_queue_open_pg(&a, pg.url, &err));
  CHECK_OK(bt_queue_open_pg(&b, pg.url, &err));
  if (!q || !a || !b) return 1;
  queue_contract_run(q, a, b);
  test_archive(q);
  test_concurrent_claims(q);
  test_notify(q);
  test_reconnect(q);
  test_secrets();
  bt_queue_close(q);
  bt_queue_close(a);
  bt_queue_close(b);
  pg_test_stop(&pg);
  return failures != 0;
}
