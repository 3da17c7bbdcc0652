/* Event store: schema, writes, queries by type/time, lookup by seq, children, latency,
 * run lookup by prefix, prune; chunk blobs in per-run segment files (a truncated or
 * missing one is a clear error, prune deletes them); a version 2 store (blobs inline)
 * still reads, and is upgraded when opened for writing. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "store.h"

#include "check.h"
#include "trace_events.h"

static bt_err err;

static void mkpath(char *out, size_t n, const char *name) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(out, n, "%s/%s-%d/events.db", tmp, name, (int)getpid());
}

static bt_run_info make_info(const char *run_id, int64_t started) {
  bt_run_info info = {0};
  snprintf(info.run_id, sizeof info.run_id, "%s", run_id);
  snprintf(info.correlation_id, sizeof info.correlation_id, "corr-%s", run_id);
  snprintf(info.strategy_id, sizeof info.strategy_id, "sma_cross");
  info.strategy_path = "strategies/sma_cross.lua";
  info.origin = "cli";
  info.params_json = "{\"fast\":10}";
  info.data_json = "[{\"symbol\":\"ORCL\",\"path\":\"x.csv\"}]";
  info.started_ms = started;
  return info;
}

/* A synthetic run: seq 1..n; every 10th event is a SIGNAL, the next an ORDER caused by
 * it, the next a FILL caused by the ORDER; the rest are BARs. ts = 1000 + seq. */
static void make_event(uint64_t seq, bt_trace_event *e) {
  memset(e, 0, sizeof *e);
  e->seq = seq;
  e->ts = 1000 + (int64_t)seq;
  e->created = seq * 1000;
  e->emitted = e->created + 5;
  e->received = e->emitted + 70;
  e->processed = e->received + 300;
  e->symbol = (uint32_t)(seq % 3);
  switch (seq % 10) {
  case 1:
    e->type = BT_EV_SIGNAL;
    e->cause = seq - 1;
    e->source = "strategy";
    e->text = "{\"side\":\"buy\",\"why\":\"cross\"}";
    break;
  case 2:
    e->type = BT_EV_ORDER;
    e->cause = seq - 1;
    e->source = "strategy";
    e->side = 1;
    e->otype = 1; /* limit */
    e->ostatus = seq % 20 == 2 ? 3 : 0;
    e->p.order.order_id = seq / 10 + 1;
    e->p.order.qty = 100 * 100000000LL;
    e->p.order.limit = 2179012 * 100LL;
    e->text = seq % 20 == 2 ? "insufficient cash" : NULL;
    break;
  case 3:
    e->type = BT_EV_FILL;
    e->cause = seq - 1;
    e->source = "broker";
    e->side = 1;
    e->p.fill.order_id = seq / 10 + 1;
    e->p.fill.qty = 100 * 100000000LL;
    e->p.fill.price = 2191358 * 100LL + (int64_t)seq;
    e->p.fill.commission = 100000000LL;
    break;
  default:
    e->type = BT_EV_BAR;
    e->source = "feed";
    e->p.bar.open = 217901200 + (int64_t)seq * 7;
    e->p.bar.high = 219135800 + (int64_t)seq * 3;
    e->p.bar.low = 211728400 - (int64_t)seq;
    e->p.bar.close = 211728400 + (int64_t)(seq % 17) * 1000;
    e->p.bar.volume = seq % 5 == 0 ? 1234.5 : (double)(36301200 + seq);
    break;
  }
}

/* Writes the run as the tracer does: two chunk streams (BARs, the rest), flushed when
 * full; a small chunk size exercises lookups across chunk boundaries. */
