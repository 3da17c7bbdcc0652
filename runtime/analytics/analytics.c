#define _GNU_SOURCE /* pthread_setname_np */
#include "analytics.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics_consent.h"
#include "analytics_http.h"
#include "analytics_session.h"
#include "uuid.h"
#include "analytics_spool.h"
#include "analytics_util.h"
#include "grow.h"
#include "log.h"

#define LOGGER "analytics"
/* PostHog treats events older than this as a backfill (historical_migration). */
#define HISTORICAL_AGE_MS (48ll * 3600 * 1000)

typedef struct qitem {
  char *p; /* spool payload "ts_ms\tdistinct_id\tevent-json" */
  size_t n;
} qitem;

typedef struct brec { /* a spooled event loaded for sending */
  char *p;
  size_t n;
  int64_t end;
  int64_t ts_ms;
  const char *json;
} brec;

struct bt_analytics {
  bt_analytics_opts o;
  char dir[600];
  char url[1100];
  char install_id[40];
  bt_an_schemas *schemas;
  bt_an_consent *consent;
  bt_an_sessions *sessions;
  bt_an_spool *spool;
  bt_an_http *http;

  pthread_mutex_t qmu; /* the ring only: held for a pointer copy */
  pthread_mutex_t jmu; /* taking events out of the ring and writing them, so journal
                          order is capture order (the sender and overflowing capturers) */
  qitem *ring;
  size_t cap, head, count;
  int urgent;

  pthread_t thread;
  int stop;             /* atomics: set by close / flush, read by the sender */
  int flush_req;
  int active;           /* set by the first capture or flush: until then the sender only
                           journals, so `btrun analytics opt-out X` records the opt-out
                           before its own process sends X's adopted backlog */
  uint64_t deadline_ns;
  uint64_t rnd;         /* sender thread's jitter state */
  bt_analytics_stats st;
};

#define ATOMIC_ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)
#define ATOMIC_GET(x) __atomic_load_n(&(x), __ATOMIC_ACQUIRE)
#define ATOMIC_SET(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELEASE)

void bt_analytics_opts_default(bt_analytics_opts *o) {
  memset(o, 0, sizeof *o);
  o->enabled = true;
  snprintf(o->host, sizeof o->host, "https://us.i.posthog.com");
  o->batch_size = 100;
  o->flush_interval_ms = 1000;
  o->sync_interval_ms = 200;
  o->request_timeout_ms = 10000;
  o->shutdown_timeout_ms = 2000;
  o->max_queue = 10000;
  o->spool_max_bytes = 64ll << 20;
  o->session_timeout_minutes = 30;
  o->max_retries = 8;
  o->retry_base_ms = 500;
  o->retry_max_ms = 30000;
  o->replay_interval_ms = 60000;
}

/* ---- capture ------------------------------------------------------------------- */

static void drain_locked(bt_analytics *a);
static void drain_to_spool(bt_analytics *a, bool sync);

static void enqueue(bt_analytics *a, char *p, size_t n, bool urgent) {
  bool wake = false, full = false;
  if (!ATOMIC_GET(a->active)) ATOMIC_SET(a->active, 1);
  pthread_mutex_lock(&a->qmu);
  if (a->count < a->cap) {
    a->ring[(a->head + a->count) % a->cap] = (qitem){p, n};
    a->count++;
    if (urgent) a->urgent = 1;
    wake = urgent || a->count == (size_t)a->o.batch_size || a->count == a->cap;
  } else {
    full = true;
  }
  pthread_mutex_unlock(&a->qmu);
  if (full) {
    /* Over the memory bound: spool the ring's events and this one ourselves, in
     * order, instead of dropping or waiting for the sender (no fsync here). */
    pthread_mutex_lock(&a->jmu);
    drain_locked(a);
    const char *pp = p;
    int dropped = bt_an_spool_append(a->spool, &pp, &n, 1, false);
    pthread_mutex_unlock(&a->jmu);
    if (dropped > 0) ATOMIC_ADD(a->st.dropped_cap, (uint64_t)dropped);
    else ATOMIC_ADD(a->st.overflowed, 1);
    free(p);
    wake = true;
  }
  if (wake) bt_an_http_wakeup(a->http);
}

