/* test_config_sections.c - a config with every key set (tests/fixtures/config/full.lua)
 * reads into exactly the values written, section by section; and bad values fail with
 * errors naming file, section and key. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics.h"
#include "check.h"
#include "config.h"
#include "fs.h"
#include "log.h"
#include "log_config.h"
#include "perf.h"
#include "svc_config.h"
#include "tracer.h"

static bool str_is(const char *got, const char *want) {
  if (strcmp(got, want) == 0) return true;
  fprintf(stderr, "  got \"%s\", want \"%s\"\n", got, want);
  return false;
}

static void core(const bt_config *c) {
  CHECK(dec_is(c->cash, "2500.50"));
  CHECK(dec_is(c->broker.commission_per_unit, "0.01"));
  CHECK(dec_is(c->broker.commission_percent, "0.001"));
  CHECK(dec_is(c->broker.commission_minimum, "1"));
  CHECK(dec_is(c->broker.slippage_bps, "3"));
  CHECK(str_is(c->out_dir, "/tmp/cfg-out"));
  CHECK(str_is(c->data_dir, "/tmp/cfg-data"));
  CHECK(str_is(c->user_id, "u-17"));
  CHECK(c->timeout_s == 42.5);
  CHECK(c->max_memory == 64 << 20);
  CHECK(c->skip_bad_rows);
  CHECK(str_is(c->date_format, "%Y/%m/%d"));
  CHECK(str_is(c->columns, "time=t,close=c"));
  CHECK(c->progress_every == 500);
  CHECK(c->trust_strategies);
  CHECK(c->risk_max_drawdown == 0.25);
  CHECK(dec_is(c->risk_max_position_value, "12345.5"));
}

static void trace(bt_config *cfg) {
  bt_err err = {0};
  bt_trace_cfg t;
  CHECK_OK(bt_trace_cfg_load(cfg, &t, &err));
  CHECK(!t.enabled);
  CHECK(str_is(t.store, "/tmp/cfg-events.db"));
  CHECK(t.sample_rate == 0.25);
  CHECK(t.context_window == 7);
  CHECK(t.critical_mask == (BT_EV_MASK(BT_EV_FILL) | BT_EV_MASK(BT_EV_ORDER)));
  CHECK(t.bars == BT_TRACE_BARS_SAMPLED);
  CHECK(t.seed == 99);
  CHECK(t.ring_size == 4096); /* rounded up to a power of two */
  CHECK(t.full_policy == BT_TRACE_FULL_DROP);
  CHECK(t.commit_ms == 250);
}

static void analytics(bt_app *app) {
  bt_err err = {0};
  bt_analytics_opts o;
  bool configured = false;
  bt_an_schemas *s = bt_an_schemas_new();
  CHECK_OK(bt_analytics_read_config(app, &o, s, &configured, &err));
  bt_an_schemas_free(s);
  CHECK(configured && !o.enabled);
  CHECK(str_is(o.api_key, "phc_test"));
  CHECK(str_is(o.host, "https://ph.example"));
  CHECK(str_is(o.data_dir, "/tmp/cfg-data"));
  CHECK(str_is(o.user_id, "u-17"));
  int64_t want[] = {7, 0, 11, 12, 13, 14, 2048, 15, 0, 16, 17, 18};
  int64_t got[] = {o.batch_size, o.flush_interval_ms, o.sync_interval_ms,
                   o.request_timeout_ms, o.shutdown_timeout_ms, o.max_queue,
                   o.spool_max_bytes, o.session_timeout_minutes, o.max_retries,
                   o.retry_base_ms, o.retry_max_ms, o.replay_interval_ms};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    if (got[i] != want[i]) fprintf(stderr, "  analytics int %zu: %lld\n", i, (long long)got[i]);
    CHECK(got[i] == want[i]);
  }
}

static void perf(bt_app *app) {
  bt_err err = {0};
  bt_perf_cfg p;
  CHECK_OK(bt_perf_cfg_load(app, &p, &err));
  CHECK(str_is(p.trades, "t/trades"));
  CHECK(str_is(p.out_dir, "t/perf"));
  CHECK(str_is(p.alerts_file, "t/alerts.jsonl"));
  CHECK(str_is(p.targets, "t/targets.lua") && p.targets_explicit);
  CHECK(str_is(p.formats_dir, "t/formats"));
  CHECK(str_is(p.timezone, "+02:00"));
  CHECK(p.html);
}

