/* analytics_cli.c - `btrun analytics flush|status|opt-out|opt-in`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analytics.h"
#include "analytics_consent.h"
#include "analytics_spool.h"
#include "cli_opts.h"

const char bt_analytics_help[] =
    "usage: btrun analytics COMMAND\n"
    "\n"
    "Product analytics (PostHog). Commands:\n"
    "  flush [--timeout MS]   send every spooled or queued event now and wait for it\n"
    "                         (default 30000 ms); exit 1 if something is left\n"
    "  status                 configuration, spool backlog, installation id, opt-outs\n"
    "  opt-out USER_ID        never send events of this user (persisted in the data dir)\n"
    "  opt-in USER_ID         undo opt-out\n"
    "\n"
    "Configured by the `analytics` section of config/btrun.lua and the environment:\n"
    "POSTHOG_API_KEY (required to send anything), POSTHOG_HOST, SESSION_TIMEOUT_MINUTES.\n"
    "Data directory: data_dir config key, BTRUN_DATA_DIR, XDG_DATA_HOME/btrun or\n"
    "~/.local/share/btrun. See docs/analytics.md.\n";

static void analytics_dir(bt_app *app, char *out, size_t n) {
  snprintf(out, n, "%s/analytics", app->cfg.data_dir);
}

static const bt_cli_usage USAGE_ERR = {.prog = "btrun analytics",
                                       .hint = "Try 'btrun analytics --help'.",
                                       .unknown = "unknown option '%s'",
                                       .needs_value = "%s needs a value"};

static int cmd_flush(bt_app *app, int argc, char **argv) {
  const char *tv = NULL;
  const bt_cli_opt opts[] = {{"--timeout", .value = &tv}, {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&USAGE_ERR, opts, argc, argv, 1, &args)) return 1;
  if (args.npos) return bt_cli_usage_error(&USAGE_ERR, "flush: unexpected argument '%s'", args.pos[0]);
  long long timeout = 30000;
  char *end = NULL;
  if (tv && (timeout = strtoll(tv, &end, 10), !*tv || *end || timeout < 0))
    return bt_cli_usage_error(&USAGE_ERR, "flush --timeout: want milliseconds >= 0, got '%s'", tv);
  bt_analytics *a = bt_analytics_of(app);
  if (!a) {
    fprintf(stderr, "btrun analytics flush: analytics is not configured (set POSTHOG_API_KEY "
                    "or analytics.api_key) or is disabled\n");
    return 1;
  }
  int rc = bt_analytics_flush(a, timeout);
  bt_analytics_stats st;
  bt_analytics_get_stats(a, &st);
  printf("delivered %llu event(s) in %llu request(s); %llu rejected; %lld byte(s) still pending\n",
         (unsigned long long)st.delivered, (unsigned long long)st.batches,
         (unsigned long long)st.rejected, (long long)st.pending_bytes);
  return rc ? 1 : 0;
}

static int cmd_status(bt_app *app) {
  char dir[700], spool[800];
  analytics_dir(app, dir, sizeof dir);
  snprintf(spool, sizeof spool, "%s/spool", dir);
  bt_analytics_opts o;
  bool configured = false;
  bt_err err = {0};
  bt_an_schemas *schemas = bt_an_schemas_new();
  int rc = bt_analytics_read_config(app, &o, schemas, &configured, &err);
  bt_an_schemas_free(schemas);
  if (rc) {
    fprintf(stderr, "btrun analytics status: %s\n", err.msg);
    return 1;
  }
  printf("enabled:          %s\n", !o.enabled ? "no (analytics.enabled = false)"
                                   : configured ? "yes" : "no (no POSTHOG_API_KEY)");
  printf("host:             %s\n", o.host);
  printf("data dir:         %s\n", dir);
  char idpath[800], id[64] = "(none yet)";
  snprintf(idpath, sizeof idpath, "%s/installation_id", dir);
  FILE *idf = fopen(idpath, "r");
  if (idf) {
    if (fgets(id, sizeof id, idf)) id[strcspn(id, "\r\n")] = '\0';
    fclose(idf);
  }
  printf("installation id:  %s\n", id);
  bt_an_spool_census c;
  bt_an_spool_census_dir(spool, &c);
  printf("spool:            %lld event(s) pending, %lld byte(s), %d file(s) (%d in use by "
         "running processes)%s\n",
         (long long)c.events, (long long)c.bytes, c.files, c.files_in_use,
         c.corrupt ? ", damaged records present" : "");
  size_t n;
  char **ids = bt_an_consent_list(dir, &n);
  printf("opted-out users:  %zu\n", n);
  for (size_t i = 0; i < n; i++) printf("  %s\n", ids[i]);
  bt_an_consent_list_free(ids, n);
  return 0;
}

static int cmd_consent(bt_app *app, int argc, char **argv, bool opt_out) {
  if (argc != 2) {
    fprintf(stderr, "btrun analytics %s: expected one USER_ID\n%s", argv[0], bt_analytics_help);
    return 1;
  }
  char dir[700];
  analytics_dir(app, dir, sizeof dir);
  bool changed;
  bt_err err = {0};
  if (bt_an_consent_set(dir, argv[1], opt_out, &changed, &err)) {
    fprintf(stderr, "btrun analytics %s: %s\n", argv[0], err.msg);
    return 1;
  }
  printf("user %s %s%s\n", argv[1], opt_out ? "opted out" : "opted in",
         changed ? "" : " (no change)");
  return 0;
}

const char *const bt_analytics_subcommands[] = {"flush", "status", "opt-out", "opt-in", NULL};

/* argv[1] is one of bt_analytics_subcommands and no --help is here (bt_cli_main checks
 * both: a USER_ID is never taken for --help). */
int bt_analytics_cli(bt_app *app, int argc, char **argv) {
  const char *cmd = argv[1];
  if (strcmp(cmd, "flush") == 0) return cmd_flush(app, argc - 1, argv + 1);
  if (strcmp(cmd, "status") == 0) {
    if (argc > 2) return bt_cli_usage_error(&USAGE_ERR, "status: unexpected argument '%s'", argv[2]);
    return cmd_status(app);
  }
  return cmd_consent(app, argc - 1, argv + 1, strcmp(cmd, "opt-out") == 0);
}