/* Integers as raw text: cJSON's double printing round-trips through sscanf. */
static void add_int(cJSON *o, const char *k, int64_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "%lld", (long long)v);
  cJSON_AddRawToObject(o, k, buf);
}

static void add_reserved(cJSON *props, int64_t version, const char *sid, int64_t session_ms,
                         bool anonymous) {
  add_int(props, "schema_version", version);
  cJSON_AddStringToObject(props, "$lib", "btrun");
  cJSON_AddStringToObject(props, "$lib_version", BT_VERSION);
  cJSON_AddStringToObject(props, "$session_id", sid);
  add_int(props, "session_duration_ms", session_ms);
  if (anonymous) cJSON_AddFalseToObject(props, "$process_person_profile");
}

/* Render and queue an already validated event. */
static int stamp_and_queue(bt_analytics *a, const char *event, cJSON *props, int64_t version,
                           const char *distinct, bool anonymous, const char *sid,
                           int64_t session_ms, int64_t ts_ms, bool urgent, const char *key,
                           char uuid_out[40]) {
  char uuid[40], iso[32];
  if (key) bt_an_uuid_of(key, uuid);
  else bt_uuid(uuid);
  bt_an_iso_ms(ts_ms, iso);
  add_reserved(props, version, sid, session_ms, anonymous);
  cJSON *ev = cJSON_CreateObject();
  if (!ev) {
    cJSON_Delete(props);
    return BT_ENOMEM;
  }
  cJSON_AddStringToObject(ev, "event", event);
  cJSON_AddStringToObject(ev, "distinct_id", distinct);
  cJSON_AddItemToObject(ev, "properties", props);
  cJSON_AddStringToObject(ev, "timestamp", iso);
  cJSON_AddStringToObject(ev, "uuid", uuid);
  /* Print into a stack buffer (one malloc for the payload below) unless it is big. */
  char stack[4096], *json = stack;
  if (!cJSON_PrintPreallocated(ev, stack, (int)sizeof stack, false))
    json = cJSON_PrintUnformatted(ev);
  cJSON_Delete(ev);
  if (!json) return BT_ENOMEM;
  size_t jl = strlen(json), dl = strlen(distinct);
  char *p = malloc(jl + dl + 24);
  if (p) {
    int n = sprintf(p, "%lld\t%s\t", (long long)ts_ms, distinct);
    memcpy(p + n, json, jl + 1);
    jl += (size_t)n;
  }
  if (json != stack) free(json);
  if (!p) return BT_ENOMEM;
  enqueue(a, p, jl, urgent);
  ATOMIC_ADD(a->st.captured, 1);
  if (uuid_out) memcpy(uuid_out, uuid, 37);
  return 0;
}

static void session_event(bt_analytics *a, const char *name, const char *distinct,
                          const char *sid, int64_t start_ms, int64_t at_ms) {
  if (bt_an_consent_opted_out(a->consent, distinct)) return;
  bt_an_schema_info info;
  bt_err err = {0};
  cJSON *props = cJSON_CreateObject();
  if (!props) return;
  if (bt_an_schemas_validate(a->schemas, name, props, &info, &err)) {
    cJSON_Delete(props);
    return; /* schema removed by the user: no session events */
  }
  stamp_and_queue(a, name, props, info.version, distinct, strcmp(distinct, a->install_id) == 0,
                  sid, at_ms - start_ms, at_ms, false, NULL, NULL);
}

static void on_session_end(void *ud, const char *distinct, const char *id, int64_t start,
                           int64_t last) {
  session_event(ud, "session_end", distinct, id, start, last);
}

