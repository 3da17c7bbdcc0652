#include "store.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker.h"
#include "bus.h"
#include "decimal.h"
#include "log.h"

/* Version 3 keeps chunk blobs in per-run segment files; version 2 stores (blobs inline
 * in chunks.data) are still read, and upgraded when opened for writing. */
#define SCHEMA_VERSION 3

enum { ST_INS_CHUNK, ST_INS_LINKS, ST_GET_CHUNK, ST_GET_LINKS, ST_RUN_ID, ST__N };

/* One run's segment file, <store>.chunks/<run_id>.seg: the chunk blobs of the run,
 * appended one after the other; a chunks row holds its blob's offset and length. */
typedef struct seg {
  int64_t run_no; /* 0 = none open */
  int fd;
  uint64_t end;   /* writer: where the next blob goes */
  char run_id[40];
  char path[1100];
} seg;

/* A reusable read buffer. */
typedef struct rbuf {
  uint8_t *p;
  size_t cap;
} rbuf;

struct bt_store {
  sqlite3 *db;
  char path[1024];
  char host[64];
  int version;  /* schema version of the file (2: no segments yet, read-only open) */
  sqlite3_stmt *st[ST__N];
  uint8_t *buf; /* chunk encoding buffer */
  size_t cap;
  seg wseg, rseg; /* the segment being appended to / read from */
  rbuf rb;        /* blob of bt_store_get_event */
  /* per-chunk scratch, kept so that the writer does not allocate per chunk */
  uint8_t src_of[BT_STORE_CHUNK];
  uint64_t buckets[BT_STORE_CHUNK];
};

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

/* A chunk's blob: `data` holds it in rows of version 2 stores; since version 3 `data` is
 * empty and seg_off/seg_len locate it in the run's segment. A version 2 store opened
 * read-only has no seg_* columns: NULL stands in for them. */
#define BLOB_COLS(s) ((s)->version >= 3 ? "data, seg_off, seg_len" : "data, NULL, NULL")

static const char *const stmt_sql[ST__N] = {
    [ST_INS_CHUNK] = "INSERT INTO chunks(run, stream, first_seq, last_seq, ts_min, ts_max, n,"
                     " types, data, seg_off, seg_len) VALUES(?,?,?,?,?,?,?,?,X'',?,?)",
    [ST_INS_LINKS] = "INSERT INTO links(run, bucket, first_seq, data) VALUES(?,?,?,?)",
    [ST_GET_CHUNK] = "SELECT first_seq, last_seq, n, %s FROM chunks WHERE run = ? AND"
                     " stream = ? AND first_seq <= ? ORDER BY first_seq DESC LIMIT 1",
    [ST_GET_LINKS] = "SELECT data FROM links WHERE run = ? AND bucket = ?",
    [ST_RUN_ID] = "SELECT run_id FROM runs WHERE run_no = ?",
};

static int db_err(bt_store *s, bt_err *err, const char *what) {
  return bt_errf(err, BT_EIO, "store_error", "%s: %s: %s", s->path, what, sqlite3_errmsg(s->db));
}

static int exec(bt_store *s, const char *sql, bt_err *err) {
  char *msg = NULL;
  if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
    bt_errf(err, BT_EIO, "store_error", "%s: %s", s->path, msg ? msg : "sqlite error");
    sqlite3_free(msg);
    return BT_EIO;
  }
  return 0;
}

static int mkdirs_for(const char *path) {
  char dir[1024];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  if (!slash || slash == dir) return 0;
  *slash = '\0';
  for (char *p = dir + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(dir, 0755) && errno != EEXIST) return -1;
    *p = '/';
  }
  return mkdir(dir, 0755) && errno != EEXIST ? -1 : 0;
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
  if (!s) return bt_errf(err, BT_ENOMEM, "error", "out of memory");
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
  if (!readonly && mkdirs_for(path)) {
    free(s);
    return bt_errf(err, BT_EIO, "store_error", "%s: cannot create directory: %s", path,
                   strerror(errno));
  }
  /* Readers open read-write too (without creating): WAL readers need the -shm file. */
  int flags = SQLITE_OPEN_READWRITE | (readonly ? 0 : SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path, &s->db, flags, NULL) != SQLITE_OK) {
    int rc = bt_errf(err, BT_EIO, "store_error", "%s: cannot open: %s", path,
                     s->db ? sqlite3_errmsg(s->db) : "out of memory");
    sqlite3_close(s->db);
    free(s);
    return rc;
  }
  sqlite3_busy_timeout(s->db, 10000);
  int rc = exec(s,
                /* page size and auto_vacuum only take effect on a new file */
                "PRAGMA page_size=16384; PRAGMA auto_vacuum=INCREMENTAL;"
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
                "PRAGMA wal_autocheckpoint=4096;",
                err);
  /* Readers scan: a large cache and mmap pay off. The writer appends and only revisits
   * the right edge of each b-tree: a small cache suffices, and every page a connection
   * caches is first faulted in (costly under a hypervisor) on the traced run's cores. */
  if (!rc)
    rc = exec(s, readonly ? "PRAGMA cache_size=-32768; PRAGMA mmap_size=1073741824;"
                          : "PRAGMA cache_size=-2048;",
              err);
  if (!rc && !readonly) {
    rc = exec(s, "BEGIN IMMEDIATE", err);
    if (!rc) rc = exec(s, schema_sql, err);
    if (!rc) {
      char sql[128];
      snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO meta VALUES('schema_version', %d)",
               SCHEMA_VERSION);
      rc = exec(s, sql, err);
    }
    /* upgrade a version 2 store: its rows keep their blobs inline and are read as such */
    if (!rc && read_version(s) == 2)
      rc = exec(s,
                "ALTER TABLE chunks ADD COLUMN seg_off INTEGER;"
                "ALTER TABLE chunks ADD COLUMN seg_len INTEGER;"
                "UPDATE meta SET value = 3 WHERE key = 'schema_version';",
                err);
    rc = rc ? (exec(s, "ROLLBACK", NULL), rc) : exec(s, "COMMIT", err);
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
      rc = db_err(s, err, "prepare");
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

static void seg_close(seg *g) {
  if (g->fd >= 0) close(g->fd);
  g->fd = -1;
  g->run_no = 0;
}

