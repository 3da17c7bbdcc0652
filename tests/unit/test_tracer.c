/* Tracer: latency histogram, sampler (critical + context + causes, seeded), the full
 * pipeline bus -> ring -> writer -> store, bars stored exactly, bars "none" (only the
 * bars that caused something), a full ring (drop vs block), crash safety. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bus.h"
#include "store.h"
#include "tracer.h"

#include "check.h"

static bt_err err;
static int store_no;

static void store_path(char *out, size_t n) {
  const char *tmp = getenv("BT_TEST_TMP");
  if (!tmp) tmp = "/tmp";
  mkdir(tmp, 0755);
  snprintf(out, n, "%s/tracer-%d/events-%d.db", tmp, (int)getpid(), ++store_no);
}

static double rel_err(double got, double want) { return got > want ? got / want - 1 : 1 - got / want; }

/* ---- histogram ---- */
static void test_hist(void) {
  bt_lat_hist *h = calloc(1, sizeof *h);
  for (uint64_t v = 1; v <= 100000; v++) bt_lat_hist_add(h, v * 10); /* 10 ns .. 1 ms */
  CHECK(h->count == 100000);
  CHECK(h->max == 1000000);
  CHECK(h->sum == 500005ull * 100000);
  CHECK(rel_err((double)bt_lat_hist_quantile(h, 0.5), 500000) < 0.035);
  CHECK(rel_err((double)bt_lat_hist_quantile(h, 0.95), 950000) < 0.035);
  CHECK(bt_lat_hist_quantile(h, 1.0) <= 1000000);
  memset(h, 0, sizeof *h);
  for (int i = 0; i < 10; i++) bt_lat_hist_add(h, 7); /* small values are exact */
  bt_lat_hist_add(h, 1ull << 40);
  CHECK(bt_lat_hist_quantile(h, 0.5) == 7 && bt_lat_hist_quantile(h, 0.95) <= (1ull << 40));
  CHECK(rel_err((double)bt_lat_hist_quantile(h, 0.95), (double)(1ull << 40)) < 0.035);
  free(h);
}

/* ---- sampler ---- */
#define SN 20000
typedef struct kept_set {
  bool kept[SN + 1];
  uint64_t n_out, n_kept;
  uint64_t last_seq;
  bool in_order;
} kept_set;

static void on_out(void *ud, bt_trace_event *e, bool kept) {
  kept_set *k = ud;
  k->n_out++;
  if (e->seq <= k->last_seq) k->in_order = false;
  k->last_seq = e->seq;
  k->kept[e->seq] = kept;
  k->n_kept += kept;
}

/* BARs; every 97th event a SIGNAL caused by the previous BAR, then an ORDER caused by
 * the SIGNAL; a FILL of that order 2 events later (cause = ORDER). */
static void stream_event(uint64_t seq, bt_trace_event *e) {
  memset(e, 0, sizeof *e);
  e->seq = seq;
  e->type = BT_EV_BAR;
  uint64_t m = seq % 97;
  if (m == 10) e->type = BT_EV_SIGNAL, e->cause = seq - 1;
  if (m == 11) e->type = BT_EV_ORDER, e->cause = seq - 1;
  if (m == 14) e->type = BT_EV_FILL, e->cause = seq - 3;
}

static void run_sampler(const bt_trace_cfg *cfg, kept_set *k) {
  memset(k, 0, sizeof *k);
  k->in_order = true;
  bt_sampler *s;
  CHECK(bt_sampler_new(&s, cfg, on_out, k) == 0);
  for (uint64_t seq = 1; seq <= SN; seq++) {
    bt_trace_event e;
    stream_event(seq, &e);
    bt_sampler_push(s, &e);
  }
  bt_sampler_flush(s);
  CHECK(bt_sampler_gaps(s) == 0);
  bt_sampler_free(s);
}

