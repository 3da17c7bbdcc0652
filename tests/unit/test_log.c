/* test_log.c - structured logging: record layout, escaping, redaction, context,
 * threads, levels, config, closed pipes, traceback frames, the bt.log binding and
 * "no heap allocation per enabled call". Records are captured through bt_log_set_fd
 * and every line is parsed with cJSON. */
#define _GNU_SOURCE
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <pthread.h>
#include <regex.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "common.h"
#include "config.h"
#include "log.h"
#include "log_config.h"
#include "lua_log.h"

#include "check.h"

/* ---- allocation counting (not under ASan, which owns malloc) ---- */
#ifndef __SANITIZE_ADDRESS__
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
static atomic_long g_allocs;
void *malloc(size_t n) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
  atomic_fetch_add_explicit(&g_allocs, 1, memory_order_relaxed);
  return __libc_realloc(p, n);
}
#define COUNT_ALLOCS 1
#endif

/* ---- capture ---- */
static char tmpdir[512];
static int cap_fd = -1;
static char cap_path[600];

static void cap_begin(bt_log_format fmt) {
  snprintf(cap_path, sizeof cap_path, "%s/log-capture.txt", tmpdir);
  cap_fd = open(cap_path, O_RDWR | O_CREAT | O_TRUNC, 0600);
  if (cap_fd < 0) {
    perror(cap_path);
    exit(2);
  }
  bt_log_set_fd(cap_fd);
  bt_log_set_format(fmt);
}

/* Everything logged since cap_begin (heap string). */
static char *cap_end(void) {
  off_t n = lseek(cap_fd, 0, SEEK_END);
  char *s = calloc(1, (size_t)n + 1);
  if (pread(cap_fd, s, (size_t)n, 0) != n) CHECK(!"read capture");
  close(cap_fd);
  cap_fd = -1;
  bt_log_set_fd(2);
  return s;
}

/* Parse captured text into an array of records; every line must be one JSON object. */
static cJSON *parse_lines(const char *text) {
  cJSON *arr = cJSON_CreateArray();
  const char *p = text;
  while (*p) {
    const char *eol = strchr(p, '\n');
    CHECK(eol != NULL); /* every record ends with a newline */
    if (!eol) break;
    char *line = strndup(p, (size_t)(eol - p));
    cJSON *o = cJSON_Parse(line);
    if (!o || !cJSON_IsObject(o)) {
      fprintf(stderr, "  not a JSON object: %s\n", line);
      failures++;
    } else {
      cJSON_AddItemToArray(arr, o);
    }
    free(line);
    p = eol + 1;
  }
  return arr;
}

static cJSON *capture_json(void) {
  char *t = cap_end();
  cJSON *a = parse_lines(t);
  free(t);
  return a;
}

static const char *str_of(const cJSON *o, const char *k) {
  return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, k));
}

static bool str_is(const cJSON *o, const char *k, const char *want) {
  const char *s = str_of(o, k);
  if (!s || strcmp(s, want) != 0) {
    fprintf(stderr, "  %s: got %s%s%s want \"%s\"\n", k, s ? "\"" : "", s ? s : "(none)",
            s ? "\"" : "", want);
    return false;
  }
  return true;
}

/* Keys of an object in order, joined by ',' */
static void keys_of(const cJSON *o, char *out, size_t n) {
  out[0] = 0;
  const cJSON *c;
  cJSON_ArrayForEach(c, o) {
    if (out[0]) strncat(out, ",", n - strlen(out) - 1);
    strncat(out, c->string, n - strlen(out) - 1);
  }
}

static bool keys_are(const cJSON *o, const char *want) {
  char got[1024];
  keys_of(o, got, sizeof got);
  if (strcmp(got, want) != 0) {
    fprintf(stderr, "  keys: got %s\n        want %s\n", got, want);
    return false;
  }
  return true;
}

/* ---- tests ---- */

static void test_layout(void) {
  bt_log_clear_context();
  bt_log_set_level(BT_LOG_INFO);
  bt_field ctx[] = {BT_F_STR("correlation_id", "corr-1"), BT_F_STR("run_id", "run-1"),
                    BT_F_STR("strategy_id", "sma"), BT_F_STR("user_id", "u1")};
  bt_log_bind(ctx, 4);
  cap_begin(BT_LOG_FORMAT_JSON);
  bt_log("run", BT_LOG_INFO, "backtest_started", BT_F_INT("bars", 42), BT_F_STR("run_id", "run-2"),
         BT_F_DBL("ratio", 0.1), BT_F_BOOL("ok", true), BT_F_NULL("nothing"),
         BT_F_STR("nullstr", NULL), BT_F_INT("bars", 43));
  bt_log("run", BT_LOG_INFO, "plain");
  bt_log("run", BT_LOG_INFO, "reserved", BT_F_STR("event", "x"), BT_F_STR("level", "y"));
  char *raw = cap_end();
  cJSON *a = parse_lines(raw);
  CHECK(cJSON_GetArraySize(a) == 3);
  cJSON *r = cJSON_GetArrayItem(a, 0);
  /* fixed keys, bound context in bind order minus the overridden run_id, call site
   * fields with the last duplicate winning */
  CHECK(keys_are(r, "timestamp,level,event,logger,correlation_id,strategy_id,user_id,run_id,"
                    "ratio,ok,nothing,nullstr,bars"));
  CHECK(str_is(r, "level", "info"));
  CHECK(str_is(r, "event", "backtest_started"));
  CHECK(str_is(r, "logger", "run"));
  CHECK(str_is(r, "correlation_id", "corr-1"));
  CHECK(str_is(r, "run_id", "run-2"));
  CHECK(cJSON_GetObjectItem(r, "bars")->valuedouble == 43);
  CHECK(cJSON_IsTrue(cJSON_GetObjectItem(r, "ok")));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "nothing")));
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "nullstr")));
  CHECK(strstr(raw, "\"ratio\":0.1,") != NULL);   /* shortest round-trip double */
  /* ISO-8601 UTC, milliseconds, Z, close to now */
  regex_t re;
  regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$", REG_EXTENDED);
  const char *ts = str_of(r, "timestamp");
  CHECK(ts && regexec(&re, ts, 0, NULL, 0) == 0);
  regfree(&re);
  if (ts) {
    struct tm tm = {0};
    strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm);
    CHECK(llabs((long long)timegm(&tm) * 1000 - bt_wall_ms()) < 5000);
  }
  cJSON *p = cJSON_GetArrayItem(a, 1);
  CHECK(keys_are(p, "timestamp,level,event,logger,correlation_id,run_id,strategy_id,user_id"));
  /* call-site keys that collide with the fixed ones are renamed, never duplicated */
  cJSON *rs = cJSON_GetArrayItem(a, 2);
  CHECK(str_is(rs, "event", "reserved"));
  CHECK(str_is(rs, "_event", "x"));
  CHECK(str_is(rs, "_level", "y"));
  cJSON_Delete(a);
  free(raw);
  bt_log_clear_context();
}

