#include "http_server.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "run.h"

struct bt_http_server {
  struct MHD_Daemon *d;
  bt_http_handler handler;
  void *ud;
  size_t max_body;
  bt_http_stats stats;
};

struct bt_http_request {
  bt_http_server *srv;
  struct MHD_Connection *conn;
  uint64_t start_ns;
  bool seen;          /* the headers-only first call happened */
  bool too_big;
  int status;         /* of the queued response, 0 = none */
  char *body;
  size_t len, cap;
  char method[16];
  char path[256];     /* for the log line; the handler gets MHD's own copy */
  char cid[BT_HTTP_CID_MAX + 1];
  char user[128];
};

/* ---- request accessors ------------------------------------------------------------- */

const char *bt_http_method(const bt_http_request *r) { return r->method; }
const char *bt_http_path(const bt_http_request *r) { return r->path; }
const char *bt_http_correlation_id(const bt_http_request *r) { return r->cid; }

const char *bt_http_header(const bt_http_request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *bt_http_query(const bt_http_request *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

typedef struct query_iter {
  int (*fn)(void *ud, const char *key);
  void *ud;
  int rc;
} query_iter;

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key,
                                const char *value) {
  (void)kind, (void)value;
  query_iter *it = cls;
  it->rc = it->fn(it->ud, key);
  return it->rc ? MHD_NO : MHD_YES;
}

int bt_http_query_each(const bt_http_request *r, int (*fn)(void *ud, const char *key),
                       void *ud) {
  query_iter it = {fn, ud, 0};
  MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
  return it.rc;
}

const char *bt_http_body(const bt_http_request *r, size_t *len) {
  *len = r->len;
  return r->body ? r->body : "";
}

void bt_http_set_user(bt_http_request *r, const char *user_id) {
  snprintf(r->user, sizeof r->user, "%s", user_id ? user_id : "");
}

/* ---- responses --------------------------------------------------------------------- */

void bt_http_json(bt_http_response *resp, int status, cJSON *json) {
  resp->status = status;
  resp->body = json ? cJSON_PrintUnformatted(json) : NULL;
  resp->len = resp->body ? strlen(resp->body) : 0;
  cJSON_Delete(json);
  if (json && !resp->body) {  /* out of memory while printing */
    resp->status = 500;
    resp->len = 0;
  }
}

void bt_http_error(bt_http_response *resp, int status, const char *type, const char *field,
                   const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cJSON *root = cJSON_CreateObject(), *e = cJSON_AddObjectToObject(root, "error");
  cJSON_AddStringToObject(e, "type", type);
  cJSON_AddStringToObject(e, "message", msg);
  if (field) cJSON_AddStringToObject(e, "field", field);
  else cJSON_AddNullToObject(e, "field");
  free(resp->body);
  resp->body = NULL;
  bt_http_json(resp, status, root);
}

static enum MHD_Result send_response(bt_http_request *r, bt_http_response *resp) {
  struct MHD_Response *m =
      resp->has_fd ? MHD_create_response_from_fd64(resp->fd_size, resp->fd)
      : resp->body ? MHD_create_response_from_buffer(resp->len, resp->body, MHD_RESPMEM_MUST_FREE)
                   : MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
  if (!m) {
    if (resp->has_fd) close(resp->fd);
    free(resp->body);
    return MHD_NO;
  }
  MHD_add_response_header(m, MHD_HTTP_HEADER_CONTENT_TYPE,
                          resp->content_type ? resp->content_type : "application/json");
  MHD_add_response_header(m, "X-Correlation-ID", r->cid);
  for (size_t i = 0; i < sizeof resp->headers / sizeof resp->headers[0]; i++)
    if (resp->headers[i][0]) MHD_add_response_header(m, resp->headers[i][0], resp->headers[i][1]);
  enum MHD_Result rc = MHD_queue_response(r->conn, (unsigned)resp->status, m);
  MHD_destroy_response(m);
  if (rc == MHD_YES) r->status = resp->status;
  return rc;
}

/* ---- correlation id ---------------------------------------------------------------- */

static bool cid_ok(const char *s) {
  size_t n = 0;
  for (; s[n]; n++)
    if ((unsigned char)s[n] < 0x20 || (unsigned char)s[n] > 0x7e || n >= BT_HTTP_CID_MAX)
      return false;
  return n > 0;
}

static void take_correlation_id(bt_http_request *r) {
  const char *h = bt_http_header(r, "X-Correlation-ID");
  if (h && cid_ok(h)) {
    snprintf(r->cid, sizeof r->cid, "%s", h);
    return;
  }
  bt_uuid(r->cid);
  /* An empty header counts as absent. The rejected value is not logged: it may be
   * anything, including a secret pasted into the wrong header. */
  if (h && *h)
    bt_log("http", BT_LOG_WARNING, "correlation_id_replaced", BT_F_STR("correlation_id", r->cid),
           BT_F_INT("length", (int64_t)strlen(h)),
           BT_F_STR("reason", "not 1..100 printable ASCII characters"));
}

/* ---- MHD callbacks ----------------------------------------------------------------- */

/* Called once the request line is read, before headers: the request's start, so a
 * connection that times out in its headers still ends in on_completed. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  bt_http_request *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->srv = cls;
  r->conn = conn;
  r->start_ns = bt_now_ns();
  size_t n = strcspn(uri, "?");
  if (n >= sizeof r->path) n = sizeof r->path - 1;
  memcpy(r->path, uri, n);
  return r;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **con_cls) {
  (void)url, (void)version, (void)conn;
  bt_http_server *s = cls;
  bt_http_request *r = *con_cls;
  if (!r) return MHD_NO; /* on_uri ran out of memory */
  if (!r->seen) {
    /* Headers only. Replying here would make MHD close the connection (no keep-alive)
     * for every request, so only a body known to be too large is answered now. */
    r->seen = true;
    snprintf(r->method, sizeof r->method, "%s", method);
    take_correlation_id(r);
    const char *cl = bt_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > s->max_body) {
      bt_http_response resp = {0};
      bt_http_error(&resp, 413, "payload_too_large", NULL, "request body over %zu bytes",
                    s->max_body);
      return send_response(r, &resp);
    }
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->too_big || r->len + n > s->max_body) {
      r->too_big = true;  /* chunked upload past the limit: drain, answer 413 at the end */
      return MHD_YES;
    }
    if (BT_GROW(r->body, r->cap, r->len + n + 1)) return MHD_NO;
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    r->body[r->len] = '\0';
    return MHD_YES;
  }
  if (r->status) return MHD_YES; /* already answered (413 on Content-Length) */
  bt_http_response resp = {0};
  if (r->too_big) {
    bt_http_error(&resp, 413, "payload_too_large", NULL, "request body over %zu bytes",
                  s->max_body);
  } else {
    bt_field f = BT_F_STR("correlation_id", r->cid);
    bt_log_bind(&f, 1);
    s->handler(s->ud, r, &resp);
    bt_log_clear_context();
  }
  return send_response(r, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  (void)conn;
  bt_http_server *s = cls;
  bt_http_request *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  uint64_t us = (bt_now_ns() - r->start_ns) / 1000;
  if (r->status) {
    bt_svc_status_count(&s->stats.by_status, r->status);
    bt_svc_hist_observe(&s->stats.duration, us);
    bt_log("http", BT_LOG_INFO, "http_request", BT_F_STR("method", r->method),
           BT_F_STR("path", r->path), BT_F_INT("status_code", r->status),
           BT_F_DBL("duration_ms", (double)us / 1000.0), BT_F_STR("correlation_id", r->cid),
           r->user[0] ? BT_F_STR("user_id", r->user) : BT_F_NULL("user_id"));
  } else {
    /* No answer was sent: the client went away or the connection timed out while
     * the request was still arriving (a slowloris client ends here). */
    const char *why = toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? "timeout"
                      : toe == MHD_REQUEST_TERMINATED_CLIENT_ABORT ? "client_abort"
                                                                   : "error";
    bt_log("http", BT_LOG_WARNING, "http_request_aborted", BT_F_STR("reason", why),
           BT_F_STR("method", r->method[0] ? r->method : NULL), BT_F_STR("path", r->path),
           BT_F_DBL("duration_ms", (double)us / 1000.0),
           BT_F_STR("correlation_id", r->cid[0] ? r->cid : NULL));
  }
  free(r->body);
  free(r);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) msg[--n] = '\0';
  bt_log("http", BT_LOG_DEBUG, "http_server_message", BT_F_STR("message", msg));
}

