/* barcache.c - the binary bar cache (barcache.h).
 *
 * File layout (host byte order; the header records it):
 *   [0, 4096)             header: magic, version, what the file was built from (the CSV's
 *                         identity, the parse options), counts, crc32 of the header
 *   blocks                bars in blocks of BLOCK_BARS, each block columnar: times, then
 *                         opens, highs, lows, closes (bt_dec units), then volumes (double
 *                         bits); every block but the last is full
 *   block sums            one uint64 per block
 *
 * Reading is pread(2) of one block (192 KiB) into the reader's own buffer, not a
 * mapping: a file truncated under the run is a short read (a mapping would raise SIGBUS
 * and kill the process, issue 11), the bytes checked against the block's sum are the
 * bytes used (a shared mapping could change between check and use), and memory stays
 * flat however long the file is. From the page cache the copy costs a few ns per bar.
 *
 * The block sum is Fletcher-style over 64-bit words, not zlib's crc32: crc32 runs at
 * about 1 GB/s here, which at 48 bytes a bar would cap reading at ~20M bars/s; two adds a
 * word keep verification well under the cost of delivering the bar. */
#define _GNU_SOURCE
#include "barcache.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "fs.h"
#include "grow.h"
#include "log.h"

#define BLOCK_BARS 4096u
#define NCOLS 6
#define HEADER_SIZE 4096u
#define SAMPLE_BYTES 65536u
#define MAGIC "BTBARS\0\1" /* 8 bytes, the last one the format version */
#define ENDIAN_MARK 0x0102030405060708ull
#define SUFFIX ".bars"

/* What a cache file was built from. The CSV is unchanged while all of these are:
 * ctime moves on any write (and cannot be set back, unlike mtime), the sample catches a
 * rewrite within the file system's time granularity that kept the size. */
typedef struct src_id {
  uint64_t dev, ino, size;
  int64_t mtime_ns, ctime_ns;
  uint32_t sample_crc;
} src_id;

typedef struct cache_header {
  char magic[8];
  uint64_t endian;
  uint32_t header_size, block_bars;
  uint64_t nbars, skipped;
  int64_t first_skipped;
  src_id src;
  uint32_t key_len;
  char key[HEADER_SIZE - 160]; /* the CSV's real path and the parse options */
  uint32_t crc;                /* crc32 of the header up to here */
} cache_header;
_Static_assert(sizeof(cache_header) <= HEADER_SIZE, "header fits its page");

/* One validated cache file, shared by every reader of it in the process. */
typedef struct cache_file {
  struct cache_file *next;
  char *key, *path;
  src_id src;
  int fd;
  uint64_t nbars, nblocks, skipped;
  long first_skipped;
  uint64_t *sums;
  atomic_bool broken; /* a reader found a bad block: later opens rebuild */
} cache_file;

struct bt_barcache {
  char *dir;
  uint64_t min_bytes;
  pthread_mutex_t mu; /* the list and builds: a sweep's runs open feeds concurrently */
  cache_file *files;
};

/* ---- identity ---------------------------------------------------------------------- */

static uint64_t block_sum(const uint64_t *w, size_t n, uint64_t block) {
  uint64_t a = block + 1, b = 0;
  for (size_t i = 0; i < n; i++) a += w[i], b += a;
  return a ^ (b << 1 | b >> 63);
}

static int src_stat(const char *path, int fd, src_id *id) {
  struct stat st;
  if ((fd >= 0 ? fstat(fd, &st) : stat(path, &st)) != 0) return -1;
  memset(id, 0, sizeof *id);
  id->dev = (uint64_t)st.st_dev, id->ino = (uint64_t)st.st_ino, id->size = (uint64_t)st.st_size;
  id->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
  id->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
  return S_ISREG(st.st_mode) ? 0 : -1;
}

/* crc32 of the first and last SAMPLE_BYTES of the file. */
static int src_sample(const char *path, uint32_t *crc) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  unsigned char *buf = malloc(SAMPLE_BYTES);
  struct stat st;
  int rc = buf && fstat(fd, &st) == 0 ? 0 : -1;
  uLong c = crc32(0, NULL, 0);
  off_t offs[2] = {0, st.st_size > (off_t)SAMPLE_BYTES ? st.st_size - (off_t)SAMPLE_BYTES : 0};
  for (int k = 0; k < 2 && !rc; k++) {
    ssize_t n = pread(fd, buf, SAMPLE_BYTES, offs[k]);
    if (n < 0) rc = -1;
    else c = crc32(c, buf, (uInt)n);
  }
  free(buf);
  close(fd);
  *crc = (uint32_t)c;
  return rc;
}

