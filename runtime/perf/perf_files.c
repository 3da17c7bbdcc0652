#include "perf_files.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"

static bool has_dotdot(const char *p) {
  for (const char *s = p; *s;) {
    const char *e = strchr(s, '/');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 2 && s[0] == '.' && s[1] == '.') return true;
    if (!e) break;
    s = e + 1;
  }
  return false;
}

/* Temporary files are ".<name>.<pid>.tmp": one whose process is gone was left by a
 * killed run and is removed (never followed: unlinkat removes the entry only). */
static void clean_stale_tmp(int dirfd) {
  int fd = dup(dirfd);
  DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
  if (!d) {
    if (fd >= 0) close(fd);
    return;
  }
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    const char *n = e->d_name;
    size_t len = strlen(n);
    if (n[0] != '.' || len < 6 || strcmp(n + len - 4, ".tmp") != 0) continue;
    const char *end = n + len - 4, *p = end;
    while (p > n && p[-1] >= '0' && p[-1] <= '9') p--;
    if (p == end || p[-1] != '.') continue;
    long pid = strtol(p, NULL, 10);
    if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
    unlinkat(dirfd, n, 0);
  }
  closedir(d);
}

int bt_perf_dir_open(const char *path, bt_err *err) {
  if (!path || !*path) return bt_errf(err, BT_EINVAL, "config_error", "empty directory path");
  if (has_dotdot(path))
    return bt_errf(err, BT_EINVAL, "path_error", "%s: '..' is not allowed in performance paths",
                   path);
  char tmp[1024];
  if (snprintf(tmp, sizeof tmp, "%s", path) >= (int)sizeof tmp)
    return bt_errf(err, BT_EINVAL, "path_error", "%s: path too long", path);
  /* A relative path is ours from the working directory down: none of its components
   * may be a symlink (one planted there would redirect every write), checked before
   * anything is created below it; the directory itself is opened without following
   * one, whatever the path. */
  bool relative = path[0] != '/';
  for (char *s = tmp + 1;; s++) {
    if (*s && *s != '/') continue;
    char c = *s;
    *s = '\0';
    struct stat st;
    if (relative && c && lstat(tmp, &st) == 0 && S_ISLNK(st.st_mode))
      return bt_errf(err, BT_EINVAL, "path_error",
                     "%s: %s is a symlink: refusing to follow it for performance output", path,
                     tmp);
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
      return bt_errf(err, BT_EIO, "io_error", "mkdir %s: %s", tmp, strerror(errno));
    if (!c) break;
    *s = '/';
  }
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  struct stat lst;
  if (fd < 0 && (errno == ELOOP || errno == ENOTDIR) && lstat(path, &lst) == 0 &&
      S_ISLNK(lst.st_mode))
    return bt_errf(err, BT_EINVAL, "path_error",
                   "%s: the output directory is a symlink: refusing to follow it", path);
  if (fd < 0) return bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
  clean_stale_tmp(fd);
  return fd;
}

bool bt_perf_safe_name(const char *name) {
  if (!name || !*name || name[0] == '.' || strlen(name) > 200) return false;
  for (const char *s = name; *s; s++) {
    char c = *s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

static int check_entry(int dirfd, const char *name, bt_err *err) {
  if (!bt_perf_safe_name(name))
    return bt_errf(err, BT_EINVAL, "path_error", "unsafe output file name '%s'", name);
  struct stat st;
  if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode))
    return bt_errf(err, BT_EINVAL, "path_error",
                   "%s: refusing to use a symlink or non-regular file in the output directory",
                   name);
  return 0;
}

/* The whole of an open file, NUL-terminated; NULL with errno set on failure. */
static char *read_all(int fd, size_t *len) {
  struct stat st;
  if (fstat(fd, &st) != 0) return NULL;
  size_t n = (size_t)st.st_size, got = 0;
  char *buf = malloc(n + 1);
  if (!buf) return NULL;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  buf[got] = '\0';
  *len = got;
  return buf;
}

int bt_perf_read(int dirfd, const char *name, char **out, size_t *len, bt_err *err) {
  *out = NULL, *len = 0;
  int rc = check_entry(dirfd, name, err);
  if (rc) return rc;
  int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return 1;
    return bt_errf(err, BT_EIO, "io_error", "%s: %s", name, strerror(errno));
  }
  *out = read_all(fd, len);
  int e = errno;
  close(fd);
  if (*out) return 0;
  if (e == ENOMEM) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  return bt_errf(err, BT_EIO, "io_error", "%s: %s", name, strerror(e));
}

char *bt_perf_slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  char *buf = read_all(fd, len);
  close(fd);
  return buf;
}

int bt_perf_write(int dirfd, const char *name, const char *data, size_t len, bool durable,
                  bt_err *err) {
  int rc = check_entry(dirfd, name, err);
  if (rc) return rc;
  char tmp[256];
  snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", name, (long)getpid());
  /* O_EXCL: never write into an existing entry; one left there (a stale temp file, or a
   * hard link planted to make us overwrite a file elsewhere) is unlinked first. */
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  int fd = openat(dirfd, tmp, flags, 0644);
  if (fd < 0 && errno == EEXIST && unlinkat(dirfd, tmp, 0) == 0) fd = openat(dirfd, tmp, flags, 0644);
  if (fd < 0) return bt_errf(err, BT_EIO, "io_error", "%s: %s", name, strerror(errno));
  int e = bt_write_all(fd, data, len);
  if (!e && durable && fsync(fd) != 0) e = errno;
  if (e) {
    close(fd);
    unlinkat(dirfd, tmp, 0);
    return bt_errf(err, BT_EIO, "io_error", "%s: write failed: %s", name, strerror(e));
  }
  close(fd);
  if (renameat(dirfd, tmp, dirfd, name) != 0) {
    int e = errno;
    unlinkat(dirfd, tmp, 0);
    return bt_errf(err, BT_EIO, "io_error", "%s: rename failed: %s", name, strerror(e));
  }
  return 0;
}

int bt_perf_path_split(const char *path, char *dir, size_t dirlen, char *name, size_t namelen,
                       bt_err *err) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  if (!bt_perf_safe_name(base))
    return bt_errf(err, BT_EINVAL, "path_error", "%s: unsafe file name", path);
  snprintf(name, namelen, "%s", base);
  if (!slash) snprintf(dir, dirlen, ".");
  else if (slash == path) snprintf(dir, dirlen, "/");
  else snprintf(dir, dirlen, "%.*s", (int)(slash - path), path);
  return 0;
}
