/* The supervisor with real job processes and real backtests (supervisor.h):
 *   - a good, a failing (structured traceback), a crashing (os.exit: worker_lost after
 *     max_attempts) and an unknown strategy end in the right states; the run directory
 *     and the event store hold the job's run_id; every job log line carries its ids;
 *   - cancel of a running job ends it within 1 s;
 *   - kill -9 of a job process: the job runs again (attempt 2) and ends once;
 *   - kill -9 of the whole supervisor mid-jobs: its job processes die with it, another
 *     supervisor takes the jobs over when their leases run out, each ends exactly once;
 *   - SIGTERM with a short grace hands running jobs back without counting the attempt.
 * Every wait is bounded. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "store.h"
#include "supervisor.h"

#include "check.h"

static bt_err err;
static char dir[512], qpath[600], logpath[600];
static bt_app app;

static void write_file(const char *name, const char *text) {
  char p[700];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  if (!f) {
    perror(p);
    exit(1);
  }
  fputs(text, f);
  fclose(f);
}

static bool cat_strategy(void *ud, const char *name, char *path, size_t n) {
  (void)ud;
  snprintf(path, n, "%s/strategies/%s.lua", dir, name);
  struct stat st;
  return stat(path, &st) == 0;
}

static const char *cat_dataset(void *ud, const char *name) {
  (void)ud;
  static char tiny[700];
  snprintf(tiny, sizeof tiny, "TINY=%s/tiny.csv", dir);
  if (strcmp(name, "tiny") == 0) return tiny;
  if (strcmp(name, "sample") == 0) return "SAMPLE=data/sample-daily.csv";
  return NULL;
}

/* The job process of strategy "crash" dies at once (the sandbox keeps real strategies
 * from ending their process; a crash in C or the OOM killer still can). */
static int run_or_crash(void *ud, const bt_job_exec *x, bt_job_outcome *out) {
  if (strcmp(x->spec->strategy, "crash") == 0) abort();
  return bt_job_execute(ud, x, out);
}

static bt_supervisor_opts opts(int workers) {
  static char runs[700];
  snprintf(runs, sizeof runs, "%s/runs", dir);
  return (bt_supervisor_opts){.workers = workers, .lease_ms = 1500, .heartbeat_ms = 300,
                              .poll_ms = 20, .app = &app, .runs_dir = runs,
                              .run = run_or_crash, .run_ud = &app,
                              .catalog = {NULL, cat_strategy, cat_dataset}};
}

static int open_q(void *ud, bt_queue **out, bt_err *e) {
  (void)ud;
  return bt_queue_open_sqlite(out, qpath, e);
}

static bt_job submit(bt_queue *q, const char *spec_json, const char *strategy, int max_attempts) {
  bt_job j = {0};
  bt_job_new nj = {.spec_json = spec_json, .strategy = strategy, .correlation_id = "corr-sup",
                   .user_id = "user-7", .origin = "api", .max_attempts = max_attempts};
  CHECK_OK(bt_queue_enqueue(q, &nj, &j, NULL, &err));
  return j;
}

static bt_job get(bt_queue *q, const char *run_id) {
  bt_job j = {0};
  bool found = false;
  CHECK_OK(bt_queue_get(q, run_id, &j, &found, &err));
  CHECK(found);
  return j;
}

static int64_t ms(void) { return (int64_t)(bt_now_ns() / 1000000); }

static void sleep_ms(int n) { nanosleep(&(struct timespec){n / 1000, (n % 1000) * 1000000L}, NULL); }

/* Waits (at most timeout_ms) until the job is in state st; returns the ms it took or -1. */
static int64_t wait_state(bt_queue *q, const char *run_id, bt_job_state st, int64_t timeout_ms) {
  int64_t t0 = ms();
  while (ms() - t0 < timeout_ms) {
    bt_job j = get(q, run_id);
    bool done = j.state == st, other_end = !done && bt_job_state_final(j.state);
    bt_job_clear(&j);
    if (done) return ms() - t0;
    if (other_end) return -1;
    sleep_ms(10);
  }
  return -1;
}

