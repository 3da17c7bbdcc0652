/* events_cli.c - `btrun events list|prune`: the stored events of runs, and retention. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cli_opts.h"
#include "event_export.h"
#include "grow.h"
#include "json.h"
#include "trace_cli_internal.h"

int bt_events_write_jsonl(bt_store *s, const char *run_id, uint64_t limit, FILE *out,
                          bt_err *err) {
  bt_store_run run;
  if (bt_store_find_run(s, run_id, &run, err)) return err->code;
  bt_event_export *x = bt_event_export_new(out, BT_EXPORT_JSONL);
  uint64_t listed = 0;
  int rc = x ? bt_event_export_run(x, s, &run, (bt_store_filter){0}, limit, &listed, err)
             : bt_errf(err, BT_ENOMEM, NULL, "out of memory");
  if (x) {
    bt_err e2 = {0};
    int rc2 = bt_event_export_finish(x, rc ? &e2 : err);
    if (!rc) rc = rc2;
  }
  bt_store_run_clear(&run);
  return rc;
}

/* ---- btrun events -------------------------------------------------------------- */

const char bt_events_help[] =
    "usage: btrun events list (--run RUN_ID | --correlation ID) [--type TYPE[,TYPE...]]\n"
    "                         [--from TIME] [--to TIME] [--format table|jsonl|csv]\n"
    "                         [--limit N] [--store PATH | --data-dir DIR]\n"
    "       btrun events prune (--before DATE | --keep-runs N)\n"
    "                          [--store PATH | --data-dir DIR]\n"
    "\n"
    "list   the stored events of one run in sequence order (or of every run sharing a\n"
    "       correlation id, oldest run first). RUN_ID is the run's UUID, a unique\n"
    "       prefix (4+ characters) or `latest` (the newest run); see `btrun runs list`.\n"
    "       TYPE is BAR, SIGNAL, ORDER, FILL, PORTFOLIO, RISK_BREACH, LOG, USER or the\n"
    "       name of a user event type of the run (anything else is an error).\n"
    "       TIME is market time: YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch\n"
    "       seconds (inclusive). table (default) is for reading: its EVENT_ID column\n"
    "       (RUN_ID:SEQ) is what `btrun trace lineage` takes. jsonl and csv carry every\n"
    "       field: event_id, seq, event_type, user_type, timestamp, symbol,\n"
    "       causation_id, correlation_id, source, created_at, emitted_at, received_at,\n"
    "       processed_at (ns since the run's start), latency_ns, queue_time_ns and the\n"
    "       payload: jsonl as the object `data`, csv as one data.<key> column per\n"
    "       payload key of the listed event types (order: docs/events.md#export).\n"
    "prune  delete old runs and all their events: runs created before DATE (wall\n"
    "       clock, UTC), and/or all but the N newest runs. Runs still being written are\n"
    "       kept. Space is reclaimed in the file.\n"
    "\n"
    BT_TCLI_STORE_HELP
    "Docs: docs/events.md\n";

static int parse_types(const char *list, uint32_t *mask, const char **user_type) {
  *mask = 0;
  *user_type = NULL;
  if (!list) return 0;
  char buf[256];
  snprintf(buf, sizeof buf, "%s", list);
  for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
    int t = bt_event_type_parse(tok);
    if (t >= 0) {
      *mask |= BT_EV_MASK(t);
    } else if (!*user_type) { /* a user event type: USER events with that name */
      *user_type = list + (tok - buf);
      *mask |= BT_EV_MASK(BT_EV_USER);
      if (strchr(*user_type, ',')) {
        fprintf(stderr, "btrun events: give a user event type alone in --type\n");
        return 1;
      }
    } else {
      fprintf(stderr,
              "btrun events: --type: '%s' is not an event type. Types: BAR, SIGNAL, ORDER, "
              "FILL, PORTFOLIO, RISK_BREACH, LOG, USER, or one user event type name\n",
              tok);
      return 1;
    }
  }
  return 0;
}