static void test_escaping(void) {
  cap_begin(BT_LOG_FORMAT_JSON);
  bt_log("t", BT_LOG_INFO, "esc\"ape\n", BT_F_STR("ctl", "a\nb\tc\x01\x1f\"q\\"),
         BT_F_STR("bad", "x\xffy\xe2\x82z\xc0\xaf\xed\xa0\x80!"),
         BT_F_STR("good", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
         BT_F_DBL("nan", NAN), BT_F_DBL("inf", INFINITY), BT_F_DBL("ninf", -INFINITY),
         BT_F_DBL("big", 1e300), BT_F_DBL("third", 1.0 / 3), BT_F_DBL("negzero", -0.0),
         BT_F_DBL("whole", 3.0), BT_F_INT("min", INT64_MIN),
         BT_F_JSON("obj", " { \"a\" : [1, 2.5e3, true, null, \"s\\u00e9\\ud83d\\ude00\"] } "),
         BT_F_JSON("broken", "{\"a\": 1"), BT_F_JSON("nanjson", "[NaN]"),
         BT_F_JSON("nullp", NULL), {.key = "key\"with\nnewline", .type = BT_F_INT_T, .v.i = 1});
  char *raw = cap_end();
  cJSON *a = parse_lines(raw);
  cJSON *r = cJSON_GetArrayItem(a, 0);
  CHECK(r != NULL);
  if (r) {
    CHECK(str_is(r, "event", "esc\"ape\n"));
    CHECK(str_is(r, "ctl", "a\nb\tc\x01\x1f\"q\\"));
    CHECK(str_is(r, "bad", "x\xef\xbf\xbdy\xef\xbf\xbdz\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd!"));
    CHECK(str_is(r, "good", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "nan")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "inf")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "ninf")));
    CHECK(cJSON_GetObjectItem(r, "big")->valuedouble == 1e300);
    CHECK(cJSON_GetObjectItem(r, "third")->valuedouble == 1.0 / 3);
    CHECK(strstr(raw, "\"whole\":3,") && strstr(raw, "\"negzero\":-0,"));
    CHECK(strstr(raw, "\"min\":-9223372036854775808,") != NULL);
    cJSON *obj = cJSON_GetObjectItem(r, "obj");
    CHECK(cJSON_IsObject(obj));
    cJSON *arr = cJSON_GetObjectItem(obj, "a");
    CHECK(cJSON_GetArraySize(arr) == 5);
    CHECK(strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(arr, 4)), "s\xc3\xa9\xf0\x9f\x98\x80") == 0);
    CHECK(strstr(raw, "\"obj\":{\"a\":[1,2.5e3,true,null,") != NULL); /* compacted */
    CHECK(str_is(r, "broken", "{\"a\": 1"));   /* invalid JSON becomes a string */
    CHECK(str_is(r, "nanjson", "[NaN]"));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "nullp")));
    CHECK(cJSON_GetObjectItem(r, "key\"with\nnewline") != NULL);
  }
  cJSON_Delete(a);
  free(raw);
}

/* Every double renders as the shortest-looking text that reads back exactly. */
static void test_doubles(void) {
  bt_json_buf b = {0};
  const double fixed[] = {0.1, 0.2, 0.3, 101.25, -2.37037, 1e-4, 0.00012, 99.99, 1234567.891,
                          123456789012.5, 0.1 + 0.2, 1e-7, 5e-324, 1.7976931348623157e308, -1.5};
  const char *want[] = {"0.1", "0.2", "0.3", "101.25", "-2.37037", "0.0001", "0.00012", "99.99",
                        "1234567.891", "123456789012.5", "0.30000000000000004", "1e-07",
                        "4.94065645841247e-324", "1.7976931348623157e+308", "-1.5"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
    b.len = 0;
    bt_json_dbl(&b, fixed[i]);
    if (strcmp(b.data, want[i]) != 0) {
      fprintf(stderr, "  double %.17g: got %s want %s\n", fixed[i], b.data, want[i]);
      failures++;
    }
  }
  srand(7);
  for (int i = 0; i < 200000; i++) {
    double v;
    switch (i % 4) {
    case 0: v = (double)(rand() % 100000000) / 10000.0; break;            /* prices */
    case 1: v = (double)rand() / RAND_MAX * pow(10, rand() % 40 - 20); break;
    case 2: v = -(double)(rand() % 1000) / 8.0; break;
    default: {
      uint64_t u = ((uint64_t)rand() << 40) ^ ((uint64_t)rand() << 20) ^ (uint64_t)rand();
      memcpy(&v, &u, sizeof v);
    }
    }
    b.len = 0;
    bt_json_dbl(&b, v);
    if (!isfinite(v)) {
      CHECK(strcmp(b.data, "null") == 0);
      continue;
    }
    if (strtod(b.data, NULL) != v || strlen(b.data) > 24) {
      fprintf(stderr, "  double %.17g rendered %s\n", v, b.data);
      failures++;
      break;
    }
  }
  bt_json_free(&b);
}

