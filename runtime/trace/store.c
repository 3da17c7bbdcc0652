/* store.c - the event store's database: schema and opening, runs, transactions,
 * latency rows and retention (docs/events.md). The chunk codec, segment files and
 * queries live in store_chunk.c, store_segment.c and store_query.c. */
#include "store.h"

#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "store_internal.h"

/* Version 3 keeps chunk blobs in per-run segment files; version 2 stores (blobs inline
 * in chunks.data) are still read, and upgraded when opened for writing. */
#define SCHEMA_VERSION 3

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS runs("
    " run_no INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, correlation_id TEXT NOT NULL,"
    " created_at INTEGER NOT NULL, strategy TEXT, strategy_path TEXT, origin TEXT,"
    " user_id TEXT, params TEXT, data TEXT, config TEXT, trace_config TEXT, out_dir TEXT,"
    " status TEXT NOT NULL, completed_at INTEGER, duration_ms INTEGER, metrics TEXT,"
    " error TEXT, bars INTEGER, event_count INTEGER, events_stored INTEGER,"
    " events_sampled_out INTEGER, events_dropped INTEGER, lineage_gaps INTEGER,"
    " pid INTEGER, host TEXT, clock_origin INTEGER);"
    "CREATE INDEX IF NOT EXISTS runs_correlation ON runs(correlation_id);"
    "CREATE INDEX IF NOT EXISTS runs_created ON runs(created_at);"
    "CREATE TABLE IF NOT EXISTS chunks("
    " run INTEGER NOT NULL, stream INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    " last_seq INTEGER NOT NULL, ts_min INTEGER NOT NULL, ts_max INTEGER NOT NULL,"
    " n INTEGER NOT NULL, types INTEGER NOT NULL, data BLOB NOT NULL, seg_off INTEGER,"
    " seg_len INTEGER);"
    "CREATE UNIQUE INDEX IF NOT EXISTS chunks_seq ON chunks(run, stream, first_seq);"
    "CREATE TABLE IF NOT EXISTS links("
    " run INTEGER NOT NULL, bucket INTEGER NOT NULL, first_seq INTEGER NOT NULL,"
    " data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS links_bucket ON links(run, bucket);"
    "CREATE TABLE IF NOT EXISTS latency("
    " run INTEGER NOT NULL, type TEXT NOT NULL, metric TEXT NOT NULL, count INTEGER NOT NULL,"
    " mean_ns REAL, p50_ns INTEGER, p95_ns INTEGER, max_ns INTEGER,"
    " PRIMARY KEY(run, type, metric)) WITHOUT ROWID;";

static const char *const stmt_sql[ST__N] = {
    [ST_INS_CHUNK] = "INSERT INTO chunks(run, stream, first_seq, last_seq, ts_min, ts_max, n,"
                     " types, data, seg_off, seg_len) VALUES(?,?,?,?,?,?,?,?,X'',?,?)",
    [ST_INS_LINKS] = "INSERT INTO links(run, bucket, first_seq, data) VALUES(?,?,?,?)",
    [ST_GET_CHUNK] = "SELECT first_seq, last_seq, n, %s FROM chunks WHERE run = ? AND"
                     " stream = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
    [ST_GET_LINKS] = "SELECT data FROM links WHERE run = ? AND bucket = ?",
    [ST_RUN_ID] = "SELECT run_id FROM runs WHERE run_no = ?",
};

int store_db_err(bt_store *s, bt_err *err, const char *what) {
  return bt_errf(err, BT_EIO, "store_error", "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

int store_exec(bt_store *s, const char *sql, bt_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    bt_errf(err, BT_EIO, "store_error", "%s: %s", s->path, msg ? msg : "sqlite error");
    sqlite3_free(msg);
    return BT_EIO;
  }
  return 0;
}

/* meta's schema_version: 0 when missing, -1 when the file has no meta table. */
static int read_version(bt_store *s) {
  sqlite3_stmt *v;
  if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &v,
                         NULL) != SQLITE_OK)
    return -1;
  int ver = sqlite3_step(v) == SQLITE_ROW ? sqlite3_column_int(v, 0) : 0;
  sqlite3_finalize(v);
  return ver;
}

