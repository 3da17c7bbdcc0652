#include "perf_index_json.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "perf_time.h"

#define PERF_INDEX_VERSION 3

/* Integers are written and read by hand: the index is rewritten on every refresh that
 * saw new lines, and printf/strtoll dominated that cost. */
static char *put_u64(char *p, uint64_t v) {
  char t[24];
  int n = 0;
  do t[n++] = (char)('0' + v % 10); while (v /= 10);
  while (n) *p++ = t[--n];
  return p;
}

static char *put_i64(char *p, int64_t v) {
  *p++ = ' ';
  if (v < 0) {
    *p++ = '-';
    return put_u64(p, -(uint64_t)v);
  }
  return put_u64(p, (uint64_t)v);
}

char *bt_perf_index_dump(const bt_perf_index *ix, size_t *len) {
  bt_json_buf b = {0};
  bt_json_printf(&b, "{\"version\":%d,\"source\":", PERF_INDEX_VERSION);
  bt_json_str(&b, ix->source, strlen(ix->source));
  bt_json_printf(&b, ",\"timezone\":");
  bt_json_str(&b, ix->tz_label, strlen(ix->tz_label));
  bt_json_printf(&b, ",\"tail_k\":%u,\"skipped_lines\":%" PRIu64 ",\"skipped_first\":[",
                 ix->tail_k, ix->skipped_lines);
  for (uint64_t i = 0; i < ix->skipped_lines && i < BT_PERF_SKIP_KEEP; i++) {
    if (i) bt_json_printf(&b, ",");
    bt_json_str(&b, ix->skipped_first[i], strlen(ix->skipped_first[i]));
  }
  bt_json_printf(&b, "],\"files\":[");
  for (size_t i = 0; i < ix->nfiles; i++) {
    const bt_perf_file *f = &ix->files[i];
    bt_json_printf(&b, "%s\n{\"path\":", i ? "," : "");
    bt_json_str(&b, f->path, strlen(f->path));
    bt_json_printf(&b,
                      ",\"dev\":\"%" PRIu64 "\",\"ino\":\"%" PRIu64 "\",\"offset\":%" PRIu64
                      ",\"lines\":%" PRIu64 ",\"head_crc\":%u,\"tail_crc\":%u,\"partial\":%s}",
                      f->dev, f->ino, f->offset, f->lines, f->head_crc, f->tail_crc,
                      f->partial ? "true" : "false");
  }
  /* One string per day keeps the file cheap to parse: date, counts, money sums in units
   * of 10^-8, streak and drawdown monoids, fingerprint, then the tail as "pnl/risk"
   * items (10^-8 units, oldest first). */
  bt_json_printf(&b, "],\n\"days\":[");
  char *line = malloc(640 + (size_t)ix->tail_k * 48);
  if (!line) b.failed = true;
  for (size_t i = 0; i < ix->ndays && line; i++) {
    const bt_perf_day *d = &ix->days[i];
    char *p = line;
    if (i) *p++ = ',';
    *p++ = '\n', *p++ = '"';
    bt_perf_day_format(d->day, p);
    p += 10;
    const bt_perf_streak *st = &d->streak;
    const int64_t v[] = {d->trades,        d->wins,         d->losses,       d->r_trades,
                         d->gross_profit.v, d->gross_loss.v, d->commission.v, d->r_sum.v,
                         st->n,            st->pre_sign,    st->pre_len,     st->suf_sign,
                         st->suf_len,      st->max_win,     st->max_loss,    d->dd.sum.v,
                         d->dd.max_pre.v,  d->dd.min_pre.v, d->dd.dd.v};
    for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) p = put_i64(p, v[k]);
    *p++ = ' ';
    p = put_u64(p, d->fp);
    for (uint32_t k = 0; k < d->tail_n; k++) {
      uint32_t at = (d->tail_pos + ix->tail_k - d->tail_n + k) % ix->tail_k;
      p = put_i64(p, d->tail[at].pnl.v);
      *p++ = '/';
      p = put_i64(p, d->tail[at].risk.v);
    }
    *p++ = '"';
    bt_json_put(&b, line, (size_t)(p - line));
  }
  free(line);
  bt_json_printf(&b, "],\n\"open\":[");
  for (size_t i = 0; i < ix->nopen; i++) {
    const bt_perf_open_trade *o = &ix->open[i];
    bt_json_printf(&b, "%s\"%" PRIu64 " %" PRId64 " %" PRId64 " %" PRIu64 "\"", i ? "," : "",
                      o->key, o->entry_day, o->pnl.v, o->fp);
  }
  bt_json_printf(&b, "]}\n");
  return bt_json_take(&b, len);
}

