#define _GNU_SOURCE /* memrchr */
#include "perf_reader.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "log.h"
#include "perf_hash.h"
#include "perf_time.h"

#define PERF_INDEX_VERSION 3
#define CRC_SPAN 4096

void bt_perf_index_init(bt_perf_index *ix, const char *source, const bt_tz *tz,
                        uint32_t tail_k) {
  memset(ix, 0, sizeof *ix);
  snprintf(ix->source, sizeof ix->source, "%s", source ? source : "");
  ix->tz = tz;
  bt_perf_tz_label(tz, ix->tz_label);
  ix->tail_k = tail_k ? tail_k : 1;
}

static void reset_data(bt_perf_index *ix) {
  for (size_t i = 0; i < ix->nfiles; i++) free(ix->files[i].path);
  for (size_t i = 0; i < ix->ndays; i++) free(ix->days[i].tail);
  free(ix->files);
  free(ix->days);
  free(ix->open);
  ix->files = NULL, ix->nfiles = 0;
  ix->days = NULL, ix->ndays = ix->capdays = 0;
  ix->open = NULL, ix->nopen = ix->capopen = 0;
  ix->last_hit = 0;
  ix->overflow = false;
  ix->skipped_lines = 0;
}

void bt_perf_index_free(bt_perf_index *ix) { reset_data(ix); }

/* ---- trade line parsing ---------------------------------------------------------- */

/* Key hash, 8 bytes per step (run ids are 36-byte UUIDs on every line). */
static uint64_t hash_bytes(uint64_t h, const char *p, size_t n) {
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, p, 8);
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    p += 8, n -= 8;
  }
  uint64_t w = 0;
  if (n) memcpy(&w, p, n); /* absent fields have p == NULL */
  h = (h ^ w ^ ((uint64_t)n << 56)) * 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 32);
}

typedef struct span {
  const char *p;
  size_t n;
  char kind; /* 's' string, 'n' number/literal, 'z' null, 'o' object/array, 0 absent */
} span;

static const char *skip_ws(const char *p, const char *e) {
  while (p < e && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
  return p;
}

/* A string from its opening quote: the closing quote, or NULL at a raw newline (JSON
 * strings never hold one, so a parse can never run into the next line). */
static const char *scan_string(const char *p, const char *e) {
  p++;
#ifdef __SSE2__
  /* Most of a trade line is inside strings: look for '"' or '\' 16 bytes at a time. */
  const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'),
                newline = _mm_set1_epi8('\n');
  while (p + 16 <= e) {
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
        _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)), _mm_cmpeq_epi8(v, newline)));
    if (!m) {
      p += 16;
      continue;
    }
    p += __builtin_ctz(m);
    if (*p == '"') return p;
    if (*p == '\n') return NULL;
    p += 2; /* an escape and the character it escapes */
  }
#endif
  for (; p < e; p++) {
    if (*p == '"') return p;
    if (*p == '\n') return NULL;
    if (*p == '\\') p++;
  }
  return NULL;
}

static const char *scan_nested(const char *p, const char *e) {
  int depth = 0;
  while (p < e) {
    char c = *p;
    if (c == '"') {
      p = scan_string(p, e);
      if (!p) return NULL;
    } else if (c == '{' || c == '[') {
      depth++;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return p + 1;
    } else if (c == '\n') {
      return NULL;
    }
    p++;
  }
  return NULL;
}

enum { K_PNL, K_STATUS, K_EXIT_TIME, K_ENTRY_TIME, K_RISK, K_TRADE_ID, K_RUN_ID, K_SYMBOL,
       K_COMMISSION, K_N };
static const char *const key_names[K_N] = {"pnl",     "status",   "exit_time", "entry_time",
                                           "risk",    "trade_id", "run_id",    "symbol",
                                           "commission"};

