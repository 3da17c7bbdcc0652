/* supervisor.c - claims jobs and runs each in a forked job process (supervisor.h).
 *
 * Job process -> supervisor: one pipe per job carrying JSON lines,
 *   {"progress":0.42,"bars":1234}            at most every PROGRESS_MS
 *   {"end":"succeeded","result":{...}}        or "failed" with "error":{...}
 * The supervisor owns every queue write: claim, heartbeat, finish, release. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "fs.h"
#include "grow.h"
#include "log.h"
#include "supervisor.h"

#define LOGGER "worker"
#define PROGRESS_MS 200         /* job process -> supervisor; the queue gets heartbeat_ms */
#define PROGRESS_LOG_MS 1000    /* backtest_progress log lines of a job */
#define EXPIRY_SCAN_MS 1000

typedef struct slot {
  bool used;
  pid_t pid;
  int fd;                      /* read end of the job's pipe; -1 after EOF */
  bool exited;
  int wstatus;
  bt_job job;
  double progress;
  int64_t bars;
  int64_t next_heartbeat;
  bool reported;               /* its outcome reached the queue (or was refused) */
  bool lease_lost;
  bool cancelling;
  int64_t term_sent;           /* when SIGTERM went to a cancelled job, 0 = not yet */
  bool killed;
  char *buf;                   /* partial line from the pipe */
  size_t len, cap;
} slot;

typedef struct sup {
  bt_queue *q;
  bt_supervisor_opts o;
  char worker_id[BT_JOB_TEXT_LEN];
  slot *slots;
  int nslots, running;
  int sigfd;
  sigset_t oldmask;
  struct sigaction old_term, old_int;
  pid_t pid;
  bool stopping;
  int64_t stop_deadline;
  bt_supervisor_stats st;
} sup;

/* ---- the job process ----------------------------------------------------------------- */

typedef struct child_ctx {
  int fd;
  int64_t last_sent, last_logged;
} child_ctx;


static void child_progress(void *ud, uint64_t bars, double fraction) {
  child_ctx *c = ud;
  int64_t now = (int64_t)(bt_now_ns() / 1000000);
  if (now - c->last_sent >= PROGRESS_MS) {
    char line[96];
    int n = snprintf(line, sizeof line, "{\"progress\":%.6f,\"bars\":%llu}\n", fraction,
                     (unsigned long long)bars);
    /* a failed write: the supervisor is gone, and PDEATHSIG ends this process */
    (void)bt_write_all(c->fd, line, (size_t)n);
    c->last_sent = now;
  }
  if (now - c->last_logged >= PROGRESS_LOG_MS) {
    bt_log(LOGGER, BT_LOG_INFO, "backtest_progress", BT_F_INT("bars_done", bars),
           BT_F_DBL("progress", fraction));
    c->last_logged = now;
  }
}

static void child_on_signal(int sig) {
  (void)sig;
  bt_run_interrupt();
}

static void send_outcome(int fd, const bt_job_outcome *out) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "end", bt_job_state_name((bt_job_state)out->end));
  const char *key = out->end == BT_JOB_END_SUCCEEDED ? "result" : "error";
  const char *text = out->end == BT_JOB_END_SUCCEEDED ? out->result_json : out->error_json;
  cJSON *v = text ? cJSON_Parse(text) : NULL;
  cJSON_AddItemToObject(o, key, v ? v : cJSON_CreateObject());
  char *line = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  if (line) {
    if (!bt_write_all(fd, line, strlen(line))) (void)bt_write_all(fd, "\n", 1);
    free(line);
  }
}

static void bind_job(const bt_job *j) {
  bt_field f[] = {BT_F_STR("correlation_id", j->correlation_id), BT_F_STR("run_id", j->run_id),
                  BT_F_STR("strategy_id", j->strategy), BT_F_STR("origin", j->origin),
                  BT_F_STR("user_id", j->user_id)};
  bt_log_bind(f, j->user_id[0] ? 5 : 4);
}

