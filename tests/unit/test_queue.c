/* The job queue contract (queue_contract.h) on the SQLite backend, two handles on one
 * file standing for two processes; job specs refuse paths, unknown fields and wrong
 * types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "job_spec.h"
#include "queue_contract.h"

static void mkpath(char *out, size_t n, const char *name) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(out, n, "%s/%s-%d/queue.db", tmp, name, (int)getpid());
}

static void test_spec(void) {
  bt_job_spec s;
  CHECK_OK(bt_job_spec_parse(
      "{\"strategy\":\"sma_cross\",\"data\":[\"orcl\",\"msft-1d\"],"
      "\"params\":{\"fast\":10,\"ratio\":0.25,\"on\":true,\"mode\":\"x\"},\"cash\":\"2500.5\"}",
      &s, &err));
  CHECK(strcmp(s.strategy, "sma_cross") == 0 && s.ndata == 2 && strcmp(s.data[1], "msft-1d") == 0);
  CHECK(s.nparams == 4 && strcmp(s.params[0].value, "10") == 0 &&
        strcmp(s.params[1].value, "0.25") == 0 && strcmp(s.params[2].value, "true") == 0);
  CHECK(s.has_cash && dec_is(s.cash, "2500.5"));
  char *json = bt_job_spec_to_json(&s);
  bt_job_spec back;
  CHECK_OK(bt_job_spec_parse(json, &back, &err));
  CHECK(back.nparams == 4 && strcmp(back.params[0].value, "10") == 0 && dec_is(back.cash, "2500.5"));
  free(json);
  bt_job_spec_clear(&back);
  bt_job_spec_clear(&s);

  static const struct { const char *json, *field; } bad[] = {
      {"{\"strategy\":\"../etc/passwd\"}", "strategy"},
      {"{\"strategy\":\"/abs\"}", "strategy"},
      {"{\"strategy\":\".hidden\"}", "strategy"},
      {"{\"strategy\":\"a/b\"}", "strategy"},
      {"{\"strategy\":\"ok\",\"data\":[\"../../x.csv\"]}", "data[0]"},
      {"{\"strategy\":\"ok\",\"data\":\"orcl\"}", "data"},
      {"{\"strategy\":\"ok\",\"data\":[\"a\",7]}", "data[1]"},
      {"{\"strategy\":12}", "strategy"},
      {"{\"data\":[]}", "strategy"},
      {"{\"strategy\":\"ok\",\"params\":{\"fast\":[1]}}", "params.fast"},
      {"{\"strategy\":\"ok\",\"params\":[]}", "params"},
      {"{\"strategy\":\"ok\",\"cash\":\"-5\"}", "cash"},
      {"{\"strategy\":\"ok\",\"cash\":\"lots\"}", "cash"},
      {"{\"strategy\":\"ok\",\"path\":\"/tmp/x.lua\"}", "path"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int rc = bt_job_spec_parse(bad[i].json, &s, &err);
    CHECK(rc == BT_EINVAL);
    if (strcmp(err.field, bad[i].field) != 0)
      fprintf(stderr, "  %s: field '%s', want '%s'\n", bad[i].json, err.field, bad[i].field),
          failures++;
  }
  /* The HTTP body carries user_id next to the spec. */
  cJSON *o = cJSON_Parse("{\"strategy\":\"ok\",\"user_id\":\"u1\"}");
  const char *extra[] = {"user_id", NULL};
  CHECK_OK(bt_job_spec_from_cjson(o, extra, &s, &err));
  CHECK(bt_job_spec_from_cjson(o, NULL, &s, &err) == BT_EINVAL);
  cJSON_Delete(o);
}

int main(void) {
  char path[512];
  mkpath(path, sizeof path, "queue");
  bt_queue *q = NULL;
  bt_queue *a = NULL, *b = NULL;
  CHECK_OK(bt_queue_open_sqlite(&q, path, &err));
  CHECK_OK(bt_queue_open_sqlite(&a, path, &err));
  CHECK_OK(bt_queue_open_sqlite(&b, path, &err));
  if (!q || !a || !b) return 1;
  queue_contract_run(q, a, b);
  bt_queue_close(q);
  bt_queue_close(a);
  bt_queue_close(b);
  test_spec();
  CHECK(bt_job_state_parse("succeeded") == BT_JOB_SUCCEEDED && bt_job_state_parse("x") == -1);
  return failures != 0;
}