static void test_redaction(void) {
  bt_field ctx[] = {BT_F_STR("auth_token", "BOUNDSECRET")};
  bt_log_bind(ctx, 1);
  cap_begin(BT_LOG_FORMAT_JSON);
  bt_log("t", BT_LOG_INFO, "secrets", BT_F_STR("api_key", "S1"), BT_F_STR("POSTHOG_API_KEY", "S2"),
         BT_F_STR("access_token", "S3"), BT_F_STR("Authorization", "Basic S4"),
         BT_F_STR("password", "S5"), BT_F_STR("client_secret", "S6"), BT_F_INT("token", 12345),
         BT_F_STR("apikey", "S7"), BT_F_STR("header", "Authorization: Bearer S8.tok-en"),
         BT_F_STR("url", "https://h/x?api_key=S9&page=2"),
         BT_F_STR("msg", "request failed with bearer S10; retrying"),
         BT_F_JSON("nested", "{\"cfg\":{\"password\":\"S11\",\"list\":[{\"secret\":{\"x\":\"S12\"}}]},\"n\":1}"),
         BT_F_STR("bearer_of", "the bearer of news"), BT_F_NULL("password_hint"),
         BT_F_STR("plain", "visible"));
  char *exc = bt_log_exception_json("http_error", "GET failed: token=S13", NULL);
  bt_log("t", BT_LOG_ERROR, "failed", BT_F_JSON("exception", exc));
  free(exc);
  char *raw = cap_end();
  for (int i = 1; i <= 13; i++) {
    char s[8];
    snprintf(s, sizeof s, "S%d", i);
    /* no secret survives anywhere in the output (S1 must not match S10..S13 tails) */
    char q1[12], q2[12];
    snprintf(q1, sizeof q1, "%s\"", s);
    snprintf(q2, sizeof q2, "%s&", s);
    if (strstr(raw, q1) || strstr(raw, q2) || (i >= 8 && strstr(raw, s))) {
      fprintf(stderr, "  secret %s leaked\n", s);
      failures++;
    }
  }
  CHECK(strstr(raw, "12345") == NULL);
  CHECK(strstr(raw, "BOUNDSECRET") == NULL);
  cJSON *a = parse_lines(raw);
  cJSON *r = cJSON_GetArrayItem(a, 0);
  CHECK(r && str_is(r, "api_key", "[REDACTED]"));
  CHECK(r && str_is(r, "auth_token", "[REDACTED]"));
  CHECK(r && str_is(r, "header", "Authorization: [REDACTED]"));
  CHECK(r && str_is(r, "url", "https://h/x?api_key=[REDACTED]&page=2"));
  CHECK(r && str_is(r, "msg", "request failed with bearer [REDACTED]; retrying"));
  CHECK(r && str_is(r, "plain", "visible"));
  CHECK(r && cJSON_IsNull(cJSON_GetObjectItem(r, "password_hint")));
  cJSON *nested = r ? cJSON_GetObjectItem(r, "nested") : NULL;
  CHECK(nested && cJSON_GetObjectItem(nested, "n")->valuedouble == 1);
  CHECK(nested && str_is(cJSON_GetObjectItem(nested, "cfg"), "password", "[REDACTED]"));
  cJSON *ex = cJSON_GetObjectItem(cJSON_GetArrayItem(a, 1), "exception");
  CHECK(ex && str_is(ex, "message", "GET failed: token=[REDACTED]"));
  CHECK(bt_log_secret_key("X-Api-Key", 9) && !bt_log_secret_key("strategy_id", 11));
  cJSON_Delete(a);
  free(raw);
  bt_log_clear_context();
}

static void test_levels(void) {
  bt_log_level l;
  CHECK(bt_log_level_parse("DEBUG", &l) == 0 && l == BT_LOG_DEBUG);
  CHECK(bt_log_level_parse("warn", &l) == 0 && l == BT_LOG_WARNING);
  CHECK(bt_log_level_parse("warning", &l) == 0 && l == BT_LOG_WARNING);
  CHECK(bt_log_level_parse("off", &l) == 0 && l == BT_LOG_OFF);
  CHECK(bt_log_level_parse("verbose", &l) != 0);
  bt_log_set_level(BT_LOG_WARNING);
  CHECK(bt_log_set_logger_level("broker", BT_LOG_DEBUG) == 0);
  CHECK(bt_log_set_logger_level("noisy", BT_LOG_ERROR) == 0);
  CHECK(!bt_log_enabled("run", BT_LOG_INFO));
  CHECK(bt_log_enabled("run", BT_LOG_WARNING));
  CHECK(bt_log_enabled("broker", BT_LOG_DEBUG));
  CHECK(bt_log_enabled("broker.sim", BT_LOG_DEBUG));
  CHECK(!bt_log_enabled("brokerage", BT_LOG_DEBUG));
  CHECK(!bt_log_enabled("noisy", BT_LOG_WARNING));
  CHECK(bt_log_any_enabled(BT_LOG_DEBUG));
  cap_begin(BT_LOG_FORMAT_JSON);
  bt_log("run", BT_LOG_INFO, "dropped_info");
  bt_log("run", BT_LOG_WARNING, "kept_warning");
  bt_log("broker", BT_LOG_DEBUG, "kept_debug");
  bt_log("noisy", BT_LOG_WARNING, "dropped_noisy");
  bt_log_write("run", BT_LOG_DEBUG, "direct_dropped", NULL, 0);
  cJSON *a = capture_json();
  CHECK(cJSON_GetArraySize(a) == 2);
  CHECK(str_is(cJSON_GetArrayItem(a, 0), "event", "kept_warning"));
  CHECK(str_is(cJSON_GetArrayItem(a, 0), "level", "warning"));
  CHECK(str_is(cJSON_GetArrayItem(a, 1), "event", "kept_debug"));
  CHECK(str_is(cJSON_GetArrayItem(a, 1), "level", "debug"));
  cJSON_Delete(a);

  /* BTRUN_LOG_LEVEL sets the default; an invalid value leaves info */
  setenv("BTRUN_LOG_LEVEL", "error", 1);
  bt_log_reset();
  CHECK(bt_log_get_level() == BT_LOG_ERROR && !bt_log_enabled("run", BT_LOG_WARNING));
  CHECK(!bt_log_enabled("broker", BT_LOG_DEBUG)); /* overrides cleared */
  setenv("BTRUN_LOG_LEVEL", "loud", 1);
  bt_log_reset();
  CHECK(bt_log_get_level() == BT_LOG_INFO);
  unsetenv("BTRUN_LOG_LEVEL");
  bt_log_reset();
  bt_log_set_level(BT_LOG_OFF);
  CHECK(!bt_log_enabled("run", BT_LOG_ERROR) && !bt_log_any_enabled(BT_LOG_ERROR));
  bt_log_set_level(BT_LOG_INFO);
}

static int write_file(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs(text, f);
  return fclose(f);
}

/* bt_log_configure on a config file; returns rc, message in msg. */
static int configure_with(const char *text, char *msg, size_t n) {
  char path[700];
  snprintf(path, sizeof path, "%s/log-config.lua", tmpdir);
  write_file(path, text);
  bt_config cfg;
  bt_err err = {0};
  int rc = bt_config_load(&cfg, path, true, &err);
  if (!rc) rc = bt_log_configure(&cfg, &err);
  snprintf(msg, n, "%s", err.msg);
  bt_err_clear(&err);
  bt_config_free(&cfg);
  return rc;
}