static void service(bt_config *cfg) {
  bt_err err = {0};
  bt_svc_config s;
  CHECK_OK(bt_svc_config_read(cfg, &s, &err));
  CHECK(str_is(s.listen, "127.0.0.1:9999"));
  CHECK(str_is(s.queue, "q.db"));
  CHECK(s.workers == 3 && s.http_threads == 5);
  CHECK(s.max_body == 4096 && s.max_queued_per_user == 9 && s.connection_timeout_s == 21);
  CHECK(s.max_attempts == 4 && s.job_lease_s == 45 && s.shutdown_grace_s == 0);
  CHECK(s.nstrategy_dirs == 2 && str_is(s.strategy_dirs[1], "s2"));
  CHECK(s.ndatasets == 2 && str_is(s.datasets[0].name, "alpha") &&
        str_is(s.datasets[1].data, "Z=z.csv"));
  CHECK(s.nkeys == 1 && str_is(s.keys[0].user_id, "alice") && s.keys[0].sha256[0] == 0xab &&
        s.keys[0].sha256[31] == 0xab);
  bt_svc_config_free(&s);
}

static void log_section(bt_config *cfg) {
  bt_err err = {0};
  bt_log_reset();
  CHECK_OK(bt_log_configure(cfg, &err));
  CHECK(bt_log_get_level() == BT_LOG_WARNING);
  CHECK(bt_log_get_format() == BT_LOG_FORMAT_JSON);
  CHECK(bt_log_enabled("broker", BT_LOG_DEBUG));
  CHECK(!bt_log_enabled("run", BT_LOG_WARNING) && bt_log_enabled("run", BT_LOG_ERROR));
  bt_log_reset();
}

/* ---- errors: each section names file, section and key ---------------------------- */

typedef int (*section_reader)(bt_app *app, bt_err *err);

static int read_trace(bt_app *app, bt_err *err) {
  bt_trace_cfg t;
  return bt_trace_cfg_load(&app->cfg, &t, err);
}

static int read_analytics(bt_app *app, bt_err *err) {
  bt_analytics_opts o;
  bool configured;
  bt_an_schemas *s = bt_an_schemas_new();
  int rc = bt_analytics_read_config(app, &o, s, &configured, err);
  bt_an_schemas_free(s);
  return rc;
}

static int read_perf(bt_app *app, bt_err *err) {
  bt_perf_cfg p;
  return bt_perf_cfg_load(app, &p, err);
}

static int read_service(bt_app *app, bt_err *err) {
  bt_svc_config c;
  int rc = bt_svc_config_read(&app->cfg, &c, err);
  if (!rc) bt_svc_config_free(&c);
  return rc;
}

static int read_log(bt_app *app, bt_err *err) {
  int rc = bt_log_configure(&app->cfg, err);
  bt_log_reset();
  return rc;
}

static char tmp_cfg[1024];

/* Load `text` as a config and read one section: it must fail with exactly want. */
static bool fails(section_reader read, const char *text, const char *want) {
  FILE *f = fopen(tmp_cfg, "w");
  if (!f) return false;
  fprintf(f, "return %s\n", text);
  fclose(f);
  bt_app app;
  memset(&app, 0, sizeof app);
  bt_err err = {0};
  bool ok = false;
  if (bt_config_load(&app.cfg, tmp_cfg, true, &err) == 0) {
    ok = read(&app, &err) == BT_EINVAL && strcmp(err.type, "config_error") == 0;
    char full[1200];
    snprintf(full, sizeof full, "%s: %s", tmp_cfg, want);
    ok = ok && strcmp(err.msg, full) == 0;
  }
  if (!ok) fprintf(stderr, "  %s\n  got  [%s]\n  want [%s]\n", text, err.msg, want);
  bt_config_free(&app.cfg);
  bt_err_clear(&err);
  return ok;
}