static int open_common(bt_store **out, const char *path, bool readonly, bt_err *err) {
  *out = NULL;
  bt_store *s = calloc(1, sizeof *s);
  if (!s) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  s->wseg.fd = s->rseg.fd = -1;
  snprintf(s->path, sizeof s->path, "%s", path);
  if (gethostname(s->host, sizeof s->host)) s->host[0] = '\0';
  s->host[sizeof s->host - 1] = '\0';
  if (readonly && access(path, R_OK) != 0) {
    free(s);
    return bt_errf(err, BT_EIO, "store_error",
                   "%s: no event store (no traced run yet, or set trace.store / BTRUN_DATA_DIR)",
                   path);
  }
  if (!readonly && bt_mkdirs_parent(path, 0755)) {
    free(s);
    return bt_errf(err, BT_EIO, "store_error", "%s: cannot create directory: %s", path,
                   strerror(errno));
  }
  /* Readers open read-write too (without creating) where they can: WAL readers share
   * the -shm file with live writers. On read-only media nobody writes: the file is
   * opened immutable, which needs no -shm and writes nothing. */
  char dir[1024], uri[2200];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  bool immutable = readonly && access(slash ? dir : ".", W_OK) != 0;
  int flags = (immutable ? SQLITE_OPEN_READONLY | SQLITE_OPEN_URI : SQLITE_OPEN_READWRITE) |
              (readonly ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  if (immutable) {
    size_t n = (size_t)snprintf(uri, sizeof uri, "file:");
    for (const char *p = path; *p && n + 4 < sizeof uri; p++) /* percent-encode ? # % */
      n += (size_t)(strchr("?#%", *p) ? snprintf(uri + n, sizeof uri - n, "%%%02X", *p)
                                       : snprintf(uri + n, sizeof uri - n, "%c", *p));
    snprintf(uri + n, sizeof uri - n, "?immutable=1");
  }
  /* Read-only media: plain read-only first (it reads a -wal left there, with its
   * -shm); immutable when SQLite cannot use them that way. */
  if (immutable && sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
                                   NULL) == SQLITE_OK &&
      sqlite3_exec(s->db, "SELECT count(*) FROM sqlite_master", NULL, NULL, NULL) == SQLITE_OK) {
    flags = 0; /* opened */
  } else if (immutable) {
    sqlite3_close(s->db);
    s->db = NULL;
  }
  if (flags && sqlite3_open_v2(immutable ? uri : path, &s->db, flags, NULL) != SQLITE_OK) {
    int rc = bt_errf(err, BT_EIO, "store_error", "%s: cannot open: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_close(s->db);
    free(s);
    return rc;
  }
  sqlite3_busy_timeout(s->db, 10000);
  int rc = immutable ? 0 : store_exec(s,
                /* page size and auto_vacuum only take effect on a new file */
                "PRAGMA page_size=16384; PRAGMA auto_vacuum=INCREMENTAL;"
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "PRAGMA wal_autocheckpoint=4096;",
                err);
  /* Readers scan: a large cache and mmap pay off. The writer appends and only revisits
   * the right edge of each b-tree: a small cache suffices, and every page a connection
   * caches is first faulted in (costly under a hypervisor) on the traced run's cores. */
  if (!rc)
    rc = store_exec(s, readonly ? "PRAGMA cache_size=-32768; PRAGMA mmap_size=1073741824;"
                          : "PRAGMA cache_size=-2048;",
              err);
  if (!rc && !readonly) {
    rc = store_exec(s, "BEGIN IMMEDIATE", err);
    if (!rc) rc = store_exec(s, schema_sql, err);
    if (!rc) {
      char sql[128];
      snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO meta VALUES('schema_version', %d)",
               SCHEMA_VERSION);
      rc = store_exec(s, sql, err);
    }
    /* upgrade a version 2 store: its rows keep their blobs inline and are read as such */
    if (!rc && read_version(s) == 2)
      rc = store_exec(s,
                "ALTER TABLE chunks ADD COLUMN seg_off INTEGER;"
                "ALTER TABLE chunks ADD COLUMN seg_len INTEGER;"
                "UPDATE meta SET value = 3 WHERE key = 'schema_version';",
                err);
    rc = rc ? (store_exec(s, "ROLLBACK", NULL), rc) : store_exec(s, "COMMIT", err);
  }
  if (!rc) {
    s->version = read_version(s);
    if (s->version < 0)
      rc = bt_errf(err, BT_EIO, "store_error", "%s: not a btrun event store: %s", path,
                   sqlite3_errmsg(s->db));
    else if (s->version != SCHEMA_VERSION && s->version != 2)
      rc = bt_errf(err, BT_EINVAL, "store_error",
                   "%s: event store schema version %d, this btrun reads versions 2 and %d (a "
                   "store from another btrun version: move it away or set trace.store)",
                   path, s->version, SCHEMA_VERSION);
  }
  for (int i = 0; !rc && i < ST__N; i++) {
    /* a version 2 store is only open for reading: no chunk is inserted */
    if (i == ST_INS_CHUNK && s->version < 3) continue;
    char sql[512];
    snprintf(sql, sizeof sql, stmt_sql[i], BLOB_COLS(s));
    if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s->st[i], NULL))
      rc = store_db_err(s, err, "prepare");
  }
  if (rc) {
    bt_store_close(s);
    return rc;
  }
  *out = s;
  return 0;
}

