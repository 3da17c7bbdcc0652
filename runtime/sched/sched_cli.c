/* sched_cli.c - `btrun schedules`: list the schedules and their next fire times, fire
 * one now, show what fired. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_opts.h"
#include "perf_time.h"
#include "iso8601.h"
#include "sched_cli.h"
#include "scheduler.h"

const char bt_sched_help[] =
    "usage: btrun schedules list [--schedules FILE] [--format table|json] [--from TIME] [--count N]\n"
    "       btrun schedules run NAME [--schedules FILE]\n"
    "       btrun schedules history [NAME] [--limit N] [--format table|json]\n"
    "\n"
    "Schedules are defined in config/schedules.lua (docs/schedules.md); `btrun serve` fires\n"
    "them while it runs.\n"
    "  list       each schedule and its next fire times, in its zone and in UTC; checks the\n"
    "             file (exit 1 with the file, schedule and field of the first error)\n"
    "    --from TIME   ISO-8601 instant to count from (default: now)\n"
    "    --count N     fire times per schedule (default 3, at most 1000)\n"
    "    --format F    table (default) or json: [{\"name\":..,\"next\":[\"...Z\",..]},..]\n"
    "  run NAME   fire the schedule now, origin \"manual\": a backtest is enqueued (the\n"
    "             service's workers run it), a perf job runs here and prints its outcome\n"
    "             (exit 2 when degraded, as `btrun perf`)\n"
    "  history    the latest fires recorded in <data_dir>/schedules.db, newest first\n"
    "    --limit N     rows (default 20)\n"
    "  --schedules FILE   the schedules file (default config/schedules.lua)\n";

static const bt_cli_usage U = {.prog = "btrun schedules",
                               .hint = "(see btrun schedules --help)",
                               .unknown = "unknown argument '%s'"};

static int fail(bt_err *err) { return bt_cli_fail(U.prog, err); }

typedef struct opts {
  const char *file, *format, *name;
  bool has_from;
  int64_t from;
  long count, limit;
} opts;

static int parse(int argc, char **argv, opts *o, bool takes_name) {
  o->file = BT_SCHEDULES_DEFAULT, o->format = "table", o->count = 3, o->limit = 20;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (a[0] != '-' && takes_name && !o->name) {
      o->name = a;
      continue;
    }
    if (a[0] != '-') return bt_cli_usage_error(&U, "unexpected argument '%s'", a);
    if (!v) return bt_cli_usage_error(&U, "%s needs a value", a);
    if (strcmp(a, "--schedules") == 0) {
      o->file = v;
    } else if (strcmp(a, "--format") == 0) {
      if (strcmp(v, "table") && strcmp(v, "json")) return bt_cli_usage_error(&U, "--format: expected table or json, got '%s'", v);
      o->format = v;
    } else if (strcmp(a, "--from") == 0) {
      if (!bt_iso8601_parse(v, (long)strlen(v), BT_ISO_STRICT, &o->from))
        return bt_cli_usage_error(&U, "--from: expected an ISO-8601 time such as 2027-03-13T00:00:00Z, got '%s'", v);
      o->has_from = true;
    } else if (strcmp(a, "--count") == 0) {
      if (!bt_cli_long(v, 1, 1000, &o->count)) return bt_cli_usage_error(&U, "--count: expected 1..1000, got '%s'", v);
    } else if (strcmp(a, "--limit") == 0) {
      if (!bt_cli_long(v, 1, 10000, &o->limit)) return bt_cli_usage_error(&U, "--limit: expected 1..10000, got '%s'", v);
    } else {
      static const char *const names[] = {"--schedules", "--format", "--from", "--count",
                                          "--limit", "--help"};
      return bt_cli_unknown(&U, a, names, sizeof names / sizeof names[0]);
    }
    i++;
  }
  return 0;
}

static const char *kind_name(const bt_schedule *s) {
  return s->kind == BT_SCHED_BACKTEST ? "backtest" : "perf";
}

static int cmd_list(const bt_schedules *set, const opts *o) {
  int64_t from = o->has_from ? o->from : 0;
  if (!o->has_from) {
    bt_sched_clock c;
    bt_err err = {0};
    if (bt_sched_clock_init(&c, &err)) return fail(&err);
    from = bt_sched_clock_ms(&c) / 1000;
  }
  bool json = strcmp(o->format, "json") == 0;
  cJSON *arr = json ? cJSON_CreateArray() : NULL;
  if (!json && !set->n) printf("No schedules in %s\n", set->path);
  for (size_t i = 0; i < set->n; i++) {
    const bt_schedule *s = &set->v[i];
    cJSON *o_ = NULL, *next = NULL, *local = NULL;
    if (json) {
      o_ = cJSON_CreateObject();
      cJSON_AddStringToObject(o_, "name", s->name);
      cJSON_AddStringToObject(o_, "cron", s->cron_text);
      cJSON_AddStringToObject(o_, "timezone", bt_tz_name(s->tz));
      cJSON_AddStringToObject(o_, "kind", kind_name(s));
      cJSON_AddStringToObject(o_, "catch_up", bt_catchup_name(s->catch_up));
      next = cJSON_AddArrayToObject(o_, "next");
      local = cJSON_AddArrayToObject(o_, "next_local");
      cJSON_AddItemToArray(arr, o_);
    } else {
      printf("%s  %s  \"%s\"  %s  catch_up %s", s->name, kind_name(s), s->cron_text,
             bt_tz_name(s->tz), bt_catchup_name(s->catch_up));
      if (s->catch_up == BT_CATCHUP_ALL) printf(" (max %d)", s->catch_up_max);
      if (s->kind == BT_SCHED_BACKTEST) printf("  strategy %s", s->strategy);
      else printf("  window %s", s->perf.window);
      printf("\n");
    }
    int64_t t = from;
    for (long k = 0; k < o->count; k++) {
      t = bt_cron_next(&s->cron, s->tz, t);
      if (t == INT64_MAX) break;
      char u[32], l[32];
      bt_format_time(t, u);
      bt_tz_format_local(s->tz, t, l);
      if (json) {
        cJSON_AddItemToArray(next, cJSON_CreateString(u));
        cJSON_AddItemToArray(local, cJSON_CreateString(l));
      } else {
        printf("  %-26s %s\n", l, u);
      }
    }
  }
  if (json) {
    char *text = cJSON_PrintUnformatted(arr);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(arr);
  }
  return 0;
}

static int cmd_run(bt_app *app, const bt_schedules *set, const opts *o, bt_sched_queue_open_fn open) {
  if (!o->name) return bt_cli_usage_error(&U, "%s", "run needs a schedule NAME");
  const bt_schedule *s = bt_schedules_find(set, o->name);
  if (!s) {
    fprintf(stderr, "btrun schedules: no schedule named \"%s\" in %s\n", o->name, set->path);
    return 1;
  }
  bt_err err = {0};
  bt_perf_cfg perf;
  bt_sched_clock clock;
  bt_sched_env env = {.user_id = app->cfg.user_id, .perf = &perf};
  bt_sched_env_owner(env.owner);
  int rc = bt_perf_cfg_load(app, &perf, &err);
  if (!rc) rc = bt_sched_clock_init(&clock, &err);
  if (!rc) rc = bt_sched_ledger_open_in(app->cfg.data_dir, &env.ledger, &err);
  if (!rc && s->kind == BT_SCHED_BACKTEST) rc = open(app, &env.queue, &err);
  bt_sched_result r;
  if (!rc) rc = bt_sched_trigger(&env, s, bt_sched_clock_ms(&clock), "manual", &r, &err);
  bt_queue_close(env.queue);
  bt_sched_ledger_close(env.ledger);
  if (rc) return fail(&err);
  if (!r.fired) { /* only with a frozen test clock: the same instant asked twice */
    printf("%s: already fired at that instant (%s)\n", s->name, r.correlation_id);
    return 0;
  }
  if (s->kind == BT_SCHED_BACKTEST) {
    printf("%s: enqueued job %s (origin manual, correlation id %s); btrun serve runs it\n",
           s->name, r.run_id, r.correlation_id);
    return 0;
  }
  char a[16], z[16];
  bt_perf_day_format(r.eval.start, a);
  bt_perf_day_format(r.eval.end, z);
  printf("%s: %s  %s %s..%s  trades %u  new alerts %d  active alerts %d  eval %.2f ms\n", s->name,
         r.outcome, s->perf.window, a, z, r.eval.trades, r.eval.raised, r.eval.active, r.eval.ms);
  return r.eval.active ? 2 : 0;
}

