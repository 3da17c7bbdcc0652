/* log.c - structured log records: rendering (JSON lines or console), per-thread
 * context and the process-wide sink. Redaction: log_redact.c; exceptions and Lua
 * traceback parsing: log_exception.c. */
#define _GNU_SOURCE
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "common.h"
#include "grow.h"
#include "log_internal.h"

#define MAX_LOGGERS 32
#define BUF_KEEP_MAX (1u << 20) /* a thread keeps at most this much buffer between records */

/* ---------------------------------------------------------------- sink ----- */

/* The sink is process-wide by nature: there is one stdout. It is configured once by
 * the CLI before any thread starts, so threads only read it; the two fields written
 * at run time (closed, dropped) are atomics, and the write lock keeps records whole. */
typedef struct {
  char name[48];
  bt_log_level level;
} logger_level;

static struct {
  int fd;
  bt_log_format requested, resolved;
  bool color, tty;
  char status[512];           /* the status line shown now ("" = none), under write_lock */
  bt_log_level level, min_level; /* min_level: lowest of level and every override */
  logger_level loggers[MAX_LOGGERS];
  int nloggers;
  pthread_mutex_t write_lock;
  atomic_bool closed;
  atomic_uint_fast64_t dropped;
} g_sink = {.fd = 1, .level = BT_LOG_INFO, .min_level = BT_LOG_INFO,
            .resolved = BT_LOG_FORMAT_JSON, .write_lock = PTHREAD_MUTEX_INITIALIZER};

static void resolve_format(void) {
  bool tty = isatty(g_sink.fd) == 1;
  g_sink.tty = tty;
  g_sink.resolved = g_sink.requested == BT_LOG_FORMAT_AUTO
                        ? (tty ? BT_LOG_FORMAT_CONSOLE : BT_LOG_FORMAT_JSON)
                        : g_sink.requested;
  const char *term = getenv("TERM");
  g_sink.color = g_sink.resolved == BT_LOG_FORMAT_CONSOLE && tty && !getenv("NO_COLOR") &&
                 !(term && strcmp(term, "dumb") == 0);
}

static void recompute_min(void) {
  bt_log_level m = g_sink.level;
  for (int i = 0; i < g_sink.nloggers; i++)
    if (g_sink.loggers[i].level < m) m = g_sink.loggers[i].level;
  g_sink.min_level = m;
}

void bt_log_reset(void) {
  g_sink.fd = 1;
  g_sink.nloggers = 0;
  g_sink.level = BT_LOG_INFO;
  const char *env = getenv("BTRUN_LOG_LEVEL");
  bt_log_level lvl;
  if (env && *env && bt_log_level_parse(env, &lvl) == 0) g_sink.level = lvl;
  g_sink.requested = BT_LOG_FORMAT_AUTO;
  env = getenv("BTRUN_LOG_FORMAT");
  bt_log_format fmt;
  if (env && *env && bt_log_format_parse(env, &fmt) == 0) g_sink.requested = fmt;
  atomic_store(&g_sink.closed, false);
  atomic_store(&g_sink.dropped, 0);
  recompute_min();
  resolve_format();
}

/* Environment defaults must hold before the first record, even one logged before
 * the CLI configures logging; a constructor is the one place that runs early enough. */
__attribute__((constructor)) static void log_init_defaults(void) { bt_log_reset(); }

void bt_log_set_format(bt_log_format fmt) {
  g_sink.requested = fmt;
  resolve_format();
}

bt_log_format bt_log_get_format(void) { return g_sink.resolved; }

void bt_log_set_level(bt_log_level lvl) {
  g_sink.level = lvl;
  recompute_min();
}

bt_log_level bt_log_get_level(void) { return g_sink.level; }

int bt_log_set_logger_level(const char *logger, bt_log_level lvl) {
  if (!logger || !*logger || strlen(logger) >= sizeof g_sink.loggers[0].name) return BT_EINVAL;
  int i = 0;
  while (i < g_sink.nloggers && strcmp(g_sink.loggers[i].name, logger) != 0) i++;
  if (i == g_sink.nloggers) {
    if (i == MAX_LOGGERS) return BT_EINVAL;
    snprintf(g_sink.loggers[i].name, sizeof g_sink.loggers[i].name, "%s", logger);
    g_sink.nloggers++;
  }
  g_sink.loggers[i].level = lvl;
  recompute_min();
  return 0;
}