static void test_sampler(void) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  cfg.sample_rate = 0.05;
  cfg.context_window = 3;
  cfg.bars = BT_TRACE_BARS_SAMPLED;
  cfg.seed = 42;
  static kept_set a, b, c;
  run_sampler(&cfg, &a);
  CHECK(a.n_out == SN && a.in_order);
  uint64_t crit = 0, crit_kept = 0, ctx_missing = 0, cause_missing = 0;
  for (uint64_t seq = 1; seq <= SN; seq++) {
    bt_trace_event e;
    stream_event(seq, &e);
    if (e.type == BT_EV_BAR) continue;
    crit++;
    crit_kept += a.kept[seq];
    for (uint64_t d = 1; d <= 3; d++) {
      if (seq > d && !a.kept[seq - d]) ctx_missing++;
      if (seq + d <= SN && !a.kept[seq + d]) ctx_missing++;
    }
    if (e.cause && !a.kept[e.cause]) cause_missing++;
  }
  CHECK(crit > 0 && crit_kept == crit);
  CHECK(ctx_missing == 0);
  CHECK(cause_missing == 0);
  /* far fewer than all, more than just critical + context */
  CHECK(a.n_kept < SN / 3);
  CHECK(a.n_kept > crit * 7);

  run_sampler(&cfg, &b); /* same seed: same events */
  CHECK(memcmp(a.kept, b.kept, sizeof a.kept) == 0);
  cfg.seed = 43; /* another seed: another sample */
  run_sampler(&cfg, &c);
  CHECK(memcmp(a.kept, c.kept, sizeof a.kept) != 0);

  cfg.sample_rate = 0; /* nothing but critical events, their context and causes */
  run_sampler(&cfg, &c);
  CHECK(c.n_kept <= crit * 7);
  cfg.sample_rate = 1; /* everything */
  run_sampler(&cfg, &c);
  CHECK(c.n_kept == SN);
}

/* ---- the pipeline on a bus ---- */

typedef struct synth {
  bt_bus *bus;
  bt_run_observer obs;
  bt_run_info info;
} synth;

static void synth_start(synth *s, const bt_trace_cfg *cfg, const char *run_id) {
  memset(s, 0, sizeof *s);
  bt_tracer *t = NULL;
  CHECK_OK(bt_tracer_new(&t, cfg, &err));
  s->obs = bt_tracer_observer(t);
  s->bus = bt_bus_new();
  snprintf(s->info.run_id, sizeof s->info.run_id, "%s", run_id);
  snprintf(s->info.correlation_id, sizeof s->info.correlation_id, "corr");
  snprintf(s->info.strategy_id, sizeof s->info.strategy_id, "synthetic");
  s->info.origin = "test";
  s->info.started_ms = 1;
  CHECK_OK(s->obs.on_start(s->obs.ud, &s->info, s->bus, &err));
}

static void synth_end(synth *s) {
  bt_run_outcome out = {.status = BT_RUN_COMPLETED, .events = bt_bus_last_id(s->bus),
                        .metrics_json = "{\"trades\":1}"};
  s->obs.on_end(s->obs.ud, &s->info, &out);
  s->obs.on_close(s->obs.ud);
  bt_bus_free(s->bus);
}

/* Publishes one bar and, every `every` bars, an ORDER caused by it and its FILL.
 * created_at lies `age` ns in the past. Returns the BAR's id. */