/* Child processes of pid (from /proc). */
static int children_of(pid_t pid, pid_t *out, int max) {
  int n = 0;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < max) {
    char p[300], buf[512];
    snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
    FILE *f = fopen(p, "r");
    if (!f) continue;
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[len] = 0;
    char *rp = strrchr(buf, ')');
    int ppid = 0;
    char state;
    if (rp && sscanf(rp + 2, "%c %d", &state, &ppid) == 2 && ppid == pid && state != 'Z')
      out[n++] = (pid_t)atoi(e->d_name);
  }
  if (d) closedir(d);
  return n;
}

/* Running (a zombie waiting for init to reap it is dead). */
static bool alive(pid_t pid) {
  char p[64], buf[512];
  snprintf(p, sizeof p, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(p, "r");
  if (!f) return false;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  char *rp = strrchr(buf, ')');
  return rp && rp[1] && rp[2] != 'Z';
}

static int count_reason(bt_queue *q, const char *run_id, const char *reason) {
  bt_job_transition *h = NULL;
  size_t n = 0;
  CHECK_OK(bt_queue_history(q, run_id, &h, &n, &err));
  int c = 0;
  for (size_t i = 0; i < n; i++) c += strcmp(h[i].reason, reason) == 0;
  free(h);
  return c;
}

static void stop_supervisor(pid_t pid) {
  kill(pid, SIGTERM);
  int64_t t0 = ms();
  int status;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (ms() - t0 > 10000) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      CHECK(!"supervisor did not stop within 10 s");
      return;
    }
    sleep_ms(10);
  }
}

