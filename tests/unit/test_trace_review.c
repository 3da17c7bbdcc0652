/* Review tests of the trace path: chunk versions 2 and 3 (hand-encoded as documented in
 * store.c) still read next to version 4, inline and from a segment, also from a schema 2
 * store; the v4 price scale across bars of mixed precision, zeros, negatives and prices
 * near the int64 limits; the tracer's byte ring with records of every size (records
 * that end exactly at the ring's end, wrap markers, JSON payloads on both sides of the
 * inline limit, flat payloads) under "block", "drop" and a sampler: every stored event
 * is exactly the one published with its seq, none twice, every loss counted; bars
 * "none" under "drop" keeps the bar a critical event points at. */
#include <math.h>
#include <sqlite3.h>
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
#include "trace_events.h"

static bt_err err;
static int path_no;

static void mkpath(char *out, size_t n, const char *name) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(out, n, "%s/review-%d/%s-%d/events.db", tmp, (int)getpid(), name, ++path_no);
}

static bt_run_info make_info(const char *run_id) {
  bt_run_info info = {0};
  snprintf(info.run_id, sizeof info.run_id, "%s", run_id);
  snprintf(info.correlation_id, sizeof info.correlation_id, "corr");
  snprintf(info.strategy_id, sizeof info.strategy_id, "review");
  info.origin = "test";
  info.started_ms = 1;
  return info;
}

/* ---- chunk versions 2 and 3, written the way btrun wrote them ---- */

typedef struct wbuf {
  uint8_t b[16384];
  size_t n;
} wbuf;
static void w_uv(wbuf *w, uint64_t v) {
  while (v >= 0x80) {
    w->b[w->n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  w->b[w->n++] = (uint8_t)v;
}
static void w_sv(wbuf *w, int64_t v) { w_uv(w, ((uint64_t)v << 1) ^ (uint64_t)(v >> 63)); }
static void w_str(wbuf *w, const char *s, size_t len) {
  if (!s) {
    w_uv(w, 0);
    return;
  }
  w_uv(w, len + 1);
  memcpy(w->b + w->n, s, len);
  w->n += len;
}

/* The chunk format of versions 2 and 3 (store.c's comment): version, sources, then per
 * event seq/type/ts/symbol/source/cause/created/emitted-created/received-emitted/
 * processed-received and the payload; bar prices as raw deltas; v3 puts a kind byte
 * (0 none, 1 JSON, 2 flat) before the payload of the other types. */
static void encode_old(wbuf *w, int version, const bt_trace_event *evs, size_t n) {
  const char *srcs[8];
  size_t nsrc = 0, src_of[64];
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    while (k < nsrc && strcmp(srcs[k], evs[i].source) != 0) k++;
    if (k == nsrc) srcs[nsrc++] = evs[i].source;
    src_of[i] = k;
  }
  w->n = 0;
  w->b[w->n++] = (uint8_t)version;
  w_uv(w, nsrc);
  for (size_t k = 0; k < nsrc; k++) w_str(w, srcs[k], strlen(srcs[k]));
  bt_trace_event prev = {.seq = evs[0].seq - 1};
  for (size_t i = 0; i < n; i++) {
    const bt_trace_event *e = &evs[i];
    w_uv(w, e->seq - prev.seq);
    w->b[w->n++] = e->type;
    w_sv(w, e->ts - prev.ts);
    w_uv(w, e->symbol);
    w_uv(w, src_of[i]);
    w_uv(w, e->cause ? e->seq - e->cause : 0);
    w_sv(w, (int64_t)(e->created - prev.created));
    w_sv(w, (int64_t)(e->emitted - e->created));
    w_sv(w, (int64_t)(e->received - e->emitted));
    w_sv(w, (int64_t)(e->processed - e->received));
    switch (e->type) {
    case BT_EV_BAR: {
      w_sv(w, e->p.bar.open - prev.p.bar.open);
      w_sv(w, e->p.bar.high - prev.p.bar.high);
      w_sv(w, e->p.bar.low - prev.p.bar.low);
      w_sv(w, e->p.bar.close - prev.p.bar.close);
      double v = e->p.bar.volume;
      if (v >= 0 && v < 4611686018427387904.0 && v == floor(v)) {
        w_uv(w, (uint64_t)v << 1);
      } else {
        w->b[w->n++] = 1;
        memcpy(w->b + w->n, &v, 8);
        w->n += 8;
      }
      prev.p.bar = e->p.bar;
      break;
    }
    case BT_EV_ORDER:
      w_uv(w, e->p.order.order_id);
      w->b[w->n++] = e->side;
      w->b[w->n++] = e->otype;
      w->b[w->n++] = e->ostatus;
      w_sv(w, e->p.order.qty);
      w_sv(w, e->p.order.limit);
      w_sv(w, e->p.order.stop);
      w_str(w, e->text, e->text ? strlen(e->text) : 0);
      break;
    case BT_EV_FILL:
      w_uv(w, e->p.fill.order_id);
      w->b[w->n++] = e->side;
      w_sv(w, e->p.fill.qty);
      w_sv(w, e->p.fill.price);
      w_sv(w, e->p.fill.commission);
      break;
    default:
      if (version >= 3) w->b[w->n++] = !e->text ? 0 : e->flat_len ? 2 : 1;
      if (version >= 3 && !e->text) {
      } else {
        w_str(w, e->text, e->text ? (e->flat_len ? e->flat_len : strlen(e->text)) : 0);
      }
      w_str(w, e->user_type, e->user_type ? strlen(e->user_type) : 0);
      break;
    }
    prev.seq = e->seq;
    prev.ts = e->ts;
    prev.created = e->created;
  }
}

/* The links rows of a chunk, as the encoder writes them (all causes < 1024: bucket 0). */
static void encode_links(wbuf *w, const bt_trace_event *evs, size_t n, uint64_t *first) {
  w->n = 0;
  *first = 0;
  uint64_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    if (!evs[i].cause) continue;
    if (!*first) *first = evs[i].seq;
    w_sv(w, (int64_t)(evs[i].cause - prev));
    w_uv(w, evs[i].seq - evs[i].cause);
    prev = evs[i].cause;
  }
}