/* ---- listen address ---------------------------------------------------------------- */

typedef struct listen_addr {
  struct sockaddr_storage sa;
  bool v6, loopback;
} listen_addr;

static int resolve_listen(const char *listen, listen_addr *out, bt_err *err) {
  char host[128];
  const char *colon;
  if (listen[0] == '[') {
    const char *close = strchr(listen, ']');
    if (!close || close[1] != ':')
      return bt_errf_at(err, BT_EINVAL, "config_error", "", 0, "listen",
                        "listen: want [IPV6]:PORT, got \"%s\"", listen);
    snprintf(host, sizeof host, "%.*s", (int)(close - listen - 1), listen + 1);
    colon = close + 1;
  } else {
    colon = strrchr(listen, ':');
    if (!colon || colon == listen)
      return bt_errf_at(err, BT_EINVAL, "config_error", "", 0, "listen",
                        "listen: want HOST:PORT, got \"%s\"", listen);
    snprintf(host, sizeof host, "%.*s", (int)(colon - listen), listen);
  }
  char *end;
  long port = strtol(colon + 1, &end, 10);
  if (!colon[1] || *end || port < 0 || port > 65535)
    return bt_errf_at(err, BT_EINVAL, "config_error", "", 0, "listen",
                      "listen: bad port in \"%s\"", listen);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai;
  int rc = getaddrinfo(host, NULL, &hints, &ai);
  if (rc)
    return bt_errf_at(err, BT_EINVAL, "config_error", "", 0, "listen",
                      "listen: cannot resolve \"%s\": %s", host, gai_strerror(rc));
  memset(out, 0, sizeof *out);
  memcpy(&out->sa, ai->ai_addr, ai->ai_addrlen);
  freeaddrinfo(ai);
  if (out->sa.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&out->sa;
    a->sin6_port = htons((uint16_t)port);
    out->v6 = true;
    out->loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&out->sa;
    a->sin_port = htons((uint16_t)port);
    out->loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
  }
  return 0;
}