static void log_ids(const bt_job *j, const char *event, bt_log_level lvl, const char *error) {
  bt_log_ctx *saved = bt_log_save();
  bind_job(j);
  bt_log(LOGGER, lvl, event, BT_F_INT("attempt", j->attempt), BT_F_JSON("error", error));
  bt_log_restore(saved);
}

/* Never returns. */
static void child_main(sup *s, slot *sl, int wfd, const bt_job_exec *x) {
  /* Its own process group (a terminal's ^C goes to the supervisor, which decides), and
   * dead with the supervisor: nobody would collect its result. */
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != s->pid) _exit(1);
  struct sigaction sa = {0};
  sa.sa_handler = child_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  signal(SIGCHLD, SIG_DFL);
  signal(SIGUSR1, SIG_DFL);
  close(s->sigfd);
  for (int i = 0; i < s->nslots; i++)
    if (&s->slots[i] != sl && s->slots[i].used && s->slots[i].fd >= 0) close(s->slots[i].fd);
  /* The caller's mask, but never with the signals a job process must receive. */
  sigset_t mask = s->oldmask;
  sigdelset(&mask, SIGTERM);
  sigdelset(&mask, SIGINT);
  sigdelset(&mask, SIGCHLD);
  sigdelset(&mask, SIGUSR1);
  sigprocmask(SIG_SETMASK, &mask, NULL);

  child_ctx c = {.fd = wfd};
  bt_job_exec ex = *x;
  ex.on_progress = child_progress;
  ex.progress_ud = &c;
  bt_log_clear_context();
  bind_job(x->job);
  bt_job_outcome out = {0};
  bt_job_run_fn run = s->o.run ? s->o.run : bt_job_execute;
  void *ud = s->o.run ? s->o.run_ud : (void *)s->o.app;
  if (run(ud, &ex, &out) && !out.error_json) {
    out.end = BT_JOB_END_FAILED;
    out.error_json = strdup("{\"type\":\"error\",\"message\":\"the job could not run\"}");
  }
  send_outcome(wfd, &out);
  close(wfd);
  free(out.result_json);
  free(out.error_json);
  /* Observers flush (analytics spool, event store) after the outcome is on its way. */
  if (s->o.app) bt_app_close(s->o.app);
  _exit(0);
}

/* ---- the supervisor's side ------------------------------------------------------------ */

static int64_t now_ms(void) { return bt_wall_ms(); }

static void slot_free(slot *sl) {
  bt_job_clear(&sl->job);
  free(sl->buf);
  memset(sl, 0, sizeof *sl);
  sl->fd = -1;
}

static char *error_obj(const char *type, const char *fmt, const char *arg) {
  char msg[1024]; /* room for a bt_err message */
  snprintf(msg, sizeof msg, fmt, arg);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", type);
  cJSON_AddStringToObject(o, "message", msg);
  char *t = cJSON_PrintUnformatted(o);
  cJSON_Delete(o);
  return t;
}

static void warn_queue(const bt_job *j, const char *what, const bt_err *e) {
  bt_log_ctx *saved = bt_log_save();
  if (j) bind_job(j);
  bt_log(LOGGER, BT_LOG_ERROR, "queue_error", BT_F_STR("operation", what),
         BT_F_STR("error_type", e->type), BT_F_STR("message", e->msg));
  bt_log_restore(saved);
}

/* A job that cannot start (unknown name, bad spec): failed without a process. */
static void fail_now(sup *s, bt_job *j, char *error) {
  bt_err err = {0};
  if (bt_queue_finish(s->q, j->run_id, s->worker_id, j->attempt, BT_JOB_END_FAILED, NULL,
                      error, &err))
    warn_queue(j, "finish", &err);
  else s->st.failed++;
  log_ids(j, "backtest_failed", BT_LOG_ERROR, error);
  bt_err_clear(&err);
  free(error);
}

