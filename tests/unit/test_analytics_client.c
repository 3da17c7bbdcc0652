/* The analytics client against the loopback test server: wire format, retries,
 * Retry-After, 413 split, terminal 4xx, overflow to the spool, sessions, consent. */
#include "test_analytics_lib.h"

#include "analytics_consent.h"
#include "analytics_spool.h"

static const char *SCHEMAS =
    "return { { name = 'ev', version = 2, required = { n = 'integer' },"
    "           optional = { user_id = 'string', tag = 'string' } } }";

static bt_analytics *open_client(const bt_analytics_opts *o) {
  bt_err err = {0};
  bt_analytics *a = bt_analytics_open(o, test_schemas(SCHEMAS), &err);
  if (!a) fprintf(stderr, "open: %s\n", err.msg);
  return a;
}

static int cap_n(bt_analytics *a, int n, const char *user) {
  cJSON *p = cJSON_CreateObject();
  cJSON_AddNumberToObject(p, "n", n);
  bt_analytics_capture_opts co = {.user_id = user};
  return bt_analytics_capture(a, "ev", p, &co, NULL, NULL);
}

static void test_format(void) {
  server s;
  CHECK(server_start(&s, "format", 0, NULL) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-format");
  bt_analytics *a = open_client(&o);
  CHECK(a != NULL);
  char uuid[40];
  cJSON *p = cJSON_CreateObject();
  cJSON_AddNumberToObject(p, "n", 1);
  cJSON_AddStringToObject(p, "user_id", "alice");
  CHECK(bt_analytics_capture(a, "ev", p, NULL, uuid, NULL) == 0);
  CHECK(strlen(uuid) == 36 && uuid[14] == '4');
  /* An idempotency key: the same fact captured twice has one uuid (version 5). */
  char k[3][40];
  bt_analytics_capture_opts idem = {.idempotency_key = "backtest_job_end:r1"};
  for (int i = 0; i < 3; i++) {
    if (i == 2) idem.idempotency_key = "backtest_job_end:r2";
    cJSON *pi = cJSON_CreateObject();
    cJSON_AddNumberToObject(pi, "n", 4 + i);
    CHECK(bt_analytics_capture(a, "ev", pi, &idem, k[i], NULL) == 0);
  }
  CHECK(strcmp(k[0], k[1]) == 0 && strcmp(k[0], k[2]) != 0 && k[0][14] == '5');
  CHECK(strlen(k[0]) == 36 && k[0][19] >= '8' && k[0][19] <= 'b'); /* RFC 4122 variant */
  CHECK(cap_n(a, 2, NULL) == 0); /* anonymous */
  /* a backfilled event, three days old: its own request, historical_migration */
  bt_analytics_capture_opts old = {.user_id = "alice", .timestamp_ms = 1700000000123};
  cJSON *q = cJSON_CreateObject();
  cJSON_AddNumberToObject(q, "n", 3);
  CHECK(bt_analytics_capture(a, "ev", q, &old, NULL, NULL) == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_close(a);
  server_stop(&s);

  cJSON *ev = read_jsonl(s.events);
  CHECK(count_event(ev, "ev") == 6);
  CHECK(count_event(ev, "session_start") == 2); /* alice and the installation */
  char inst[40] = "";
  bt_err err = {0};
  char adir[1200];
  snprintf(adir, sizeof adir, "%s/analytics", o.data_dir);
  CHECK(bt_an_installation_id(adir, inst, &err) == 0);
  const cJSON *e;
  int seen = 0;
  cJSON_ArrayForEach(e, ev) {
    if (strcmp(str_of(e, "event"), "ev") != 0) continue;
    const cJSON *pr = cJSON_GetObjectItem(e, "properties");
    int n = cJSON_GetObjectItem(pr, "n")->valueint;
    CHECK(cJSON_GetObjectItem(pr, "schema_version")->valueint == 2);
    CHECK(strcmp(str_of(pr, "$lib"), "btrun") == 0);
    CHECK(strcmp(str_of(pr, "$lib_version"), BT_VERSION) == 0);
    CHECK(strlen(str_of(pr, "$session_id")) == 36);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(pr, "session_duration_ms")));
    bool hist = cJSON_IsTrue(cJSON_GetObjectItem(e, "_historical_migration"));
    if (n == 1) {
      seen |= 1;
      CHECK(strcmp(str_of(e, "uuid"), uuid) == 0);
      CHECK(strcmp(str_of(e, "distinct_id"), "alice") == 0);
      CHECK(!cJSON_HasObjectItem(pr, "$process_person_profile"));
      CHECK(!hist);
    } else if (n == 2) {
      seen |= 2;
      CHECK(strcmp(str_of(e, "distinct_id"), inst) == 0);
      CHECK(cJSON_IsFalse(cJSON_GetObjectItem(pr, "$process_person_profile")));
    } else if (n == 3) {
      seen |= 4;
      CHECK(strcmp(str_of(e, "timestamp"), "2023-11-14T22:13:20.123Z") == 0);
      CHECK(hist);
    } else {
      seen |= 8;
      CHECK(strcmp(str_of(e, "uuid"), k[n == 6 ? 2 : 0]) == 0);
    }
  }
  CHECK(seen == 15);
  cJSON_Delete(ev);
}

