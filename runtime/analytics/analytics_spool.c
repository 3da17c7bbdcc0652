#include "analytics_spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "analytics_util.h"
#include "fs.h"
#include "grow.h"
#include "log.h"

#define LOGGER "analytics"

struct bt_an_spool {
  pthread_mutex_t mu; /* appends come from capture threads (overflow) and the sender */
  int fd;
  char dir[2048];
  char path[2300];
  int64_t size;       /* bytes written */
  int64_t acked;      /* everything before this offset is done */
  int64_t last_e_end; /* end of the last E record */
  int64_t max_bytes;
  uint64_t dropped;
  bool warned_cap;
};

/* ---- record format ---------------------------------------------------------------- */

enum { REC_OK = 1, REC_INCOMPLETE = 0, REC_CORRUPT = -1 };

typedef struct rec {
  char type;
  size_t hdr, len; /* header bytes, payload bytes; record = hdr + len + 1 */
  const char *payload;
} rec;

/* Parse a record header "T <len> <crc8> " from buf[0..avail). */
static int parse_hdr(const char *buf, size_t avail, rec *r, uint32_t *crc) {
  if (avail < 2) return REC_INCOMPLETE;
  if ((buf[0] != 'E' && buf[0] != 'A') || buf[1] != ' ') return REC_CORRUPT;
  size_t i = 2, len = 0;
  int digits = 0;
  while (i < avail && buf[i] >= '0' && buf[i] <= '9' && digits < 10) {
    len = len * 10 + (size_t)(buf[i] - '0');
    i++, digits++;
  }
  if (i >= avail) return avail < 24 ? REC_INCOMPLETE : REC_CORRUPT;
  if (!digits || buf[i] != ' ') return REC_CORRUPT;
  i++;
  if (avail < i + 9) return REC_INCOMPLETE;
  uint32_t c = 0;
  for (int k = 0; k < 8; k++) {
    char h = buf[i + k];
    int v = h >= '0' && h <= '9' ? h - '0' : h >= 'a' && h <= 'f' ? h - 'a' + 10 : -1;
    if (v < 0) return REC_CORRUPT;
    c = c << 4 | (uint32_t)v;
  }
  if (buf[i + 8] != ' ') return REC_CORRUPT;
  r->type = buf[0];
  r->hdr = i + 9;
  r->len = len;
  *crc = c;
  return REC_OK;
}

/* A whole record in memory. */
static int parse_rec(const char *buf, size_t avail, rec *r) {
  uint32_t crc;
  int h = parse_hdr(buf, avail, r, &crc);
  if (h != REC_OK) return h;
  if (avail < r->hdr + r->len + 1) return REC_INCOMPLETE;
  r->payload = buf + r->hdr;
  if (r->payload[r->len] != '\n' ||
      crc32(0L, (const Bytef *)r->payload, (uInt)r->len) != crc)
    return REC_CORRUPT;
  return REC_OK;
}

/* Offset of the byte after the next '\n' at or after off in buf, or avail. */
static size_t skip_line(const char *buf, size_t avail, size_t off) {
  const char *nl = memchr(buf + off, '\n', avail - off);
  return nl ? (size_t)(nl - buf) + 1 : avail;
}

static size_t fmt_hdr(char *out, char type, const char *payload, size_t len) {
  uint32_t crc = (uint32_t)crc32(0L, (const Bytef *)payload, (uInt)len);
  return (size_t)sprintf(out, "%c %zu %08" PRIx32 " ", type, len, crc);
}