#define OLD_N 14
static uint8_t flat7[BT_FLAT_MAX], flat14[BT_FLAT_MAX];
static size_t flat7_len, flat14_len;

/* seq 1..14: BARs 1 2 5 6 | 8 9 | 12 13, the rest other types (see the table below). */
static void old_event(uint64_t seq, bt_trace_event *e) {
  memset(e, 0, sizeof *e);
  e->seq = seq;
  e->ts = 1700000000 + (int64_t)seq * 60;
  e->symbol = (uint32_t)(seq % 2);
  e->created = 1000000 + seq * 1000;
  e->emitted = e->created + 40;
  e->received = e->emitted + 900 + seq;
  e->processed = e->received + 3000 + seq * 7;
  switch (seq) {
  case 1: case 2: case 5: case 6: case 8: case 9: case 12: case 13:
    e->type = BT_EV_BAR;
    e->source = "feed";
    e->p.bar.open = 21790123 + (int64_t)seq * 1000001; /* not round: any scale is 1 */
    e->p.bar.high = 29000000000 + (int64_t)seq;
    e->p.bar.low = seq == 6 ? -500000000 : 21000000;    /* a negative price */
    e->p.bar.close = 21790000 * (int64_t)seq;
    e->p.bar.volume = seq % 2 ? 1234.5 : 36301200 + (double)seq;
    break;
  case 3:
    e->type = BT_EV_SIGNAL, e->source = "strategy", e->cause = 2;
    e->text = "{\"side\":\"buy\",\"why\":\"cross\"}";
    break;
  case 4:
    e->type = BT_EV_ORDER, e->source = "strategy", e->cause = 3;
    e->side = 1, e->otype = 1, e->ostatus = 3;
    e->p.order.order_id = 7;
    e->p.order.qty = 300000000;
    e->p.order.limit = 2179012300;
    e->text = "insufficient cash";
    break;
  case 7:
    e->type = BT_EV_USER, e->source = "strategy", e->cause = 6, e->user_type = "tick";
    e->text = (char *)flat7, e->flat_len = (uint32_t)flat7_len;
    break;
  case 10:
    e->type = BT_EV_FILL, e->source = "broker", e->cause = 4, e->side = 1;
    e->p.fill.order_id = 7;
    e->p.fill.qty = 300000000;
    e->p.fill.price = 2179012345;
    e->p.fill.commission = 100000000;
    break;
  case 11:
    e->type = BT_EV_PORTFOLIO, e->source = "ledger", e->cause = 10; /* no payload */
    break;
  case 14:
    e->type = BT_EV_USER, e->source = "strategy", e->cause = 13, e->user_type = "tick";
    e->text = (char *)flat14, e->flat_len = (uint32_t)flat14_len;
    break;
  }
}

static int sql(sqlite3 *db, const char *q) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, q, NULL, NULL, &msg);
  if (rc) fprintf(stderr, "sql: %s: %s\n", q, msg ? msg : "?");
  sqlite3_free(msg);
  return rc;
}