static int parse_time_opt(const char *name, const char *v, int64_t *out) {
  if (!bt_parse_time(v, -1, out)) {
    fprintf(stderr, "btrun events: %s: not a time: '%s' (use YYYY-MM-DD, ISO-8601 or epoch seconds)\n",
            name, v);
    return 1;
  }
  return 0;
}

/* The table form of one run's events: EVENT_ID (the run id shortened to a prefix that
 * is unique in the store, as `trace lineage` takes it), type, time, symbol, cause. */
static int table_one(bt_store *s, const char *run_id, bt_store_filter q, uint64_t limit,
                     uint64_t *listed, bool count_gaps) {
  bt_store_run run;
  bt_tcli_symbols sy = {0};
  if (bt_tcli_find_run(s, run_id, &run, &sy)) return 1;
  q.run_no = run.run_no;
  bt_err err = {0};
  bt_store_iter *it = NULL;
  size_t plen = 0;
  int rc = 0;
  if (bt_store_run_id_prefix(s, run.run_id, 8, &plen, &err) || bt_store_query(s, &q, &it, &err))
    rc = bt_cli_fail("btrun", &err);
  if (!rc) {
    int idw = (int)plen + 8; /* the prefix, ':' and a seq of up to 7 digits */
    printf("run %s (%s)\n%-*s %-12s %-20s %-8s %-10s %-9s %s\n", run.run_id, run.status, idw,
           "EVENT_ID", "TYPE", "TIME", "SYMBOL", "CAUSE", "SOURCE", "DATA");
    bt_trace_event e;
    uint64_t n = 0, prev = 0, gaps = 0;
    int r = 0;
    bt_json_buf data = {0};
    while ((limit == 0 || *listed < limit) && (r = bt_store_iter_next(it, &e, &err)) == 1) {
      n++;
      (*listed)++;
      if (e.seq != prev + 1 && count_gaps) gaps++;
      prev = e.seq;
      char t[32], id[80], cause[24] = "-";
      bt_format_time(e.ts, t);
      snprintf(id, sizeof id, "%.*s:%" PRIu64, (int)plen, run.run_id, e.seq);
      if (e.cause) snprintf(cause, sizeof cause, "%" PRIu64, e.cause);
      data.len = 0;
      bt_trace_event_data_write(&data, &e);
      printf("%-*s %-12s %-20s %-8s %-10s %-9s %s\n", idw, id, bt_tcli_type_label(&e), t,
             bt_tcli_symbol_name(&sy, e.symbol), cause, e.source ? e.source : "",
             data.failed ? "" : data.data);
    }
    bt_json_free(&data);
    if (r < 0) rc = bt_cli_fail("btrun", &err);
    printf("%" PRIu64 " event(s)", n);
    if (gaps) printf(", %" PRIu64 " gap(s) in the sequence (sampled out or dropped)", gaps);
    putchar('\n');
  }
  bt_store_iter_free(it);
  cJSON_Delete(sy.arr);
  bt_store_run_clear(&run);
  return rc;
}

typedef struct run_list {
  bt_store_run *v;
  size_t n, cap;
} run_list;

static void run_list_free(run_list *l) {
  for (size_t i = 0; i < l->n; i++) bt_store_run_clear(&l->v[i]);
  free(l->v);
}

static int run_list_add(run_list *l, const bt_store_run *r) {
  if (BT_GROW(l->v, l->cap, l->n + 1)) return 1;
  l->v[l->n++] = *r;
  return 0;
}

static int collect_id(void *ud, const bt_store_run *r) {
  run_list *l = ud; /* only the id: list_runs clears r after the call */
  bt_store_run c = {0};
  memcpy(c.run_id, r->run_id, sizeof c.run_id);
  return run_list_add(l, &c);
}

