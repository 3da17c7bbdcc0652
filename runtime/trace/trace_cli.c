/* trace_cli.c - `btrun events`, `btrun trace`, `btrun runs`: read the event store.
 *
 * EVENT_ID, as printed and accepted: "<run_id>:<seq>" (the run's UUID, or any unique
 * prefix of at least 4 characters, then the event's sequence number in the run). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "cli_opts.h"
#include "store.h"
#include "trace_cli.h"
#include "tracer.h"

/* ---- shared helpers ------------------------------------------------------------ */

typedef struct opts {
  const char *store, *run, *types, *from, *to, *format, *before, *keep, *limit, *corr, *html,
      *db;
  char **pos; /* positional arguments, in argv order */
  int npos;
  bool help;
  const bt_store_remote *remote;
  char cache[512]; /* the temporary store a remote database was copied into, "" = none */
} opts;

/* Parses "--name value" pairs among `allowed`; the rest are positional. */
static int parse_opts(int argc, char **argv, int first, const char *allowed, opts *o,
                      const char *cmd) {
  memset(o, 0, sizeof *o);
  const struct { const char *name; const char **dst; } map[] = {
      {"--store", &o->store}, {"--run", &o->run},       {"--type", &o->types},
      {"--from", &o->from},   {"--to", &o->to},         {"--format", &o->format},
      {"--before", &o->before}, {"--keep-runs", &o->keep}, {"--limit", &o->limit},
      {"--correlation", &o->corr}, {"--html", &o->html}, {"--db", &o->db}};
  bt_cli_opt table[sizeof map / sizeof map[0] + 1];
  size_t n = 0;
  for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
    char pat[40];
    snprintf(pat, sizeof pat, " %s ", map[k].name);
    if (strstr(allowed, pat)) table[n++] = (bt_cli_opt){map[k].name, .value = map[k].dst};
  }
  table[n] = (bt_cli_opt){.name = NULL};
  char prog[64];
  snprintf(prog, sizeof prog, "btrun %s", cmd);
  const bt_cli_usage u = {prog, NULL, "unknown option %s (see --help)", "%s needs a value",
                          .help = true};
  bt_cli_args args;
  if (bt_cli_parse(&u, table, argc, argv, first, &args)) return 1;
  o->pos = args.pos, o->npos = args.npos, o->help = args.help;
  return 0;
}

/* What a command reads: a remote database copies only that into the local cache. */
typedef struct wants {
  const char *const *ids;  /* run ids (or prefixes), or EVENT_IDs when event_ids */
  int nids;
  bool event_ids;
  const char *corr;        /* with no ids: runs of this correlation id (NULL = any) */
  int limit;
  bool events;             /* events and links too, not only the runs' rows */
} wants;

/* The database the command reads: --db, else the app's (BTRUN_DB), unless --store names
 * a local store. NULL = the local store. */
static const char *remote_url(const bt_app *app, const opts *o) {
  if (o->store) return NULL;
  const char *url = o->db ? o->db : app->db[0] ? app->db : NULL;
  return url && o->remote && o->remote->handles(url) ? url : NULL;
}

static void close_store(opts *o, bt_store *s);

/* Copy what w names from the database into a new store in a temporary directory. */
static int fetch_remote(opts *o, const char *url, const wants *w, bt_store **s) {
  const char *tmp = getenv("TMPDIR");
  snprintf(o->cache, sizeof o->cache, "%s/btrun-db.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(o->cache)) {
    fprintf(stderr, "btrun: cannot create a temporary directory in %s\n", tmp ? tmp : "/tmp");
    o->cache[0] = 0;
    return 1;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/events.db", o->cache);
  bt_err err = {0};
  if (bt_store_open(s, path, &err)) return bt_cli_fail("btrun", &err);
  int rc = 0;
  for (int i = 0; !rc && i < w->nids; i++) {
    char id[128];
    snprintf(id, sizeof id, "%s", w->ids[i]);
    char *colon = w->event_ids ? strrchr(id, ':') : NULL;
    if (colon) *colon = 0;
    rc = o->remote->fetch(url, id, NULL, 0, w->events, *s, &err);
  }
  if (!w->nids) rc = o->remote->fetch(url, NULL, w->corr, w->limit, w->events, *s, &err);
  if (rc) close_store(o, *s);
  return rc ? bt_cli_fail("btrun", &err) : 0;
}

/* Closes the store and removes the temporary copy of a remote database's rows: the
 * store file, its WAL files and <cache>/events.db.chunks/<run_id>.seg. */
static void close_store(opts *o, bt_store *s) {
  bt_store_close(s);
  if (!o->cache[0]) return;
  char path[1100];
  snprintf(path, sizeof path, "%s/events.db.chunks", o->cache);
  DIR *d = opendir(path);
  for (struct dirent *e; d && (e = readdir(d));) {
    if (e->d_name[0] == '.') continue;
    char f[1400];
    snprintf(f, sizeof f, "%s/%s", path, e->d_name);
    unlink(f);
  }
  if (d) closedir(d);
  rmdir(path);
  const char *files[] = {"events.db", "events.db-wal", "events.db-shm"};
  for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", o->cache, files[i]);
    unlink(path);
  }
  rmdir(o->cache);
  o->cache[0] = 0;
}

