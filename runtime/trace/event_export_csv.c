/* event_export_csv.c - CSV rows of the event export (event_export.h): the fixed
 * columns, then a column per payload key of the run's event types, learnt by
 * bt_event_export_scan. A flat payload (bus.h) is spread field by field
 * (bt_flat_fields, bt_flat_text), its keys found in a hash map of their raw bytes; only
 * a payload stored as JSON text (nested tables, arrays, more than BT_FLAT_MAX bytes) is
 * parsed with cJSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "event_export_internal.h"
#include "grow.h"
#include "log.h"

static const char *const BAR_KEYS[] = {"open", "high", "low", "close", "volume", NULL};
static const char *const ORDER_KEYS[] = {"order_id", "side", "order_type", "qty", "limit",
                                         "stop", "status", "reason", NULL};
static const char *const FILL_KEYS[] = {"order_id", "side", "qty", "price", "commission", NULL};

static const char *const *fixed_keys(int type) {
  return type == BT_EV_BAR ? BAR_KEYS : type == BT_EV_ORDER ? ORDER_KEYS
                                      : type == BT_EV_FILL  ? FILL_KEYS : NULL;
}

static void keyset_free(keyset *k) {
  for (size_t i = 0; i < k->n; i++) free(k->v[i]);
  free(k->v);
  memset(k, 0, sizeof *k);
}

static ssize_t keyset_find(const keyset *k, const char *key, size_t len) {
  for (size_t i = 0; i < k->n; i++)
    if (strncmp(k->v[i], key, len) == 0 && k->v[i][len] == 0) return (ssize_t)i;
  return -1;
}

static int keyset_add(keyset *k, const char *key, size_t len) {
  if (keyset_find(k, key, len) >= 0) return 0;
  if (BT_GROW(k->v, k->cap, k->n + 1)) return -1;
  if (!(k->v[k->n] = strndup(key, len))) return -1;
  k->n++;
  return 0;
}

/* ---- flat payload keys: raw key -> column ---------------------------------------- */

static uint32_t key_hash(const char *k, size_t n) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)k[i]) * 16777619u;
  return h;
}

/* The slot holding k, or the free one where it belongs (cap > 0, never full). */
static flatkey *keymap_slot(const keymap *m, const char *k, size_t n) {
  size_t i = key_hash(k, n) & (m->cap - 1);
  while (m->v[i].raw && (m->v[i].klen != n || memcmp(m->v[i].raw, k, n) != 0))
    i = (i + 1) & (m->cap - 1);
  return &m->v[i];
}

static int keymap_grow(keymap *m) {
  keymap g = {calloc(m->cap ? m->cap * 2 : 64, sizeof *g.v), m->n, m->cap ? m->cap * 2 : 64};
  if (!g.v) return -1;
  for (size_t i = 0; i < m->cap; i++)
    if (m->v[i].raw) *keymap_slot(&g, m->v[i].raw, m->v[i].klen) = m->v[i];
  free(m->v);
  *m = g;
  return 0;
}

static void keymap_free(keymap *m) {
  for (size_t i = 0; i < m->cap; i++) free(m->v[i].raw), free(m->v[i].name);
  free(m->v);
  memset(m, 0, sizeof *m);
}

/* The entry of a raw key, made when new: its name is the key as the payload's JSON reads
 * back (secrets redacted, cut at a NUL: cJSON's keys ended there); a name of 256+ bytes
 * has no column, as before. NULL on out-of-memory. */
static flatkey *flat_key(bt_event_export *x, const char *k, size_t n) {
  keymap *m = &x->flat;
  flatkey *f = m->cap ? keymap_slot(m, k, n) : NULL;
  if (f && f->raw) return f;
  if (2 * (m->n + 1) > m->cap) {
    if (keymap_grow(m)) return NULL;
    f = keymap_slot(m, k, n);
  }
  bt_json_buf *t = &x->tmp;
  t->len = 0;
  bt_log_redact_text(t, k, n);
  size_t len = t->data ? strnlen(t->data, t->len) : 0;
  if (t->failed || !(f->raw = malloc(n ? n : 1))) return NULL;
  memcpy(f->raw, k, n);
  /* no column until the name is made: an entry left by a failed strndup is never looked
   * up by its (NULL) name */
  f->klen = (uint8_t)n, f->types = 0, f->col = -1, f->name = NULL;
  m->n++;
  if (len < 256) {
    if (!(f->name = strndup(t->data ? t->data : "", len))) return NULL;
    f->col = -2;
  }
  return f;
}

static const char *const CSV_FIXED =
    "event_id,seq,event_type,user_type,timestamp,symbol,causation_id,correlation_id,source,"
    "created_at,emitted_at,received_at,processed_at,latency_ns,queue_time_ns";