/* The runs to list: --run, or every run of --correlation, oldest first. */
static int resolve_runs(bt_store *s, const bt_tcli_opts *o, run_list *out) {
  bt_err err = {0};
  run_list ids = {0};
  if (o->run) {
    bt_store_run c = {0};
    snprintf(c.run_id, sizeof c.run_id, "%s", o->run);
    if (run_list_add(&ids, &c)) return 1;
  } else if (bt_store_list_runs(s, o->corr, 0, collect_id, &ids, &err)) {
    run_list_free(&ids);
    return bt_cli_fail("btrun", &err);
  } else if (ids.n == 0) {
    fprintf(stderr, "btrun events list: no run with correlation id '%s'\n", o->corr);
    run_list_free(&ids);
    return 1;
  }
  int rc = 0;
  for (size_t i = ids.n; !rc && i-- > 0;) {
    bt_store_run r;
    const char *id = o->run ? o->run : ids.v[i].run_id; /* --run may be a prefix or "latest" */
    if (bt_store_find_run(s, id, &r, &err)) rc = bt_cli_fail("btrun", &err);
    else if (run_list_add(out, &r)) rc = (bt_store_run_clear(&r), 1);
  }
  run_list_free(&ids);
  return rc;
}

/* A --type name that is not a built-in type must be a user type of the runs: else the
 * error lists what the runs have. */
static int check_user_type(bt_store *s, const run_list *runs, const char *name) {
  char have[1024] = "";
  size_t used = 0;
  bool found = false;
  int rc = 0;
  for (size_t i = 0; !rc && !found && i < runs->n; i++) {
    bt_store_filter q = {.run_no = runs->v[i].run_no, .type_mask = BT_EV_MASK(BT_EV_USER)};
    bt_store_iter *it;
    bt_err err = {0};
    if (bt_store_query(s, &q, &it, &err)) return bt_cli_fail("btrun", &err);
    bt_trace_event e;
    int r;
    while (!found && (r = bt_store_iter_next(it, &e, &err)) == 1) {
      if (!e.user_type) continue;
      if (strcmp(e.user_type, name) == 0) found = true;
      char pat[BT_TRACE_TYPE_MAX + 4];
      snprintf(pat, sizeof pat, " %s,", e.user_type);
      if (!strstr(have, pat) && used + strlen(pat) < sizeof have)
        used += (size_t)snprintf(have + used, sizeof have - used, "%s", pat);
    }
    if (r < 0) rc = bt_cli_fail("btrun", &err);
    bt_store_iter_free(it);
  }
  if (rc || found) return rc;
  if (used) have[used - 1] = 0; /* the last comma */
  fprintf(stderr,
          "btrun events list: --type: '%s' is not an event type. Types: BAR, SIGNAL, ORDER, "
          "FILL, PORTFOLIO, RISK_BREACH, LOG, USER; user types in %s:%s\n",
          name, runs->n == 1 ? "this run" : "these runs", used ? have : " none");
  return 1;
}

/* jsonl/csv through the export writer (stdout). */
static int export_runs(bt_store *s, const run_list *runs, const bt_store_filter *q, bool csv,
                       uint64_t limit) {
  bt_event_export *x = bt_event_export_new(stdout, csv ? BT_EXPORT_CSV : BT_EXPORT_JSONL);
  if (!x) return fprintf(stderr, "btrun: out of memory\n"), 1;
  bt_err err = {0};
  int rc = 0;
  uint64_t listed = 0;
  for (size_t i = 0; csv && !rc && i < runs->n; i++)
    rc = bt_event_export_scan(x, s, &runs->v[i], q, &err);
  for (size_t i = 0; !rc && i < runs->n && (limit == 0 || listed < limit); i++)
    rc = bt_event_export_run(x, s, &runs->v[i], *q, limit, &listed, &err);
  bt_err ferr = {0};
  int frc = bt_event_export_finish(x, &ferr);
  if (rc) return bt_cli_fail("btrun", &err);
  return frc ? bt_cli_fail("btrun", &ferr) : 0;
}

