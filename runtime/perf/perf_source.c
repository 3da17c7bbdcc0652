#include "perf_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "grow.h"

#define CRC_SPAN 4096

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The trade log files of source, sorted by name. */
static int list_sources(const char *src, char ***out, size_t *n, bt_err *err) {
  struct stat st;
  *out = NULL, *n = 0;
  if (stat(src, &st) != 0)
    return bt_errf(err, BT_EIO, "io_error", "trade log path %s: %s", src, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    *out = malloc(sizeof(char *));
    if (!*out || !((*out)[0] = strdup(src))) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    *n = 1;
    return 0;
  }
  DIR *d = opendir(src);
  if (!d) return bt_errf(err, BT_EIO, "io_error", "trade log directory %s: %s", src, strerror(errno));
  size_t cap = 0;
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || l < 7 || strcmp(de->d_name + l - 6, ".jsonl") != 0) continue;
    if (BT_GROW(*out, cap, *n + 1)) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    size_t pl = strlen(src) + l + 2;
    char *path = malloc(pl);
    if (!path) { rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"); break; }
    snprintf(path, pl, "%s/%s", src, de->d_name);
    (*out)[(*n)++] = path;
  }
  closedir(d);
  if (*n) qsort(*out, *n, sizeof **out, cmp_str);
  return rc;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static int read_range(int fd, uint64_t off, size_t n, char *buf) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static uint32_t crc_of(const char *p, size_t n) {
  return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

/* Does the file still hold what we consumed (append-only growth)? */
static bool unchanged_prefix(int fd, const struct stat *st, const bt_perf_file *f) {
  if ((uint64_t)st->st_size < f->offset || (uint64_t)st->st_ino != f->ino ||
      (uint64_t)st->st_dev != f->dev)
    return false;
  if (f->offset == 0) return true;
  char buf[CRC_SPAN];
  size_t n = f->offset < CRC_SPAN ? (size_t)f->offset : CRC_SPAN;
  if (read_range(fd, 0, n, buf) || crc_of(buf, n) != f->head_crc) return false;
  if (read_range(fd, f->offset - n, n, buf) || crc_of(buf, n) != f->tail_crc) return false;
  return true;
}

/* Big (cold) reads: the new bytes are mapped a window at a time and unmapped once
 * parsed, so memory stays bounded however large the trade log is. A window ends at its
 * last complete line; a line longer than the window doubles it. */
#define MAP_WINDOW ((size_t)16 << 20)
static int consume_mapped(bt_perf_index *ix, bt_perf_file *f, int fd, uint64_t size,
                          size_t *used_out, uint64_t *nl_out, bt_err *err) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pos = f->offset;
  size_t window = MAP_WINDOW;
  int rc = 0;
  while (pos < size && !rc) {
    size_t want = size - pos > window ? window : (size_t)(size - pos);
    uint64_t at = pos / page * page;
    size_t maplen = (size_t)(pos - at) + want;
    void *map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)at);
    if (map == MAP_FAILED)
      return bt_errf(err, BT_EIO, "io_error", "%s: mmap: %s", f->path, strerror(errno));
    madvise(map, maplen, MADV_SEQUENTIAL);
    size_t used = 0;
    uint64_t nl = 0;
    rc = bt_perf_index_add_buffer(ix, (const char *)map + (pos - at), want, f->path,
                                  f->lines + 1 + *nl_out, &used, &nl, err);
    munmap(map, maplen);
    if (!rc && !used) {
      if (pos + want == size) break; /* only a partial last line is left */
      window *= 2;
      continue;
    }
    pos += used;
    *used_out += used;
    *nl_out += nl;
  }
  return rc;
}

/* Consume the bytes of fd from f->offset to size. */
static int consume(bt_perf_index *ix, bt_perf_file *f, int fd, uint64_t size, bt_err *err) {
  if (size == f->offset) {
    f->partial = false;
    return 0;
  }
  size_t len = (size_t)(size - f->offset);
  size_t used = 0;
  uint64_t nl = 0;
  int rc;
  if (len > (1u << 20)) {
    rc = consume_mapped(ix, f, fd, size, &used, &nl, err);
  } else {
    char *heap = malloc(len);
    if (!heap) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    if (read_range(fd, f->offset, len, heap)) {
      free(heap);
      return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    }
    rc = bt_perf_index_add_buffer(ix, heap, len, f->path, f->lines + 1, &used, &nl, err);
    free(heap);
  }
  if (rc == 0 && used) {
    uint64_t end = f->offset + used;
    size_t h = end < CRC_SPAN ? (size_t)end : CRC_SPAN;
    char tmp[CRC_SPAN];
    if (read_range(fd, 0, h, tmp)) return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    f->head_crc = crc_of(tmp, h);
    if (read_range(fd, end - h, h, tmp)) return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    f->tail_crc = crc_of(tmp, h);
    f->offset = end;
    f->lines += nl;
    ix->bytes_read += used;
    ix->lines_read += nl;
  }
  f->partial = rc == 0 && used < len;
  return rc;
}

static int refresh_once(bt_perf_index *ix, bool *restart, bt_err *err) {
  char **paths;
  size_t npaths;
  int rc = list_sources(ix->source, &paths, &npaths, err);
  if (rc) return rc;
  *restart = false;
  /* every known file must still be listed */
  for (size_t i = 0; i < ix->nfiles && !*restart; i++) {
    bool found = false;
    for (size_t j = 0; j < npaths && !found; j++) found = strcmp(paths[j], ix->files[i].path) == 0;
    if (!found) *restart = true;
  }
  for (size_t j = 0; j < npaths && !rc && !*restart; j++) {
    bt_perf_file *f = NULL;
    for (size_t i = 0; i < ix->nfiles && !f; i++)
      if (strcmp(paths[j], ix->files[i].path) == 0) f = &ix->files[i];
    int fd = open(paths[j], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", paths[j], strerror(errno));
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", paths[j], strerror(errno));
    } else if (!f) {
      if (BT_GROW(ix->files, ix->capfiles, ix->nfiles + 1)) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      } else {
        f = &ix->files[ix->nfiles++];
        memset(f, 0, sizeof *f);
        f->path = paths[j];
        paths[j] = NULL;
        f->dev = (uint64_t)st.st_dev, f->ino = (uint64_t)st.st_ino;
        ix->dirty = true;
        rc = consume(ix, f, fd, (uint64_t)st.st_size, err);
      }
    } else if (!unchanged_prefix(fd, &st, f)) {
      *restart = true;
    } else {
      bool was_partial = f->partial;
      uint64_t before = f->offset;
      rc = consume(ix, f, fd, (uint64_t)st.st_size, err);
      if (f->offset != before || f->partial != was_partial) ix->dirty = true;
    }
    close(fd);
  }
  free_list(paths, npaths);
  return rc;
}

int bt_perf_index_refresh(bt_perf_index *ix, bool force_cold, bt_err *err) {
  ix->bytes_read = ix->lines_read = 0;
  ix->rebuilt = ix->nfiles == 0; /* nothing known yet: this is a cold build */
  if (force_cold) {
    bt_perf_index_reset(ix);
    ix->dirty = ix->rebuilt = true;
  }
  bool restart;
  int rc = refresh_once(ix, &restart, err);
  if (rc == 0 && restart) {
    bt_perf_index_reset(ix);
    ix->dirty = ix->rebuilt = true;
    ix->bytes_read = ix->lines_read = 0;
    rc = refresh_once(ix, &restart, err);
  }
  return rc;
}
