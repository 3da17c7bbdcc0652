/* trace_cli_util.c - what the event store commands share (trace_cli_internal.h). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <unistd.h>

#include "cli_opts.h"
#include "event_export.h"
#include "json.h"
#include "trace_cli_internal.h"

/* Parses "--name value" pairs among `allowed`, and --data-dir; the rest are positional. */
int bt_tcli_parse_opts(bt_app *app, int argc, char **argv, int first, const char *allowed,
                       bt_tcli_opts *o, const char *cmd) {
  memset(o, 0, sizeof *o);
  const struct { const char *name; const char **dst; } map[] = {
      {"--store", &o->store}, {"--run", &o->run},       {"--type", &o->types},
      {"--from", &o->from},   {"--to", &o->to},         {"--format", &o->format},
      {"--before", &o->before}, {"--keep-runs", &o->keep}, {"--limit", &o->limit},
      {"--correlation", &o->corr}, {"--html", &o->html}, {"--db", &o->db},
      {"--data-dir", &o->data_dir}};
  bt_cli_opt table[sizeof map / sizeof map[0] + 1];
  size_t n = 0;
  for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
    char pat[40];
    snprintf(pat, sizeof pat, " %s ", map[k].name);
    if (strstr(allowed, pat) || map[k].dst == &o->data_dir)
      table[n++] = (bt_cli_opt){map[k].name, .value = map[k].dst};
  }
  table[n] = (bt_cli_opt){.name = NULL};
  char prog[64];
  snprintf(prog, sizeof prog, "btrun %s", cmd);
  const bt_cli_usage u = {.prog = prog,
                          .unknown = "unknown option %s (see --help)",
                          .needs_value = "%s needs a value"};
  bt_cli_args args;
  if (bt_cli_parse(&u, table, argc, argv, first, &args)) return 1;
  o->pos = args.pos, o->npos = args.npos;
  /* as for a backtest: the default store <data_dir>/events.db follows it */
  if (o->data_dir) {
    if (!*o->data_dir || strlen(o->data_dir) >= sizeof app->cfg.data_dir)
      return bt_cli_usage_error(&u, "--data-dir: %s", *o->data_dir ? "path too long" : "empty");
    snprintf(app->cfg.data_dir, sizeof app->cfg.data_dir, "%s", o->data_dir);
  }
  return 0;
}

/* The database the command reads: --db, else the app's (BTRUN_DB), unless --store names
 * a local store. NULL = the local store. */
const char *bt_tcli_remote_url(const bt_app *app, const bt_tcli_opts *o) {
  if (o->store) return NULL;
  const char *url = o->db ? o->db : app->db[0] ? app->db : NULL;
  return url && o->remote && o->remote->handles(url) ? url : NULL;
}

/* Copy what w names from the database into a new store in a temporary directory. */
static int fetch_remote(bt_tcli_opts *o, const char *url, const bt_tcli_wants *w, bt_store **s) {
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
    bool latest = strcmp(id, "latest") == 0; /* the database's newest run */
    rc = o->remote->fetch(url, latest ? NULL : id, NULL, latest ? 1 : 0, w->events, *s, &err);
  }
  if (!w->nids) rc = o->remote->fetch(url, NULL, w->corr, w->limit, w->events, *s, &err);
  if (rc) bt_tcli_close_store(o, *s);
  return rc ? bt_cli_fail("btrun", &err) : 0;
}

/* Closes the store and removes the temporary copy of a remote database's rows: the
 * store file, its WAL files and <cache>/events.db.chunks/<run_id>.seg. */
void bt_tcli_close_store(bt_tcli_opts *o, bt_store *s) {
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

int bt_tcli_open_store(bt_app *app, bt_tcli_opts *o, const bt_tcli_wants *w, bt_store **s) {
  const char *url = bt_tcli_remote_url(app, o);
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

bool bt_tcli_parse_u64(const char *s, uint64_t *out) {
  char *end;
  if (!s || !*s || *s == '-') return false;
  unsigned long long v = strtoull(s, &end, 10);
  if (*end) return false;
  *out = v;
  return true;
}

const char *bt_tcli_symbol_name(const bt_tcli_symbols *sy, uint32_t i) {
  cJSON *d = sy->arr ? cJSON_GetArrayItem(sy->arr, (int)i) : NULL;
  cJSON *n = d ? cJSON_GetObjectItemCaseSensitive(d, "symbol") : NULL;
  return cJSON_IsString(n) ? n->valuestring : "?";
}

const char *bt_tcli_type_label(const bt_trace_event *e) {
  return e->type == BT_EV_USER && e->user_type ? e->user_type
                                               : bt_event_type_name((bt_event_type)e->type);
}

/* One event as a JSON object (the jsonl form, and the lineage nodes). */
cJSON *bt_tcli_event_json(const bt_store_run *run, const bt_trace_event *e) {
  /* the export's writer, so that lineage nodes carry exactly the fields of a JSONL line */
  bt_json_buf b = {0};
  bt_event_json_write(&b, run, e);
  cJSON *o = b.failed ? NULL : cJSON_ParseWithLength(b.data, b.len);
  if (o && strstr(b.data, "\\u0000")) { /* cJSON strings end at a NUL: keep data as is */
    b.len = 0;
    bt_trace_event_data_write(&b, e);
    if (!b.failed) cJSON_ReplaceItemInObject(o, "data", cJSON_CreateRaw(b.data));
  }
  bt_json_free(&b);
  return o ? o : cJSON_CreateObject();
}

int bt_tcli_find_run(bt_store *s, const char *id, bt_store_run *run, bt_tcli_symbols *sy) {
  bt_err err = {0};
  if (bt_store_find_run(s, id, run, &err)) return bt_cli_fail("btrun", &err);
  sy->arr = run->data ? cJSON_Parse(run->data) : NULL;
  return 0;
}