static void test_config(void) {
  char msg[800];
  bt_log_reset();
  CHECK(configure_with("return { log = { level = 'debug', format = 'console', "
                       "loggers = { broker = 'error', ['run.progress'] = 'warning' } } }",
                       msg, sizeof msg) == 0);
  CHECK(bt_log_get_level() == BT_LOG_DEBUG);
  CHECK(!bt_log_enabled("broker", BT_LOG_WARNING) && bt_log_enabled("broker", BT_LOG_ERROR));
  CHECK(!bt_log_enabled("run.progress", BT_LOG_INFO) && bt_log_enabled("run", BT_LOG_DEBUG));
  bt_log_set_fd(cap_fd >= 0 ? cap_fd : 2);
  CHECK(bt_log_get_format() == BT_LOG_FORMAT_CONSOLE);
  bt_log_reset();
  CHECK(configure_with("return { cash = 1000 }", msg, sizeof msg) == 0);
  CHECK(bt_log_get_level() == BT_LOG_INFO);

  CHECK(configure_with("return { log = { lvl = 'debug' } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.lvl") != NULL && strstr(msg, "log-config.lua") != NULL);
  CHECK(configure_with("return { log = { level = 'chatty' } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.level") && strstr(msg, "chatty"));
  CHECK(configure_with("return { log = { level = 3 } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.level") != NULL);
  CHECK(configure_with("return { log = { format = 'xml' } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.format") != NULL);
  CHECK(configure_with("return { log = { loggers = { broker = 'loud' } } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.loggers.broker") != NULL);
  CHECK(configure_with("return { log = { loggers = 'debug' } }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log.loggers") != NULL);
  CHECK(configure_with("return { log = 'debug' }", msg, sizeof msg) != 0);
  CHECK(strstr(msg, "log") != NULL);

  /* the environment wins over the file; a bad environment value is an error */
  setenv("BTRUN_LOG_LEVEL", "error", 1);
  bt_log_reset();
  CHECK(configure_with("return { log = { level = 'debug' } }", msg, sizeof msg) == 0);
  CHECK(bt_log_get_level() == BT_LOG_ERROR);
  setenv("BTRUN_LOG_LEVEL", "nope", 1);
  CHECK(configure_with("return {}", msg, sizeof msg) != 0 && strstr(msg, "BTRUN_LOG_LEVEL"));
  unsetenv("BTRUN_LOG_LEVEL");
  bt_log_reset();
}

static void test_context(void) {
  bt_log_clear_context();
  const bt_field *f;
  bt_field a[] = {BT_F_STR("a", "1"), BT_F_INT("b", 2)};
  bt_log_bind(a, 2);
  bt_log_ctx *saved = bt_log_save();
  bt_field c[] = {BT_F_STR("c", "3"), BT_F_STR("a", "replaced"), BT_F_JSON("j", "[1]")};
  bt_log_bind(c, 3);
  CHECK(bt_log_context(&f) == 4);
  CHECK(strcmp(f[0].key, "a") == 0 && strcmp(f[0].v.s, "replaced") == 0); /* keeps its place */
  bt_log_unbind("b");
  CHECK(bt_log_context(&f) == 3 && strcmp(f[1].key, "c") == 0);
  bt_log_restore(saved);
  CHECK(bt_log_context(&f) == 2);
  CHECK(strcmp(f[0].key, "a") == 0 && strcmp(f[0].v.s, "1") == 0);
  CHECK(strcmp(f[1].key, "b") == 0 && f[1].v.i == 2);
  bt_log_unbind("missing");
  CHECK(bt_log_context(&f) == 2);
  bt_log_ctx_free(bt_log_save());
  bt_log_clear_context();
  CHECK(bt_log_context(&f) == 0);
  /* bound strings are copies */
  char buf[8] = "temp";
  bt_field t[] = {BT_F_STR("t", buf)};
  bt_log_bind(t, 1);
  strcpy(buf, "XXXX");
  CHECK(bt_log_context(&f) == 1 && strcmp(f[0].v.s, "temp") == 0);
  bt_log_clear_context();
}

/* Two threads with their own correlation_id log long records concurrently into a
 * pipe drained by a reader: every line must be whole and carry its own thread's id. */
typedef struct {
  int id;
  int n;
} worker_arg;

static char g_long[6000];

static void *worker(void *p) {
  worker_arg *w = p;
  char corr[32];
  snprintf(corr, sizeof corr, "corr-%d", w->id);
  bt_field ctx[] = {BT_F_STR("correlation_id", corr)};
  bt_log_bind(ctx, 1);
  for (int i = 0; i < w->n; i++)
    bt_log("thread", BT_LOG_INFO, "tick", BT_F_INT("thread", w->id), BT_F_INT("i", i),
           BT_F_STR("payload", (i % 10 == 0) ? g_long : "short"));
  return NULL;
}

typedef struct {
  int fd;
  char *data;
  size_t len, cap;
} reader_arg;

static void *reader(void *p) {
  reader_arg *r = p;
  for (;;) {
    if (r->cap - r->len < 65536) {
      r->cap = r->cap * 2 + 65536;
      r->data = realloc(r->data, r->cap);
    }
    ssize_t n = read(r->fd, r->data + r->len, r->cap - r->len - 1);
    if (n <= 0) break;
    r->len += (size_t)n;
  }
  r->data[r->len] = 0;
  return NULL;
}

static void test_threads(void) {
  memset(g_long, 'x', sizeof g_long - 1);
  int pfd[2];
  CHECK(pipe(pfd) == 0);
  bt_log_set_fd(pfd[1]);
  bt_log_set_format(BT_LOG_FORMAT_JSON);
  reader_arg ra = {.fd = pfd[0]};
  pthread_t rt, t1, t2;
  pthread_create(&rt, NULL, reader, &ra);
  worker_arg w1 = {1, 2000}, w2 = {2, 2000};
  pthread_create(&t1, NULL, worker, &w1);
  pthread_create(&t2, NULL, worker, &w2);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  close(pfd[1]);
  pthread_join(rt, NULL);
  close(pfd[0]);
  bt_log_set_fd(2);
  cJSON *a = parse_lines(ra.data);
  CHECK(cJSON_GetArraySize(a) == 4000);
  int seen[3] = {0};
  const cJSON *r;
  cJSON_ArrayForEach(r, a) {
    int id = (int)cJSON_GetObjectItem(r, "thread")->valuedouble;
    char want[32];
    snprintf(want, sizeof want, "corr-%d", id);
    if (id < 1 || id > 2 || !str_is(r, "correlation_id", want)) failures++;
    else seen[id]++;
  }
  CHECK(seen[1] == 2000 && seen[2] == 2000);
  /* the main thread's context is untouched by the workers */
  const bt_field *f;
  CHECK(bt_log_context(&f) == 0);
  cJSON_Delete(a);
  free(ra.data);
}

