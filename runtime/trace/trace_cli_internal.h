/* trace_cli_internal.h - what the `btrun events`, `trace` and `runs` command modules
 * share: option parsing, opening the store (local, or a remote database copied into a
 * temporary local store), run lookup and the one-event JSON form. Not a public API. */
#ifndef BT_TRACE_CLI_INTERNAL_H
#define BT_TRACE_CLI_INTERNAL_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "trace_cli.h"
#include "tracer.h"

typedef struct bt_tcli_opts {
  const char *store, *run, *types, *from, *to, *format, *before, *keep, *limit, *corr, *html,
      *db, *data_dir;
  char **pos; /* positional arguments, in argv order */
  int npos;
  const bt_store_remote *remote;
  char cache[512]; /* the temporary store a remote database was copied into, "" = none */
} bt_tcli_opts;

/* Parses "--name value" pairs among `allowed` (" --store --run ... ") and --data-dir,
 * which every store command takes: it replaces app's data dir, so the default store
 * (<data_dir>/events.db, unless the config sets trace.store) follows it as a backtest's
 * does. The rest are positional. cmd names the command in messages ("events list"). */
int bt_tcli_parse_opts(bt_app *app, int argc, char **argv, int first, const char *allowed,
                       bt_tcli_opts *o, const char *cmd);
/* The end of each store command's --help: which store it reads. */
#define BT_TCLI_STORE_HELP                                                                   \
  "The store: --store PATH, else trace.store in the config, else\n"                         \
  "<data_dir>/events.db, where data_dir is --data-dir DIR (as for a backtest), else\n"      \
  "the config's data_dir, else $BTRUN_DATA_DIR, else $XDG_DATA_HOME/btrun, else\n"          \
  "~/.local/share/btrun.\n"

/* What a command reads: a remote database copies only that into the local cache. */
typedef struct bt_tcli_wants {
  const char *const *ids;  /* run ids (or prefixes), or EVENT_IDs when event_ids */
  int nids;
  bool event_ids;
  const char *corr;        /* with no ids: runs of this correlation id (NULL = any) */
  int limit;
  bool events;             /* events and links too, not only the runs' rows */
} bt_tcli_wants;

/* The database the command reads (--db, else BTRUN_DB) unless --store names a local
 * store; NULL = the local store. */
const char *bt_tcli_remote_url(const bt_app *app, const bt_tcli_opts *o);
/* Opens what w names: the local store read-only, or a temporary copy of a remote
 * database's rows. Prints the error and returns 1 on failure. */
int bt_tcli_open_store(bt_app *app, bt_tcli_opts *o, const bt_tcli_wants *w, bt_store **s);
/* Closes the store and removes a temporary copy. */
void bt_tcli_close_store(bt_tcli_opts *o, bt_store *s);

bool bt_tcli_parse_u64(const char *s, uint64_t *out);

/* Symbol names from the run's data JSON ([{"symbol":"ORCL",...}, ...]). */
typedef struct bt_tcli_symbols {
  cJSON *arr;
} bt_tcli_symbols;

const char *bt_tcli_symbol_name(const bt_tcli_symbols *sy, uint32_t i);
/* The user type name of a USER event, else the event type's name. */
const char *bt_tcli_type_label(const bt_trace_event *e);
/* One event as a JSON object (the jsonl form, and the lineage nodes). */
cJSON *bt_tcli_event_json(const bt_store_run *run, const bt_trace_event *e);
/* Finds a run (id or unique prefix) and parses its symbols; prints the error -> 1. */
int bt_tcli_find_run(bt_store *s, const char *id, bt_store_run *run, bt_tcli_symbols *sy);

/* `btrun runs compare` (runs_cli_compare.c). */
int bt_tcli_runs_compare(bt_app *app, bt_tcli_opts *o, bt_runs_html_fn html);

#endif