static int open_store(bt_app *app, opts *o, const wants *w, bt_store **s) {
  const char *url = remote_url(app, o);
  if (url) return fetch_remote(o, url, w, s);
  bt_err err = {0};
  bt_trace_cfg cfg;
  if (!o->store && bt_trace_cfg_load(&app->cfg, &cfg, &err)) {
    return bt_cli_fail("btrun", &err);
  }
  if (bt_store_open_readonly(s, o->store ? o->store : cfg.store, &err)) {
    return bt_cli_fail("btrun", &err);
  }
  return 0;
}

static bool parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

/* Symbol names from the run's data JSON ([{"symbol":"ORCL",...}, ...]). */
typedef struct symbols {
  cJSON *arr;
} symbols;

static const char *symbol_name(const symbols *sy, uint32_t i) {
  cJSON *d = sy->arr ? cJSON_GetArrayItem(sy->arr, (int)i) : NULL;
  cJSON *n = d ? cJSON_GetObjectItemCaseSensitive(d, "symbol") : NULL;
  return cJSON_IsString(n) ? n->valuestring : "?";
}

static void time_str(int64_t t, char buf[32]) { bt_format_time(t, buf); }

static void fmt_ns(double ns, char *buf, size_t n) {
  if (ns < 1e3) snprintf(buf, n, "%.0f ns", ns);
  else if (ns < 1e6) snprintf(buf, n, "%.1f us", ns / 1e3);
  else if (ns < 1e9) snprintf(buf, n, "%.2f ms", ns / 1e6);
  else snprintf(buf, n, "%.2f s", ns / 1e9);
}

static const char *type_label(const bt_trace_event *e) {
  return e->type == BT_EV_USER && e->user_type ? e->user_type
                                               : bt_event_type_name((bt_event_type)e->type);
}

/* One event as a JSON object (the jsonl form, and the lineage nodes). */
static cJSON *event_json(const bt_store_run *run, const symbols *sy, const bt_trace_event *e) {
  char id[80], t[32];
  cJSON *o = cJSON_CreateObject();
  snprintf(id, sizeof id, "%s:%" PRIu64, run->run_id, e->seq);
  cJSON_AddStringToObject(o, "event_id", id);
  cJSON_AddNumberToObject(o, "seq", (double)e->seq);
  cJSON_AddStringToObject(o, "event_type", bt_event_type_name((bt_event_type)e->type));
  if (e->user_type) cJSON_AddStringToObject(o, "user_type", e->user_type);
  time_str(e->ts, t);
  cJSON_AddStringToObject(o, "timestamp", t);
  cJSON_AddStringToObject(o, "symbol", symbol_name(sy, e->symbol));
  if (e->cause) {
    snprintf(id, sizeof id, "%s:%" PRIu64, run->run_id, e->cause);
    cJSON_AddStringToObject(o, "causation_id", id);
  } else {
    cJSON_AddNullToObject(o, "causation_id");
  }
  cJSON_AddStringToObject(o, "correlation_id", run->correlation_id);
  cJSON_AddStringToObject(o, "source", e->source ? e->source : "");
  cJSON_AddNumberToObject(o, "created_at", (double)e->created);
  cJSON_AddNumberToObject(o, "emitted_at", (double)e->emitted);
  cJSON_AddNumberToObject(o, "received_at", (double)e->received);
  cJSON_AddNumberToObject(o, "processed_at", (double)e->processed);
  cJSON_AddNumberToObject(o, "latency_ns", (double)(e->processed - e->created));
  cJSON_AddNumberToObject(o, "queue_time_ns", (double)(e->received - e->emitted));
  char *data = bt_trace_event_data_json(e);
  /* our own valid JSON; as is when it holds a NUL (\u0000), which cJSON strings cut */
  cJSON *dj = !data ? NULL : strstr(data, "\\u0000") ? cJSON_CreateRaw(data) : cJSON_Parse(data);
  cJSON_AddItemToObject(o, "data", dj ? dj : cJSON_CreateString(data ? data : ""));
  free(data);
  return o;
}