int bt_analytics_capture(bt_analytics *a, const char *event, cJSON *props,
                         const bt_analytics_capture_opts *co, char uuid_out[40], bt_err *err) {
  if (uuid_out) uuid_out[0] = '\0';
  if (!a) {
    cJSON_Delete(props);
    return 0;
  }
  if (!props) props = cJSON_CreateObject();
  if (!props) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  const char *user = co && co->user_id ? co->user_id : NULL;
  if (!user) {
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(props, "user_id");
    if (cJSON_IsString(u)) user = u->valuestring;
  }
  if (!user && a->o.user_id[0]) user = a->o.user_id;
  if (user && bt_an_consent_opted_out(a->consent, user)) {
    ATOMIC_ADD(a->st.opted_out, 1);
    cJSON_Delete(props);
    return 0;
  }
  bt_an_schema_info info;
  bt_err verr = {0};
  int rc = bt_an_schemas_validate(a->schemas, event ? event : "", props, &info, &verr);
  if (!rc && user && bt_an_user_id_check(user, &verr)) {
    snprintf(verr.field, sizeof verr.field, "user_id");
    rc = BT_EINVAL;
  }
  if (rc) {
    ATOMIC_ADD(a->st.invalid, 1);
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_invalid_event", BT_F_STR("analytics_event", event),
           BT_F_STR("field", verr.field), BT_F_STR("reason", verr.msg));
    cJSON_Delete(props);
    if (err) *err = verr;
    return BT_EINVAL;
  }
  /* Copy: user may point into props, which is consumed below. */
  char distinct[128];
  snprintf(distinct, sizeof distinct, "%s", user ? user : a->install_id);
  bool anonymous = user == NULL;
  int64_t now = bt_wall_ms();
  int64_t ts = co && co->timestamp_ms ? co->timestamp_ms : now;
  bt_an_session_change sc;
  bt_an_sessions_touch(a->sessions, distinct, now, &sc);
  if (sc.ended) session_event(a, "session_end", distinct, sc.ended_id, sc.ended_start_ms,
                              sc.ended_last_ms);
  if (sc.started) session_event(a, "session_start", distinct, sc.id, sc.start_ms, sc.start_ms);
  rc = stamp_and_queue(a, info.name, props, info.version, distinct, anonymous, sc.id,
                       now - sc.start_ms, ts, co && co->urgent, co ? co->idempotency_key : NULL,
                       uuid_out);
  if (rc) return bt_errf(err, rc, "analytics_error", "out of memory");
  if (co && co->durable) drain_to_spool(a, true);
  return 0;
}

/* ---- sender thread ------------------------------------------------------------- */

/* Move the ring into the spool in one write; caller holds jmu. */
static void drain_locked(bt_analytics *a) {
  pthread_mutex_lock(&a->qmu);
  size_t n = a->count, cap = a->cap, head = a->head;
  qitem *items = n ? malloc(n * sizeof *items) : NULL;
  if (items) {
    for (size_t i = 0; i < n; i++) items[i] = a->ring[(head + i) % cap];
    a->head = (head + n) % cap;
    a->count = 0;
  }
  a->urgent = 0;
  pthread_mutex_unlock(&a->qmu);
  if (!items) return;
  const char **ps = malloc(n * sizeof *ps);
  size_t *ls = malloc(n * sizeof *ls);
  if (ps && ls) {
    for (size_t i = 0; i < n; i++) ps[i] = items[i].p, ls[i] = items[i].n;
    int dropped = bt_an_spool_append(a->spool, ps, ls, n, false);
    if (dropped > 0) ATOMIC_ADD(a->st.dropped_cap, (uint64_t)dropped);
    if (dropped < 0)
      bt_log(LOGGER, BT_LOG_WARNING, "analytics_spool_write_failed",
             BT_F_STR("reason", strerror(errno)));
  }
  for (size_t i = 0; i < n; i++) free(items[i].p);
  free(items);
  free(ps);
  free(ls);
}

/* The sender's drain: the fdatasync happens outside jmu so capturers never wait on it. */
static void drain_to_spool(bt_analytics *a, bool sync) {
  pthread_mutex_lock(&a->jmu);
  drain_locked(a);
  pthread_mutex_unlock(&a->jmu);
  if (sync) bt_an_spool_sync(a->spool);
}

typedef struct sender {
  bt_analytics *a;
  brec *b;           /* loaded batch */
  size_t n, cap;
  int64_t read_off;  /* next spool offset to load */
  size_t send_n;     /* records in flight */
  size_t max_send;   /* lowered by 413 */
  int attempt;
  uint64_t next_try_ns;
  bool gave_up;      /* shutdown: stop trying, leave the rest in the spool */
} sender;

static uint64_t ms_ns(int64_t ms) { return (uint64_t)ms * 1000000ull; }

static bool rec_historical(const brec *r, int64_t now_ms) {
  return now_ms - r->ts_ms > HISTORICAL_AGE_MS;
}