/* A chunks row: inline blob (seg_off < 0) or a segment range; plus its links row. */
static void insert_chunk(sqlite3 *db, int64_t run_no, int stream, const bt_trace_event *evs,
                         size_t n, const wbuf *blob, int64_t seg_off) {
  sqlite3_stmt *st;
  uint32_t types = 0;
  int64_t tmin = INT64_MAX, tmax = INT64_MIN;
  for (size_t i = 0; i < n; i++) {
    types |= 1u << evs[i].type;
    if (evs[i].ts < tmin) tmin = evs[i].ts;
    if (evs[i].ts > tmax) tmax = evs[i].ts;
  }
  CHECK(sqlite3_prepare_v2(db,
                           "INSERT INTO chunks(run, stream, first_seq, last_seq, ts_min, ts_max,"
                           " n, types, data, seg_off, seg_len) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int(st, 2, stream);
  sqlite3_bind_int64(st, 3, (int64_t)evs[0].seq);
  sqlite3_bind_int64(st, 4, (int64_t)evs[n - 1].seq);
  sqlite3_bind_int64(st, 5, tmin);
  sqlite3_bind_int64(st, 6, tmax);
  sqlite3_bind_int64(st, 7, (int64_t)n);
  sqlite3_bind_int64(st, 8, types);
  if (seg_off < 0) {
    sqlite3_bind_blob(st, 9, blob->b, (int)blob->n, SQLITE_STATIC);
    sqlite3_bind_null(st, 10);
    sqlite3_bind_null(st, 11);
  } else {
    sqlite3_bind_blob(st, 9, "", 0, SQLITE_STATIC);
    sqlite3_bind_int64(st, 10, seg_off);
    sqlite3_bind_int64(st, 11, (int64_t)blob->n);
  }
  CHECK(sqlite3_step(st) == SQLITE_DONE);
  sqlite3_finalize(st);
  wbuf links;
  uint64_t first;
  encode_links(&links, evs, n, &first);
  if (!first) return;
  CHECK(sqlite3_prepare_v2(db, "INSERT INTO links(run, bucket, first_seq, data) VALUES(?,0,?,?)",
                           -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int64(st, 2, (int64_t)first);
  sqlite3_bind_blob(st, 3, links.b, (int)links.n, SQLITE_STATIC);
  CHECK(sqlite3_step(st) == SQLITE_DONE);
  sqlite3_finalize(st);
}

/* Every event of the run comes back as written, in seq order, through the iterator, by
 * seq and as children; payload JSON renders for each version's encoding. */
static void check_old_run(bt_store *s, int64_t run_no, uint64_t last_seq) {
  bt_store_filter q = {.run_no = run_no};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  bt_trace_event ev, want;
  uint64_t seen = 0;
  int r;
  while (it && (r = bt_store_iter_next(it, &ev, &err)) == 1) {
    old_event(++seen, &want);
    if (!same_event(&ev, &want)) {
      fprintf(stderr, "old chunk: event %llu differs\n", (unsigned long long)seen);
      failures++;
    }
  }
  if (it && r < 0) fprintf(stderr, "old chunk: %s\n", err.msg);
  bt_store_iter_free(it);
  CHECK(seen == last_seq);
  for (uint64_t seq = 1; seq <= last_seq; seq++) {
    bool found = false;
    CHECK_OK(bt_store_get_event(s, run_no, seq, &ev, &found, &err));
    old_event(seq, &want);
    CHECK(found && same_event(&ev, &want));
    if (found && ev.type != BT_EV_BAR) {
      char *js = bt_trace_event_data_json(&ev);
      CHECK(js != NULL);
      if (js && seq == 3) CHECK(strcmp(js, want.text) == 0);
      if (js && seq == 4) CHECK(strstr(js, "\"reason\":\"insufficient cash\"") != NULL);
      if (js && seq == 7) CHECK(strcmp(js, "{\"n\":42,\"s\":\"hi\"}") == 0);
      if (js && seq == 11) CHECK(strcmp(js, "{}") == 0);
      if (js && seq == 14) CHECK(strcmp(js, "{\"ok\":true}") == 0);
      free(js);
    }
    if (found) bt_trace_event_clear(&ev);
  }
  /* children through the links rows: 2->3->4->10->11, 6->7, 13->14 */
  static const uint64_t parent[] = {2, 3, 4, 10, 6, 13}, child[] = {3, 4, 10, 11, 7, 14};
  for (size_t i = 0; i < sizeof parent / sizeof parent[0]; i++) {
    if (child[i] > last_seq) continue;
    bt_trace_event *kids = NULL;
    size_t nk = 0;
    CHECK_OK(bt_store_children(s, run_no, parent[i], &kids, &nk, &err));
    CHECK(nk == 1 && kids[0].seq == child[i]);
    for (size_t k = 0; k < nk; k++) bt_trace_event_clear(&kids[k]);
    free(kids);
  }
  /* a type filter: only the USER events, by user type */
  bt_store_filter qu = {.run_no = run_no, .type_mask = BT_EV_MASK(BT_EV_USER), .user_type = "tick"};
  CHECK_OK(bt_store_query(s, &qu, &it, &err));
  int users = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) users += ev.type == BT_EV_USER && ev.flat_len > 0;
  bt_store_iter_free(it);
  CHECK(users == (last_seq >= 14 ? 2 : 1));
}

static void gather(const uint64_t *seqs, size_t n, bt_trace_event *out) {
  for (size_t i = 0; i < n; i++) old_event(seqs[i], &out[i]);
}

/* A new store at path holding the (running) run `info`; its run_no, 0 on failure. */
static int64_t new_store_run(const char *path, const bt_run_info *info) {
  bt_store *s = NULL;
  int64_t run_no = 0;
  CHECK_OK(bt_store_open(&s, path, &err));
  if (!s) return 0;
  CHECK_OK(bt_store_run_begin(s, info, NULL, 0, &run_no, &err));
  bt_store_close(s);
  return run_no;
}

/* A schema 3 store: seq 1..6 a version 2 chunk per stream held inline (a row of an
 * upgraded schema 2 store), 7..11 version 3 chunks in the run's segment (after a few
 * stray bytes), 12..14 version 4 chunks written by bt_store_put_chunk after them. */
static void test_old_chunks_in_segment(void) {
  char path[512], segdir[600], segp[700];
  mkpath(path, sizeof path, "old-seg");
  bt_run_info info = make_info("0ld5e9a1-0000-4000-8000-000000000001");
  int64_t run_no = new_store_run(path, &info);
  if (!run_no) return;
  bt_store *s = NULL;

  static const uint64_t b2[] = {1, 2, 5, 6}, o2[] = {3, 4}, b3[] = {8, 9}, o3[] = {7, 10, 11},
                        b4[] = {12, 13}, o4[] = {14};
  bt_trace_event eb2[4], eo2[2], eb3[2], eo3[3], eb4[2], eo4[1];
  gather(b2, 4, eb2), gather(o2, 2, eo2), gather(b3, 2, eb3), gather(o3, 3, eo3);
  gather(b4, 2, eb4), gather(o4, 1, eo4);
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sql(db, "BEGIN") == 0);
  wbuf w;
  encode_old(&w, 2, eb2, 4);
  insert_chunk(db, run_no, 0, eb2, 4, &w, -1);
  encode_old(&w, 2, eo2, 2);
  insert_chunk(db, run_no, 1, eo2, 2, &w, -1);
  snprintf(segdir, sizeof segdir, "%s.chunks", path);
  mkdir(segdir, 0755);
  snprintf(segp, sizeof segp, "%s/%s.seg", segdir, info.run_id);
  FILE *f = fopen(segp, "wb");
  CHECK(f != NULL);
  if (f) {
    long off = 5;
    fwrite("junk!", 1, 5, f);
    encode_old(&w, 3, eb3, 2);
    fwrite(w.b, 1, w.n, f);
    insert_chunk(db, run_no, 0, eb3, 2, &w, off);
    off += (long)w.n;
    encode_old(&w, 3, eo3, 3);
    fwrite(w.b, 1, w.n, f);
    insert_chunk(db, run_no, 1, eo3, 3, &w, off);
    fclose(f);
  }
  CHECK(sql(db, "COMMIT") == 0);
  sqlite3_close(db);

  CHECK_OK(bt_store_open(&s, path, &err));
  if (!s) return;
  CHECK_OK(bt_store_begin(s, &err));
  CHECK_OK(bt_store_put_chunk(s, run_no, 0, eb4, 2, &err));
  CHECK_OK(bt_store_put_chunk(s, run_no, 1, eo4, 1, &err));
  CHECK_OK(bt_store_commit(s, &err));
  bt_store_close(s);

  CHECK_OK(bt_store_open_readonly(&s, path, &err));
  if (s) check_old_run(s, run_no, OLD_N);
  bt_store_close(s);
}

/* A real schema 2 store (no seg_* columns, no segments) holding chunk versions 2 and 3
 * inline: read as it is, then upgraded by a writer and read again. */
static void test_old_chunks_schema2(void) {
  char path[512];
  mkpath(path, sizeof path, "old-inline");
  bt_run_info info = make_info("0ld1n11e-0000-4000-8000-000000000002");
  int64_t run_no = new_store_run(path, &info);
  if (!run_no) return;
  bt_store *s = NULL;
  static const uint64_t b2[] = {1, 2, 5, 6}, o2[] = {3, 4}, b3[] = {8, 9}, o3[] = {7, 10, 11};
  bt_trace_event eb2[4], eo2[2], eb3[2], eo3[3];
  gather(b2, 4, eb2), gather(o2, 2, eo2), gather(b3, 2, eb3), gather(o3, 3, eo3);
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sql(db, "BEGIN") == 0);
  wbuf w;
  encode_old(&w, 2, eb2, 4);
  insert_chunk(db, run_no, 0, eb2, 4, &w, -1);
  encode_old(&w, 2, eo2, 2);
  insert_chunk(db, run_no, 1, eo2, 2, &w, -1);
  encode_old(&w, 3, eb3, 2);
  insert_chunk(db, run_no, 0, eb3, 2, &w, -1);
  encode_old(&w, 3, eo3, 3);
  insert_chunk(db, run_no, 1, eo3, 3, &w, -1);
  CHECK(sql(db, "ALTER TABLE chunks DROP COLUMN seg_off; ALTER TABLE chunks DROP COLUMN seg_len;"
                "UPDATE meta SET value = 2 WHERE key = 'schema_version'; COMMIT") == 0);
  sqlite3_close(db);
  CHECK_OK(bt_store_open_readonly(&s, path, &err));
  if (s) check_old_run(s, run_no, 11);
  bt_store_close(s);
  CHECK_OK(bt_store_open(&s, path, &err)); /* upgrades to schema 3 */
  if (s) check_old_run(s, run_no, 11);
  bt_store_close(s);
}

/* ---- the v4 price scale ---- */

static int64_t put_get_bars(const char *name, const int64_t (*px)[4], size_t n) {
  char path[512];
  mkpath(path, sizeof path, name);
  bt_run_info info = make_info("5ca1e000-0000-4000-8000-000000000003");
  bt_store *s = NULL;
  int64_t run_no = 0;
  CHECK_OK(bt_store_open(&s, path, &err));
  if (!s) return -1;
  CHECK_OK(bt_store_run_begin(s, &info, NULL, 0, &run_no, &err));
  bt_trace_event evs[64];
  for (size_t i = 0; i < n; i++) {
    memset(&evs[i], 0, sizeof evs[i]);
    evs[i].seq = 10 + i * 3;
    evs[i].type = BT_EV_BAR;
    evs[i].source = "feed";
    evs[i].ts = 1700000000 + (int64_t)i;
    evs[i].p.bar.open = px[i][0], evs[i].p.bar.high = px[i][1];
    evs[i].p.bar.low = px[i][2], evs[i].p.bar.close = px[i][3];
    evs[i].p.bar.volume = (double)i;
  }
  CHECK_OK(bt_store_begin(s, &err));
  CHECK_OK(bt_store_put_chunk(s, run_no, 0, evs, n, &err));
  CHECK_OK(bt_store_commit(s, &err));
  bt_store_filter q = {.run_no = run_no};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  bt_trace_event ev;
  size_t i = 0, bad = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    if (i >= n || ev.seq != evs[i].seq || memcmp(&ev.p.bar, &evs[i].p.bar, sizeof ev.p.bar) != 0) {
      if (!bad++)
        fprintf(stderr, "%s: bar %zu: got %lld %lld %lld %lld\n", name, i, (long long)ev.p.bar.open,
                (long long)ev.p.bar.high, (long long)ev.p.bar.low, (long long)ev.p.bar.close);
    }
    i++;
  }
  bt_store_iter_free(it);
  CHECK(i == n);
  CHECK(bad == 0);
  /* and one by one */
  for (size_t k = 0; k < n; k++) {
    bool found = false;
    CHECK_OK(bt_store_get_event(s, run_no, evs[k].seq, &ev, &found, &err));
    CHECK(found && memcmp(&ev.p.bar, &evs[k].p.bar, sizeof ev.p.bar) == 0);
    if (found) bt_trace_event_clear(&ev);
  }
  bt_store_close(s);
  return (int64_t)i;
}

