/* pg_conn.h - one PostgreSQL connection (libpq) for btrun: opened from a postgresql://
 * URL (or a libpq key=value string) plus libpq's usual environment (PGHOST, PGPORT,
 * PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSERVICE, ~/.pgpass, ...), TLS exactly as
 * libpq does it (sslmode in the URL or PGSSLMODE).
 *
 * Secrets: the password never leaves this module. bt_pg_url() is the URL with its
 * password replaced by "***"; every error message this module writes is scrubbed of
 * the password (also of PGPASSWORD's), so it is safe to log and to send to analytics.
 *
 * A connection is used by one thread at a time. When the server goes away (restart,
 * network), calls fail with BT_EIO and bt_pg_lost() is true; bt_pg_reconnect() tries
 * once, callers retry with backoff (bt_pg_backoff_ms). */
#ifndef BT_PG_CONN_H
#define BT_PG_CONN_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "common.h"

typedef struct bt_pg bt_pg;

/* True for postgresql://... and postgres://... */
bool bt_pg_is_url(const char *s);
/* Copy s (a URL, a key=value string or a message) with every password value replaced
 * by "***": user:PASS@ in a URL, password=PASS in a query string or key=value list. */
void bt_pg_redact(const char *s, char *out, size_t n);

/* Connect. url NULL or "" = libpq's environment only. On failure err says why, with the
 * redacted URL; *out is NULL. */
int bt_pg_open(bt_pg **out, const char *url, bt_err *err);
void bt_pg_close(bt_pg *pg);

PGconn *bt_pg_conn(bt_pg *pg);
const char *bt_pg_url(const bt_pg *pg);  /* redacted, for messages */

/* The connection is broken (server restart, network): reconnect before the next call. */
bool bt_pg_lost(bt_pg *pg);
/* Re-establish a lost connection (one attempt); 0 when connected again. */
int bt_pg_reconnect(bt_pg *pg, bt_err *err);
/* Delay before retry number attempt (0, 1, ...): 50 ms doubling up to 5 s, with jitter. */
int bt_pg_backoff_ms(int attempt);

/* Run statements that return no rows (several may be separated by ';'). */
int bt_pg_exec(bt_pg *pg, const char *sql, bt_err *err);
/* Run one parameterised statement ($1..$n as text, NULL = SQL NULL). Returns the result
 * (PQclear it) or NULL with err set. */
PGresult *bt_pg_query(bt_pg *pg, const char *sql, int n, const char *const *params, bt_err *err);
/* Fill err from a failed result or the connection (scrubbed); returns BT_EIO. what
 * names the operation ("claim a job"). */
int bt_pg_fail(bt_pg *pg, const PGresult *res, const char *what, bt_err *err);

#endif