int bt_store_open(bt_store **out, const char *path, bt_err *err) {
  return open_common(out, path, false, err);
}

int bt_store_open_readonly(bt_store **out, const char *path, bt_err *err) {
  return open_common(out, path, true, err);
}

void bt_store_close(bt_store *s) {
  if (!s) return;
  for (int i = 0; i < ST__N; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  store_seg_close(&s->wseg);
  store_seg_close(&s->rseg);
  free(s->buf);
  free(s->rb.p);
  free(s->stage);
  free(s->stage_blob);
  free(s);
}

const char *bt_store_path(const bt_store *s) { return s->path; }

/* ---- helpers ------------------------------------------------------------------- */

static void bind_text_or_null(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* ---- runs ---------------------------------------------------------------------- */

/* Deletes the rows of run_id (an earlier attempt of a job run again); its segment file
 * stays and the new attempt appends after it (its process may not be quite gone). */
static int drop_attempt(bt_store *s, const char *run_id, bt_err *err) {
  static const char *const del[] = {
      "DELETE FROM chunks WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM links WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM latency WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM runs WHERE run_id = ?"};
  for (size_t d = 0; d < 4; d++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) return store_db_err(s, err, "replace run");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "replace run");
    sqlite3_finalize(st);
    if (rc) return rc;
  }
  return 0;
}

static int insert_run(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                      uint64_t clock_origin, int64_t *run_no, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO runs(run_id, correlation_id, created_at, strategy,"
                         " strategy_path, origin, user_id, params, data, config, trace_config,"
                         " out_dir, status, pid, host, clock_origin, bars, event_count,"
                         " events_stored, events_sampled_out, events_dropped, lineage_gaps)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,'running',?,?,?,0,0,0,0,0,0)",
                         -1, &st, NULL))
    return store_db_err(s, err, "insert run");
  sqlite3_bind_text(st, 1, info->run_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, info->correlation_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, info->started_ms);
  bind_text_or_null(st, 4, info->strategy_id);
  bind_text_or_null(st, 5, info->strategy_path);
  bind_text_or_null(st, 6, info->origin);
  bind_text_or_null(st, 7, info->user_id);
  bind_text_or_null(st, 8, info->params_json);
  bind_text_or_null(st, 9, info->data_json);
  bind_text_or_null(st, 10, info->config_json);
  bind_text_or_null(st, 11, trace_config_json);
  bind_text_or_null(st, 12, info->out_dir);
  sqlite3_bind_int64(st, 13, (int64_t)getpid());
  sqlite3_bind_text(st, 14, s->host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 15, (int64_t)clock_origin);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "insert run");
  sqlite3_finalize(st);
  if (!rc) *run_no = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int bt_store_run_begin(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                       uint64_t clock_origin, int64_t *run_no, bt_err *err) {
  bool own_tx = sqlite3_get_autocommit(s->db) != 0;
  int rc = own_tx ? store_exec(s, "BEGIN IMMEDIATE", err) : 0;
  if (!rc) rc = drop_attempt(s, info->run_id, err);
  if (!rc) rc = insert_run(s, info, trace_config_json, clock_origin, run_no, err);
  if (own_tx) rc = rc ? (store_exec(s, "ROLLBACK", NULL), rc) : store_exec(s, "COMMIT", err);
  return rc;
}

