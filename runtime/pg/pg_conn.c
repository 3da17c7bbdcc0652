/* pg_conn.c - see pg_conn.h. */
#include "pg_conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct bt_pg {
  PGconn *conn;
  char url[512];       /* redacted */
  char secret[2][256]; /* passwords to scrub from messages: the URL's, the one libpq used */
};

bool bt_pg_is_url(const char *s) {
  return s && (!strncmp(s, "postgresql://", 13) || !strncmp(s, "postgres://", 11));
}

typedef struct {
  char *p;
  size_t n, len;
} outbuf;

static void put(outbuf *o, const char *s, size_t k) {
  for (size_t i = 0; i < k && o->len + 1 < o->n; i++) o->p[o->len++] = s[i];
  if (o->n) o->p[o->len] = 0;
}

void bt_pg_redact(const char *s, char *out, size_t n) {
  outbuf o = {out, n, 0};
  if (n) out[0] = 0;
  if (!s) return;
  size_t i = 0, len = strlen(s);
  while (i < len) {
    if (!strncmp(s + i, "://", 3)) {
      /* The authority runs to the first '/', '?', '#' or space; user:password@ is in it. */
      size_t a = i + 3, end = a, at = 0, colon = 0;
      while (end < len && !strchr("/?# \t\n\"'", s[end])) end++;
      for (size_t j = a; j < end; j++)
        if (s[j] == '@') at = j;
      if (at)
        for (size_t j = a; j < at; j++)
          if (s[j] == ':') {
            colon = j;
            break;
          }
      if (colon) {
        put(&o, s + i, colon + 1 - i);
        put(&o, "***", 3);
        i = at;
      } else {
        put(&o, s + i, 3);
        i += 3;
      }
    } else if (!strncasecmp(s + i, "password=", 9)) {
      put(&o, s + i, 9);
      put(&o, "***", 3);
      i += 9;
      if (i < len && s[i] == '\'') { /* quoted key=value: up to the closing quote */
        for (i++; i < len && s[i] != '\''; i++)
          if (s[i] == '\\' && i + 1 < len) i++;
        if (i < len) i++;
      } else {
        while (i < len && !strchr("& \t\n\"", s[i])) i++;
      }
    } else {
      put(&o, s + i, 1);
      i++;
    }
  }
}

/* Replace every occurrence of the known passwords, then redact URL-shaped text. Short
 * passwords (< 4 characters) are left to the URL rule: replacing every "a" would garble
 * messages without hiding anything. */
static void scrub(const bt_pg *pg, const char *in, char *out, size_t n) {
  char tmp[1024];
  snprintf(tmp, sizeof tmp, "%s", in ? in : "");
  for (int k = 0; k < 2; k++) {
    const char *pw = pg->secret[k];
    size_t pl = strlen(pw);
    if (pl < 4) continue;
    char *hit;
    while ((hit = strstr(tmp, pw))) {
      memmove(hit + 3, hit + pl, strlen(hit + pl) + 1);
      memcpy(hit, "***", 3);
    }
  }
  size_t tl = strlen(tmp);
  while (tl && (tmp[tl - 1] == '\n' || tmp[tl - 1] == ' ')) tmp[--tl] = 0;
  bt_pg_redact(tmp, out, n);
}

static void remember_secret(char *dst, size_t n, const char *pw) {
  if (pw && *pw) snprintf(dst, n, "%s", pw);
}

static void quiet_notice(void *arg, const char *msg) {
  (void)arg;
  (void)msg; /* "schema ... already exists, skipping" and the like are not for users */
}