/* Top up the batch from the spool; skips events of opted-out users. */
static void load_batch(sender *s) {
  bt_analytics *a = s->a;
  int64_t now_ms = bt_wall_ms();
  /* One stat(): an opt-out made a moment ago (even by this process's own
   * `btrun analytics opt-out`) applies before anything else is sent. */
  if (s->n < (size_t)a->o.batch_size) bt_an_consent_refresh(a->consent);
  while (s->n < (size_t)a->o.batch_size) {
    char *p;
    size_t len;
    int64_t start, off = s->read_off;
    if (bt_an_spool_read(a->spool, &off, &p, &len, &start) != 1) break;
    char *t1 = memchr(p, '\t', len), *t2 = t1 ? memchr(t1 + 1, '\t', len - (size_t)(t1 + 1 - p)) : NULL;
    if (!t2) { /* not ours (checksum ok but malformed): skip it */
      free(p);
      s->read_off = off;
      continue;
    }
    *t2 = '\0';
    brec r = {p, len, off, strtoll(p, NULL, 10), t2 + 1};
    if (bt_an_consent_opted_out(a->consent, t1 + 1)) {
      ATOMIC_ADD(a->st.opted_out, 1);
      free(p);
      s->read_off = off;
      continue;
    }
    /* One historical_migration flag per request: stop where it changes. */
    if (s->n && rec_historical(&s->b[0], now_ms) != rec_historical(&r, now_ms)) {
      free(p);
      break;
    }
    if (BT_GROW(s->b, s->cap, s->n + 1)) {
      free(p);
      break;
    }
    s->b[s->n++] = r;
    s->read_off = off;
  }
}

static int start_send(sender *s) {
  bt_analytics *a = s->a;
  size_t n = s->n < s->max_send ? s->n : s->max_send;
  size_t cap = 256 + strlen(a->o.api_key);
  for (size_t i = 0; i < n; i++) cap += strlen(s->b[i].json) + 1;
  char *body = malloc(cap);
  if (!body) return -1;
  char sent[32];
  bt_an_iso_ms(bt_wall_ms(), sent);
  cJSON *key = cJSON_CreateString(a->o.api_key);
  char *key_json = key ? cJSON_PrintUnformatted(key) : NULL;
  cJSON_Delete(key);
  if (!key_json) {
    free(body);
    return -1;
  }
  size_t len = (size_t)sprintf(body, "{\"api_key\":%s,\"historical_migration\":%s,\"sentAt\":\"%s\",\"batch\":[",
                               key_json, rec_historical(&s->b[0], bt_wall_ms()) ? "true" : "false", sent);
  free(key_json);
  for (size_t i = 0; i < n; i++) {
    if (i) body[len++] = ',';
    size_t jl = strlen(s->b[i].json);
    memcpy(body + len, s->b[i].json, jl);
    len += jl;
  }
  len += (size_t)sprintf(body + len, "]}");
  bt_err err = {0};
  int rc = bt_an_http_start(a->http, body, len, &err);
  free(body);
  if (rc == 0) {
    s->send_n = n;
    ATOMIC_ADD(a->st.batches, 1);
  }
  return rc;
}

/* The first send_n records are done (delivered or rejected for good). */
static void complete(sender *s) {
  bt_analytics *a = s->a;
  int64_t ack = s->send_n == s->n ? s->read_off : s->b[s->send_n - 1].end;
  for (size_t i = 0; i < s->send_n; i++) free(s->b[i].p);
  memmove(s->b, s->b + s->send_n, (s->n - s->send_n) * sizeof *s->b);
  s->n -= s->send_n;
  s->send_n = 0;
  s->attempt = 0;
  if (bt_an_spool_ack(a->spool, ack) == 1) s->read_off = 0;
}