int bt_store_run_finish(bt_store *s, int64_t run_no, const bt_store_run_end *e, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "UPDATE runs SET status = ?, completed_at = ?, duration_ms = ?,"
                         " metrics = ?, error = ?, bars = ?, event_count = ?, events_stored = ?,"
                         " events_sampled_out = ?, events_dropped = ?, lineage_gaps = ?"
                         " WHERE run_no = ?",
                         -1, &st, NULL))
    return store_db_err(s, err, "update run");
  sqlite3_bind_text(st, 1, e->status, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, e->completed_at);
  sqlite3_bind_int64(st, 3, e->duration_ms);
  bind_text_or_null(st, 4, e->metrics_json);
  bind_text_or_null(st, 5, e->error);
  sqlite3_bind_int64(st, 6, (int64_t)e->bars);
  sqlite3_bind_int64(st, 7, (int64_t)e->event_count);
  sqlite3_bind_int64(st, 8, (int64_t)e->stored);
  sqlite3_bind_int64(st, 9, (int64_t)e->sampled_out);
  sqlite3_bind_int64(st, 10, (int64_t)e->dropped);
  sqlite3_bind_int64(st, 11, (int64_t)e->lineage_gaps);
  sqlite3_bind_int64(st, 12, run_no);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "update run");
  sqlite3_finalize(st);
  return rc;
}

void bt_store_run_clear(bt_store_run *r) {
  char **p[] = {&r->strategy_path, &r->origin, &r->user_id, &r->params, &r->data, &r->config,
                &r->trace_config, &r->out_dir, &r->metrics, &r->error, &r->host};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(*p[i]);
  memset(r, 0, sizeof *r);
}

#define RUN_COLS                                                                             \
  "run_no, run_id, correlation_id, strategy, status, created_at, completed_at, duration_ms," \
  " pid, bars, event_count, events_stored, events_sampled_out, events_dropped,"              \
  " lineage_gaps, clock_origin, strategy_path, origin, user_id, params, data, config,"       \
  " trace_config, out_dir, metrics, error, host"

static void read_run(bt_store *s, sqlite3_stmt *st, bt_store_run *r) {
  memset(r, 0, sizeof *r);
  r->run_no = sqlite3_column_int64(st, 0);
  store_col_copy(st, 1, r->run_id, sizeof r->run_id);
  store_col_copy(st, 2, r->correlation_id, sizeof r->correlation_id);
  store_col_copy(st, 3, r->strategy, sizeof r->strategy);
  store_col_copy(st, 4, r->status, sizeof r->status);
  r->created_at = sqlite3_column_int64(st, 5);
  r->completed_at = sqlite3_column_int64(st, 6);
  r->duration_ms = sqlite3_column_int64(st, 7);
  r->pid = sqlite3_column_int64(st, 8);
  uint64_t *u[] = {&r->bars, &r->event_count, &r->stored, &r->sampled_out, &r->dropped,
                   &r->lineage_gaps, &r->clock_origin};
  for (int i = 0; i < 7; i++) *u[i] = (uint64_t)sqlite3_column_int64(st, 9 + i);
  char **p[] = {&r->strategy_path, &r->origin, &r->user_id, &r->params, &r->data, &r->config,
                &r->trace_config, &r->out_dir, &r->metrics, &r->error, &r->host};
  for (int i = 0; i < 11; i++) *p[i] = col_dup(st, 16 + i);
  /* "running" is only true while the writing process lives; on this host we can tell. */
  if (strcmp(r->status, "running") == 0) {
    bool same_host = r->host && strcmp(r->host, s->host) == 0;
    bool alive = same_host && r->pid > 0 && (kill((pid_t)r->pid, 0) == 0 || errno == EPERM);
    r->incomplete = same_host && !alive;
  }
}

