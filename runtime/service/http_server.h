/* http_server.h - the service's HTTP/1.1 front: GNU libmicrohttpd with a thread pool on
 * epoll, complete requests handed to one handler function.
 *
 * The server owns what every request has in common: the body (accumulated up to a
 * limit, 413 past it), the correlation id (X-Correlation-ID reused when it is 1..100
 * printable ASCII characters, otherwise a new UUID and a warning), the response headers
 * (Content-Type, X-Correlation-ID), one `http_request` log record per request and the
 * request metrics. The handler runs on a pool thread with correlation_id bound in the
 * log context, and must return quickly: nothing slow (a backtest) runs here.
 * Connections idle or trickling longer than the timeout are closed (slowloris). */
#ifndef BT_HTTP_SERVER_H
#define BT_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "svc_metrics.h"

#define BT_HTTP_CID_MAX 100 /* longest X-Correlation-ID reused as is */

typedef struct bt_http_request bt_http_request;

const char *bt_http_method(const bt_http_request *r);
const char *bt_http_path(const bt_http_request *r);     /* without the query string */
const char *bt_http_header(const bt_http_request *r, const char *name); /* NULL if absent */
/* The query argument, NULL when absent. */
const char *bt_http_query(const bt_http_request *r, const char *name);
/* Calls fn for every query argument (to refuse unknown ones); stops at a non-zero return. */
int bt_http_query_each(const bt_http_request *r, int (*fn)(void *ud, const char *key), void *ud);
const char *bt_http_body(const bt_http_request *r, size_t *len);
const char *bt_http_correlation_id(const bt_http_request *r);
/* The authenticated or stated user, for the request's log line (copied). */
void bt_http_set_user(bt_http_request *r, const char *user_id);

typedef struct bt_http_response {
  int status;
  char *body;                 /* heap, taken over by the server; NULL = empty */
  size_t len;
  bool has_fd;                /* send the file fd (fd_size bytes) instead of body; the
                                 server closes it */
  int fd;
  uint64_t fd_size;
  const char *content_type;   /* NULL = application/json */
  const char *headers[4][2];  /* extra headers (Location, WWW-Authenticate, ...) */
  char location[160];         /* storage for a Location value */
} bt_http_response;

/* Fill resp with {"error":{"type","message","field"}} (field NULL renders null). */
void bt_http_error(bt_http_response *resp, int status, const char *type, const char *field,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Fill resp with a JSON body and status (json is consumed). */
struct cJSON;
void bt_http_json(bt_http_response *resp, int status, struct cJSON *json);

typedef void (*bt_http_handler)(void *ud, bt_http_request *req, bt_http_response *resp);

typedef struct bt_http_opts {
  char listen[128];           /* "HOST:PORT", "[V6]:PORT"; port 0 = any free port */
  int threads;                /* pool size (>= 1) */
  size_t max_body;            /* bytes; larger bodies get 413 */
  unsigned timeout_s;         /* idle/partial connection timeout */
} bt_http_opts;

typedef struct bt_http_stats {
  bt_svc_status_counts by_status;
  bt_svc_hist duration;
} bt_http_stats;

typedef struct bt_http_server bt_http_server;

/* Resolve and check a listen address: *loopback tells whether it is 127/8 or ::1. */
int bt_http_parse_listen(const char *listen, bool *loopback, bt_err *err);
/* Bind and start serving. */
bt_http_server *bt_http_start(const bt_http_opts *o, bt_http_handler h, void *ud, bt_err *err);
int bt_http_port(const bt_http_server *s);        /* the bound port */
const bt_http_stats *bt_http_get_stats(const bt_http_server *s);
/* Stop accepting new connections (requests in flight still finish). */
void bt_http_quiesce(bt_http_server *s);
void bt_http_stop(bt_http_server *s);

#endif