static void on_result(sender *s, const bt_an_http_result *r, bool stopping) {
  bt_analytics *a = s->a;
  long st = r->status;
  uint64_t now = bt_now_ns();
  if (r->curl_code == 0 && st >= 200 && st < 300) {
    ATOMIC_ADD(a->st.delivered, s->send_n);
    complete(s);
    return;
  }
  bool retry = r->curl_code != 0 || st == 408 || st == 429 || st >= 500;
  if (!retry && st == 413) {
    if (s->send_n > 1) {
      s->max_send = s->send_n / 2; /* stays lowered: later batches are likely as large */
      bt_log(LOGGER, BT_LOG_INFO, "analytics_batch_split", BT_F_INT("events", s->send_n),
             BT_F_INT("new_batch_size", s->max_send));
      s->send_n = 0;
      s->next_try_ns = now;
      return;
    }
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_event_too_large", BT_F_INT("status", st),
           BT_F_INT("bytes", strlen(s->b[0].json)),
           BT_F_STR("detail", "a single event was rejected as too large; dropped"));
    ATOMIC_ADD(a->st.rejected, 1);
    complete(s);
    return;
  }
  if (!retry) {
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_batch_rejected", BT_F_INT("status", st),
           BT_F_INT("events", s->send_n), BT_F_STR("reason", r->reason),
           BT_F_STR("detail", "terminal client error: the batch is dropped"));
    ATOMIC_ADD(a->st.rejected, s->send_n);
    complete(s);
    return;
  }
  ATOMIC_ADD(a->st.retries, 1);
  s->send_n = 0;
  s->attempt++;
  if (stopping) { /* no waiting at exit: the spool keeps the batch for later */
    s->gave_up = true;
    return;
  }
  int64_t delay;
  if (s->attempt > a->o.max_retries) {
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_delivery_deferred", BT_F_INT("status", st),
           BT_F_STR("reason", r->reason), BT_F_INT("attempts", s->attempt - 1),
           BT_F_INT("retry_in_ms", a->o.replay_interval_ms),
           BT_F_STR("detail", "events stay in the spool and are retried later"));
    s->attempt = 0;
    delay = a->o.replay_interval_ms;
  } else {
    int shift = s->attempt - 1 < 30 ? s->attempt - 1 : 30;
    int64_t exp = a->o.retry_base_ms << shift;
    if (exp > a->o.retry_max_ms || exp <= 0) exp = a->o.retry_max_ms;
    /* Equal jitter: half fixed, half random, so retries of many clients spread out. */
    delay = exp / 2 + (int64_t)(bt_an_random01(&a->rnd) * (double)(exp - exp / 2));
    if (r->retry_after_ms > delay) delay = r->retry_after_ms;
    bt_log(LOGGER, BT_LOG_DEBUG, "analytics_retry", BT_F_INT("status", st),
           BT_F_STR("reason", r->reason), BT_F_INT("attempt", s->attempt),
           BT_F_INT("delay_ms", delay));
  }
  s->next_try_ns = now + ms_ns(delay);
}

static void adopt(bt_analytics *a) {
  int files = 0;
  bt_err err = {0};
  int64_t n = bt_an_spool_adopt(a->spool, &files, &err);
  if (n > 0) {
    ATOMIC_ADD(a->st.adopted, (uint64_t)n);
    bt_log(LOGGER, BT_LOG_INFO, "analytics_spool_replay", BT_F_INT("events", n),
           BT_F_INT("files", files));
  }
  if (err.code)
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_spool_replay_failed", BT_F_STR("reason", err.msg));
}

static int min_timeout(uint64_t now, uint64_t until, int cur) {
  if (until <= now) return 0;
  uint64_t ms = (until - now + 999999) / 1000000;
  return ms < (uint64_t)cur ? (int)ms : cur;
}