/* A non-blocking stdout whose reader is slower than the writer: EAGAIN waits for
 * room, so every record still arrives whole. */
static void *slow_reader(void *p) {
  usleep(50000); /* let the writer fill the pipe first */
  return reader(p);
}

static void test_nonblocking(void) {
  int pfd[2];
  CHECK(pipe(pfd) == 0);
  fcntl(pfd[1], F_SETFL, fcntl(pfd[1], F_GETFL) | O_NONBLOCK);
  bt_log_set_fd(pfd[1]);
  bt_log_set_format(BT_LOG_FORMAT_JSON);
  reader_arg ra = {.fd = pfd[0]};
  pthread_t rt;
  pthread_create(&rt, NULL, slow_reader, &ra);
  uint64_t dropped = bt_log_dropped();
  for (int i = 0; i < 100; i++) bt_log("t", BT_LOG_INFO, "big", BT_F_INT("i", i), BT_F_STR("payload", g_long));
  close(pfd[1]);
  pthread_join(rt, NULL);
  close(pfd[0]);
  bt_log_set_fd(2);
  CHECK(bt_log_dropped() == dropped && !bt_log_closed());
  cJSON *a = parse_lines(ra.data);
  CHECK(cJSON_GetArraySize(a) == 100);
  for (int i = 0; i < cJSON_GetArraySize(a); i++)
    if (cJSON_GetObjectItem(cJSON_GetArrayItem(a, i), "i")->valueint != i) {
      failures++;
      break;
    }
  cJSON_Delete(a);
  free(ra.data);
}

static void test_closed_pipe(void) {
  signal(SIGPIPE, SIG_IGN); /* as the CLI does */
  int pfd[2];
  CHECK(pipe(pfd) == 0);
  close(pfd[0]);
  bt_log_set_fd(pfd[1]);
  CHECK(!bt_log_closed());
  uint64_t dropped = bt_log_dropped();
  bt_log("t", BT_LOG_ERROR, "into_the_void", BT_F_INT("n", 1));
  CHECK(bt_log_closed());
  CHECK(bt_log_dropped() == dropped + 1);
  CHECK(!bt_log_enabled("t", BT_LOG_ERROR)); /* later records cost nothing */
  bt_log("t", BT_LOG_ERROR, "into_the_void", BT_F_INT("n", 2));
  CHECK(bt_log_dropped() == dropped + 1);
  close(pfd[1]);
  /* a new sink opens again */
  cap_begin(BT_LOG_FORMAT_JSON);
  CHECK(!bt_log_closed());
  bt_log("t", BT_LOG_INFO, "back");
  cJSON *a = capture_json();
  CHECK(cJSON_GetArraySize(a) == 1);
  cJSON_Delete(a);
}

static const char *SAMPLE_TB =
    "strategies/x.lua:12: boom\n"
    "stack traceback:\n"
    "\t[C]: in function 'error'\n"
    "\tstrategies/x.lua:12: in function 'helper'\n"
    "\t(...tail calls...)\n"
    "\tstrategies/x.lua:30: in method 'on_bar'\n"
    "\tstrategies/x.lua:40: in field 'cb'\n"
    "\tstrategies/x.lua:41: in local 'f'\n"
    "\tstrategies/x.lua:8: in function <strategies/x.lua:5>\n"
    "\t...\t(skipping 12 levels)\n"
    "\t/abs/path with space/y.lua:99: in upvalue 'g'\n"
    "\t...ng/path/z.lua:7: in function <...ng/path/z.lua:1>\n"
    "\t[C]: in ?\n"
    "\tstrategies/x.lua:50: in main chunk";

static void check_frame(const cJSON *fr, const char *src, int line, const char *fn) {
  CHECK(fr != NULL);
  if (!fr) return;
  CHECK(str_is(fr, "source", src));
  const cJSON *l = cJSON_GetObjectItem(fr, "line");
  if (line < 0) CHECK(cJSON_IsNull(l));
  else CHECK(cJSON_IsNumber(l) && (int)l->valuedouble == line);
  const cJSON *f = cJSON_GetObjectItem(fr, "function");
  if (!fn) CHECK(cJSON_IsNull(f));
  else CHECK(str_is(fr, "function", fn));
}

static void test_exception(void) {
  char *j = bt_log_exception_json("lua_error", "strategies/x.lua:12: boom", SAMPLE_TB);
  cJSON *ex = cJSON_Parse(j);
  CHECK(ex && keys_are(ex, "type,message,frames"));
  CHECK(str_is(ex, "type", "lua_error") && str_is(ex, "message", "strategies/x.lua:12: boom"));
  cJSON *fr = cJSON_GetObjectItem(ex, "frames");
  CHECK(cJSON_GetArraySize(fr) == 10);
  check_frame(cJSON_GetArrayItem(fr, 0), "[C]", -1, "error");
  check_frame(cJSON_GetArrayItem(fr, 1), "strategies/x.lua", 12, "helper");
  check_frame(cJSON_GetArrayItem(fr, 2), "strategies/x.lua", 30, "on_bar");
  check_frame(cJSON_GetArrayItem(fr, 3), "strategies/x.lua", 40, "cb");
  check_frame(cJSON_GetArrayItem(fr, 4), "strategies/x.lua", 41, "f");
  check_frame(cJSON_GetArrayItem(fr, 5), "strategies/x.lua", 8, "<strategies/x.lua:5>");
  check_frame(cJSON_GetArrayItem(fr, 6), "/abs/path with space/y.lua", 99, "g");
  check_frame(cJSON_GetArrayItem(fr, 7), "...ng/path/z.lua", 7, "<...ng/path/z.lua:1>");
  check_frame(cJSON_GetArrayItem(fr, 8), "[C]", -1, NULL);
  check_frame(cJSON_GetArrayItem(fr, 9), "strategies/x.lua", 50, "main chunk");
  cJSON_Delete(ex);
  free(j);

  j = bt_log_exception_json(NULL, NULL, NULL);
  ex = cJSON_Parse(j);
  CHECK(ex && str_is(ex, "type", "error") && cJSON_GetArraySize(cJSON_GetObjectItem(ex, "frames")) == 0);
  cJSON_Delete(ex);
  free(j);

  bt_err e = {0};
  bt_errf_at(&e, BT_EINVAL, "csv_error", "data/x.csv", 17, "close", "not a number: \"abc\"");
  j = bt_log_err_json(&e);
  ex = cJSON_Parse(j);
  CHECK(ex && keys_are(ex, "type,message,file,line,field,frames"));
  CHECK(ex && str_is(ex, "type", "csv_error") && str_is(ex, "file", "data/x.csv"));
  CHECK(ex && str_is(ex, "message", "data/x.csv:17: close: not a number: \"abc\""));
  CHECK(ex && cJSON_GetObjectItem(ex, "line")->valuedouble == 17);
  cJSON_Delete(ex);
  free(j);
}