static int key_of(const char *k, size_t n) {
  switch (n) {
  case 3: return memcmp(k, "pnl", 3) == 0 ? K_PNL : -1;
  case 4: return memcmp(k, "risk", 4) == 0 ? K_RISK : -1;
  case 6:
    if (memcmp(k, "status", 6) == 0) return K_STATUS;
    if (memcmp(k, "run_id", 6) == 0) return K_RUN_ID;
    if (memcmp(k, "symbol", 6) == 0) return K_SYMBOL;
    return -1;
  case 8: return memcmp(k, "trade_id", 8) == 0 ? K_TRADE_ID : -1;
  case 9: return memcmp(k, "exit_time", 9) == 0 ? K_EXIT_TIME : -1;
  case 10:
    if (memcmp(k, "entry_time", 10) == 0) return K_ENTRY_TIME;
    if (memcmp(k, "commission", 10) == 0) return K_COMMISSION;
    return -1;
  default: return -1;
  }
}

/* Present and not null. */
static bool given(const span *s) { return s->kind && s->kind != 'z'; }

static int bad(bt_err *err, const char *file, uint64_t line, const char *field, const char *msg) {
  return bt_errf_at(err, BT_EINVAL, "trade_log_error", file, (long)line, field, "%s", msg);
}

static int parse_money(const span *s, bt_dec *out, const char *file, uint64_t line,
                       const char *field, bt_err *err) {
  if (s->kind != 's' && s->kind != 'n')
    return bad(err, file, line, field, "expected a decimal string or number");
  int n = bt_dec_parse(s->p, (long)s->n, out);
  if (n < 0) return bad(err, file, line, field, "value out of range or more than 8 decimals");
  if (n == 0 || (size_t)n != s->n) return bad(err, file, line, field, "not a decimal number");
  return 0;
}

static int parse_ts(const span *s, int64_t *out, const char *file, uint64_t line,
                    const char *field, bt_err *err) {
  if (s->kind == 's') {
    if (!bt_perf_time_parse(s->p, (long)s->n, out))
      return bad(err, file, line, field, "expected an ISO-8601 time like 2024-01-05T14:30:00Z");
    return 0;
  }
  if (s->kind == 'n') { /* epoch seconds, integer */
    char *end;
    char buf[32];
    if (s->n >= sizeof buf) return bad(err, file, line, field, "bad epoch seconds");
    memcpy(buf, s->p, s->n);
    buf[s->n] = '\0';
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno || *end) return bad(err, file, line, field, "expected integer epoch seconds");
    *out = v;
    return 0;
  }
  return bad(err, file, line, field, "expected a time string");
}

/* Parse one object starting at p (after optional blanks), never past a newline or e;
 * *after = just past its closing brace. */