static void write_run(bt_store *s, int64_t run_no, uint64_t n, size_t chunk) {
  static bt_trace_event buf[2][BT_STORE_CHUNK];
  size_t nb[2] = {0, 0};
  CHECK_OK(bt_store_begin(s, &err));
  for (uint64_t seq = 1; seq <= n; seq++) {
    bt_trace_event e;
    make_event(seq, &e);
    int k = e.type != BT_EV_BAR;
    buf[k][nb[k]++] = e;
    if (nb[k] == chunk) {
      CHECK_OK(bt_store_put_chunk(s, run_no, k, buf[k], nb[k], &err));
      nb[k] = 0;
    }
  }
  for (int k = 0; k < 2; k++)
    if (nb[k]) CHECK_OK(bt_store_put_chunk(s, run_no, k, buf[k], nb[k], &err));
  CHECK_OK(bt_store_commit(s, &err));
}

static int count_run(void *ud, const bt_store_run *r) {
  (void)r;
  (*(int *)ud)++;
  return 0;
}

static void seg_file(char *out, size_t n, const char *store, const char *run_id) {
  snprintf(out, n, "%s.chunks/%s.seg", store, run_id);
}

static bool exists(const char *path) { return access(path, F_OK) == 0; }

/* All events of the run, compared with make_event: n events 1..n, or -1 on an error. */
static long long read_all(bt_store *s, int64_t run_no) {
  bt_store_filter q = {.run_no = run_no};
  bt_store_iter *it = NULL;
  if (bt_store_query(s, &q, &it, &err)) return -1;
  bt_trace_event ev, want;
  long long seen = 0;
  int r;
  while ((r = bt_store_iter_next(it, &ev, &err)) == 1) {
    make_event((uint64_t)++seen, &want);
    if (!same_event(&ev, &want)) r = -1;
    if (r < 0) break;
  }
  bt_store_iter_free(it);
  return r < 0 ? -1 : seen;
}

/* Turns a store into what btrun wrote before segment files (schema version 2): each
 * chunk's blob back inline in chunks.data, no seg_* columns, no segment files. */
static void make_v2(const char *path, const char *run_id) {
  char seg[600];
  seg_file(seg, sizeof seg, path, run_id);
  FILE *f = fopen(seg, "rb");
  CHECK(f != NULL);
  sqlite3 *db;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  sqlite3_stmt *rows, *upd;
  CHECK(sqlite3_prepare_v2(db, "SELECT rowid, seg_off, seg_len FROM chunks", -1, &rows, NULL) == 0);
  CHECK(sqlite3_prepare_v2(db, "UPDATE chunks SET data = ? WHERE rowid = ?", -1, &upd, NULL) == 0);
  sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
  static char blob[1 << 20];
  while (f && sqlite3_step(rows) == SQLITE_ROW) {
    long len = sqlite3_column_int(rows, 2);
    if (len <= 0 || len > (long)sizeof blob) {
      CHECK(!"a chunk of 1..1 MiB");
      break;
    }
    fseek(f, sqlite3_column_int(rows, 1), SEEK_SET);
    CHECK(fread(blob, 1, (size_t)len, f) == (size_t)len);
    sqlite3_bind_blob(upd, 1, blob, (int)len, SQLITE_STATIC);
    sqlite3_bind_int64(upd, 2, sqlite3_column_int64(rows, 0));
    CHECK(sqlite3_step(upd) == SQLITE_DONE);
    sqlite3_reset(upd);
  }
  sqlite3_finalize(rows);
  sqlite3_finalize(upd);
  CHECK(sqlite3_exec(db,
                     "ALTER TABLE chunks DROP COLUMN seg_off;"
                     "ALTER TABLE chunks DROP COLUMN seg_len;"
                     "UPDATE meta SET value = 2 WHERE key = 'schema_version'; COMMIT",
                     NULL, NULL, NULL) == SQLITE_OK);
  sqlite3_close(db);
  if (f) fclose(f);
  CHECK(unlink(seg) == 0);
}

static int schema_version(const char *path) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int v = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'schema_version'", -1, &st,
                         NULL) == SQLITE_OK) {
    if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return v;
}