static void test_console(void) {
  bt_field ctx[] = {BT_F_STR("correlation_id", "c-9")};
  bt_log_bind(ctx, 1);
  cap_begin(BT_LOG_FORMAT_CONSOLE);
  char *exc = bt_log_exception_json("lua_error", "strategies/x.lua:12: boom", SAMPLE_TB);
  bt_log("run", BT_LOG_WARNING, "order_rejected", BT_F_STR("reason", "insufficient cash"),
         BT_F_INT("qty", 5), BT_F_STR("password", "pw"), BT_F_JSON("exception", exc));
  free(exc);
  char *raw = cap_end();
  CHECK(strchr(raw, '\033') == NULL); /* not a terminal: no colour */
  /* "HH:MM:SS warn  event fields": time of day, no logger, no bound run identity */
  CHECK(strlen(raw) > 9 && raw[2] == ':' && raw[5] == ':' && raw[8] == ' ');
  CHECK(strncmp(raw + 9, "warn  order_rejected reason=\"insufficient cash\" qty=5 "
                         "password=[REDACTED]\n", 64) == 0);
  CHECK(strstr(raw, "c-9") == NULL && strstr(raw, "logger") == NULL);
  CHECK(strstr(raw, "\n    lua_error: strategies/x.lua:12: boom\n") != NULL);
  CHECK(strstr(raw, "\n      at strategies/x.lua:30 in on_bar\n") != NULL);
  free(raw);

  /* A text field stands for the event name on the console; JSON-only fields stay out.
   * A bound key that is not run identity stays in. */
  bt_field exp[] = {BT_F_STR("experiment", "grid")};
  bt_log_bind(exp, 1);
  cap_begin(BT_LOG_FORMAT_CONSOLE);
  bt_log("run", BT_LOG_INFO, "backtest_started", BT_F_TEXT("backtest x on ORCL"),
         BT_F_JSON_ONLY(BT_F_STR("out_dir", "/very/long/path")), BT_F_INT("shown", 1));
  raw = cap_end();
  CHECK(strcmp(raw + 8, " info  backtest x on ORCL experiment=grid shown=1\n") == 0);

  free(raw);
  /* JSON: every field but the text, in order */
  cap_begin(BT_LOG_FORMAT_JSON);
  bt_log("run", BT_LOG_INFO, "backtest_started", BT_F_TEXT("backtest x on ORCL"),
         BT_F_JSON_ONLY(BT_F_STR("out_dir", "/very/long/path")), BT_F_INT("shown", 1));
  raw = cap_end();
  CHECK(strstr(raw, "\"event\":\"backtest_started\",\"logger\":\"run\",\"correlation_id\":\"c-9\","
                    "\"experiment\":\"grid\",\"out_dir\":\"/very/long/path\",\"shown\":1}\n") != NULL);
  CHECK(strstr(raw, "backtest x on ORCL") == NULL && strstr(raw, "\"text\"") == NULL);
  free(raw);

  bt_log_clear_context();
  /* The status line exists only on a terminal: a file sink ignores it. */
  cap_begin(BT_LOG_FORMAT_CONSOLE);
  CHECK(!bt_log_status_supported());
  bt_log_status("50% done");
  bt_log("run", BT_LOG_INFO, "tick");
  bt_log_status(NULL);
  raw = cap_end();
  CHECK(strchr(raw, '\r') == NULL && strstr(raw, "50% done") == NULL && strstr(raw, " info  tick\n"));
  free(raw);
  bt_log_clear_context();
  bt_log_set_format(BT_LOG_FORMAT_JSON);
}

/* On a pseudo-terminal: the status line is drawn in place, records go above it and it
 * is drawn again under them; clearing it leaves nothing behind. */
static void test_status_line(void) {
  int master = posix_openpt(O_RDWR | O_NOCTTY);
  CHECK(master >= 0 && grantpt(master) == 0 && unlockpt(master) == 0);
  if (master < 0) return;
  int slave = open(ptsname(master), O_RDWR | O_NOCTTY);
  CHECK(slave >= 0);
  struct termios tio;
  if (tcgetattr(slave, &tio) == 0) {
    tio.c_oflag &= ~(tcflag_t)OPOST; /* bytes as written: no \n -> \r\n */
    tcsetattr(slave, TCSANOW, &tio);
  }
  struct winsize ws = {.ws_row = 24, .ws_col = 20};
  ioctl(slave, TIOCSWINSZ, &ws);
  setenv("NO_COLOR", "1", 1);
  bt_log_set_fd(slave);
  bt_log_set_format(BT_LOG_FORMAT_AUTO);
  CHECK(bt_log_get_format() == BT_LOG_FORMAT_CONSOLE && bt_log_status_supported());
  CHECK(bt_log_columns() == 20);
  bt_log_status("[###---] 50% of the bars are done"); /* cut to 19 columns */
  bt_log("run", BT_LOG_INFO, "tick");
  bt_log_print("hi\n", 3);
  bt_log_status(NULL);
  bt_log_status(NULL); /* nothing shown: writes nothing */
  bt_log_set_fd(2);
  unsetenv("NO_COLOR");
  char buf[512] = {0};
  size_t n = 0;
  struct pollfd p = {.fd = master, .events = POLLIN};
  while (n < sizeof buf - 1 && poll(&p, 1, 200) > 0) {
    ssize_t r = read(master, buf + n, sizeof buf - 1 - n);
    if (r <= 0) break;
    n += (size_t)r;
  }
  const char *want_status = "[###---] 50% of the";
  char expect[256];
  snprintf(expect, sizeof expect, "\r%s\033[K\r\033[K", want_status);
  CHECK(strncmp(buf, expect, strlen(expect)) == 0);
  const char *rec = buf + strlen(expect);
  CHECK(strncmp(rec + 8, " info  tick\n", 12) == 0);
  snprintf(expect, sizeof expect, " info  tick\n%s\r\033[Khi\n%s\r\033[K", want_status, want_status);
  CHECK(strcmp(rec + 8, expect) == 0);
  close(slave);
  close(master);
  bt_log_set_format(BT_LOG_FORMAT_JSON);
}

/* ---- bt.log from Lua ---- */