static void start_job(sup *s, bt_job *j) {
  bt_job_spec spec;
  bt_err err = {0};
  if (bt_job_spec_parse(j->spec_json, &spec, &err)) {
    fail_now(s, j, error_obj("invalid_spec", "%s", err.msg));
    bt_err_clear(&err);
    return;
  }
  char strategy[1024];
  const char *data[BT_JOB_SPEC_MAX_DATA];
  char *error = NULL;
  if (!s->o.catalog.strategy ||
      !s->o.catalog.strategy(s->o.catalog.ud, spec.strategy, strategy, sizeof strategy))
    error = error_obj("unknown_strategy", "no strategy named '%s'", spec.strategy);
  for (int i = 0; !error && i < spec.ndata; i++)
    if (!s->o.catalog.dataset || !(data[i] = s->o.catalog.dataset(s->o.catalog.ud, spec.data[i])))
      error = error_obj("unknown_dataset", "no dataset named '%s'", spec.data[i]);
  if (error) {
    bt_job_spec_clear(&spec);
    fail_now(s, j, error);
    return;
  }
  slot *sl = NULL;
  for (int i = 0; i < s->nslots && !sl; i++)
    if (!s->slots[i].used) sl = &s->slots[i];
  int p[2];
  if (!sl || pipe2(p, O_CLOEXEC)) {
    bt_job_spec_clear(&spec);
    bt_queue_release(s->q, j->run_id, s->worker_id, j->attempt, false, "no_slot", NULL, &err);
    bt_err_clear(&err);
    return;
  }
  char out_dir[1024];
  if (s->o.runs_dir) snprintf(out_dir, sizeof out_dir, "%s/%s", s->o.runs_dir, j->run_id);
  bt_job_exec x = {.job = j, .out_dir = s->o.runs_dir ? out_dir : NULL, .spec = &spec,
                   .strategy_path = strategy, .data = data, .ndata = spec.ndata};
  fflush(NULL); /* a buffered byte must not be written twice, by both processes */
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    child_main(s, sl, p[1], &x);
  }
  close(p[1]);
  bt_job_spec_clear(&spec);
  if (pid < 0) {
    close(p[0]);
    bt_log(LOGGER, BT_LOG_ERROR, "fork_failed", BT_F_STR("error", strerror(errno)));
    bt_queue_release(s->q, j->run_id, s->worker_id, j->attempt, false, "fork_failed", NULL,
                     &err);
    bt_err_clear(&err);
    return;
  }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  sl->used = true;
  sl->pid = pid;
  sl->fd = p[0];
  sl->job = *j;
  memset(j, 0, sizeof *j); /* the slot owns its strings now */
  sl->next_heartbeat = now_ms() + s->o.heartbeat_ms;
  s->running++;
  s->st.claimed++;
}

/* The job's outcome arrived: write it (a cancel that interrupted the run ends it
 * "cancelled"; a run that finished anyway keeps its result). */
static void on_outcome(sup *s, slot *sl, cJSON *msg) {
  const cJSON *end = cJSON_GetObjectItemCaseSensitive(msg, "end");
  int st = cJSON_IsString(end) ? bt_job_state_parse(end->valuestring) : -1;
  if (st < 0 || !bt_job_state_final((bt_job_state)st)) return;
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, st == BT_JOB_SUCCEEDED ? "result" : "error");
  char *text = v ? cJSON_PrintUnformatted(v) : NULL;
  bt_job_end e = (bt_job_end)st;
  if (e == BT_JOB_END_FAILED && sl->cancelling) {
    e = BT_JOB_END_CANCELLED;
    free(text);
    text = error_obj("cancelled", "%s", "cancelled while running");
  }
  bt_err err = {0};
  sl->reported = true;
  if (sl->lease_lost) {
    /* Requeued behind our back (our lease ran out): the new attempt owns the job. */
  } else if (bt_queue_finish(s->q, sl->job.run_id, s->worker_id, sl->job.attempt, e,
                             e == BT_JOB_END_SUCCEEDED ? text : NULL,
                             e == BT_JOB_END_SUCCEEDED ? NULL : text, &err)) {
    warn_queue(&sl->job, "finish", &err);
    if (err.code != BT_ESTATE) sl->reported = false; /* a queue error: release it below */
  } else {
    if (e == BT_JOB_END_SUCCEEDED) s->st.succeeded++;
    else if (e == BT_JOB_END_CANCELLED) s->st.cancelled++;
    else s->st.failed++;
    if (e == BT_JOB_END_CANCELLED) log_ids(&sl->job, "backtest_cancelled", BT_LOG_INFO, text);
  }
  bt_err_clear(&err);
  free(text);
}