static int parse_obj(const char *p, const char *e, bt_perf_trade *t, const char *file,
                     uint64_t line, bt_err *err, const char **after) {
  span f[K_N];
  memset(f, 0, sizeof f);
  p = skip_ws(p, e);
  if (p >= e || *p != '{') return bad(err, file, line, "", "expected a JSON object");
  p++;
  for (;;) {
    p = skip_ws(p, e);
    if (p < e && *p == '}') break;
    if (p >= e || *p != '"') return bad(err, file, line, "", "expected a key");
    const char *kq = scan_string(p, e);
    if (!kq) return bad(err, file, line, "", "unterminated key");
    int k = key_of(p + 1, (size_t)(kq - p - 1));
    const char *kn = k >= 0 ? key_names[k] : "";
    p = skip_ws(kq + 1, e);
    if (p >= e || *p != ':') return bad(err, file, line, "", "expected ':' after a key");
    p = skip_ws(p + 1, e);
    if (p >= e) return bad(err, file, line, kn, "missing value");
    span v = {p, 0, 0};
    if (*p == '"') {
      const char *q = scan_string(p, e);
      if (!q) return bad(err, file, line, kn, "unterminated string");
      v.p = p + 1, v.n = (size_t)(q - p - 1), v.kind = 's';
      p = q + 1;
    } else if (*p == '{' || *p == '[') {
      const char *q = scan_nested(p, e);
      if (!q) return bad(err, file, line, kn, "unterminated value");
      v.n = (size_t)(q - p), v.kind = 'o';
      p = q;
    } else {
      const char *q = p;
      while (q < e && *q != ',' && *q != '}' && *q != ' ' && *q != '\t' && *q != '\r' &&
             *q != '\n')
        q++;
      v.n = (size_t)(q - p);
      v.kind = (v.n == 4 && memcmp(p, "null", 4) == 0) ? 'z' : 'n';
      if (v.n == 0) return bad(err, file, line, kn, "missing value");
      p = q;
    }
    if (k >= 0) f[k] = v;
    p = skip_ws(p, e);
    if (p < e && *p == ',') {
      p++;
      continue;
    }
    if (p < e && *p == '}') break;
    return bad(err, file, line, "", "expected ',' or '}'");
  }
  *after = p + 1;

  memset(t, 0, sizeof *t);
  if (f[K_STATUS].kind == 's') {
    if (f[K_STATUS].n == 6 && memcmp(f[K_STATUS].p, "closed", 6) == 0) t->closed = true;
    else if (f[K_STATUS].n == 4 && memcmp(f[K_STATUS].p, "open", 4) == 0) t->closed = false;
    else return bad(err, file, line, "status", "expected \"closed\" or \"open\"");
  } else if (given(&f[K_STATUS])) {
    return bad(err, file, line, "status", "expected \"closed\" or \"open\"");
  } else {
    t->closed = given(&f[K_EXIT_TIME]);
  }
  if (f[K_PNL].kind == 'z' && !t->closed) {
    /* an open trade logged before its first mark: open, unrealized P&L unknown */
    t->pnl = BT_PERF_PNL_UNKNOWN;
  } else {
    if (!given(&f[K_PNL])) return bad(err, file, line, "pnl", "missing");
    if (parse_money(&f[K_PNL], &t->pnl, file, line, "pnl", err)) return err->code;
  }
  if (given(&f[K_COMMISSION]) &&
      parse_money(&f[K_COMMISSION], &t->commission, file, line, "commission", err))
    return err->code;
  if (given(&f[K_RISK])) {
    if (parse_money(&f[K_RISK], &t->risk, file, line, "risk", err)) return err->code;
    if (bt_dec_is_zero(t->risk)) return bad(err, file, line, "risk", "must not be zero");
    t->risk = bt_dec_abs(t->risk);
    t->has_risk = true;
  }
  if (t->closed) {
    if (!given(&f[K_EXIT_TIME]))
      return bad(err, file, line, "exit_time", "missing for a closed trade");
    if (parse_ts(&f[K_EXIT_TIME], &t->exit_ts, file, line, "exit_time", err)) return err->code;
  }
  if (given(&f[K_ENTRY_TIME])) {
    if (parse_ts(&f[K_ENTRY_TIME], &t->entry_ts, file, line, "entry_time", err)) return err->code;
  } else if (!t->closed) {
    return bad(err, file, line, "entry_time", "missing for an open trade");
  } else {
    t->entry_ts = t->exit_ts;
  }
  if (f[K_TRADE_ID].kind) {
    uint64_t h = hash_bytes(BT_PERF_FNV_BASIS, f[K_RUN_ID].p, f[K_RUN_ID].n);
    h = hash_bytes(h, f[K_TRADE_ID].p, f[K_TRADE_ID].n);
    h = hash_bytes(h, f[K_SYMBOL].p, f[K_SYMBOL].n);
    t->key = h ? h : 1;
  }
  return 0;
}

int bt_perf_parse_trade(const char *p, size_t len, bt_perf_trade *t, const char *file,
                        uint64_t line, bt_err *err) {
  const char *after;
  int rc = parse_obj(p, p + len, t, file, line, err, &after);
  if (!rc && skip_ws(after, p + len) != p + len)
    return bad(err, file, line, "", "trailing characters after the object");
  return rc;
}

/* ---- aggregation ----------------------------------------------------------------- */

static inline void acc(bt_perf_index *ix, bt_dec *a, bt_dec b) {
  if (__builtin_add_overflow(a->v, b.v, &a->v)) ix->overflow = true;
}

