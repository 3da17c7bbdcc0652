/* log_redact.c - secrets never reach a log line: redaction of free text and of values
 * under secret keys, and the validating copy of BT_F_JSON values. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "log_internal.h"

#define JSON_MAX_DEPTH 64

static const char *const SECRET_KEYS[] = {"api_key", "apikey",  "api-key",       "token",
                                          "secret",  "password", "passwd",       "authorization",
                                          "private_key", NULL};

/* Every secret pattern above and "bearer" starts with one of these letter pairs
 * (either case); FIRST[] lets the scanners pass over other bytes with one load
 * (1: a pattern may start here, 2: only "bearer" may). */
static const unsigned char FIRST[256] = {['a'] = 1, ['A'] = 1, ['t'] = 1, ['T'] = 1, ['s'] = 1,
                                         ['S'] = 1, ['p'] = 1, ['P'] = 1, ['b'] = 2, ['B'] = 2};

static bool at_trigger(const char *s, size_t n, size_t i, bool with_b) {
  unsigned f = FIRST[(unsigned char)s[i]];
  if (!f || (f == 2 && !with_b) || i + 1 >= n) return false;
  unsigned c = (unsigned char)s[i] | 0x20, d = (unsigned char)s[i + 1] | 0x20;
  switch (c) {
  case 'a': return d == 'p' || d == 'u';
  case 't': return d == 'o';
  case 's': return d == 'e';
  case 'p': return d == 'a' || d == 'r';
  default: return d == 'e'; /* 'b' */
  }
}

static bool ci_prefix(const char *s, size_t n, const char *lit) {
  size_t i = 0;
  for (; lit[i]; i++)
    if (i >= n || tolower((unsigned char)s[i]) != lit[i]) return false;
  return true;
}

bool bt_log_secret_key(const char *key, size_t len) {
  for (size_t i = 0; i < len; i++) {
    if (!at_trigger(key, len, i, false)) continue;
    int c = tolower((unsigned char)key[i]);
    for (int k = 0; SECRET_KEYS[k]; k++)
      if (SECRET_KEYS[k][0] == c && ci_prefix(key + i, len - i, SECRET_KEYS[k])) return true;
  }
  return false;
}

static bool is_ident(unsigned char c) { return isalnum(c) || c == '_' || c == '-'; }
static bool is_token_char(unsigned char c) {
  return isalnum(c) || strchr("-._~+/=", c) != NULL;
}
static bool is_value_end(unsigned char c, char quote) {
  if (quote) return c == (unsigned char)quote;
  return isspace(c) || strchr("&,;\"'})]", c) != NULL;
}

/* An auth scheme word ("Bearer ", "Basic ", ...) at s: its length including spaces. */
static size_t scheme_len(const char *s, size_t n) {
  static const char *const schemes[] = {"bearer", "basic", "token", "digest", NULL};
  for (int k = 0; schemes[k]; k++) {
    size_t l = strlen(schemes[k]);
    if (ci_prefix(s, n, schemes[k]) && l < n && s[l] == ' ') {
      while (l < n && s[l] == ' ') l++;
      return l;
    }
  }
  return 0;
}

/* Next secret inside free text at or after pos: "Bearer <token>" (the token is the
 * span) or "<secret-key-name>[=:] value" (the value is the span). */
static bool find_secret(const char *s, size_t n, size_t pos, size_t *rs, size_t *re) {
  for (size_t i = pos; i < n; i++) {
    if (!at_trigger(s, n, i, true)) continue;
    int c = tolower((unsigned char)s[i]);
    if (c == 'b' && (i == 0 || !isalnum((unsigned char)s[i - 1])) && ci_prefix(s + i, n - i, "bearer")) {
      size_t j = i + 6;
      if (j < n && s[j] == ' ') {
        while (j < n && s[j] == ' ') j++;
        size_t e = j;
        while (e < n && is_token_char((unsigned char)s[e])) e++;
        if (e > j) return *rs = j, *re = e, true;
      }
    }
    for (int k = 0; SECRET_KEYS[k]; k++) {
      if (SECRET_KEYS[k][0] != c || !ci_prefix(s + i, n - i, SECRET_KEYS[k])) continue;
      size_t j = i + strlen(SECRET_KEYS[k]);
      while (j < n && is_ident((unsigned char)s[j])) j++;
      if (j < n && (s[j] == '"' || s[j] == '\'')) j++;
      while (j < n && s[j] == ' ') j++;
      if (j >= n || (s[j] != '=' && s[j] != ':')) break;
      j++;
      while (j < n && s[j] == ' ') j++;
      char quote = 0;
      if (j < n && (s[j] == '"' || s[j] == '\'')) quote = s[j++];
      if (ci_prefix(s + j, n - j, "[redacted]")) break; /* rendered twice (nested JSON) */
      size_t e = j + scheme_len(s + j, n - j);
      while (e < n && !is_value_end((unsigned char)s[e], quote)) e++;
      if (e > j) return *rs = j, *re = e, true;
      break;
    }
  }
  return false;
}