static void *sender_main(void *ud) {
  pthread_setname_np(pthread_self(), "bt-analytics");
  bt_analytics *a = ud;
  sender s = {.a = a, .max_send = (size_t)a->o.batch_size};
  uint64_t now = bt_now_ns();
  uint64_t last_drain = now, last_adopt = now, last_housekeeping = now;
  for (;;) {
    now = bt_now_ns();
    bool stopping = ATOMIC_GET(a->stop) != 0;
    uint64_t deadline = ATOMIC_GET(a->deadline_ns);
    pthread_mutex_lock(&a->qmu);
    size_t queued = a->count;
    bool urgent = a->urgent;
    pthread_mutex_unlock(&a->qmu);
    if (queued && (stopping || urgent || ATOMIC_GET(a->flush_req) ||
                   queued >= (size_t)a->o.batch_size ||
                   now - last_drain >= ms_ns(a->o.sync_interval_ms))) {
      drain_to_spool(a, true);
      last_drain = now;
    } else if (!queued) {
      last_drain = now;
    }
    if (stopping && now >= deadline) break;
    int timeout = (int)a->o.sync_interval_ms;
    if (stopping) timeout = min_timeout(now, deadline, timeout);
    if (bt_an_http_busy(a->http)) {
      bt_an_http_result r;
      if (bt_an_http_wait(a->http, timeout, &r)) on_result(&s, &r, stopping);
      continue;
    }
    if (!stopping && now - last_housekeeping >= ms_ns(1000)) {
      bt_an_sessions_expire(a->sessions, bt_wall_ms(), on_session_end, a);
      last_housekeeping = now;
    }
    if (!stopping && now - last_adopt >= ms_ns(a->o.replay_interval_ms)) {
      ATOMIC_SET(a->active, 1);
      adopt(a);
      last_adopt = now;
    }
    if (s.gave_up) break;
    if (!stopping && !ATOMIC_GET(a->active)) {
      bt_an_http_wait(a->http, timeout, NULL);
      continue;
    }
    load_batch(&s);
    if (!s.n) {
      /* Everything loaded was skipped (consent): acknowledge it so the spool empties. */
      int64_t unacked = bt_an_spool_unacked_bytes(a->spool);
      if (unacked && s.read_off && bt_an_spool_ack(a->spool, s.read_off) == 1) s.read_off = 0;
      pthread_mutex_lock(&a->qmu);
      queued = a->count;
      pthread_mutex_unlock(&a->qmu);
      if (!queued && !bt_an_spool_unacked_bytes(a->spool)) ATOMIC_SET(a->flush_req, 0);
      if (stopping && !queued) break;
      bt_an_http_wait(a->http, stopping ? 0 : timeout, NULL);
      continue;
    }
    int64_t age = bt_wall_ms() - s.b[0].ts_ms;
    bool due = stopping || ATOMIC_GET(a->flush_req) || s.n >= (size_t)a->o.batch_size ||
               age >= a->o.flush_interval_ms;
    if (due && now >= s.next_try_ns) {
      if (start_send(&s) != 0) s.next_try_ns = now + ms_ns(a->o.retry_base_ms);
      continue;
    }
    if (stopping && now < s.next_try_ns) break; /* in backoff at exit: leave it spooled */
    if (!due) timeout = min_timeout(now, now + ms_ns(a->o.flush_interval_ms - age), timeout);
    else timeout = min_timeout(now, s.next_try_ns, timeout);
    bt_an_http_wait(a->http, timeout, NULL);
  }
  bt_an_http_abort(a->http);
  drain_to_spool(a, true);
  for (size_t i = 0; i < s.n; i++) free(s.b[i].p);
  free(s.b);
  return NULL;
}

/* ---- lifecycle ----------------------------------------------------------------- */

bt_analytics *bt_analytics_open(const bt_analytics_opts *o, bt_an_schemas *schemas,
                                bt_err *err) {
  bt_analytics *a = calloc(1, sizeof *a);
  if (!a) {
    bt_an_schemas_free(schemas);
    bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    return NULL;
  }
  a->o = *o;
  if (a->o.batch_size < 1) a->o.batch_size = 1;
  if (a->o.max_queue < 1) a->o.max_queue = 1;
  if (a->o.sync_interval_ms < 1) a->o.sync_interval_ms = 1;
  a->schemas = schemas;
  bt_an_http_global_init();
  snprintf(a->dir, sizeof a->dir, "%s/analytics", o->data_dir);
  size_t hl = strlen(o->host);
  snprintf(a->url, sizeof a->url, "%.*s/batch/", (int)(hl && o->host[hl - 1] == '/' ? hl - 1 : hl),
           o->host);
  char spool_dir[700], sess_path[700];
  snprintf(spool_dir, sizeof spool_dir, "%s/spool", a->dir);
  snprintf(sess_path, sizeof sess_path, "%s/sessions", a->dir);
  int64_t sto = o->session_timeout_ms > 0 ? o->session_timeout_ms
                                          : o->session_timeout_minutes * 60000;
  a->cap = (size_t)a->o.max_queue;
  a->ring = calloc(a->cap, sizeof *a->ring);
  pthread_mutex_init(&a->qmu, NULL);
  pthread_mutex_init(&a->jmu, NULL);
  if (!a->ring || bt_an_installation_id(a->dir, a->install_id, err) ||
      !(a->spool = bt_an_spool_open(spool_dir, o->spool_max_bytes, err)) ||
      !(a->consent = bt_an_consent_open(a->dir)) ||
      !(a->sessions = bt_an_sessions_open(sess_path, sto)) ||
      !(a->http = bt_an_http_new(a->url, o->request_timeout_ms, err)) ||
      (adopt(a), pthread_create(&a->thread, NULL, sender_main, a) != 0)) {
    if (!err->code) bt_errf(err, BT_ENOMEM, "out_of_memory", "cannot start analytics client");
    bt_an_http_free(a->http);
    bt_an_sessions_free(a->sessions);
    bt_an_consent_free(a->consent);
    bt_an_spool_close(a->spool);
    bt_an_schemas_free(a->schemas);
    pthread_mutex_destroy(&a->qmu);
    pthread_mutex_destroy(&a->jmu);
    free(a->ring);
    free(a);
    return NULL;
  }
  return a;
}