static int msgh(lua_State *L) {
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* Run code as chunk `name`; on error return the message+traceback (heap). */
static char *run_lua(lua_State *L, const char *name, const char *code) {
  char chunk[256];
  snprintf(chunk, sizeof chunk, "@%s", name);
  lua_pushcfunction(L, msgh);
  if (luaL_loadbuffer(L, code, strlen(code), chunk) != LUA_OK) {
    char *e = strdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return e;
  }
  if (lua_pcall(L, 0, 0, -2) != LUA_OK) {
    char *e = strdup(lua_tostring(L, -1));
    lua_pop(L, 2);
    return e;
  }
  lua_pop(L, 1);
  return NULL;
}

static lua_State *new_lua(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "log", bt_lua_open_log, 1);
  lua_pop(L, 1);
  return L;
}

static void test_lua(void) {
  lua_State *L = new_lua();
  bt_log_clear_context();
  cap_begin(BT_LOG_FORMAT_JSON);
  char *e = run_lua(L, "t.lua",
                    "local cyc = {name='c'}; cyc.self = cyc\n"
                    "local deep = {}; local d = deep; for i = 1, 40 do d.next = {}; d = d.next end\n"
                    "local big = {}; for i = 1, 1000 do big[i] = i end\n"
                    "log.info('fill', {qty = 10, price = 1.5, sym = 'ORCL', ok = true,\n"
                    "  nested = {b = 2, a = {1, 2, {x = 'y'}}, [3] = 'three', [true] = 1},\n"
                    "  cyc = cyc, deep = deep, big = big, fn = print, co = coroutine.create(print),\n"
                    "  nan = 0/0, inf = math.huge, bin = 'a\\0b\\255', empty = {},\n"
                    "  creds = {user = 'u', password = 'PW1', api_token = 'PW2'}, [7] = 'seven'})\n"
                    "log.warning({}, 'just a message')\n"
                    "log.error(nil, {logger = 'broker', reason = 'x'})\n"
                    "log.debug('hidden', {x = 1})\n"
                    "log.warn('w')\n"
                    "local t = setmetatable({}, {__index = function() error('meta') end,\n"
                    "  __pairs = function() error('pairs') end, __tostring = function() error('ts') end})\n"
                    "log.info(t, {t = t})\n"
                    "log.info('after')\n");
  CHECK(e == NULL);
  if (e) fprintf(stderr, "  %s\n", e), free(e);
  char *raw = cap_end();
  CHECK(strstr(raw, "PW1") == NULL && strstr(raw, "PW2") == NULL);
  cJSON *a = parse_lines(raw);
  CHECK(cJSON_GetArraySize(a) == 6);
  cJSON *r = cJSON_GetArrayItem(a, 0);
  CHECK(keys_are(r, "timestamp,level,event,logger,7,big,bin,co,creds,cyc,deep,empty,fn,inf,nan,"
                    "nested,ok,price,qty,sym"));
  CHECK(str_is(r, "logger", "strategy") && str_is(r, "event", "fill"));
  CHECK(cJSON_GetObjectItem(r, "qty")->valueint == 10);
  CHECK(cJSON_GetObjectItem(r, "price")->valuedouble == 1.5);
  CHECK(cJSON_IsNull(cJSON_GetObjectItem(r, "nan")) && cJSON_IsNull(cJSON_GetObjectItem(r, "inf")));
  CHECK(str_is(r, "fn", "<function>") && str_is(r, "co", "<thread>"));
  CHECK(str_is(r, "bin", "a\0b\xef\xbf\xbd") || strstr(raw, "\"bin\":\"a\\u0000b\\ufffd\""));
  CHECK(strstr(raw, "\"nested\":{\"3\":\"three\",\"a\":[1,2,{\"x\":\"y\"}],\"b\":2,\"true\":1}") != NULL);
  CHECK(strstr(raw, "\"cyc\":{\"name\":\"c\",\"self\":\"<cycle>\"}") != NULL);
  CHECK(strstr(raw, "\"<max depth>\"") != NULL);
  CHECK(strstr(raw, "\"empty\":{}") != NULL);
  cJSON *big = cJSON_GetObjectItem(r, "big");
  CHECK(cJSON_GetArraySize(big) == 257);
  CHECK(str_is(cJSON_GetObjectItem(r, "creds"), "password", "[REDACTED]"));
  CHECK(str_is(cJSON_GetObjectItem(r, "creds"), "user", "u"));
  cJSON *w = cJSON_GetArrayItem(a, 1);
  CHECK(str_is(w, "level", "warning") && str_is(w, "event", "<table>") && str_is(w, "message", "just a message"));
  cJSON *er = cJSON_GetArrayItem(a, 2);
  CHECK(str_is(er, "logger", "broker") && str_is(er, "event", "log") && str_is(er, "reason", "x"));
  CHECK(cJSON_GetObjectItem(er, "_logger") == NULL);
  CHECK(str_is(cJSON_GetArrayItem(a, 3), "event", "w"));
  CHECK(str_is(cJSON_GetArrayItem(a, 4), "event", "<table>"));
  CHECK(str_is(cJSON_GetArrayItem(a, 5), "event", "after"));
  cJSON_Delete(a);
  free(raw);

  /* bind / unbind / scoped, and a traceback taken inside a scope */
  cap_begin(BT_LOG_FORMAT_JSON);
  e = run_lua(L, "ctx.lua",
              "log.bind({correlation_id = 'c1', run_id = 'r1', extra = {k = 1}})\n"
              "local a, b = log.scoped({user_id = 'u1', run_id = 'r2'}, function(x, y)\n"
              "  log.info('inside', {x = x})\n"
              "  return x + y, 'two'\n"
              "end, 40, 2)\n"
              "assert(a == 42 and b == 'two')\n"
              "local ctx = log.context()\n"
              "assert(ctx.run_id == 'r1' and ctx.user_id == nil and ctx.extra == '{\"k\":1}')\n"
              "local ok, err = pcall(log.scoped, {user_id = 'u2'}, function()\n"
              "  log.info('before_error')\n"
              "  error('scoped failure')\n"
              "end)\n"
              "assert(not ok and err:find('ctx.lua:11: scoped failure', 1, true))\n"
              "assert(log.context().user_id == nil)\n"
              "log.unbind('extra', 'nothing')\n"
              "log.info('outside', {correlation_id = 'call-site'})\n"
              "log.unbind({'run_id'})\n"
              "assert(log.enabled('info') and not log.enabled('debug'))\n"
              "assert(log.enabled('debug', 'broker') == false)\n");
  CHECK(e == NULL);
  if (e) fprintf(stderr, "  %s\n", e), free(e);
  a = capture_json();
  CHECK(cJSON_GetArraySize(a) == 3);
  CHECK(keys_are(cJSON_GetArrayItem(a, 0),
                 "timestamp,level,event,logger,correlation_id,extra,run_id,user_id,x"));
  CHECK(str_is(cJSON_GetArrayItem(a, 0), "run_id", "r2"));
  CHECK(cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 0), "extra"), "k")->valueint == 1);
  CHECK(str_is(cJSON_GetArrayItem(a, 1), "user_id", "u2"));
  CHECK(keys_are(cJSON_GetArrayItem(a, 2), "timestamp,level,event,logger,run_id,correlation_id"));
  CHECK(str_is(cJSON_GetArrayItem(a, 2), "correlation_id", "call-site"));
  cJSON_Delete(a);
  const bt_field *f;
  CHECK(bt_log_context(&f) == 1 && strcmp(f[0].key, "correlation_id") == 0);

  /* An error raised inside scoped: the traceback points at the raising line, and
   * the context is restored once the error has propagated. */
  e = run_lua(L, "strategies/failing.lua",
              "local M = {}\n"
              "function M.on_bar(bar)\n"
              "  local x = nil\n"
              "  return x.field\n"
              "end\n"
              "log.scoped({bar_time = 5}, function() M.on_bar({}) end)\n");
  CHECK(e != NULL);
  CHECK(bt_log_context(&f) == 1);
  if (e) {
    char *nl = strstr(e, "\nstack traceback:");
    if (nl) *nl = 0;
    char *j = bt_log_exception_json("lua_error", e, nl ? nl + 1 : NULL);
    cJSON *ex = cJSON_Parse(j);
    cJSON *fr = cJSON_GetObjectItem(ex, "frames");
    CHECK(str_is(ex, "message", "strategies/failing.lua:4: attempt to index a nil value (local 'x')"));
    check_frame(cJSON_GetArrayItem(fr, 0), "strategies/failing.lua", 4, "on_bar");
    check_frame(cJSON_GetArrayItem(fr, 1), "strategies/failing.lua", 6, "<strategies/failing.lua:6>");
    check_frame(cJSON_GetArrayItem(fr, 2), "[C]", -1, "log.scoped");
    check_frame(cJSON_GetArrayItem(fr, 3), "strategies/failing.lua", 6, "main chunk");
    cJSON_Delete(ex);
    free(j);
    free(e);
  }
  lua_close(L);
  bt_log_clear_context();
}