static int write_all(int fd, const char *buf, size_t len) {
  while (len) {
    ssize_t w = write(fd, buf, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    buf += w;
    len -= (size_t)w;
  }
  return 0;
}

/* ---- open / append ---------------------------------------------------------------- */

bt_an_spool *bt_an_spool_open(const char *dir, int64_t max_bytes, bt_err *err) {
  if (bt_mkdirs(dir, 0700) != 0) {
    bt_errf(err, BT_EIO, "io_error", "%s: cannot create spool directory: %s", dir,
            strerror(errno));
    return NULL;
  }
  bt_an_spool *sp = calloc(1, sizeof *sp);
  if (!sp) {
    bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    return NULL;
  }
  uint32_t rnd = 0;
  if (getrandom(&rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) rnd = (uint32_t)getpid();
  snprintf(sp->dir, sizeof sp->dir, "%s", dir);
  snprintf(sp->path, sizeof sp->path, "%s/%013" PRId64 "-%ld-%08" PRIx32 ".spool", dir,
           bt_wall_ms(), (long)getpid(), rnd);
  /* Created and locked under a name adopters skip, then renamed: a process scanning for
   * orphans (whose lock it can take) must never find a new segment not yet locked, or it
   * would adopt and delete it under its owner (seen with job processes starting together
   * on one data dir). */
  char tmp[sizeof sp->path + 8];
  snprintf(tmp, sizeof tmp, "%s.new", sp->path);
  sp->fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (sp->fd < 0 || flock(sp->fd, LOCK_EX | LOCK_NB) != 0 || rename(tmp, sp->path) != 0) {
    bt_errf(err, BT_EIO, "io_error", "%s: cannot create spool segment: %s", sp->path,
            strerror(errno));
    if (sp->fd >= 0) {
      close(sp->fd);
      unlink(tmp);
    }
    free(sp);
    return NULL;
  }
  sp->max_bytes = max_bytes;
  pthread_mutex_init(&sp->mu, NULL);
  return sp;
}

int bt_an_spool_append(bt_an_spool *sp, const char *const *payloads, const size_t *lens,
                       size_t n, bool sync) {
  if (!n) return 0;
  size_t total = 0;
  for (size_t i = 0; i < n; i++) total += lens[i] + 24;
  char *buf = malloc(total);
  if (!buf) return -1;
  pthread_mutex_lock(&sp->mu);
  size_t off = 0;
  int dropped = 0;
  int64_t live = sp->size - sp->acked, end = sp->size, last_e = sp->last_e_end;
  for (size_t i = 0; i < n; i++) {
    size_t h = fmt_hdr(buf + off, 'E', payloads[i], lens[i]);
    if (live + (int64_t)(h + lens[i] + 1) > sp->max_bytes) {
      dropped++;
      continue;
    }
    memcpy(buf + off + h, payloads[i], lens[i]);
    buf[off + h + lens[i]] = '\n';
    off += h + lens[i] + 1;
    live += (int64_t)(h + lens[i] + 1);
    last_e = end + (int64_t)off;
  }
  int rc = off ? write_all(sp->fd, buf, off) : 0;
  if (rc == 0) {
    sp->size = end + (int64_t)off;
    sp->last_e_end = last_e;
  }
  bool warn = false;
  if (dropped) {
    sp->dropped += (uint64_t)dropped;
    warn = !sp->warned_cap;
    sp->warned_cap = true;
  }
  pthread_mutex_unlock(&sp->mu);
  free(buf);
  if (warn)
    bt_log(LOGGER, BT_LOG_WARNING, "analytics_spool_full", BT_F_STR("path", sp->path),
           BT_F_INT("spool_max_bytes", sp->max_bytes), BT_F_INT("dropped", dropped),
           BT_F_STR("detail", "spool size cap reached: new events are dropped until the "
                              "backlog is delivered (raise analytics.spool_max_bytes)"));
  if (rc) return -1;
  if (sync && off && fdatasync(sp->fd) != 0) return -1;
  return dropped;
}

int bt_an_spool_sync(bt_an_spool *sp) { return fdatasync(sp->fd); }

/* ---- reading (sender thread) ------------------------------------------------------ */

int bt_an_spool_read(bt_an_spool *sp, int64_t *off, char **payload, size_t *len,
                     int64_t *start) {
  for (;;) {
    pthread_mutex_lock(&sp->mu);
    int64_t size = sp->size;
    pthread_mutex_unlock(&sp->mu);
    if (*off >= size) return 0;
    char hdr[32];
    size_t want = (size_t)(size - *off) < sizeof hdr ? (size_t)(size - *off) : sizeof hdr;
    if (pread(sp->fd, hdr, want, *off) != (ssize_t)want) return 0;
    rec r;
    uint32_t crc;
    int h = parse_hdr(hdr, want, &r, &crc);
    if (h == REC_INCOMPLETE) return 0;
    if (h == REC_OK && *off + (int64_t)(r.hdr + r.len + 1) > size) return 0;
    char *p = NULL;
    if (h == REC_OK) {
      p = malloc(r.len + 1);
      if (!p) return 0;
      if (pread(sp->fd, p, r.len + 1, *off + (int64_t)r.hdr) != (ssize_t)(r.len + 1) ||
          p[r.len] != '\n' || crc32(0L, (const Bytef *)p, (uInt)r.len) != crc)
        h = REC_CORRUPT;
    }
    if (h == REC_CORRUPT) {
      free(p);
      /* Resynchronise at the next line; events are single-line JSON. */
      int64_t o = *off + 1;
      char c[256];
      bool found = false;
      while (o < size && !found) {
        ssize_t n = pread(sp->fd, c, sizeof c, o);
        if (n <= 0) break;
        char *nl = memchr(c, '\n', (size_t)n);
        if (nl) {
          o += (nl - c) + 1;
          found = true;
        } else {
          o += n;
        }
      }
      bt_log(LOGGER, BT_LOG_WARNING, "analytics_spool_corrupt", BT_F_STR("path", sp->path),
             BT_F_INT("offset", *off), BT_F_INT("skipped_bytes", o - *off));
      *off = o;
      continue;
    }
    int64_t s = *off;
    *off += (int64_t)(r.hdr + r.len + 1);
    if (r.type != 'E') {
      free(p);
      continue;
    }
    p[r.len] = '\0';
    *payload = p;
    *len = r.len;
    *start = s;
    return 1;
  }
}

int bt_an_spool_ack(bt_an_spool *sp, int64_t off) {
  pthread_mutex_lock(&sp->mu);
  int rc = 0;
  if (off > sp->acked) {
    sp->acked = off;
    if (sp->acked >= sp->last_e_end) {
      /* Nothing left to deliver: start the segment over so it never grows. */
      if (ftruncate(sp->fd, 0) == 0) {
        sp->size = sp->acked = sp->last_e_end = 0;
        sp->warned_cap = false;
        rc = 1;
      } else {
        rc = -1;
      }
    } else {
      char num[32], line[64];
      int nl = snprintf(num, sizeof num, "%" PRId64, off);
      size_t h = fmt_hdr(line, 'A', num, (size_t)nl);
      memcpy(line + h, num, (size_t)nl);
      line[h + (size_t)nl] = '\n';
      if (write_all(sp->fd, line, h + (size_t)nl + 1) == 0) sp->size += (int64_t)(h + (size_t)nl + 1);
      else rc = -1;
    }
  }
  pthread_mutex_unlock(&sp->mu);
  return rc;
}

int64_t bt_an_spool_unacked_bytes(bt_an_spool *sp) {
  pthread_mutex_lock(&sp->mu);
  int64_t v = sp->last_e_end > sp->acked ? sp->last_e_end - sp->acked : 0;
  pthread_mutex_unlock(&sp->mu);
  return v;
}

uint64_t bt_an_spool_dropped(bt_an_spool *sp) {
  pthread_mutex_lock(&sp->mu);
  uint64_t v = sp->dropped;
  pthread_mutex_unlock(&sp->mu);
  return v;
}

/* ---- other segments --------------------------------------------------------------- */

static char *read_fd_all(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return NULL;
  char *buf = malloc((size_t)st.st_size + 1);
  if (!buf) return NULL;
  size_t off = 0;
  while (off < (size_t)st.st_size) {
    ssize_t n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
    if (n <= 0) break;
    off += (size_t)n;
  }
  *len = off;
  return buf;
}

typedef struct scan {
  int64_t events, corrupt, ack, bytes;
} scan;

/* Walk the records of buf; call fn for each unacked E record (two passes: the ack
 * offset is only known at the end). */
static void scan_buf(const char *buf, size_t len, scan *s,
                     void (*fn)(void *ud, const char *p, size_t n), void *ud) {
  memset(s, 0, sizeof *s);
  for (int pass = 0; pass < 2; pass++) {
    size_t off = 0;
    while (off < len) {
      rec r;
      int st = parse_rec(buf + off, len - off, &r);
      if (st != REC_OK) {
        if (pass == 0) s->corrupt++;
        off = skip_line(buf, len, off + 1);
        continue;
      }
      if (pass == 0 && r.type == 'A') {
        char num[32];
        size_t n = r.len < sizeof num - 1 ? r.len : sizeof num - 1;
        memcpy(num, r.payload, n);
        num[n] = '\0';
        int64_t a = strtoll(num, NULL, 10);
        if (a > s->ack) s->ack = a;
      } else if (pass == 1 && r.type == 'E' && (int64_t)off >= s->ack) {
        s->events++;
        s->bytes += (int64_t)(r.hdr + r.len + 1);
        if (fn) fn(ud, r.payload, r.len);
      }
      off += r.hdr + r.len + 1;
    }
  }
}

typedef struct adopt_ctx {
  bt_an_spool *sp;
  int64_t n;
  bool failed;
} adopt_ctx;

static void adopt_one(void *ud, const char *p, size_t n) {
  adopt_ctx *a = ud;
  if (a->failed) return;
  if (bt_an_spool_append(a->sp, &p, &n, 1, false) < 0) a->failed = true;
  else a->n++;
}

static int is_segment(const char *name) {
  size_t n = strlen(name);
  return n > 6 && strcmp(name + n - 6, ".spool") == 0;
}

static int cmp_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Segment names sorted oldest first (the name starts with the creation time). */
static char **list_segments(const char *dir, size_t *n) {
  *n = 0;
  DIR *d = opendir(dir);
  if (!d) return NULL;
  char **v = NULL;
  size_t cap = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    if (!is_segment(de->d_name)) continue;
    if (BT_GROW(v, cap, *n + 1)) break;
    v[(*n)++] = strdup(de->d_name);
  }
  closedir(d);
  if (v) qsort(v, *n, sizeof *v, cmp_names);
  return v;
}

int64_t bt_an_spool_adopt(bt_an_spool *sp, int *nfiles, bt_err *err) {
  size_t n;
  char **names = list_segments(sp->dir, &n);
  int64_t total = 0;
  int files = 0;
  const char *own = strrchr(sp->path, '/') + 1;
  for (size_t i = 0; i < n; i++) {
    if (strcmp(names[i], own) == 0) continue;
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", sp->dir, names[i]);
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat st;
    /* Locked: its process is alive. nlink 0: another adopter already took it. */
    if (flock(fd, LOCK_EX | LOCK_NB) != 0 || fstat(fd, &st) != 0 || st.st_nlink == 0) {
      close(fd);
      continue;
    }
    size_t len = 0;
    char *buf = read_fd_all(fd, &len);
    if (buf) {
      adopt_ctx a = {sp, 0, false};
      scan s;
      scan_buf(buf, len, &s, adopt_one, &a);
      if (!a.failed && bt_an_spool_sync(sp) == 0) {
        unlink(path);
        total += a.n;
        files++;
        if (s.corrupt)
          bt_log(LOGGER, BT_LOG_WARNING, "analytics_spool_corrupt", BT_F_STR("path", path),
                 BT_F_INT("corrupt_records", s.corrupt),
                 BT_F_STR("detail", "torn or damaged records skipped (crash during a write)"));
      } else {
        bt_errf(err, BT_EIO, "io_error", "%s: adopting spool segment failed: %s", path,
                strerror(errno));
      }
      free(buf);
    }
    close(fd);
  }
  for (size_t i = 0; i < n; i++) free(names[i]);
  free(names);
  if (nfiles) *nfiles = files;
  return total;
}

int64_t bt_an_spool_close(bt_an_spool *sp) {
  if (!sp) return 0;
  int64_t left = bt_an_spool_unacked_bytes(sp);
  if (left == 0) unlink(sp->path);
  else fdatasync(sp->fd);
  close(sp->fd); /* releases the lock: the next process adopts what is left */
  pthread_mutex_destroy(&sp->mu);
  free(sp);
  return left;
}

int bt_an_spool_census_dir(const char *dir, bt_an_spool_census *out) {
  memset(out, 0, sizeof *out);
  size_t n;
  char **names = list_segments(dir, &n);
  for (size_t i = 0; i < n; i++) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      out->files++;
      if (flock(fd, LOCK_SH | LOCK_NB) != 0) out->files_in_use++;
      size_t len = 0;
      char *buf = read_fd_all(fd, &len);
      if (buf) {
        scan s;
        scan_buf(buf, len, &s, NULL, NULL);
        out->events += s.events;
        out->bytes += s.bytes;
        out->corrupt += s.corrupt;
        free(buf);
      }
      close(fd);
    }
    free(names[i]);
  }
  free(names);
  return 0;
}