static int find_run(bt_store *s, const char *id, bt_store_run *run, symbols *sy) {
  bt_err err = {0};
  if (bt_store_find_run(s, id, run, &err)) return bt_cli_fail("btrun", &err);
  sy->arr = run->data ? cJSON_Parse(run->data) : NULL;
  return 0;
}

int bt_events_write_jsonl(bt_store *s, const char *run_id, uint64_t limit, FILE *out,
                          bt_err *err) {
  bt_store_run run;
  if (bt_store_find_run(s, run_id, &run, err)) return err->code;
  symbols sy = {run.data ? cJSON_Parse(run.data) : NULL};
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
      cJSON *j = event_json(&run, &sy, &e);
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
  symbols sy = {0};
  if (find_run(s, run_id, &run, &sy)) return 1;
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
      time_str(e.ts, t);
      if (table) {
        char cause[24] = "-";
        if (e.cause) snprintf(cause, sizeof cause, "%" PRIu64, e.cause);
        char *data = bt_trace_event_data_json(&e);
        printf("%-10" PRIu64 " %-12s %-20s %-8s %-10s %-9s %s\n", e.seq, type_label(&e), t,
               symbol_name(&sy, e.symbol), cause, e.source ? e.source : "", data ? data : "");
        free(data);
      } else if (csv) {
        char *data = bt_trace_event_data_json(&e);
        printf("%s:%" PRIu64 ",%" PRIu64 ",%s,", run.run_id, e.seq, e.seq,
               bt_event_type_name((bt_event_type)e.type));
        csv_field(e.user_type ? e.user_type : "");
        printf(",%s,", t);
        csv_field(symbol_name(&sy, e.symbol));
        if (e.cause) printf(",%s:%" PRIu64 ",", run.run_id, e.cause);
        else fputs(",,", stdout);
        csv_field(e.source ? e.source : "");
        printf(",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",", e.created, e.emitted,
               e.received, e.processed);
        csv_field(data ? data : "");
        putchar('\n');
        free(data);
      } else {
        cJSON *j = event_json(&run, &sy, &e);
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

static int events_list(bt_app *app, opts *o) {
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
  if (o->limit && !parse_u64(o->limit, &limit)) {
    fprintf(stderr, "btrun events list: --limit must be a number\n");
    return 1;
  }
  bool count_gaps = !o->types && !o->from && !o->to;
  bt_store *s;
  wants w = {.ids = &o->run, .nids = o->run != NULL, .corr = o->corr, .events = true};
  if (open_store(app, o, &w, &s)) return 1;
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
  close_store(o, s);
  return rc;
}

static int events_prune(bt_app *app, opts *o) {
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
    if (!parse_u64(o->keep, &k) || k > 1000000000) {
      fprintf(stderr, "btrun events prune: --keep-runs must be a number >= 0\n");
      return 1;
    }
    keep = (int)k;
  }
  if (remote_url(app, o)) { /* retention in the database is its own job (docs/postgresql.md) */
    fprintf(stderr, "btrun events prune: prunes a local store only (give --store, or unset BTRUN_DB)\n");
    return 1;
  }
  bt_store *s;
  if (open_store(app, o, &(wants){0}, &s)) return 1;
  bt_err err = {0};
  int deleted = 0, rc = 0;
  if (bt_store_prune(s, before_ms, keep, &deleted, &err)) rc = bt_cli_fail("btrun", &err);
  else printf("pruned %d run(s) from %s\n", deleted, bt_store_path(s));
  close_store(o, s);
  return rc;
}

int bt_events_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv) {
  opts o;
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
    fputs(EVENTS_HELP, sub ? stdout : stderr);
    return sub ? 0 : 1;
  }
  if (strcmp(sub, "list") == 0) {
    if (parse_opts(argc, argv, 2,
                   " --store --db --run --correlation --type --from --to --format --limit ", &o,
                   "events list"))
      return 1;
    if (o.help) return fputs(EVENTS_HELP, stdout), 0;
    o.remote = remote;
    return events_list(app, &o);
  }
  if (strcmp(sub, "prune") == 0) {
    if (parse_opts(argc, argv, 2, " --store --before --keep-runs ", &o, "events prune")) return 1;
    if (o.help) return fputs(EVENTS_HELP, stdout), 0;
    o.remote = remote;
    return events_prune(app, &o);
  }
  fprintf(stderr, "btrun events: unknown subcommand '%s' (list, prune)\n", sub);
  return 1;
}

/* ---- btrun trace --------------------------------------------------------------- */