void bt_perf_streak_combine(bt_perf_streak *a, const bt_perf_streak *b) {
  if (b->n == 0) return;
  if (a->n == 0) {
    *a = *b;
    return;
  }
  bt_perf_streak r;
  r.n = a->n + b->n;
  uint32_t join = a->suf_sign == b->pre_sign ? a->suf_len + b->pre_len : 0;
  r.max_win = a->max_win > b->max_win ? a->max_win : b->max_win;
  r.max_loss = a->max_loss > b->max_loss ? a->max_loss : b->max_loss;
  if (a->suf_sign == 1 && join > r.max_win) r.max_win = join;
  if (a->suf_sign == -1 && join > r.max_loss) r.max_loss = join;
  r.pre_sign = a->pre_sign, r.pre_len = a->pre_len;
  if (a->pre_len == a->n && a->pre_sign != 0 && a->pre_sign == b->pre_sign)
    r.pre_len = a->n + b->pre_len;
  r.suf_sign = b->suf_sign, r.suf_len = b->suf_len;
  if (b->suf_len == b->n && b->suf_sign != 0 && b->suf_sign == a->suf_sign)
    r.suf_len = b->n + a->suf_len;
  *a = r;
}

bool bt_perf_dd_combine(bt_perf_dd *a, const bt_perf_dd *b) {
  bt_dec sum, hi, lo, fall;
  if (!bt_dec_add(a->sum, b->sum, &sum) || !bt_dec_add(a->sum, b->max_pre, &hi) ||
      !bt_dec_add(a->sum, b->min_pre, &lo) || !bt_dec_sub(a->max_pre, lo, &fall))
    return false;
  a->dd = bt_dec_max(bt_dec_max(a->dd, b->dd), fall);
  a->max_pre = bt_dec_max(a->max_pre, hi);
  a->min_pre = bt_dec_min(a->min_pre, lo);
  a->sum = sum;
  return true;
}