/* Field reader over a day string. */
typedef struct rd {
  const char *p;
  bool ok;
} rd;

static uint64_t rd_u64(rd *r) {
  while (*r->p == ' ') r->p++;
  const char *s = r->p;
  uint64_t v = 0;
  while ((unsigned)(*r->p - '0') < 10 && r->p - s < 20) v = v * 10 + (uint64_t)(*r->p++ - '0');
  if (r->p == s || (*r->p && *r->p != ' ' && *r->p != '/')) r->ok = false;
  return v;
}

static int64_t rd_int(rd *r) {
  while (*r->p == ' ') r->p++;
  bool neg = *r->p == '-';
  if (neg) r->p++;
  uint64_t u = rd_u64(r);
  if (u > (uint64_t)INT64_MAX + neg) r->ok = false; /* INT64_MIN: BT_PERF_PNL_UNKNOWN */
  return neg ? (int64_t)(0 - u) : (int64_t)u;
}

static bool load_day(bt_perf_index *ix, const char *s, bt_perf_day *d) {
  memset(d, 0, sizeof *d);
  if (strlen(s) < 10) return false;
  char date[11];
  memcpy(date, s, 10);
  date[10] = '\0';
  if (!bt_perf_day_parse(date, &d->day)) return false;
  rd r = {s + 10, true};
  int64_t v[19];
  for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) v[k] = rd_int(&r);
  d->fp = rd_u64(&r);
  if (!r.ok) return false;
  d->trades = (uint32_t)v[0], d->wins = (uint32_t)v[1], d->losses = (uint32_t)v[2];
  d->r_trades = (uint32_t)v[3];
  d->gross_profit.v = v[4], d->gross_loss.v = v[5], d->commission.v = v[6], d->r_sum.v = v[7];
  bt_perf_streak *st = &d->streak;
  st->n = (uint32_t)v[8], st->pre_sign = (int8_t)v[9], st->pre_len = (uint32_t)v[10];
  st->suf_sign = (int8_t)v[11], st->suf_len = (uint32_t)v[12];
  st->max_win = (uint32_t)v[13], st->max_loss = (uint32_t)v[14];
  d->dd.sum.v = v[15], d->dd.max_pre.v = v[16], d->dd.min_pre.v = v[17], d->dd.dd.v = v[18];
  d->tail = calloc(ix->tail_k, sizeof *d->tail);
  if (!d->tail) return false;
  for (;;) {
    while (*r.p == ' ') r.p++;
    if (!*r.p) break;
    if (d->tail_n >= ix->tail_k) return false;
    bt_perf_tail_item *it = &d->tail[d->tail_n++];
    it->pnl.v = rd_int(&r);
    if (*r.p++ != '/') return false;
    it->risk.v = rd_int(&r);
    if (!r.ok) return false;
  }
  d->tail_pos = d->tail_n % ix->tail_k;
  return r.ok;
}

/* Member `key` of o when it has the type `is` checks, else NULL. */
static const cJSON *member(const cJSON *o, const char *key, cJSON_bool (*is)(const cJSON *)) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  return is(v) ? v : NULL;
}

