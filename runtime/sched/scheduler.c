#include "scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "perf_time.h"

int bt_sched_ledger_open_in(const char *data_dir, bt_sched_ledger **out, bt_err *err) {
  char path[1100];
  if (mkdir(data_dir, 0700) != 0 && errno != EEXIST)
    return bt_errf(err, BT_EIO, "io_error", "data dir %s: %s", data_dir, strerror(errno));
  snprintf(path, sizeof path, "%s/schedules.db", data_dir);
  return bt_sched_ledger_open(path, out, err);
}

void bt_sched_env_owner(char owner[64]) {
  char host[40] = "";
  gethostname(host, sizeof host - 1);
  snprintf(owner, 64, "%s:%ld", host, (long)getpid());
}

static void iso(int64_t ms, char *buf) { bt_format_time(ms / 1000, buf); }

/* ---- perf jobs ---------------------------------------------------------------------- */

static int run_perf(const bt_sched_env *env, const bt_schedule *s, int64_t fire_ms,
                    bt_perf_eval *ev, bt_err *err) {
  bt_perf_cfg cfg = *env->perf;
  const bt_sched_perf *o = &s->perf;
  if (o->trades[0]) snprintf(cfg.trades, sizeof cfg.trades, "%s", o->trades);
  if (o->out_dir[0]) snprintf(cfg.out_dir, sizeof cfg.out_dir, "%s", o->out_dir);
  if (o->alerts_file[0]) snprintf(cfg.alerts_file, sizeof cfg.alerts_file, "%s", o->alerts_file);
  if (o->targets[0]) {
    snprintf(cfg.targets, sizeof cfg.targets, "%s", o->targets);
    cfg.targets_explicit = true;
  }
  /* The schedule's zone decides which day "today" is, unless perf.timezone says. */
  snprintf(cfg.timezone, sizeof cfg.timezone, "%s", o->timezone[0] ? o->timezone : bt_tz_name(s->tz));
  bt_perf_window w = BT_PERF_DAILY;
  bt_perf_window_parse(o->window, &w);
  bt_perf p;
  int rc = bt_perf_open(&p, &cfg, err);
  if (!rc) rc = bt_perf_evaluate(&p, w, bt_perf_local_day(fire_ms / 1000, p.tz), bt_wall_ms(), ev, err);
  bt_perf_close(&p);
  return rc;
}