void bt_store_close(bt_store *s) {
  if (!s) return;
  for (int i = 0; i < ST__N; i++) sqlite3_finalize(s->st[i]);
  sqlite3_close(s->db);
  seg_close(&s->wseg);
  seg_close(&s->rseg);
  free(s->buf);
  free(s->rb.p);
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

static void col_copy(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *t = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", t ? (const char *)t : "");
}

static int reserve(bt_store *s, size_t need) {
  if (need <= s->cap) return 0;
  size_t cap = s->cap ? s->cap : 4096;
  while (cap < need) cap *= 2;
  uint8_t *b = realloc(s->buf, cap);
  if (!b) return BT_ENOMEM;
  s->buf = b;
  s->cap = cap;
  return 0;
}

/* LEB128 varints; signed values zigzag-encoded. */
static size_t put_uv_long(uint8_t *p, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    p[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  p[n++] = (uint8_t)v;
  return n;
}
/* Encoding a chunk is mostly this, on the writer thread: values of up to 3 bytes (nearly
 * all of them) without a loop. */
static inline size_t put_uv(uint8_t *p, uint64_t v) {
  if (v < 0x80) {
    p[0] = (uint8_t)v;
    return 1;
  }
  if (v < 0x4000) {
    p[0] = (uint8_t)(v | 0x80);
    p[1] = (uint8_t)(v >> 7);
    return 2;
  }
  if (v < 0x200000) {
    p[0] = (uint8_t)(v | 0x80);
    p[1] = (uint8_t)((v >> 7) | 0x80);
    p[2] = (uint8_t)(v >> 14);
    return 3;
  }
  return put_uv_long(p, v);
}
static inline size_t put_sv(uint8_t *p, int64_t v) {
  return put_uv(p, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63));
}

typedef struct rd {
  const uint8_t *p, *end;
  bool bad;
} rd;
static uint64_t get_uv_slow(rd *r) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) break;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  r->bad = true;
  return 0;
}
/* Decoding a chunk is mostly this: one-byte values take the inline path. */
static inline uint64_t get_uv(rd *r) {
  if (r->p < r->end && *r->p < 0x80) return *r->p++;
  return get_uv_slow(r);
}
static inline int64_t get_sv(rd *r) {
  uint64_t u = get_uv(r);
  return (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
}

/* ---- segment files ------------------------------------------------------------- */

/* <store>.chunks/<run_id>.seg, or just the directory (run_id NULL). */
static void seg_path(const bt_store *s, const char *run_id, char *out, size_t n) {
  if (run_id) snprintf(out, n, "%s.chunks/%s.seg", s->path, run_id);
  else snprintf(out, n, "%s.chunks", s->path);
}

/* A run id is a file name here: btrun makes UUIDs; anything else is refused. */
static bool run_id_ok(const char *id) {
  if (!*id) return false;
  for (const char *p = id; *p; p++)
    if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          *p == '-' || *p == '_'))
      return false;
  return true;
}

/* Point g at run_no's segment (opening it unless it is already the open one). */
static int seg_open(bt_store *s, seg *g, int64_t run_no, bool write, bt_err *err) {
  if (g->run_no == run_no && g->fd >= 0) return 0;
  seg_close(g);
  sqlite3_stmt *st = s->st[ST_RUN_ID];
  sqlite3_bind_int64(st, 1, run_no);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) col_copy(st, 0, g->run_id, sizeof g->run_id);
  sqlite3_reset(st);
  if (step != SQLITE_ROW)
    return step == SQLITE_DONE
               ? bt_errf(err, BT_EINVAL, "store_error", "%s: no run number %lld", s->path,
                         (long long)run_no)
               : db_err(s, err, "run id");
  if (!run_id_ok(g->run_id))
    return bt_errf(err, BT_EINVAL, "store_error", "%s: run id '%s' cannot name a segment file",
                   s->path, g->run_id);
  if (write) {
    seg_path(s, NULL, g->path, sizeof g->path);
    if (mkdir(g->path, 0755) && errno != EEXIST)
      return bt_errf(err, BT_EIO, "store_error", "%s: cannot create directory: %s", g->path,
                     strerror(errno));
  }
  seg_path(s, g->run_id, g->path, sizeof g->path);
  g->fd = open(g->path, write ? O_WRONLY | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
  struct stat sb;
  if (g->fd < 0 || fstat(g->fd, &sb)) {
    int e = errno;
    seg_close(g);
    return write ? bt_errf(err, BT_EIO, "store_error", "%s: cannot open: %s", g->path, strerror(e))
                 : bt_errf(err, BT_EIO, "store_error",
                           "%s: the events of run %s are lost: cannot open its segment file: %s "
                           "(deleted?)",
                           g->path, g->run_id, strerror(e));
  }
  /* appending after what is there: another connection may have written this run before */
  g->end = (uint64_t)sb.st_size;
  g->run_no = run_no;
  return 0;
}

/* Append one blob to run_no's segment; *off = where it starts. */
static int seg_append(bt_store *s, int64_t run_no, const uint8_t *p, size_t len, uint64_t *off,
                      bt_err *err) {
  seg *g = &s->wseg;
  int rc = seg_open(s, g, run_no, true, err);
  if (rc) return rc;
  *off = g->end;
  for (size_t done = 0; done < len;) {
    ssize_t w = pwrite(g->fd, p + done, len - done, (off_t)(g->end + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0)
      return bt_errf(err, BT_EIO, "store_error", "%s: cannot write: %s", g->path,
                     w < 0 ? strerror(errno) : "no space");
    done += (size_t)w;
  }
  g->end += len;
  return 0;
}

/* The blob of a chunks row whose columns col.. are data, seg_off, seg_len: inline (rows
 * of version 2 stores), else read from the run's segment into b. pread, not mmap: a
 * full scan was no faster mapped (page faults cost more than the copy), and a segment
 * cut short under a reader must be an error, not a SIGBUS. */
static int chunk_blob(bt_store *s, sqlite3_stmt *st, int col, int64_t run_no, rbuf *b,
                      const uint8_t **blob, int *len, bt_err *err) {
  if (sqlite3_column_type(st, col + 2) == SQLITE_NULL) {
    *blob = sqlite3_column_blob(st, col);
    *len = sqlite3_column_bytes(st, col);
    return 0;
  }
  uint64_t off = (uint64_t)sqlite3_column_int64(st, col + 1);
  size_t n = (size_t)sqlite3_column_int64(st, col + 2);
  seg *g = &s->rseg;
  int rc = seg_open(s, g, run_no, false, err);
  if (rc) return rc;
  if (n > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < n) cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p) return bt_errf(err, BT_ENOMEM, "error", "out of memory");
    b->p = p;
    b->cap = cap;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(g->fd, b->p + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return bt_errf(err, BT_EIO, "store_error", "%s: cannot read: %s", g->path, strerror(errno));
    struct stat sb;
    if (r == 0)
      return bt_errf(err, BT_EIO, "store_error",
                     "%s: the segment file of run %s is truncated: it has %llu bytes, a chunk "
                     "of events is at bytes %llu-%llu (cut short, or lost in a power failure)",
                     g->path, g->run_id,
                     (unsigned long long)(fstat(g->fd, &sb) ? off + got : (uint64_t)sb.st_size),
                     (unsigned long long)off, (unsigned long long)(off + n));
    got += (size_t)r;
  }
  *blob = b->p;
  *len = (int)n;
  return 0;
}

