#include "analytics_session.h"
#include "uuid.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "analytics_util.h"
#include "grow.h"

typedef struct sess {
  char *distinct;
  char id[40];
  int64_t start_ms, last_ms;
  bool ended; /* ended here: drop it from the file on save */
} sess;

struct bt_an_sessions {
  pthread_mutex_t mu;
  char path[4200];
  int64_t timeout_ms;
  sess *v;
  size_t n, cap;
  bool dirty; /* nothing to save unless a session was touched or ended */
};

static sess *add(bt_an_sessions *s, const char *distinct) {
  if (BT_GROW(s->v, s->cap, s->n + 1)) return NULL;
  sess *e = &s->v[s->n];
  memset(e, 0, sizeof *e);
  e->distinct = strdup(distinct);
  if (!e->distinct) return NULL;
  s->n++;
  return e;
}

static sess *find(bt_an_sessions *s, const char *distinct) {
  for (size_t i = 0; i < s->n; i++)
    if (strcmp(s->v[i].distinct, distinct) == 0) return &s->v[i];
  return NULL;
}

/* Parse "distinct\tid\tstart\tlast" lines; fn(ud, distinct, id, start, last). */
static void read_file(const char *path, void (*fn)(void *, const char *, const char *,
                                                   int64_t, int64_t),
                      void *ud) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[512];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\r\n")] = '\0';
    char *t1 = strchr(line, '\t');
    if (!t1) continue;
    *t1 = '\0';
    char id[40];
    long long a, b;
    if (sscanf(t1 + 1, "%39s %lld %lld", id, &a, &b) == 3 && strlen(id) == 36)
      fn(ud, line, id, a, b);
  }
  fclose(f);
}

static void load_one(void *ud, const char *distinct, const char *id, int64_t a, int64_t b) {
  bt_an_sessions *s = ud;
  if (find(s, distinct)) return;
  sess *e = add(s, distinct);
  if (!e) return;
  memcpy(e->id, id, 37);
  e->start_ms = a;
  e->last_ms = b;
}

bt_an_sessions *bt_an_sessions_open(const char *path, int64_t timeout_ms) {
  bt_an_sessions *s = calloc(1, sizeof *s);
  if (!s) return NULL;
  pthread_mutex_init(&s->mu, NULL);
  snprintf(s->path, sizeof s->path, "%s", path);
  s->timeout_ms = timeout_ms;
  read_file(path, load_one, s);
  return s;
}

void bt_an_sessions_free(bt_an_sessions *s) {
  if (!s) return;
  for (size_t i = 0; i < s->n; i++) free(s->v[i].distinct);
  free(s->v);
  pthread_mutex_destroy(&s->mu);
  free(s);
}

void bt_an_sessions_touch(bt_an_sessions *s, const char *distinct, int64_t now,
                          bt_an_session_change *out) {
  memset(out, 0, sizeof *out);
  pthread_mutex_lock(&s->mu);
  s->dirty = true;
  sess *e = find(s, distinct);
  if (e && !e->ended && now - e->last_ms > s->timeout_ms) {
    out->ended = true;
    memcpy(out->ended_id, e->id, 37);
    out->ended_start_ms = e->start_ms;
    out->ended_last_ms = e->last_ms;
    e->ended = true;
  }
  if (!e) e = add(s, distinct);
  if (e && (e->ended || !e->id[0])) {
    bt_uuid7(now, e->id);
    e->start_ms = e->last_ms = now;
    e->ended = false;
    out->started = true;
  }
  if (e) {
    if (now > e->last_ms) e->last_ms = now;
    memcpy(out->id, e->id, 37);
    out->start_ms = e->start_ms;
  } else {
    bt_uuid7(now, out->id); /* out of memory: still a valid id for this event */
    out->start_ms = now;
  }
  pthread_mutex_unlock(&s->mu);
}

int bt_an_sessions_expire(bt_an_sessions *s, int64_t now, bt_an_session_end_fn fn, void *ud) {
  typedef struct { char *distinct; char id[40]; int64_t a, b; } ended;
  ended *list = NULL;
  size_t n = 0, cap = 0;
  pthread_mutex_lock(&s->mu);
  for (size_t i = 0; i < s->n; i++) {
    sess *e = &s->v[i];
    if (e->ended || !e->id[0] || now - e->last_ms <= s->timeout_ms) continue;
    if (BT_GROW(list, cap, n + 1)) break;
    list[n].distinct = strdup(e->distinct);
    memcpy(list[n].id, e->id, 37);
    list[n].a = e->start_ms;
    list[n].b = e->last_ms;
    n++;
    e->ended = true;
    s->dirty = true;
  }
  pthread_mutex_unlock(&s->mu);
  for (size_t i = 0; i < n; i++) {
    if (list[i].distinct) fn(ud, list[i].distinct, list[i].id, list[i].a, list[i].b);
    free(list[i].distinct);
  }
  free(list);
  return (int)n;
}

typedef struct merge {
  bt_an_sessions *s;
  char *buf;
  size_t len, cap;
} merge;

static void append_line(merge *m, const char *d, const char *id, int64_t a, int64_t b) {
  size_t need = strlen(d) + 100;
  if (BT_GROW(m->buf, m->cap, m->len + need)) return;
  m->len += (size_t)sprintf(m->buf + m->len, "%s\t%s\t%lld\t%lld\n", d, id, (long long)a,
                            (long long)b);
}

static void keep_foreign(void *ud, const char *d, const char *id, int64_t a, int64_t b) {
  merge *m = ud;
  sess *e = find(m->s, d);
  /* Another process's session for an id we never touched, or a newer one. */
  if (!e || (!e->ended && b > e->last_ms && strcmp(e->id, id) != 0) ||
      (e->ended && strcmp(e->id, id) != 0))
    append_line(m, d, id, a, b);
  else if (e && !e->ended && strcmp(e->id, id) == 0 && b > e->last_ms)
    e->last_ms = b;
}

int bt_an_sessions_save(bt_an_sessions *s) {
  pthread_mutex_lock(&s->mu);
  bool dirty = s->dirty;
  pthread_mutex_unlock(&s->mu);
  if (!dirty) return 0;
  char lock[4300];
  snprintf(lock, sizeof lock, "%s.lock", s->path);
  int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lfd < 0) return -1;
  flock(lfd, LOCK_EX);
  pthread_mutex_lock(&s->mu);
  merge m = {s, NULL, 0, 0};
  read_file(s->path, keep_foreign, &m);
  for (size_t i = 0; i < s->n; i++) {
    sess *e = &s->v[i];
    if (e->ended || !e->id[0]) continue;
    bool shadowed = false; /* a newer foreign session of the same id was kept */
    for (size_t off = 0; m.buf && off < m.len;) {
      const char *nl = memchr(m.buf + off, '\n', m.len - off);
      size_t dl = strlen(e->distinct);
      if (strncmp(m.buf + off, e->distinct, dl) == 0 && m.buf[off + dl] == '\t') shadowed = true;
      off = nl ? (size_t)(nl - m.buf) + 1 : m.len;
    }
    if (!shadowed) append_line(&m, e->distinct, e->id, e->start_ms, e->last_ms);
  }
  pthread_mutex_unlock(&s->mu);
  int rc = bt_an_write_file_atomic(s->path, m.buf ? m.buf : "", m.len);
  free(m.buf);
  close(lfd);
  return rc;
}
