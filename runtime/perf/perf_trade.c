#include "perf_trade.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "grow.h"
#include "iso8601.h"
#include "perf_hash.h"
#include "perf_time.h"

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
  /* one test for the usual case: no blank at all (btrun writes none) */
  while (p < e && (unsigned char)*p <= ' ' && (*p == ' ' || *p == '\t' || *p == '\r')) p++;
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
       K_COMMISSION, K_QTY, K_ENTRY_PRICE, K_N };
static const char *const key_names[K_N] = {"pnl",     "status",   "exit_time", "entry_time",
                                           "risk",    "trade_id", "run_id",    "symbol",
                                           "commission", "qty", "entry_price"};

static int key_of(const char *k, size_t n) {
  switch (n) {
  case 3:
    if (memcmp(k, "pnl", 3) == 0) return K_PNL;
    if (memcmp(k, "qty", 3) == 0) return K_QTY;
    return -1;
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
  case 11: return memcmp(k, "entry_price", 11) == 0 ? K_ENTRY_PRICE : -1;
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
    if (!bt_iso8601_parse(s->p, (long)s->n, BT_ISO_STRICT, out))
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

/* A number's text as strtod reads it (it stops at the closing quote or the delimiter).
 * Plain decimals of at most 15 digits ("100.5", "-3") are an exact integer over an exact
 * power of ten, so one IEEE division rounds them as strtod does; exponents, hex, inf/nan,
 * a leading '+', '.' or blank, and longer digit strings go to strtod. */
static double num_text(const char *p) {
  static const double p10[16] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
  const char *q = p + (*p == '-');
  if (*q < '0' || *q > '9') return strtod(p, NULL);
  uint64_t m = 0;
  int digits = 0, frac = -1;
  for (;; q++) {
    if (*q >= '0' && *q <= '9') {
      if (++digits > 15) return strtod(p, NULL);
      m = m * 10 + (uint64_t)(*q - '0');
      frac += frac >= 0;
    } else if (*q == '.' && frac < 0) {
      frac = 0;
    } else {
      break;
    }
  }
  if (*q == 'e' || *q == 'E' || *q == 'x' || *q == 'X') return strtod(p, NULL);
  double v = (double)m / p10[frac > 0 ? frac : 0];
  return *p == '-' ? -v : v;
}

/* Parse one object starting at p (after optional blanks), never past a newline or e;
 * *after = just past its closing brace; x (optional) gets what a report shows besides. */
static int parse_obj(const char *p, const char *e, bt_perf_trade *t, bt_perf_trade_shown *x,
                     const char *file, uint64_t line, bt_err *err, const char **after) {
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
  if (x) {
    *x = (bt_perf_trade_shown){0};
    if (f[K_SYMBOL].kind == 's') {
      x->symbol = f[K_SYMBOL].p, x->symbol_len = f[K_SYMBOL].n;
      x->symbol_escaped = memchr(x->symbol, '\\', x->symbol_len) != NULL;
    }
    if (f[K_QTY].kind == 's' || f[K_QTY].kind == 'n') x->qty = num_text(f[K_QTY].p);
    if (f[K_ENTRY_PRICE].kind == 's' || f[K_ENTRY_PRICE].kind == 'n')
      x->entry_price = num_text(f[K_ENTRY_PRICE].p);
  }
  return 0;
}

int bt_perf_parse_trade(const char *p, size_t len, bt_perf_trade *t, bt_perf_trade_shown *shown,
                        const char *file, uint64_t line, bt_err *err) {
  const char *after;
  int rc = parse_obj(p, p + len, t, shown, file, line, err, &after);
  if (!rc && skip_ws(after, p + len) != p + len)
    return bad(err, file, line, "", "trailing characters after the object");
  return rc;
}

void bt_perf_batch_parse(bt_perf_batch *b) {
  const char *p = b->p;
  uint64_t line = b->first_line;
  b->n = 0, b->rc = 0, b->skipped = 0;
  /* One pass: the parser stops at each object's end and the newline must follow. */
  while (p < b->e) {
    const char *q = skip_ws(p, b->e);
    if (*q != '\n') {
      if (BT_GROW(b->t, b->cap, b->n + 1) || (b->shown && BT_GROW(b->x, b->capx, b->n + 1))) {
        b->rc = bt_errf(&b->err, BT_ENOMEM, "out_of_memory", "out of memory");
        return;
      }
      const char *start = q;
      int rc = parse_obj(q, b->e, &b->t[b->n], b->shown ? &b->x[b->n] : NULL, b->file, line,
                         &b->err, &q);
      if (!rc && *(q = skip_ws(q, b->e)) != '\n')
        rc = bad(&b->err, b->file, line, "", "trailing characters after the object");
      if (rc && (b->strict || rc == BT_ENOMEM)) {
        b->rc = rc;
        return;
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
}