int bt_pg_open(bt_pg **out, const char *url, bt_err *err) {
  *out = NULL;
  bt_pg *pg = calloc(1, sizeof *pg);
  if (!pg) return bt_errf(err, BT_ENOMEM, "out_of_memory", "postgresql: out of memory");
  bool have_url = url && *url;
  if (have_url) bt_pg_redact(url, pg->url, sizeof pg->url);
  else snprintf(pg->url, sizeof pg->url, "postgresql:// (libpq environment)");
  if (have_url) {
    char *perr = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &perr);
    if (!opts) {
      char m[512];
      scrub(pg, perr ? perr : "out of memory", m, sizeof m);
      PQfreemem(perr);
      int rc = bt_errf(err, BT_EINVAL, "config_error", "postgresql: bad connection URL %s: %s",
                       pg->url, m);
      snprintf(err->field, sizeof err->field, "db");
      free(pg);
      return rc;
    }
    for (PQconninfoOption *o = opts; o->keyword; o++)
      if (!strcmp(o->keyword, "password")) remember_secret(pg->secret[0], sizeof pg->secret[0], o->val);
    PQconninfoFree(opts);
  }
  /* The URL's own settings win over these defaults (they come after, expanded). */
  const char *keys[4], *vals[4];
  int k = 0;
  keys[k] = "fallback_application_name", vals[k++] = "btrun";
  if (!getenv("PGCONNECT_TIMEOUT")) keys[k] = "connect_timeout", vals[k++] = "10";
  if (have_url) keys[k] = "dbname", vals[k++] = url;
  keys[k] = vals[k] = NULL;
  pg->conn = PQconnectdbParams(keys, vals, 1);
  if (!pg->conn) {
    free(pg);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "postgresql: out of memory");
  }
  remember_secret(pg->secret[1], sizeof pg->secret[1], PQpass(pg->conn));
  if (PQstatus(pg->conn) != CONNECTION_OK) {
    char m[800];
    scrub(pg, PQerrorMessage(pg->conn), m, sizeof m);
    int rc = bt_errf(err, BT_EIO, "db_error", "postgresql: cannot connect to %s: %s", pg->url, m);
    bt_pg_close(pg);
    return rc;
  }
  PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
  *out = pg;
  return 0;
}

void bt_pg_close(bt_pg *pg) {
  if (!pg) return;
  PQfinish(pg->conn);
  memset(pg->secret, 0, sizeof pg->secret);
  free(pg);
}

PGconn *bt_pg_conn(bt_pg *pg) { return pg->conn; }
const char *bt_pg_url(const bt_pg *pg) { return pg->url; }

bool bt_pg_lost(bt_pg *pg) { return PQstatus(pg->conn) != CONNECTION_OK; }

int bt_pg_reconnect(bt_pg *pg, bt_err *err) {
  PQreset(pg->conn);
  if (PQstatus(pg->conn) == CONNECTION_OK) {
    PQsetNoticeProcessor(pg->conn, quiet_notice, NULL);
    return 0;
  }
  char m[800];
  scrub(pg, PQerrorMessage(pg->conn), m, sizeof m);
  return bt_errf(err, BT_EIO, "db_error", "postgresql: cannot reconnect to %s: %s", pg->url, m);
}

int bt_pg_backoff_ms(int attempt) {
  int ms = 50;
  for (int i = 0; i < attempt && ms < 5000; i++) ms *= 2;
  if (ms > 5000) ms = 5000;
  /* Jitter (+-25%) so workers that lost the server together do not return together. */
  uint64_t r = bt_now_ns() * 0x9E3779B97F4A7C15ull;
  return ms * 3 / 4 + (int)((r >> 33) % (uint64_t)(ms / 2 + 1));
}

int bt_pg_fail(bt_pg *pg, const PGresult *res, const char *what, bt_err *err) {
  char m[800];
  scrub(pg, res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn), m, sizeof m);
  if (!m[0]) scrub(pg, PQerrorMessage(pg->conn), m, sizeof m);
  return bt_errf(err, BT_EIO, "db_error", "postgresql %s: %s: %s", pg->url, what, m);
}

int bt_pg_exec(bt_pg *pg, const char *sql, bt_err *err) {
  PGresult *r = PQexec(pg->conn, sql);
  ExecStatusType st = PQresultStatus(r);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : bt_pg_fail(pg, r, "exec", err);
  PQclear(r);
  return rc;
}

PGresult *bt_pg_query(bt_pg *pg, const char *sql, int n, const char *const *params, bt_err *err) {
  PGresult *r = PQexecParams(pg->conn, sql, n, NULL, params, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return r;
  bt_pg_fail(pg, r, "query", err);
  PQclear(r);
  return NULL;
}