int bt_store_find_run(bt_store *s, const char *id, bt_store_run *out, bt_err *err) {
  if (strcmp(id, "latest") == 0) { /* the newest run (the highest run number) */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC LIMIT 1",
                           -1, &st, NULL))
      return store_db_err(s, err, "find run");
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) read_run(s, st, out);
    sqlite3_finalize(st);
    return found ? 0 : bt_errf(err, BT_EINVAL, "not_found", "no runs in %s", s->path);
  }
  size_t len = strlen(id);
  if (len < 4)
    return bt_errf(err, BT_EINVAL, "usage_error", "run id '%s': give at least 4 characters",
                   id);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " RUN_COLS " FROM runs WHERE run_id >= ?1 AND run_id < ?1 || "
                         "char(1114111) ORDER BY run_id LIMIT 2",
                         -1, &st, NULL))
    return store_db_err(s, err, "find run");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  int n = 0, rc = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n++ == 0) read_run(s, st, out);
  }
  sqlite3_finalize(st);
  if (n == 0) rc = bt_errf(err, BT_EINVAL, "not_found", "no run '%s' in %s", id, s->path);
  else if (n > 1 && strcmp(out->run_id, id) != 0) {
    bt_store_run_clear(out);
    rc = bt_errf(err, BT_EINVAL, "usage_error", "run id '%s' is ambiguous: give more characters",
                 id);
  }
  return rc;
}

int bt_store_run_id_prefix(bt_store *s, const char *run_id, size_t min, size_t *len,
                           bt_err *err) {
  /* the ids next to it in sort order are the ones sharing the longest prefix */
  static const char *const sql[] = {
      "SELECT run_id FROM runs WHERE run_id < ?1 ORDER BY run_id DESC LIMIT 1",
      "SELECT run_id FROM runs WHERE run_id > ?1 ORDER BY run_id LIMIT 1"};
  size_t n = strlen(run_id), need = min < n ? min : n;
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql[k], -1, &st, NULL)) return store_db_err(s, err, "run id");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *o = (const char *)sqlite3_column_text(st, 0);
      size_t c = 0;
      while (o && c < n && o[c] == run_id[c]) c++;
      if (c + 1 > need) need = c + 1 <= n ? c + 1 : n;
    }
    sqlite3_finalize(st);
  }
  *len = need;
  return 0;
}

int bt_store_run_size(bt_store *s, int64_t run_no, const char *run_id, uint64_t *bytes,
                      bt_err *err) {
  /* the run's segment file, plus what it holds inside SQLite: links, and the chunk
   * bytes of a schema 2 store (inline). Index rows are not counted (a few % of it). */
  char path[1200];
  struct stat st;
  *bytes = 0;
  if (store_run_id_ok(run_id)) {
    store_seg_path(s, run_id, path, sizeof path);
    if (stat(path, &st) == 0) *bytes += (uint64_t)st.st_size;
  }
  static const char *const sql[] = {
      "SELECT coalesce(sum(length(data)), 0) FROM links WHERE run = ?1",
      "SELECT coalesce(sum(length(data)), 0) FROM chunks WHERE run = ?1"};
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql[k], -1, &q, NULL)) return store_db_err(s, err, "run size");
    sqlite3_bind_int64(q, 1, run_no);
    if (sqlite3_step(q) == SQLITE_ROW) *bytes += (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
  }
  return 0;
}