int bt_http_parse_listen(const char *listen, bool *loopback, bt_err *err) {
  listen_addr a = {0};
  if (resolve_listen(listen, &a, err)) return err->code;
  *loopback = a.loopback;
  return 0;
}

/* ---- lifecycle --------------------------------------------------------------------- */

bt_http_server *bt_http_start(const bt_http_opts *o, bt_http_handler h, void *ud, bt_err *err) {
  listen_addr a = {0};
  if (resolve_listen(o->listen, &a, err)) return NULL;
  bt_http_server *s = calloc(1, sizeof *s);
  if (!s) {
    bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    return NULL;
  }
  s->handler = h;
  s->ud = ud;
  s->max_body = o->max_body;
  /* TURBO: read/write/accept before asking epoll (most requests are answered at once). */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO |
                   MHD_USE_ITC | MHD_USE_ERROR_LOG | (a.v6 ? MHD_USE_IPv6 : 0);
  s->d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_access, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&a.sa,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)(o->threads > 0 ? o->threads : 1),
      MHD_OPTION_CONNECTION_TIMEOUT, o->timeout_s, MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
      MHD_OPTION_END);
  if (!s->d) {
    free(s);
    bt_errf_at(err, BT_EIO, "listen_error", "", 0, "listen",
               "cannot listen on %s (address in use or not available)", o->listen);
    return NULL;
  }
  return s;
}

int bt_http_port(const bt_http_server *s) {
  const union MHD_DaemonInfo *i = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
  return i ? i->port : 0;
}

const bt_http_stats *bt_http_get_stats(const bt_http_server *s) { return &s->stats; }

void bt_http_quiesce(bt_http_server *s) {
  MHD_socket fd = MHD_quiesce_daemon(s->d);
  if (fd != MHD_INVALID_SOCKET) close(fd);
}

void bt_http_stop(bt_http_server *s) {
  if (!s) return;
  MHD_stop_daemon(s->d);
  free(s);
}