static int cmd_history(bt_app *app, const opts *o) {
  bt_err err = {0};
  bt_sched_ledger *l;
  if (bt_sched_ledger_open_in(app->cfg.data_dir, &l, &err)) return fail(&err);
  bt_sched_fire *v;
  size_t n;
  int rc = bt_sched_ledger_list(l, o->name, (int)o->limit, &v, &n, &err);
  bt_sched_ledger_close(l);
  if (rc) return fail(&err);
  bool json = strcmp(o->format, "json") == 0;
  cJSON *arr = json ? cJSON_CreateArray() : NULL;
  for (size_t i = 0; i < n; i++) {
    const bt_sched_fire *f = &v[i];
    char when[32];
    bt_format_time(f->fire_ms / 1000, when);
    if (json) {
      cJSON_AddItemToArray(arr, bt_sched_fire_json(f));
    } else {
      printf("%s  %-20s %-8s %-8s %-8s %-8s %s %s\n", when, f->schedule, f->kind, f->origin,
             f->state, f->outcome[0] ? f->outcome : "-", f->run_id[0] ? f->run_id : "-", f->detail);
    }
  }
  if (json) {
    char *text = cJSON_PrintUnformatted(arr);
    if (text) printf("%s\n", text);
    free(text);
    cJSON_Delete(arr);
  } else if (!n) {
    printf("No fires recorded\n");
  }
  free(v);
  return 0;
}

const char *const bt_sched_subcommands[] = {"list", "run", "history", NULL};

int bt_sched_cli(bt_app *app, int argc, char **argv, bt_sched_queue_open_fn open) {
  const char *sub = argv[1]; /* one of bt_sched_subcommands (bt_cli_main) */
  opts o = {0};
  if (parse(argc, argv, &o, strcmp(sub, "list") != 0)) return 1;
  if (strcmp(sub, "history") == 0) return cmd_history(app, &o);
  bt_schedules set;
  bt_err err = {0};
  bool explicit_path = strcmp(o.file, BT_SCHEDULES_DEFAULT) != 0;
  if (bt_schedules_load(o.file, explicit_path, &set, &err)) return fail(&err);
  int rc = strcmp(sub, "list") == 0 ? cmd_list(&set, &o) : cmd_run(app, &set, &o, open);
  bt_schedules_free(&set);
  return rc;
}