static void test_retry_500(void) {
  server s;
  const char *args[] = {"--script", "500,503,200", NULL};
  CHECK(server_start(&s, "r500", 0, args) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-r500");
  bt_analytics *a = open_client(&o);
  for (int i = 0; i < 5; i++) CHECK(cap_n(a, i, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  CHECK(st.retries == 2);
  CHECK(st.delivered == 6);
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *ev = read_jsonl(s.events), *req = read_jsonl(s.requests);
  CHECK(count_event(ev, "ev") == 5);
  CHECK(cJSON_GetArraySize(req) == 3);
  cJSON_Delete(ev);
  cJSON_Delete(req);
}

static void test_retry_after(void) {
  server s;
  const char *args[] = {"--script", "429:1,200", NULL};
  CHECK(server_start(&s, "r429", 0, args) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-r429");
  bt_analytics *a = open_client(&o);
  CHECK(cap_n(a, 1, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *req = read_jsonl(s.requests);
  CHECK(cJSON_GetArraySize(req) == 2);
  if (cJSON_GetArraySize(req) == 2) {
    double t0 = cJSON_GetObjectItem(cJSON_GetArrayItem(req, 0), "time")->valuedouble;
    double t1 = cJSON_GetObjectItem(cJSON_GetArrayItem(req, 1), "time")->valuedouble;
    /* backoff alone would be ~10 ms: the 1 s comes from Retry-After */
    CHECK(t1 - t0 >= 0.95);
    CHECK(t1 - t0 < 3.0);
  }
  cJSON_Delete(req);
}

static void test_split_413(void) {
  server s;
  const char *args[] = {"--max-batch", "3", NULL};
  CHECK(server_start(&s, "r413", 0, args) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-r413");
  o.batch_size = 16;
  o.flush_interval_ms = 500; /* let the whole batch gather */
  bt_analytics *a = open_client(&o);
  for (int i = 0; i < 15; i++) CHECK(cap_n(a, i, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  CHECK(st.delivered == 16 && st.rejected == 0);
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *ev = read_jsonl(s.events), *req = read_jsonl(s.requests);
  CHECK(count_event(ev, "ev") == 15);
  int n413 = 0;
  const cJSON *r;
  cJSON_ArrayForEach(r, req) n413 += cJSON_GetObjectItem(r, "status")->valueint == 413;
  CHECK(n413 >= 2); /* 16 -> 8 -> 4 -> 2 */
  /* exactly once, in capture order */
  int expect = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, ev) {
    if (strcmp(str_of(e, "event"), "ev") != 0) continue;
    CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(e, "properties"), "n")->valueint == expect);
    expect++;
  }
  cJSON_Delete(ev);
  cJSON_Delete(req);
}

static void test_terminal_400(void) {
  server s;
  const char *args[] = {"--script", "400", NULL};
  CHECK(server_start(&s, "r400", 0, args) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-r400");
  bt_analytics *a = open_client(&o);
  CHECK(cap_n(a, 1, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0); /* nothing left: dropped for good */
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  CHECK(st.rejected == 2 && st.delivered == 0 && st.retries == 0);
  bt_analytics_close(a);
  server_stop(&s);
  CHECK(count_logs("analytics_batch_rejected", NULL, NULL) == 1);
  cJSON *req = read_jsonl(s.requests);
  CHECK(cJSON_GetArraySize(req) == 1);
  cJSON_Delete(req);
}

static void test_overflow_and_invalid(void) {
  server s;
  CHECK(server_start(&s, "ovf", 0, NULL) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-ovf");
  o.max_queue = 4;
  o.sync_interval_ms = 1000; /* the sender drains rarely: the ring must overflow */
  bt_analytics *a = open_client(&o);
  for (int i = 0; i < 200; i++) CHECK(cap_n(a, i, "u") == 0);
  bt_err err = {0};
  cJSON *bad = cJSON_CreateObject();
  cJSON_AddStringToObject(bad, "n", "seven");
  CHECK(bt_analytics_capture(a, "ev", bad, NULL, NULL, &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "n") == 0);
  CHECK(bt_analytics_capture(a, "ev", cJSON_CreateObject(), NULL, NULL, &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "n") == 0 && strstr(err.msg, "missing"));
  CHECK(bt_analytics_capture(a, "nope", NULL, NULL, NULL, &err) == BT_EINVAL);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  CHECK(st.overflowed > 0);
  CHECK(st.invalid == 3);
  CHECK(st.delivered == 201);
  bt_analytics_close(a);
  server_stop(&s);
  CHECK(count_logs("analytics_invalid_event", "field", "n") == 2);
  cJSON *ev = read_jsonl(s.events);
  CHECK(count_event(ev, "ev") == 200);
  int expect = 0, in_order = 1;
  const cJSON *e;
  cJSON_ArrayForEach(e, ev) {
    if (strcmp(str_of(e, "event"), "ev") != 0) continue;
    in_order &= cJSON_GetObjectItem(cJSON_GetObjectItem(e, "properties"), "n")->valueint == expect++;
  }
  CHECK(in_order);
  cJSON_Delete(ev);
}

static void test_sessions_and_consent(void) {
  server s;
  CHECK(server_start(&s, "sess", 0, NULL) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-sess");
  o.session_timeout_ms = 300;
  char adir[1200];
  snprintf(adir, sizeof adir, "%s/analytics", o.data_dir);
  bool changed;
  bt_err err = {0};
  CHECK(bt_an_consent_set(adir, "mallory", true, &changed, &err) == 0 && changed);
  bt_analytics *a = open_client(&o);
  char uuid[40] = "x";
  CHECK(cap_n(a, 1, "u") == 0);
  cJSON *p = cJSON_CreateObject();
  cJSON_AddNumberToObject(p, "n", 9);
  bt_analytics_capture_opts co = {.user_id = "mallory"};
  CHECK(bt_analytics_capture(a, "ev", p, &co, uuid, NULL) == 0 && uuid[0] == '\0');
  sleep_ms(450);
  CHECK(cap_n(a, 2, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0); /* delivered before the opt-out below */
  /* an opt-out made by another process reaches a running client */
  CHECK(bt_an_consent_set(adir, "u", true, &changed, &err) == 0);
  sleep_ms(2100); /* the sender re-reads the opt-out file every second */
  CHECK(cap_n(a, 3, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  CHECK(st.opted_out == 2);
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *ev = read_jsonl(s.events);
  CHECK(count_event(ev, "ev") == 2);
  CHECK(count_event(ev, "session_start") == 2);
  CHECK(count_event(ev, "session_end") == 1);
  const cJSON *e;
  const char *first_sid = NULL, *end_sid = NULL, *second_sid = NULL;
  cJSON_ArrayForEach(e, ev) {
    CHECK(strcmp(str_of(e, "distinct_id"), "u") == 0);
    const cJSON *pr = cJSON_GetObjectItem(e, "properties");
    const char *sid = str_of(pr, "$session_id"), *name = str_of(e, "event");
    if (strcmp(name, "session_start") == 0) {
      if (!first_sid) first_sid = sid;
      else second_sid = sid;
    }
    if (strcmp(name, "session_end") == 0) {
      end_sid = sid;
      CHECK(cJSON_GetObjectItem(pr, "session_duration_ms")->valuedouble >= 0);
    }
  }
  CHECK(first_sid && end_sid && second_sid && strcmp(first_sid, end_sid) == 0 &&
        strcmp(first_sid, second_sid) != 0);
  cJSON_Delete(ev);
}

static void test_deferred_then_replayed(void) {
  int port = free_port();
  bt_analytics_opts o;
  test_opts(&o, port, "d-down");
  o.max_retries = 2;
  o.replay_interval_ms = 300;
  bt_analytics *a = open_client(&o);
  for (int i = 0; i < 3; i++) CHECK(cap_n(a, i, "u") == 0);
  CHECK(bt_analytics_flush(a, 600) == 1); /* server down */
  CHECK(count_logs("analytics_delivery_deferred", NULL, NULL) >= 1);
  server s;
  CHECK(server_start(&s, "down", port, NULL) == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0); /* the deferred batch goes on the next replay */
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *ev = read_jsonl(s.events);
  CHECK(count_event(ev, "ev") == 3);
  cJSON_Delete(ev);
}

/* A long-running client adopts the spool of a process that died after it started. */
static void test_periodic_adopt(void) {
  server s;
  CHECK(server_start(&s, "adopt", 0, NULL) == 0);
  bt_analytics_opts o;
  test_opts(&o, s.port, "d-adopt");
  o.replay_interval_ms = 300;
  bt_analytics *a = open_client(&o);
  CHECK(cap_n(a, 1, "u") == 0);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  char dir[1300];
  snprintf(dir, sizeof dir, "%s/analytics/spool", o.data_dir);
  pid_t pid = fork();
  if (pid == 0) { /* dies with one journaled, undelivered event */
    bt_err err = {0};
    bt_an_spool *sp = bt_an_spool_open(dir, 1 << 20, &err);
    const char *p = "1700000000000\tdead\t{\"event\":\"ev\",\"distinct_id\":\"dead\","
                    "\"properties\":{\"n\":42},\"timestamp\":\"2023-11-14T22:13:20.000Z\","
                    "\"uuid\":\"00000000-0000-4000-8000-000000000042\"}";
    size_t n = strlen(p);
    _exit(sp && bt_an_spool_append(sp, &p, &n, 1, true) == 0 ? 0 : 1);
  }
  int status;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  bt_analytics_stats st = {0};
  for (int i = 0; i < 300 && st.adopted == 0; i++) {
    sleep_ms(10);
    bt_analytics_get_stats(a, &st);
  }
  CHECK(st.adopted == 1);
  CHECK(bt_analytics_flush(a, 5000) == 0);
  bt_analytics_close(a);
  server_stop(&s);
  cJSON *ev = read_jsonl(s.events);
  int found = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, ev) found += strcmp(str_of(e, "uuid"), "00000000-0000-4000-8000-000000000042") == 0;
  CHECK(found == 1);
  cJSON_Delete(ev);
}

#define RUN(fn)                                                            \
  do {                                                                     \
    uint64_t t0_ = bt_now_ns();                                            \
    fn();                                                                  \
    printf("%s: %.0f ms\n", #fn, (double)(bt_now_ns() - t0_) / 1e6);        \
  } while (0)

int main(void) {
  make_tmp("test_analytics_client");
  capture_logs();
  RUN(test_format);
  RUN(test_retry_500);
  RUN(test_retry_after);
  RUN(test_split_413);
  RUN(test_terminal_400);
  RUN(test_overflow_and_invalid);
  RUN(test_sessions_and_consent);
  RUN(test_deferred_then_replayed);
  RUN(test_periodic_adopt);
  if (!failures) remove_tmp();
  else fprintf(stderr, "logs and server files kept in %s\n", tmp_root);
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