uint64_t bt_store_disk_size(const char *path) {
  char p[1200];
  struct stat st;
  uint64_t total = 0;
  const char *const ext[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, ext[i]);
    if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
  }
  snprintf(p, sizeof p, "%s.chunks", path);
  DIR *d = opendir(p);
  for (struct dirent *e; d && (e = readdir(d));) {
    char f[1500];
    snprintf(f, sizeof f, "%s/%s", p, e->d_name);
    if (e->d_name[0] != '.' && stat(f, &st) == 0 && S_ISREG(st.st_mode))
      total += (uint64_t)st.st_size;
  }
  if (d) closedir(d);
  return total;
}

int bt_store_list_runs(bt_store *s, const char *correlation_id, int limit, bt_store_run_fn fn,
                       void *ud, bt_err *err) {
  sqlite3_stmt *st;
  const char *sql =
      correlation_id
          ? "SELECT " RUN_COLS " FROM runs WHERE correlation_id = ?1 ORDER BY run_no DESC LIMIT ?2"
          : "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC LIMIT ?2";
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) return store_db_err(s, err, "list runs");
  if (correlation_id) sqlite3_bind_text(st, 1, correlation_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    bt_store_run r;
    read_run(s, st, &r);
    int stop = fn(ud, &r);
    bt_store_run_clear(&r);
    if (stop) break;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = store_db_err(s, err, "list runs");
  sqlite3_finalize(st);
  return rc;
}

/* ---- writing ------------------------------------------------------------------- */

int store_stage(bt_store *s, const staged_row *row, const uint8_t *blob, size_t len) {
  if (s->nstage == s->capstage) {
    size_t cap = s->capstage ? s->capstage * 2 : 64;
    staged_row *n = realloc(s->stage, cap * sizeof *n);
    if (!n) return BT_ENOMEM;
    s->stage = n, s->capstage = cap;
  }
  if (len && s->stage_blob_len + len > s->stage_blob_cap) {
    size_t cap = s->stage_blob_cap ? s->stage_blob_cap : 4096;
    while (cap < s->stage_blob_len + len) cap *= 2;
    uint8_t *n = realloc(s->stage_blob, cap);
    if (!n) return BT_ENOMEM;
    s->stage_blob = n, s->stage_blob_cap = cap;
  }
  staged_row *r = &s->stage[s->nstage++];
  *r = *row;
  r->blob_off = s->stage_blob_len, r->blob_len = len;
  if (len) memcpy(s->stage_blob + s->stage_blob_len, blob, len);
  s->stage_blob_len += len;
  return 0;
}

static int insert_staged(bt_store *s, bt_err *err) {
  for (size_t i = 0; i < s->nstage; i++) {
    const staged_row *r = &s->stage[i];
    sqlite3_stmt *st = s->st[r->links ? ST_INS_LINKS : ST_INS_CHUNK];
    sqlite3_bind_int64(st, 1, r->run_no);
    if (r->links) {
      sqlite3_bind_int64(st, 2, r->bucket);
      sqlite3_bind_int64(st, 3, r->first_seq);
      sqlite3_bind_blob(st, 4, s->stage_blob + r->blob_off, (int)r->blob_len, SQLITE_STATIC);
    } else {
      const int64_t v[] = {r->stream,   r->first_seq, r->last_seq, r->ts_min, r->ts_max,
                           r->n,        r->types,     r->seg_off,  r->seg_len};
      for (int k = 0; k < 9; k++) sqlite3_bind_int64(st, k + 2, v[k]);
    }
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "insert events");
    sqlite3_reset(st);
    if (rc) return rc;
  }
  return 0;
}

static void clear_staged(bt_store *s) {
  s->nstage = 0;
  s->stage_blob_len = 0;
  s->staged_events = 0;
}

/* Leave no transaction open, whatever failed: an open one holds the write lock until
 * the process exits and makes every later BEGIN fail. */
void bt_store_rollback(bt_store *s) {
  if (!sqlite3_get_autocommit(s->db)) store_exec(s, "ROLLBACK", NULL);
  s->in_tx = false;
}