size_t bt_perf_index_lower(const bt_perf_index *ix, int64_t day) {
  size_t lo = 0, hi = ix->ndays;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ix->days[mid].day < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static bt_perf_day *day_get(bt_perf_index *ix, int64_t day, bt_err *err) {
  if (ix->last_hit < ix->ndays && ix->days[ix->last_hit].day == day) return &ix->days[ix->last_hit];
  size_t i = bt_perf_index_lower(ix, day);
  if (i == ix->ndays || ix->days[i].day != day) {
    if (ix->ndays == ix->capdays) {
      size_t cap = ix->capdays ? ix->capdays * 2 : 64;
      bt_perf_day *d = realloc(ix->days, cap * sizeof *d);
      if (!d) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"), NULL;
      ix->days = d, ix->capdays = cap;
    }
    memmove(&ix->days[i + 1], &ix->days[i], (ix->ndays - i) * sizeof *ix->days);
    ix->ndays++;
    bt_perf_day *d = &ix->days[i];
    memset(d, 0, sizeof *d);
    d->day = day;
    d->tail = calloc(ix->tail_k, sizeof *d->tail);
    if (!d->tail) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"), NULL;
  }
  ix->last_hit = i;
  return &ix->days[i];
}

static int open_find(const bt_perf_index *ix, uint64_t key) {
  for (size_t i = 0; i < ix->nopen; i++)
    if (ix->open[i].key == key) return (int)i;
  return -1;
}

static uint64_t trade_fp(const bt_perf_trade *t) {
  return bt_perf_mix64(t->key ^ bt_perf_mix64((uint64_t)t->exit_ts ^ ((uint64_t)t->closed << 63)) ^
                       bt_perf_mix64((uint64_t)t->pnl.v) ^
                       bt_perf_mix64((uint64_t)t->risk.v + 0x9e3779b97f4a7c15ULL));
}

int bt_perf_index_add(bt_perf_index *ix, const bt_perf_trade *t, bt_err *err) {
  ix->dirty = true;
  if (!t->closed) {
    int i = t->key ? open_find(ix, t->key) : -1;
    if (i < 0) {
      if (ix->nopen == ix->capopen) {
        size_t cap = ix->capopen ? ix->capopen * 2 : 16;
        bt_perf_open_trade *o = realloc(ix->open, cap * sizeof *o);
        if (!o) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        ix->open = o, ix->capopen = cap;
      }
      i = (int)ix->nopen++;
    }
    ix->open[i] = (bt_perf_open_trade){t->key, bt_perf_local_day(t->entry_ts, ix->tz), t->pnl,
                                 trade_fp(t)};
    return 0;
  }
  if (ix->nopen && t->key) {
    int i = open_find(ix, t->key);
    if (i >= 0) ix->open[i] = ix->open[--ix->nopen];
  }
  bt_perf_day *d = day_get(ix, bt_perf_local_day(t->exit_ts, ix->tz), err);
  if (!d) return err->code;
  int s = bt_dec_sign(t->pnl);
  d->trades++;
  if (s > 0) d->wins++, acc(ix, &d->gross_profit, t->pnl);
  else if (s < 0) d->losses++, acc(ix, &d->gross_loss, t->pnl);
  acc(ix, &d->commission, t->commission);
  if (t->has_risk) {
    bt_dec r;
    if (!bt_dec_div(t->pnl, t->risk, &r)) ix->overflow = true;
    else acc(ix, &d->r_sum, r), d->r_trades++;
  }
  bt_perf_streak one = {1, (int8_t)s, (int8_t)s, 1, 1, s > 0, s < 0};
  bt_perf_streak_combine(&d->streak, &one);
  bt_perf_dd dd1 = {t->pnl, bt_dec_max(t->pnl, BT_DEC_ZERO), bt_dec_min(t->pnl, BT_DEC_ZERO),
                    bt_dec_max(bt_dec_neg(t->pnl), BT_DEC_ZERO)};
  if (!bt_perf_dd_combine(&d->dd, &dd1)) ix->overflow = true;
  d->fp += trade_fp(t);
  d->tail[d->tail_pos] = (bt_perf_tail_item){t->pnl, t->has_risk ? t->risk : BT_DEC_ZERO};
  d->tail_pos = (d->tail_pos + 1) % ix->tail_k;
  if (d->tail_n < ix->tail_k) d->tail_n++;
  if (ix->overflow)
    return bt_errf(err, BT_ERANGE, "overflow", "performance sums exceed the decimal range");
  return 0;
}

/* Parse every line of [p, e) (e just after a newline) into a trade array. */
typedef struct block {
  const char *p, *e;
  const char *file;
  uint64_t first_line, lines;
  bt_perf_trade *t;
  size_t n, cap;
  int rc;
  bt_err err;
  bool strict;                  /* a bad line is an error, not skipped */
  uint64_t skipped;
  struct { uint64_t line; char why[200]; } skip[BT_PERF_SKIP_KEEP];
} block;

static void *parse_block(void *arg) {
  block *b = arg;
  const char *p = b->p;
  uint64_t line = b->first_line;
  b->n = 0, b->rc = 0, b->skipped = 0;
  /* One pass: the parser stops at each object's end and the newline must follow. */
  while (p < b->e) {
    const char *q = skip_ws(p, b->e);
    if (*q != '\n') {
      if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        bt_perf_trade *t = realloc(b->t, cap * sizeof *t);
        if (!t) {
          b->rc = bt_errf(&b->err, BT_ENOMEM, "out_of_memory", "out of memory");
          return NULL;
        }
        b->t = t, b->cap = cap;
      }
      const char *start = q;
      int rc = parse_obj(q, b->e, &b->t[b->n], b->file, line, &b->err, &q);
      if (!rc && *(q = skip_ws(q, b->e)) != '\n')
        rc = bad(&b->err, b->file, line, "", "trailing characters after the object");
      if (rc && (b->strict || rc == BT_ENOMEM)) {
        b->rc = rc;
        return NULL;
      }
      if (rc) {
        /* a line that cannot be used is skipped and counted: the report is partial */
        if (b->skipped < BT_PERF_SKIP_KEEP) {
          b->skip[b->skipped].line = line;
          snprintf(b->skip[b->skipped].why, sizeof b->skip[0].why, "%s", b->err.msg);
        }
        b->skipped++;
        q = memchr(start, '\n', (size_t)(b->e - start)); /* b->e is just after a newline */
      } else {
        b->n++;
      }
    }
    p = q + 1;
    line++;
  }
  b->lines = line - b->first_line;
  return NULL;
}