static void test_price_scale(void) {
  const int64_t C = 1000000; /* a cent in raw units */
  /* cents, then one bar quoted to the last digit in the middle of the chunk (the scale
   * must drop to 1 for the whole chunk), then cents again */
  static int64_t mixed[6][4];
  for (int i = 0; i < 6; i++)
    for (int j = 0; j < 4; j++) mixed[i][j] = (21790 + i * 7 + j) * C;
  mixed[3][2] += 1;
  put_get_bars("mixed", (const int64_t (*)[4])mixed, 6);
  /* the scale is chosen by the last price too */
  mixed[3][2] -= 1;
  mixed[5][3] += 10;
  put_get_bars("mixed-last", (const int64_t (*)[4])mixed, 6);
  /* zeros and whole units (scale 8), negative prices, a swing across zero */
  static const int64_t whole[5][4] = {{0, 0, 0, 0},
                                      {100000000, 300000000, -200000000, 0},
                                      {-3700000000, -100000000, -3800000000, -3763000000},
                                      {1000000000000, 1000000000000, 0, 500000000},
                                      {0, 0, 0, 0}};
  put_get_bars("whole", whole, 5);
  /* near the int64 limits, same sign (deltas fit): multiples of 10^8 and not */
  const int64_t M8 = INT64_MAX / 100000000 * 100000000;
  static int64_t big[4][4];
  const int64_t bigv[4][4] = {{M8, M8, M8 - 100000000, M8},
                              {-M8, -M8 + 100000000, -M8, -M8},
                              {INT64_MAX, INT64_MAX, INT64_MAX - 7, INT64_MAX - 1},
                              {INT64_MAX - 3, INT64_MAX, INT64_MAX - 9, INT64_MAX}};
  memcpy(big, bigv, sizeof big);
  put_get_bars("big-m8", (const int64_t (*)[4])big, 2);       /* scale 8, across zero */
  put_get_bars("big-max", (const int64_t (*)[4])&big[2], 2);  /* scale 0 at INT64_MAX */
  static const int64_t low[2][4] = {{INT64_MIN, INT64_MIN + 5, INT64_MIN, INT64_MIN + 1},
                                    {INT64_MIN + 2, INT64_MIN + 9, INT64_MIN, INT64_MIN}};
  put_get_bars("big-min", low, 2);
}

