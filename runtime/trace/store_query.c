/* store_query.c - reading events back: one event by seq, its children, the filtered
 * iterator over a run, and an event's payload as JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "bus.h"
#include "decimal.h"
#include "grow.h"
#include "log.h"
#include "store_internal.h"

static int corrupt(bt_store *s, bt_err *err) {
  return bt_errf(err, BT_EIO, "store_error", "%s: corrupt event chunk", s->path);
}

void bt_trace_event_clear(bt_trace_event *ev) {
  free((char *)ev->source);
  free(ev->text);
  free(ev->user_type);
  memset(ev, 0, sizeof *ev);
}

int bt_store_get_event(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event *ev,
                       bool *found, bt_err *err) {
  *found = false;
  memset(ev, 0, sizeof *ev);
  sqlite3_stmt *st = s->st[ST_GET_CHUNK];
  int rc = 0;
  for (int stream = 0; stream < 2 && !*found && !rc; stream++) {
    sqlite3_bind_int64(st, 1, run_no);
    sqlite3_bind_int(st, 2, stream);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int step = sqlite3_step(st);
    const uint8_t *blob;
    int len;
    if (step == SQLITE_ROW && (uint64_t)sqlite3_column_int64(st, 1) >= seq &&
        !(rc = store_chunk_blob(s, st, 3, run_no, &s->rb, &blob, &len, err))) {
      chunk_rd c = {0};
      store_chunk_start(&c, blob, len, (uint64_t)sqlite3_column_int64(st, 0),
                  (uint64_t)sqlite3_column_int64(st, 2));
      bt_trace_event e;
      int r;
      while ((r = store_chunk_next(&c, &e, false)) == 1 && e.seq < seq) {
      }
      if (r < 0) {
        rc = corrupt(s, err);
      } else if (r == 1 && e.seq == seq) {
        /* decode that one event again with its strings */
        store_chunk_start(&c, blob, len, (uint64_t)sqlite3_column_int64(st, 0),
                    (uint64_t)sqlite3_column_int64(st, 2));
        while ((r = store_chunk_next(&c, &e, true)) == 1 && e.seq < seq) {
          free(e.text);
          free(e.user_type);
        }
        if (r == 1) {
          *ev = e;
          ev->source = strdup(e.source);
          *found = true;
        } else {
          rc = corrupt(s, err);
        }
      }
      store_chunk_end(&c);
    } else if (step != SQLITE_ROW && step != SQLITE_DONE) {
      rc = store_db_err(s, err, "get event");
    }
    sqlite3_reset(st);
  }
  return rc;
}

int bt_store_children(bt_store *s, int64_t run_no, uint64_t seq, bt_trace_event **out,
                      size_t *n, bt_err *err) {
  *out = NULL;
  *n = 0;
  uint64_t *kids = NULL;
  size_t nk = 0, cap = 0;
  int rc = 0, step;
  sqlite3_stmt *st = s->st[ST_GET_LINKS];
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int64(st, 2, (int64_t)(seq >> 10));
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    const uint8_t *b = sqlite3_column_blob(st, 0);
    rd r = {b, b + sqlite3_column_bytes(st, 0), false};
    uint64_t cause = (seq >> 10) << 10;
    while (r.p < r.end && !r.bad) {
      cause += (uint64_t)get_sv(&r);
      uint64_t child = cause + get_uv(&r);
      if (cause != seq || r.bad) continue;
      if (BT_GROW(kids, cap, nk + 1)) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        break;
      }
      kids[nk++] = child;
    }
    if (r.bad) rc = corrupt(s, err);
  }
  if (!rc && step != SQLITE_DONE) rc = store_db_err(s, err, "children");
  sqlite3_reset(st);
  if (!rc && nk) {
    qsort(kids, nk, sizeof *kids, cmp_u64);
    *out = calloc(nk, sizeof **out);
    if (!*out) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    for (size_t i = 0; !rc && i < nk; i++) {
      bool found;
      rc = bt_store_get_event(s, run_no, kids[i], &(*out)[*n], &found, err);
      if (!rc && found) (*n)++;
    }
  }
  free(kids);
  return rc;
}

/* ---- query iterator ------------------------------------------------------------ */

/* One chunk stream of the run (0: BARs, 1: the other events) with a one-event lookahead. */
typedef struct stream_cur {
  sqlite3_stmt *st;
  rbuf b; /* the chunk being decoded, read from the segment */
  chunk_rd c;
  bool done, have;
  bt_trace_event ev;
} stream_cur;