static const char *const LEVEL_NAMES[] = {"debug", "info", "warning", "error"};

const char *bt_log_level_name(bt_log_level lvl) {
  switch (lvl) {
  case BT_LOG_DEBUG: return "debug";
  case BT_LOG_INFO: return "info";
  case BT_LOG_WARNING: return "warning";
  case BT_LOG_ERROR: return "error";
  default: return "off";
  }
}

int bt_log_level_parse(const char *name, bt_log_level *out) {
  static const bt_log_level vals[] = {BT_LOG_DEBUG, BT_LOG_INFO, BT_LOG_WARNING, BT_LOG_ERROR};
  if (!name) return BT_EINVAL;
  for (int i = 0; i < 4; i++)
    if (strcasecmp(name, LEVEL_NAMES[i]) == 0) return *out = vals[i], 0;
  if (strcasecmp(name, "warn") == 0) return *out = BT_LOG_WARNING, 0;
  if (strcasecmp(name, "off") == 0) return *out = BT_LOG_OFF, 0;
  return BT_EINVAL;
}

int bt_log_format_parse(const char *name, bt_log_format *out) {
  if (!name) return BT_EINVAL;
  if (strcasecmp(name, "auto") == 0) return *out = BT_LOG_FORMAT_AUTO, 0;
  if (strcasecmp(name, "json") == 0) return *out = BT_LOG_FORMAT_JSON, 0;
  if (strcasecmp(name, "console") == 0) return *out = BT_LOG_FORMAT_CONSOLE, 0;
  return BT_EINVAL;
}

void bt_log_set_fd(int fd) {
  g_sink.fd = fd;
  atomic_store(&g_sink.closed, false);
  resolve_format();
}

bool bt_log_closed(void) { return atomic_load_explicit(&g_sink.closed, memory_order_relaxed); }
uint64_t bt_log_dropped(void) { return atomic_load(&g_sink.dropped); }

bool bt_log_any_enabled(bt_log_level lvl) {
  return lvl >= g_sink.min_level && lvl < BT_LOG_OFF && !bt_log_closed();
}

/* Exact name first, then dotted parents: "broker.sim" falls back to "broker". */
static bt_log_level logger_threshold(const char *logger) {
  size_t len = strlen(logger);
  for (;;) {
    for (int i = 0; i < g_sink.nloggers; i++)
      if (strncmp(g_sink.loggers[i].name, logger, len) == 0 && g_sink.loggers[i].name[len] == 0)
        return g_sink.loggers[i].level;
    while (len > 0 && logger[len - 1] != '.') len--;
    if (len == 0) return g_sink.level;
    len--;
  }
}

bool bt_log_enabled(const char *logger, bt_log_level lvl) {
  if (lvl < g_sink.min_level || lvl >= BT_LOG_OFF || bt_log_closed()) return false;
  if (g_sink.nloggers == 0 || !logger) return lvl >= g_sink.level;
  return lvl >= logger_threshold(logger);
}

/* One record = one write() under the lock, retried on EINTR, partial writes and
 * EAGAIN (non-blocking stdout), so records from threads never interleave. A reader
 * that went away (EPIPE) or a bad fd closes the sink for good; other errors drop
 * the record. */
static void write_locked(const char *data, size_t len) {
  size_t off = 0;
  while (off < len && !bt_log_closed()) {
    ssize_t w = write(g_sink.fd, data + off, len - off);
    if (w > 0) {
      off += (size_t)w;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      struct pollfd pfd = {.fd = g_sink.fd, .events = POLLOUT};
      if (poll(&pfd, 1, -1) >= 0 || errno == EINTR) continue;
    }
    if (w < 0 && (errno == EPIPE || errno == EBADF)) atomic_store(&g_sink.closed, true);
    atomic_fetch_add(&g_sink.dropped, 1);
    break;
  }
}

#define CLEAR_LINE "\r\033[K"

/* A record (or printed text) goes above the status line: take the line away, write,
 * draw it again below. */
static void sink_write(const char *data, size_t len) {
  pthread_mutex_lock(&g_sink.write_lock);
  bool status = g_sink.status[0] != 0;
  if (status) write_locked(CLEAR_LINE, sizeof CLEAR_LINE - 1);
  write_locked(data, len);
  if (status) write_locked(g_sink.status, strlen(g_sink.status));
  pthread_mutex_unlock(&g_sink.write_lock);
}