static int events_list(bt_app *app, bt_tcli_opts *o) {
  if (!o->run == !o->corr) {
    fprintf(stderr, "btrun events list: give --run RUN_ID or --correlation ID (see btrun runs list)\n");
    return 1;
  }
  const char *format = o->format ? o->format : "table";
  if (strcmp(format, "table") && strcmp(format, "jsonl") && strcmp(format, "csv")) {
    fprintf(stderr, "btrun events list: --format must be table, jsonl or csv\n");
    return 1;
  }
  bt_store_filter q = {0};
  if (parse_types(o->types, &q.type_mask, &q.user_type)) return 1;
  if (o->from && parse_time_opt("--from", o->from, &q.from)) return 1;
  if (o->to && parse_time_opt("--to", o->to, &q.to)) return 1;
  q.has_from = o->from != NULL;
  q.has_to = o->to != NULL;
  uint64_t limit = 0, listed = 0;
  if (o->limit && !bt_tcli_parse_u64(o->limit, &limit)) {
    fprintf(stderr, "btrun events list: --limit must be a number\n");
    return 1;
  }
  bool count_gaps = !o->types && !o->from && !o->to;
  bt_store *s;
  bt_tcli_wants w = {.ids = &o->run, .nids = o->run != NULL, .corr = o->corr, .events = true};
  if (bt_tcli_open_store(app, o, &w, &s)) return 1;
  run_list runs = {0};
  int rc = resolve_runs(s, o, &runs);
  if (!rc && q.user_type) rc = check_user_type(s, &runs, q.user_type);
  if (!rc && strcmp(format, "table") != 0) {
    rc = export_runs(s, &runs, &q, strcmp(format, "csv") == 0, limit);
  } else {
    for (size_t i = 0; !rc && i < runs.n && (limit == 0 || listed < limit); i++)
      rc = table_one(s, runs.v[i].run_id, q, limit, &listed, count_gaps);
  }
  run_list_free(&runs);
  bt_tcli_close_store(o, s);
  return rc;
}

static int events_prune(bt_app *app, bt_tcli_opts *o) {
  if (!o->before && !o->keep) {
    fprintf(stderr, "btrun events prune: give --before DATE and/or --keep-runs N\n");
    return 1;
  }
  int64_t before_ms = -1;
  int keep = -1;
  if (o->before) {
    int64_t t;
    if (!bt_parse_time(o->before, -1, &t)) {
      fprintf(stderr, "btrun events prune: --before: not a date: '%s'\n", o->before);
      return 1;
    }
    before_ms = t * 1000;
  }
  if (o->keep) {
    uint64_t k;
    if (!bt_tcli_parse_u64(o->keep, &k) || k > 1000000000) {
      fprintf(stderr, "btrun events prune: --keep-runs must be a number >= 0\n");
      return 1;
    }
    keep = (int)k;
  }
  if (bt_tcli_remote_url(app, o)) { /* retention in the database is its own job (docs/postgresql.md) */
    fprintf(stderr, "btrun events prune: prunes a local store only (give --store, or unset BTRUN_DB)\n");
    return 1;
  }
  bt_store *s;
  if (bt_tcli_open_store(app, o, &(bt_tcli_wants){0}, &s)) return 1;
  bt_err err = {0};
  int deleted = 0, rc = 0;
  if (bt_store_prune(s, before_ms, keep, &deleted, &err)) rc = bt_cli_fail("btrun", &err);
  else printf("pruned %d run(s) from %s\n", deleted, bt_store_path(s));
  bt_tcli_close_store(o, s);
  return rc;
}

const char *const bt_events_subcommands[] = {"list", "prune", NULL};

int bt_events_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv) {
  bt_tcli_opts o;
  const char *sub = argv[1]; /* one of bt_events_subcommands (bt_cli_main) */
  if (strcmp(sub, "list") == 0) {
    if (bt_tcli_parse_opts(app, argc, argv, 2,
                   " --store --db --run --correlation --type --from --to --format --limit ", &o,
                   "events list"))
      return 1;
    o.remote = remote;
    return events_list(app, &o);
  }
  if (bt_tcli_parse_opts(app, argc, argv, 2, " --store --before --keep-runs ", &o, "events prune")) return 1;
  o.remote = remote;
  return events_prune(app, &o);
}