/* s with each secret replaced by [REDACTED], the rest written through put. */
static inline void redact_with(bt_json_buf *b, const char *s, size_t n,
                               void (*put)(bt_json_buf *, const char *, size_t)) {
  size_t pos = 0, rs, re;
  while (pos < n && find_secret(s, n, pos, &rs, &re)) {
    put(b, s + pos, rs - pos);
    BT_JSON_PUTS(b, "[REDACTED]");
    pos = re;
  }
  if (pos < n) put(b, s + pos, n - pos);
}

void log_escape_redacted(bt_json_buf *b, const char *s, size_t n) {
  redact_with(b, s, n, bt_json_escape);
}

void bt_log_redact_text(bt_json_buf *b, const char *s, size_t n) {
  redact_with(b, s, n, bt_utf8_copy);
}

void bt_log_json_str(bt_json_buf *b, const char *s, size_t n) {
  bt_json_putc(b, '"');
  log_escape_redacted(b, s, n);
  bt_json_putc(b, '"');
}

/* --------------------------------------------- JSON copy (validate+redact) --- */

/* BT_F_JSON values are re-emitted through a validating copier so that a malformed
 * value cannot break the line, and values under secret keys are redacted at any
 * depth. Strings are decoded into `scratch` and re-escaped. */
typedef struct {
  const char *p, *end;
  bt_json_buf *scratch;
} jsrc;

static void jws(jsrc *s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static bool read_hex4(jsrc *s, unsigned *out) {
  if (s->end - s->p < 4) return false;
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hexval(s->p[i]);
    if (h < 0) return false;
    v = v << 4 | (unsigned)h;
  }
  s->p += 4;
  *out = v;
  return true;
}

static void put_utf8(bt_json_buf *b, unsigned cp) {
  char u[4];
  size_t n;
  if (cp < 0x80) u[0] = (char)cp, n = 1;
  else if (cp < 0x800) u[0] = (char)(0xC0 | cp >> 6), u[1] = (char)(0x80 | (cp & 0x3F)), n = 2;
  else if (cp < 0x10000)
    u[0] = (char)(0xE0 | cp >> 12), u[1] = (char)(0x80 | (cp >> 6 & 0x3F)),
    u[2] = (char)(0x80 | (cp & 0x3F)), n = 3;
  else
    u[0] = (char)(0xF0 | cp >> 18), u[1] = (char)(0x80 | (cp >> 12 & 0x3F)),
    u[2] = (char)(0x80 | (cp >> 6 & 0x3F)), u[3] = (char)(0x80 | (cp & 0x3F)), n = 4;
  bt_json_put(b, u, n);
}

/* Decode the JSON string at s->p (which is '"') into scratch (reset first). */
static bool jstring(jsrc *s) {
  bt_json_buf *d = s->scratch;
  d->len = 0;
  s->p++;
  while (s->p < s->end) {
    unsigned char c = (unsigned char)*s->p++;
    if (c == '"') return !d->failed;
    if (c < 0x20) return false;
    if (c != '\\') {
      bt_json_putc(d, (char)c);
      continue;
    }
    if (s->p >= s->end) return false;
    char e = *s->p++;
    unsigned cp;
    switch (e) {
    case '"': case '\\': case '/': bt_json_putc(d, e); break;
    case 'n': bt_json_putc(d, '\n'); break;
    case 'r': bt_json_putc(d, '\r'); break;
    case 't': bt_json_putc(d, '\t'); break;
    case 'b': bt_json_putc(d, '\b'); break;
    case 'f': bt_json_putc(d, '\f'); break;
    case 'u':
      if (!read_hex4(s, &cp)) return false;
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        jsrc save = *s;
        if (s->end - s->p >= 6 && s->p[0] == '\\' && s->p[1] == 'u' && (s->p += 2, read_hex4(s, &lo)) &&
            lo >= 0xDC00 && lo <= 0xDFFF)
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        else
          *s = save, cp = 0xFFFD;
      } else if (cp >= 0xDC00 && cp <= 0xDFFF)
        cp = 0xFFFD;
      put_utf8(d, cp);
      break;
    default: return false;
    }
  }
  return false;
}

