/* store_chunk.c - the chunk codec: a batch of events as one compact blob (written by the
 * store writer thread) and its decoder. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "bus.h"
#include "grow.h"
#include "store_internal.h"

/* ---- writing ------------------------------------------------------------------- */

static int reserve(bt_store *s, size_t need) {
  /* a chunk blob is kilobytes: start there rather than at BT_GROW's 16 bytes */
  return BT_GROW(s->buf, s->cap, need < 4096 ? 4096 : need);
}

/* Chunk blob: version byte, the chunk's source names (varint count, then strings), (v4)
 * a price scale byte k: BAR prices are stored in units of 10^k raw units (prices quoted
 * to the cent have k = 6, so a bar's price deltas take a byte or two instead of four),
 * then per event, deltas against the previous event of the chunk as (zigzag) varints:
 *   seq, type (byte), ts, symbol, source index, seq - cause (0 = none),
 *   created, emitted - created, received, processed (v4: deltas against the previous
 *   event's; v2/v3: received - emitted, processed - received),
 *   payload: BAR open, high, low, close (deltas) and volume (varint(2v) when a whole
 *   number, else 0x01 + 8 bytes); ORDER order_id, side, order type, status (bytes), qty,
 *   limit, stop, reason; FILL order_id, side, qty, price, commission; other types the
 *   data JSON and the user type.
 * Strings are varint(len + 1) then the bytes; 0 is NULL. */
enum { CHUNK_VERSION = 4, EVENT_MAX_FIXED = 16 * 10 + 10 };
/* Version 3 stores the payload of the other types after a kind byte, and a flat payload
 * as is: its JSON is rendered when it is read, not on the writer's thread. Version 4
 * encodes received/processed against the previous event's (the writer stamps them per
 * batch: mostly one byte each). Versions 2 (the JSON string alone) and 3 still read. */
enum { DATA_NONE, DATA_JSON, DATA_FLAT };

static size_t text_len(const bt_trace_event *e) { return e->flat_len ? e->flat_len : strlen(e->text); }

static size_t put_str(uint8_t *p, const char *s, size_t len) {
  if (!s) return put_uv(p, 0);
  size_t n = put_uv(p, len + 1);
  memcpy(p + n, s, len);
  return n + len;
}

static const int64_t P10[9] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000};

/* The largest k <= 8 such that every BAR price of the chunk is a multiple of 10^k: one
 * pass, each test a remainder by a constant (a multiply, not a division). A bar that
 * fails at k is tested again at k - 1; the bars before it pass any smaller k. */
static int price_scale(const bt_trace_event *evs, size_t n) {
  size_t i = 0;
  for (int k = 8; k > 0; k--) {
#define ALL_MULTIPLES_OF(P)                                                                \
  for (; i < n; i++) {                                                                     \
    const bt_trace_event *e = &evs[i];                                                     \
    if (e->type == BT_EV_BAR && (e->p.bar.open % (P) || e->p.bar.high % (P) ||             \
                                 e->p.bar.low % (P) || e->p.bar.close % (P)))              \
      break;                                                                               \
  }                                                                                        \
  break
    switch (k) {
    case 8: ALL_MULTIPLES_OF(100000000);
    case 7: ALL_MULTIPLES_OF(10000000);
    case 6: ALL_MULTIPLES_OF(1000000);
    case 5: ALL_MULTIPLES_OF(100000);
    case 4: ALL_MULTIPLES_OF(10000);
    case 3: ALL_MULTIPLES_OF(1000);
    case 2: ALL_MULTIPLES_OF(100);
    default: ALL_MULTIPLES_OF(10);
    }
#undef ALL_MULTIPLES_OF
    if (i == n) return k;
  }
  return 0;
}

/* Exact division by 10^k of multiples of it: 10^k = 2^k * 5^k, so a shift and a multiply
 * by the inverse of 5^k modulo 2^64 (exact for negative values too). */
