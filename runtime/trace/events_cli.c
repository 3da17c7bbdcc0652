/* events_cli.c - `btrun events list|prune`: the stored events of runs, and retention. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "cli_opts.h"
#include "trace_cli_internal.h"

int bt_events_write_jsonl(bt_store *s, const char *run_id, uint64_t limit, FILE *out,
                          bt_err *err) {
  bt_store_run run;
  if (bt_store_find_run(s, run_id, &run, err)) return err->code;
  bt_tcli_symbols sy = {run.data ? cJSON_Parse(run.data) : NULL};
  bt_store_filter q = {0};
  q.run_no = run.run_no;
  bt_store_iter *it;
  int rc = bt_store_query(s, &q, &it, err);
  if (!rc) {
    bt_trace_event e;
    uint64_t n = 0;
    int r = 0;
    while ((limit == 0 || n < limit) && (r = bt_store_iter_next(it, &e, err)) == 1) {
      n++;
      cJSON *j = bt_tcli_event_json(&run, &sy, &e);
      char *line = cJSON_PrintUnformatted(j);
      if (line) fprintf(out, "%s\n", line);
      free(line);
      cJSON_Delete(j);
    }
    if (r < 0) rc = err->code;
    bt_store_iter_free(it);
  }
  cJSON_Delete(sy.arr);
  bt_store_run_clear(&run);
  return rc;
}

static void csv_field(const char *s) {
  if (!strpbrk(s, ",\"\n\r")) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (; *s; s++) {
    if (*s == '"') putchar('"');
    putchar(*s);
  }
  putchar('"');
}

/* ---- btrun events -------------------------------------------------------------- */

static const char EVENTS_HELP[] =
    "usage: btrun events list (--run RUN_ID | --correlation ID) [--type TYPE[,TYPE...]]\n"
    "                         [--from TIME] [--to TIME] [--format table|jsonl|csv]\n"
    "                         [--limit N] [--store PATH]\n"
    "       btrun events prune (--before DATE | --keep-runs N) [--store PATH]\n"
    "\n"
    "list   the stored events of one run in sequence order (or of every run sharing a\n"
    "       correlation id, oldest run first). RUN_ID is the run's UUID or a unique\n"
    "       prefix (4+ characters); see `btrun runs list`. TYPE is BAR, SIGNAL,\n"
    "       ORDER, FILL, PORTFOLIO, RISK_BREACH, LOG, USER or a user event type name.\n"
    "       TIME is market time: YYYY-MM-DD, 'YYYY-MM-DD HH:MM:SS', ISO-8601 or epoch\n"
    "       seconds (inclusive). table (default) is for reading; jsonl and csv carry\n"
    "       every field (event_id, causation_id, timings in ns since the run's start).\n"
    "prune  delete old runs and all their events: runs created before DATE (wall\n"
    "       clock, UTC), and/or all but the N newest runs. Runs still being written are\n"
    "       kept. Space is reclaimed in the file.\n"
    "\n"
    "The store is trace.store in the config (default <data_dir>/events.db).\n"
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
      fprintf(stderr, "btrun events: --type: unknown event type '%s'\n", tok);
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