static uint64_t publish_bar(bt_bus *bus, int64_t i, int every, uint64_t age) {
  bt_bar bar = {.time = 1000 + i, .open = bt_dec_from_int(10 + i % 7), .high = bt_dec_from_int(20),
                .low = bt_dec_from_int(5), .close = bt_dec_from_int(11), .volume = 100};
  bt_event ev = {.type = BT_EV_BAR, .timestamp = bar.time, .source = "feed", .p.bar = &bar,
                 .created_at = age ? bt_bus_clock_ns() - age : 0};
  uint64_t id = bt_bus_publish(bus, &ev);
  if (every && i % every == 0) {
    bt_order o = {.id = (uint64_t)i, .side = BT_BUY, .type = BT_MARKET,
                  .qty = bt_dec_from_int(1), .status = BT_PENDING};
    bt_event oe = {.type = BT_EV_ORDER, .timestamp = bar.time, .causation_id = id,
                   .source = "strategy", .p.order = &o,
                   .created_at = age ? bt_bus_clock_ns() - age : 0};
    o.event_id = bt_bus_publish(bus, &oe);
    bt_fill f = {.order_id = o.id, .side = BT_BUY, .qty = o.qty, .price = bar.open,
                 .time = bar.time};
    bt_event fe = {.type = BT_EV_FILL, .timestamp = bar.time, .causation_id = o.event_id,
                   .source = "broker", .p.fill = {&o, &f},
                   .created_at = age ? bt_bus_clock_ns() - age : 0};
    bt_bus_publish(bus, &fe);
  }
  return id;
}

static void read_run(const char *path, const char *run_id, bt_store_run *run) {
  bt_store *st = NULL;
  CHECK_OK(bt_store_open_readonly(&st, path, &err));
  memset(run, 0, sizeof *run);
  if (st) CHECK_OK(bt_store_find_run(st, run_id, run, &err));
  bt_store_close(st);
}

/* Opens the store at path read-only and queries the events of run `id` of the types in
 * mask (0 = all); *run is filled (zeroed when missing). The caller frees all three. */
static void query_run(const char *path, const char *id, uint32_t mask, bt_store **st,
                      bt_store_run *run, bt_store_iter **it) {
  *st = NULL;
  *it = NULL;
  memset(run, 0, sizeof *run);
  CHECK_OK(bt_store_open_readonly(st, path, &err));
  if (*st) CHECK_OK(bt_store_find_run(*st, id, run, &err));
  bt_store_filter q = {.run_no = run->run_no, .type_mask = mask};
  if (*st) CHECK_OK(bt_store_query(*st, &q, it, &err));
}

static void test_pipeline(void) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  store_path(cfg.store, sizeof cfg.store);
  synth s;
  synth_start(&s, &cfg, "11111111-aaaa-4000-8000-000000000001");
  /* known timings: each event was created 1..5 ms before it was published */
  const int NB = 5000;
  for (int i = 1; i <= NB; i++) publish_bar(s.bus, i, 50, (uint64_t)(i % 5 + 1) * 1000000);
  uint64_t published = bt_bus_last_id(s.bus);
  synth_end(&s);

  bt_store *st = NULL;
  CHECK_OK(bt_store_open_readonly(&st, cfg.store, &err));
  if (!st) return;
  bt_store_run run;
  CHECK_OK(bt_store_find_run(st, "11111111", &run, &err));
  CHECK(strcmp(run.status, "completed") == 0);
  CHECK(run.event_count == published && run.stored == published && run.dropped == 0);
  CHECK(run.metrics && strstr(run.metrics, "trades"));
  /* every FILL leads back through its ORDER to a BAR */
  bt_store_filter q = {.run_no = run.run_no, .type_mask = BT_EV_MASK(BT_EV_FILL)};
  bt_store_iter *it = NULL;
  CHECK_OK(bt_store_query(st, &q, &it, &err));
  bt_trace_event ev;
  int fills = 0, traced = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    fills++;
    bt_trace_event order, bar;
    bool f1 = false, f2 = false;
    CHECK_OK(bt_store_get_event(st, run.run_no, ev.cause, &order, &f1, &err));
    if (f1 && order.type == BT_EV_ORDER)
      CHECK_OK(bt_store_get_event(st, run.run_no, order.cause, &bar, &f2, &err));
    if (f1 && f2 && bar.type == BT_EV_BAR && bar.ts == ev.ts) traced++;
    if (f2) bt_trace_event_clear(&bar);
    if (f1) bt_trace_event_clear(&order);
  }
  bt_store_iter_free(it);
  CHECK(fills == NB / 50 && traced == fills);

  /* latency statistics: created 1..5 ms (20% each) before publishing */
  bt_store_latency *ls = NULL;
  size_t nl = 0;
  CHECK_OK(bt_store_get_latency(st, run.run_no, &ls, &nl, &err));
  int checked = 0;
  for (size_t i = 0; i < nl; i++) {
    bt_store_latency *l = &ls[i];
    if (strcmp(l->type, "BAR") == 0 && strcmp(l->metric, "latency") == 0) {
      checked++;
      CHECK(l->count == (uint64_t)NB);
      CHECK(l->mean_ns >= 3e6 && l->mean_ns < 10e9); /* upper bound: no garbage (CI is slow) */
      CHECK(l->p50_ns >= 3e6 * 0.97 && l->p50_ns < 10e9);
      CHECK(l->p95_ns >= 5e6 * 0.97 && l->max_ns >= 5e6);
      CHECK(l->p50_ns <= l->p95_ns && l->p95_ns <= l->max_ns);
    }
    if (strcmp(l->type, "FILL") == 0) {
      checked++;
      CHECK(l->count == (uint64_t)(NB / 50));
    }
    if (strcmp(l->metric, "queue_time") == 0) CHECK(l->p50_ns <= l->max_ns);
  }
  CHECK(checked == 3); /* BAR latency, FILL latency and queue_time */
  free(ls);
  bt_store_run_clear(&run);
  bt_store_close(st);
}