static void test_outcomes(bt_queue *q) {
  bt_job ok = submit(q, "{\"strategy\":\"ok\",\"data\":[\"tiny\"],\"params\":{\"qty\":5},\"cash\":\"5000\"}", "ok", 0);
  bt_job fail = submit(q, "{\"strategy\":\"fail\",\"data\":[\"tiny\"]}", "fail", 0);
  bt_job crash = submit(q, "{\"strategy\":\"crash\",\"data\":[\"tiny\"]}", "crash", 2);
  bt_job unknown = submit(q, "{\"strategy\":\"nope\"}", "nope", 0);
  bt_job baddata = submit(q, "{\"strategy\":\"ok\",\"data\":[\"missing\"]}", "ok", 0);
  bt_supervisor_opts o = opts(2);
  o.exit_when_idle_ms = 300;
  bt_supervisor_stats st;
  CHECK_OK(bt_supervisor_run(q, &o, &st, &err));
  CHECK(st.succeeded == 1 && st.lost == 2); /* crash: both attempts */

  bt_job j = get(q, ok.run_id);
  CHECK(j.state == BT_JOB_SUCCEEDED && j.attempt == 1);
  cJSON *r = cJSON_Parse(j.result_json ? j.result_json : "");
  cJSON *m = cJSON_GetObjectItem(r, "metrics");
  CHECK(cJSON_IsObject(m) && cJSON_GetObjectItem(m, "final_equity"));
  CHECK(cJSON_GetObjectItem(r, "bars") && cJSON_GetObjectItem(r, "bars")->valuedouble == 40);
  cJSON_Delete(r);
  /* The run is the job: its directory and its event store row carry the job's run_id,
   * the spec's cash and params were applied. */
  char p[800];
  snprintf(p, sizeof p, "%s/runs/%s/result.json", dir, ok.run_id);
  FILE *f = fopen(p, "r");
  CHECK(f != NULL);
  if (f) {
    char buf[8192];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    buf[len] = 0;
    fclose(f);
    cJSON *res = cJSON_Parse(buf);
    const cJSON *rid = cJSON_GetObjectItem(res, "run_id"), *cid = cJSON_GetObjectItem(res, "correlation_id");
    const cJSON *qty = cJSON_GetObjectItem(cJSON_GetObjectItem(res, "params"), "qty");
    const cJSON *cash = cJSON_GetObjectItem(res, "initial_cash");
    CHECK(cJSON_IsString(rid) && strcmp(rid->valuestring, ok.run_id) == 0);
    CHECK(cJSON_IsString(cid) && strcmp(cid->valuestring, "corr-sup") == 0);
    CHECK(cJSON_IsNumber(qty) && qty->valuedouble == 5);
    CHECK(cJSON_IsString(cash) && strcmp(cash->valuestring, "5000.0") == 0);
    cJSON_Delete(res);
  }
  bt_store *s;
  snprintf(p, sizeof p, "%s/data/events.db", dir);
  if (bt_store_open_readonly(&s, p, &err) == 0) {
    bt_store_run run;
    CHECK_OK(bt_store_find_run(s, ok.run_id, &run, &err));
    CHECK(strcmp(run.status, "completed") == 0 && strcmp(run.correlation_id, "corr-sup") == 0);
    CHECK(run.user_id && strcmp(run.user_id, "user-7") == 0);
    CHECK(run.origin && strcmp(run.origin, "api") == 0);
    bt_store_run_clear(&run);
    bt_store_close(s);
  } else {
    CHECK(!"no event store in the data dir");
  }
  bt_job_clear(&j);

  /* A failing strategy: failed, with the Lua traceback as frames. */
  j = get(q, fail.run_id);
  CHECK(j.state == BT_JOB_FAILED && j.error_json);
  r = cJSON_Parse(j.error_json ? j.error_json : "");
  cJSON *type = cJSON_GetObjectItem(r, "type"), *frames = cJSON_GetObjectItem(r, "frames");
  CHECK(cJSON_IsString(type) && strcmp(type->valuestring, "lua_error") == 0);
  CHECK(cJSON_IsArray(frames) && cJSON_GetArraySize(frames) > 0);
  CHECK(j.error_json && strstr(j.error_json, "deliberate failure") && strstr(j.error_json, "fail.lua"));
  cJSON_Delete(r);
  bt_job_clear(&j);

  /* A job process that dies: requeued once, then failed "worker_lost". */
  j = get(q, crash.run_id);
  CHECK(j.state == BT_JOB_FAILED && j.attempt == 2);
  CHECK(j.error_json && strstr(j.error_json, "\"worker_lost\""));
  CHECK(count_reason(q, crash.run_id, "child_died") == 2);
  bt_job_clear(&j);

  j = get(q, unknown.run_id);
  CHECK(j.state == BT_JOB_FAILED && j.error_json && strstr(j.error_json, "unknown_strategy"));
  bt_job_clear(&j);
  j = get(q, baddata.run_id);
  CHECK(j.state == BT_JOB_FAILED && j.error_json && strstr(j.error_json, "unknown_dataset"));
  bt_job_clear(&j);

  /* Job log lines (written by the job processes) carry the job's ids. */
  FILE *lf = fopen(logpath, "r");
  char line[16384];
  int started = 0, completed = 0, failed = 0;
  while (lf && fgets(line, sizeof line, lf)) {
    cJSON *o = cJSON_Parse(line);
    const cJSON *ev = cJSON_GetObjectItem(o, "event"), *rid = cJSON_GetObjectItem(o, "run_id");
    if (cJSON_IsString(ev) && cJSON_IsString(rid) &&
        (strcmp(rid->valuestring, ok.run_id) == 0 || strcmp(rid->valuestring, fail.run_id) == 0) &&
        strncmp(ev->valuestring, "backtest_", 9) == 0) {
      const char *want_strategy = strcmp(rid->valuestring, ok.run_id) == 0 ? "ok" : "fail";
      static const char *const keys[] = {"correlation_id", "user_id", "strategy_id", "origin"};
      const char *want[] = {"corr-sup", "user-7", want_strategy, "api"};
      for (int k = 0; k < 4; k++) {
        const cJSON *v = cJSON_GetObjectItem(o, keys[k]);
        if (!cJSON_IsString(v) || strcmp(v->valuestring, want[k]) != 0) {
          fprintf(stderr, "  %s lacks %s=%s: %.200s\n", ev->valuestring, keys[k], want[k], line);
          failures++;
        }
      }
      started += strcmp(ev->valuestring, "backtest_started") == 0;
      completed += strcmp(ev->valuestring, "backtest_completed") == 0;
      failed += strcmp(ev->valuestring, "backtest_failed") == 0;
    }
    cJSON_Delete(o);
  }
  if (lf) fclose(lf);
  CHECK(started == 2 && completed == 1 && failed == 1);
  bt_job_clear(&ok), bt_job_clear(&fail), bt_job_clear(&crash), bt_job_clear(&unknown);
  bt_job_clear(&baddata);
}