static uint64_t inverse_mod_2_64(uint64_t a) { /* a odd: Newton's iteration */
  uint64_t x = a; /* correct to 3 bits */
  for (int i = 0; i < 5; i++) x *= 2 - a * x;
  return x;
}

int bt_store_put_chunk(bt_store *s, int64_t run_no, int stream, const bt_trace_event *evs,
                       size_t n, bt_err *err) {
  if (n == 0) return 0;
  if (n > BT_STORE_CHUNK)
    return bt_errf(err, BT_EINVAL, "invalid_input", "bt_store_put_chunk: %zu events (max %d)", n,
                   BT_STORE_CHUNK);
  /* the chunk's distinct sources (few: feed, strategy, broker, ...) */
  const char *srcs[64];
  size_t nsrc = 0, need = 16;
  uint8_t *src_of = s->src_of;
  for (size_t i = 0; i < n; i++) {
    const char *src = evs[i].source ? evs[i].source : "";
    size_t k = 0;
    while (k < nsrc && srcs[k] != src && strcmp(srcs[k], src) != 0) k++;
    if (k == nsrc) {
      if (nsrc == 64) k = 0; /* cannot happen: the tracer interns at most 64 */
      else srcs[nsrc++] = src, need += strlen(src) + 10;
    }
    src_of[i] = (uint8_t)k;
    need += EVENT_MAX_FIXED + (evs[i].text ? text_len(&evs[i]) + 10 : 0) +
            (evs[i].user_type ? strlen(evs[i].user_type) + 10 : 0);
  }
  if (reserve(s, need)) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  uint8_t *p = s->buf;
  size_t len = 0;
  p[len++] = CHUNK_VERSION;
  len += put_uv(p + len, nsrc);
  for (size_t k = 0; k < nsrc; k++) len += put_str(p + len, srcs[k], strlen(srcs[k]));
  int scale = price_scale(evs, n);
  const uint64_t inv5 = inverse_mod_2_64((uint64_t)P10[scale] >> scale); /* 5^scale */
  p[len++] = (uint8_t)scale;
  bt_trace_event prev = {.seq = evs[0].seq - 1};
  int64_t ts_min = INT64_MAX, ts_max = INT64_MIN;
  uint32_t types = 0;
  for (size_t i = 0; i < n; i++) {
    const bt_trace_event *e = &evs[i];
    types |= 1u << e->type;
    if (e->ts < ts_min) ts_min = e->ts;
    if (e->ts > ts_max) ts_max = e->ts;
    len += put_uv(p + len, e->seq - prev.seq);
    p[len++] = e->type;
    len += put_sv(p + len, e->ts - prev.ts);
    len += put_uv(p + len, e->symbol);
    len += put_uv(p + len, src_of[i]);
    len += put_uv(p + len, e->cause && e->cause < e->seq ? e->seq - e->cause : 0);
    len += put_sv(p + len, (int64_t)(e->created - prev.created));
    len += put_sv(p + len, (int64_t)(e->emitted - e->created));
    len += put_sv(p + len, (int64_t)(e->received - prev.received));
    len += put_sv(p + len, (int64_t)(e->processed - prev.processed));
    switch (e->type) {
    case BT_EV_BAR: {
      /* prev holds the scaled prices */
#define SCALED(v) (int64_t)((uint64_t)((v) >> scale) * inv5)
      int64_t o = SCALED(e->p.bar.open), h = SCALED(e->p.bar.high), l = SCALED(e->p.bar.low),
              c = SCALED(e->p.bar.close);
#undef SCALED
      len += put_sv(p + len, (int64_t)((uint64_t)o - (uint64_t)prev.p.bar.open));
      len += put_sv(p + len, (int64_t)((uint64_t)h - (uint64_t)prev.p.bar.high));
      len += put_sv(p + len, (int64_t)((uint64_t)l - (uint64_t)prev.p.bar.low));
      len += put_sv(p + len, (int64_t)((uint64_t)c - (uint64_t)prev.p.bar.close));
      prev.p.bar.open = o, prev.p.bar.high = h, prev.p.bar.low = l, prev.p.bar.close = c;
      double v = e->p.bar.volume;
      if (v >= 0 && v < 4611686018427387904.0 && (double)(int64_t)v == v) {
        len += put_uv(p + len, (uint64_t)v << 1);
      } else {
        p[len++] = 1;
        memcpy(p + len, &v, 8);
        len += 8;
      }
      break;
    }
    case BT_EV_ORDER:
      len += put_uv(p + len, e->p.order.order_id);
      p[len++] = e->side;
      p[len++] = e->otype;
      p[len++] = e->ostatus;
      len += put_sv(p + len, e->p.order.qty);
      len += put_sv(p + len, e->p.order.limit);
      len += put_sv(p + len, e->p.order.stop);
      len += put_str(p + len, e->text, e->text ? strlen(e->text) : 0);
      break;
    case BT_EV_FILL:
      len += put_uv(p + len, e->p.fill.order_id);
      p[len++] = e->side;
      len += put_sv(p + len, e->p.fill.qty);
      len += put_sv(p + len, e->p.fill.price);
      len += put_sv(p + len, e->p.fill.commission);
      break;
    default:
      p[len++] = !e->text ? DATA_NONE : e->flat_len ? DATA_FLAT : DATA_JSON;
      if (e->text) len += put_str(p + len, e->text, text_len(e));
      len += put_str(p + len, e->user_type, e->user_type ? strlen(e->user_type) : 0);
      break;
    }
    prev.seq = e->seq;
    prev.ts = e->ts;
    prev.created = e->created;
    prev.received = e->received;
    prev.processed = e->processed;
  }
  /* the blob first: a committed row always points at bytes that exist */
  uint64_t off;
  int rc = store_seg_append(s, run_no, p, len, &off, err);
  if (rc) return rc;
  staged_row row = {.run_no = run_no, .stream = stream, .first_seq = (int64_t)evs[0].seq,
                    .last_seq = (int64_t)evs[n - 1].seq, .ts_min = ts_min, .ts_max = ts_max,
                    .n = (int64_t)n, .types = types, .seg_off = (int64_t)off,
                    .seg_len = (int64_t)len};
  if (store_stage(s, &row, NULL, 0)) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  s->staged_events += n;

  /* links for forward lineage: (cause, seq) pairs, one row per bucket of 1024 causes */
  uint64_t *buckets = s->buckets;
  size_t nb = 0;
  for (size_t i = 0; i < n; i++)
    if (evs[i].cause && evs[i].cause < evs[i].seq) buckets[nb++] = evs[i].cause >> 10;
  bool sorted = true; /* causes mostly come in order: no sort needed then */
  for (size_t i = 1; i < nb && sorted; i++) sorted = buckets[i - 1] <= buckets[i];
  if (!sorted) qsort(buckets, nb, sizeof *buckets, cmp_u64);
  for (size_t bi = 0; bi < nb && !rc; bi++) {
    if (bi && buckets[bi] == buckets[bi - 1]) continue;
    uint64_t bucket = buckets[bi], prev_cause = bucket << 10, first = 0;
    size_t l = 0;
    for (size_t j = 0; j < n; j++) {
      const bt_trace_event *e = &evs[j];
      if (!e->cause || e->cause >= e->seq || (e->cause >> 10) != bucket) continue;
      if (!first) first = e->seq;
      /* causes within a bucket are not sorted: signed deltas */
      l += put_sv(p + l, (int64_t)(e->cause - prev_cause));
      l += put_uv(p + l, e->seq - e->cause);
      prev_cause = e->cause;
    }
    staged_row lr = {.links = true, .run_no = run_no, .bucket = (int64_t)bucket,
                     .first_seq = (int64_t)first};
    if (store_stage(s, &lr, p, l)) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  return rc;
}

/* ---- reading chunks ------------------------------------------------------------ */

void store_chunk_end(chunk_rd *c) {
  for (size_t k = 0; k < c->nsrc; k++) free(c->srcs[k]);
  c->nsrc = 0;
  c->left = 0;
}

/* A string: *out = heap copy or NULL (wanted) or just skipped. */
static void get_str(rd *r, char **out) {
  uint64_t l = get_uv(r);
  if (out) *out = NULL;
  if (l == 0) return;
  if ((uint64_t)(r->end - r->p) < l - 1) {
    r->bad = true;
    return;
  }
  if (out) *out = strndup((const char *)r->p, l - 1);
  r->p += l - 1;
}

/* A flat payload: *out = a heap copy of its bytes (*len of them), or just skipped. Its
 * JSON is rendered only when asked for (bt_trace_event_data_json): fetching events
 * does not pay for formatting doubles. */
static void get_flat(rd *r, char **out, uint32_t *len) {
  uint64_t l = get_uv(r);
  if (out) *out = NULL;
  if (l == 0) return;
  if ((uint64_t)(r->end - r->p) < l - 1 || l - 1 > BT_FLAT_MAX) {
    r->bad = true;
    return;
  }
  if (out && l > 1 && (*out = malloc(l - 1))) {
    memcpy(*out, r->p, l - 1);
    *len = (uint32_t)(l - 1);
  }
  r->p += l - 1;
}

void store_chunk_start(chunk_rd *c, const void *blob, int len, uint64_t first_seq, uint64_t n) {
  store_chunk_end(c);
  c->r = (rd){blob, (const uint8_t *)blob + len, false};
  if (len < 1 || *c->r.p < 2 || *c->r.p > CHUNK_VERSION) {
    c->r.bad = true;
  } else {
    c->version = *c->r.p++;
    uint64_t nsrc = get_uv(&c->r);
    for (uint64_t k = 0; k < nsrc && k < 64 && !c->r.bad; k++) get_str(&c->r, &c->srcs[c->nsrc++]);
    if (nsrc > 64) c->r.bad = true;
    int scale = 0;
    if (c->version >= 4) {
      if (c->r.p < c->r.end && *c->r.p <= 8) scale = *c->r.p++;
      else c->r.bad = true;
    }
    c->unit = P10[scale];
  }
  c->left = n;
  memset(&c->prev, 0, sizeof c->prev);
  c->prev.seq = first_seq - 1;
}

/* 1 = *ev filled (strings heap when want_strings, else NULL), 0 = done, -1 = corrupt.
 * ev->source points into the decoder. */
int store_chunk_next(chunk_rd *c, bt_trace_event *ev, bool want_strings) {
  if (c->left == 0) return 0;
  rd *r = &c->r;
  if (r->bad) return -1;
  bt_trace_event e;
  e.text = e.user_type = NULL;
  e.flat_len = 0;
  /* Every field is range-checked: a damaged or hostile chunk is corrupt (-1), never
   * undefined behaviour (a shift past the mask's width, a signed overflow). */
  uint64_t dseq = get_uv(r);
  e.seq = c->prev.seq + dseq;
  if (dseq == 0 || e.seq < c->prev.seq) r->bad = true; /* strictly increasing */
  e.type = r->p < r->end ? *r->p++ : (r->bad = true, 0);
  if (e.type >= BT_EV__COUNT) r->bad = true, e.type = 0;
  if (__builtin_add_overflow(c->prev.ts, get_sv(r), &e.ts)) r->bad = true;
  uint64_t sym = get_uv(r);
  if (sym > UINT32_MAX) r->bad = true;
  e.symbol = (uint32_t)sym;
  uint64_t si = get_uv(r);
  if (si >= c->nsrc && c->nsrc) r->bad = true;
  e.source = si < c->nsrc ? c->srcs[si] : "";
  uint64_t back = get_uv(r);
  if (back >= e.seq && back) r->bad = true;
  e.cause = back && back < e.seq ? e.seq - back : 0;
  e.created = c->prev.created + (uint64_t)get_sv(r);
  e.emitted = e.created + (uint64_t)get_sv(r);
  if (c->version >= 4) {
    e.received = c->prev.received + (uint64_t)get_sv(r);
    e.processed = c->prev.processed + (uint64_t)get_sv(r);
  } else {
    e.received = e.emitted + (uint64_t)get_sv(r);
    e.processed = e.received + (uint64_t)get_sv(r);
  }
  switch (e.type) {
  case BT_EV_BAR: {
    e.side = e.otype = e.ostatus = 0;
    /* prev holds the scaled prices */
    e.p.bar.open = (int64_t)((uint64_t)c->prev.p.bar.open + (uint64_t)get_sv(r));
    e.p.bar.high = (int64_t)((uint64_t)c->prev.p.bar.high + (uint64_t)get_sv(r));
    e.p.bar.low = (int64_t)((uint64_t)c->prev.p.bar.low + (uint64_t)get_sv(r));
    e.p.bar.close = (int64_t)((uint64_t)c->prev.p.bar.close + (uint64_t)get_sv(r));
    uint64_t vtag = get_uv(r);
    if (vtag == 1) {
      if (r->end - r->p < 8) r->bad = true;
      else {
        memcpy(&e.p.bar.volume, r->p, 8);
        r->p += 8;
      }
    } else {
      e.p.bar.volume = (double)(vtag >> 1);
    }
    c->prev.p.bar = e.p.bar;
    e.p.bar.open = (int64_t)((uint64_t)e.p.bar.open * (uint64_t)c->unit);
    e.p.bar.high = (int64_t)((uint64_t)e.p.bar.high * (uint64_t)c->unit);
    e.p.bar.low = (int64_t)((uint64_t)e.p.bar.low * (uint64_t)c->unit);
    e.p.bar.close = (int64_t)((uint64_t)e.p.bar.close * (uint64_t)c->unit);
    break;
  }
  case BT_EV_ORDER:
    memset(&e.p, 0, sizeof e.p);
    e.p.order.order_id = get_uv(r);
    if (r->end - r->p < 3) {
      r->bad = true;
      break;
    }
    e.side = *r->p++;
    e.otype = *r->p++;
    e.ostatus = *r->p++;
    e.p.order.qty = get_sv(r);
    e.p.order.limit = get_sv(r);
    e.p.order.stop = get_sv(r);
    get_str(r, want_strings ? &e.text : NULL);
    break;
  case BT_EV_FILL:
    e.otype = e.ostatus = 0;
    memset(&e.p, 0, sizeof e.p);
    e.p.fill.order_id = get_uv(r);
    if (r->p >= r->end) {
      r->bad = true;
      break;
    }
    e.side = *r->p++;
    e.p.fill.qty = get_sv(r);
    e.p.fill.price = get_sv(r);
    e.p.fill.commission = get_sv(r);
    break;
  default: {
    e.side = e.otype = e.ostatus = 0;
    memset(&e.p, 0, sizeof e.p);
    int kind = c->version == 2 ? DATA_JSON : r->p < r->end ? *r->p++ : (r->bad = true, 0);
    if (kind == DATA_JSON) get_str(r, want_strings ? &e.text : NULL);
    else if (kind == DATA_FLAT) get_flat(r, want_strings ? &e.text : NULL, &e.flat_len);
    else if (kind != DATA_NONE) r->bad = true;
    get_str(r, want_strings ? &e.user_type : NULL);
    break;
  }
  }
  if (r->bad) {
    free(e.text);
    free(e.user_type);
    return -1;
  }
  c->prev.seq = e.seq;
  c->prev.ts = e.ts;
  c->prev.created = e.created;
  c->prev.received = e.received;
  c->prev.processed = e.processed;
  c->left--;
  *ev = e;
  return 1;
}

