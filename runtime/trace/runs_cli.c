/* runs_cli.c - `btrun runs list|show` (and the dispatch of `runs compare`). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_opts.h"
#include "trace_cli_internal.h"

const char bt_runs_help[] =
    "usage: btrun runs list [--limit N] [--correlation ID] [--format table|jsonl]\n"
    "                       [--store PATH | --data-dir DIR]\n"
    "       btrun runs show RUN_ID [--format text|json] [--store PATH | --data-dir DIR]\n"
    "       btrun runs compare RUN RUN [...] [--html FILE] [--store PATH | --data-dir DIR]\n"
    "\n"
    "list     traced runs, newest first: run id, status, start time, strategy, total\n"
    "         return, Sharpe, max drawdown, events published and stored, duration and\n"
    "         the size of its events on disk; then the store's total size on disk.\n"
    "         Status is running, completed, failed, interrupted (SIGINT/SIGTERM),\n"
    "         events_lost (completed, but events could not all be stored: its error\n"
    "         says how many), or incomplete: the process died mid-run (killed); its\n"
    "         events up to the last commit are readable.\n"
    "show     one run's metadata, counts and metrics (RUN_ID may be a unique prefix,\n"
    "         or `latest`: the newest run).\n"
    "compare  runs side by side: parameters and key figures from each run's result.json.\n"
    "         RUN is a run id (unique prefix, `latest`) from the store, or a run directory.\n"
    "         --html FILE also writes one page with the figures and the equity curves\n"
    "         overlaid.\n"
    BT_TCLI_STORE_HELP
    "Docs: docs/events.md, docs/outputs.md#comparing-runs\n";

static const char *status_of(const bt_store_run *r) { return r->incomplete ? "incomplete" : r->status; }

/* 1.2 GB, 118.4 MB, 212 KB, 512 B: sizes for reading (JSON keeps bytes). */
static void fmt_bytes(uint64_t b, char *out, size_t n) {
  if (b >= 1000000000) snprintf(out, n, "%.1f GB", (double)b / 1e9);
  else if (b >= 1000000) snprintf(out, n, "%.1f MB", (double)b / 1e6);
  else if (b >= 1000) snprintf(out, n, "%.0f KB", (double)b / 1e3);
  else snprintf(out, n, "%" PRIu64 " B", b);
}

/* size: bytes of the run's events in the local store; -1 when read from a database
 * (the temporary copy's size says nothing about the database's): null. */
static cJSON *run_json(const bt_store_run *r, int64_t size) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run_id", r->run_id);
  cJSON_AddStringToObject(o, "correlation_id", r->correlation_id);
  cJSON_AddStringToObject(o, "status", status_of(r));
  char t[32];
  bt_format_time(r->created_at / 1000, t);
  cJSON_AddStringToObject(o, "created_at", t);
  if (r->completed_at) {
    bt_format_time(r->completed_at / 1000, t);
    cJSON_AddStringToObject(o, "completed_at", t);
  } else {
    cJSON_AddNullToObject(o, "completed_at");
  }
  cJSON_AddStringToObject(o, "strategy", r->strategy);
  struct { const char *k; const char *v; bool json; } f[] = {
      {"strategy_path", r->strategy_path, false}, {"origin", r->origin, false},
      {"user_id", r->user_id, false},             {"out_dir", r->out_dir, false},
      {"params", r->params, true},                {"data", r->data, true},
      {"config", r->config, true},                {"trace_config", r->trace_config, true},
      {"metrics", r->metrics, true},              {"error", r->error, false}};
  for (size_t i = 0; i < sizeof f / sizeof f[0]; i++) {
    cJSON *v = f[i].v ? (f[i].json ? cJSON_Parse(f[i].v) : cJSON_CreateString(f[i].v)) : NULL;
    cJSON_AddItemToObject(o, f[i].k, v ? v : cJSON_CreateNull());
  }
  cJSON_AddNumberToObject(o, "duration_ms", (double)r->duration_ms);
  cJSON_AddNumberToObject(o, "bars", (double)r->bars);
  cJSON_AddNumberToObject(o, "event_count", (double)r->event_count);
  cJSON_AddNumberToObject(o, "events_stored", (double)r->stored);
  cJSON_AddNumberToObject(o, "events_sampled_out", (double)r->sampled_out);
  cJSON_AddNumberToObject(o, "events_dropped", (double)r->dropped);
  cJSON_AddNumberToObject(o, "lineage_gaps", (double)r->lineage_gaps);
  if (size >= 0) cJSON_AddNumberToObject(o, "size_bytes", (double)size);
  else cJSON_AddNullToObject(o, "size_bytes");
  return o;
}

typedef struct list_ctx {
  bool jsonl;
  int n;
  bt_store *s;
  bool failed, remote;
} list_ctx;