static void test_cancel(bt_queue *q) {
  bt_job slow = submit(q, "{\"strategy\":\"slow\",\"data\":[\"sample\"],\"params\":{\"ms\":2}}", "slow", 0);
  pid_t pid;
  bt_supervisor_opts o = opts(1);
  CHECK_OK(bt_supervisor_spawn(open_q, NULL, &o, &pid, &err));
  CHECK(wait_state(q, slow.run_id, BT_JOB_RUNNING, 5000) >= 0);
  /* Progress reaches the queue while it runs (the first report after 1024 bars). */
  /* Generous: the busy loop counts CPU time, which a loaded machine hands out slowly. */
  int64_t t0 = ms();
  bt_job j = {0};
  while (ms() - t0 < 20000) {
    j = get(q, slow.run_id);
    bool moving = j.bars_done > 0 && j.progress > 0 && j.progress < 1;
    bt_job_clear(&j);
    if (moving) break;
    sleep_ms(20);
  }
  CHECK(ms() - t0 < 20000);
  bool found;
  CHECK_OK(bt_queue_cancel(q, slow.run_id, &j, &found, &err));
  bt_job_clear(&j);
  int64_t took = wait_state(q, slow.run_id, BT_JOB_CANCELLED, 3000);
  CHECK(took >= 0 && took < 1000);
  fprintf(stderr, "cancel took %lld ms\n", (long long)took);
  j = get(q, slow.run_id);
  CHECK(j.error_json && strstr(j.error_json, "\"cancelled\""));
  bt_job_clear(&j);
  stop_supervisor(pid);
  bt_job_clear(&slow);
}

static void test_kill_child(bt_queue *q) {
  bt_job slow = submit(q, "{\"strategy\":\"slow\",\"data\":[\"tiny\"],\"params\":{\"ms\":25}}", "slow", 0);
  pid_t pid;
  bt_supervisor_opts o = opts(1);
  CHECK_OK(bt_supervisor_spawn(open_q, NULL, &o, &pid, &err));
  CHECK(wait_state(q, slow.run_id, BT_JOB_RUNNING, 5000) >= 0);
  pid_t kids[4];
  int n = 0;
  for (int64_t t0 = ms(); n == 0 && ms() - t0 < 3000; sleep_ms(10)) n = children_of(pid, kids, 4);
  CHECK(n == 1);
  if (n == 1) kill(kids[0], SIGKILL);
  CHECK(wait_state(q, slow.run_id, BT_JOB_SUCCEEDED, 10000) >= 0);
  bt_job j = get(q, slow.run_id);
  CHECK(j.attempt == 2);
  bt_job_clear(&j);
  CHECK(count_reason(q, slow.run_id, "child_died") == 1);
  CHECK(count_reason(q, slow.run_id, "finished") == 1);
  stop_supervisor(pid);
  bt_job_clear(&slow);
}

static void test_kill_supervisor(bt_queue *q) {
  enum { N = 6 };
  bt_job jobs[N];
  for (int i = 0; i < N; i++)
    jobs[i] = submit(q, "{\"strategy\":\"slow\",\"data\":[\"tiny\"],\"params\":{\"ms\":15}}", "slow", 0);
  pid_t a;
  bt_supervisor_opts o = opts(2);
  CHECK_OK(bt_supervisor_spawn(open_q, NULL, &o, &a, &err));
  CHECK(wait_state(q, jobs[0].run_id, BT_JOB_RUNNING, 5000) >= 0);
  pid_t kids[8];
  int nk = 0;
  for (int64_t t0 = ms(); nk < 2 && ms() - t0 < 5000; sleep_ms(10)) nk = children_of(a, kids, 8);
  CHECK(nk == 2);
  kill(a, SIGKILL);
  waitpid(a, NULL, 0);
  /* Its job processes die with it (the signal reaches them at once; under load their
   * exit may take a while, so wait for it, bounded). */
  for (int i = 0; i < nk; i++) {
    for (int64_t t0 = ms(); alive(kids[i]) && ms() - t0 < 5000;) sleep_ms(10);
    CHECK(!alive(kids[i]));
  }
  bt_queue_counts c;
  CHECK_OK(bt_queue_counts_get(q, NULL, &c, &err));
  CHECK(c.by_state[BT_JOB_RUNNING] == 2); /* held by a dead worker until the lease ends */
  pid_t b;
  CHECK_OK(bt_supervisor_spawn(open_q, NULL, &o, &b, &err));
  for (int i = 0; i < N; i++) CHECK(wait_state(q, jobs[i].run_id, BT_JOB_SUCCEEDED, 20000) >= 0);
  int expired = 0;
  for (int i = 0; i < N; i++) {
    CHECK(count_reason(q, jobs[i].run_id, "finished") == 1);
    expired += count_reason(q, jobs[i].run_id, "lease_expired");
    bt_job_clear(&jobs[i]);
  }
  CHECK(expired == 2);
  stop_supervisor(b);
}