/* Visit the leaves of a payload object: nested objects by dotted key; fn(key, value). */
typedef int (*leaf_fn)(void *ud, const char *key, size_t klen, const cJSON *v);
static int walk(const cJSON *o, char *key, size_t klen, size_t cap, leaf_fn fn, void *ud) {
  for (const cJSON *c = o ? o->child : NULL; c; c = c->next) {
    size_t n = klen;
    if (n && n < cap) key[n++] = '.';
    size_t l = c->string ? strlen(c->string) : 0;
    if (n + l >= cap) continue; /* a key path of 256+ bytes: not a column */
    memcpy(key + n, c->string, l);
    n += l;
    key[n] = 0;
    int rc = cJSON_IsObject(c) && c->child ? walk(c, key, n, cap, fn, ud) : fn(ud, key, n, c);
    if (rc) return rc;
  }
  return 0;
}

static cJSON *payload_tree(const bt_trace_event *e, bt_json_buf *tmp) {
  tmp->len = 0;
  bt_trace_event_data_write(tmp, e);
  return tmp->failed ? NULL : cJSON_ParseWithLength(tmp->data, tmp->len);
}

static int scan_leaf(void *ud, const char *key, size_t klen, const cJSON *v) {
  (void)v;
  return keyset_add(ud, key, klen);
}

/* The names of a flat payload's keys, into its type's key set. */
static int scan_flat(bt_event_export *x, const bt_trace_event *e) {
  bt_flat_field f[BT_FLAT_MAX_FIELDS];
  int n = bt_flat_fields(e->text, e->flat_len, f);
  for (int i = 0; i < n; i++) {
    flatkey *k = flat_key(x, f[i].key, f[i].klen);
    if (!k) return -1;
    if (!k->name || (k->types & BT_EV_MASK(e->type))) continue;
    k->types |= BT_EV_MASK(e->type);
    if (keyset_add(&x->types[e->type], k->name, strlen(k->name))) return -1;
  }
  return 0;
}

