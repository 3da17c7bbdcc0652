#include "analytics_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>

#include "fs.h"
#include "run.h"

void bt_an_iso_ms(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  int frac = (int)(ms % 1000);
  if (frac < 0) {
    frac += 1000;
    s -= 1;
  }
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + n, 32 - n, ".%03dZ", frac);
}

void bt_an_uuid_of(const char *key, char out[40]) {
  /* btrun's namespace: a fixed random UUID, so keys never collide with other names */
  static const uuid_t ns = {0x6b, 0x1f, 0x52, 0x0e, 0x3c, 0x94, 0x4d, 0x1a,
                            0x9a, 0x57, 0x2e, 0x0c, 0x81, 0x44, 0xd3, 0x60};
  uuid_t b;
  uuid_generate_sha1(b, ns, key, strlen(key));
  uuid_unparse_lower(b, out);
}

int bt_an_write_file_atomic(const char *path, const char *data, size_t len) {
  char tmp[4200];
  snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  int e = bt_write_all(fd, data, len);
  if (e) {
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  if (fsync(fd) != 0 || close(fd) != 0 || rename(tmp, path) != 0) {
    int e = errno;
    unlink(tmp);
    errno = e;
    return -1;
  }
  return 0;
}

double bt_an_random01(uint64_t *s) {
  if (*s == 0 && getrandom(s, sizeof *s, 0) != (ssize_t)sizeof *s) *s = (uint64_t)clock() | 1;
  if (*s == 0) *s = 0x9e3779b97f4a7c15ull;
  uint64_t x = *s;
  x ^= x << 13; x ^= x >> 7; x ^= x << 17;
  *s = x;
  return (double)(x >> 11) / 9007199254740992.0;
}