/* ---- runs ---------------------------------------------------------------------- */

int bt_store_run_begin(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                       uint64_t clock_origin, int64_t *run_no, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO runs(run_id, correlation_id, created_at, strategy,"
                         " strategy_path, origin, user_id, params, data, config, trace_config,"
                         " out_dir, status, pid, host, clock_origin, bars, event_count,"
                         " events_stored, events_sampled_out, events_dropped, lineage_gaps)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,'running',?,?,?,0,0,0,0,0,0)",
                         -1, &st, NULL))
    return db_err(s, err, "insert run");
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
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "insert run");
  sqlite3_finalize(st);
  if (!rc) *run_no = sqlite3_last_insert_rowid(s->db);
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
    return db_err(s, err, "update run");
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
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "update run");
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
  col_copy(st, 1, r->run_id, sizeof r->run_id);
  col_copy(st, 2, r->correlation_id, sizeof r->correlation_id);
  col_copy(st, 3, r->strategy, sizeof r->strategy);
  col_copy(st, 4, r->status, sizeof r->status);
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
  size_t len = strlen(id);
  if (len < 4)
    return bt_errf(err, BT_EINVAL, "usage_error", "run id '%s': give at least 4 characters",
                   id);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " RUN_COLS " FROM runs WHERE run_id >= ?1 AND run_id < ?1 || "
                         "char(1114111) ORDER BY run_id LIMIT 2",
                         -1, &st, NULL))
    return db_err(s, err, "find run");
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

int bt_store_list_runs(bt_store *s, const char *correlation_id, int limit, bt_store_run_fn fn,
                       void *ud, bt_err *err) {
  sqlite3_stmt *st;
  const char *sql =
      correlation_id
          ? "SELECT " RUN_COLS " FROM runs WHERE correlation_id = ?1 ORDER BY run_no DESC LIMIT ?2"
          : "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC LIMIT ?2";
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) return db_err(s, err, "list runs");
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
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = db_err(s, err, "list runs");
  sqlite3_finalize(st);
  return rc;
}

/* ---- writing ------------------------------------------------------------------- */

int bt_store_begin(bt_store *s, bt_err *err) { return exec(s, "BEGIN IMMEDIATE", err); }
int bt_store_commit(bt_store *s, bt_err *err) { return exec(s, "COMMIT", err); }