static bool same_src(const src_id *a, const src_id *b) {
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
         a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns;
}

/* The key: what the bars depend on besides the file's bytes. */
static char *make_key(const char *real, const bt_feed_opts *o) {
  char *k = NULL;
  if (asprintf(&k, "%s\nskip_bad_rows=%d\ndate_format=%s\ncolumns=%s", real,
               o && o->skip_bad_rows, o && o->date_format ? o->date_format : "",
               o && o->columns ? o->columns : "") < 0)
    return NULL;
  return k;
}

/* <dir>/<file name>-<crc32 of the key, hex>.bars */
static char *cache_path(const bt_barcache *c, const char *real, const char *key) {
  const char *base = strrchr(real, '/');
  base = base ? base + 1 : real;
  char *p = NULL;
  if (asprintf(&p, "%s/%.64s-%08lx" SUFFIX, c->dir, base,
               crc32(0, (const Bytef *)key, (uInt)strlen(key))) < 0)
    return NULL;
  return p;
}

static uint64_t file_size(uint64_t nbars) {
  uint64_t nblocks = (nbars + BLOCK_BARS - 1) / BLOCK_BARS;
  return HEADER_SIZE + nbars * NCOLS * 8 + nblocks * 8;
}

static void cache_file_free(cache_file *cf) {
  if (!cf) return;
  if (cf->fd >= 0) close(cf->fd);
  free(cf->key);
  free(cf->path);
  free(cf->sums);
  free(cf);
}

/* Opens and checks the cache file at path against the CSV's identity; NULL (and why,
 * for the log) when it is missing or does not match. */
static cache_file *load(const char *path, const char *key, const src_id *src, const char **why) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    *why = "missing";
    return NULL;
  }
  cache_header *h = malloc(sizeof *h);
  cache_file *cf = calloc(1, sizeof *cf);
  if (cf) cf->fd = -1;
  struct stat st;
  *why = "unreadable";
  if (!h || !cf || fstat(fd, &st) != 0 || pread(fd, h, sizeof *h, 0) != (ssize_t)sizeof *h)
    goto bad;
  *why = "not a bar cache of this version";
  if (memcmp(h->magic, MAGIC, 8) || h->endian != ENDIAN_MARK || h->header_size != HEADER_SIZE ||
      h->block_bars != BLOCK_BARS)
    goto bad;
  *why = "header checksum";
  if (h->crc != (uint32_t)crc32(0, (const Bytef *)h, (uInt)offsetof(cache_header, crc))) goto bad;
  *why = "built from another file or with other options";
  if (h->key_len >= sizeof h->key || strlen(key) != h->key_len || memcmp(h->key, key, h->key_len))
    goto bad;
  *why = "the CSV changed";
  if (!same_src(&h->src, src) || h->src.sample_crc != src->sample_crc) goto bad;
  *why = "size (truncated or damaged)";
  if (h->nbars > ((uint64_t)1 << 40) || (uint64_t)st.st_size != file_size(h->nbars)) goto bad;
  cf->fd = fd;
  cf->nbars = h->nbars;
  cf->nblocks = (h->nbars + BLOCK_BARS - 1) / BLOCK_BARS;
  cf->skipped = h->skipped;
  cf->first_skipped = (long)h->first_skipped;
  cf->src = *src;
  size_t sums_bytes = (size_t)cf->nblocks * 8;
  cf->sums = malloc(sums_bytes ? sums_bytes : 1);
  cf->key = strdup(key);
  cf->path = strdup(path);
  *why = "unreadable";
  if (!cf->sums || !cf->key || !cf->path ||
      pread(fd, cf->sums, sums_bytes, (off_t)(HEADER_SIZE + cf->nbars * NCOLS * 8)) !=
          (ssize_t)sums_bytes) {
    cf->fd = -1;
    goto bad;
  }
  free(h);
  return cf;
bad:
  free(h);
  cache_file_free(cf);
  close(fd);
  return NULL;
}

/* ---- building ---------------------------------------------------------------------- */

/* Writes one block (n bars in cols, column k at cols + k * BLOCK_BARS) compacted, and
 * records its sum. */