bool bt_log_status_supported(void) {
  return g_sink.tty && g_sink.resolved == BT_LOG_FORMAT_CONSOLE && !bt_log_closed();
}

int bt_log_columns(void) {
  struct winsize ws;
  if (ioctl(g_sink.fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  const char *env = getenv("COLUMNS");
  int n = env ? atoi(env) : 0;
  return n > 0 ? n : 80;
}

void bt_log_status(const char *text) {
  if (!bt_log_status_supported() && !g_sink.status[0]) return;
  pthread_mutex_lock(&g_sink.write_lock);
  if (text && *text) {
    /* one column short of the width: a full line would wrap on some terminals */
    int room = bt_log_columns() - 1;
    if (room < 1) room = 1;
    if (room > (int)sizeof g_sink.status - 1) room = (int)sizeof g_sink.status - 1;
    snprintf(g_sink.status, (size_t)room + 1, "%s", text);
    write_locked("\r", 1);
    write_locked(g_sink.status, strlen(g_sink.status));
    write_locked("\033[K", 3);
  } else if (g_sink.status[0]) {
    g_sink.status[0] = 0;
    write_locked(CLEAR_LINE, sizeof CLEAR_LINE - 1);
  }
  pthread_mutex_unlock(&g_sink.write_lock);
}

void bt_log_print(const char *text, size_t n) {
  if (!bt_log_closed()) sink_write(text, n);
}



/* ------------------------------------------------------ per-thread state ----- */

struct bt_log_ctx {
  bt_field *f;   /* keys and string values are owned heap copies */
  size_t n, cap;
};

typedef struct {
  struct bt_log_ctx ctx;
  bt_json_buf buf, scratch;
  int64_t ts_sec;
  char ts_prefix[24]; /* "YYYY-MM-DDTHH:MM:SS" of ts_sec */
} tls_state;

static _Thread_local tls_state *t_state;
static pthread_key_t g_tls_key;
static pthread_once_t g_tls_once = PTHREAD_ONCE_INIT;

static void ctx_free_entries(struct bt_log_ctx *c) {
  for (size_t i = 0; i < c->n; i++) {
    free((char *)c->f[i].key);
    if (c->f[i].type == BT_F_STR_T || c->f[i].type == BT_F_JSON_T) free((char *)c->f[i].v.s);
  }
  free(c->f);
  memset(c, 0, sizeof *c);
}

static void tls_destroy(void *p) {
  tls_state *t = p;
  ctx_free_entries(&t->ctx);
  bt_json_free(&t->buf);
  bt_json_free(&t->scratch);
  free(t);
  t_state = NULL;
}

static void tls_key_init(void) { pthread_key_create(&g_tls_key, tls_destroy); }

/* The per-thread context and buffers, created on first use and freed at thread exit. */
static tls_state *tls(void) {
  if (t_state) return t_state;
  pthread_once(&g_tls_once, tls_key_init);
  tls_state *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  t->ts_sec = -1;
  pthread_setspecific(g_tls_key, t);
  return t_state = t;
}

static bool copy_field(bt_field *dst, const bt_field *src) {
  *dst = *src;
  dst->key = strdup(src->key);
  if (!dst->key) return false;
  if ((src->type == BT_F_STR_T || src->type == BT_F_JSON_T) && src->v.s) {
    dst->v.s = strdup(src->v.s);
    if (!dst->v.s) {
      free((char *)dst->key);
      return false;
    }
  }
  return true;
}

static void free_field(bt_field *f) {
  free((char *)f->key);
  if (f->type == BT_F_STR_T || f->type == BT_F_JSON_T) free((char *)f->v.s);
}

void bt_log_bind(const bt_field *fields, size_t n) {
  tls_state *t = tls();
  if (!t) return;
  struct bt_log_ctx *c = &t->ctx;
  for (size_t i = 0; i < n && fields[i].type != BT_F_END; i++) {
    if (!fields[i].key) continue;
    size_t j = 0;
    while (j < c->n && strcmp(c->f[j].key, fields[i].key) != 0) j++;
    bt_field nf;
    if (!copy_field(&nf, &fields[i])) continue;
    if (j < c->n) {
      free_field(&c->f[j]);
      c->f[j] = nf;
      continue;
    }
    if (BT_GROW(c->f, c->cap, c->n + 1)) {
      free_field(&nf);
      continue;
    }
    c->f[c->n++] = nf;
  }
}

void bt_log_unbind(const char *key) {
  tls_state *t = key ? tls() : NULL;
  if (!t) return;
  struct bt_log_ctx *c = &t->ctx;
  for (size_t j = 0; j < c->n; j++) {
    if (strcmp(c->f[j].key, key) != 0) continue;
    free_field(&c->f[j]);
    memmove(&c->f[j], &c->f[j + 1], (c->n - j - 1) * sizeof *c->f);
    c->n--;
    return;
  }
}

void bt_log_clear_context(void) {
  tls_state *t = tls();
  if (t) ctx_free_entries(&t->ctx);
}

bt_log_ctx *bt_log_save(void) {
  tls_state *t = tls();
  bt_log_ctx *s = calloc(1, sizeof *s);
  if (!t || !s) return free(s), NULL;
  if (t->ctx.n) {
    s->f = malloc(t->ctx.n * sizeof *s->f);
    if (!s->f) return free(s), NULL;
  }
  for (size_t i = 0; i < t->ctx.n; i++) {
    if (!copy_field(&s->f[s->n], &t->ctx.f[i])) {
      ctx_free_entries(s);
      free(s);
      return NULL;
    }
    s->n++;
  }
  s->cap = s->n;
  return s;
}

void bt_log_ctx_free(bt_log_ctx *saved) {
  if (!saved) return;
  ctx_free_entries(saved);
  free(saved);
}

void bt_log_restore(bt_log_ctx *saved) {
  if (!saved) return;
  tls_state *t = tls();
  if (!t) {
    bt_log_ctx_free(saved);
    return;
  }
  ctx_free_entries(&t->ctx);
  t->ctx = *saved;
  free(saved);
}

size_t bt_log_context(const bt_field **fields) {
  tls_state *t = tls();
  *fields = t ? t->ctx.f : NULL;
  return t ? t->ctx.n : 0;
}

/* ------------------------------------------------------------ rendering ----- */

static void put_timestamp(tls_state *t) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (ts.tv_sec != t->ts_sec) {
    struct tm tm;
    time_t sec = ts.tv_sec;
    gmtime_r(&sec, &tm);
    strftime(t->ts_prefix, sizeof t->ts_prefix, "%Y-%m-%dT%H:%M:%S", &tm);
    t->ts_sec = ts.tv_sec;
  }
  char ms[6] = {'.', 0, 0, 0, 'Z', 0};
  long m = ts.tv_nsec / 1000000;
  ms[1] = (char)('0' + m / 100), ms[2] = (char)('0' + m / 10 % 10), ms[3] = (char)('0' + m % 10);
  bt_json_put(&t->buf, t->ts_prefix, strlen(t->ts_prefix));
  bt_json_put(&t->buf, ms, 5);
}

static bool reserved_key(const char *k) {
  if (k[0] != 't' && k[0] != 'l' && k[0] != 'e') return false;
  return !strcmp(k, "timestamp") || !strcmp(k, "level") || !strcmp(k, "event") ||
         !strcmp(k, "logger");
}

/* A field key; keys that would collide with the fixed ones get a '_' prefix. */
static void put_key(bt_json_buf *b, const char *k, bool json) {
  if (json) bt_json_putc(b, '"');
  if (reserved_key(k)) bt_json_putc(b, '_');
  bt_json_escape(b, k, strlen(k));
  if (json) BT_JSON_PUTS(b, "\":");
  else bt_json_putc(b, '=');
}

static void put_value(tls_state *t, const bt_field *f) {
  bt_json_buf *b = &t->buf;
  if (bt_log_secret_key(f->key, strlen(f->key)) && f->type != BT_F_NULL_T) {
    BT_JSON_PUTS(b, "\"[REDACTED]\"");
    return;
  }
  switch (f->type) {
  case BT_F_STR_T:
    if (f->v.s) bt_log_json_str(b, f->v.s, strlen(f->v.s));
    else BT_JSON_PUTS(b, "null");
    break;
  case BT_F_INT_T: bt_json_int(b, f->v.i); break;
  case BT_F_DBL_T: bt_json_dbl(b, f->v.d); break;
  case BT_F_BOOL_T:
    if (f->v.b) BT_JSON_PUTS(b, "true");
    else BT_JSON_PUTS(b, "false");
    break;
  case BT_F_JSON_T:
    if (f->v.s) log_put_json_value(b, &t->scratch, f->v.s);
    else BT_JSON_PUTS(b, "null");
    break;
  default: BT_JSON_PUTS(b, "null");
  }
}

/* Console values: bare when the rendered string needs no quoting, else JSON-quoted. */
static void put_console_value(tls_state *t, const bt_field *f) {
  bt_json_buf *b = &t->buf;
  size_t start = b->len;
  put_value(t, f);
  if (b->failed || b->len - start < 3 || b->data[start] != '"') return;
  for (size_t i = start + 1; i + 1 < b->len; i++) {
    unsigned char c = (unsigned char)b->data[i];
    if (c <= ' ' || c == '"' || c == '\\' || c == '=' || c == 0x7f) return;
  }
  memmove(b->data + start, b->data + start + 1, b->len - start - 2);
  b->len -= 2;
  b->data[b->len] = 0;
}

static size_t nfields_used(const bt_field *fields, size_t n) {
  size_t i = 0;
  while (i < n && fields[i].type != BT_F_END) i++;
  return i;
}

static bool has_key(const bt_field *fields, size_t from, size_t n, const char *key) {
  for (size_t i = from; i < n; i++)
    if (fields[i].key && strcmp(fields[i].key, key) == 0) return true;
  return false;
}

/* Visit the record's fields in output order: bound context (unless a call-site field
 * has the same key), then call-site fields (the last of duplicate keys wins). */
#define FOR_EACH_FIELD(t, fields, n, f, BODY)                                        \
  do {                                                                               \
    for (size_t i_ = 0; i_ < (t)->ctx.n; i_++) {                                     \
      const bt_field *f = &(t)->ctx.f[i_];                                           \
      if (has_key((fields), 0, (n), f->key)) continue;                               \
      BODY                                                                           \
    }                                                                                \
    for (size_t i_ = 0; i_ < (n); i_++) {                                            \
      const bt_field *f = &(fields)[i_];                                             \
      if (!f->key || has_key((fields), i_ + 1, (n), f->key)) continue;               \
      BODY                                                                           \
    }                                                                                \
  } while (0)

static void render_json(tls_state *t, const char *logger, bt_log_level lvl, const char *event,
                        const bt_field *fields, size_t n) {
  bt_json_buf *b = &t->buf;
  BT_JSON_PUTS(b, "{\"timestamp\":\"");
  put_timestamp(t);
  BT_JSON_PUTS(b, "\",\"level\":\"");
  const char *ln = bt_log_level_name(lvl);
  bt_json_put(b, ln, strlen(ln));
  BT_JSON_PUTS(b, "\",\"event\":");
  bt_log_json_str(b, event, strlen(event));
  BT_JSON_PUTS(b, ",\"logger\":");
  bt_log_json_str(b, logger, strlen(logger));
  FOR_EACH_FIELD(t, fields, n, f, {
    if (f->show == BT_F_SHOW_TEXT) continue; /* the console's words for what JSON holds */
    bt_json_putc(b, ',');
    put_key(b, f->key, true);
    put_value(t, f);
  });
  BT_JSON_PUTS(b, "}\n");
}

#define ANSI(code) (g_sink.color ? "\033[" code "m" : "")

static void put_str(bt_json_buf *b, const char *s) { bt_json_put(b, s, strlen(s)); }

static void pad_to(bt_json_buf *b, size_t from, size_t width) {
  for (size_t w = b->len - from; w < width; w++) bt_json_putc(b, ' ');
}

/* A human traceback under the record: "  type: message" then "    at file:line in fn". */
static void put_console_exception(bt_json_buf *b, const char *json) {
  cJSON *ex = cJSON_Parse(json);
  if (!ex) return;
  const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(ex, "type"));
  const char *msg = cJSON_GetStringValue(cJSON_GetObjectItem(ex, "message"));
  put_str(b, "\n    ");
  put_str(b, ANSI("1;31"));
  log_escape_redacted(b, type ? type : "error", strlen(type ? type : "error"));
  put_str(b, ANSI("0"));
  put_str(b, ": ");
  if (msg) log_escape_redacted(b, msg, strlen(msg));
  const cJSON *fr;
  cJSON_ArrayForEach(fr, cJSON_GetObjectItem(ex, "frames")) {
    const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(fr, "source"));
    const char *fn = cJSON_GetStringValue(cJSON_GetObjectItem(fr, "function"));
    const cJSON *line = cJSON_GetObjectItem(fr, "line");
    put_str(b, "\n      at ");
    if (src) bt_json_escape(b, src, strlen(src));
    if (cJSON_IsNumber(line)) bt_json_putc(b, ':'), bt_json_int(b, (int64_t)line->valuedouble);
    if (fn) put_str(b, " in "), bt_json_escape(b, fn, strlen(fn));
  }
  cJSON_Delete(ex);
}