static void test_old_format(void) {
  char path[512];
  mkpath(path, sizeof path, "store-v2");
  bt_store *s = NULL;
  bt_run_info a = make_info("bbbb1111-0000-4000-8000-000000000001", 1000);
  int64_t ra = 0;
  CHECK_OK(bt_store_open(&s, path, &err));
  CHECK_OK(bt_store_run_begin(s, &a, NULL, 0, &ra, &err));
  write_run(s, ra, 500, 64);
  bt_store_close(s);
  make_v2(path, a.run_id);
  CHECK(schema_version(path) == 2);

  /* a reader leaves the file as it is and reads the inline blobs */
  CHECK_OK(bt_store_open_readonly(&s, path, &err));
  CHECK(read_all(s, ra) == 500);
  bt_trace_event ev, want;
  bool found = false;
  CHECK_OK(bt_store_get_event(s, ra, 302, &ev, &found, &err));
  make_event(302, &want);
  CHECK(found && same_event(&ev, &want));
  if (found) bt_trace_event_clear(&ev);
  bt_trace_event *kids = NULL;
  size_t nk = 0;
  CHECK_OK(bt_store_children(s, ra, 302, &kids, &nk, &err));
  CHECK(nk == 1 && kids[0].seq == 303);
  for (size_t i = 0; i < nk; i++) bt_trace_event_clear(&kids[i]);
  free(kids);
  bt_store_close(s);
  CHECK(schema_version(path) == 2);

  /* a writer upgrades it: old rows stay inline and readable, new runs get a segment */
  CHECK_OK(bt_store_open(&s, path, &err));
  CHECK(schema_version(path) == 3);
  bt_run_info b = make_info("bbbb2222-0000-4000-8000-000000000002", 2000);
  int64_t rb = 0;
  CHECK_OK(bt_store_run_begin(s, &b, NULL, 0, &rb, &err));
  write_run(s, rb, 300, 50);
  CHECK(read_all(s, ra) == 500);
  CHECK(read_all(s, rb) == 300);
  char seg[600];
  seg_file(seg, sizeof seg, path, b.run_id);
  CHECK(exists(seg));
  /* prune of the old run: it has no segment file to delete */
  bt_store_run_end end = {.status = "completed"};
  CHECK_OK(bt_store_run_finish(s, ra, &end, &err));
  int deleted = 0;
  CHECK_OK(bt_store_prune(s, 1500, -1, &deleted, &err));
  CHECK(deleted == 1);
  CHECK(read_all(s, rb) == 300);
  bt_store_close(s);
}

/* A segment cut short, then deleted: every read path says which file and which run. */
static void test_damaged_segment(bt_store *s, const char *path, int64_t run_no,
                                 const char *run_id) {
  char seg[600];
  seg_file(seg, sizeof seg, path, run_id);
  CHECK(exists(seg));
  /* keep the first chunk written (the first 1024 BARs) and 10 bytes of the next */
  sqlite3 *db;
  sqlite3_stmt *st;
  long long keep = -1;
  CHECK(sqlite3_open(path, &db) == SQLITE_OK);
  CHECK(sqlite3_prepare_v2(db, "SELECT seg_len FROM chunks WHERE run = ? ORDER BY seg_off LIMIT 1",
                           -1, &st, NULL) == SQLITE_OK);
  sqlite3_bind_int64(st, 1, run_no);
  if (sqlite3_step(st) == SQLITE_ROW) keep = sqlite3_column_int64(st, 0) + 10;
  sqlite3_finalize(st);
  sqlite3_close(db);
  CHECK(keep > 10 && truncate(seg, keep) == 0);

  bool found = false;
  bt_trace_event ev;
  CHECK_OK(bt_store_get_event(s, run_no, 4, &ev, &found, &err));
  CHECK(found && ev.seq == 4);
  if (found) bt_trace_event_clear(&ev);
  bt_err_clear(&err);
  CHECK(bt_store_get_event(s, run_no, 2999, &ev, &found, &err) != 0 && !found);
  CHECK(strstr(err.msg, seg) && strstr(err.msg, run_id) && strstr(err.msg, "truncated"));
  bt_err_clear(&err);
  CHECK(read_all(s, run_no) == -1);
  CHECK(strstr(err.msg, seg) && strstr(err.msg, "truncated"));
  bt_err_clear(&err);
  bt_trace_event *kids = NULL;
  size_t nk = 0;
  CHECK(bt_store_children(s, run_no, 2992, &kids, &nk, &err) != 0);
  CHECK(strstr(err.msg, seg) != NULL);
  for (size_t i = 0; i < nk; i++) bt_trace_event_clear(&kids[i]);
  free(kids);
  bt_err_clear(&err);

  /* deleted: also from a connection that never had it open */
  CHECK(unlink(seg) == 0);
  bt_store *r = NULL;
  CHECK_OK(bt_store_open_readonly(&r, path, &err));
  CHECK(r && bt_store_get_event(r, run_no, 4, &ev, &found, &err) != 0 && !found);
  CHECK(strstr(err.msg, seg) && strstr(err.msg, run_id));
  bt_err_clear(&err);
  CHECK(r && read_all(r, run_no) == -1 && strstr(err.msg, seg));
  bt_err_clear(&err);
  bt_store_close(r);
}