static void on_line(sup *s, slot *sl, const char *line) {
  cJSON *msg = cJSON_Parse(line);
  if (!msg) return;
  const cJSON *pr = cJSON_GetObjectItemCaseSensitive(msg, "progress");
  if (cJSON_IsNumber(pr)) {
    sl->progress = pr->valuedouble;
    const cJSON *b = cJSON_GetObjectItemCaseSensitive(msg, "bars");
    if (cJSON_IsNumber(b)) sl->bars = (int64_t)b->valuedouble;
  } else if (!sl->reported) {
    on_outcome(s, sl, msg);
  }
  cJSON_Delete(msg);
}

static void read_pipe(sup *s, slot *sl) {
  while (sl->fd >= 0) {
    if (BT_GROW(sl->buf, sl->cap, sl->len + 4096)) return;
    ssize_t n = read(sl->fd, sl->buf + sl->len, sl->cap - sl->len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      close(sl->fd);
      sl->fd = -1;
      return;
    }
    sl->len += (size_t)n;
    sl->buf[sl->len] = 0;
    char *start = sl->buf, *nl;
    while ((nl = strchr(start, '\n'))) {
      *nl = 0;
      on_line(s, sl, start);
      start = nl + 1;
    }
    sl->len -= (size_t)(start - sl->buf);
    memmove(sl->buf, start, sl->len);
  }
}

/* The job process is gone and its pipe drained: settle the job if it did not report. */
static void settle(sup *s, slot *sl) {
  if (!sl->reported && !sl->lease_lost) {
    bool shutdown = s->stopping && sl->killed && !sl->cancelling;
    const char *reason = shutdown ? "shutdown" : sl->cancelling ? "cancelled" : "child_died";
    bt_job_state now = BT_JOB_QUEUED;
    bt_err err = {0};
    if (bt_queue_release(s->q, sl->job.run_id, s->worker_id, sl->job.attempt, !shutdown,
                         reason, &now, &err)) {
      warn_queue(&sl->job, "release", &err);
    } else {
      char detail[160];
      int code = WIFEXITED(sl->wstatus) ? WEXITSTATUS(sl->wstatus) : 0;
      int sig = WIFSIGNALED(sl->wstatus) ? WTERMSIG(sl->wstatus) : 0;
      snprintf(detail, sizeof detail, "{\"reason\":\"%s\",\"exit_code\":%d,\"signal\":%d,\"now\":\"%s\"}",
               reason, code, sig, bt_job_state_name(now));
      if (shutdown) s->st.handed_back++;
      else if (now == BT_JOB_CANCELLED) s->st.cancelled++;
      else s->st.lost++;
      if (now == BT_JOB_FAILED) s->st.failed++;
      log_ids(&sl->job, now == BT_JOB_FAILED ? "backtest_failed" : "job_released",
              shutdown || now == BT_JOB_CANCELLED ? BT_LOG_INFO : BT_LOG_WARNING, detail);
    }
    bt_err_clear(&err);
  }
  if (sl->fd >= 0) close(sl->fd);
  slot_free(sl);
  s->running--;
}

