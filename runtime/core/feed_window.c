/* feed_window.c - a feed's file read through a window (read(2), 1 MiB, grown for a longer
 * line): a file truncated under the run is an I/O error naming it, and memory stays flat
 * however long the file is. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "feed_internal.h"

int feed_load_file(bt_feed *f, bt_err *err) {
  f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0)
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "cannot open data file: %s",
                      strerror(errno));
  struct stat st;
  if (fstat(f->fd, &st) != 0)
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "cannot stat: %s",
                      strerror(errno));
  if (S_ISDIR(st.st_mode))
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "is a directory, not a data file");
  if (S_ISREG(st.st_mode)) {
    f->total = (uint64_t)st.st_size;
    posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  f->last_nl = SIZE_MAX;
  return 0;
}

/* Make [pos, size) hold a whole line (a newline), unless the file ends first: drops the
 * consumed bytes (those before pos and pin), then reads, growing the window for a line
 * longer than it. A file that ends short of the size it had when opened was truncated
 * under the run: an I/O error naming it. */
int feed_refill(bt_feed *f, bt_err *err) {
  size_t keep = f->pos < f->pin ? f->pos : f->pin;
  if (keep) {
    memmove(f->data, f->data + keep, f->size - keep);
    f->size -= keep, f->pos -= keep, f->base += keep;
  }
  for (;;) {
    if (f->size == f->cap) {
      size_t ncap = f->cap ? f->cap * 2 : WINDOW;
      if (ncap > LINE_MAX_BYTES)
        return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line + 1, NULL,
                          "line longer than %u bytes", LINE_MAX_BYTES);
      char *nb = realloc(f->data, ncap);
      if (!nb) return bt_errf_at(err, BT_ENOMEM, "out_of_memory", f->path, 0, NULL, "out of memory");
      f->data = nb, f->cap = ncap;
    }
    ssize_t r = read(f->fd, f->data + f->size, f->cap - f->size);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return bt_errf_at(err, BT_EIO, "io_error", f->path, f->line, NULL, "read failed: %s",
                        strerror(errno));
    if (r == 0) {
      if (f->total && f->base + f->size < f->total) {
        struct stat st;
        long long now = fstat(f->fd, &st) == 0 ? (long long)st.st_size : -1;
        return bt_errf_at(err, BT_EIO, "io_error", f->path, f->line, NULL,
                          "data file truncated while it was read: %llu bytes when the run "
                          "started, %lld now", (unsigned long long)f->total, now);
      }
      f->eof = true;
      break;
    }
    f->size += (size_t)r;
    if (memchr(f->data + f->size - (size_t)r, '\n', (size_t)r)) break;
  }
  const char *nl = f->size > f->pos ? memrchr(f->data + f->pos, '\n', f->size - f->pos) : NULL;
  f->last_nl = nl ? (size_t)(nl - f->data) : SIZE_MAX;
  return 0;
}