/* Bars of every shape (prices to the cent and to the last digit, a price 100 away from
 * the close, a jump of decades in time, a symbol past 65535, a non-integral volume, a
 * negative price) through a ring that wraps many times: every one comes back exactly
 * as published, in order, with sane timings. */
static void test_bar_records(void) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  store_path(cfg.store, sizeof cfg.store);
  cfg.ring_size = 1024; /* 128 KB: the ring wraps many times */
  synth s;
  synth_start(&s, &cfg, "44444444-bars-4000-8000-000000000000");
  enum { NB = 20000 };
  static bt_bar sent[NB];
  uint64_t ids[NB];
  uint64_t rng = 7;
  for (int i = 0; i < NB; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    int kind = (int)(rng >> 60); /* 0..15: mostly close to the last bar */
    bt_bar *b = &sent[i];
    int64_t t = i ? sent[i - 1].time + 60 : 1700000000;
    /* the first half quoted to the cent (the store keeps them in units of 10^6), the
     * second to the last raw digit */
    int64_t u = i < NB / 2 ? 1000000 : 1;
    int64_t close = 1000000000 + (int64_t)(rng >> 40) % 1000 * u;
    *b = (bt_bar){.time = t, .close.v = close, .open.v = close - 3 * u, .high.v = close + 9 * u,
                  .low.v = close - 12 * u, .volume = (double)(rng >> 50), .symbol = 0};
    if (kind == 1) b->high.v = close + 100 * 100000000ll;        /* +100.0: past int32 */
    if (kind == 2) b->low.v = close - 50 * 100000000ll;
    if (kind == 3) b->time = t + 80ll * 365 * 86400;             /* decades later */
    if (kind == 4) b->symbol = 70000;                            /* past uint16 */
    if (kind == 5) b->volume = 0.25;
    if (kind == 6) b->open.v = -5 * 100000000ll;                 /* negative price */
    ids[i] = bt_bus_publish_bar(s.bus, b);
  }
  synth_end(&s);
  bt_store *st;
  bt_store_run run;
  bt_store_iter *it;
  query_run(cfg.store, "44444444", BT_EV_MASK(BT_EV_BAR), &st, &run, &it);
  bt_trace_event ev;
  int n = 0, bad = 0;
  uint64_t last_emitted = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    const bt_bar *b = n < NB ? &sent[n] : NULL;
    if (!b || ev.seq != ids[n] || ev.ts != b->time || ev.symbol != b->symbol ||
        ev.p.bar.open != b->open.v || ev.p.bar.high != b->high.v ||
        ev.p.bar.low != b->low.v || ev.p.bar.close != b->close.v ||
        ev.p.bar.volume != b->volume || strcmp(ev.source, "feed") != 0 ||
        ev.created != ev.emitted || ev.emitted < last_emitted || ev.received < ev.emitted ||
        ev.processed < ev.received) {
      if (!bad++) fprintf(stderr, "bar %d (seq %llu) differs\n", n, (unsigned long long)ev.seq);
    }
    last_emitted = ev.emitted;
    n++;
  }
  bt_store_iter_free(it);
  CHECK(n == NB);
  CHECK(bad == 0);
  CHECK(run.stored == NB && run.dropped == 0);
  bt_store_run_clear(&run);
  bt_store_close(st);
}

