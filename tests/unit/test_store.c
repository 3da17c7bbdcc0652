/* Event store: schema, writes, queries by type/time, lookup by seq, children, latency,
 * run lookup by prefix, prune. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus.h"
#include "store.h"

#include "check.h"

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

static bool same_event(const bt_trace_event *a, const bt_trace_event *b) {
  if (a->seq != b->seq || a->type != b->type || a->ts != b->ts || a->cause != b->cause ||
      a->symbol != b->symbol || a->created != b->created || a->emitted != b->emitted ||
      a->received != b->received || a->processed != b->processed)
    return false;
  if (strcmp(a->source ? a->source : "", b->source ? b->source : "") != 0) return false;
  switch (a->type) {
  case BT_EV_BAR:
    return memcmp(&a->p.bar, &b->p.bar, sizeof a->p.bar) == 0;
  case BT_EV_ORDER:
    return a->side == b->side && a->otype == b->otype && a->ostatus == b->ostatus &&
           memcmp(&a->p.order, &b->p.order, sizeof a->p.order) == 0 &&
           strcmp(a->text ? a->text : "", b->text ? b->text : "") == 0;
  case BT_EV_FILL:
    return a->side == b->side && memcmp(&a->p.fill, &b->p.fill, sizeof a->p.fill) == 0;
  default:
    return strcmp(a->text ? a->text : "", b->text ? b->text : "") == 0;
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

  /* prune: run b is live (running in this process) and is kept; run a goes */
  int deleted = -1;
  CHECK_OK(bt_store_prune(s, -1, 0, &deleted, &err));
  CHECK(deleted == 1);
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
  bt_store_close(s);

  /* read-only open of a missing store names the path */
  char missing[600];
  snprintf(missing, sizeof missing, "%s.missing", path);
  CHECK(bt_store_open_readonly(&s, missing, &err) != 0 && strstr(err.msg, missing));
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