#define BLOCK_BYTES (4u << 20)

int bt_perf_index_add_buffer(bt_perf_index *ix, const char *buf, size_t len, const char *file,
                             uint64_t first_line, size_t *consumed, uint64_t *nlines,
                             bt_err *err) {
  *consumed = 0, *nlines = 0;
  const char *last = len ? memrchr(buf, '\n', len) : NULL;
  if (!last) return 0; /* only a partial line: left for the next refresh */
  const char *p = buf, *end = last + 1;
  uint64_t line = first_line;
  block b[2];
  memset(b, 0, sizeof b);
  b[0].strict = b[1].strict = ix->strict;
  int rc = 0;
  /* Big inputs (a cold start) parse two blocks at a time on two threads; trades are
   * then added in file order, so results do not depend on the split. */
  while (p < end && !rc) {
    int nb = 0;
    for (; nb < 2 && p < end; nb++) {
      const char *q = (size_t)(end - p) > BLOCK_BYTES ? p + BLOCK_BYTES : end;
      if (q < end) q = (const char *)memchr(q - 1, '\n', (size_t)(end - q) + 1) + 1;
      b[nb].p = p, b[nb].e = q, b[nb].file = file, b[nb].first_line = line;
      p = q;
    }
    pthread_t th;
    bool threaded = nb == 2 && pthread_create(&th, NULL, parse_block, &b[1]) == 0;
    parse_block(&b[0]);
    if (threaded) pthread_join(th, NULL);
    else if (nb == 2) parse_block(&b[1]);
    for (int k = 0; k < nb && !rc; k++) {
      for (uint64_t i = 0; i < b[k].skipped; i++) {
        if (i < BT_PERF_SKIP_KEEP) {
          if (ix->skipped_lines < BT_PERF_SKIP_KEEP)
            snprintf(ix->skipped_first[ix->skipped_lines], sizeof ix->skipped_first[0],
                     "%s:%" PRIu64, file, b[k].skip[i].line);
          bt_log("perf", BT_LOG_WARNING, "trade_line_skipped", BT_F_STR("file", file),
                 BT_F_INT("line", b[k].skip[i].line), BT_F_STR("error", b[k].skip[i].why));
        }
        ix->skipped_lines++;
      }
      if (b[k].rc) {
        /* re-parse to report the error with its real line number */
        b[k].first_line = line;
        parse_block(&b[k]);
        *err = b[k].err;
        rc = b[k].rc ? b[k].rc : BT_EINVAL;
        break;
      }
      for (size_t i = 0; i < b[k].n && !rc; i++) rc = bt_perf_index_add(ix, &b[k].t[i], err);
      if (rc) break;
      line += b[k].lines;
      *consumed = (size_t)(b[k].e - buf);
      *nlines = line - first_line;
    }
  }
  free(b[0].t);
  free(b[1].t);
  return rc;
}