void bt_store_no_autocheckpoint(bt_store *s) {
  sqlite3_wal_autocheckpoint(s->db, 0);
  /* Closing the last connection would copy the rest of the WAL and fsync the database
   * file (~0.2 s after a 10M-event run); the next connection's checkpointer does it. */
  sqlite3_db_config(s->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
}

int bt_store_checkpoint(bt_store *s, bt_err *err) {
  int rc = sqlite3_wal_checkpoint_v2(s->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  return rc == SQLITE_OK || rc == SQLITE_BUSY ? 0 : db_err(s, err, "checkpoint");
}

/* Chunk blob: version byte, the chunk's source names (varint count, then strings), (v4)
 * a price scale byte k: BAR prices are stored in units of 10^k raw units (prices quoted
 * to the cent have k = 6, so a bar's price deltas take a byte or two instead of four),
 * then per event, deltas against the previous event of the chunk as (zigzag) varints:
 *   seq, type (byte), ts, symbol, source index, seq - cause (0 = none),
 *   created, emitted - created, received, processed (v4: deltas against the previous
 *   event's; v2/v3: received - emitted, processed - received),
 *   payload: BAR open, high, low, close (deltas) and volume (varint(2v) when a whole
 *   number, else 0x01 + 8 bytes); ORDER order_id, side, order type, status (bytes), qty,
 *   limit, stop, reason; FILL order_id, side, qty, price, commission; other types the
 *   data JSON and the user type.
 * Strings are varint(len + 1) then the bytes; 0 is NULL. */
enum { CHUNK_VERSION = 4, EVENT_MAX_FIXED = 16 * 10 + 10 };
/* Version 3 stores the payload of the other types after a kind byte, and a flat payload
 * as is: its JSON is rendered when it is read, not on the writer's thread. Version 4
 * encodes received/processed against the previous event's (the writer stamps them per
 * batch: mostly one byte each). Versions 2 (the JSON string alone) and 3 still read. */
enum { DATA_NONE, DATA_JSON, DATA_FLAT };

static size_t text_len(const bt_trace_event *e) { return e->flat_len ? e->flat_len : strlen(e->text); }

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

static size_t put_str(uint8_t *p, const char *s, size_t len) {
  if (!s) return put_uv(p, 0);
  size_t n = put_uv(p, len + 1);
  memcpy(p + n, s, len);
  return n + len;
}

static const int64_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The largest k <= 8 such that every BAR price of the chunk is a multiple of 10^k: one
 * pass, each test a remainder by a constant (a multiply, not a division). A bar that
 * fails at k is tested again at k - 1; the bars before it pass any smaller k. */
static int price_scale(const bt_trace_event *evs, size_t n) {
  size_t i = 0;
  for (int k = 8; k > 0; k--) {
#define ALL_MULTIPLES_OF(P)                                                                \
  for (; i < n; i++) {                                                                     \
    const bt_trace_event *e = &evs[i];                                                     \
    if (e->type == BT_EV_BAR && (e->p.bar.open % (P) || e->p.bar.high % (P) ||             \
                                 e->p.bar.low % (P) || e->p.bar.close % (P)))              \
      break;                                                                               \
  }                                                                                        \
  break
    switch (k) {
    case 8: ALL_MULTIPLES_OF(100000000);
    case 7: ALL_MULTIPLES_OF(10000000);
    case 6: ALL_MULTIPLES_OF(1000000);
    case 5: ALL_MULTIPLES_OF(100000);
    case 4: ALL_MULTIPLES_OF(10000);
    case 3: ALL_MULTIPLES_OF(1000);
    case 2: ALL_MULTIPLES_OF(100);
    default: ALL_MULTIPLES_OF(10);
    }
#undef ALL_MULTIPLES_OF
    if (i == n) return k;
  }
  return 0;
}

/* Exact division by 10^k of multiples of it: 10^k = 2^k * 5^k, so a shift and a multiply
 * by the inverse of 5^k modulo 2^64 (exact for negative values too). */
static uint64_t inverse_mod_2_64(uint64_t a) { /* a odd: Newton's iteration */
  uint64_t x = a; /* correct to 3 bits */
  for (int i = 0; i < 5; i++) x *= 2 - a * x;
  return x;
}

int bt_store_put_chunk(bt_store *s, int64_t run_no, int stream, const bt_trace_event *evs,
                       size_t n, bt_err *err) {
  if (n == 0) return 0;
  if (n > BT_STORE_CHUNK)
    return bt_errf(err, BT_EINVAL, "error", "bt_store_put_chunk: %zu events (max %d)", n,
                   BT_STORE_CHUNK);
  /* the chunk's distinct sources (few: feed, strategy, broker, ...) */
  const char *srcs[64];
  size_t nsrc = 0, need = 16;
  uint8_t *src_of = s->src_of;
  for (size_t i = 0; i < n; i++) {
    const char *src = evs[i].source ? evs[i].source : "";
    size_t k = 0;
    while (k < nsrc && srcs[k] != src && strcmp(srcs[k], src) != 0) k++;
    if (k == nsrc) {
      if (nsrc == 64) k = 0; /* cannot happen: the tracer interns at most 64 */
      else srcs[nsrc++] = src, need += strlen(src) + 10;
    }
    src_of[i] = (uint8_t)k;
    need += EVENT_MAX_FIXED + (evs[i].text ? text_len(&evs[i]) + 10 : 0) +
            (evs[i].user_type ? strlen(evs[i].user_type) + 10 : 0);
  }
  if (reserve(s, need)) return bt_errf(err, BT_ENOMEM, "error", "out of memory");
  uint8_t *p = s->buf;
  size_t len = 0;
  p[len++] = CHUNK_VERSION;
  len += put_uv(p + len, nsrc);
  for (size_t k = 0; k < nsrc; k++) len += put_str(p + len, srcs[k], strlen(srcs[k]));
  int scale = price_scale(evs, n);
  const uint64_t inv5 = inverse_mod_2_64((uint64_t)P10[scale] >> scale); /* 5^scale */
  p[len++] = (uint8_t)scale;
  bt_trace_event prev = {.seq = evs[0].seq - 1};
  int64_t ts_min = INT64_MAX, ts_max = INT64_MIN;
  uint32_t types = 0;
  for (size_t i = 0; i < n; i++) {
    const bt_trace_event *e = &evs[i];
    types |= 1u << e->type;
    if (e->ts < ts_min) ts_min = e->ts;
    if (e->ts > ts_max) ts_max = e->ts;
    len += put_uv(p + len, e->seq - prev.seq);
    p[len++] = e->type;
    len += put_sv(p + len, e->ts - prev.ts);
    len += put_uv(p + len, e->symbol);
    len += put_uv(p + len, src_of[i]);
    len += put_uv(p + len, e->cause && e->cause < e->seq ? e->seq - e->cause : 0);
    len += put_sv(p + len, (int64_t)(e->created - prev.created));
    len += put_sv(p + len, (int64_t)(e->emitted - e->created));
    len += put_sv(p + len, (int64_t)(e->received - prev.received));
    len += put_sv(p + len, (int64_t)(e->processed - prev.processed));
    switch (e->type) {
    case BT_EV_BAR: {
      /* prev holds the scaled prices */
#define SCALED(v) (int64_t)((uint64_t)((v) >> scale) * inv5)
      int64_t o = SCALED(e->p.bar.open), h = SCALED(e->p.bar.high), l = SCALED(e->p.bar.low),
              c = SCALED(e->p.bar.close);
#undef SCALED
      len += put_sv(p + len, (int64_t)((uint64_t)o - (uint64_t)prev.p.bar.open));
      len += put_sv(p + len, (int64_t)((uint64_t)h - (uint64_t)prev.p.bar.high));
      len += put_sv(p + len, (int64_t)((uint64_t)l - (uint64_t)prev.p.bar.low));
      len += put_sv(p + len, (int64_t)((uint64_t)c - (uint64_t)prev.p.bar.close));
      prev.p.bar.open = o, prev.p.bar.high = h, prev.p.bar.low = l, prev.p.bar.close = c;
      double v = e->p.bar.volume;
      if (v >= 0 && v < 4611686018427387904.0 && (double)(int64_t)v == v) {
        len += put_uv(p + len, (uint64_t)v << 1);
      } else {
        p[len++] = 1;
        memcpy(p + len, &v, 8);
        len += 8;
      }
      break;
    }
    case BT_EV_ORDER:
      len += put_uv(p + len, e->p.order.order_id);
      p[len++] = e->side;
      p[len++] = e->otype;
      p[len++] = e->ostatus;
      len += put_sv(p + len, e->p.order.qty);
      len += put_sv(p + len, e->p.order.limit);
      len += put_sv(p + len, e->p.order.stop);
      len += put_str(p + len, e->text, e->text ? strlen(e->text) : 0);
      break;
    case BT_EV_FILL:
      len += put_uv(p + len, e->p.fill.order_id);
      p[len++] = e->side;
      len += put_sv(p + len, e->p.fill.qty);
      len += put_sv(p + len, e->p.fill.price);
      len += put_sv(p + len, e->p.fill.commission);
      break;
    default:
      p[len++] = !e->text ? DATA_NONE : e->flat_len ? DATA_FLAT : DATA_JSON;
      if (e->text) len += put_str(p + len, e->text, text_len(e));
      len += put_str(p + len, e->user_type, e->user_type ? strlen(e->user_type) : 0);
      break;
    }
    prev.seq = e->seq;
    prev.ts = e->ts;
    prev.created = e->created;
    prev.received = e->received;
    prev.processed = e->processed;
  }
  /* the blob first: a committed row always points at bytes that exist */
  uint64_t off;
  int rc = seg_append(s, run_no, p, len, &off, err);
  if (rc) return rc;
  sqlite3_stmt *st = s->st[ST_INS_CHUNK];
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int(st, 2, stream);
  sqlite3_bind_int64(st, 3, (int64_t)evs[0].seq);
  sqlite3_bind_int64(st, 4, (int64_t)evs[n - 1].seq);
  sqlite3_bind_int64(st, 5, ts_min);
  sqlite3_bind_int64(st, 6, ts_max);
  sqlite3_bind_int64(st, 7, (int64_t)n);
  sqlite3_bind_int64(st, 8, types);
  sqlite3_bind_int64(st, 9, (int64_t)off);
  sqlite3_bind_int64(st, 10, (int64_t)len);
  rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "insert events");
  sqlite3_reset(st);
  if (rc) return rc;

  /* links for forward lineage: (cause, seq) pairs, one row per bucket of 1024 causes */
  uint64_t *buckets = s->buckets;
  size_t nb = 0;
  for (size_t i = 0; i < n; i++)
    if (evs[i].cause && evs[i].cause < evs[i].seq) buckets[nb++] = evs[i].cause >> 10;
  bool sorted = true; /* causes mostly come in order: no sort needed then */
  for (size_t i = 1; i < nb && sorted; i++) sorted = buckets[i - 1] <= buckets[i];
  if (!sorted) qsort(buckets, nb, sizeof *buckets, cmp_u64);
  for (size_t bi = 0; bi < nb && !rc; bi++) {
    if (bi && buckets[bi] == buckets[bi - 1]) continue;
    uint64_t bucket = buckets[bi], prev_cause = bucket << 10, first = 0;
    size_t l = 0;
    for (size_t j = 0; j < n; j++) {
      const bt_trace_event *e = &evs[j];
      if (!e->cause || e->cause >= e->seq || (e->cause >> 10) != bucket) continue;
      if (!first) first = e->seq;
      /* causes within a bucket are not sorted: signed deltas */
      l += put_sv(p + l, (int64_t)(e->cause - prev_cause));
      l += put_uv(p + l, e->seq - e->cause);
      prev_cause = e->cause;
    }
    st = s->st[ST_INS_LINKS];
    sqlite3_bind_int64(st, 1, run_no);
    sqlite3_bind_int64(st, 2, (int64_t)bucket);
    sqlite3_bind_int64(st, 3, (int64_t)first);
    sqlite3_bind_blob(st, 4, p, (int)l, SQLITE_STATIC);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "insert links");
    sqlite3_reset(st);
  }
  return rc;
}

