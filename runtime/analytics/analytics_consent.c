#include "analytics_consent.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analytics_util.h"
#include "fs.h"
#include "grow.h"
#include "run.h"

struct bt_an_consent {
  pthread_mutex_t mu; /* capture threads read, the sender thread refreshes */
  char path[4200];
  char **ids;
  size_t n;
  struct timespec mtime;
  off_t size;
  ino_t ino;
  bool exists;
};

static char **read_ids(const char *path, size_t *n) {
  *n = 0;
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char **v = NULL, line[256];
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    if (!line[0]) continue;
    if (BT_GROW(v, cap, *n + 1)) break;
    v[(*n)++] = strdup(line);
  }
  fclose(f);
  return v;
}

void bt_an_consent_list_free(char **ids, size_t n) {
  for (size_t i = 0; i < n; i++) free(ids[i]);
  free(ids);
}

char **bt_an_consent_list(const char *dir, size_t *n) {
  char path[4200];
  snprintf(path, sizeof path, "%s/opt_out", dir);
  return read_ids(path, n);
}

static void load_locked(bt_an_consent *c) {
  struct stat st;
  bool exists = stat(c->path, &st) == 0;
  if (exists == c->exists &&
      (!exists || (st.st_mtim.tv_sec == c->mtime.tv_sec &&
                   st.st_mtim.tv_nsec == c->mtime.tv_nsec && st.st_size == c->size &&
                   st.st_ino == c->ino)))
    return;
  bt_an_consent_list_free(c->ids, c->n);
  c->ids = NULL;
  c->n = 0;
  c->exists = exists;
  if (!exists) return;
  c->mtime = st.st_mtim;
  c->size = st.st_size;
  c->ino = st.st_ino;
  c->ids = read_ids(c->path, &c->n);
}

bt_an_consent *bt_an_consent_open(const char *dir) {
  bt_an_consent *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  pthread_mutex_init(&c->mu, NULL);
  snprintf(c->path, sizeof c->path, "%s/opt_out", dir);
  load_locked(c);
  return c;
}

void bt_an_consent_free(bt_an_consent *c) {
  if (!c) return;
  bt_an_consent_list_free(c->ids, c->n);
  pthread_mutex_destroy(&c->mu);
  free(c);
}

bool bt_an_consent_opted_out(bt_an_consent *c, const char *user_id) {
  if (!user_id) return false;
  pthread_mutex_lock(&c->mu);
  bool out = false;
  for (size_t i = 0; i < c->n && !out; i++) out = strcmp(c->ids[i], user_id) == 0;
  pthread_mutex_unlock(&c->mu);
  return out;
}

void bt_an_consent_refresh(bt_an_consent *c) {
  pthread_mutex_lock(&c->mu);
  load_locked(c);
  pthread_mutex_unlock(&c->mu);
}

int bt_an_user_id_check(const char *id, bt_err *err) {
  size_t n = strlen(id);
  if (n == 0 || n > 127)
    return bt_errf(err, BT_EINVAL, "usage_error", "user id must be 1..127 bytes");
  for (const unsigned char *p = (const unsigned char *)id; *p; p++)
    if (*p < 0x20 || *p == 0x7f)
      return bt_errf(err, BT_EINVAL, "usage_error", "user id must not contain control characters");
  return 0;
}

int bt_an_consent_set(const char *dir, const char *user_id, bool opt_out, bool *changed,
                      bt_err *err) {
  *changed = false;
  if (bt_an_user_id_check(user_id, err)) return err->code;
  if (bt_mkdirs(dir, 0700) != 0)
    return bt_errf(err, BT_EIO, "io_error", "%s: %s", dir, strerror(errno));
  char lock[4200], path[4200];
  snprintf(lock, sizeof lock, "%s/opt_out.lock", dir);
  snprintf(path, sizeof path, "%s/opt_out", dir);
  int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0 || flock(lfd, LOCK_EX) != 0) {
    if (lfd >= 0) close(lfd);
    return bt_errf(err, BT_EIO, "io_error", "%s: %s", lock, strerror(errno));
  }
  size_t n;
  char **ids = read_ids(path, &n);
  size_t cap = 1;
  for (size_t i = 0; i < n; i++) cap += strlen(ids[i]) + 1;
  cap += strlen(user_id) + 1;
  char *out = malloc(cap);
  size_t len = 0;
  bool present = false;
  for (size_t i = 0; i < n && out; i++) {
    if (strcmp(ids[i], user_id) == 0) {
      present = true;
      if (!opt_out) continue;
    }
    len += (size_t)sprintf(out + len, "%s\n", ids[i]);
  }
  if (out && opt_out && !present) len += (size_t)sprintf(out + len, "%s\n", user_id);
  int rc = 0;
  if (!out) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  else if (present != opt_out) {
    if (bt_an_write_file_atomic(path, out, len) != 0)
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
    else *changed = true;
  }
  free(out);
  bt_an_consent_list_free(ids, n);
  close(lfd);
  return rc;
}

int bt_an_installation_id(const char *dir, char out[40], bt_err *err) {
  char path[4200];
  snprintf(path, sizeof path, "%s/installation_id", dir);
  for (int attempt = 0; attempt < 2; attempt++) {
    FILE *f = fopen(path, "r");
    if (f) {
      char buf[64] = "";
      bool ok = fgets(buf, sizeof buf, f) != NULL;
      fclose(f);
      buf[strcspn(buf, "\r\n")] = '\0';
      if (ok && strlen(buf) == 36) {
        memcpy(out, buf, 37);
        return 0;
      }
      return bt_errf(err, BT_EIO, "io_error", "%s: not a UUID; delete the file to make a new id",
                     path);
    }
    if (bt_mkdirs(dir, 0700) != 0)
      return bt_errf(err, BT_EIO, "io_error", "%s: %s", dir, strerror(errno));
    char id[40], tmp[4300];
    bt_uuid(id);
    snprintf(tmp, sizeof tmp, "%s.%ld", path, (long)getpid());
    FILE *w = fopen(tmp, "w");
    if (!w) return bt_errf(err, BT_EIO, "io_error", "%s: %s", tmp, strerror(errno));
    fprintf(w, "%s\n", id);
    if (fclose(w) != 0) {
      unlink(tmp);
      return bt_errf(err, BT_EIO, "io_error", "%s: %s", tmp, strerror(errno));
    }
    /* link() fails if another process created the id first: then read theirs. */
    int rc = link(tmp, path);
    unlink(tmp);
    if (rc != 0 && errno != EEXIST)
      return bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
  }
  return bt_errf(err, BT_EIO, "io_error", "%s: cannot create installation id", path);
}