static int put_block(int fd, uint64_t *cols, uint32_t n, uint64_t **sums, uint64_t *nsums,
                     size_t *cap) {
  if (n < BLOCK_BARS)
    for (int k = 1; k < NCOLS; k++) memmove(cols + k * n, cols + k * BLOCK_BARS, n * 8);
  if (BT_GROW(*sums, *cap, (size_t)*nsums + 1)) return -1;
  (*sums)[*nsums] = block_sum(cols, (size_t)n * NCOLS, *nsums);
  (*nsums)++;
  return bt_write_all(fd, cols, (size_t)n * NCOLS * 8) ? -1 : 0;
}

/* Parses the CSV once into a new cache file at path (temporary name, then renamed).
 * Returns 0 when built; 1 when the CSV cannot be cached (a row the reader refuses: the
 * caller reads it directly and meets the error where it is); <0 on an I/O error. */
static int build(bt_barcache *c, const char *csv, const char *path, const char *key,
                 const src_id *src, const bt_feed_opts *opts, uint64_t *nbars_out) {
  bt_err err = {0};
  bt_feed *f = NULL;
  if (bt_feed_open(&f, csv, "", 0, opts, &err)) {
    bt_err_clear(&err);
    return 1;
  }
  if (bt_mkdirs(c->dir, 0755) != 0) {
    bt_feed_close(f);
    return -1;
  }
  char *tmp = NULL;
  if (asprintf(&tmp, "%s.XXXXXX", path) < 0) tmp = NULL;
  int fd = tmp ? mkostemp(tmp, O_CLOEXEC) : -1;
  uint64_t *cols = malloc((size_t)BLOCK_BARS * NCOLS * 8), *sums = NULL, nsums = 0;
  size_t cap = 0;
  cache_header *h = calloc(1, sizeof *h);
  int rc = fd >= 0 && cols && h ? 0 : -1;
  if (!rc && lseek(fd, HEADER_SIZE, SEEK_SET) != (off_t)HEADER_SIZE) rc = -1;
  uint64_t n = 0;
  uint32_t in = 0;
  bt_bar bar;
  int r = 0;
  while (!rc && (r = bt_feed_next(f, &bar, &err)) == 1) {
    int64_t v[NCOLS] = {bar.time, bar.open.v, bar.high.v, bar.low.v, bar.close.v, 0};
    memcpy(&v[5], &bar.volume, 8);
    for (int k = 0; k < NCOLS; k++) memcpy(&cols[k * BLOCK_BARS + in], &v[k], 8);
    n++;
    if (++in == BLOCK_BARS) {
      rc = put_block(fd, cols, in, &sums, &nsums, &cap);
      in = 0;
    }
  }
  if (!rc && r < 0) rc = 1; /* the CSV has a row the reader refuses */
  if (!rc && in) rc = put_block(fd, cols, in, &sums, &nsums, &cap);
  if (!rc && nsums && bt_write_all(fd, sums, (size_t)nsums * 8)) rc = -1;
  if (!rc) {
    memcpy(h->magic, MAGIC, 8);
    h->endian = ENDIAN_MARK;
    h->header_size = HEADER_SIZE;
    h->block_bars = BLOCK_BARS;
    h->nbars = n;
    h->skipped = bt_feed_skipped(f);
    h->first_skipped = bt_feed_first_skipped_line(f);
    h->src = *src;
    h->key_len = (uint32_t)strlen(key);
    if (h->key_len >= sizeof h->key) rc = 1; /* a path too long to record: not cached */
    else memcpy(h->key, key, h->key_len);
    h->crc = (uint32_t)crc32(0, (const Bytef *)h, (uInt)offsetof(cache_header, crc));
    if (!rc && pwrite(fd, h, sizeof *h, 0) != (ssize_t)sizeof *h) rc = -1;
  }
  /* The CSV must not have changed while it was read: the cache would mix two versions. */
  src_id now;
  if (!rc && (src_stat(csv, -1, &now) || !same_src(&now, src))) rc = 1;
  if (fd >= 0 && close(fd) != 0 && !rc) rc = -1;
  if (!rc && rename(tmp, path) != 0) rc = -1;
  if (rc && fd >= 0) unlink(tmp);
  bt_err_clear(&err);
  bt_feed_close(f);
  free(tmp);
  free(cols);
  free(sums);
  free(h);
  *nbars_out = n;
  return rc;
}

/* ---- reading ----------------------------------------------------------------------- */

typedef struct reader {
  cache_file *cf;
  uint64_t next;            /* index of the next bar */
  uint64_t blk_first;       /* index of buf's first bar */
  uint32_t blk_n;           /* bars in buf (0: none loaded) */
  uint64_t *buf;            /* one block, columns of blk_n values */
  bt_feed *csv;             /* set after a bad block: the rest comes from the CSV */
  char *csv_path;
  bt_feed_opts opts;
  char *date_format, *columns;
} reader;