int bt_perf_index_load(bt_perf_index *ix, const char *json, size_t len) {
  bt_perf_index_reset(ix);
  cJSON *root = cJSON_ParseWithLength(json, len);
  int rc = 1;
  if (!root) return 1;
  const cJSON *ver = member(root, "version", cJSON_IsNumber),
              *src = member(root, "source", cJSON_IsString),
              *tz = member(root, "timezone", cJSON_IsString),
              *tk = member(root, "tail_k", cJSON_IsNumber),
              *files = member(root, "files", cJSON_IsArray),
              *days = member(root, "days", cJSON_IsArray),
              *open = member(root, "open", cJSON_IsArray);
  if (!ver || ver->valueint != PERF_INDEX_VERSION || !src || strcmp(src->valuestring, ix->source) != 0 ||
      !tz || strcmp(tz->valuestring, ix->tz_label) != 0 || !tk || (uint32_t)tk->valueint != ix->tail_k ||
      !files || !days || !open)
    goto out;
  const cJSON *sk = member(root, "skipped_lines", cJSON_IsNumber),
              *skf = member(root, "skipped_first", cJSON_IsArray);
  if (sk && sk->valuedouble > 0) ix->skipped_lines = (uint64_t)sk->valuedouble;
  const cJSON *sit;
  size_t nsk = 0;
  if (skf) cJSON_ArrayForEach(sit, skf) {
      if (nsk < BT_PERF_SKIP_KEEP && cJSON_IsString(sit))
        snprintf(ix->skipped_first[nsk++], sizeof ix->skipped_first[0], "%s", sit->valuestring);
    }
  size_t nf = (size_t)cJSON_GetArraySize(files), nd = (size_t)cJSON_GetArraySize(days),
         no = (size_t)cJSON_GetArraySize(open);
  ix->files = calloc(nf ? nf : 1, sizeof *ix->files);
  ix->days = calloc(nd ? nd : 1, sizeof *ix->days);
  ix->open = calloc(no ? no : 1, sizeof *ix->open);
  if (!ix->files || !ix->days || !ix->open) goto out;
  ix->capfiles = nf ? nf : 1, ix->capdays = nd ? nd : 1, ix->capopen = no ? no : 1;
  const cJSON *it;
  cJSON_ArrayForEach(it, files) {
    const cJSON *p = member(it, "path", cJSON_IsString), *dev = member(it, "dev", cJSON_IsString),
                *ino = member(it, "ino", cJSON_IsString), *off = member(it, "offset", cJSON_IsNumber),
                *ln = member(it, "lines", cJSON_IsNumber), *hc = member(it, "head_crc", cJSON_IsNumber),
                *tc = member(it, "tail_crc", cJSON_IsNumber), *pa = member(it, "partial", cJSON_IsBool);
    if (!p || !dev || !ino || !off || !ln || !hc || !tc || !pa) goto out;
    bt_perf_file *f = &ix->files[ix->nfiles];
    if (!(f->path = strdup(p->valuestring))) goto out;
    ix->nfiles++;
    f->dev = strtoull(dev->valuestring, NULL, 10);
    f->ino = strtoull(ino->valuestring, NULL, 10);
    f->offset = (uint64_t)off->valuedouble;
    f->lines = (uint64_t)ln->valuedouble;
    f->head_crc = (uint32_t)hc->valuedouble;
    f->tail_crc = (uint32_t)tc->valuedouble;
    f->partial = cJSON_IsTrue(pa);
  }
  cJSON_ArrayForEach(it, days) {
    if (!cJSON_IsString(it)) goto out;
    bt_perf_day *d = &ix->days[ix->ndays];
    bool ok = load_day(ix, it->valuestring, d);
    if (d->tail) ix->ndays++;
    if (!ok || (ix->ndays > 1 && ix->days[ix->ndays - 2].day >= d->day)) goto out;
  }
  cJSON_ArrayForEach(it, open) {
    if (!cJSON_IsString(it)) goto out;
    rd r = {it->valuestring, true};
    bt_perf_open_trade *o = &ix->open[ix->nopen++];
    o->key = rd_u64(&r);
    o->entry_day = rd_int(&r);
    o->pnl.v = rd_int(&r);
    o->fp = rd_u64(&r);
    if (!r.ok) goto out;
  }
  rc = 0;
out:
  cJSON_Delete(root);
  if (rc) bt_perf_index_reset(ix);
  ix->dirty = rc != 0;
  return rc;
}
