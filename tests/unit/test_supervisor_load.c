/* 1,000 tiny queued jobs all finish, each exactly once, through real job processes
 * (bounded: fails past 60 s). Also times the queue alone: enqueue and claim+finish rates
 * of the SQLite backend (printed, for docs/service.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "supervisor.h"

#include "check.h"

/* Under AddressSanitizer every job process is several times slower: fewer jobs keep the
 * sanitizer run within the test timeout and still cover the path. */
#if defined(__SANITIZE_ADDRESS__)
enum { JOBS = 150 };
#else
enum { JOBS = 1000 };
#endif

static bt_err err;
static char dir[512];

static bool cat_strategy(void *ud, const char *name, char *path, size_t n) {
  (void)ud;
  snprintf(path, n, "%s/%s.lua", dir, name);
  return strcmp(name, "tiny") == 0;
}

static const char *cat_dataset(void *ud, const char *name) {
  static char data[700];
  (void)ud;
  snprintf(data, sizeof data, "T=%s/tiny.csv", dir);
  return strcmp(name, "tiny") == 0 ? data : NULL;
}

static double secs(uint64_t t0) { return (double)(bt_now_ns() - t0) / 1e9; }

/* The queue alone: JOBS enqueues, then JOBS claim + finish. */
static void queue_rates(void) {
  char path[700];
  snprintf(path, sizeof path, "%s/bare.db", dir);
  bt_queue *q;
  CHECK_OK(bt_queue_open_sqlite(&q, path, &err));
  if (!q) return;
  bt_job_new nj = {.spec_json = "{\"strategy\":\"tiny\"}", .strategy = "tiny",
                   .correlation_id = "c", .origin = "api"};
  uint64_t t0 = bt_now_ns();
  for (int i = 0; i < JOBS; i++) {
    bt_job j;
    CHECK_OK(bt_queue_enqueue(q, &nj, &j, NULL, &err));
    bt_job_clear(&j);
  }
  double enq = secs(t0);
  t0 = bt_now_ns();
  int n = 0;
  for (;;) {
    bt_job j;
    bool got = false;
    CHECK_OK(bt_queue_claim(q, "w", 30000, &j, &got, &err));
    if (!got) break;
    CHECK_OK(bt_queue_finish(q, j.run_id, "w", j.attempt, BT_JOB_END_SUCCEEDED, "{}", NULL, &err));
    bt_job_clear(&j);
    n++;
  }
  CHECK(n == JOBS);
  fprintf(stderr, "queue: %.0f enqueues/s, %.0f claim+finish/s\n", JOBS / enq, n / secs(t0));
  bt_queue_close(q);
}

int main(void) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(dir, sizeof dir, "%s/supervisor-load-%d", tmp, (int)getpid());
  mkdir(dir, 0755);
  char p[700];
  snprintf(p, sizeof p, "%s/tiny.lua", dir);
  FILE *f = fopen(p, "w");
  fputs("local s = {}\nfunction s.on_bar(ctx, bar) if ctx:position() == 0 then ctx:buy(1) end end\n"
        "return s\n", f);
  fclose(f);
  snprintf(p, sizeof p, "%s/tiny.csv", dir);
  f = fopen(p, "w");
  fputs("Date,Open,High,Low,Close,Volume\n", f);
  for (int d = 1; d <= 10; d++) fprintf(f, "2020-01-%02d,10,11,9,10.%d,100\n", d, d);
  fclose(f);
  queue_rates();

  snprintf(p, sizeof p, "%s/data", dir);
  setenv("BTRUN_DATA_DIR", p, 1);
  unsetenv("POSTHOG_API_KEY");
  /* Tracing off: this test is about the queue and the job processes (test_supervisor
   * runs jobs with the event store on); it halves the time of 1,000 jobs. */
  snprintf(p, sizeof p, "%s/btrun.lua", dir);
  f = fopen(p, "w");
  fputs("return { trace = { enabled = false } }\n", f);
  fclose(f);
  bt_app app;
  if (bt_app_init(&app, p, true, &err)) return 1;
  bt_log_set_level(BT_LOG_WARNING); /* the jobs' info lines are not the point here */
  char qpath[700], runs[700];
  snprintf(qpath, sizeof qpath, "%s/data/queue.db", dir);
  snprintf(runs, sizeof runs, "%s/runs", dir);
  bt_queue *q;
  CHECK_OK(bt_queue_open_sqlite(&q, qpath, &err));
  if (!q) return 1;
  bt_job_new nj = {.spec_json = "{\"strategy\":\"tiny\",\"data\":[\"tiny\"]}", .strategy = "tiny",
                   .correlation_id = "load", .origin = "sweep"};
  for (int i = 0; i < JOBS; i++) {
    bt_job j;
    CHECK_OK(bt_queue_enqueue(q, &nj, &j, NULL, &err));
    bt_job_clear(&j);
  }
  /* Twice the cores: a tiny job spends much of its time waiting on file writes. */
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  bt_supervisor_opts o = {.workers = 2 * (int)(cores > 1 ? cores : 1), .poll_ms = 20, .app = &app,
                          .runs_dir = runs, .exit_when_idle_ms = 200,
                          .catalog = {NULL, cat_strategy, cat_dataset}};
  bt_supervisor_stats st;
  uint64_t t0 = bt_now_ns();
  CHECK_OK(bt_supervisor_run(q, &o, &st, &err));
  double took = secs(t0);
  fprintf(stderr, "%d jobs in %.1f s with %d job processes at once: %.0f jobs/s\n", JOBS, took,
          o.workers, JOBS / took);
  CHECK(took < 60);
  CHECK(st.claimed == JOBS && st.succeeded == JOBS && st.lost == 0);
  bt_queue_counts c;
  CHECK_OK(bt_queue_counts_get(q, NULL, &c, &err));
  CHECK(c.by_state[BT_JOB_SUCCEEDED] == JOBS && c.by_state[BT_JOB_QUEUED] == 0 &&
        c.by_state[BT_JOB_RUNNING] == 0);
  /* Exactly once: one "finished" per job in the history. */
  bt_job_filter flt = {.state = -1, .limit = JOBS};
  bt_job *jobs;
  size_t n;
  char cursor[BT_QUEUE_CURSOR_LEN];
  CHECK_OK(bt_queue_list(q, &flt, &jobs, &n, cursor, &err));
  int once = 0;
  for (size_t i = 0; i < n; i++) {
    bt_job_transition *h;
    size_t nh;
    CHECK_OK(bt_queue_history(q, jobs[i].run_id, &h, &nh, &err));
    int fin = 0;
    for (size_t k = 0; k < nh; k++) fin += strcmp(h[k].reason, "finished") == 0;
    once += fin == 1 && jobs[i].attempt == 1;
    free(h);
    bt_job_clear(&jobs[i]);
  }
  free(jobs);
  CHECK(n == JOBS && once == JOBS);
  bt_queue_close(q);
  bt_app_close(&app);
  return failures != 0;
}