static void test_shutdown(bt_queue *q) {
  bt_job a = submit(q, "{\"strategy\":\"slow\",\"data\":[\"tiny\"],\"params\":{\"ms\":100}}", "slow", 0);
  bt_job b = submit(q, "{\"strategy\":\"slow\",\"data\":[\"tiny\"],\"params\":{\"ms\":100}}", "slow", 0);
  pid_t pid;
  bt_supervisor_opts o = opts(1);
  o.shutdown_grace_ms = 300;
  CHECK_OK(bt_supervisor_spawn(open_q, NULL, &o, &pid, &err));
  CHECK(wait_state(q, a.run_id, BT_JOB_RUNNING, 5000) >= 0);
  int64_t t0 = ms();
  stop_supervisor(pid);
  CHECK(ms() - t0 < 3000);
  bt_job j = get(q, a.run_id);
  CHECK(j.state == BT_JOB_QUEUED && j.attempt == 0); /* handed back, attempt not counted */
  bt_job_clear(&j);
  CHECK(count_reason(q, a.run_id, "shutdown") == 1);
  j = get(q, b.run_id);
  CHECK(j.state == BT_JOB_QUEUED);
  bt_job_clear(&j);
  bool found;
  CHECK_OK(bt_queue_cancel(q, a.run_id, &j, &found, &err));
  bt_job_clear(&j);
  CHECK_OK(bt_queue_cancel(q, b.run_id, &j, &found, &err));
  bt_job_clear(&j);
  bt_job_clear(&a), bt_job_clear(&b);
}

int main(void) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(dir, sizeof dir, "%s/supervisor-%d", tmp, (int)getpid());
  char p[700];
  mkdir(dir, 0755);
  snprintf(p, sizeof p, "%s/strategies", dir);
  mkdir(p, 0755);
  write_file("strategies/ok.lua",
             "local s = {params = {qty = 1}}\n"
             "function s.on_bar(ctx, bar) if ctx:position() == 0 then ctx:buy(ctx.params.qty) end end\n"
             "return s\n");
  write_file("strategies/fail.lua",
             "local s = {}\n"
             "local function explode(n) error('deliberate failure at bar ' .. n) end\n"
             "local n = 0\n"
             "function s.on_bar(ctx, bar) n = n + 1; if n == 5 then explode(n) end end\n"
             "return s\n");
  write_file("strategies/crash.lua", "return {}\n");
  /* ms of busy work per bar: long enough to cancel or kill it mid-run. */
  write_file("strategies/slow.lua",
             "local s = {params = {ms = 10}}\n"
             "function s.on_bar(ctx, bar)\n"
             "  local t = os.clock() + ctx.params.ms / 1000\n"
             "  while os.clock() < t do end\n"
             "end\n"
             "return s\n");
  FILE *src = fopen("data/sample-daily.csv", "r");
  snprintf(p, sizeof p, "%s/tiny.csv", dir);
  FILE *dst = fopen(p, "w");
  char line[256];
  for (int i = 0; src && dst && i < 41 && fgets(line, sizeof line, src); i++) fputs(line, dst);
  if (src) fclose(src);
  if (dst) fclose(dst);

  snprintf(p, sizeof p, "%s/data", dir);
  setenv("BTRUN_DATA_DIR", p, 1);
  unsetenv("POSTHOG_API_KEY");
  snprintf(qpath, sizeof qpath, "%s/data/queue.db", dir);
  snprintf(logpath, sizeof logpath, "%s/log.jsonl", dir);
  if (bt_app_init(&app, NULL, false, &err)) {
    fprintf(stderr, "app: %s\n", err.msg);
    return 1;
  }
  FILE *lf = fopen(logpath, "w");
  bt_log_set_format(BT_LOG_FORMAT_JSON);
  bt_log_set_fd(fileno(lf));
  bt_queue *q;
  CHECK_OK(bt_queue_open_sqlite(&q, qpath, &err));
  if (!q) return 1;
  test_outcomes(q);
  test_cancel(q);
  test_kill_child(q);
  test_kill_supervisor(q);
  test_shutdown(q);
  bt_queue_close(q);
  bt_app_close(&app);
  fclose(lf);
  return failures != 0;
}