/* A block that does not check out: the rest of the run reads the CSV (skipping the bars
 * already delivered), and the cache file goes, so the next run rebuilds it. */
static int fall_back(reader *r, const char *why, bt_err *err) {
  cache_file *cf = r->cf;
  bt_log("feed", BT_LOG_WARNING, "bar_cache_corrupt", BT_F_STR("cache", cf->path),
         BT_F_STR("csv", r->csv_path), BT_F_INT("bar", r->next), BT_F_STR("reason", why),
         BT_F_STR("action", "reading the CSV from this bar on; the cache file is removed"));
  atomic_store(&cf->broken, true);
  struct stat a, b;
  if (fstat(cf->fd, &a) == 0 && stat(cf->path, &b) == 0 && a.st_ino == b.st_ino &&
      a.st_dev == b.st_dev)
    unlink(cf->path); /* only the file this run read: another process may have rebuilt it */
  if (bt_feed_open(&r->csv, r->csv_path, "", 0, &r->opts, err)) return err->code;
  bt_bar skip;
  for (uint64_t i = 0; i < r->next; i++) {
    int rc = bt_feed_next(r->csv, &skip, err);
    if (rc < 0) return rc;
    if (rc == 0)
      return bt_errf_at(err, BT_EIO, "io_error", r->csv_path, 0, NULL,
                        "data file changed while it was read from its bar cache");
  }
  return 0;
}