int bt_sched_trigger(const bt_sched_env *env, const bt_schedule *s, int64_t fire_ms,
                  const char *origin, bt_sched_result *r, bt_err *err) {
  memset(r, 0, sizeof *r);
  char when[32];
  iso(fire_ms, when);
  bool manual = strcmp(origin, "manual") == 0;
  snprintf(r->correlation_id, sizeof r->correlation_id, "%s:%s@%s", manual ? "manual" : "schedule",
           s->name, when);
  bt_sched_fire f = {.fire_ms = fire_ms, .created_ms = bt_wall_ms()};
  snprintf(f.schedule, sizeof f.schedule, "%s", s->name);
  snprintf(f.origin, sizeof f.origin, "%s", origin);
  snprintf(f.owner, sizeof f.owner, "%s", env->owner);
  bool claimed = false;
  if (s->kind == BT_SCHED_BACKTEST) {
    char key[160];
    snprintf(key, sizeof key, "schedule:%s@%lld", s->name, (long long)fire_ms);
    bt_job_new nj = {.spec_json = s->spec_json, .strategy = s->strategy,
                     .correlation_id = r->correlation_id, .user_id = env->user_id,
                     .origin = origin, .unique_key = manual ? NULL : key};
    bt_job job = {0};
    bool existed = false;
    int rc = bt_queue_enqueue(env->queue, &nj, &job, &existed, err);
    if (rc) return rc;
    snprintf(r->run_id, sizeof r->run_id, "%s", job.run_id);
    bt_job_clear(&job);
    snprintf(f.kind, sizeof f.kind, "backtest");
    snprintf(f.run_id, sizeof f.run_id, "%s", r->run_id);
    snprintf(f.state, sizeof f.state, "enqueued");
    if ((rc = bt_sched_ledger_claim(env->ledger, &f, &claimed, err))) return rc;
    r->fired = !existed;
    if (r->fired && env->on_enqueued) env->on_enqueued(env->enqueued_ud);
    if (r->fired)
      bt_log("sched", BT_LOG_INFO, "schedule_fired", BT_F_STR("schedule", s->name),
             BT_F_STR("fire_time", when), BT_F_STR("origin", origin), BT_F_STR("kind", "backtest"),
             BT_F_STR("run_id", r->run_id), BT_F_STR("correlation_id", r->correlation_id),
             BT_F_STR("strategy_id", s->strategy));
    return 0;
  }
  snprintf(f.kind, sizeof f.kind, "perf");
  snprintf(f.state, sizeof f.state, "running");
  int rc = bt_sched_ledger_claim(env->ledger, &f, &claimed, err);
  if (rc || !claimed) return rc;
  r->fired = true;
  bt_log("sched", BT_LOG_INFO, "schedule_fired", BT_F_STR("schedule", s->name),
         BT_F_STR("fire_time", when), BT_F_STR("origin", origin), BT_F_STR("kind", "perf"),
         BT_F_STR("correlation_id", r->correlation_id));
  bt_err perr = {0};
  rc = run_perf(env, s, fire_ms, &r->eval, &perr);
  char detail[512];
  int64_t done = bt_wall_ms();
  if (rc) {
    char *ej = bt_log_err_json(&perr);
    snprintf(detail, sizeof detail, "%s", ej ? ej : "{}");
    free(ej);
    bt_log("sched", BT_LOG_ERROR, "perf_job_failed", BT_F_STR("schedule", s->name),
           BT_F_STR("fire_time", when), BT_F_STR("correlation_id", r->correlation_id),
           BT_F_STR("message", perr.msg));
    bt_sched_ledger_finish(env->ledger, s->name, fire_ms, "failed", "", detail, done, NULL);
    *err = perr;
    return rc;
  }
  const bt_perf_eval *e = &r->eval;
  snprintf(r->outcome, sizeof r->outcome, "%s", e->active ? "degraded" : "healthy");
  char a[16], z[16];
  bt_perf_day_format(e->start, a);
  bt_perf_day_format(e->end, z);
  snprintf(detail, sizeof detail,
           "{\"window\":\"%s\",\"period_start\":\"%s\",\"period_end\":\"%s\",\"trades\":%u,"
           "\"new_alerts\":%d,\"active_alerts\":%d,\"files_written\":%d,\"eval_ms\":%.3f}",
           s->perf.window, a, z, e->trades, e->raised, e->active, e->written, e->ms);
  bt_sched_ledger_finish(env->ledger, s->name, fire_ms, "done", r->outcome, detail, done, NULL);
  bt_log("sched", e->active ? BT_LOG_WARNING : BT_LOG_INFO, "perf_job_completed",
         BT_F_STR("schedule", s->name), BT_F_STR("fire_time", when), BT_F_STR("origin", origin),
         BT_F_STR("correlation_id", r->correlation_id), BT_F_STR("outcome", r->outcome),
         BT_F_STR("period_start", a), BT_F_STR("period_end", z), BT_F_INT("trades", e->trades),
         BT_F_INT("new_alerts", e->raised), BT_F_INT("active_alerts", e->active),
         BT_F_DBL("eval_ms", e->ms));
  return 0;
}

/* ---- the scheduler thread ------------------------------------------------------------ */

struct bt_scheduler {
  bt_sched_env env;
  bt_perf_cfg perf;
  char user_id[128];
  char path[1024];
  bool explicit_path;
  bt_schedules set;
  struct stat st;            /* of the file when last loaded: a change triggers a reload */
  bt_sched_clock clock;
  double tick_s;
  int64_t grace_ms;
  atomic_int reload, stop;
  pthread_t thread;
};

static void file_stat(const char *path, struct stat *st) {
  if (stat(path, st) != 0) memset(st, 0, sizeof *st);
}