static void trace_errors(void) {
  CHECK(fails(read_trace, "{ trace = { sample_rate = 'x' } }",
              "trace.sample_rate: expected a number in [0, 1], got \"x\""));
  CHECK(fails(read_trace, "{ trace = { sample_rate = 1.5 } }",
              "trace.sample_rate: expected a number in [0, 1], got 1.5"));
  CHECK(fails(read_trace, "{ trace = { sample_rat = 1 } }",
              "trace.sample_rat: unknown key (did you mean \"sample_rate\"?)"));
  CHECK(fails(read_trace, "{ trace = { critical = { 'FILL', 'ORDR' } } }",
              "trace.critical[2]: not an event type (did you mean \"ORDER\"?)"));
  CHECK(fails(read_trace, "{ trace = { critical = { 7 } } }",
              "trace.critical[1]: not an event type (SIGNAL, ORDER, FILL, ...)"));
  CHECK(fails(read_trace, "{ trace = { critical = 'FILL' } }",
              "trace.critical: expected a table (a list of event type names), got \"FILL\""));
  CHECK(fails(read_trace, "{ trace = { bars = 'some' } }",
              "trace.bars: expected one of \"all\", \"sampled\", \"none\", got \"some\""));
  CHECK(fails(read_trace, "{ trace = { full_policy = 1 } }",
              "trace.full_policy: expected one of \"block\", \"drop\", got 1"));
  CHECK(fails(read_trace, "{ trace = { ring_size = 1000 } }",
              "trace.ring_size: expected an integer in [1024, 16777216] (events), got 1000"));
  CHECK(fails(read_trace, "{ trace = { context_window = -1 } }",
              "trace.context_window: expected an integer in [0, 10000] (events), got -1"));
  CHECK(fails(read_trace, "{ trace = { commit_ms = 0 } }",
              "trace.commit_ms: expected an integer in [1, 60000], got 0"));
  CHECK(fails(read_trace, "{ trace = { enabled = 'no' } }",
              "trace.enabled: expected a boolean, got \"no\""));
}

static void analytics_errors(void) {
  CHECK(fails(read_analytics, "{ analytics = { batch_size = 0 } }",
              "analytics.batch_size: expected an integer >= 1 (events per request), got 0"));
  CHECK(fails(read_analytics, "{ analytics = { spool_max_bytes = '1k' } }",
              "analytics.spool_max_bytes: expected an integer >= 1024, got \"1k\""));
  CHECK(fails(read_analytics, "{ analytics = { flush_interval = 5 } }",
              "analytics.flush_interval: unknown key (did you mean \"flush_interval_ms\"?)"));
  /* the key is a secret: its value is never echoed */
  CHECK(fails(read_analytics, "{ analytics = { api_key = 123456789 } }",
              "analytics.api_key: expected a string, got number"));
  CHECK(fails(read_analytics, "{ analytics = { schemas = 5 } }",
              "analytics.schemas: expected a table (a list of schema tables), got 5"));
}

static void perf_errors(void) {
  CHECK(fails(read_perf, "{ perf = { trade = 'x' } }",
              "perf.trade: unknown key (did you mean \"trades\"?)"));
  CHECK(fails(read_perf, "{ perf = { html = 1 } }", "perf.html: expected a boolean, got 1"));
  CHECK(fails(read_perf, "{ perf = { trades = {} } }",
              "perf.trades: expected a string (a file or directory of *.jsonl), got table"));
  bt_app app;
  memset(&app, 0, sizeof app);
  bt_err err = {0};
  FILE *f = fopen(tmp_cfg, "w");
  if (f) fputs("return { perf = { timezone = 'Nowhere/Town' } }\n", f), fclose(f);
  CHECK(bt_config_load(&app.cfg, tmp_cfg, true, &err) == 0);
  CHECK(read_perf(&app, &err) == BT_EINVAL && strcmp(err.field, "perf.timezone") == 0 &&
        strstr(err.msg, "Nowhere/Town") && strncmp(err.msg, tmp_cfg, strlen(tmp_cfg)) == 0);
  bt_config_free(&app.cfg);
}