/* A bar at the top of bt_dec's range right after one at the bottom: a feed accepts both
 * (any bt_dec, high >= low), so the store must too. The price deltas do not fit an
 * int64: computed in signed arithmetic they overflow (UBSan stops here). */
static void test_price_swing_past_int64(void) {
  static const int64_t swing[3][4] = {
      {9000000000000000000, 9000000000000000000, 9000000000000000000, 9000000000000000000},
      {-9000000000000000000, -9000000000000000000, -9000000000000000000, -9000000000000000000},
      {INT64_MAX, INT64_MAX, INT64_MIN, INT64_MIN + 1}};
  put_get_bars("swing", swing, 3);
}

/* ---- the tracer's byte ring ---- */

enum { K_BAR, K_JSON, K_FLAT, K_ORDER, K_NONE };
#define RN 24000
typedef struct plan {
  uint8_t kind[RN + 64];
  uint16_t len[RN + 64];
  uint64_t published, orders;
} plan;

static uint64_t mix(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdull;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ull;
  return x ^ (x >> 33);
}

/* The JSON text of event seq, len bytes: {"k":"..."}. */
static void json_of(uint64_t seq, size_t len, char *out) {
  memcpy(out, "{\"k\":\"", 6);
  for (size_t j = 6; j < len - 2; j++) out[j] = (char)('a' + (seq + j) % 26);
  memcpy(out + len - 2, "\"}", 3);
}