static void reap(sup *s) {
  int status;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    for (int i = 0; i < s->nslots; i++) {
      slot *sl = &s->slots[i];
      if (!sl->used || sl->pid != pid) continue;
      sl->exited = true;
      sl->wstatus = status;
      read_pipe(s, sl); /* whatever it wrote before dying */
      if (sl->fd >= 0) { /* a grandchild holds the pipe open: do not wait for it */
        close(sl->fd);
        sl->fd = -1;
      }
      settle(s, sl);
    }
  }
}

static void begin_cancel(sup *s, slot *sl) {
  if (sl->cancelling) return;
  sl->cancelling = true;
  sl->term_sent = now_ms();
  kill(sl->pid, SIGTERM);
  (void)s;
}

static void heartbeats(sup *s, int64_t now) {
  for (int i = 0; i < s->nslots; i++) {
    slot *sl = &s->slots[i];
    if (!sl->used || sl->reported || sl->lease_lost || now < sl->next_heartbeat) continue;
    sl->next_heartbeat = now + s->o.heartbeat_ms;
    bool cancel = false;
    bt_err err = {0};
    int rc = bt_queue_heartbeat(s->q, sl->job.run_id, s->worker_id, sl->job.attempt,
                                s->o.lease_ms, sl->progress, sl->bars, &cancel, &err);
    if (rc == BT_ESTATE) {
      /* Someone requeued it (our lease ran out while we were stalled): stop working on
       * a job that is no longer ours. */
      sl->lease_lost = true;
      warn_queue(&sl->job, "heartbeat", &err);
      kill(sl->pid, SIGKILL);
      sl->killed = true;
    } else if (rc) {
      warn_queue(&sl->job, "heartbeat", &err);
    } else if (cancel) {
      begin_cancel(s, sl);
    }
    bt_err_clear(&err);
  }
}

static void poll_cancels(sup *s) {
  char(*ids)[BT_JOB_ID_LEN] = NULL;
  size_t n = 0;
  bt_err err = {0};
  if (bt_queue_cancel_requested(s->q, s->worker_id, &ids, &n, &err)) warn_queue(NULL, "cancel_poll", &err);
  for (size_t k = 0; k < n; k++)
    for (int i = 0; i < s->nslots; i++)
      if (s->slots[i].used && strcmp(s->slots[i].job.run_id, ids[k]) == 0)
        begin_cancel(s, &s->slots[i]);
  free(ids);
  bt_err_clear(&err);
}

static void escalate(sup *s, int64_t now) {
  for (int i = 0; i < s->nslots; i++) {
    slot *sl = &s->slots[i];
    if (!sl->used || sl->killed || sl->exited) continue;
    bool late_cancel = sl->cancelling && now - sl->term_sent >= s->o.kill_grace_ms;
    bool late_stop = s->stopping && now >= s->stop_deadline;
    if (late_cancel || late_stop) {
      kill(sl->pid, SIGKILL);
      sl->killed = true;
    }
  }
}

static void on_signals(sup *s) {
  struct signalfd_siginfo si;
  while (read(s->sigfd, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
      int64_t now = now_ms();
      if (s->stopping) s->stop_deadline = now; /* a second signal: no more grace */
      else {
        s->stopping = true;
        s->stop_deadline = now + s->o.shutdown_grace_ms;
        bt_log(LOGGER, BT_LOG_INFO, "worker_stopping", BT_F_INT("running", s->running),
               BT_F_INT("grace_ms", s->o.shutdown_grace_ms));
      }
    }
  }
}

static void defaults(bt_supervisor_opts *o) {
  if (o->workers <= 0) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->workers = n > 0 ? (int)n : 1;
  }
  if (o->lease_ms <= 0) o->lease_ms = 30000;
  if (o->heartbeat_ms <= 0) o->heartbeat_ms = 1000;
  if (o->poll_ms <= 0) o->poll_ms = 100;
  if (o->cancel_poll_ms <= 0) o->cancel_poll_ms = 250;
  if (o->kill_grace_ms <= 0) o->kill_grace_ms = 500;
  if (o->shutdown_grace_ms < 0) o->shutdown_grace_ms = 0;
  else if (o->shutdown_grace_ms == 0) o->shutdown_grace_ms = 30000;
}