static bool stat_changed(const struct stat *a, const struct stat *b) {
  return a->st_ino != b->st_ino || a->st_size != b->st_size ||
         a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

static void maybe_reload(bt_scheduler *s) {
  struct stat st;
  file_stat(s->path, &st);
  bool asked = atomic_exchange(&s->reload, 0);
  if (!asked && !stat_changed(&st, &s->st)) return;
  s->st = st;
  if (!asked && bt_schedules_file_hash(s->path) == s->set.hash) return; /* touched only */
  bt_schedules next;
  bt_err err = {0};
  if (bt_schedules_load(s->path, s->explicit_path, &next, &err)) {
    bt_log("sched", BT_LOG_ERROR, "schedules_reload_failed", BT_F_STR("file", s->path),
           BT_F_STR("message", err.msg), BT_F_INT("schedules_kept", (int64_t)s->set.n));
    bt_err_clear(&err);
    return;
  }
  bt_schedules_free(&s->set);
  s->set = next;
  bt_log("sched", BT_LOG_INFO, "schedules_reloaded", BT_F_STR("file", s->path),
         BT_F_INT("schedules", (int64_t)s->set.n));
}

/* Fires of one schedule due at now_ms (see docs/schedules.md, "Missed fires"). */
static void tick_one(bt_scheduler *s, const bt_schedule *sc, int64_t now) {
  bt_err err = {0};
  int64_t upto = 0;
  bool found = false;
  if (bt_sched_ledger_cursor(s->env.ledger, sc->name, &upto, &found, &err)) goto fail;
  if (!found) { /* a new schedule starts from now: nothing in the past fires */
    if (bt_sched_ledger_advance(s->env.ledger, sc->name, now, &err)) goto fail;
    return;
  }
  if (upto >= now) return;
  bool downtime = now - upto > s->grace_ms;
  /* Due fires, oldest first; after downtime only the last catch_up_max missed ones and
   * those inside the grace period are kept. Walking is bounded: beyond it the oldest
   * missed fires are only counted. */
  enum { WALK_MAX = 200000 };
  int keep = sc->catch_up == BT_CATCHUP_ALL ? sc->catch_up_max : 1;
  int64_t *missed = calloc((size_t)keep, sizeof *missed), *ontime = NULL;
  if (!missed) return;
  int nmissed = 0, nontime = 0;
  size_t capontime = 0;
  bool walked_out = false;
  int64_t t = upto / 1000 - (upto % 1000 < 0);
  for (int i = 0;; i++) {
    if (i == WALK_MAX) {
      walked_out = true;
      break;
    }
    t = bt_cron_next(&sc->cron, sc->tz, t);
    if (t == INT64_MAX || t > now / 1000) break;
    int64_t ms = t * 1000;
    if (!downtime || ms >= now - s->grace_ms) {
      if (BT_GROW(ontime, capontime, (size_t)nontime + 1)) break;
      ontime[nontime++] = ms;
    } else {
      missed[nmissed % keep] = ms;
      nmissed++;
    }
  }
  int fire_missed = 0;
  if (nmissed && sc->catch_up == BT_CATCHUP_ALL) fire_missed = nmissed < keep ? nmissed : keep;
  else if (nmissed && sc->catch_up == BT_CATCHUP_LAST && !nontime) fire_missed = 1;
  if (nmissed) {
    char since[32];
    iso(upto, since);
    bt_log("sched", BT_LOG_WARNING, "schedule_missed_fires", BT_F_STR("schedule", sc->name),
           BT_F_INT("missed", nmissed), BT_F_BOOL("more_not_counted", walked_out),
           BT_F_STR("down_since", since), BT_F_STR("catch_up", bt_catchup_name(sc->catch_up)),
           BT_F_INT("catching_up", fire_missed));
  }
  for (int i = nmissed - fire_missed; i < nmissed && !atomic_load(&s->stop); i++) {
    bt_sched_result r;
    if (bt_sched_trigger(&s->env, sc, missed[i % keep], "schedule", &r, &err)) {
      bt_log("sched", BT_LOG_ERROR, "schedule_fire_failed", BT_F_STR("schedule", sc->name),
             BT_F_STR("message", err.msg));
      bt_err_clear(&err);
    }
  }
  for (int i = 0; i < nontime && !atomic_load(&s->stop); i++) {
    bt_sched_result r;
    if (bt_sched_trigger(&s->env, sc, ontime[i], "schedule", &r, &err)) {
      bt_log("sched", BT_LOG_ERROR, "schedule_fire_failed", BT_F_STR("schedule", sc->name),
             BT_F_STR("message", err.msg));
      bt_err_clear(&err);
    }
  }
  free(missed);
  free(ontime);
  if (bt_sched_ledger_advance(s->env.ledger, sc->name, now, &err)) goto fail;
  return;
fail:
  bt_log("sched", BT_LOG_ERROR, "schedule_check_failed", BT_F_STR("schedule", sc->name),
         BT_F_STR("message", err.msg));
  bt_err_clear(&err);
}

static void sleep_s(double s) {
  struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
  nanosleep(&ts, NULL);
}

static void *loop(void *arg) {
  bt_scheduler *s = arg;
  /* Signals belong to the process's signal thread (serve's sigwait). */
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  while (!atomic_load(&s->stop)) {
    maybe_reload(s);
    int64_t now = bt_sched_clock_ms(&s->clock);
    for (size_t i = 0; i < s->set.n && !atomic_load(&s->stop); i++) tick_one(s, &s->set.v[i], now);
    for (double left = s->tick_s; left > 0 && !atomic_load(&s->stop); left -= 0.05)
      sleep_s(left < 0.05 ? left : 0.05);
  }
  return NULL;
}

int bt_scheduler_start(const bt_scheduler_opts *o, bt_scheduler **out, bt_err *err) {
  *out = NULL;
  bt_scheduler *s = calloc(1, sizeof *s);
  if (!s) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  s->perf = *o->perf;
  snprintf(s->user_id, sizeof s->user_id, "%s", o->user_id ? o->user_id : "");
  snprintf(s->path, sizeof s->path, "%s", o->path);
  s->explicit_path = o->explicit_path;
  s->env = (bt_sched_env){.queue = o->queue, .perf = &s->perf, .user_id = s->user_id,
                          .on_enqueued = o->on_enqueued, .enqueued_ud = o->enqueued_ud};
  bt_sched_env_owner(s->env.owner);
  int rc = bt_sched_clock_init(&s->clock, err);
  if (!rc) {
    /* A sped-up test clock is checked more often (at most 10 simulated s apart, but not
     * more than every 50 ms). */
    double t = s->clock.simulated ? 10.0 / s->clock.speed : 1.0;
    s->tick_s = o->tick_s > 0 ? o->tick_s : t < 0.05 ? 0.05 : t > 1 ? 1 : t;
    /* Fires found late by up to a minute (or 20 ticks: a loaded machine may stall a
     * sped-up clock's ticks) are on time; older ones were missed. */
    double g = 20 * s->tick_s * 1000 * (s->clock.simulated ? s->clock.speed : 1);
    s->grace_ms = g > 60000 ? (int64_t)g : 60000;
    file_stat(s->path, &s->st);
    rc = bt_schedules_load(s->path, s->explicit_path, &s->set, err);
  }
  if (!rc) rc = bt_sched_ledger_open_in(o->data_dir, &s->env.ledger, err);
  if (!rc && pthread_create(&s->thread, NULL, loop, s) != 0)
    rc = bt_errf(err, BT_EIO, "thread_error", "cannot start the scheduler thread");
  if (rc) {
    bt_sched_ledger_close(s->env.ledger);
    bt_schedules_free(&s->set);
    free(s);
    return rc;
  }
  bt_log("sched", BT_LOG_INFO, "scheduler_started", BT_F_STR("file", s->path),
         BT_F_INT("schedules", (int64_t)s->set.n), BT_F_BOOL("simulated_clock", s->clock.simulated));
  *out = s;
  return 0;
}

bt_sched_ledger *bt_scheduler_ledger(bt_scheduler *s) { return s->env.ledger; }

void bt_scheduler_reload(bt_scheduler *s) { atomic_store(&s->reload, 1); }

void bt_scheduler_stop(bt_scheduler *s) {
  if (!s) return;
  atomic_store(&s->stop, 1);
  pthread_join(s->thread, NULL);
  bt_sched_ledger_close(s->env.ledger);
  bt_schedules_free(&s->set);
  free(s);
}