/* The events of one run; `left` counts down --limit (0 = no limit) across runs. */
static int list_one(bt_store *s, const char *run_id, bt_store_filter q, const char *format,
                    uint64_t limit, uint64_t *listed, bool header, bool count_gaps) {
  bt_store_run run;
  bt_tcli_symbols sy = {0};
  if (bt_tcli_find_run(s, run_id, &run, &sy)) return 1;
  q.run_no = run.run_no;
  bt_err err = {0};
  bt_store_iter *it;
  int rc = 0;
  if (bt_store_query(s, &q, &it, &err)) rc = bt_cli_fail("btrun", &err);
  if (!rc) {
    bool table = strcmp(format, "table") == 0, csv = strcmp(format, "csv") == 0;
    if (table)
      printf("run %s (%s)\n%-10s %-12s %-20s %-8s %-10s %-9s %s\n", run.run_id, run.status, "SEQ",
             "TYPE", "TIME", "SYMBOL", "CAUSE", "SOURCE", "DATA");
    if (csv && header)
      puts("event_id,seq,event_type,user_type,timestamp,symbol,causation_id,source,created_at,"
           "emitted_at,received_at,processed_at,data");
    bt_trace_event e;
    uint64_t n = 0, prev = 0, gaps = 0;
    int r = 0;
    while ((limit == 0 || *listed < limit) && (r = bt_store_iter_next(it, &e, &err)) == 1) {
      n++;
      (*listed)++;
      if (e.seq != prev + 1 && count_gaps) gaps++;
      prev = e.seq;
      char t[32];
      bt_format_time(e.ts, t);
      if (table) {
        char cause[24] = "-";
        if (e.cause) snprintf(cause, sizeof cause, "%" PRIu64, e.cause);
        char *data = bt_trace_event_data_json(&e);
        printf("%-10" PRIu64 " %-12s %-20s %-8s %-10s %-9s %s\n", e.seq, bt_tcli_type_label(&e), t,
               bt_tcli_symbol_name(&sy, e.symbol), cause, e.source ? e.source : "", data ? data : "");
        free(data);
      } else if (csv) {
        char *data = bt_trace_event_data_json(&e);
        printf("%s:%" PRIu64 ",%" PRIu64 ",%s,", run.run_id, e.seq, e.seq,
               bt_event_type_name((bt_event_type)e.type));
        csv_field(e.user_type ? e.user_type : "");
        printf(",%s,", t);
        csv_field(bt_tcli_symbol_name(&sy, e.symbol));
        if (e.cause) printf(",%s:%" PRIu64 ",", run.run_id, e.cause);
        else fputs(",,", stdout);
        csv_field(e.source ? e.source : "");
        printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", e.created, e.emitted,
               e.received, e.processed);
        csv_field(data ? data : "");
        putchar('\n');
        free(data);
      } else {
        cJSON *j = bt_tcli_event_json(&run, &sy, &e);
        char *line = cJSON_PrintUnformatted(j);
        puts(line);
        free(line);
        cJSON_Delete(j);
      }
    }
    if (r < 0) rc = bt_cli_fail("btrun", &err);
    if (table) {
      printf("%" PRIu64 " event(s)", n);
      if (gaps) printf(", %" PRIu64 " gap(s) in the sequence (sampled out or dropped)", gaps);
      putchar('\n');
    }
    bt_store_iter_free(it);
  }
  cJSON_Delete(sy.arr);
  bt_store_run_clear(&run);
  return rc;
}

typedef struct id_list {
  char (*ids)[40];
  size_t n, cap;
} id_list;

static int collect_run(void *ud, const bt_store_run *r) {
  id_list *l = ud;
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    char(*a)[40] = realloc(l->ids, cap * sizeof *a);
    if (!a) return 1;
    l->ids = a;
    l->cap = cap;
  }
  memcpy(l->ids[l->n++], r->run_id, 40);
  return 0;
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
  int rc = 0;
  if (o->run) {
    rc = list_one(s, o->run, q, format, limit, &listed, true, count_gaps);
  } else {
    /* every run of the correlation id, oldest first */
    id_list l = {0};
    bt_err err = {0};
    if (bt_store_list_runs(s, o->corr, 0, collect_run, &l, &err)) rc = bt_cli_fail("btrun", &err);
    else if (l.n == 0) rc = (fprintf(stderr, "btrun events list: no run with correlation id '%s'\n", o->corr), 1);
    for (size_t i = l.n; !rc && (limit == 0 || listed < limit) && i-- > 0;)
      rc = list_one(s, l.ids[i], q, format, limit, &listed, i + 1 == l.n, count_gaps);
    free(l.ids);
  }
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

int bt_events_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv) {
  bt_tcli_opts o;
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
    fputs(EVENTS_HELP, sub ? stdout : stderr);
    return sub ? 0 : 1;
  }
  if (strcmp(sub, "list") == 0) {
    if (bt_tcli_parse_opts(argc, argv, 2,
                   " --store --db --run --correlation --type --from --to --format --limit ", &o,
                   "events list"))
      return 1;
    if (o.help) return fputs(EVENTS_HELP, stdout), 0;
    o.remote = remote;
    return events_list(app, &o);
  }
  if (strcmp(sub, "prune") == 0) {
    if (bt_tcli_parse_opts(argc, argv, 2, " --store --before --keep-runs ", &o, "events prune")) return 1;
    if (o.help) return fputs(EVENTS_HELP, stdout), 0;
    o.remote = remote;
    return events_prune(app, &o);
  }
  fprintf(stderr, "btrun events: unknown subcommand '%s' (list, prune)\n", sub);
  return 1;
}