static const char TRACE_HELP[] =
    "usage: btrun trace lineage EVENT_ID... [--format tree|json] [--store PATH]\n"
    "       btrun trace latency --run RUN_ID [--format table|json] [--store PATH]\n"
    "\n"
    "lineage  the causal chain of an event: back through its causes to the BAR or\n"
    "         SIGNAL it started from, then forward to everything it caused (an ORDER's\n"
    "         FILL, ...). EVENT_ID is RUN_ID:SEQ as printed by `btrun events list`\n"
    "         (RUN_ID may be a unique prefix). The queried event is marked with '*'.\n"
    "         Several EVENT_IDs print one lineage each, separated by a blank line.\n"
    "         An event that was not stored (sampled out) shows as 'not stored'.\n"
    "latency  per event type: count, mean, median, p95 and max of latency (processed -\n"
    "         created) and queue time (received - emitted), as stored with the run.\n"
    "Docs: docs/events.md\n";

#define MAX_NODES 10000

typedef struct lineage {
  bt_store *s;
  const bt_store_run *run;
  const symbols *sy;
  uint64_t target;
  int nodes;
  bool json;
} lineage;

static void print_node(const lineage *l, const bt_trace_event *e, bool found, uint64_t seq,
                       const char *prefix, const char *branch) {
  if (!found) {
    printf("%s%s%s:%" PRIu64 "  (not stored: sampled out or dropped)\n", prefix, branch,
           l->run->run_id, seq);
    return;
  }
  char t[32];
  time_str(e->ts, t);
  char *data = bt_trace_event_data_json(e);
  printf("%s%s%s%-7s %s:%" PRIu64 "  %s  %s  %s\n", prefix, branch, e->seq == l->target ? "* " : "",
         type_label(e), l->run->run_id, e->seq, t, symbol_name(l->sy, e->symbol), data ? data : "");
  free(data);
}

/* Descendants of seq, depth first, as tree lines or nested JSON ("caused"). */
static int descend(lineage *l, uint64_t seq, const char *prefix, cJSON *jparent) {
  bt_trace_event *kids;
  size_t n;
  bt_err err = {0};
  if (bt_store_children(l->s, l->run->run_no, seq, &kids, &n, &err))
    return bt_cli_fail("btrun", &err);
  int rc = 0;
  cJSON *arr = NULL;
  if (l->json && n) arr = cJSON_AddArrayToObject(jparent, "caused");
  for (size_t i = 0; i < n; i++) {
    if (!rc && ++l->nodes <= MAX_NODES) {
      bool last = i + 1 == n;
      if (l->json) {
        cJSON *node = event_json(l->run, l->sy, &kids[i]);
        cJSON_AddItemToArray(arr, node);
        rc = descend(l, kids[i].seq, prefix, node);
      } else {
        print_node(l, &kids[i], true, kids[i].seq, prefix, last ? "└─ " : "├─ ");
        char np[1024];
        snprintf(np, sizeof np, "%s%s", prefix, last ? "   " : "│  ");
        rc = descend(l, kids[i].seq, np, NULL);
      }
    }
    bt_trace_event_clear(&kids[i]);
  }
  free(kids);
  return rc;
}

