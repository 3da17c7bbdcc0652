/* store_segment.c - per-run segment files holding the chunk blobs (docs/events.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "store_internal.h"

void store_seg_close(seg *g) {
  if (g->fd >= 0) close(g->fd);
  g->fd = -1;
  g->run_no = 0;
}

/* <store>.chunks/<run_id>.seg, or just the directory (run_id NULL). */
void store_seg_path(const bt_store *s, const char *run_id, char *out, size_t n) {
  if (run_id) snprintf(out, n, "%s.chunks/%s.seg", s->path, run_id);
  else snprintf(out, n, "%s.chunks", s->path);
}

/* A run id is a file name here: btrun makes UUIDs; anything else is refused. */
bool store_run_id_ok(const char *id) {
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
  store_seg_close(g);
  sqlite3_stmt *st = s->st[ST_RUN_ID];
  sqlite3_bind_int64(st, 1, run_no);
  int step = sqlite3_step(st);
  if (step == SQLITE_ROW) store_col_copy(st, 0, g->run_id, sizeof g->run_id);
  sqlite3_reset(st);
  if (step != SQLITE_ROW)
    return step == SQLITE_DONE
               ? bt_errf(err, BT_EINVAL, "store_error", "%s: no run number %lld", s->path,
                         (long long)run_no)
               : store_db_err(s, err, "run id");
  if (!store_run_id_ok(g->run_id))
    return bt_errf(err, BT_EINVAL, "store_error", "%s: run id '%s' cannot name a segment file",
                   s->path, g->run_id);
  if (write) {
    store_seg_path(s, NULL, g->path, sizeof g->path);
    if (mkdir(g->path, 0755) && errno != EEXIST)
      return bt_errf(err, BT_EIO, "store_error", "%s: cannot create directory: %s", g->path,
                     strerror(errno));
  }
  store_seg_path(s, g->run_id, g->path, sizeof g->path);
  g->fd = open(g->path, write ? O_WRONLY | O_CREAT | O_CLOEXEC : O_RDONLY | O_CLOEXEC, 0644);
  struct stat sb;
  if (g->fd < 0 || fstat(g->fd, &sb)) {
    int e = errno;
    store_seg_close(g);
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
int store_seg_append(bt_store *s, int64_t run_no, const uint8_t *p, size_t len, uint64_t *off,
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
int store_chunk_blob(bt_store *s, sqlite3_stmt *st, int col, int64_t run_no, rbuf *b,
                     const uint8_t **blob, int *len, bt_err *err) {
  if (sqlite3_column_type(st, col + 2) == SQLITE_NULL) {
    *blob = sqlite3_column_blob(st, col);
    *len = sqlite3_column_bytes(st, col);
    return 0;
  }
  int64_t soff = sqlite3_column_int64(st, col + 1), slen = sqlite3_column_int64(st, col + 2);
  seg *g = &s->rseg;
  int rc = seg_open(s, g, run_no, false, err);
  if (rc) return rc;
  /* A damaged or hostile store: a chunk is at most a few hundred KB (1024 events). */
  if (soff < 0 || slen < 0 || slen > BT_STORE_CHUNK_MAX_BYTES || soff > INT64_MAX - slen)
    return bt_errf(err, BT_EINVAL, "store_error",
                   "%s: corrupt event chunk of run %s: bytes %lld-%lld (offset or length out of "
                   "range)", g->path, g->run_id, (long long)soff,
                   (long long)((uint64_t)soff + (uint64_t)slen));
  uint64_t off = (uint64_t)soff;
  size_t n = (size_t)slen;
  struct stat sb;
  if (fstat(g->fd, &sb) == 0 && off + n > (uint64_t)sb.st_size) /* before allocating */
    return bt_errf(err, BT_EIO, "store_error",
                   "%s: the segment file of run %s is truncated: it has %llu bytes, a chunk "
                   "of events is at bytes %llu-%llu (cut short, or lost in a power failure)",
                   g->path, g->run_id, (unsigned long long)sb.st_size, (unsigned long long)off,
                   (unsigned long long)(off + n));
  if (BT_GROW(b->p, b->cap, n)) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
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