static bool jliteral(jsrc *s, bt_json_buf *out, const char *lit) {
  size_t n = strlen(lit);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, lit, n) != 0) return false;
  if (out) bt_json_put(out, lit, n);
  s->p += n;
  return true;
}

static bool jnumber(jsrc *s, bt_json_buf *out) {
  const char *st = s->p, *p = s->p, *e = s->end;
  if (p < e && *p == '-') p++;
  if (p < e && *p == '0') p++;
  else if (p < e && *p >= '1' && *p <= '9')
    while (p < e && isdigit((unsigned char)*p)) p++;
  else
    return false;
  if (p < e && *p == '.') {
    p++;
    if (!(p < e && isdigit((unsigned char)*p))) return false;
    while (p < e && isdigit((unsigned char)*p)) p++;
  }
  if (p < e && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < e && (*p == '+' || *p == '-')) p++;
    if (!(p < e && isdigit((unsigned char)*p))) return false;
    while (p < e && isdigit((unsigned char)*p)) p++;
  }
  if (out) bt_json_put(out, st, (size_t)(p - st));
  s->p = p;
  return true;
}

static bool jvalue(jsrc *s, bt_json_buf *out, int depth) {
  if (depth > JSON_MAX_DEPTH) return false;
  jws(s);
  if (s->p >= s->end) return false;
  char c = *s->p;
  if (c == '"') {
    if (!jstring(s)) return false;
    if (out) bt_log_json_str(out, s->scratch->data ? s->scratch->data : "", s->scratch->len);
    return true;
  }
  if (c == '{' || c == '[') {
    char close = c == '{' ? '}' : ']';
    if (out) bt_json_putc(out, c);
    s->p++;
    jws(s);
    if (s->p < s->end && *s->p == close) {
      s->p++;
      if (out) bt_json_putc(out, close);
      return true;
    }
    for (;;) {
      bool secret = false;
      if (c == '{') {
        jws(s);
        if (s->p >= s->end || *s->p != '"' || !jstring(s)) return false;
        const char *k = s->scratch->data ? s->scratch->data : "";
        secret = bt_log_secret_key(k, s->scratch->len);
        if (out) bt_log_json_str(out, k, s->scratch->len), bt_json_putc(out, ':');
        jws(s);
        if (s->p >= s->end || *s->p++ != ':') return false;
      }
      if (!jvalue(s, secret ? NULL : out, depth + 1)) return false;
      if (secret && out) BT_JSON_PUTS(out, "\"[REDACTED]\"");
      jws(s);
      if (s->p >= s->end) return false;
      char d = *s->p++;
      if (d == close) break;
      if (d != ',') return false;
      if (out) bt_json_putc(out, ',');
    }
    if (out) bt_json_putc(out, close);
    return true;
  }
  if (c == 't') return jliteral(s, out, "true");
  if (c == 'f') return jliteral(s, out, "false");
  if (c == 'n') return jliteral(s, out, "null");
  return jnumber(s, out);
}

/* Copy JSON text; when it is not one valid JSON value, emit it as a string. */
void log_put_json_value(bt_json_buf *b, bt_json_buf *scratch, const char *json) {
  size_t n = strlen(json), start = b->len;
  jsrc s = {json, json + n, scratch};
  bool ok = jvalue(&s, b, 0);
  if (ok) jws(&s);
  if (ok && s.p == s.end && !scratch->failed) return;
  if (!b->failed) b->len = start;
  bt_log_json_str(b, json, n);
}

