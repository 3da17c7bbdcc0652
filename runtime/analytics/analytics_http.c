#include "analytics_http.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

struct bt_an_http {
  CURLM *multi;
  CURL *easy; /* reused so the connection is kept alive between batches */
  struct curl_slist *headers;
  char url[1100];
  int64_t timeout_ms;
  bool busy;
  unsigned char *body;
  char resp[256];
  size_t resp_len;
  char errbuf[CURL_ERROR_SIZE];
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static void global_init(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }
/* curl_global_init is not thread-safe on older libcurl: once per process. */
void bt_an_http_global_init(void) { pthread_once(&global_once, global_init); }

int bt_an_gzip(const char *in, size_t len, unsigned char **out, size_t *outlen) {
  z_stream zs;
  memset(&zs, 0, sizeof zs);
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK)
    return -1;
  uLong cap = deflateBound(&zs, (uLong)len);
  unsigned char *buf = malloc(cap);
  if (!buf) {
    deflateEnd(&zs);
    return -1;
  }
  zs.next_in = (Bytef *)(uintptr_t)in;
  zs.avail_in = (uInt)len;
  zs.next_out = buf;
  zs.avail_out = (uInt)cap;
  int rc = deflate(&zs, Z_FINISH);
  *outlen = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) {
    free(buf);
    return -1;
  }
  *out = buf;
  return 0;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud) {
  bt_an_http *h = ud;
  size_t n = size * nmemb, room = sizeof h->resp - 1 - h->resp_len;
  size_t take = n < room ? n : room;
  memcpy(h->resp + h->resp_len, ptr, take);
  h->resp_len += take;
  h->resp[h->resp_len] = '\0';
  return n;
}

bt_an_http *bt_an_http_new(const char *url, int64_t timeout_ms, bt_err *err) {
  bt_an_http *h = calloc(1, sizeof *h);
  if (!h) {
    bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    return NULL;
  }
  snprintf(h->url, sizeof h->url, "%s", url);
  h->timeout_ms = timeout_ms;
  h->multi = curl_multi_init();
  h->easy = curl_easy_init();
  h->headers = curl_slist_append(NULL, "Content-Type: application/json");
  h->headers = curl_slist_append(h->headers, "Content-Encoding: gzip");
  h->headers = curl_slist_append(h->headers, "Expect:");
  h->headers = curl_slist_append(h->headers, "User-Agent: btrun/" BT_VERSION);
  if (!h->multi || !h->easy || !h->headers) {
    bt_an_http_free(h);
    bt_errf(err, BT_ENOMEM, "out_of_memory", "cannot initialise libcurl");
    return NULL;
  }
  return h;
}

void bt_an_http_free(bt_an_http *h) {
  if (!h) return;
  bt_an_http_abort(h);
  if (h->easy) curl_easy_cleanup(h->easy);
  if (h->multi) curl_multi_cleanup(h->multi);
  curl_slist_free_all(h->headers);
  free(h);
}

int bt_an_http_start(bt_an_http *h, const char *body, size_t len, bt_err *err) {
  if (h->busy) return bt_errf(err, BT_ESTATE, "analytics_error", "transfer already running");
  size_t zlen;
  if (bt_an_gzip(body, len, &h->body, &zlen))
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "gzip failed");
  CURL *e = h->easy;
  curl_easy_reset(e);
  curl_easy_setopt(e, CURLOPT_URL, h->url);
  curl_easy_setopt(e, CURLOPT_POST, 1L);
  curl_easy_setopt(e, CURLOPT_POSTFIELDS, (const char *)h->body);
  curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)zlen);
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, h->headers);
  curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(h->timeout_ms < 5000 ? h->timeout_ms : 5000));
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L); /* we run on a background thread */
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, h);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  h->errbuf[0] = '\0';
  h->resp_len = 0;
  h->resp[0] = '\0';
  if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
    free(h->body);
    h->body = NULL;
    return bt_errf(err, BT_EIO, "analytics_error", "curl_multi_add_handle failed");
  }
  h->busy = true;
  return 0;
}

bool bt_an_http_busy(const bt_an_http *h) { return h->busy; }

static int collect(bt_an_http *h, bt_an_http_result *r) {
  int left;
  CURLMsg *m;
  while ((m = curl_multi_info_read(h->multi, &left))) {
    if (m->msg != CURLMSG_DONE || m->easy_handle != h->easy) continue;
    memset(r, 0, sizeof *r);
    r->curl_code = (int)m->data.result;
    r->retry_after_ms = -1;
    if (m->data.result == CURLE_OK) {
      curl_easy_getinfo(h->easy, CURLINFO_RESPONSE_CODE, &r->status);
      curl_off_t ra = -1;
      /* libcurl parses both delta-seconds and HTTP-date forms. */
      if (curl_easy_getinfo(h->easy, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
        r->retry_after_ms = (int64_t)ra * 1000;
      snprintf(r->reason, sizeof r->reason, "%s", h->resp);
    } else {
      snprintf(r->reason, sizeof r->reason, "%s",
               h->errbuf[0] ? h->errbuf : curl_easy_strerror(m->data.result));
    }
    bt_an_http_abort(h);
    return 1;
  }
  return 0;
}

int bt_an_http_wait(bt_an_http *h, int timeout_ms, bt_an_http_result *r) {
  int running;
  if (h->busy) {
    curl_multi_perform(h->multi, &running);
    if (collect(h, r)) return 1;
  }
  curl_multi_poll(h->multi, NULL, 0, timeout_ms < 0 ? 0 : timeout_ms, NULL);
  if (!h->busy) return 0;
  curl_multi_perform(h->multi, &running);
  return collect(h, r);
}

void bt_an_http_wakeup(bt_an_http *h) { curl_multi_wakeup(h->multi); }

void bt_an_http_abort(bt_an_http *h) {
  if (h->busy) curl_multi_remove_handle(h->multi, h->easy);
  h->busy = false;
  free(h->body);
  h->body = NULL;
}