/* ---- files ----------------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The trade log files of source, sorted by name. */
static int list_sources(const char *src, char ***out, size_t *n, bt_err *err) {
  struct stat st;
  *out = NULL, *n = 0;
  if (stat(src, &st) != 0)
    return bt_errf(err, BT_EIO, "io_error", "trade log path %s: %s", src, strerror(errno));
  if (!S_ISDIR(st.st_mode)) {
    *out = malloc(sizeof(char *));
    if (!*out || !((*out)[0] = strdup(src))) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    *n = 1;
    return 0;
  }
  DIR *d = opendir(src);
  if (!d) return bt_errf(err, BT_EIO, "io_error", "trade log directory %s: %s", src, strerror(errno));
  size_t cap = 0;
  struct dirent *de;
  int rc = 0;
  while ((de = readdir(d))) {
    size_t l = strlen(de->d_name);
    if (de->d_name[0] == '.' || l < 7 || strcmp(de->d_name + l - 6, ".jsonl") != 0) continue;
    if (*n == cap) {
      cap = cap ? cap * 2 : 16;
      char **v = realloc(*out, cap * sizeof *v);
      if (!v) { rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"); break; }
      *out = v;
    }
    size_t pl = strlen(src) + l + 2;
    char *path = malloc(pl);
    if (!path) { rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"); break; }
    snprintf(path, pl, "%s/%s", src, de->d_name);
    (*out)[(*n)++] = path;
  }
  closedir(d);
  if (*n) qsort(*out, *n, sizeof **out, cmp_str);
  return rc;
}

static void free_list(char **v, size_t n) {
  for (size_t i = 0; i < n; i++) free(v[i]);
  free(v);
}

static int read_range(int fd, uint64_t off, size_t n, char *buf) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

static uint32_t crc_of(const char *p, size_t n) {
  return (uint32_t)crc32(crc32(0L, Z_NULL, 0), (const Bytef *)p, (uInt)n);
}

/* Does the file still hold what we consumed (append-only growth)? */
static bool unchanged_prefix(int fd, const struct stat *st, const bt_perf_file *f) {
  if ((uint64_t)st->st_size < f->offset || (uint64_t)st->st_ino != f->ino ||
      (uint64_t)st->st_dev != f->dev)
    return false;
  if (f->offset == 0) return true;
  char buf[CRC_SPAN];
  size_t n = f->offset < CRC_SPAN ? (size_t)f->offset : CRC_SPAN;
  if (read_range(fd, 0, n, buf) || crc_of(buf, n) != f->head_crc) return false;
  if (read_range(fd, f->offset - n, n, buf) || crc_of(buf, n) != f->tail_crc) return false;
  return true;
}

/* Big (cold) reads: the new bytes are mapped a window at a time and unmapped once
 * parsed, so memory stays bounded however large the trade log is. A window ends at its
 * last complete line; a line longer than the window doubles it. */
#define MAP_WINDOW ((size_t)16 << 20)
static int consume_mapped(bt_perf_index *ix, bt_perf_file *f, int fd, uint64_t size,
                          size_t *used_out, uint64_t *nl_out, bt_err *err) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), pos = f->offset;
  size_t window = MAP_WINDOW;
  int rc = 0;
  while (pos < size && !rc) {
    size_t want = size - pos > window ? window : (size_t)(size - pos);
    uint64_t at = pos / page * page;
    size_t maplen = (size_t)(pos - at) + want;
    void *map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE, fd, (off_t)at);
    if (map == MAP_FAILED)
      return bt_errf(err, BT_EIO, "io_error", "%s: mmap: %s", f->path, strerror(errno));
    madvise(map, maplen, MADV_SEQUENTIAL);
    size_t used = 0;
    uint64_t nl = 0;
    rc = bt_perf_index_add_buffer(ix, (const char *)map + (pos - at), want, f->path,
                                  f->lines + 1 + *nl_out, &used, &nl, err);
    munmap(map, maplen);
    if (!rc && !used) {
      if (pos + want == size) break; /* only a partial last line is left */
      window *= 2;
      continue;
    }
    pos += used;
    *used_out += used;
    *nl_out += nl;
  }
  return rc;
}