/* The flat payload of event seq: its seq, a string of slen bytes, a double. */
static size_t flat_of(uint64_t seq, size_t slen, uint8_t *buf) {
  size_t n = 0;
  int64_t v = (int64_t)seq;
  double d = (double)seq / 4;
  char str[100];
  for (size_t j = 0; j < slen; j++) str[j] = (char)('A' + (seq + j) % 26);
  bt_flat_add(buf, &n, BT_FLAT_INT, "seq", 3, &v, 8);
  bt_flat_add(buf, &n, BT_FLAT_STR, "s", 1, str, slen);
  bt_flat_add(buf, &n, BT_FLAT_DBL, "d", 1, &d, 8);
  return n;
}

static void reason_of(uint64_t seq, char *out, size_t n) {
  snprintf(out, n, "rejected #%llu", (unsigned long long)seq);
}

static bt_bar bar_of(uint64_t seq) {
  return (bt_bar){.time = 1600000000 + (int64_t)seq, .open.v = 100000000 * (int64_t)(seq % 997) + 1,
                  .high.v = 200000000000 + (int64_t)seq, .low.v = -(int64_t)seq * 1000000,
                  .close.v = (int64_t)seq * 100, .volume = (double)seq + 0.5,
                  .symbol = (uint32_t)(seq % 3)};
}

static char big_json[8192];

/* Publishes one event of `kind` with payload size `len`; returns its id. */
static uint64_t publish(bt_bus *bus, plan *p, int kind, size_t len) {
  uint64_t seq = bt_bus_next_id(bus);
  if (seq >= RN + 64) return 0;
  p->kind[seq] = (uint8_t)kind;
  p->len[seq] = (uint16_t)len;
  uint64_t id = 0;
  switch (kind) {
  case K_BAR: {
    bt_bar b = bar_of(seq);
    id = bt_bus_publish_bar(bus, &b);
    break;
  }
  case K_JSON: {
    json_of(seq, len, big_json);
    bt_event e = {.type = BT_EV_USER, .user_type = "tick", .timestamp = 1, .source = "user",
                  .data_json = big_json};
    id = bt_bus_publish(bus, &e);
    break;
  }
  case K_FLAT: {
    uint8_t buf[BT_FLAT_MAX];
    size_t n = flat_of(seq, len, buf);
    bt_event e = {.type = BT_EV_LOG, .timestamp = 2, .source = "log", .data_flat = buf,
                  .data_flat_len = n};
    id = bt_bus_publish(bus, &e);
    break;
  }
  case K_ORDER: {
    bt_order o = {.id = seq, .side = BT_SELL, .type = BT_LIMIT, .qty = bt_dec_from_int(3),
                  .limit = bt_dec_from_int(7), .status = BT_REJECTED};
    reason_of(seq, o.reject_reason, sizeof o.reject_reason);
    bt_event e = {.type = BT_EV_ORDER, .timestamp = 3, .source = "strategy", .p.order = &o,
                  .causation_id = seq - 1};
    id = bt_bus_publish(bus, &e);
    p->orders++;
    break;
  }
  default: {
    bt_event e = {.type = BT_EV_USER, .user_type = "none", .timestamp = 4, .source = "user"};
    id = bt_bus_publish(bus, &e);
  }
  }
  CHECK(id == seq);
  return id;
}

/* Is ev exactly what publish() sent with its seq? */
static bool as_published(const plan *p, const bt_trace_event *ev) {
  uint64_t seq = ev->seq;
  if (seq == 0 || seq >= RN + 64 || seq > p->published) return false;
  size_t len = p->len[seq];
  switch (p->kind[seq]) {
  case K_BAR: {
    bt_bar b = bar_of(seq);
    return ev->type == BT_EV_BAR && ev->ts == b.time && ev->symbol == b.symbol &&
           ev->p.bar.open == b.open.v && ev->p.bar.high == b.high.v && ev->p.bar.low == b.low.v &&
           ev->p.bar.close == b.close.v && ev->p.bar.volume == b.volume;
  }
  case K_JSON:
    json_of(seq, len, big_json);
    return ev->type == BT_EV_USER && ev->flat_len == 0 && ev->text &&
           strcmp(ev->text, big_json) == 0 && ev->user_type && strcmp(ev->user_type, "tick") == 0;
  case K_FLAT: {
    uint8_t buf[BT_FLAT_MAX];
    size_t n = flat_of(seq, len, buf);
    return ev->type == BT_EV_LOG && ev->flat_len == n && ev->text &&
           memcmp(ev->text, buf, n) == 0;
  }
  case K_ORDER: {
    char r[96];
    reason_of(seq, r, sizeof r);
    return ev->type == BT_EV_ORDER && ev->cause == seq - 1 && ev->text && strcmp(ev->text, r) == 0 &&
           ev->p.order.order_id == seq && ev->ostatus == BT_REJECTED;
  }
  default:
    return ev->type == BT_EV_USER && !ev->text && ev->user_type &&
           strcmp(ev->user_type, "none") == 0;
  }
}

/* sizeof the tracer's rec_event (kind, pay, pay_len, size: 8 bytes, then the event) */
#define REC_EVENT_BASE (8 + sizeof(bt_trace_event))
#define RING_BYTES (1024 * 128) /* ring_size 1024 events of 128 bytes */