int bt_event_export_scan(bt_event_export *x, bt_store *s, const bt_store_run *run,
                         const bt_store_filter *q0, bt_err *err) {
  uint32_t mask = q0->type_mask ? q0->type_mask : BT_EV_MASK_ALL;
  if ((mask & BT_EV_MASK(BT_EV_BAR)) && run->bars) x->present[BT_EV_BAR] = true;
  bt_store_filter q = *q0;
  q.run_no = run->run_no;
  q.type_mask = mask & ~BT_EV_MASK(BT_EV_BAR); /* bars have fixed keys: their stream is skipped */
  if (!q.type_mask) return 0;
  bt_store_iter *it;
  if (bt_store_query(s, &q, &it, err)) return err->code;
  bt_trace_event e;
  bt_json_buf tmp = {0};
  int r, rc = 0;
  char key[256];
  while (!rc && (r = bt_store_iter_next(it, &e, err)) == 1) {
    x->present[e.type] = true;
    if (fixed_keys(e.type)) continue;
    if (e.text && e.flat_len) {
      if (scan_flat(x, &e)) rc = bt_errf(err, BT_ENOMEM, NULL, "out of memory");
      continue;
    }
    cJSON *t = payload_tree(&e, &tmp);
    if (walk(t, key, 0, sizeof key, scan_leaf, &x->types[e.type]))
      rc = bt_errf(err, BT_ENOMEM, NULL, "out of memory");
    cJSON_Delete(t);
  }
  if (!rc && r < 0) rc = err->code;
  bt_json_free(&tmp);
  bt_store_iter_free(it);
  return rc;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The columns from what the scans saw, then the header line. */
int export_csv_header(bt_event_export *x, bt_err *err) {
  for (int t = 0; t < BT_EV__COUNT; t++) {
    for (int k = 0; k < 8; k++) x->fixed_col[t][k] = -1;
    if (!x->present[t]) continue;
    const char *const *fk = fixed_keys(t);
    keyset *ks = &x->types[t];
    if (!fk) qsort(ks->v, ks->n, sizeof *ks->v, cmp_str);
    for (size_t i = 0; fk ? fk[i] != NULL : i < ks->n; i++) {
      const char *k = fk ? fk[i] : ks->v[i];
      ssize_t at = keyset_find(&x->cols, k, strlen(k));
      if (at < 0 && x->cols.n == MAX_COLS)
        return bt_errf(err, BT_EINVAL, "usage_error",
                       "the events have more than %d payload keys, too many CSV columns: "
                       "use --format jsonl", MAX_COLS);
      if (at < 0 && keyset_add(&x->cols, k, strlen(k))) return bt_errf(err, BT_ENOMEM, NULL, "out of memory");
      if (fk) x->fixed_col[t][i] = at < 0 ? (int)x->cols.n - 1 : (int)at;
    }
  }
  if (x->cols.n && !(x->cells = calloc(x->cols.n, sizeof *x->cells)))
    return bt_errf(err, BT_ENOMEM, NULL, "out of memory");
  bt_json_put(&x->b, CSV_FIXED, strlen(CSV_FIXED));
  for (size_t i = 0; i < x->cols.n; i++) {
    char name[300];
    int n = snprintf(name, sizeof name, "data.%s", x->cols.v[i]);
    bt_json_putc(&x->b, ',');
    csv_put(&x->b, name, (size_t)n < sizeof name ? (size_t)n : sizeof name - 1);
  }
  bt_json_putc(&x->b, '\n');
  x->header_done = true;
  return 0;
}

/* The cell of column col (-1: none) for this row: its text follows in scratch. */
static void cell_begin(bt_event_export *x, int col) {
  if (col < 0) return;
  x->cells[col] = (cell){.off = x->scratch.len, .row = x->row};
}
static void cell_end(bt_event_export *x, int col) {
  if (col >= 0) x->cells[col].len = x->scratch.len - x->cells[col].off;
}

static void cell_dec(bt_event_export *x, int col, int64_t raw) {
  if (col < 0) return;
  cell_begin(x, col);
  if (bt_json_reserve(&x->scratch, BT_DEC_STRLEN))
    commit(&x->scratch, bt_dec_put(bt_dec_raw(raw), x->scratch.data + x->scratch.len));
  cell_end(x, col);
}

static void cell_text(bt_event_export *x, int col, const char *s) {
  if (col < 0) return;
  cell_begin(x, col);
  bt_json_put(&x->scratch, s, strlen(s));
  cell_end(x, col);
}

static void cell_int(bt_event_export *x, int col, int64_t v) {
  if (col < 0) return;
  cell_begin(x, col);
  bt_json_int(&x->scratch, v);
  cell_end(x, col);
}

static int row_leaf(void *ud, const char *key, size_t klen, const cJSON *v) {
  bt_event_export *x = ud;
  ssize_t col = keyset_find(&x->cols, key, klen);
  if (col < 0) return 0;
  cell_begin(x, (int)col);
  if (cJSON_IsString(v)) {
    bt_json_put(&x->scratch, v->valuestring, strlen(v->valuestring));
  } else if (cJSON_IsNumber(v)) {
    bt_json_dbl(&x->scratch, v->valuedouble);
  } else if (cJSON_IsBool(v)) {
    if (cJSON_IsTrue(v)) BT_JSON_PUTS(&x->scratch, "true");
    else BT_JSON_PUTS(&x->scratch, "false");
  } else if (!cJSON_IsNull(v)) { /* arrays, empty objects: their JSON text */
    char *t = cJSON_PrintUnformatted(v);
    if (t) bt_json_put(&x->scratch, t, strlen(t));
    free(t);
  }
  cell_end(x, (int)col);
  return 0;
}

/* A flat payload's cells, each field's value as its JSON reads back (bt_flat_text). */
static void flat_cells(bt_event_export *x, const bt_trace_event *e) {
  bt_flat_field f[BT_FLAT_MAX_FIELDS];
  int n = bt_flat_fields(e->text, e->flat_len, f);
  for (int i = 0; i < n; i++) {
    flatkey *k = flat_key(x, f[i].key, f[i].klen);
    if (!k) {
      x->scratch.failed = true;
      return;
    }
    if (k->col == -2) k->col = (int)keyset_find(&x->cols, k->name, strlen(k->name));
    if (k->col < 0) continue;
    /* two keys with one name ("x" and "x\0y"): the later in key order wins, as it did
     * in the key-sorted JSON */
    cell *c = &x->cells[k->col];
    if (c->row == x->row && bt_flat_key_cmp(&f[i], &f[c->field]) < 0) continue;
    cell_begin(x, k->col);
    c->field = i;
    size_t at = x->scratch.len;
    bt_flat_text(&f[i], &x->scratch);
    const char *z = f[i].type == BT_FLAT_STR && x->scratch.len > at
                        ? memchr(x->scratch.data + at, 0, x->scratch.len - at) : NULL;
    if (z) x->scratch.len = (size_t)(z - x->scratch.data); /* cJSON's strings ended at a NUL */
    cell_end(x, k->col);
  }
}

/* The payload's cells: fixed-key types from the event's fields, flat payloads field by
 * field, the others through their JSON (cJSON holds numbers as doubles: exact to 2^53). */
static void payload_cells(bt_event_export *x, const bt_trace_event *e) {
  const int *fc = x->fixed_col[e->type];
  static const char *const otypes[] = {"market", "limit", "stop", "stop_limit"};
  static const char *const ostatus[] = {"pending", "filled", "cancelled", "rejected"};
  switch (e->type) {
  case BT_EV_BAR:
    cell_dec(x, fc[0], e->p.bar.open);
    cell_dec(x, fc[1], e->p.bar.high);
    cell_dec(x, fc[2], e->p.bar.low);
    cell_dec(x, fc[3], e->p.bar.close);
    if (fc[4] >= 0) {
      cell_begin(x, fc[4]);
      bt_json_dbl(&x->scratch, e->p.bar.volume);
      cell_end(x, fc[4]);
    }
    return;
  case BT_EV_ORDER:
    cell_int(x, fc[0], (int64_t)e->p.order.order_id);
    cell_text(x, fc[1], e->side ? "sell" : "buy");
    cell_text(x, fc[2], e->otype < 4 ? otypes[e->otype] : "unknown");
    cell_dec(x, fc[3], e->p.order.qty);
    if (e->otype == BT_LIMIT || e->otype == BT_STOP_LIMIT) cell_dec(x, fc[4], e->p.order.limit);
    if (e->otype == BT_STOP || e->otype == BT_STOP_LIMIT) cell_dec(x, fc[5], e->p.order.stop);
    cell_text(x, fc[6], e->ostatus < 4 ? ostatus[e->ostatus] : "unknown");
    if (e->text) cell_text(x, fc[7], e->text);
    return;
  case BT_EV_FILL:
    cell_int(x, fc[0], (int64_t)e->p.fill.order_id);
    cell_text(x, fc[1], e->side ? "sell" : "buy");
    cell_dec(x, fc[2], e->p.fill.qty);
    cell_dec(x, fc[3], e->p.fill.price);
    cell_dec(x, fc[4], e->p.fill.commission);
    return;
  default: {
    if (e->text && e->flat_len) {
      flat_cells(x, e);
      return;
    }
    cJSON *t = payload_tree(e, &x->tmp);
    char key[256];
    walk(t, key, 0, sizeof key, row_leaf, x);
    cJSON_Delete(t);
  }
  }
}

void export_csv_row(bt_event_export *x, const bt_trace_event *e) {
  bt_json_buf *b = &x->b;
  const char *sym = export_sym_of(x, e->symbol);
  const bt_json_buf *src = export_source_of(x, e->source);
  size_t ns = strlen(sym), ut = e->user_type ? strlen(e->user_type) * 2 + 2 : 0;
  if (!bt_json_reserve(b, ROW_FIXED + x->id_pre.len * 2 + x->corr.len + src->len + ns + ut))
    return;
  char *p = b->data + b->len;
  p = put_mem(p, x->id_pre.data, x->id_pre.len);
  p = bt_dec_put_uint(e->seq, p);
  *p++ = ',';
  p = bt_dec_put_uint(e->seq, p);
  *p++ = ',';
  const char *tn = export_type_name(e);
  p = put_mem(p, tn, strlen(tn));
  *p++ = ',';
  if (e->user_type) {
    commit(b, p);
    csv_put(b, e->user_type, strlen(e->user_type)); /* within the reserve: <= 2x + 2 */
    p = b->data + b->len;
  }
  *p++ = ',';
  p = export_put_time(x, p, e->ts);
  *p++ = ',';
  p = put_mem(p, sym, ns);
  *p++ = ',';
  if (e->cause) {
    p = put_mem(p, x->cause_pre.data, x->cause_pre.len);
    p = bt_dec_put_uint(e->cause, p);
  }
  *p++ = ',';
  p = put_mem(p, x->corr.data, x->corr.len);
  *p++ = ',';
  p = put_mem(p, src->data, src->len);
  const uint64_t t[4] = {e->created, e->emitted, e->received, e->processed};
  for (int i = 0; i < 4; i++) {
    *p++ = ',';
    p = bt_dec_put_uint(t[i], p);
  }
  *p++ = ',';
  p = put_i64(p, (int64_t)(e->processed - e->created));
  *p++ = ',';
  p = put_i64(p, (int64_t)(e->received - e->emitted));
  if (x->cols.n) {
    commit(b, p);
    x->row++;
    x->scratch.len = 0;
    payload_cells(x, e);
    /* one reserve for the payload columns: a comma each, cells at most doubled + quotes */
    if (x->scratch.failed || !bt_json_reserve(b, 3 * x->cols.n + 2 * x->scratch.len + 1)) return;
    p = b->data + b->len;
    const cell *c = x->cells;
    for (size_t i = 0; i < x->cols.n; i++, c++) {
      *p++ = ',';
      if (c->row == x->row) p = csv_put_at(p, x->scratch.data + c->off, c->len);
    }
  }
  *p++ = '\n';
  commit(b, p);
}

void export_csv_free(bt_event_export *x) {
  bt_json_free(&x->scratch);
  bt_json_free(&x->tmp);
  for (int t = 0; t < BT_EV__COUNT; t++) keyset_free(&x->types[t]);
  keyset_free(&x->cols);
  keymap_free(&x->flat);
  free(x->cells);
}