/* bars "none": only the bars that caused something are stored, whole, and every FILL
 * still leads back through its ORDER to its BAR. */
static void test_bars_none(void) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  store_path(cfg.store, sizeof cfg.store);
  cfg.bars = BT_TRACE_BARS_NONE;
  synth s;
  synth_start(&s, &cfg, "55555555-none-4000-8000-000000000000");
  const int NB = 1000, EVERY = 50;
  for (int i = 1; i <= NB; i++) publish_bar(s.bus, i, EVERY, 0);
  synth_end(&s);
  bt_store *st;
  bt_store_run run;
  bt_store_iter *it;
  query_run(cfg.store, "55555555", 0, &st, &run, &it);
  bt_trace_event ev;
  int bars = 0, orders = 0, fills = 0, bad = 0;
  uint64_t last_bar = 0;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    if (ev.type == BT_EV_BAR) {
      bars++;
      last_bar = ev.seq;
      /* publish_bar's bar i: time 1000 + i, open 10 + i % 7; caused an ORDER: i % 50 == 0 */
      int64_t i = ev.ts - 1000;
      if (i % EVERY != 0 || ev.p.bar.open != bt_dec_from_int(10 + i % 7).v ||
          ev.p.bar.high != bt_dec_from_int(20).v || ev.p.bar.volume != 100)
        bad++;
    } else if (ev.type == BT_EV_ORDER) {
      orders++;
      if (ev.cause != last_bar) bad++;
    } else if (ev.type == BT_EV_FILL) {
      fills++;
    }
  }
  bt_store_iter_free(it);
  CHECK(bars == NB / EVERY && orders == NB / EVERY && fills == NB / EVERY);
  CHECK(bad == 0);
  CHECK(run.stored == (uint64_t)(3 * NB / EVERY) && run.lineage_gaps == 0);
  bt_store_run_clear(&run);
  bt_store_close(st);
}

/* A tiny ring flooded faster than the writer can insert: "drop" loses only non-critical
 * events and reports how many; "block" loses nothing. */