/* Consume the bytes of fd from f->offset to size. */
static int consume(bt_perf_index *ix, bt_perf_file *f, int fd, uint64_t size, bt_err *err) {
  if (size == f->offset) {
    f->partial = false;
    return 0;
  }
  size_t len = (size_t)(size - f->offset);
  size_t used = 0;
  uint64_t nl = 0;
  int rc;
  if (len > (1u << 20)) {
    rc = consume_mapped(ix, f, fd, size, &used, &nl, err);
  } else {
    char *heap = malloc(len);
    if (!heap) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    if (read_range(fd, f->offset, len, heap)) {
      free(heap);
      return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    }
    rc = bt_perf_index_add_buffer(ix, heap, len, f->path, f->lines + 1, &used, &nl, err);
    free(heap);
  }
  if (rc == 0 && used) {
    uint64_t end = f->offset + used;
    size_t h = end < CRC_SPAN ? (size_t)end : CRC_SPAN;
    char tmp[CRC_SPAN];
    if (read_range(fd, 0, h, tmp)) return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    f->head_crc = crc_of(tmp, h);
    if (read_range(fd, end - h, h, tmp)) return bt_errf(err, BT_EIO, "io_error", "%s: read failed", f->path);
    f->tail_crc = crc_of(tmp, h);
    f->offset = end;
    f->lines += nl;
    ix->bytes_read += used;
    ix->lines_read += nl;
  }
  f->partial = rc == 0 && used < len;
  return rc;
}

static int refresh_once(bt_perf_index *ix, bool *restart, bt_err *err) {
  char **paths;
  size_t npaths;
  int rc = list_sources(ix->source, &paths, &npaths, err);
  if (rc) return rc;
  *restart = false;
  /* every known file must still be listed */
  for (size_t i = 0; i < ix->nfiles && !*restart; i++) {
    bool found = false;
    for (size_t j = 0; j < npaths && !found; j++) found = strcmp(paths[j], ix->files[i].path) == 0;
    if (!found) *restart = true;
  }
  for (size_t j = 0; j < npaths && !rc && !*restart; j++) {
    bt_perf_file *f = NULL;
    for (size_t i = 0; i < ix->nfiles && !f; i++)
      if (strcmp(paths[j], ix->files[i].path) == 0) f = &ix->files[i];
    int fd = open(paths[j], O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", paths[j], strerror(errno));
      break;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", paths[j], strerror(errno));
    } else if (!f) {
      bt_perf_file *v = realloc(ix->files, (ix->nfiles + 1) * sizeof *v);
      if (!v) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      } else {
        ix->files = v;
        f = &v[ix->nfiles++];
        memset(f, 0, sizeof *f);
        f->path = paths[j];
        paths[j] = NULL;
        f->dev = (uint64_t)st.st_dev, f->ino = (uint64_t)st.st_ino;
        ix->dirty = true;
        rc = consume(ix, f, fd, (uint64_t)st.st_size, err);
      }
    } else if (!unchanged_prefix(fd, &st, f)) {
      *restart = true;
    } else {
      bool was_partial = f->partial;
      uint64_t before = f->offset;
      rc = consume(ix, f, fd, (uint64_t)st.st_size, err);
      if (f->offset != before || f->partial != was_partial) ix->dirty = true;
    }
    close(fd);
  }
  free_list(paths, npaths);
  return rc;
}

int bt_perf_index_refresh(bt_perf_index *ix, bool force_cold, bt_err *err) {
  ix->bytes_read = ix->lines_read = 0;
  ix->rebuilt = ix->nfiles == 0; /* nothing known yet: this is a cold build */
  if (force_cold) {
    reset_data(ix);
    ix->dirty = ix->rebuilt = true;
  }
  bool restart;
  int rc = refresh_once(ix, &restart, err);
  if (rc == 0 && restart) {
    reset_data(ix);
    ix->dirty = ix->rebuilt = true;
    ix->bytes_read = ix->lines_read = 0;
    rc = refresh_once(ix, &restart, err);
  }
  return rc;
}

bool bt_perf_index_partial(const bt_perf_index *ix) {
  if (ix->skipped_lines) return true;
  for (size_t i = 0; i < ix->nopen; i++)
    if (ix->open[i].pnl.v == BT_PERF_PNL_UNKNOWN.v) return true;
  for (size_t i = 0; i < ix->nfiles; i++)
    if (ix->files[i].partial) return true;
  return false;
}

/* ---- persistence ----------------------------------------------------------------- */

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
  reset_data(ix);
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
  ix->capdays = nd ? nd : 1, ix->capopen = no ? no : 1;
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
  if (rc) reset_data(ix);
  ix->dirty = rc != 0;
  return rc;
}