/* ---- reading chunks ------------------------------------------------------------ */

/* Decoder of one chunk; yields its events one by one. Source names live as long as the
 * decoder (until the next chunk_start or chunk_end). */
typedef struct chunk_rd {
  rd r;
  int version;
  int64_t unit;                 /* BAR prices are stored in units of this many raw units */
  uint64_t left;
  bt_trace_event prev;
  char *srcs[64];
  size_t nsrc;
} chunk_rd;

static void chunk_end(chunk_rd *c) {
  for (size_t k = 0; k < c->nsrc; k++) free(c->srcs[k]);
  c->nsrc = 0;
  c->left = 0;
}

/* A string: *out = heap copy or NULL (wanted) or just skipped. */
static void get_str(rd *r, char **out) {
  uint64_t l = get_uv(r);
  if (out) *out = NULL;
  if (l == 0) return;
  if ((uint64_t)(r->end - r->p) < l - 1) {
    r->bad = true;
    return;
  }
  if (out) *out = strndup((const char *)r->p, l - 1);
  r->p += l - 1;
}

/* A flat payload: *out = a heap copy of its bytes (*len of them), or just skipped. Its
 * JSON is rendered only when asked for (bt_trace_event_data_json): fetching events
 * does not pay for formatting doubles. */
static void get_flat(rd *r, char **out, uint32_t *len) {
  uint64_t l = get_uv(r);
  if (out) *out = NULL;
  if (l == 0) return;
  if ((uint64_t)(r->end - r->p) < l - 1 || l - 1 > BT_FLAT_MAX) {
    r->bad = true;
    return;
  }
  if (out && l > 1 && (*out = malloc(l - 1))) {
    memcpy(*out, r->p, l - 1);
    *len = (uint32_t)(l - 1);
  }
  r->p += l - 1;
}

static void chunk_start(chunk_rd *c, const void *blob, int len, uint64_t first_seq,
                        uint64_t n) {
  chunk_end(c);
  c->r = (rd){blob, (const uint8_t *)blob + len, false};
  if (len < 1 || *c->r.p < 2 || *c->r.p > CHUNK_VERSION) {
    c->r.bad = true;
  } else {
    c->version = *c->r.p++;
    uint64_t nsrc = get_uv(&c->r);
    for (uint64_t k = 0; k < nsrc && k < 64 && !c->r.bad; k++) get_str(&c->r, &c->srcs[c->nsrc++]);
    if (nsrc > 64) c->r.bad = true;
    int scale = 0;
    if (c->version >= 4) {
      if (c->r.p < c->r.end && *c->r.p <= 8) scale = *c->r.p++;
      else c->r.bad = true;
    }
    c->unit = P10[scale];
  }
  c->left = n;
  memset(&c->prev, 0, sizeof c->prev);
  c->prev.seq = first_seq - 1;
}

/* 1 = *ev filled (strings heap when want_strings, else NULL), 0 = done, -1 = corrupt.
 * ev->source points into the decoder. */
