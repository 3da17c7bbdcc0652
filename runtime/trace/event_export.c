/* event_export.c - JSONL and CSV export of stored events (event_export.h): the
 * export's life, each run's constant text, JSONL lines; CSV rows are
 * event_export_csv.c's.
 *
 * Rows are written straight into one large buffer and handed to fwrite in blocks of
 * ~1 MB: no cJSON tree, no allocation and no stdio call per event. */
#include "event_export_internal.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

bt_event_export *bt_event_export_new(FILE *out, bt_export_format fmt) {
  bt_event_export *x = calloc(1, sizeof *x);
  if (!x) return NULL;
  x->out = out;
  x->fmt = fmt;
  x->day = INT64_MIN;
  if (!bt_json_reserve(&x->b, FLUSH_AT + 64 * 1024)) {
    free(x);
    return NULL;
  }
  return x;
}

static void flush(bt_event_export *x) {
  if (x->b.len && !x->io_failed && fwrite(x->b.data, 1, x->b.len, x->out) != x->b.len)
    x->io_failed = true, x->io_errno = errno;
  x->b.len = 0;
}

static void syms_free(bt_event_export *x) {
  for (size_t i = 0; i < x->nsym; i++) free(x->sym[i]);
  free(x->sym);
  x->sym = NULL, x->nsym = 0;
}


/* The text of a string field, escaped for the output once: a JSON string or a CSV field. */
static void put_field(bt_event_export *x, bt_json_buf *b, const char *s) {
  if (x->fmt == BT_EXPORT_CSV) csv_put(b, s, strlen(s));
  else bt_json_str(b, s, strlen(s));
}

/* What is the same for every event of the run, escaped once. */
static int run_begin(bt_event_export *x, const bt_store_run *run) {
  syms_free(x);
  bool csv = x->fmt == BT_EXPORT_CSV;
  x->id_pre.len = x->cause_pre.len = x->corr.len = 0;
  if (csv) {
    csv_put(&x->id_pre, run->run_id, strlen(run->run_id));
    bt_json_putc(&x->id_pre, ':');
    csv_put(&x->corr, run->correlation_id, strlen(run->correlation_id));
  } else {
    BT_JSON_PUTS(&x->id_pre, "{\"event_id\":\"");
    bt_json_escape(&x->id_pre, run->run_id, strlen(run->run_id));
    bt_json_putc(&x->id_pre, ':');
    BT_JSON_PUTS(&x->corr, ",\"correlation_id\":");
    bt_json_str(&x->corr, run->correlation_id, strlen(run->correlation_id));
    BT_JSON_PUTS(&x->corr, ",\"source\":");
  }
  if (!csv) bt_json_putc(&x->cause_pre, '"');
  bt_json_put(&x->cause_pre, x->id_pre.data + (csv ? 0 : 13), x->id_pre.len - (csv ? 0 : 13));
  x->src[0] = 0;
  x->src_out.len = 0;
  put_field(x, &x->src_out, "");
  /* symbol names from the run's data JSON ([{"symbol":"ORCL",...}, ...]) */
  cJSON *arr = run->data ? cJSON_Parse(run->data) : NULL;
  int n = cJSON_GetArraySize(arr), rc = 0;
  if (n > 0 && !(x->sym = calloc((size_t)n, sizeof *x->sym))) rc = -1;
  for (int i = 0; !rc && i < n; i++) {
    cJSON *sy = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, i), "symbol");
    bt_json_buf f = {0};
    put_field(x, &f, cJSON_IsString(sy) ? sy->valuestring : "?");
    if (!(x->sym[i] = bt_json_take(&f, NULL))) rc = -1;
    else x->nsym++;
  }
  cJSON_Delete(arr);
  bool failed = x->id_pre.failed || x->cause_pre.failed || x->corr.failed || x->src_out.failed;
  return rc || failed ? -1 : 0;
}

const char *export_sym_of(const bt_event_export *x, uint32_t i) {
  return i < x->nsym ? x->sym[i] : x->fmt == BT_EXPORT_CSV ? "?" : "\"?\"";
}

/* The event's source, escaped; sources repeat ("feed", "broker"): escaped on change. */
const bt_json_buf *export_source_of(bt_event_export *x, const char *src) {
  if (!src) src = "";
  if (strcmp(src, x->src) != 0) {
    size_t n = strlen(src);
    if (n < sizeof x->src) memcpy(x->src, src, n + 1);
    else x->src[0] = 0; /* too long to cache: escaped each time */
    x->src_out.len = 0;
    put_field(x, &x->src_out, src);
  }
  return &x->src_out;
}

/* ---- writing at a cursor: the fixed fields of one row, after one bt_json_reserve --- */

static const char D2[] = "0001020304050607080910111213141516171819202122232425262728293031"
                         "3233343536373839404142434445464748495051525354555657585960616263"
                         "646566676869707172737475767778798081828384858687888990919293949596979899";



/* "YYYY-MM-DDTHH:MM:SSZ" (bt_format_time's form); the date is formatted once a day. */
char *export_put_time(bt_event_export *x, char *p, int64_t ts) {
  int64_t day = ts / 86400, rem = ts % 86400;
  if (rem < 0) rem += 86400, day--;
  if (day != x->day) {
    char t[32];
    bt_format_time(day * 86400, t);
    if (strlen(t) != 20) { /* a year outside 0..9999: the general form (<= 31 bytes) */
      bt_format_time(ts, t);
      return put_mem(p, t, strlen(t));
    }
    memcpy(x->date, t, 10);
    x->day = day;
  }
  p = put_mem(p, x->date, 10);
  int h = (int)(rem / 3600), m = (int)(rem / 60 % 60), s = (int)(rem % 60);
  *p++ = 'T';
  p = put_mem(p, D2 + h * 2, 2);
  *p++ = ':';
  p = put_mem(p, D2 + m * 2, 2);
  *p++ = ':';
  p = put_mem(p, D2 + s * 2, 2);
  *p++ = 'Z';
  return p;
}