static void test_no_alloc(void) {
#ifdef COUNT_ALLOCS
  bt_field ctx[] = {BT_F_STR("correlation_id", "c"), BT_F_STR("run_id", "r")};
  bt_log_bind(ctx, 2);
  int fd = open("/dev/null", O_WRONLY);
  bt_log_set_fd(fd);
  bt_log_set_format(BT_LOG_FORMAT_JSON);
  bt_log("run", BT_LOG_INFO, "warm", BT_F_STR("s", "v"));
  long before = atomic_load(&g_allocs);
  for (int i = 0; i < 1000; i++) {
    bt_log("run", BT_LOG_INFO, "backtest_progress", BT_F_INT("bars_done", i),
           BT_F_DBL("percent", i / 10.0), BT_F_DBL("bars_per_s", 1234567.5),
           BT_F_STR("symbol", "ORCL"), BT_F_JSON("metrics", "{\"a\":1,\"b\":[\"x\"]}"),
           BT_F_BOOL("ok", true));
    bt_log("run", BT_LOG_DEBUG, "disabled", BT_F_INT("i", i));
  }
  long during = atomic_load(&g_allocs) - before;
  CHECK(during == 0);
  if (during) fprintf(stderr, "  %ld allocations in 1000 enabled calls\n", during);

  lua_State *L = new_lua();
  run_lua(L, "warm.lua", "log.info('warm', {a = {1}})");
  lua_gc(L, LUA_GCSTOP);
  lua_getglobal(L, "log");
  lua_getfield(L, -1, "info");
  lua_pushliteral(L, "bar");
  lua_createtable(L, 0, 4);
  lua_pushinteger(L, 3), lua_setfield(L, -2, "qty");
  lua_pushliteral(L, "ORCL"), lua_setfield(L, -2, "sym");
  lua_createtable(L, 2, 0);
  lua_pushinteger(L, 1), lua_rawseti(L, -2, 1);
  lua_setfield(L, -2, "list");
  int t = lua_gettop(L);
  for (int i = 0; i < 201; i++) {
    if (i == 1) before = atomic_load(&g_allocs); /* the first call may grow the Lua stack */
    lua_pushvalue(L, t - 2);
    lua_pushvalue(L, t - 1);
    lua_pushvalue(L, t);
    lua_call(L, 2, 0);
  }
  during = atomic_load(&g_allocs) - before;
  CHECK(during == 0);
  if (during) fprintf(stderr, "  %ld allocations in 200 bt.log.info calls\n", during);
  lua_close(L);
  close(fd);
  bt_log_set_fd(2);
  bt_log_clear_context();
#endif
}

/* The buffer writers other modules render JSON with (perf, event payloads). */
static void test_buf_writers(void) {
  bt_json_buf b = {0};
  bt_json_str(&b, "token=abc\n\x01", 11);
  bt_json_putc(&b, ' ');
  bt_log_json_str(&b, "token=abc", 9);
  bt_json_printf(&b, " %d-%s", 42, "x");
  size_t len = 0;
  char *s = bt_json_take(&b, &len);
  CHECK(s && strcmp(s, "\"token=abc\\n\\u0001\" \"token=[REDACTED]\" 42-x") == 0);
  CHECK(s && len == strlen(s));
  free(s);
  CHECK(b.len == 0);
  s = bt_json_take(&b, &len); /* nothing written: an empty string, not NULL */
  CHECK(s && s[0] == '\0' && len == 0);
  free(s);
  bt_json_free(&b);
}

int main(void) {
  const char *t = getenv("BT_TEST_TMP");
  snprintf(tmpdir, sizeof tmpdir, "%s", t && *t ? t : "/tmp");
  mkdir(tmpdir, 0700);
  unsetenv("BTRUN_LOG_LEVEL");
  unsetenv("BTRUN_LOG_FORMAT");
  bt_log_reset();
  test_layout();
  test_escaping();
  test_doubles();
  test_redaction();
  test_levels();
  test_config();
  test_context();
  test_threads();
  test_nonblocking();
  test_closed_pipe();
  test_exception();
  test_console();
  test_status_line();
  test_lua();
  test_no_alloc();
  test_buf_writers();
  if (failures) fprintf(stderr, "test_log: %d failure(s)\n", failures);
  return failures != 0;
}