static int lineage_one(bt_store *s, const char *event_id, const char *format) {
  char runid[128];
  const char *colon = strrchr(event_id, ':');
  uint64_t seq = 0;
  if (!colon || (size_t)(colon - event_id) >= sizeof runid || !parse_u64(colon + 1, &seq) ||
      seq == 0) {
    fprintf(stderr, "btrun trace lineage: '%s' is not an EVENT_ID (RUN_ID:SEQ, e.g. 3f2a9c1e:1234)\n",
            event_id);
    return 1;
  }
  snprintf(runid, sizeof runid, "%.*s", (int)(colon - event_id), event_id);
  bt_store_run run;
  symbols sy = {0};
  if (find_run(s, runid, &run, &sy)) return 1;
  bt_err err = {0};
  int rc = 0;
  /* the chain of causes, from the event back to its origin */
  bt_trace_event chain[256];
  bool found[256];
  uint64_t seqs[256];
  int n = 0;
  for (uint64_t cur = seq; cur && n < 256; n++) {
    seqs[n] = cur;
    if (bt_store_get_event(s, run.run_no, cur, &chain[n], &found[n], &err)) {
      rc = bt_cli_fail("btrun", &err);
      break;
    }
    if (!found[n] && n == 0) {
      fprintf(stderr, "btrun trace lineage: run %s has no stored event %" PRIu64
                      " (sampled out, dropped, or beyond the run's %" PRIu64 " events)\n",
              run.run_id, seq, run.event_count);
      rc = 1;
      n++;
      break;
    }
    cur = found[n] ? chain[n].cause : 0;
  }
  if (!rc) {
    lineage l = {s, &run, &sy, seq, 0, strcmp(format, "json") == 0};
    char prefix[1024] = "";
    if (l.json) {
      cJSON *root = NULL, *parent = NULL;
      for (int i = n - 1; i >= 0; i--) {
        cJSON *node;
        if (found[i]) node = event_json(&run, &sy, &chain[i]);
        else {
          char id[80];
          node = cJSON_CreateObject();
          snprintf(id, sizeof id, "%s:%" PRIu64, run.run_id, seqs[i]);
          cJSON_AddStringToObject(node, "event_id", id);
          cJSON_AddBoolToObject(node, "stored", false);
        }
        if (i == 0) cJSON_AddBoolToObject(node, "query", true);
        if (parent) cJSON_AddItemToArray(cJSON_AddArrayToObject(parent, "caused"), node);
        else root = node;
        parent = node;
      }
      rc = descend(&l, seq, "", parent);
      char *txt = cJSON_Print(root);
      puts(txt);
      free(txt);
      cJSON_Delete(root);
    } else {
      for (int i = n - 1; i >= 0; i--) {
        print_node(&l, &chain[i], found[i], seqs[i], prefix, i == n - 1 ? "" : "└─ ");
        if (i != n - 1) strncat(prefix, "   ", sizeof prefix - strlen(prefix) - 1);
      }
      rc = descend(&l, seq, prefix, NULL);
    }
    if (l.nodes > MAX_NODES)
      fprintf(stderr, "btrun trace lineage: output cut at %d descendants\n", MAX_NODES);
  }
  for (int i = 0; i < n; i++)
    if (found[i]) bt_trace_event_clear(&chain[i]);
  cJSON_Delete(sy.arr);
  bt_store_run_clear(&run);
  return rc;
}

static int trace_lineage(bt_app *app, opts *o) {
  if (o->npos < 1) {
    fprintf(stderr, "btrun trace lineage: give an EVENT_ID (RUN_ID:SEQ)\n");
    return 1;
  }
  const char *format = o->format ? o->format : "tree";
  if (strcmp(format, "tree") && strcmp(format, "json")) {
    fprintf(stderr, "btrun trace lineage: --format must be tree or json\n");
    return 1;
  }
  bt_store *s;
  wants w = {.ids = (const char *const *)o->pos, .nids = o->npos, .event_ids = true, .events = true};
  if (open_store(app, o, &w, &s)) return 1;
  int rc = 0;
  for (int i = 0; i < o->npos && !rc; i++) {
    if (i) putchar('\n');
    rc = lineage_one(s, o->pos[i], format);
  }
  close_store(o, s);
  return rc;
}

static int trace_latency(bt_app *app, opts *o) {
  if (!o->run) {
    fprintf(stderr, "btrun trace latency: --run RUN_ID is required\n");
    return 1;
  }
  const char *format = o->format ? o->format : "table";
  if (strcmp(format, "table") && strcmp(format, "json")) {
    fprintf(stderr, "btrun trace latency: --format must be table or json\n");
    return 1;
  }
  bt_store *s;
  if (open_store(app, o, &(wants){.ids = &o->run, .nids = 1}, &s)) return 1;
  bt_store_run run;
  symbols sy = {0};
  if (find_run(s, o->run, &run, &sy)) {
    close_store(o, s);
    return 1;
  }
  bt_err err = {0};
  bt_store_latency *ls = NULL;
  size_t n = 0;
  int rc = bt_store_get_latency(s, run.run_no, &ls, &n, &err) ? bt_cli_fail("btrun", &err) : 0;
  if (!rc && strcmp(format, "json") == 0) {
    cJSON *o2 = cJSON_CreateObject();
    cJSON_AddStringToObject(o2, "run_id", run.run_id);
    cJSON *arr = cJSON_AddArrayToObject(o2, "latency");
    for (size_t i = 0; i < n; i++) {
      cJSON *r = cJSON_CreateObject();
      cJSON_AddStringToObject(r, "event_type", ls[i].type);
      cJSON_AddStringToObject(r, "metric", ls[i].metric);
      cJSON_AddNumberToObject(r, "count", (double)ls[i].count);
      cJSON_AddNumberToObject(r, "mean_ns", ls[i].mean_ns);
      cJSON_AddNumberToObject(r, "median_ns", (double)ls[i].p50_ns);
      cJSON_AddNumberToObject(r, "p95_ns", (double)ls[i].p95_ns);
      cJSON_AddNumberToObject(r, "max_ns", (double)ls[i].max_ns);
      cJSON_AddItemToArray(arr, r);
    }
    char *txt = cJSON_Print(o2);
    puts(txt);
    free(txt);
    cJSON_Delete(o2);
  } else if (!rc) {
    printf("run %s (%s)\n", run.run_id, run.status);
    if (!n)
      printf("no latency statistics (they are written when the run ends%s)\n",
             strcmp(run.status, "running") == 0 ? "; this run has not ended" : "");
    else
      printf("%-12s %-11s %10s %10s %10s %10s %10s\n", "TYPE", "METRIC", "COUNT", "MEAN",
             "MEDIAN", "P95", "MAX");
    for (size_t i = 0; i < n; i++) {
      char mean[24], p50[24], p95[24], mx[24];
      fmt_ns(ls[i].mean_ns, mean, sizeof mean);
      fmt_ns((double)ls[i].p50_ns, p50, sizeof p50);
      fmt_ns((double)ls[i].p95_ns, p95, sizeof p95);
      fmt_ns((double)ls[i].max_ns, mx, sizeof mx);
      printf("%-12s %-11s %10" PRIu64 " %10s %10s %10s %10s\n", ls[i].type, ls[i].metric,
             ls[i].count, mean, p50, p95, mx);
    }
  }
  free(ls);
  cJSON_Delete(sy.arr);
  bt_store_run_clear(&run);
  close_store(o, s);
  return rc;
}

