/* trace_cli.c - `btrun trace lineage|latency`: an event's causal chain, latency stats.
 *
 * EVENT_ID, as printed and accepted: "<run_id>:<seq>" (the run's UUID, or any unique
 * prefix of at least 4 characters, then the event's sequence number in the run). */
#define _GNU_SOURCE /* vasprintf */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_opts.h"
#include "grow.h"
#include "trace_cli_internal.h"

static void fmt_ns(double ns, char *buf, size_t n) {
  if (ns < 1e3) snprintf(buf, n, "%.0f ns", ns);
  else if (ns < 1e6) snprintf(buf, n, "%.1f us", ns / 1e3);
  else if (ns < 1e9) snprintf(buf, n, "%.2f ms", ns / 1e6);
  else snprintf(buf, n, "%.2f s", ns / 1e9);
}

const char bt_trace_help[] =
    "usage: btrun trace lineage (EVENT_ID... | --run RUN_ID SEQ...) [--format tree|json]\n"
    "                           [--store PATH | --data-dir DIR]\n"
    "       btrun trace latency --run RUN_ID [--format table|json]\n"
    "                           [--store PATH | --data-dir DIR]\n"
    "\n"
    "lineage  the causal chain of an event: back through its causes to the BAR or\n"
    "         SIGNAL it started from, then forward to everything it caused (an ORDER's\n"
    "         FILL, ...). EVENT_ID is RUN_ID:SEQ as printed by `btrun events list`\n"
    "         (RUN_ID may be a unique prefix, or `latest`: the newest run); or give\n"
    "         --run RUN_ID and the SEQ numbers. The queried event is marked with '*'.\n"
    "         Several EVENT_IDs print one lineage each, separated by a blank line.\n"
    "         An event that was not stored (sampled out) shows as 'not stored'.\n"
    "         Columns: the tree and type, EVENT_ID, market time, symbol, payload.\n"
    "latency  per event type: count, mean, median, p95 and max of latency (processed -\n"
    "         created) and queue time (received - emitted), as stored with the run.\n"
    "         RUN_ID may be a unique prefix or `latest`.\n"
    BT_TCLI_STORE_HELP
    "Docs: docs/events.md\n";

#define MAX_NODES 10000

/* A tree line: the tree part (branches, the '*' of the queried event, the type) is
 * padded to the widest one so that ids, times and data line up in columns. */
typedef struct tree_line {
  char *tree, *rest;
} tree_line;

typedef struct lineage {
  bt_store *s;
  const bt_store_run *run;
  const bt_tcli_symbols *sy;
  uint64_t target;
  int nodes;
  bool json;
  size_t idlen; /* the run id's unique prefix, as `events list` prints it */
  tree_line *lines;
  size_t nlines, cap;
  bool oom;
} lineage;

static void add_line(lineage *l, char *tree, char *rest) {
  if (!tree || !rest || BT_GROW(l->lines, l->cap, l->nlines + 1)) {
    free(tree), free(rest), l->oom = true;
    return;
  }
  l->lines[l->nlines++] = (tree_line){tree, rest};
}

static size_t display_width(const char *s) { /* UTF-8 code points: the box characters */
  size_t w = 0;
  for (; *s; s++) w += ((unsigned char)*s & 0xC0) != 0x80;
  return w;
}

static void print_lines(lineage *l) {
  size_t w = 0;
  for (size_t i = 0; i < l->nlines; i++) {
    size_t d = display_width(l->lines[i].tree);
    if (d > w) w = d;
  }
  for (size_t i = 0; i < l->nlines; i++) {
    printf("%s%*s  %s\n", l->lines[i].tree, (int)(w - display_width(l->lines[i].tree)), "",
           l->lines[i].rest);
    free(l->lines[i].tree);
    free(l->lines[i].rest);
  }
  free(l->lines);
  l->lines = NULL, l->nlines = l->cap = 0;
}

static char *strf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *strf(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *out = NULL;
  if (vasprintf(&out, fmt, ap) < 0) out = NULL;
  va_end(ap);
  return out;
}