static int load_block(reader *r, bt_err *err) {
  cache_file *cf = r->cf;
  uint64_t b = r->next / BLOCK_BARS;
  uint32_t n = (uint32_t)(cf->nbars - b * BLOCK_BARS < BLOCK_BARS ? cf->nbars - b * BLOCK_BARS
                                                                    : BLOCK_BARS);
  size_t bytes = (size_t)n * NCOLS * 8;
  off_t at = (off_t)(HEADER_SIZE + b * BLOCK_BARS * NCOLS * 8);
  size_t got = 0;
  while (got < bytes) {
    ssize_t k = pread(cf->fd, (char *)r->buf + got, bytes - got, at + (off_t)got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    got += (size_t)k;
  }
  if (got < bytes) return fall_back(r, "short read (truncated)", err);
  if (block_sum(r->buf, bytes / 8, b) != cf->sums[b]) return fall_back(r, "block checksum", err);
  r->blk_first = b * BLOCK_BARS;
  r->blk_n = n;
  return 0;
}

static int reader_next(void *ud, bt_bar *bar, bt_err *err) {
  reader *r = ud;
  if (r->csv) {
    int rc = bt_feed_next(r->csv, bar, err);
    if (rc == 1) r->next++;
    return rc;
  }
  if (r->next >= r->cf->nbars) return 0;
  if (r->next - r->blk_first >= r->blk_n || !r->blk_n) {
    if (load_block(r, err)) return err->code;
    if (r->csv) return reader_next(ud, bar, err);
  }
  uint32_t i = (uint32_t)(r->next - r->blk_first), n = r->blk_n;
  const uint64_t *c = r->buf;
  bar->time = (int64_t)c[i];
  bar->open.v = (int64_t)c[n + i];
  bar->high.v = (int64_t)c[2 * n + i];
  bar->low.v = (int64_t)c[3 * n + i];
  bar->close.v = (int64_t)c[4 * n + i];
  memcpy(&bar->volume, &c[5 * n + i], 8);
  r->next++;
  return 1;
}

static double reader_progress(void *ud) {
  reader *r = ud;
  return r->cf->nbars ? (double)r->next / (double)r->cf->nbars : 1.0;
}

static void reader_close(void *ud) {
  reader *r = ud;
  bt_feed_close(r->csv);
  free(r->buf);
  free(r->csv_path);
  free(r->date_format);
  free(r->columns);
  free(r);
}

/* ---- the cache --------------------------------------------------------------------- */

int bt_barcache_new(bt_barcache **out, const char *dir, uint64_t min_bytes, bt_err *err) {
  bt_barcache *c = calloc(1, sizeof *c);
  if (!c || !(c->dir = strdup(dir))) {
    free(c);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  c->min_bytes = min_bytes;
  pthread_mutex_init(&c->mu, NULL);
  *out = c;
  return 0;
}

void bt_barcache_free(bt_barcache *c) {
  if (!c) return;
  while (c->files) {
    cache_file *cf = c->files;
    c->files = cf->next;
    cache_file_free(cf);
  }
  pthread_mutex_destroy(&c->mu);
  free(c->dir);
  free(c);
}

/* The validated cache file for the CSV (built when needed); NULL when the CSV is read
 * directly. Called with c->mu held. */
static cache_file *acquire(bt_barcache *c, const char *csv, const src_id *src_stat_only,
                           const bt_feed_opts *opts) {
  char real[PATH_MAX];
  if (!realpath(csv, real)) return NULL;
  char *key = make_key(real, opts);
  char *path = key ? cache_path(c, real, key) : NULL;
  cache_file *cf = NULL;
  for (cache_file *p = c->files; path && p && !cf; p = p->next)
    if (strcmp(p->key, key) == 0 && same_src(&p->src, src_stat_only) && !atomic_load(&p->broken))
      cf = p;
  src_id src = *src_stat_only;
  const char *why = NULL;
  if (!cf && path && src_sample(csv, &src.sample_crc) == 0) {
    cf = load(path, key, &src, &why);
    if (!cf) {
      const char *stale = why, *ignored;
      uint64_t t0 = bt_now_ns(), n = 0;
      int rc = build(c, csv, path, key, &src, opts, &n);
      if (rc == 0) {
        cf = load(path, key, &src, &ignored);
        bt_log("feed", BT_LOG_INFO, "bar_cache_built", BT_F_STR("csv", csv),
               BT_F_STR("cache", path), BT_F_INT("bars", n), BT_F_STR("previous", stale),
               BT_F_INT("ms", (int64_t)((bt_now_ns() - t0) / 1000000)));
      } else if (rc < 0) {
        bt_log("feed", BT_LOG_WARNING, "bar_cache_unwritable", BT_F_STR("csv", csv),
               BT_F_STR("cache", path), BT_F_STR("error", strerror(errno)),
               BT_F_STR("action", "reading the CSV directly"));
      }
    }
    if (cf) {
      cf->next = c->files;
      c->files = cf;
    }
  }
  free(key);
  free(path);
  return cf;
}

int bt_barcache_open_feed(bt_barcache *c, bt_feed **out, const char *path, const char *symbol,
                          uint32_t symbol_index, const bt_feed_opts *opts, bt_err *err) {
  src_id src;
  if (!c || src_stat(path, -1, &src) || src.size < c->min_bytes)
    return bt_feed_open(out, path, symbol, symbol_index, opts, err);
  pthread_mutex_lock(&c->mu);
  cache_file *cf = acquire(c, path, &src, opts);
  pthread_mutex_unlock(&c->mu);
  if (!cf) return bt_feed_open(out, path, symbol, symbol_index, opts, err);
  reader *r = calloc(1, sizeof *r);
  if (r) {
    r->cf = cf;
    r->buf = malloc((size_t)BLOCK_BARS * NCOLS * 8);
    r->csv_path = strdup(path);
    if (opts) r->opts = *opts;
    r->opts.date_format = r->date_format = opts && opts->date_format ? strdup(opts->date_format) : NULL;
    r->opts.columns = r->columns = opts && opts->columns ? strdup(opts->columns) : NULL;
  }
  if (!r || !r->buf || !r->csv_path || (opts && opts->date_format && !r->date_format) ||
      (opts && opts->columns && !r->columns)) {
    if (r) reader_close(r);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  bt_feed_source s = {.ud = r, .next = reader_next, .progress = reader_progress,
                      .close = reader_close, .skipped = cf->skipped,
                      .first_skipped = cf->first_skipped};
  return bt_feed_open_source(out, path, symbol, symbol_index, &s, err);
}

int bt_barcache_clear(const char *dir, int *removed, bt_err *err) {
  *removed = 0;
  DIR *d = opendir(dir);
  if (!d) {
    if (errno == ENOENT) return 0;
    return bt_errf_at(err, BT_EIO, "io_error", dir, 0, NULL, "cannot open the cache directory: %s",
                      strerror(errno));
  }
  struct dirent *e;
  int rc = 0;
  while ((e = readdir(d))) {
    /* cache files end in .bars, builders' temporary files in .bars.XXXXXX */
    const char *s = strstr(e->d_name, SUFFIX);
    if (!s || (s[5] && s[5] != '.')) continue;
    if (unlinkat(dirfd(d), e->d_name, 0) == 0) (*removed)++;
    else if (errno != ENOENT && !rc)
      rc = bt_errf_at(err, BT_EIO, "io_error", dir, 0, NULL, "cannot remove %s: %s", e->d_name,
                      strerror(errno));
  }
  closedir(d);
  return rc;
}