int bt_store_flush(bt_store *s, uint64_t *events, bt_err *err) {
  if (events) *events = 0;
  if (!s->nstage) return 0;
  bool own = !s->in_tx;
  int rc = own ? store_exec(s, "BEGIN IMMEDIATE", err) : 0;
  if (!rc) rc = insert_staged(s, err);
  if (!rc && own) rc = store_exec(s, "COMMIT", err);
  if (rc) {
    if (own) bt_store_rollback(s);
    return rc; /* the rows stay staged for the next attempt */
  }
  if (events) *events = s->staged_events;
  clear_staged(s);
  return 0;
}

void bt_store_busy_timeout(bt_store *s, int ms) { sqlite3_busy_timeout(s->db, ms); }

uint64_t bt_store_staged_events(const bt_store *s) { return s->staged_events; }

uint64_t bt_store_drop_staged(bt_store *s) {
  uint64_t n = s->staged_events;
  clear_staged(s);
  return n;
}

int bt_store_begin(bt_store *s, bt_err *err) {
  int rc = store_exec(s, "BEGIN IMMEDIATE", err);
  s->in_tx = rc == 0;
  return rc;
}

int bt_store_commit(bt_store *s, bt_err *err) {
  int rc = bt_store_flush(s, NULL, err);
  if (!rc) rc = store_exec(s, "COMMIT", err);
  if (rc) bt_store_rollback(s);
  s->in_tx = false;
  return rc;
}

void bt_store_no_autocheckpoint(bt_store *s) {
  sqlite3_wal_autocheckpoint(s->db, 0);
  /* Closing the last connection would copy the rest of the WAL and fsync the database
   * file (~0.2 s after a 10M-event run); the next connection's checkpointer does it. */
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
}

int bt_store_checkpoint(bt_store *s, bt_err *err) {
  int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : store_db_err(s, err, "checkpoint");
}

/* ---- latency ------------------------------------------------------------------- */

int bt_store_put_latency(bt_store *s, int64_t run_no, const bt_store_latency *l, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO latency VALUES(?,?,?,?,?,?,?,?)", -1,
                         &st, NULL))
    return store_db_err(s, err, "insert latency");
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_text(st, 2, l->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, l->metric, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, (int64_t)l->count);
  sqlite3_bind_double(st, 5, l->mean_ns);
  sqlite3_bind_int64(st, 6, (int64_t)l->p50_ns);
  sqlite3_bind_int64(st, 7, (int64_t)l->p95_ns);
  sqlite3_bind_int64(st, 8, (int64_t)l->max_ns);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "insert latency");
  sqlite3_finalize(st);
  return rc;
}

int bt_store_get_latency(bt_store *s, int64_t run_no, bt_store_latency **out, size_t *n,
                         bt_err *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT type, metric, count, mean_ns, p50_ns, p95_ns, max_ns FROM latency"
                         " WHERE run = ? ORDER BY type, metric",
                         -1, &st, NULL))
    return store_db_err(s, err, "latency");
  sqlite3_bind_int64(st, 1, run_no);
  size_t cap = 0;
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      bt_store_latency *a = realloc(*out, cap * sizeof *a);
      if (!a) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      *out = a;
    }
    bt_store_latency *l = &(*out)[(*n)++];
    store_col_copy(st, 0, l->type, sizeof l->type);
    store_col_copy(st, 1, l->metric, sizeof l->metric);
    l->count = (uint64_t)sqlite3_column_int64(st, 2);
    l->mean_ns = sqlite3_column_double(st, 3);
    l->p50_ns = (uint64_t)sqlite3_column_int64(st, 4);
    l->p95_ns = (uint64_t)sqlite3_column_int64(st, 5);
    l->max_ns = (uint64_t)sqlite3_column_int64(st, 6);
  }
  if (!rc && step != SQLITE_DONE) rc = store_db_err(s, err, "latency");
  sqlite3_finalize(st);
  return rc;
}

/* ---- retention ----------------------------------------------------------------- */

/* Segment files whose run has no row (in the write transaction that deleted runs, so
 * that no run can be added meanwhile; a run's row is committed before its segment is
 * created): the deleted runs' and any that a crash between commit and unlink left. */