struct bt_store_iter {
  bt_store *s;
  int64_t run_no;
  stream_cur cur[2];
  uint32_t mask;
  char *user_type;
  int64_t from, to;
  char *out_text, *out_user_type; /* strings of the last returned event */
};

int bt_store_query(bt_store *s, const bt_store_filter *q, bt_store_iter **out, bt_err *err) {
  *out = NULL;
  bt_store_iter *it = calloc(1, sizeof *it);
  if (!it) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  it->s = s;
  it->run_no = q->run_no;
  it->from = q->has_from ? q->from : INT64_MIN;
  it->to = q->has_to ? q->to : INT64_MAX;
  it->mask = q->type_mask ? q->type_mask : BT_EV_MASK_ALL;
  if (q->user_type && !(it->user_type = strdup(q->user_type))) {
    free(it);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  int rc = 0;
  for (int stream = 0; stream < 2 && !rc; stream++) {
    uint32_t m = it->mask & (stream ? ~BT_EV_MASK(BT_EV_BAR) : BT_EV_MASK(BT_EV_BAR));
    stream_cur *c = &it->cur[stream];
    c->done = m == 0;
    if (c->done) continue;
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT first_seq, n, %s FROM chunks WHERE run = ?1 AND stream = ?2"
             " AND (types & ?3) <> 0 AND ts_max >= ?4 AND ts_min <= ?5 ORDER BY first_seq",
             BLOB_COLS(s));
    if (sqlite3_prepare_v2(s->db, sql, -1, &c->st, NULL)) {
      rc = store_db_err(s, err, "query");
      break;
    }
    sqlite3_bind_int64(c->st, 1, q->run_no);
    sqlite3_bind_int(c->st, 2, stream);
    sqlite3_bind_int64(c->st, 3, m);
    sqlite3_bind_int64(c->st, 4, it->from);
    sqlite3_bind_int64(c->st, 5, it->to);
  }
  if (rc) {
    bt_store_iter_free(it);
    return rc;
  }
  *out = it;
  return 0;
}

static bool wanted(const bt_store_iter *it, const bt_trace_event *e) {
  return (it->mask & BT_EV_MASK(e->type)) && e->ts >= it->from && e->ts <= it->to;
}

/* Fill c->ev with the stream's next wanted event (or mark it done). */
static int advance(bt_store_iter *it, stream_cur *c, bt_err *err) {
  for (;;) {
    /* BAR chunks have no strings; the other stream's are few and decoded eagerly */
    int r = c->c.left ? store_chunk_next(&c->c, &c->ev, c == &it->cur[1]) : 0;
    if (r < 0) return corrupt(it->s, err);
    if (r == 1) {
      if (!wanted(it, &c->ev)) {
        free(c->ev.text);
        free(c->ev.user_type);
        continue;
      }
      c->have = true;
      return 0;
    }
    int step = sqlite3_step(c->st);
    if (step == SQLITE_DONE) {
      c->done = true;
      return 0;
    }
    if (step != SQLITE_ROW) return store_db_err(it->s, err, "query");
    /* the decoder reads the blob in place: valid until this stream's next chunk */
    const uint8_t *blob;
    int len;
    int rc = store_chunk_blob(it->s, c->st, 2, it->run_no, &c->b, &blob, &len, err);
    if (rc) return rc;
    store_chunk_start(&c->c, blob, len, (uint64_t)sqlite3_column_int64(c->st, 0),
                (uint64_t)sqlite3_column_int64(c->st, 1));
  }
}

int bt_store_iter_next(bt_store_iter *it, bt_trace_event *ev, bt_err *err) {
  free(it->out_text);
  free(it->out_user_type);
  it->out_text = it->out_user_type = NULL;
  for (;;) {
    for (int k = 0; k < 2; k++) {
      stream_cur *c = &it->cur[k];
      if (!c->have && !c->done && advance(it, c, err)) return err->code;
    }
    stream_cur *a = &it->cur[0], *b = &it->cur[1];
    stream_cur *c = a->have && (!b->have || a->ev.seq < b->ev.seq) ? a : b->have ? b : NULL;
    if (!c) return 0;
    c->have = false;
    /* the iterator owns the strings of the event it returns until the next call */
    it->out_text = c->ev.text;
    it->out_user_type = c->ev.user_type;
    if (it->user_type && c->ev.type == BT_EV_USER &&
        (!c->ev.user_type || strcmp(c->ev.user_type, it->user_type) != 0))
      continue;
    *ev = c->ev;
    return 1;
  }
}