/* Under jmu: a drain empties the ring before it appends to the spool, and without
 * the lock that moment looks like "nothing left" (flush returned early, CI saw it). */
static bool all_delivered(bt_analytics *a) {
  pthread_mutex_lock(&a->jmu);
  pthread_mutex_lock(&a->qmu);
  size_t q = a->count;
  pthread_mutex_unlock(&a->qmu);
  bool done = q == 0 && bt_an_spool_unacked_bytes(a->spool) == 0;
  pthread_mutex_unlock(&a->jmu);
  return done;
}

int bt_analytics_flush(bt_analytics *a, int64_t timeout_ms) {
  if (!a) return 0;
  uint64_t until = bt_now_ns() + ms_ns(timeout_ms);
  ATOMIC_SET(a->flush_req, 1);
  ATOMIC_SET(a->active, 1);
  bt_an_http_wakeup(a->http);
  while (!all_delivered(a) && bt_now_ns() < until) {
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  return all_delivered(a) ? 0 : 1;
}

void bt_analytics_get_stats(bt_analytics *a, bt_analytics_stats *st) {
  memset(st, 0, sizeof *st);
  if (!a) return;
  st->captured = ATOMIC_GET(a->st.captured);
  st->invalid = ATOMIC_GET(a->st.invalid);
  st->opted_out = ATOMIC_GET(a->st.opted_out);
  st->delivered = ATOMIC_GET(a->st.delivered);
  st->rejected = ATOMIC_GET(a->st.rejected);
  st->retries = ATOMIC_GET(a->st.retries);
  st->overflowed = ATOMIC_GET(a->st.overflowed);
  st->dropped_cap = ATOMIC_GET(a->st.dropped_cap);
  st->adopted = ATOMIC_GET(a->st.adopted);
  st->batches = ATOMIC_GET(a->st.batches);
  st->pending_bytes = bt_an_spool_unacked_bytes(a->spool);
}

void bt_analytics_close(bt_analytics *a) {
  if (!a) return;
  ATOMIC_SET(a->deadline_ns, bt_now_ns() + ms_ns(a->o.shutdown_timeout_ms));
  ATOMIC_SET(a->stop, 1);
  bt_an_http_wakeup(a->http);
  pthread_join(a->thread, NULL);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  if (st.pending_bytes)
    bt_log(LOGGER, BT_LOG_INFO, "analytics_spooled", BT_F_INT("pending_bytes", st.pending_bytes),
           BT_F_STR("detail", "undelivered events stay in the spool and are sent by the next "
                              "btrun process or `btrun analytics flush`"));
  bt_an_sessions_save(a->sessions);
  bt_an_spool_close(a->spool);
  bt_an_http_free(a->http);
  bt_an_sessions_free(a->sessions);
  bt_an_consent_free(a->consent);
  bt_an_schemas_free(a->schemas);
  pthread_mutex_destroy(&a->qmu);
  pthread_mutex_destroy(&a->jmu);
  free(a->ring);
  free(a);
}