int bt_trace_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv) {
  opts o;
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
    fputs(TRACE_HELP, sub ? stdout : stderr);
    return sub ? 0 : 1;
  }
  if (strcmp(sub, "lineage") == 0) {
    if (parse_opts(argc, argv, 2, " --store --db --format ", &o, "trace lineage")) return 1;
    if (o.help) return fputs(TRACE_HELP, stdout), 0;
    o.remote = remote;
    return trace_lineage(app, &o);
  }
  if (strcmp(sub, "latency") == 0) {
    if (parse_opts(argc, argv, 2, " --store --db --run --format ", &o, "trace latency")) return 1;
    if (o.help) return fputs(TRACE_HELP, stdout), 0;
    o.remote = remote;
    return trace_latency(app, &o);
  }
  fprintf(stderr, "btrun trace: unknown subcommand '%s' (lineage, latency)\n", sub);
  return 1;
}

/* ---- btrun runs ---------------------------------------------------------------- */

static const char RUNS_HELP[] =
    "usage: btrun runs list [--limit N] [--correlation ID] [--format table|jsonl] [--store PATH]\n"
    "       btrun runs show RUN_ID [--format text|json] [--store PATH]\n"
    "       btrun runs compare RUN RUN [...] [--html FILE] [--store PATH]\n"
    "\n"
    "list     traced runs, newest first: run id, status, start time, strategy, total\n"
    "         return, Sharpe, max drawdown, events published and stored, duration.\n"
    "         Status is running, completed, failed, interrupted (SIGINT/SIGTERM),\n"
    "         events_lost (completed, but events could not all be stored: its error\n"
    "         says how many), or incomplete: the process died mid-run (killed); its\n"
    "         events up to the last commit are readable.\n"
    "show     one run's metadata, counts and metrics (RUN_ID may be a unique prefix).\n"
    "compare  runs side by side: parameters and key figures from each run's result.json.\n"
    "         RUN is a run id (or unique prefix) from the store, or a run directory.\n"
    "         --html FILE also writes one page with the figures and the equity curves\n"
    "         overlaid.\n"
    "Docs: docs/events.md, docs/outputs.md#comparing-runs\n";

static const char *status_of(const bt_store_run *r) { return r->incomplete ? "incomplete" : r->status; }

static cJSON *run_json(const bt_store_run *r) {
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "run_id", r->run_id);
  cJSON_AddStringToObject(o, "correlation_id", r->correlation_id);
  cJSON_AddStringToObject(o, "status", status_of(r));
  char t[32];
  time_str(r->created_at / 1000, t);
  cJSON_AddStringToObject(o, "created_at", t);
  if (r->completed_at) {
    time_str(r->completed_at / 1000, t);
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
  return o;
}

typedef struct list_ctx {
  bool jsonl;
  int n;
} list_ctx;

static int print_run(void *ud, const bt_store_run *r) {
  list_ctx *c = ud;
  c->n++;
  if (c->jsonl) {
    cJSON *o = run_json(r);
    char *line = cJSON_PrintUnformatted(o);
    puts(line);
    free(line);
    cJSON_Delete(o);
    return 0;
  }
  char t[32], ev[24] = "-", st[24] = "-", dur[24] = "-", ret[24] = "-", sh[24] = "-", dd[24] = "-";
  time_str(r->created_at / 1000, t);
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
  printf("%-36s  %-11s %-20s %-18s %9s %7s %8s %10s %10s %9s\n", r->run_id, status_of(r), t,
         r->strategy, ret, sh, dd, ev, st, dur);
  return 0;
}