static int print_run(void *ud, const bt_store_run *r) {
  list_ctx *c = ud;
  c->n++;
  uint64_t size = 0;
  bt_err err = {0};
  if (!c->remote && bt_store_run_size(c->s, r->run_no, r->run_id, &size, &err))
    return c->failed = true, bt_cli_fail("btrun", &err);
  if (c->jsonl) {
    cJSON *o = run_json(r, c->remote ? -1 : (int64_t)size);
    char *line = cJSON_PrintUnformatted(o);
    puts(line);
    free(line);
    cJSON_Delete(o);
    return 0;
  }
  char t[32], ev[24] = "-", st[24] = "-", dur[24] = "-", ret[24] = "-", sh[24] = "-", dd[24] = "-",
       sz[24] = "-";
  if (!c->remote) fmt_bytes(size, sz, sizeof sz);
  bt_format_time(r->created_at / 1000, t);
  cJSON *m = r->metrics ? cJSON_Parse(r->metrics) : NULL;
  const cJSON *v;
  if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "total_return"))) snprintf(ret, sizeof ret, "%.2f%%", v->valuedouble * 100);
  if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "sharpe"))) snprintf(sh, sizeof sh, "%.2f", v->valuedouble);
  if (cJSON_IsNumber(v = cJSON_GetObjectItem(m, "max_drawdown"))) snprintf(dd, sizeof dd, "%.2f%%", v->valuedouble * 100);
  cJSON_Delete(m);
  if (strcmp(r->status, "running")) {
    snprintf(ev, sizeof ev, "%" PRIu64, r->event_count);
    snprintf(st, sizeof st, "%" PRIu64, r->stored);
    snprintf(dur, sizeof dur, "%.2fs", (double)r->duration_ms / 1000.0);
  }
  printf("%-36s  %-11s %-20s %-18s %9s %7s %8s %10s %10s %9s %9s\n", r->run_id, status_of(r), t,
         r->strategy, ret, sh, dd, ev, st, dur, sz);
  return 0;
}

const char *const bt_runs_subcommands[] = {"list", "show", "compare", NULL};

int bt_runs_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv,
                bt_runs_html_fn html) {
  bt_tcli_opts o;
  const char *sub = argv[1]; /* one of bt_runs_subcommands (bt_cli_main) */
  bool list = strcmp(sub, "list") == 0;
  if (strcmp(sub, "compare") == 0) {
    if (bt_tcli_parse_opts(app, argc, argv, 2, " --store --html ", &o, "runs compare")) return 1;
    return bt_tcli_runs_compare(app, &o, html);
  }
  if (bt_tcli_parse_opts(app, argc, argv, 2,
                 list ? " --store --db --limit --correlation --format " : " --store --db --format ",
                 &o, list ? "runs list" : "runs show"))
    return 1;
  o.remote = remote;
  bt_store *s;
  bt_err err = {0};
  int rc = 0;
  if (list) {
    uint64_t limit = 0;
    if (o.limit && (!bt_tcli_parse_u64(o.limit, &limit) || limit > 1000000000)) {
      fprintf(stderr, "btrun runs list: --limit must be a number\n");
      return 1;
    }
    const char *format = o.format ? o.format : "table";
    if (strcmp(format, "table") && strcmp(format, "jsonl")) {
      fprintf(stderr, "btrun runs list: --format must be table or jsonl\n");
      return 1;
    }
    bt_trace_cfg cfg;
    bool remote_db = bt_tcli_remote_url(app, &o) != NULL;
    if (!o.store && !remote_db && bt_trace_cfg_load(&app->cfg, &cfg, &err))
      return bt_cli_fail("btrun", &err);
    const char *path = o.store ? o.store : cfg.store;
    if (!remote_db && access(path, F_OK) != 0) { /* no store yet: no runs */
      if (strcmp(format, "table") == 0) printf("(no runs: no event store at %s yet)\n", path);
      return 0;
    }
    if (bt_tcli_open_store(app, &o, &(bt_tcli_wants){.corr = o.corr, .limit = (int)limit}, &s)) return 1;
    list_ctx c = {strcmp(format, "jsonl") == 0, 0, s, false, o.cache[0] != 0};
    if (!c.jsonl)
      printf("%-36s  %-11s %-20s %-18s %9s %7s %8s %10s %10s %9s %9s\n", "RUN_ID", "STATUS", "STARTED",
             "STRATEGY", "RETURN", "SHARPE", "MAX_DD", "EVENTS", "STORED", "DURATION", "SIZE");
    if (bt_store_list_runs(s, o.corr, (int)limit, print_run, &c, &err))
      rc = bt_cli_fail("btrun", &err);
    else if (c.failed) rc = 1;
    else if (!c.jsonl && c.n == 0) puts("(no runs)");
    if (!rc && !c.jsonl && !o.cache[0]) { /* a local store: what it takes, how to shrink it */
      char sz[24];
      fmt_bytes(bt_store_disk_size(bt_store_path(s)), sz, sizeof sz);
      printf("store %s: %s on disk (free space: btrun events prune --keep-runs N, or "
             "--before DATE)\n", bt_store_path(s), sz);
    }
  } else {
    if (o.npos != 1) {
      fprintf(stderr, "btrun runs show: give one RUN_ID\n");
      return 1;
    }
    const char *format = o.format ? o.format : "text";
    if (strcmp(format, "text") && strcmp(format, "json")) {
      fprintf(stderr, "btrun runs show: --format must be text or json\n");
      return 1;
    }
    if (bt_tcli_open_store(app, &o, &(bt_tcli_wants){.ids = (const char *const *)o.pos, .nids = 1}, &s)) return 1;
    bt_store_run r;
    if (bt_store_find_run(s, o.pos[0], &r, &err)) {
      rc = bt_cli_fail("btrun", &err);
    } else {
      uint64_t size = 0;
      if (!o.cache[0] && bt_store_run_size(s, r.run_no, r.run_id, &size, &err))
        rc = bt_cli_fail("btrun", &err);
      cJSON *j = run_json(&r, o.cache[0] ? -1 : (int64_t)size);
      if (strcmp(format, "json") == 0) {
        char *txt = cJSON_Print(j);
        puts(txt);
        free(txt);
      } else {
        for (cJSON *f = j->child; f; f = f->next) {
          char *v = cJSON_IsString(f) ? NULL : cJSON_PrintUnformatted(f);
          printf("%-19s %s\n", f->string, v ? v : f->valuestring);
          free(v);
        }
      }
      cJSON_Delete(j);
      bt_store_run_clear(&r);
    }
  }
  bt_tcli_close_store(&o, s);
  return rc;
}