/* ---- JSONL ---------------------------------------------------------------------- */

static void json_line(bt_event_export *x, const bt_trace_event *e) {
  bt_json_buf *b = &x->b;
  const char *sym = export_sym_of(x, e->symbol);
  const bt_json_buf *src = export_source_of(x, e->source);
  size_t ns = strlen(sym), ut = e->user_type ? strlen(e->user_type) * 6 + 2 : 0;
  if (!bt_json_reserve(b, ROW_FIXED + x->id_pre.len * 2 + x->corr.len + src->len + ns + ut))
    return;
  char *p = b->data + b->len;
  p = put_mem(p, x->id_pre.data, x->id_pre.len);
  p = bt_dec_put_uint(e->seq, p);
  p = PUT_LIT(p, "\",\"seq\":");
  p = bt_dec_put_uint(e->seq, p);
  p = PUT_LIT(p, ",\"event_type\":\"");
  const char *tn = export_type_name(e);
  p = put_mem(p, tn, strlen(tn));
  p = PUT_LIT(p, "\",\"user_type\":");
  if (e->user_type) {
    commit(b, p);
    bt_json_str(b, e->user_type, strlen(e->user_type)); /* within the reserve: <= 6x + 2 */
    p = b->data + b->len;
  } else {
    p = PUT_LIT(p, "null");
  }
  p = PUT_LIT(p, ",\"timestamp\":\"");
  p = export_put_time(x, p, e->ts);
  p = PUT_LIT(p, "\",\"symbol\":");
  p = put_mem(p, sym, ns);
  p = PUT_LIT(p, ",\"causation_id\":");
  if (e->cause) {
    p = put_mem(p, x->cause_pre.data, x->cause_pre.len);
    p = bt_dec_put_uint(e->cause, p);
    *p++ = '"';
  } else {
    p = PUT_LIT(p, "null");
  }
  p = put_mem(p, x->corr.data, x->corr.len);
  p = put_mem(p, src->data, src->len);
  p = PUT_LIT(p, ",\"created_at\":");
  p = bt_dec_put_uint(e->created, p);
  p = PUT_LIT(p, ",\"emitted_at\":");
  p = bt_dec_put_uint(e->emitted, p);
  p = PUT_LIT(p, ",\"received_at\":");
  p = bt_dec_put_uint(e->received, p);
  p = PUT_LIT(p, ",\"processed_at\":");
  p = bt_dec_put_uint(e->processed, p);
  p = PUT_LIT(p, ",\"latency_ns\":");
  p = put_i64(p, (int64_t)(e->processed - e->created));
  p = PUT_LIT(p, ",\"queue_time_ns\":");
  p = put_i64(p, (int64_t)(e->received - e->emitted));
  p = PUT_LIT(p, ",\"data\":");
  commit(b, p);
  bt_trace_event_data_write(b, e);
  BT_JSON_PUTS(b, "}\n");
}

static void run_free(bt_event_export *x) {
  syms_free(x);
  bt_json_free(&x->id_pre);
  bt_json_free(&x->cause_pre);
  bt_json_free(&x->corr);
  bt_json_free(&x->src_out);
}

void bt_event_json_write(bt_json_buf *b, const bt_store_run *run, const bt_trace_event *e) {
  bt_event_export x = {.fmt = BT_EXPORT_JSONL, .day = INT64_MIN, .b = *b};
  if (run_begin(&x, run) == 0) {
    json_line(&x, e);
    if (!x.b.failed) x.b.data[--x.b.len] = 0; /* the line without its newline */
  } else {
    x.b.failed = true;
  }
  *b = x.b;
  run_free(&x);
}

/* ---- driving -------------------------------------------------------------------- */

int bt_event_export_run(bt_event_export *x, bt_store *s, const bt_store_run *run,
                        bt_store_filter q, uint64_t limit, uint64_t *listed, bt_err *err) {
  bool csv = x->fmt == BT_EXPORT_CSV;
  if (run_begin(x, run)) return bt_errf(err, BT_ENOMEM, NULL, "out of memory");
  if (csv && !x->header_done && export_csv_header(x, err)) return err->code;
  q.run_no = run->run_no;
  bt_store_iter *it;
  if (bt_store_query(s, &q, &it, err)) return err->code;
  bt_trace_event e;
  int r = 0;
  while ((limit == 0 || *listed < limit) && !x->io_failed &&
         (r = bt_store_iter_next(it, &e, err)) == 1) {
    (*listed)++;
    if (csv) export_csv_row(x, &e);
    else json_line(x, &e);
    if (x->b.len >= FLUSH_AT) flush(x);
  }
  bt_store_iter_free(it);
  if (r < 0) return err->code;
  if (x->b.failed || x->scratch.failed) return bt_errf(err, BT_ENOMEM, NULL, "out of memory");
  return 0;
}

int bt_event_export_finish(bt_event_export *x, bt_err *err) {
  int rc = 0;
  if (x->fmt == BT_EXPORT_CSV && !x->header_done) rc = export_csv_header(x, err);
  flush(x);
  if (!x->io_failed && fflush(x->out) != 0) x->io_failed = true, x->io_errno = errno;
  if (!rc && x->io_failed && x->io_errno != EPIPE)
    rc = bt_errf(err, BT_EIO, NULL, "writing the events: %s", strerror(x->io_errno));
  bt_json_free(&x->b);
  export_csv_free(x);
  run_free(x);
  free(x);
  return rc;
}
