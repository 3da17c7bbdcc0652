/* analytics_http.h - one gzip'd JSON POST at a time through a libcurl multi handle.
 *
 * Owned by the sender thread. The thread sleeps in bt_an_http_wait (curl_multi_poll),
 * which returns on network activity, on timeout, or when another thread calls
 * bt_an_http_wakeup, so the sender needs no other condition variable. */
#ifndef BT_ANALYTICS_HTTP_H
#define BT_ANALYTICS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct bt_an_http bt_an_http;

typedef struct bt_an_http_result {
  int curl_code;          /* 0 (CURLE_OK) when an HTTP response arrived */
  long status;            /* HTTP status, 0 when none */
  int64_t retry_after_ms; /* Retry-After header, -1 when absent */
  char reason[256];       /* curl's error text, or the start of the response body */
} bt_an_http_result;

/* Process-wide libcurl init; call from the main thread before any client starts. */
void bt_an_http_global_init(void);

bt_an_http *bt_an_http_new(const char *url, int64_t timeout_ms, bt_err *err);
void bt_an_http_free(bt_an_http *h);
/* Gzip body and start POSTing it. Fails if a transfer is already running. */
int bt_an_http_start(bt_an_http *h, const char *body, size_t len, bt_err *err);
bool bt_an_http_busy(const bt_an_http *h);
/* Drive the transfer, sleeping at most timeout_ms. Returns 1 when it finished
 * (result in *r), else 0. */
int bt_an_http_wait(bt_an_http *h, int timeout_ms, bt_an_http_result *r);
void bt_an_http_wakeup(bt_an_http *h);  /* any thread */
void bt_an_http_abort(bt_an_http *h);   /* drop the running transfer */
/* gzip (RFC 1952) of in; heap result. */
int bt_an_gzip(const char *in, size_t len, unsigned char **out, size_t *outlen);

#endif