/* JSON events of total record size `bytes` (each a multiple of 8, 8 B..4 KB of payload). */
static void fill_exactly(bt_bus *bus, plan *p, size_t bytes) {
  while (bytes) {
    size_t size = bytes >= 2 * 4000 ? 4000 : bytes >= 4000 ? bytes / 16 * 8 : bytes;
    if (size < REC_EVENT_BASE + 8) size = bytes; /* cannot split further */
    publish(bus, p, K_JSON, size - REC_EVENT_BASE);
    bytes -= size;
  }
}

typedef struct ring_run {
  uint64_t stored, dropped, in_order, dup, wrong, orders_seen, gaps;
  bt_store_run run;
} ring_run;

static void ring_run_go(const char *name, bt_trace_full policy, double rate, ring_run *out) {
  static plan p;
  memset(&p, 0, sizeof p);
  memset(out, 0, sizeof *out);
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  mkpath(cfg.store, sizeof cfg.store, name);
  cfg.ring_size = 1024;
  cfg.full_policy = policy;
  cfg.sample_rate = rate;
  cfg.bars = rate < 1 ? BT_TRACE_BARS_SAMPLED : BT_TRACE_BARS_ALL;
  bt_tracer *t = NULL;
  CHECK_OK(bt_tracer_new(&t, &cfg, &err));
  if (!t) return;
  bt_run_observer obs = bt_tracer_observer(t);
  bt_bus *bus = bt_bus_new();
  char id[40];
  snprintf(id, sizeof id, "7a11%04x-ring-4000-8000-000000000000", (unsigned)path_no);
  bt_run_info info = make_info(id);
  CHECK_OK(obs.on_start(obs.ud, &info, bus, &err));
  /* From an empty ring (head at 0): records that end exactly at the ring's end, then a
   * bar (at offset 0, no wrap marker); then 8 bytes short of the end (a lone wrap
   * marker); then 88 bytes short (a bar fits exactly). */
  if (policy == BT_TRACE_FULL_BLOCK) {
    fill_exactly(bus, &p, RING_BYTES);
    publish(bus, &p, K_BAR, 0);
    fill_exactly(bus, &p, RING_BYTES - 88 - 8);
    publish(bus, &p, K_BAR, 0); /* wraps: 8 bytes left */
    fill_exactly(bus, &p, RING_BYTES - 88 - 88);
    publish(bus, &p, K_BAR, 0); /* exactly to the end */
    publish(bus, &p, K_BAR, 0);
  }
  /* then records of every size, mostly small, in a seeded mix */
  while (bt_bus_next_id(bus) < RN) {
    uint64_t h = mix(bt_bus_next_id(bus) * 7919 + 11);
    int r = (int)(h % 100);
    size_t len = 0;
    int kind;
    if (r < 40) kind = K_BAR;
    else if (r < 41) kind = K_ORDER; /* critical: few, or the sampler would keep all */
    else if (r < 63) kind = K_FLAT, len = (h >> 8) % 100;
    else if (r < 79) kind = K_JSON, len = 8 + (h >> 8) % 300;
    else if (r < 93) kind = K_JSON, len = 8 + (h >> 8) % 5000; /* past the inline limit too */
    else kind = K_NONE;
    publish(bus, &p, kind, len);
  }
  p.published = bt_bus_last_id(bus);
  bt_run_outcome oc = {.status = BT_RUN_COMPLETED, .events = p.published, .metrics_json = "{}"};
  obs.on_end(obs.ud, &info, &oc);
  obs.on_close(obs.ud);
  bt_bus_free(bus);

  bt_store *s = NULL;
  CHECK_OK(bt_store_open_readonly(&s, cfg.store, &err));
  if (!s) return;
  CHECK_OK(bt_store_find_run(s, id, &out->run, &err));
  bt_store_filter q = {.run_no = out->run.run_no};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  static bool seen[RN + 64];
  memset(seen, 0, sizeof seen);
  bt_trace_event ev;
  uint64_t last = 0;
  out->in_order = 1;
  int r;
  while (it && (r = bt_store_iter_next(it, &ev, &err)) == 1) {
    out->stored++;
    if (ev.seq <= last) out->in_order = 0;
    last = ev.seq;
    if (ev.seq < RN + 64 && seen[ev.seq]) out->dup++;
    if (ev.seq < RN + 64) seen[ev.seq] = true;
    if (!as_published(&p, &ev)) {
      if (!out->wrong++)
        fprintf(stderr, "%s: seq %llu (type %d) is not what was published\n", name,
                (unsigned long long)ev.seq, ev.type);
    } else if (ev.type == BT_EV_LOG) {
      char *js = bt_trace_event_data_json(&ev); /* renders the stored flat payload */
      char want[32];
      snprintf(want, sizeof want, "\"seq\":%llu", (unsigned long long)ev.seq);
      if (!js || !strstr(js, want)) out->wrong++;
      free(js);
    }
    if (ev.type == BT_EV_ORDER) out->orders_seen++;
  }
  CHECK(!it || r == 0);
  bt_store_iter_free(it);
  bt_store_close(s);
  out->dropped = out->run.dropped;
  out->gaps = p.orders - out->orders_seen; /* critical events missing */
  CHECK(out->run.event_count == p.published);
}