static void print_node(lineage *l, const bt_trace_event *e, bool found, uint64_t seq,
                       const char *prefix, const char *branch) {
  int il = (int)l->idlen;
  if (!found) {
    add_line(l, strf("%s%s-", prefix, branch),
             strf("%.*s:%" PRIu64 "  (not stored: sampled out or dropped)", il, l->run->run_id, seq));
    return;
  }
  char t[32];
  bt_format_time(e->ts, t);
  char *data = bt_trace_event_data_json(e);
  add_line(l, strf("%s%s%s%s", prefix, branch, e->seq == l->target ? "* " : "", bt_tcli_type_label(e)),
           strf("%.*s:%" PRIu64 "  %s  %s  %s", il, l->run->run_id, e->seq, t,
                bt_tcli_symbol_name(l->sy, e->symbol), data ? data : ""));
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
        cJSON *node = bt_tcli_event_json(l->run, &kids[i]);
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
  if (!colon || (size_t)(colon - event_id) >= sizeof runid || !bt_tcli_parse_u64(colon + 1, &seq) ||
      seq == 0) {
    fprintf(stderr, "btrun trace lineage: '%s' is not an EVENT_ID (RUN_ID:SEQ, e.g. 3f2a9c1e:1234)\n",
            event_id);
    return 1;
  }
  snprintf(runid, sizeof runid, "%.*s", (int)(colon - event_id), event_id);
  bt_store_run run;
  bt_tcli_symbols sy = {0};
  if (bt_tcli_find_run(s, runid, &run, &sy)) return 1;
  bt_err err = {0};
  size_t idlen = 0;
  int rc = bt_store_run_id_prefix(s, run.run_id, 8, &idlen, &err) ? bt_cli_fail("btrun", &err) : 0;
  /* the chain of causes, from the event back to its origin */
  bt_trace_event chain[256];
  bool found[256];
  uint64_t seqs[256];
  int n = 0;
  for (uint64_t cur = rc ? 0 : seq; cur && n < 256; n++) {
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
    lineage l = {s, &run, &sy, seq, 0, strcmp(format, "json") == 0, idlen, NULL, 0, 0, false};
    char prefix[1024] = "";
    if (l.json) {
      cJSON *root = NULL, *parent = NULL;
      for (int i = n - 1; i >= 0; i--) {
        cJSON *node;
        if (found[i]) node = bt_tcli_event_json(&run, &chain[i]);
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
      print_lines(&l);
      if (l.oom) rc = (fprintf(stderr, "btrun: out of memory\n"), 1);
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

static int trace_lineage(bt_app *app, bt_tcli_opts *o) {
  if (o->npos < 1) {
    fprintf(stderr, "btrun trace lineage: give an EVENT_ID (RUN_ID:SEQ), or --run RUN_ID and SEQ\n");
    return 1;
  }
  const char *format = o->format ? o->format : "tree";
  if (strcmp(format, "tree") && strcmp(format, "json")) {
    fprintf(stderr, "btrun trace lineage: --format must be tree or json\n");
    return 1;
  }
  bt_store *s;
  bt_tcli_wants w = {.ids = (const char *const *)o->pos, .nids = o->npos, .event_ids = true, .events = true};
  if (o->run) w = (bt_tcli_wants){.ids = &o->run, .nids = 1, .events = true};
  if (bt_tcli_open_store(app, o, &w, &s)) return 1;
  int rc = 0;
  for (int i = 0; i < o->npos && !rc; i++) {
    if (i) putchar('\n');
    char id[160]; /* with --run, a SEQ names an event of that run */
    snprintf(id, sizeof id, "%s%s%s", o->run && !strchr(o->pos[i], ':') ? o->run : "",
             o->run && !strchr(o->pos[i], ':') ? ":" : "", o->pos[i]);
    rc = lineage_one(s, id, format);
  }
  bt_tcli_close_store(o, s);
  return rc;
}

static int trace_latency(bt_app *app, bt_tcli_opts *o) {
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
  if (bt_tcli_open_store(app, o, &(bt_tcli_wants){.ids = &o->run, .nids = 1}, &s)) return 1;
  bt_store_run run;
  bt_tcli_symbols sy = {0};
  if (bt_tcli_find_run(s, o->run, &run, &sy)) {
    bt_tcli_close_store(o, s);
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
  bt_tcli_close_store(o, s);
  return rc;
}

const char *const bt_trace_subcommands[] = {"lineage", "latency", NULL};

int bt_trace_cli(bt_app *app, const bt_store_remote *remote, int argc, char **argv) {
  bt_tcli_opts o;
  bool lineage = strcmp(argv[1], "lineage") == 0; /* else latency (bt_cli_main checked) */
  if (bt_tcli_parse_opts(app, argc, argv, 2, " --store --db --run --format ", &o,
                         lineage ? "trace lineage" : "trace latency"))
    return 1;
  o.remote = remote;
  return lineage ? trace_lineage(app, &o) : trace_latency(app, &o);
}
