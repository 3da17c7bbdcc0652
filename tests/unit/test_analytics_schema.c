/* Event schemas: loading (files and config lists), errors naming the file and key,
 * and validation naming the failing property. */
#include "test_analytics_lib.h"

static int add_src(bt_an_schemas *s, const char *src, bt_err *err) {
  lua_State *L = luaL_newstate();
  int rc = luaL_dostring(L, src) ? -99 : bt_an_schemas_add_list(s, L, -1, "analytics.schemas", err);
  lua_close(L);
  return rc;
}

static cJSON *obj(const char *json) { return cJSON_Parse(json); }

static int validate(bt_an_schemas *s, const char *ev, const char *json, bt_err *err) {
  cJSON *p = obj(json);
  memset(err, 0, sizeof *err);
  int rc = bt_an_schemas_validate(s, ev, p, NULL, err);
  cJSON_Delete(p);
  return rc;
}

static void test_shipped(void) {
  bt_an_schemas *s = test_schemas(NULL);
  CHECK(bt_an_schemas_count(s) == 5);
  bt_err err;
  const char *ok = "{\"correlation_id\":\"c\",\"user_id\":null,\"strategy_id\":\"s\","
                   "\"run_id\":\"r\",\"duration_ms\":null,\"origin\":\"cli\"}";
  CHECK(validate(s, "backtest_job_started", ok, &err) == 0);
  /* nullable required properties may be absent: they are filled with null */
  cJSON *p = obj("{\"correlation_id\":\"c\",\"strategy_id\":\"s\",\"run_id\":\"r\",\"origin\":\"cli\"}");
  bt_an_schema_info info;
  CHECK(bt_an_schemas_validate(s, "backtest_job_started", p, &info, &err) == 0);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(p, "user_id")));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(p, "duration_ms")));
  CHECK(info.version == 1 && strcmp(info.name, "backtest_job_started") == 0);
  cJSON_Delete(p);
  /* completed requires integer duration */
  CHECK(validate(s, "backtest_job_completed",
                 "{\"correlation_id\":\"c\",\"strategy_id\":\"s\",\"run_id\":\"r\","
                 "\"origin\":\"cli\",\"duration_ms\":1.5,\"bars\":1,\"trades\":0,"
                 "\"final_equity\":1,\"total_return\":0,\"max_drawdown\":0}", &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "duration_ms") == 0 && strstr(err.msg, "expected integer, got number"));
  CHECK(validate(s, "backtest_job_failed",
                 "{\"correlation_id\":\"c\",\"strategy_id\":\"s\",\"run_id\":\"r\","
                 "\"origin\":\"cli\",\"duration_ms\":3}", &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "error_type") == 0 && strstr(err.msg, "missing"));
  bt_an_schemas_free(s);
}

static void test_custom(void) {
  bt_an_schemas *s = bt_an_schemas_new();
  bt_err err = {0};
  CHECK(add_src(s, "return { { name = 'x', version = 1, required = { a = 'string|integer', "
                   "b = 'array?' }, optional = { c = 'object', d = 'boolean', e = 'number' } } }",
                &err) == 0);
  CHECK(validate(s, "x", "{\"a\":\"s\",\"b\":[1],\"c\":{},\"d\":true,\"e\":2}", &err) == 0);
  CHECK(validate(s, "x", "{\"a\":3}", &err) == 0);
  CHECK(validate(s, "x", "{\"a\":3.5}", &err) == BT_EINVAL && strcmp(err.field, "a") == 0);
  CHECK(strstr(err.msg, "expected string|integer, got number") != NULL);
  CHECK(validate(s, "x", "{\"a\":1,\"zz\":1}", &err) == BT_EINVAL && strcmp(err.field, "zz") == 0);
  CHECK(strstr(err.msg, "not in schema") != NULL);
  CHECK(validate(s, "x", "{\"a\":1,\"d\":null}", &err) == BT_EINVAL && strcmp(err.field, "d") == 0);
  CHECK(validate(s, "x", "{\"b\":null}", &err) == BT_EINVAL && strcmp(err.field, "a") == 0);
  CHECK(validate(s, "y", "{}", &err) == BT_EINVAL && strstr(err.msg, "no schema"));
  /* a later definition of the same name replaces the earlier one (new version) */
  CHECK(add_src(s, "return { { name = 'x', version = 2, required = { a = 'string' } } }", &err) == 0);
  CHECK(bt_an_schemas_count(s) == 1);
  cJSON *p = obj("{\"a\":\"v\"}");
  bt_an_schema_info info;
  CHECK(bt_an_schemas_validate(s, "x", p, &info, &err) == 0 && info.version == 2);
  cJSON_Delete(p);
  bt_an_schemas_free(s);
}

static void test_bad_schemas(void) {
  bt_an_schemas *s = bt_an_schemas_new();
  bt_err err = {0};
  CHECK(add_src(s, "return { { name = 'x', version = 1, required = { a = 'strin' } } }", &err) ==
        BT_EINVAL);
  CHECK(strcmp(err.field, "a") == 0 && strstr(err.msg, "unknown type \"strin\""));
  CHECK(strstr(err.msg, "analytics.schemas[1]") != NULL);
  CHECK(add_src(s, "return { { name = 'x', version = 0 } }", &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "version") == 0);
  CHECK(add_src(s, "return { { name = 'bad name', version = 1 } }", &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "name") == 0);
  CHECK(add_src(s, "return { { name = 'x', version = 1, extra = 1 } }", &err) == BT_EINVAL);
  CHECK(strcmp(err.field, "extra") == 0);
  CHECK(add_src(s, "return { { name = 'x', version = 1, required = { a = 'string' }, "
                   "optional = { a = 'integer' } } }", &err) == BT_EINVAL);
  CHECK(strstr(err.msg, "listed twice") != NULL);
  /* a schema file with a syntax error names the file and line */
  char dir[1200], path[1300];
  snprintf(dir, sizeof dir, "%s/schemas", tmp_root);
  snprintf(path, sizeof path, "%s/broken.lua", dir);
  char cmd[1400];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
  CHECK(system(cmd) == 0);
  FILE *f = fopen(path, "w");
  fputs("return {\n  name = 'b',\n  version = ,\n}\n", f);
  fclose(f);
  CHECK(bt_an_schemas_load_dir(s, dir, &err) == BT_EINVAL);
  CHECK(strstr(err.msg, "broken.lua:3:") != NULL);
  CHECK(bt_an_schemas_load_dir(s, "/nonexistent/dir", &err) == 0);
  bt_an_schemas_free(s);
}

int main(void) {
  make_tmp("test_analytics_schema");
  test_shipped();
  test_custom();
  test_bad_schemas();
  if (!failures) remove_tmp();
  printf("%s: %d failure(s)\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