static int orphan_segments(bt_store *s, char ***out, size_t *n, bt_err *err) {
  char dir[1100];
  store_seg_path(s, NULL, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return 0; /* no segment yet (or a version 2 store) */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM runs WHERE run_id = ?", -1, &st, NULL)) {
    closedir(d);
    return store_db_err(s, err, "prune");
  }
  int rc = 0;
  size_t cap = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    char id[64];
    size_t len = strlen(de->d_name);
    if (len < 5 || len - 4 >= sizeof id || strcmp(de->d_name + len - 4, ".seg") != 0) continue;
    memcpy(id, de->d_name, len - 4);
    id[len - 4] = '\0';
    if (!store_run_id_ok(id)) continue;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_ROW) continue;
    if (step != SQLITE_DONE) {
      rc = store_db_err(s, err, "prune");
      break;
    }
    /* this connection may hold it open */
    if (strcmp(s->wseg.run_id, id) == 0) store_seg_close(&s->wseg);
    if (strcmp(s->rseg.run_id, id) == 0) store_seg_close(&s->rseg);
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      char **a = realloc(*out, cap * sizeof *a);
      if (!a) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      *out = a;
    }
    size_t plen = strlen(dir) + len + 2;
    if (!((*out)[*n] = malloc(plen))) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    snprintf((*out)[(*n)++], plen, "%s/%s", dir, de->d_name);
  }
  sqlite3_finalize(st);
  closedir(d);
  return rc;
}

int bt_store_prune(bt_store *s, int64_t before_ms, int keep_runs, int *deleted, bt_err *err) {
  *deleted = 0;
  /* Collect victims first: a run still being written by a live process is kept. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC", -1, &st,
                         NULL))
    return store_db_err(s, err, "prune");
  int64_t *victims = NULL;
  size_t nv = 0, cap = 0;
  int idx = 0, rc = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    bt_store_run r;
    read_run(s, st, &r);
    bool old = (before_ms >= 0 && r.created_at < before_ms) || (keep_runs >= 0 && idx >= keep_runs);
    bool live = strcmp(r.status, "running") == 0 && !r.incomplete;
    idx++;
    if (old && !live) {
      if (nv == cap) {
        cap = cap ? cap * 2 : 64;
        int64_t *a = realloc(victims, cap * sizeof *a);
        if (!a) {
          rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
          bt_store_run_clear(&r);
          break;
        }
        victims = a;
      }
      victims[nv++] = r.run_no;
    }
    bt_store_run_clear(&r);
  }
  sqlite3_finalize(st);
  char **gone = NULL;
  size_t ngone = 0;
  if (!rc) rc = store_exec(s, "BEGIN IMMEDIATE", err);
  if (!rc) {
    static const char *const del[] = {
        "DELETE FROM chunks WHERE run = ?", "DELETE FROM links WHERE run = ?",
        "DELETE FROM latency WHERE run = ?", "DELETE FROM runs WHERE run_no = ?"};
    for (size_t d = 0; !rc && d < 4; d++) {
      if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) {
        rc = store_db_err(s, err, "prune");
        break;
      }
      for (size_t i = 0; !rc && i < nv; i++) {
        sqlite3_bind_int64(st, 1, victims[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_db_err(s, err, "prune");
        sqlite3_reset(st);
      }
      sqlite3_finalize(st);
    }
    if (!rc) rc = orphan_segments(s, &gone, &ngone, err);
    rc = rc ? (store_exec(s, "ROLLBACK", NULL), rc) : store_exec(s, "COMMIT", err);
    if (!rc) *deleted = (int)nv;
    /* files go once their rows are gone for good */
    for (size_t i = 0; !rc && i < ngone; i++)
      if (unlink(gone[i]) && errno != ENOENT)
        rc = bt_errf(err, BT_EIO, "store_error", "%s: cannot delete: %s", gone[i],
                     strerror(errno));
    if (!rc && nv) rc = store_exec(s, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);", err);
  }
  for (size_t i = 0; i < ngone; i++) free(gone[i]);
  free(gone);
  free(victims);
  return rc;
}