static void test_ring(void) {
  ring_run r;
  ring_run_go("ring-block", BT_TRACE_FULL_BLOCK, 1.0, &r);
  CHECK(r.wrong == 0 && r.dup == 0 && r.in_order);
  CHECK(r.stored == r.run.event_count && r.run.stored == r.stored && r.dropped == 0);
  CHECK(r.gaps == 0);
  bt_store_run_clear(&r.run);

  ring_run_go("ring-drop", BT_TRACE_FULL_DROP, 1.0, &r);
  CHECK(r.wrong == 0 && r.dup == 0 && r.in_order);
  CHECK(r.dropped > 0); /* the writer cannot keep up with 4 KB payloads */
  CHECK(r.run.stored == r.stored && r.stored + r.dropped == r.run.event_count);
  CHECK(r.gaps == 0); /* critical events wait instead */
  bt_store_run_clear(&r.run);

  /* the sampler's window owns the payloads of the events it holds: kept ones are stored
   * intact, the others freed (ASan's leak check) */
  ring_run_go("ring-sampled", BT_TRACE_FULL_DROP, 0.3, &r);
  CHECK(r.wrong == 0 && r.dup == 0 && r.in_order);
  CHECK(r.run.stored == r.stored &&
        r.stored + r.run.sampled_out + r.dropped == r.run.event_count);
  CHECK(r.run.sampled_out > 0 && r.gaps == 0);
  bt_store_run_clear(&r.run);
}

/* bars "none" under full_policy "drop": the bar that caused a critical event is its
 * lineage's start and must be stored with it (docs/events.md: "none" keeps the bars that
 * caused a kept event, so lineage still starts at a bar), even while a flood of
 * non-critical events fills the ring. */
static void test_bars_none_drop(void) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  mkpath(cfg.store, sizeof cfg.store, "none-drop");
  cfg.ring_size = 1024;
  cfg.full_policy = BT_TRACE_FULL_DROP;
  cfg.bars = BT_TRACE_BARS_NONE;
  bt_tracer *t = NULL;
  CHECK_OK(bt_tracer_new(&t, &cfg, &err));
  if (!t) return;
  bt_run_observer obs = bt_tracer_observer(t);
  bt_bus *bus = bt_bus_new();
  bt_run_info info = make_info("a0e0d000-none-4000-8000-000000000000");
  CHECK_OK(obs.on_start(obs.ud, &info, bus, &err));
  json_of(0, 3000, big_json);
  enum { ROUNDS = 400 };
  for (int round = 0; round < ROUNDS; round++) {
    /* more than the ring holds, the last records small: the ring is full to within a
     * small record when the bar comes */
    for (int i = 0; i < 340; i++) {
      bt_event ue = {.type = BT_EV_USER, .user_type = "tick", .timestamp = 1, .source = "user",
                     .data_json = i < 40 ? big_json : NULL};
      bt_bus_publish(bus, &ue);
    }
    bt_bar bar = bar_of((uint64_t)round);
    uint64_t bid = bt_bus_publish_bar(bus, &bar);
    bt_order o = {.id = (uint64_t)round + 1, .type = BT_MARKET, .qty = bt_dec_from_int(1)};
    bt_event oe = {.type = BT_EV_ORDER, .timestamp = bar.time, .causation_id = bid,
                   .source = "strategy", .p.order = &o};
    bt_bus_publish(bus, &oe);
  }
  bt_run_outcome oc = {.status = BT_RUN_COMPLETED, .events = bt_bus_last_id(bus), .metrics_json = "{}"};
  obs.on_end(obs.ud, &info, &oc);
  obs.on_close(obs.ud);
  bt_bus_free(bus);
  bt_store *s = NULL;
  bt_store_run run = {0};
  CHECK_OK(bt_store_open_readonly(&s, cfg.store, &err));
  if (!s) return;
  CHECK_OK(bt_store_find_run(s, "a0e0d000", &run, &err));
  bt_store_filter q = {.run_no = run.run_no,
                       .type_mask = BT_EV_MASK(BT_EV_ORDER) | BT_EV_MASK(BT_EV_BAR)};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  bt_trace_event ev;
  int orders = 0, orphans = 0;
  uint64_t last_bar = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    if (ev.type == BT_EV_BAR) last_bar = ev.seq;
    else orders++, orphans += ev.cause != last_bar;
  }
  bt_store_iter_free(it);
  bt_store_close(s);
  CHECK(orders == ROUNDS);
  if (orphans) fprintf(stderr, "bars none + drop: %d of %d orders lost their bar\n", orphans, orders);
  CHECK(orphans == 0);
  bt_store_run_clear(&run);
}

int main(void) {
  bt_log_set_level(BT_LOG_ERROR); /* the drop warnings are expected */
  int64_t v = 42;
  flat7_len = 0;
  bt_flat_add(flat7, &flat7_len, BT_FLAT_STR, "s", 1, "hi", 2);
  bt_flat_add(flat7, &flat7_len, BT_FLAT_INT, "n", 1, &v, 8);
  bt_flat_add(flat14, &flat14_len, BT_FLAT_TRUE, "ok", 2, NULL, 0);
  test_old_chunks_in_segment();
  test_old_chunks_schema2();
  test_price_scale();
  test_ring();
  test_bars_none_drop();
  test_price_swing_past_int64(); /* last: under UBSan an overflow ends the process */
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
