/* test_fs.c - base/fs.h: bt_mkdirs and bt_write_all. */
#define _GNU_SOURCE /* F_SETPIPE_SZ */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "fs.h"

/* Every byte arrives, in order, through a pipe whose buffer is smaller than the data. */
static void test_write_all_pipe(void) {
  int fds[2];
  CHECK(pipe(fds) == 0);
  fcntl(fds[1], F_SETPIPE_SZ, 4096);
  enum { N = 1 << 20 };
  char *out = malloc(N), *in = malloc(N);
  for (size_t i = 0; i < N; i++) out[i] = (char)(i * 131 + i / 977);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    _exit(bt_write_all(fds[1], out, N) ? 1 : 0);
  }
  close(fds[1]);
  size_t got = 0;
  for (ssize_t r; got < N && (r = read(fds[0], in + got, N - got)) > 0;) got += (size_t)r;
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  CHECK(got == N && memcmp(in, out, N) == 0);
  close(fds[0]);
  free(out);
  free(in);
}

/* A failed write gives its errno: /dev/full takes nothing (ENOSPC), a closed pipe EPIPE. */
static void test_write_all_errors(void) {
  int fd = open("/dev/full", O_WRONLY);
  if (fd >= 0) {
    CHECK(bt_write_all(fd, "x", 1) == ENOSPC);
    close(fd);
  }
  int fds[2];
  CHECK(pipe(fds) == 0);
  close(fds[0]);
  signal(SIGPIPE, SIG_IGN);
  CHECK(bt_write_all(fds[1], "abc", 3) == EPIPE);
  CHECK(bt_write_all(fds[1], "", 0) == 0); /* nothing to write: nothing fails */
  close(fds[1]);
}

/* A short write is continued: under a 1,000-byte file size limit the first write of 3,000
 * bytes takes 1,000, the next one fails with EFBIG, and that is what comes back. */
static void test_write_all_short(void) {
  const char *base = getenv("BT_TEST_TMP");
  char path[512];
  snprintf(path, sizeof path, "%s/test_fs.%ld.short", base ? base : "/tmp", (long)getpid());
  pid_t pid = fork();
  if (pid == 0) {
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit lim = {1000, 1000};
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || setrlimit(RLIMIT_FSIZE, &lim) != 0) _exit(2);
    static char buf[3000];
    _exit(bt_write_all(fd, buf, sizeof buf) == EFBIG ? 0 : 1);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  struct stat st;
  CHECK(stat(path, &st) == 0 && st.st_size == 1000);
  unlink(path);
}

static void test_mkdirs(void) {
  const char *base = getenv("BT_TEST_TMP");
  char dir[512];
  snprintf(dir, sizeof dir, "%s/test_fs.%ld/a/b/c", base ? base : "/tmp", (long)getpid());
  CHECK(bt_mkdirs(dir, 0755) == 0);
  struct stat st;
  CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(bt_mkdirs(dir, 0755) == 0); /* existing: kept */
  CHECK(bt_mkdirs("", 0755) == -1 && errno == ENOENT);
}

int main(void) {
  test_write_all_pipe();
  test_write_all_errors();
  test_write_all_short();
  test_mkdirs();
  return failures != 0;
}