int bt_supervisor_run(bt_queue *q, const bt_supervisor_opts *opts, bt_supervisor_stats *stats,
                      bt_err *err) {
  if (!opts->run && !opts->app)
    return bt_errf(err, BT_EINVAL, "worker_error", "supervisor: no app to run jobs with");
  sup s = {.q = q, .o = *opts, .pid = getpid()};
  defaults(&s.o);
  if (s.o.worker_id && *s.o.worker_id) snprintf(s.worker_id, sizeof s.worker_id, "%s", s.o.worker_id);
  else {
    char host[64] = "host", rnd[40];
    gethostname(host, sizeof host - 1);
    bt_uuid(rnd);
    snprintf(s.worker_id, sizeof s.worker_id, "%s:%d:%.8s", host, (int)s.pid, rnd);
  }
  s.nslots = s.o.workers;
  s.slots = calloc((size_t)s.nslots, sizeof *s.slots);
  if (!s.slots) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  for (int i = 0; i < s.nslots; i++) s.slots[i].fd = -1;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGUSR1);
  sigaddset(&mask, SIGCHLD);
  sigprocmask(SIG_BLOCK, &mask, &s.oldmask);
  s.sigfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (s.sigfd < 0) {
    sigprocmask(SIG_SETMASK, &s.oldmask, NULL);
    free(s.slots);
    return bt_errf(err, BT_EIO, "worker_error", "signalfd: %s", strerror(errno));
  }
  bt_log(LOGGER, BT_LOG_INFO, "worker_started", BT_F_STR("worker_id", s.worker_id),
         BT_F_INT("workers", s.nslots), BT_F_STR("queue", q->ops->name));

  int rc = 0;
  int64_t next_expiry = 0, next_cancel_poll = 0, idle_since = now_ms();
  struct pollfd *pfds = calloc((size_t)s.nslots + 2, sizeof *pfds);
  slot **owner = calloc((size_t)s.nslots + 2, sizeof *owner); /* owner[i]: slot of pfds[i] */
  if (!pfds || !owner) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  while (!rc) {
    int64_t now = now_ms();
    if (s.o.stop && *s.o.stop && !s.stopping) {
      s.stopping = true;
      s.stop_deadline = now + s.o.shutdown_grace_ms;
    }
    if (s.stopping && s.running == 0) break;
    if (now >= next_expiry) {
      int requeued = 0;
      bt_err e = {0};
      if (bt_queue_requeue_expired(q, now, &requeued, NULL, &e)) warn_queue(NULL, "requeue_expired", &e);
      s.st.requeued_expired += (uint64_t)requeued;
      bt_err_clear(&e);
      next_expiry = now + EXPIRY_SCAN_MS;
    }
    bool empty = false;
    while (!s.stopping && s.running < s.nslots) {
      bt_job j;
      bool got = false;
      bt_err e = {0};
      if (bt_queue_claim(q, s.worker_id, s.o.lease_ms, &j, &got, &e)) {
        warn_queue(NULL, "claim", &e);
        bt_err_clear(&e);
        break;
      }
      if (!got) {
        empty = true;
        break;
      }
      start_job(&s, &j);
      bt_job_clear(&j);
    }
    if (s.running || !empty) idle_since = now;
    else if (s.o.exit_when_idle_ms > 0 && now - idle_since >= s.o.exit_when_idle_ms) break;
    heartbeats(&s, now);
    if (s.running && now >= next_cancel_poll) {
      poll_cancels(&s);
      next_cancel_poll = now + s.o.cancel_poll_ms;
    }
    escalate(&s, now);

    int n = 0;
    pfds[n++] = (struct pollfd){.fd = s.sigfd, .events = POLLIN};
    /* With a free slot, a job queued elsewhere wakes us at once (a hint; we poll too). */
    int wake = s.running < s.nslots && !s.stopping ? bt_queue_wake_fd(q) : -1;
    if (wake >= 0) pfds[n++] = (struct pollfd){.fd = wake, .events = POLLIN};
    int first_slot = n;
    for (int i = 0; i < s.nslots; i++)
      if (s.slots[i].used && s.slots[i].fd >= 0) {
        owner[n] = &s.slots[i];
        pfds[n++] = (struct pollfd){.fd = s.slots[i].fd, .events = POLLIN};
      }
    /* Wake for the next claim (when a slot is free), heartbeat, cancel poll or kill. */
    int64_t wait = s.running < s.nslots && !s.stopping ? s.o.poll_ms : 1000;
    if (s.running) {
      if (s.o.cancel_poll_ms < wait) wait = s.o.cancel_poll_ms;
      if (s.o.heartbeat_ms < wait) wait = s.o.heartbeat_ms;
    }
    if (s.stopping && s.stop_deadline - now < wait) wait = s.stop_deadline > now ? s.stop_deadline - now : 10;
    if (poll(pfds, (nfds_t)n, (int)wait) > 0) {
      for (int i = first_slot; i < n; i++)
        if (pfds[i].revents) read_pipe(&s, owner[i]);
      if (wake >= 0 && pfds[1].revents) bt_queue_wake_drain(q);
      if (pfds[0].revents) on_signals(&s);
    }
    reap(&s);
  }
  /* Stopped: hand back what still runs (only after an error; a normal stop drained). */
  for (int i = 0; i < s.nslots; i++) {
    slot *sl = &s.slots[i];
    if (!sl->used) continue;
    kill(sl->pid, SIGKILL);
    sl->killed = true;
    s.stopping = true;
    waitpid(sl->pid, &sl->wstatus, 0);
    sl->exited = true;
    read_pipe(&s, sl);
    settle(&s, sl);
  }
  bt_log(LOGGER, BT_LOG_INFO, "worker_stopped", BT_F_STR("worker_id", s.worker_id),
         BT_F_INT("claimed", s.st.claimed), BT_F_INT("succeeded", s.st.succeeded),
         BT_F_INT("failed", s.st.failed), BT_F_INT("cancelled", s.st.cancelled),
         BT_F_INT("lost", s.st.lost), BT_F_INT("handed_back", s.st.handed_back));
  free(pfds);
  free(owner);
  free(s.slots);
  close(s.sigfd);
  /* Signals that arrived while blocked stay pending; drop ours so restoring the mask
   * does not deliver a stale SIGCHLD/SIGUSR1 to the caller. */
  struct timespec zero = {0};
  while (sigtimedwait(&mask, NULL, &zero) > 0) {}
  sigprocmask(SIG_SETMASK, &s.oldmask, NULL);
  if (stats) *stats = s.st;
  return rc;
}

int bt_supervisor_spawn(bt_queue_open_fn open_queue, void *open_ud,
                        const bt_supervisor_opts *opts, pid_t *pid, bt_err *err) {
  /* Blocked across the fork, so a SIGTERM sent at once waits for the supervisor's loop. */
  sigset_t mask, old;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, &old);
  fflush(NULL);
  pid_t p = fork();
  if (p != 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    if (p < 0) return bt_errf(err, BT_EIO, "worker_error", "fork: %s", strerror(errno));
    *pid = p;
    return 0;
  }
  prctl(PR_SET_PDEATHSIG, SIGTERM); /* the server died: stop like on SIGTERM */
  bt_queue *q = NULL;
  bt_err e = {0};
  int rc = open_queue(open_ud, &q, &e);
  if (!rc) rc = bt_supervisor_run(q, opts, NULL, &e);
  if (rc)
    bt_log(LOGGER, BT_LOG_ERROR, "worker_failed", BT_F_STR("error_type", e.type),
           BT_F_STR("message", e.msg));
  bt_queue_close(q);
  bt_err_clear(&e);
  _exit(rc ? 1 : 0);
}
