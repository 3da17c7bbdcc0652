/* store.c - the event store's database: schema and opening, the helpers its files share,
 * staged rows and transactions (docs/events.md). Runs and latency rows live in
 * store_runs.c, retention in store_prune.c, the chunk codec, segment files and queries in
 * store_chunk.c, store_segment.c and store_query.c. */
#include "store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs.h"
#include "grow.h"
#include "store_internal.h"

/* Version 3 keeps chunk blobs in per-run segment files; version 2 stores (blobs inline
 * in chunks.data) are still read, and upgraded when opened for writing. A writer opening
 * a store already at this version skips schema_sql (open_common), so a new table or
 * index in it needs a new version and its upgrade, or older stores never get it. */
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
  /* A store at this version has its whole schema (the version row commits with it):
   * parsing the schema script again costs every traced run ~3M instructions. */
  int ver = rc ? -1 : read_version(s);
  if (!rc && !readonly && ver != SCHEMA_VERSION) {
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
    if (!rc) ver = read_version(s);
  }
  if (!rc) {
    s->version = ver;
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

void store_bind_text(sqlite3_stmt *st, int i, const char *s) {
  if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
  else sqlite3_bind_null(st, i);
}

void store_col_copy(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

/* ---- writing ------------------------------------------------------------------- */

int store_stage(bt_store *s, const staged_row *row, const uint8_t *blob, size_t len) {
  if (BT_GROW(s->stage, s->capstage, s->nstage + 1) ||
      BT_GROW(s->stage_blob, s->stage_blob_cap, s->stage_blob_len + len))
    return BT_ENOMEM;
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