static int chunk_next(chunk_rd *c, bt_trace_event *ev, bool want_strings) {
  if (c->left == 0) return 0;
  rd *r = &c->r;
  if (r->bad) return -1;
  bt_trace_event e;
  e.text = e.user_type = NULL;
  e.flat_len = 0;
  e.seq = c->prev.seq + get_uv(r);
  e.type = r->p < r->end ? *r->p++ : (r->bad = true, 0);
  e.ts = c->prev.ts + get_sv(r);
  e.symbol = (uint32_t)get_uv(r);
  uint64_t si = get_uv(r);
  e.source = si < c->nsrc ? c->srcs[si] : "";
  uint64_t back = get_uv(r);
  e.cause = back ? e.seq - back : 0;
  e.created = c->prev.created + (uint64_t)get_sv(r);
  e.emitted = e.created + (uint64_t)get_sv(r);
  if (c->version >= 4) {
    e.received = c->prev.received + (uint64_t)get_sv(r);
    e.processed = c->prev.processed + (uint64_t)get_sv(r);
  } else {
    e.received = e.emitted + (uint64_t)get_sv(r);
    e.processed = e.received + (uint64_t)get_sv(r);
  }
  switch (e.type) {
  case BT_EV_BAR: {
    e.side = e.otype = e.ostatus = 0;
    /* prev holds the scaled prices */
    e.p.bar.open = (int64_t)((uint64_t)c->prev.p.bar.open + (uint64_t)get_sv(r));
    e.p.bar.high = (int64_t)((uint64_t)c->prev.p.bar.high + (uint64_t)get_sv(r));
    e.p.bar.low = (int64_t)((uint64_t)c->prev.p.bar.low + (uint64_t)get_sv(r));
    e.p.bar.close = (int64_t)((uint64_t)c->prev.p.bar.close + (uint64_t)get_sv(r));
    uint64_t vtag = get_uv(r);
    if (vtag == 1) {
      if (r->end - r->p < 8) r->bad = true;
      else {
        memcpy(&e.p.bar.volume, r->p, 8);
        r->p += 8;
      }
    } else {
      e.p.bar.volume = (double)(vtag >> 1);
    }
    c->prev.p.bar = e.p.bar;
    e.p.bar.open = (int64_t)((uint64_t)e.p.bar.open * (uint64_t)c->unit);
    e.p.bar.high = (int64_t)((uint64_t)e.p.bar.high * (uint64_t)c->unit);
    e.p.bar.low = (int64_t)((uint64_t)e.p.bar.low * (uint64_t)c->unit);
    e.p.bar.close = (int64_t)((uint64_t)e.p.bar.close * (uint64_t)c->unit);
    break;
  }
  case BT_EV_ORDER:
    memset(&e.p, 0, sizeof e.p);
    e.p.order.order_id = get_uv(r);
    if (r->end - r->p < 3) {
      r->bad = true;
      break;
    }
    e.side = *r->p++;
    e.otype = *r->p++;
    e.ostatus = *r->p++;
    e.p.order.qty = get_sv(r);
    e.p.order.limit = get_sv(r);
    e.p.order.stop = get_sv(r);
    get_str(r, want_strings ? &e.text : NULL);
    break;
  case BT_EV_FILL:
    e.otype = e.ostatus = 0;
    memset(&e.p, 0, sizeof e.p);
    e.p.fill.order_id = get_uv(r);
    if (r->p >= r->end) {
      r->bad = true;
      break;
    }
    e.side = *r->p++;
    e.p.fill.qty = get_sv(r);
    e.p.fill.price = get_sv(r);
    e.p.fill.commission = get_sv(r);
    break;
  default: {
    e.side = e.otype = e.ostatus = 0;
    memset(&e.p, 0, sizeof e.p);
    int kind = c->version == 2 ? DATA_JSON : r->p < r->end ? *r->p++ : (r->bad = true, 0);
    if (kind == DATA_JSON) get_str(r, want_strings ? &e.text : NULL);
    else if (kind == DATA_FLAT) get_flat(r, want_strings ? &e.text : NULL, &e.flat_len);
    else if (kind != DATA_NONE) r->bad = true;
    get_str(r, want_strings ? &e.user_type : NULL);
    break;
  }
  }
  if (r->bad) {
    free(e.text);
    free(e.user_type);
    return -1;
  }
  c->prev.seq = e.seq;
  c->prev.ts = e.ts;
  c->prev.created = e.created;
  c->prev.received = e.received;
  c->prev.processed = e.processed;
  c->left--;
  *ev = e;
  return 1;
}

static int corrupt(bt_store *s, bt_err *err) {
  return bt_errf(err, BT_EIO, "store_error", "%s: corrupt event chunk", s->path);
}

void bt_trace_event_clear(bt_trace_event *ev) {
  free((char *)ev->source);
  free(ev->text);
  free(ev->user_type);
  memset(ev, 0, sizeof *ev);
}

int bt_store_get_event(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event *ev,
                       bool *found, bt_err *err) {
  *found = false;
  memset(ev, 0, sizeof *ev);
  sqlite3_stmt *st = s->st[ST_GET_CHUNK];
  int rc = 0;
  for (int stream = 0; stream < 2 && !*found && !rc; stream++) {
    sqlite3_bind_int64(st, 1, run_no);
    sqlite3_bind_int(st, 2, stream);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int step = sqlite3_step(st);
    const uint8_t *blob;
    int len;
    if (step == SQLITE_ROW && (uint64_t)sqlite3_column_int64(st, 1) >= seq &&
        !(rc = chunk_blob(s, st, 3, run_no, &s->rb, &blob, &len, err))) {
      chunk_rd c = {0};
      chunk_start(&c, blob, len, (uint64_t)sqlite3_column_int64(st, 0),
                  (uint64_t)sqlite3_column_int64(st, 2));
      bt_trace_event e;
      int r;
      while ((r = chunk_next(&c, &e, false)) == 1 && e.seq < seq) {
      }
      if (r < 0) {
        rc = corrupt(s, err);
      } else if (r == 1 && e.seq == seq) {
        /* decode that one event again with its strings */
        chunk_start(&c, blob, len, (uint64_t)sqlite3_column_int64(st, 0),
                    (uint64_t)sqlite3_column_int64(st, 2));
        while ((r = chunk_next(&c, &e, true)) == 1 && e.seq < seq) {
          free(e.text);
          free(e.user_type);
        }
        if (r == 1) {
          *ev = e;
          ev->source = strdup(e.source);
          *found = true;
        } else {
          rc = corrupt(s, err);
        }
      }
      chunk_end(&c);
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
      rc = db_err(s, err, "get event");
    }
    sqlite3_reset(st);
  }
  return rc;
}

int bt_store_children(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event **out,
                      size_t *n, bt_err *err) {
  *out = NULL;
  *n = 0;
  uint64_t *kids = NULL;
  size_t nk = 0, cap = 0;
  int rc = 0, step;
  sqlite3_stmt *st = s->st[ST_GET_LINKS];
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int64(st, 2, (int64_t)(seq >> 10));
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const uint8_t *b = sqlite3_column_blob(st, 0);
    rd r = {b, b + sqlite3_column_bytes(st, 0), false};
    uint64_t cause = (seq >> 10) << 10;
    while (r.p < r.end && !r.bad) {
      cause += (uint64_t)get_sv(&r);
      uint64_t child = cause + get_uv(&r);
      if (cause != seq || r.bad) continue;
      if (nk == cap) {
        cap = cap ? cap * 2 : 8;
        uint64_t *a = realloc(kids, cap * sizeof *a);
        if (!a) {
          rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
          break;
        }
        kids = a;
      }
      kids[nk++] = child;
    }
    if (r.bad) rc = corrupt(s, err);
  }
  if (!rc && step != SQLITE_DONE) rc = db_err(s, err, "children");
  sqlite3_reset(st);
  if (!rc && nk) {
    qsort(kids, nk, sizeof *kids, cmp_u64);
    *out = calloc(nk, sizeof **out);
    if (!*out) rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
    for (size_t i = 0; !rc && i < nk; i++) {
      bool found;
      rc = bt_store_get_event(s, run_no, kids[i], &(*out)[*n], &found, err);
      if (!rc && found) (*n)++;
    }
  }
  free(kids);
  return rc;
}

