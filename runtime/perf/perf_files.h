/* perf_files.h - file access confined to the performance output directory.
 *
 * Everything performance tracking writes goes through a directory handle: names are
 * single path components (no '/', no "..", no leading dot tricks), files are opened
 * with O_NOFOLLOW so a planted symlink cannot redirect a write outside the directory,
 * and each file is replaced atomically (temporary file + fsync + rename). */
#ifndef BT_PERF_FILES_H
#define BT_PERF_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

/* Validate a directory path given by the user or config: relative or absolute, but
 * without ".." components. Creates it (and its parents) when missing. Returns an
 * O_DIRECTORY fd (>= 0) or a negative code with err filled. */
int bt_perf_dir_open(const char *path, bt_err *err);
/* A name safe to create inside the directory: [A-Za-z0-9._-]+, not starting with '.'. */
bool bt_perf_safe_name(const char *name);
/* Read a whole regular file (not a symlink). Returns 0 and a malloc'd NUL-terminated
 * buffer, 1 when it does not exist, or a negative code (symlink, I/O). */
int bt_perf_read(int dirfd, const char *name, char **out, size_t *len, bt_err *err);
/* Read a whole input file by path (symlinks followed: formats, run results). Returns a
 * malloc'd NUL-terminated buffer, NULL when it cannot be opened or read. */
char *bt_perf_slurp(const char *path, size_t *len);
/* Atomically replace dir/name with data. Refuses names that are not safe and existing
 * entries that are symlinks. durable: fsync before the rename (caches that are rebuilt
 * when unreadable skip it: it costs milliseconds per write). */
int bt_perf_write(int dirfd, const char *name, const char *data, size_t len, bool durable,
                  bt_err *err);

/* Same for a file given by path (alerts file): its directory is opened with
 * bt_perf_dir_open and the last component must be a safe name. */
int bt_perf_path_split(const char *path, char *dir, size_t dirlen, char *name, size_t namelen,
                       bt_err *err);

#endif