int main(void) {
  char path[512];
  mkpath(path, sizeof path, "store");
  bt_store *s = NULL;
  CHECK_OK(bt_store_open(&s, path, &err));
  if (!s) return 1;

  bt_run_info a = make_info("aaaa1111-0000-4000-8000-000000000001", 1000);
  bt_run_info b = make_info("aaaa2222-0000-4000-8000-000000000002", 2000);
  int64_t ra = 0, rb = 0;
  CHECK_OK(bt_store_run_begin(s, &a, "{\"bars\":\"all\"}", 12345, &ra, &err));
  CHECK_OK(bt_store_run_begin(s, &b, NULL, 0, &rb, &err));
  CHECK(ra > 0 && rb > ra);
  const uint64_t N = 5000;
  write_run(s, ra, N, BT_STORE_CHUNK);
  write_run(s, rb, 100, 7);
  char seg_a[600], seg_b[600];
  seg_file(seg_a, sizeof seg_a, path, a.run_id);
  seg_file(seg_b, sizeof seg_b, path, b.run_id);
  struct stat sb;
  CHECK(stat(seg_a, &sb) == 0 && sb.st_size > 0 && stat(seg_b, &sb) == 0 && sb.st_size > 0);

  /* every event comes back identical, in seq order */
  bt_store_filter q = {.run_no = ra};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  bt_trace_event ev, want;
  uint64_t seen = 0;
  bool all_same = true;
  int r;
  while ((r = bt_store_iter_next(it, &ev, &err)) == 1) {
    seen++;
    make_event(seen, &want);
    if (!same_event(&ev, &want)) {
      if (all_same) fprintf(stderr, "first mismatch at seq %llu\n", (unsigned long long)ev.seq);
      all_same = false;
    }
  }
  CHECK(r == 0);
  CHECK(seen == N);
  CHECK(all_same);
  bt_store_iter_free(it);

  /* by type: FILLs only */
  q = (bt_store_filter){.run_no = ra, .type_mask = BT_EV_MASK(BT_EV_FILL)};
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  seen = 0;
  bool only_fills = true;
  while (bt_store_iter_next(it, &ev, &err) == 1) {
    seen++;
    only_fills &= ev.type == BT_EV_FILL && ev.seq % 10 == 3;
  }
  CHECK(seen == N / 10);
  CHECK(only_fills);
  bt_store_iter_free(it);

  /* by type and time range: BARs and ORDERs with ts in [1000+2001, 1000+2100] */
  q = (bt_store_filter){.run_no = ra, .type_mask = BT_EV_MASK(BT_EV_BAR) | BT_EV_MASK(BT_EV_ORDER),
                        .has_from = true, .from = 3001, .has_to = true, .to = 3100};
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  seen = 0;
  uint64_t prev = 0;
  bool ordered = true, in_range = true;
  while (bt_store_iter_next(it, &ev, &err) == 1) {
    seen++;
    ordered &= ev.seq > prev;
    prev = ev.seq;
    in_range &= ev.ts >= 3001 && ev.ts <= 3100 && (ev.type == BT_EV_BAR || ev.type == BT_EV_ORDER);
  }
  CHECK(seen == 80); /* 100 seqs: 70 bars + 10 orders */
  CHECK(ordered && in_range);
  bt_store_iter_free(it);

  /* the other run is separate */
  q = (bt_store_filter){.run_no = rb};
  CHECK_OK(bt_store_query(s, &q, &it, &err));
  seen = 0;
  while (bt_store_iter_next(it, &ev, &err) == 1) seen++;
  CHECK(seen == 100);
  bt_store_iter_free(it);

  /* lookup by seq: a row and a bar inside a chunk; a missing seq */
  bool found = false;
  CHECK_OK(bt_store_get_event(s, ra, 4002, &ev, &found, &err));
  make_event(4002, &want);
  CHECK(found && same_event(&ev, &want));
  char *js = bt_trace_event_data_json(&ev);
  CHECK(js && strstr(js, "\"reason\":\"insufficient cash\"") && strstr(js, "\"limit\":\"2.179012\""));
  free(js);
  bt_trace_event_clear(&ev);
  CHECK_OK(bt_store_get_event(s, ra, 3077, &ev, &found, &err));
  make_event(3077, &want);
  CHECK(found && same_event(&ev, &want));
  js = bt_trace_event_data_json(&ev);
  CHECK(js && strstr(js, "\"open\":"));
  free(js);
  bt_trace_event_clear(&ev);
  CHECK_OK(bt_store_get_event(s, ra, N + 1, &ev, &found, &err));
  CHECK(!found);

  /* children: what the ORDER 4002 caused */
  bt_trace_event *kids = NULL;
  size_t nk = 0;
  CHECK_OK(bt_store_children(s, ra, 4002, &kids, &nk, &err));
  CHECK(nk == 1 && kids[0].seq == 4003 && kids[0].type == BT_EV_FILL);
  for (size_t i = 0; i < nk; i++) bt_trace_event_clear(&kids[i]);
  free(kids);

  /* latency rows */
  bt_store_latency l = {.type = "FILL", .metric = "latency", .count = 3, .mean_ns = 2.5,
                        .p50_ns = 2, .p95_ns = 4, .max_ns = 4};
  CHECK_OK(bt_store_put_latency(s, ra, &l, &err));
  bt_store_latency *ls = NULL;
  size_t nl = 0;
  CHECK_OK(bt_store_get_latency(s, ra, &ls, &nl, &err));
  CHECK(nl == 1 && ls && ls[0].count == 3 && ls[0].max_ns == 4 && strcmp(ls[0].type, "FILL") == 0);
  free(ls);

  /* run b has chunks of 7: every event found by seq, every ORDER's FILL as its child */
  bool all_found = true, all_kids = true;
  for (uint64_t seq = 1; seq <= 100; seq++) {
    CHECK_OK(bt_store_get_event(s, rb, seq, &ev, &found, &err));
    make_event(seq, &want);
    all_found &= found && same_event(&ev, &want);
    if (found) bt_trace_event_clear(&ev);
    CHECK_OK(bt_store_children(s, rb, seq, &kids, &nk, &err));
    bool want_kid = seq % 10 <= 2 && seq + 1 <= 100; /* BAR->SIGNAL->ORDER->FILL */
    all_kids &= want_kid ? nk == 1 && kids[0].seq == seq + 1 : nk == 0;
    for (size_t i = 0; i < nk; i++) bt_trace_event_clear(&kids[i]);
    free(kids);
  }
  CHECK(all_found);
  CHECK(all_kids);

  /* finishing a run, finding it by prefix; ambiguous and unknown prefixes */
  bt_store_run_end end = {.status = "completed", .completed_at = 5000, .duration_ms = 7,
                          .metrics_json = "{\"sharpe\":1.5}", .bars = 4000, .event_count = N,
                          .stored = N};
  CHECK_OK(bt_store_run_finish(s, ra, &end, &err));
  bt_store_run run;
  CHECK_OK(bt_store_find_run(s, "aaaa1111", &run, &err));
  CHECK(run.run_no == ra && strcmp(run.status, "completed") == 0 && !run.incomplete);
  CHECK(run.metrics && strstr(run.metrics, "sharpe") && run.event_count == N);
  CHECK(run.clock_origin == 12345 && run.trace_config && strstr(run.trace_config, "all"));
  bt_store_run_clear(&run);
  CHECK(bt_store_find_run(s, "aaaa", &run, &err) != 0 && strstr(err.msg, "ambiguous"));
  CHECK(bt_store_find_run(s, "ffff", &run, &err) != 0 && strstr(err.msg, "no run"));
  /* run b is "running" in this live process: not incomplete */
  CHECK_OK(bt_store_find_run(s, "aaaa2222", &run, &err));
  CHECK(strcmp(run.status, "running") == 0 && !run.incomplete);
  bt_store_run_clear(&run);

  int nruns = 0;
  CHECK_OK(bt_store_list_runs(s, NULL, 0, count_run, &nruns, &err));
  CHECK(nruns == 2);
  nruns = 0;
  CHECK_OK(bt_store_list_runs(s, "corr-aaaa1111-0000-4000-8000-000000000001", 0, count_run, &nruns, &err));
  CHECK(nruns == 1);

  /* a third run whose segment gets damaged */
  bt_run_info c = make_info("aaaa3333-0000-4000-8000-000000000003", 1500);
  int64_t rc3 = 0;
  CHECK_OK(bt_store_run_begin(s, &c, NULL, 0, &rc3, &err));
  write_run(s, rc3, 3000, BT_STORE_CHUNK);
  CHECK(read_all(s, rc3) == 3000);
  test_damaged_segment(s, path, rc3, c.run_id);
  CHECK(read_all(s, ra) == (long long)N); /* the other runs are untouched */
  CHECK_OK(bt_store_run_finish(s, rc3, &end, &err));

  /* a segment whose run is gone (a crash between prune's commit and unlink), and a file
   * that is no segment */
  char orphan[600], other[600];
  seg_file(orphan, sizeof orphan, path, "cccc0000-0000-4000-8000-000000000000");
  snprintf(other, sizeof other, "%s.chunks/notes.txt", path);
  fclose(fopen(orphan, "w"));
  fclose(fopen(other, "w"));

  /* prune: run b is live (running in this process) and is kept; runs a and c go, with
   * their segments (c's is already deleted) and the orphan */
  int deleted = -1;
  CHECK_OK(bt_store_prune(s, -1, 0, &deleted, &err));
  CHECK(deleted == 2);
  CHECK(!exists(seg_a) && exists(seg_b) && !exists(orphan) && exists(other));
  nruns = 0;
  CHECK_OK(bt_store_list_runs(s, NULL, 0, count_run, &nruns, &err));
  CHECK(nruns == 1);
  CHECK_OK(bt_store_get_event(s, ra, 4002, &ev, &found, &err));
  CHECK(!found);
  CHECK_OK(bt_store_get_event(s, ra, 3077, &ev, &found, &err));
  CHECK(!found);
  end.status = "failed";
  CHECK_OK(bt_store_run_finish(s, rb, &end, &err));
  CHECK_OK(bt_store_prune(s, 2500, -1, &deleted, &err));
  CHECK(deleted == 1);
  CHECK(!exists(seg_b));
  bt_store_close(s);

  test_old_format();

  /* read-only open of a missing store names the path */
  char missing[600];
  snprintf(missing, sizeof missing, "%s.missing", path);
  CHECK(bt_store_open_readonly(&s, missing, &err) != 0 && strstr(err.msg, missing));
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