/* A compare argument -> its run directory: a directory holding result.json as given,
 * else a run id (prefix) looked up in the store (opened on first need). */
static int resolve_run(bt_app *app, opts *o, bt_store **s, const char *arg, char *dir,
                       size_t n) {
  char path[1100];
  snprintf(path, sizeof path, "%s/result.json", arg);
  if (access(path, R_OK) == 0) {
    snprintf(dir, n, "%s", arg);
    return 0;
  }
  if (!*s && open_store(app, o, &(wants){0}, s)) return 1;
  bt_store_run r;
  bt_err err = {0};
  if (bt_store_find_run(*s, arg, &r, &err)) return bt_cli_fail("btrun", &err);
  int rc = 0;
  if (!r.out_dir || !*r.out_dir) {
    fprintf(stderr, "btrun runs compare: run %s wrote no run directory\n", r.run_id);
    rc = 1;
  } else {
    snprintf(dir, n, "%s", r.out_dir);
  }
  bt_store_run_clear(&r);
  return rc;
}

typedef struct cmp_row {
  const char *label, *key;
  int kind; /* 0 string/int as is, 1 percent, 2 ratio */
} cmp_row;

static void cmp_cell(const cJSON *v, int kind, char *buf, size_t n) {
  if (cJSON_IsNumber(v)) {
    if (kind == 1) snprintf(buf, n, "%.2f%%", v->valuedouble * 100);
    else if (kind == 2) snprintf(buf, n, "%.3f", v->valuedouble);
    else snprintf(buf, n, "%.17g", v->valuedouble);
  } else if (cJSON_IsString(v)) {
    snprintf(buf, n, "%s", v->valuestring);
  } else {
    snprintf(buf, n, "-");
  }
}

#define CMP_MAX 32

static int runs_compare(bt_app *app, opts *o, bt_runs_html_fn html) {
  if (o->npos < 2 || o->npos > CMP_MAX) {
    fprintf(stderr, "btrun runs compare: give 2 to %d runs (run ids or run directories)\n", CMP_MAX);
    return 1;
  }
  bt_store *s = NULL;
  char dirs[CMP_MAX][1024];
  const char *dirp[CMP_MAX];
  cJSON *res[CMP_MAX] = {0};
  int rc = 0, n = o->npos;
  for (int i = 0; i < n && !rc; i++) {
    rc = resolve_run(app, o, &s, o->pos[i], dirs[i], sizeof dirs[i]);
    dirp[i] = dirs[i];
    char path[1100];
    snprintf(path, sizeof path, "%s/result.json", dirs[i]);
    FILE *f = rc ? NULL : fopen(path, "r");
    if (!rc && !f) {
      fprintf(stderr, "btrun runs compare: %s: cannot read\n", path);
      rc = 1;
    }
    if (f) {
      long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
      char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
      size_t len = buf && fseek(f, 0, SEEK_SET) == 0 ? fread(buf, 1, (size_t)size, f) : 0;
      fclose(f);
      if (buf) buf[len] = 0;
      res[i] = buf ? cJSON_Parse(buf) : NULL;
      free(buf);
      if (!res[i]) {
        fprintf(stderr, "btrun runs compare: %s: not valid JSON\n", path);
        rc = 1;
      }
    }
  }
  if (s) close_store(o, s);
  if (!rc) {
    /* one column per run; the parameters of all runs as rows, then the figures */
    static const cmp_row rows[] = {
        {"strategy", "strategy_id", 0}, {"status", "status", 0}, {"bars", "bars", 0},
        {"trades", "trades", 0}, {"final_equity", "final_equity", 0},
        {"total_return", "total_return", 1}, {"cagr", "cagr", 1}, {"sharpe", "sharpe", 2},
        {"sortino", "sortino", 2}, {"max_drawdown", "max_drawdown", 1}, {"win_rate", "win_rate", 1},
        {"profit_factor", "profit_factor", 2}, {"exposure", "exposure", 1},
        {"rejected_orders", "rejected_orders", 0}};
    char cell[64];
    printf("%-16s", "");
    for (int i = 0; i < n; i++) {
      cmp_cell(cJSON_GetObjectItem(res[i], "run_id"), 0, cell, sizeof cell);
      printf(" %14.8s", cell);
    }
    putchar('\n');
    /* parameter names, in first-seen order */
    const char *pnames[64];
    int np = 0;
    for (int i = 0; i < n; i++) {
      const cJSON *p;
      cJSON_ArrayForEach(p, cJSON_GetObjectItem(res[i], "params")) {
        int k = 0;
        while (k < np && strcmp(pnames[k], p->string)) k++;
        if (k == np && np < 64) pnames[np++] = p->string;
      }
    }
    for (int k = 0; k < np; k++) {
      printf("param %-10.10s", pnames[k]);
      for (int i = 0; i < n; i++) {
        cmp_cell(cJSON_GetObjectItem(cJSON_GetObjectItem(res[i], "params"), pnames[k]), 0, cell, sizeof cell);
        printf(" %14.14s", cell);
      }
      putchar('\n');
    }
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
      printf("%-16s", rows[r].label);
      for (int i = 0; i < n; i++) {
        cmp_cell(cJSON_GetObjectItem(res[i], rows[r].key), rows[r].kind, cell, sizeof cell);
        printf(" %14.14s", cell);
      }
      putchar('\n');
    }
  }
  for (int i = 0; i < n; i++) cJSON_Delete(res[i]);
  if (!rc && o->html) {
    bt_err err = {0};
    if (!html) {
      fprintf(stderr, "btrun runs compare: --html is not available in this build\n");
      rc = 1;
    } else if (html(app, dirp, n, o->html, &err)) {
      rc = bt_cli_fail("btrun", &err);
    } else {
      printf("wrote %s\n", o->html);
    }
  }
  return rc;
}