/* ---- query iterator ------------------------------------------------------------ */

/* One chunk stream of the run (0: BARs, 1: the other events) with a one-event lookahead. */
typedef struct stream_cur {
  sqlite3_stmt *st;
  rbuf b; /* the chunk being decoded, read from the segment */
  chunk_rd c;
  bool done, have;
  bt_trace_event ev;
} stream_cur;

struct bt_store_iter {
  bt_store *s;
  int64_t run_no;
  stream_cur cur[2];
  uint32_t mask;
  char *user_type;
  int64_t from, to;
  char *out_text, *out_user_type; /* strings of the last returned event */
};

int bt_store_query(bt_store *s, const bt_store_filter *q, bt_store_iter **out, bt_err *err) {
  *out = NULL;
  bt_store_iter *it = calloc(1, sizeof *it);
  if (!it) return bt_errf(err, BT_ENOMEM, "error", "out of memory");
  it->s = s;
  it->run_no = q->run_no;
  it->from = q->has_from ? q->from : INT64_MIN;
  it->to = q->has_to ? q->to : INT64_MAX;
  it->mask = q->type_mask ? q->type_mask : BT_EV_MASK_ALL;
  if (q->user_type && !(it->user_type = strdup(q->user_type))) {
    free(it);
    return bt_errf(err, BT_ENOMEM, "error", "out of memory");
  }
  int rc = 0;
  for (int stream = 0; stream < 2 && !rc; stream++) {
    uint32_t m = it->mask & (stream ? ~BT_EV_MASK(BT_EV_BAR) : BT_EV_MASK(BT_EV_BAR));
    stream_cur *c = &it->cur[stream];
    c->done = m == 0;
    if (c->done) continue;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT first_seq, n, %s FROM chunks WHERE run = ?1 AND stream = ?2"
             " AND (types & ?3) <> 0 AND ts_max >= ?4 AND ts_min <= ?5 ORDER BY first_seq",
             BLOB_COLS(s));
    if (sqlite3_prepare_v2(s->db, sql, -1, &c->st, NULL)) {
      rc = db_err(s, err, "query");
      break;
    }
    sqlite3_bind_int64(c->st, 1, q->run_no);
    sqlite3_bind_int(c->st, 2, stream);
    sqlite3_bind_int64(c->st, 3, m);
    sqlite3_bind_int64(c->st, 4, it->from);
    sqlite3_bind_int64(c->st, 5, it->to);
  }
  if (rc) {
    bt_store_iter_free(it);
    return rc;
  }
  *out = it;
  return 0;
}

static bool wanted(const bt_store_iter *it, const bt_trace_event *e) {
  return (it->mask & BT_EV_MASK(e->type)) && e->ts >= it->from && e->ts <= it->to;
}

/* Fill c->ev with the stream's next wanted event (or mark it done). */
static int advance(bt_store_iter *it, stream_cur *c, bt_err *err) {
  for (;;) {
    /* BAR chunks have no strings; the other stream's are few and decoded eagerly */
    int r = c->c.left ? chunk_next(&c->c, &c->ev, c == &it->cur[1]) : 0;
    if (r < 0) return corrupt(it->s, err);
    if (r == 1) {
      if (!wanted(it, &c->ev)) {
        free(c->ev.text);
        free(c->ev.user_type);
        continue;
      }
      c->have = true;
      return 0;
    }
    int step = sqlite3_step(c->st);
    if (step == SQLITE_DONE) {
      c->done = true;
      return 0;
    }
    if (step != SQLITE_ROW) return db_err(it->s, err, "query");
    /* the decoder reads the blob in place: valid until this stream's next chunk */
    const uint8_t *blob;
    int len;
    int rc = chunk_blob(it->s, c->st, 2, it->run_no, &c->b, &blob, &len, err);
    if (rc) return rc;
    chunk_start(&c->c, blob, len, (uint64_t)sqlite3_column_int64(c->st, 0),
                (uint64_t)sqlite3_column_int64(c->st, 1));
  }
}

int bt_store_iter_next(bt_store_iter *it, bt_trace_event *ev, bt_err *err) {
  free(it->out_text);
  free(it->out_user_type);
  it->out_text = it->out_user_type = NULL;
  for (;;) {
    for (int k = 0; k < 2; k++) {
      stream_cur *c = &it->cur[k];
      if (!c->have && !c->done && advance(it, c, err)) return err->code;
    }
    stream_cur *a = &it->cur[0], *b = &it->cur[1];
    stream_cur *c = a->have && (!b->have || a->ev.seq < b->ev.seq) ? a : b->have ? b : NULL;
    if (!c) return 0;
    c->have = false;
    /* the iterator owns the strings of the event it returns until the next call */
    it->out_text = c->ev.text;
    it->out_user_type = c->ev.user_type;
    if (it->user_type && c->ev.type == BT_EV_USER &&
        (!c->ev.user_type || strcmp(c->ev.user_type, it->user_type) != 0))
      continue;
    *ev = c->ev;
    return 1;
  }
}

void bt_store_iter_free(bt_store_iter *it) {
  if (!it) return;
  for (int k = 0; k < 2; k++) {
    sqlite3_finalize(it->cur[k].st);
    if (it->cur[k].have) {
      free(it->cur[k].ev.text);
      free(it->cur[k].ev.user_type);
    }
    chunk_end(&it->cur[k].c);
    free(it->cur[k].b.p);
  }
  free(it->out_text);
  free(it->out_user_type);
  free(it->user_type);
  free(it);
}

/* ---- latency ------------------------------------------------------------------- */