static void service_errors(void) {
  CHECK(fails(read_service, "{ service = { job_lease = 1 } }",
              "service.job_lease: expected an integer in [3, 3600] (seconds; heartbeats come "
              "every second), got 1"));
  CHECK(fails(read_service, "{ service = { workers = 2000 } }",
              "service.workers: expected an integer in [1, 1024] (0 = CPU cores), got 2000"));
  CHECK(fails(read_service, "{ service = { worker = 2 } }",
              "service.worker: unknown key (did you mean \"workers\"?)"));
  CHECK(fails(read_service, "{ service = { queue = 5 } }",
              "service.queue: expected a string, got number")); /* may hold a password */
  CHECK(fails(read_service, "{ service = { api_keys = { { user_id = 'a', sha256 = 'tok' } } } }",
              "service.api_keys[1].sha256: want the 64 hex digits of the token's SHA-256 "
              "(printf %s TOKEN | sha256sum)"));
  CHECK(fails(read_service, "{ service = { api_keys = { { user_id = 'a', sha256 = 77 } } } }",
              "service.api_keys[1].sha256: expected a string (the 64 hex digits of the token's "
              "SHA-256), got number"));
  CHECK(fails(read_service, "{ service = { api_keys = { { userid = 'a' } } } }",
              "service.api_keys[1].userid: unknown key (did you mean \"user_id\"?)"));
  CHECK(fails(read_service, "{ service = { api_keys = { 'k' } } }",
              "service.api_keys[1]: expected a table {user_id = ..., sha256 = ...}, got string"));
  CHECK(fails(read_service, "{ service = { strategy_dirs = 'strategies' } }",
              "service.strategy_dirs: expected a table (a list of directories), got "
              "\"strategies\""));
  CHECK(fails(read_service, "{ service = { datasets = { ['../x'] = 'a.csv' } } }",
              "service.datasets: dataset names are 1..100 characters of A-Z a-z 0-9 _ . - "
              "(not starting with '.')"));
  /* workers = 0 keeps the default (the CPU count) */
  FILE *f = fopen(tmp_cfg, "w");
  if (f) fputs("return { service = { workers = 0 } }\n", f), fclose(f);
  bt_app app;
  memset(&app, 0, sizeof app);
  bt_err err = {0};
  bt_svc_config c;
  CHECK(bt_config_load(&app.cfg, tmp_cfg, true, &err) == 0);
  CHECK_OK(bt_svc_config_read(&app.cfg, &c, &err));
  CHECK(c.workers >= 1);
  bt_svc_config_free(&c);
  bt_config_free(&app.cfg);
}

static void log_errors(void) {
  CHECK(fails(read_log, "{ log = { levle = 'info' } }",
              "log.levle: unknown key (did you mean \"level\"?)"));
  CHECK(fails(read_log, "{ log = { level = 'loud' } }",
              "log.level: unknown level \"loud\" (want debug, info, warning, error or off)"));
  CHECK(fails(read_log, "{ log = { level = 3 } }",
              "log.level: expected a string (debug, info, warning, error or off), got 3"));
  CHECK(fails(read_log, "{ log = { format = 'xml' } }",
              "log.format: unknown format \"xml\" (want auto, json or console)"));
  CHECK(fails(read_log, "{ log = { loggers = { broker = 'loud' } } }",
              "log.loggers.broker: unknown level \"loud\" (want debug, info, warning, error or off)"));
  CHECK(fails(read_log, "{ log = { loggers = { broker = 1 } } }",
              "log.loggers.broker: expected a level name, got number"));
  CHECK(fails(read_log, "{ log = { loggers = 'debug' } }",
              "log.loggers: expected a table (logger name = level), got \"debug\""));
}

int main(void) {
  unsetenv("BTRUN_LOG_LEVEL");
  unsetenv("BTRUN_LOG_FORMAT");
  unsetenv("POSTHOG_API_KEY");
  unsetenv("POSTHOG_HOST");
  unsetenv("SESSION_TIMEOUT_MINUTES");
  unsetenv("PERFORMANCE_SUMMARY_TIMEZONE");
  unsetenv("PERFORMANCE_ALERT_ROLLING_WINDOW");
  unsetenv("BTRUN_TRUST_STRATEGIES");
  const char *src = getenv("BTRUN_SRC");
  char path[1024];
  snprintf(path, sizeof path, "%s/tests/fixtures/config/full.lua", src ? src : ".");
  bt_app app;
  memset(&app, 0, sizeof app);
  bt_err err = {0};
  CHECK_OK(bt_config_load(&app.cfg, path, true, &err));
  core(&app.cfg);
  trace(&app.cfg);
  analytics(&app);
  perf(&app);
  service(&app.cfg);
  log_section(&app.cfg);
  bt_config_free(&app.cfg);

  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp || !*tmp) tmp = "/tmp";
  CHECK(bt_mkdirs(tmp, 0755) == 0); /* the suite may run this before anything made it */
  snprintf(tmp_cfg, sizeof tmp_cfg, "%s/test_config_sections.%d.lua", tmp, (int)getpid());
  trace_errors();
  analytics_errors();
  perf_errors();
  service_errors();
  log_errors();
  remove(tmp_cfg);
  return failures != 0;
}