void bt_store_iter_free(bt_store_iter *it) {
  if (!it) return;
  for (int k = 0; k < 2; k++) {
    sqlite3_finalize(it->cur[k].st);
    if (it->cur[k].have) {
      free(it->cur[k].ev.text);
      free(it->cur[k].ev.user_type);
    }
    store_chunk_end(&it->cur[k].c);
    free(it->cur[k].b.p);
  }
  free(it->out_text);
  free(it->out_user_type);
  free(it->user_type);
  free(it);
}

/* ---- payload as JSON ----------------------------------------------------------- */

static void put_dec(bt_json_buf *b, const char *key, size_t klen, int64_t raw) {
  if (!bt_json_reserve(b, klen + BT_DEC_STRLEN + 2)) return;
  char *p = b->data + b->len;
  memcpy(p, key, klen);
  p += klen;
  *p++ = '"';
  p = bt_dec_put(bt_dec_raw(raw), p);
  *p++ = '"';
  *p = 0;
  b->len = (size_t)(p - b->data);
}
#define PUT_DEC(b, key, raw) put_dec((b), key, sizeof(key) - 1, (raw))

void bt_trace_event_data_write(bt_json_buf *b, const bt_trace_event *ev) {
  static const char *const otypes[] = {"market", "limit", "stop", "stop_limit"};
  static const char *const ostatus[] = {"pending", "filled", "cancelled", "rejected"};
  switch (ev->type) {
  case BT_EV_BAR:
    PUT_DEC(b, "{\"open\":", ev->p.bar.open);
    PUT_DEC(b, ",\"high\":", ev->p.bar.high);
    PUT_DEC(b, ",\"low\":", ev->p.bar.low);
    PUT_DEC(b, ",\"close\":", ev->p.bar.close);
    BT_JSON_PUTS(b, ",\"volume\":");
    bt_json_dbl(b, ev->p.bar.volume);
    bt_json_putc(b, '}');
    return;
  case BT_EV_ORDER:
    BT_JSON_PUTS(b, "{\"order_id\":");
    bt_json_int(b, (int64_t)ev->p.order.order_id);
    bt_json_put(b, ev->side ? ",\"side\":\"sell\"" : ",\"side\":\"buy\"", ev->side ? 14 : 13);
    const char *ot = ev->otype < 4 ? otypes[ev->otype] : "unknown";
    BT_JSON_PUTS(b, ",\"order_type\":\"");
    bt_json_put(b, ot, strlen(ot));
    bt_json_putc(b, '"');
    PUT_DEC(b, ",\"qty\":", ev->p.order.qty);
    if (ev->otype == BT_LIMIT || ev->otype == BT_STOP_LIMIT) PUT_DEC(b, ",\"limit\":", ev->p.order.limit);
    if (ev->otype == BT_STOP || ev->otype == BT_STOP_LIMIT) PUT_DEC(b, ",\"stop\":", ev->p.order.stop);
    const char *st = ev->ostatus < 4 ? ostatus[ev->ostatus] : "unknown";
    BT_JSON_PUTS(b, ",\"status\":\"");
    bt_json_put(b, st, strlen(st));
    bt_json_putc(b, '"');
    if (ev->text) {
      BT_JSON_PUTS(b, ",\"reason\":");
      bt_json_str(b, ev->text, strlen(ev->text));
    }
    bt_json_putc(b, '}');
    return;
  case BT_EV_FILL:
    BT_JSON_PUTS(b, "{\"order_id\":");
    bt_json_int(b, (int64_t)ev->p.fill.order_id);
    bt_json_put(b, ev->side ? ",\"side\":\"sell\"" : ",\"side\":\"buy\"", ev->side ? 14 : 13);
    PUT_DEC(b, ",\"qty\":", ev->p.fill.qty);
    PUT_DEC(b, ",\"price\":", ev->p.fill.price);
    PUT_DEC(b, ",\"commission\":", ev->p.fill.commission);
    bt_json_putc(b, '}');
    return;
  default:
    if (ev->text && ev->flat_len) {
      size_t at = b->len;
      if (bt_flat_render_json(ev->text, ev->flat_len, b) == (size_t)-1) {
        b->len = at; /* a corrupt flat payload (the codec checks it): an empty object */
        BT_JSON_PUTS(b, "{}");
      } else if (b->len > at && b->data[b->len - 1] == 0) {
        b->len--; /* the renderer ends its text with a counted NUL */
      }
    } else if (ev->text && *ev->text) {
      bt_json_put(b, ev->text, strlen(ev->text));
    } else {
      BT_JSON_PUTS(b, "{}");
    }
  }
}

char *bt_trace_event_data_json(const bt_trace_event *ev) {
  bt_json_buf b = {0};
  bt_trace_event_data_write(&b, ev);
  return bt_json_take(&b, NULL);
}