int bt_store_put_latency(bt_store *s, int64_t run_no, const bt_store_latency *l, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO latency VALUES(?,?,?,?,?,?,?,?)", -1,
                         &st, NULL))
    return db_err(s, err, "insert latency");
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_text(st, 2, l->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, l->metric, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, (int64_t)l->count);
  sqlite3_bind_double(st, 5, l->mean_ns);
  sqlite3_bind_int64(st, 6, (int64_t)l->p50_ns);
  sqlite3_bind_int64(st, 7, (int64_t)l->p95_ns);
  sqlite3_bind_int64(st, 8, (int64_t)l->max_ns);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : db_err(s, err, "insert latency");
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
    return db_err(s, err, "latency");
  sqlite3_bind_int64(st, 1, run_no);
  size_t cap = 0;
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      bt_store_latency *a = realloc(*out, cap * sizeof *a);
      if (!a) {
        rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
        break;
      }
      *out = a;
    }
    bt_store_latency *l = &(*out)[(*n)++];
    col_copy(st, 0, l->type, sizeof l->type);
    col_copy(st, 1, l->metric, sizeof l->metric);
    l->count = (uint64_t)sqlite3_column_int64(st, 2);
    l->mean_ns = sqlite3_column_double(st, 3);
    l->p50_ns = (uint64_t)sqlite3_column_int64(st, 4);
    l->p95_ns = (uint64_t)sqlite3_column_int64(st, 5);
    l->max_ns = (uint64_t)sqlite3_column_int64(st, 6);
  }
  if (!rc && step != SQLITE_DONE) rc = db_err(s, err, "latency");
  sqlite3_finalize(st);
  return rc;
}

/* ---- payload as JSON ----------------------------------------------------------- */

static void add_dec(cJSON *o, const char *k, int64_t raw) {
  char b[BT_DEC_STRLEN];
  bt_dec_format(bt_dec_raw(raw), b);
  cJSON_AddStringToObject(o, k, b);
}

char *bt_trace_event_data_json(const bt_trace_event *ev) {
  static const char *const otypes[] = {"market", "limit", "stop", "stop_limit"};
  static const char *const ostatus[] = {"pending", "filled", "cancelled", "rejected"};
  cJSON *o = NULL;
  switch (ev->type) {
  case BT_EV_BAR:
    o = cJSON_CreateObject();
    add_dec(o, "open", ev->p.bar.open);
    add_dec(o, "high", ev->p.bar.high);
    add_dec(o, "low", ev->p.bar.low);
    add_dec(o, "close", ev->p.bar.close);
    cJSON_AddNumberToObject(o, "volume", ev->p.bar.volume);
    break;
  case BT_EV_ORDER:
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "order_id", (double)ev->p.order.order_id);
    cJSON_AddStringToObject(o, "side", ev->side ? "sell" : "buy");
    cJSON_AddStringToObject(o, "order_type", ev->otype < 4 ? otypes[ev->otype] : "unknown");
    add_dec(o, "qty", ev->p.order.qty);
    if (ev->otype == BT_LIMIT || ev->otype == BT_STOP_LIMIT) add_dec(o, "limit", ev->p.order.limit);
    if (ev->otype == BT_STOP || ev->otype == BT_STOP_LIMIT) add_dec(o, "stop", ev->p.order.stop);
    cJSON_AddStringToObject(o, "status", ev->ostatus < 4 ? ostatus[ev->ostatus] : "unknown");
    if (ev->text) cJSON_AddStringToObject(o, "reason", ev->text);
    break;
  case BT_EV_FILL:
    o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "order_id", (double)ev->p.fill.order_id);
    cJSON_AddStringToObject(o, "side", ev->side ? "sell" : "buy");
    add_dec(o, "qty", ev->p.fill.qty);
    add_dec(o, "price", ev->p.fill.price);
    add_dec(o, "commission", ev->p.fill.commission);
    break;
  default:
    if (ev->text && ev->flat_len) {
      bt_log_buf b = {0};
      size_t off = bt_flat_render_json(ev->text, ev->flat_len, &b);
      char *json = off == (size_t)-1 || b.failed ? NULL : strdup(b.data + off);
      bt_log_buf_free(&b);
      return json;
    }
    return strdup(ev->text && *ev->text ? ev->text : "{}");
  }
  char *s = o ? cJSON_PrintUnformatted(o) : NULL;
  cJSON_Delete(o);
  return s;
}

/* ---- retention ----------------------------------------------------------------- */

/* Segment files whose run has no row (in the write transaction that deleted runs, so
 * that no run can be added meanwhile; a run's row is committed before its segment is
 * created): the deleted runs' and any that a crash between commit and unlink left. */
static int orphan_segments(bt_store *s, char ***out, size_t *n, bt_err *err) {
  char dir[1100];
  seg_path(s, NULL, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return 0; /* no segment yet (or a version 2 store) */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM runs WHERE run_id = ?", -1, &st, NULL)) {
    closedir(d);
    return db_err(s, err, "prune");
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
    if (!run_id_ok(id)) continue;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_ROW) continue;
    if (step != SQLITE_DONE) {
      rc = db_err(s, err, "prune");
      break;
    }
    /* this connection may hold it open */
    if (strcmp(s->wseg.run_id, id) == 0) seg_close(&s->wseg);
    if (strcmp(s->rseg.run_id, id) == 0) seg_close(&s->rseg);
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      char **a = realloc(*out, cap * sizeof *a);
      if (!a) {
        rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
        break;
      }
      *out = a;
    }
    size_t plen = strlen(dir) + len + 2;
    if (!((*out)[*n] = malloc(plen))) {
      rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
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
    return db_err(s, err, "prune");
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
          rc = bt_errf(err, BT_ENOMEM, "error", "out of memory");
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
  if (!rc) rc = exec(s, "BEGIN IMMEDIATE", err);
  if (!rc) {
    static const char *const del[] = {
        "DELETE FROM chunks WHERE run = ?", "DELETE FROM links WHERE run = ?",
        "DELETE FROM latency WHERE run = ?", "DELETE FROM runs WHERE run_no = ?"};
    for (size_t d = 0; !rc && d < 4; d++) {
      if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) {
        rc = db_err(s, err, "prune");
        break;
      }
      for (size_t i = 0; !rc && i < nv; i++) {
        sqlite3_bind_int64(st, 1, victims[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(s, err, "prune");
        sqlite3_reset(st);
      }
      sqlite3_finalize(st);
    }
    if (!rc) rc = orphan_segments(s, &gone, &ngone, err);
    rc = rc ? (exec(s, "ROLLBACK", NULL), rc) : exec(s, "COMMIT", err);
    if (!rc) *deleted = (int)nv;
    /* files go once their rows are gone for good */
    for (size_t i = 0; !rc && i < ngone; i++)
      if (unlink(gone[i]) && errno != ENOENT)
        rc = bt_errf(err, BT_EIO, "store_error", "%s: cannot delete: %s", gone[i],
                     strerror(errno));
    if (!rc && nv) rc = exec(s, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);", err);
  }
  for (size_t i = 0; i < ngone; i++) free(gone[i]);
  free(gone);
  free(victims);
  return rc;
}