int bt_runs_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv,
                bt_runs_html_fn html) {
  opts o;
  const char *sub = argc > 1 ? argv[1] : NULL;
  if (!sub || strcmp(sub, "-h") == 0 || strcmp(sub, "--help") == 0) {
    fputs(RUNS_HELP, sub ? stdout : stderr);
    return sub ? 0 : 1;
  }
  bool list = strcmp(sub, "list") == 0, show = strcmp(sub, "show") == 0;
  if (strcmp(sub, "compare") == 0) {
    if (parse_opts(argc, argv, 2, " --store --html ", &o, "runs compare")) return 1;
    if (o.help) return fputs(RUNS_HELP, stdout), 0;
    return runs_compare(app, &o, html);
  }
  if (!list && !show) {
    fprintf(stderr, "btrun runs: unknown subcommand '%s' (list, show, compare)\n", sub);
    return 1;
  }
  if (parse_opts(argc, argv, 2,
                 list ? " --store --db --limit --correlation --format " : " --store --db --format ",
                 &o, list ? "runs list" : "runs show"))
    return 1;
  if (o.help) return fputs(RUNS_HELP, stdout), 0;
  o.remote = remote;
  bt_store *s;
  bt_err err = {0};
  int rc = 0;
  if (list) {
    uint64_t limit = 0;
    if (o.limit && (!parse_u64(o.limit, &limit) || limit > 1000000000)) {
      fprintf(stderr, "btrun runs list: --limit must be a number\n");
      return 1;
    }
    const char *format = o.format ? o.format : "table";
    if (strcmp(format, "table") && strcmp(format, "jsonl")) {
      fprintf(stderr, "btrun runs list: --format must be table or jsonl\n");
      return 1;
    }
    bt_trace_cfg cfg;
    bool remote_db = remote_url(app, &o) != NULL;
    if (!o.store && !remote_db && bt_trace_cfg_load(&app->cfg, &cfg, &err))
      return bt_cli_fail("btrun", &err);
    const char *path = o.store ? o.store : cfg.store;
    if (!remote_db && access(path, F_OK) != 0) { /* no store yet: no runs */
      if (strcmp(format, "table") == 0) printf("(no runs: no event store at %s yet)\n", path);
      return 0;
    }
    if (open_store(app, &o, &(wants){.corr = o.corr, .limit = (int)limit}, &s)) return 1;
    list_ctx c = {strcmp(format, "jsonl") == 0, 0};
    if (!c.jsonl)
      printf("%-36s  %-11s %-20s %-18s %9s %7s %8s %10s %10s %9s\n", "RUN_ID", "STATUS", "STARTED",
             "STRATEGY", "RETURN", "SHARPE", "MAX_DD", "EVENTS", "STORED", "DURATION");
    if (bt_store_list_runs(s, o.corr, (int)limit, print_run, &c, &err))
      rc = bt_cli_fail("btrun", &err);
    else if (!c.jsonl && c.n == 0) puts("(no runs)");
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
    if (open_store(app, &o, &(wants){.ids = (const char *const *)o.pos, .nids = 1}, &s)) return 1;
    bt_store_run r;
    if (bt_store_find_run(s, o.pos[0], &r, &err)) {
      rc = bt_cli_fail("btrun", &err);
    } else {
      cJSON *j = run_json(&r);
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
  close_store(&o, s);
  return rc;
}