static void flood(const char *policy_name, bt_trace_full policy, uint64_t *published,
                  bt_store_run *run, uint64_t *orders_stored) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  store_path(cfg.store, sizeof cfg.store);
  cfg.ring_size = 1024;
  cfg.full_policy = policy;
  synth s;
  char id[40];
  snprintf(id, sizeof id, "22222222-%s-4000-8000-000000000000", policy_name);
  synth_start(&s, &cfg, id);
  uint64_t norders = 0;
  /* 1 KB payloads: storing them is slower than the run thread copying them */
  static char payload[1024];
  if (!payload[0]) {
    memset(payload, 'x', sizeof payload - 1);
    memcpy(payload, "{\"k\":\"", 6);
    memcpy(payload + sizeof payload - 3, "\"}", 3);
  }
  for (int i = 0; i < 60000; i++) {
    bt_event ue = {.type = BT_EV_USER, .user_type = "tick", .timestamp = i, .source = "user",
                   .data_json = payload};
    bt_bus_publish(s.bus, &ue);
    if (i % 20 == 0) {
      bt_order o = {.id = (uint64_t)i, .side = BT_SELL, .type = BT_LIMIT,
                    .qty = bt_dec_from_int(3), .limit = bt_dec_from_int(7), .status = BT_PENDING};
      bt_event oe = {.type = BT_EV_ORDER, .timestamp = i, .source = "strategy", .p.order = &o};
      bt_bus_publish(s.bus, &oe);
      norders++;
    }
  }
  *published = bt_bus_last_id(s.bus);
  synth_end(&s);
  read_run(cfg.store, id, run);
  bt_store *st = NULL;
  *orders_stored = 0;
  CHECK_OK(bt_store_open_readonly(&st, cfg.store, &err));
  bt_store_filter q = {.run_no = run->run_no, .type_mask = BT_EV_MASK(BT_EV_ORDER)};
  bt_store_iter *it = NULL;
  if (st) CHECK_OK(bt_store_query(st, &q, &it, &err));
  bt_trace_event ev;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) (*orders_stored)++;
  bt_store_iter_free(it);
  bt_store_close(st);
  CHECK(*orders_stored == norders);
}

static void test_ring_full(void) {
  uint64_t published, orders;
  bt_store_run run;
  flood("drop", BT_TRACE_FULL_DROP, &published, &run, &orders);
  CHECK(run.dropped > 0);                       /* the flood did overrun the ring */
  CHECK(run.stored + run.dropped == published); /* every loss is counted */
  bt_store_run_clear(&run);
  flood("blck", BT_TRACE_FULL_BLOCK, &published, &run, &orders);
  CHECK(run.dropped == 0 && run.stored == published);
  bt_store_run_clear(&run);
}

/* A child traces `bars` bars (an ORDER and FILL every 30), waits past a commit, and
 * SIGKILLs itself mid-run: at least `want` events are committed, without gaps, and the
 * run is shown as incomplete. */
static void crash_run(const char *run_id, int bars, uint64_t want) {
  bt_trace_cfg cfg;
  bt_trace_cfg_defaults(&cfg, "/nonexistent");
  store_path(cfg.store, sizeof cfg.store);
  cfg.commit_ms = 20;
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    synth s;
    synth_start(&s, &cfg, run_id);
    for (int i = 1; i <= bars; i++) publish_bar(s.bus, i, 30, 0);
    usleep(400000);
    for (int i = bars + 1; i <= bars + 100; i++) publish_bar(s.bus, i, 30, 0);
    kill(getpid(), SIGKILL);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  bt_store *st;
  bt_store_run run;
  bt_store_iter *it;
  query_run(cfg.store, run_id, 0, &st, &run, &it);
  CHECK(strcmp(run.status, "running") == 0 && run.incomplete);
  bt_trace_event ev;
  uint64_t n = 0, last = 0;
  bool gapless = true;
  while (it && bt_store_iter_next(it, &ev, &err) == 1) {
    n++;
    gapless &= ev.seq == last + 1;
    last = ev.seq;
  }
  bt_store_iter_free(it);
  bt_store_close(st);
  CHECK(n >= want && gapless);
  bt_store_run_clear(&run);
}

static void test_crash(void) {
  /* a backlog far past the writer's lag: 3000 bars + 100 orders/fills */
  crash_run("33333333-dead-4000-8000-000000000000", 3000, 3200);
  /* a dozen bars, well short of the lag: taken anyway after half a commit interval */
  crash_run("33333333-5104-4000-8000-000000000000", 12, 12);
}

int main(void) {
  test_hist();
  test_sampler();
  test_pipeline();
  test_bar_records();
  test_bars_none();
  test_ring_full();
  test_crash();
  if (failures) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures != 0;
}