/* The run identity bound to every record of a run: in JSON for machines; a person at
 * the console knows which run it is watching, and the ids would fill the line. */
static bool identity_key(const char *k) {
  return !strcmp(k, "correlation_id") || !strcmp(k, "run_id") || !strcmp(k, "strategy_id") ||
         !strcmp(k, "user_id");
}

/* "HH:MM:SS level event key=value ..." for a person: time of day (UTC), no logger, no
 * bound run identity, no JSON-only fields; a record with a text field prints the text
 * instead of its event name. */
static void render_console(tls_state *t, bt_log_level lvl, const char *event,
                           const bt_field *fields, size_t n) {
  static const char *const lvl_color[] = {"34", "32", "33", "1;31"};
  static const char *const lvl_name[] = {"debug", "info", "warn", "error"};
  bt_json_buf *b = &t->buf;
  int li = lvl >= BT_LOG_ERROR ? 3 : lvl >= BT_LOG_WARNING ? 2 : lvl >= BT_LOG_INFO ? 1 : 0;
  put_str(b, ANSI("2"));
  size_t col = b->len;
  put_timestamp(t); /* the full stamp keeps the per-second cache fresh; show HH:MM:SS */
  if (!b->failed) memmove(b->data + col, b->data + col + 11, 8), b->len = col + 8;
  put_str(b, ANSI("0"));
  bt_json_putc(b, ' ');
  if (g_sink.color) BT_JSON_PUTS(b, "\033["), put_str(b, lvl_color[li]), bt_json_putc(b, 'm');
  col = b->len;
  put_str(b, lvl_name[li]);
  pad_to(b, col, 5);
  put_str(b, ANSI("0"));
  bool text = false;
  for (size_t i = 0; i < n; i++) {
    if (fields[i].show != BT_F_SHOW_TEXT || !fields[i].v.s) continue;
    bt_json_putc(b, ' ');
    log_escape_redacted(b, fields[i].v.s, strlen(fields[i].v.s));
    text = true;
  }
  if (!text) {
    bt_json_putc(b, ' ');
    put_str(b, ANSI("1"));
    bt_json_escape(b, event, strlen(event));
    put_str(b, ANSI("0"));
  }
  const char *exception = NULL;
  FOR_EACH_FIELD(t, fields, n, f, {
    if (f->show != BT_F_SHOW_ALL) continue;
    if (f >= t->ctx.f && f < t->ctx.f + t->ctx.n && identity_key(f->key)) continue;
    if (f->type == BT_F_JSON_T && f->v.s && !strcmp(f->key, "exception") && !exception) {
      exception = f->v.s;
      continue;
    }
    bt_json_putc(b, ' ');
    put_str(b, ANSI("36"));
    put_key(b, f->key, false);
    put_str(b, ANSI("0"));
    put_console_value(t, f);
  });
  if (exception) put_console_exception(b, exception);
  bt_json_putc(b, '\n');
}

void bt_log_write(const char *logger, bt_log_level lvl, const char *event,
                  const bt_field *fields, size_t nfields) {
  if (!logger) logger = "btrun";
  if (!bt_log_enabled(logger, lvl)) return;
  tls_state *t = tls();
  if (!t) {
    atomic_fetch_add(&g_sink.dropped, 1);
    return;
  }
  bt_json_buf *b = &t->buf;
  b->len = 0;
  b->failed = false;
  t->scratch.failed = false;
  size_t n = fields ? nfields_used(fields, nfields) : 0;
  if (!event) event = "log";
  if (g_sink.resolved == BT_LOG_FORMAT_CONSOLE) render_console(t, lvl, event, fields, n);
  else render_json(t, logger, lvl, event, fields, n);
  if (b->failed) atomic_fetch_add(&g_sink.dropped, 1);
  else sink_write(b->data, b->len);
  /* Keep the common buffer; give back the rare huge one. */
  if (b->cap > BUF_KEEP_MAX) bt_json_free(b);
  if (t->scratch.cap > BUF_KEEP_MAX) bt_json_free(&t->scratch);
}

