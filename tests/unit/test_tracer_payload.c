/* Tracer payloads: flat payloads and JSON texts up to 4 KB travel inside their ring
 * record, longer texts as a heap copy; JSON texts are stored as they are, flat payloads
 * as their bytes, and both read back as the same JSON text. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "log.h"
#include "store.h"
#include "tracer.h"

#include "check.h"

#define N 6000 /* all of them fit in the ring (records of at most ~300 bytes here) */

static bt_err err;

/* The payload of event i, as the text it must be stored as; fills the flat form of
 * SIGNALs (kind 0), the JSON of PORTFOLIOs (1) and USERs (2, longer than a flat payload;
 * every other one longer than a ring record carries inline). */
static void expected(int i, char *json, size_t n, uint8_t *flat, size_t *flen) {
  int kind = i % 3;
  double x = i / 7.0;
  *flen = 0;
  if (kind == 0) {
    int64_t v = i;
    char s[24];
    int sl = snprintf(s, sizeof s, "s%d", i);
    CHECK(bt_flat_add(flat, flen, BT_FLAT_STR, "side", 4, s, (size_t)sl));
    CHECK(bt_flat_add(flat, flen, BT_FLAT_DBL, "fast", 4, &x, 8));
    CHECK(bt_flat_add(flat, flen, BT_FLAT_INT, "i", 1, &v, 8));
    bt_json_buf b = {0};
    size_t off = bt_flat_render_json(flat, *flen, &b);
    snprintf(json, n, "%s", b.data + off);
    bt_json_free(&b);
  } else if (kind == 1) {
    snprintf(json, n, "{\"cash\":\"%d.5\",\"position\":\"1.0\"}", i);
  } else {
    int k = snprintf(json, n, "{\"i\":%d,\"pad\":\"", i);
    int pad = i % 2 ? 150 : 5000;
    for (int j = 0; j < pad; j++) json[k++] = 'a' + j % 26;
    snprintf(json + k, n - (size_t)k, "\"}");
  }
}

int main(void) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  snprintf(cfg.store, sizeof cfg.store, "%s/tracer-payload-%d/events.db", tmp, (int)getpid());
  bt_tracer *t = NULL;
  if (bt_tracer_new(&t, &cfg, &err)) return fprintf(stderr, "%s\n", err.msg), 1;
  bt_run_observer obs = bt_tracer_observer(t);
  bt_bus *bus = bt_bus_new();
  bt_run_info info = {.origin = "test", .started_ms = 1};
  snprintf(info.run_id, sizeof info.run_id, "33333333-0000-4000-8000-000000000000");
  snprintf(info.correlation_id, sizeof info.correlation_id, "corr");
  snprintf(info.strategy_id, sizeof info.strategy_id, "payload");
  if (obs.on_start(obs.ud, &info, bus, &err)) return fprintf(stderr, "%s\n", err.msg), 1;

  /* Another connection holds the write lock: the writer stalls at its first insert, so
   * the whole burst sits in the ring before anything is stored. */
  bt_store *lock = NULL;
  CHECK(bt_store_open(&lock, cfg.store, &err) == 0);
  CHECK(lock && bt_store_begin(lock, &err) == 0);
  static const bt_event_type types[3] = {BT_EV_SIGNAL, BT_EV_PORTFOLIO, BT_EV_USER};
  static char json[8192];
  uint8_t flat[BT_FLAT_MAX];
  size_t flen;
  for (int i = 0; i < N; i++) {
    expected(i, json, sizeof json, flat, &flen);
    bt_event ev = {.type = types[i % 3], .user_type = "tick", .timestamp = i,
                   .source = "test"};
    if (i % 3 == 0) ev.data_flat = flat, ev.data_flat_len = flen;
    else ev.data_json = json;
    bt_bus_publish(bus, &ev);
  }
  if (lock) CHECK(bt_store_commit(lock, &err) == 0);
  bt_store_close(lock);
  bt_run_outcome out = {.status = BT_RUN_COMPLETED, .events = bt_bus_last_id(bus)};
  obs.on_end(obs.ud, &info, &out);
  obs.on_close(obs.ud);
  bt_bus_free(bus);

  bt_store *st = NULL;
  bt_store_run run = {0};
  CHECK(bt_store_open_readonly(&st, cfg.store, &err) == 0);
  CHECK(st && bt_store_find_run(st, info.run_id, &run, &err) == 0);
  bt_store_filter q = {.run_no = run.run_no};
  bt_store_iter *it = NULL;
  CHECK(st && bt_store_query(st, &q, &it, &err) == 0);
  bt_trace_event ev;
  int n = 0, bad = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    expected((int)ev.ts, json, sizeof json, flat, &flen);
    /* flat payloads come back as stored; their JSON is rendered on request */
    char *data = bt_trace_event_data_json(&ev);
    bool as_stored = n % 3 == 0 ? ev.flat_len == flen && memcmp(ev.text, flat, flen) == 0
                                : ev.flat_len == 0 && ev.text && strcmp(ev.text, json) == 0;
    if (ev.ts != n || !as_stored || !data || strcmp(data, json) != 0) {
      if (!bad++) fprintf(stderr, "event %d: stored %s, want %s\n", n, data, json);
    }
    free(data);
    n++;
  }
  CHECK(n == N);
  CHECK(bad == 0);
  bt_store_iter_free(it);
  bt_store_run_clear(&run);
  bt_store_close(st);
  return failures ? 1 : 0;
}
