/* Flat event payloads (bus.h): bt_flat_render_json gives the same text as rendering the
 * equivalent Lua table as a log value (what the tracer stored before payloads were
 * flat-encoded), and rejects malformed encodings; bt_flat_fields and bt_flat_text (the
 * CSV export's walk) give each field's key and value as a JSON reader (cJSON) reads the
 * rendering back, secrets redacted the same way, on fixed and on random payloads. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "lua_log.h"

#include "check.h"

typedef struct {
  uint8_t b[BT_FLAT_MAX];
  size_t n;
} flat;

static void add(flat *f, bt_flat_type t, const char *k, const void *v, size_t n) {
  CHECK(bt_flat_add(f->b, &f->n, t, k, strlen(k), v, n));
}
static void add_dbl(flat *f, const char *k, double v) { add(f, BT_FLAT_DBL, k, &v, 8); }
static void add_int(flat *f, const char *k, int64_t v) { add(f, BT_FLAT_INT, k, &v, 8); }
static void add_dec(flat *f, const char *k, int64_t raw) { add(f, BT_FLAT_DEC, k, &raw, 8); }
static void add_str(flat *f, const char *k, const char *v, size_t len) {
  add(f, BT_FLAT_STR, k, v, len);
}
static void add_bool(flat *f, const char *k, int v) {
  add(f, v ? BT_FLAT_TRUE : BT_FLAT_FALSE, k, NULL, 0);
}

/* The flat text must equal the log rendering of the Lua table built by `lua_src`. */
static void same_as_lua(lua_State *L, const flat *f, const char *lua_src) {
  bt_json_buf a = {0}, b = {0};
  size_t oa = bt_flat_render_json(f->b, f->n, &a);
  CHECK(oa != (size_t)-1);
  CHECK(luaL_dostring(L, lua_src) == LUA_OK);
  size_t ob = bt_lua_log_render_json(L, -1, &b);
  lua_pop(L, 1);
  if (oa != (size_t)-1 && strcmp(a.data + oa, b.data + ob) != 0) {
    fprintf(stderr, "flat %s\n lua %s\n", a.data + oa, b.data + ob);
    failures++;
  }
  bt_json_free(&a);
  bt_json_free(&b);
}

/* Each field's key (bt_log_redact_text) and value (bt_flat_text) must read as cJSON reads
 * the rendered JSON: strings compared up to a NUL (where cJSON's end), doubles by their
 * text through bt_json_dbl, ints by their exact digits (cJSON's double is exact below
 * 2^53). Keys must be unique once read back. */
static void reads_as_json(const flat *f) {
  bt_json_buf j = {0}, k = {0}, v = {0};
  size_t off = bt_flat_render_json(f->b, f->n, &j);
  bt_flat_field fs[BT_FLAT_MAX_FIELDS];
  int n = bt_flat_fields(f->b, f->n, fs);
  cJSON *o = off == (size_t)-1 ? NULL : cJSON_Parse(j.data + off);
  CHECK(o != NULL && n == cJSON_GetArraySize(o));
  for (int i = 0; o && i < n; i++) {
    k.len = v.len = 0;
    bt_json_put(&k, "", 0);
    bt_json_put(&v, "", 0);
    bt_log_redact_text(&k, fs[i].key, fs[i].klen);
    bt_flat_text(&fs[i], &v);
    const cJSON *c = cJSON_GetObjectItemCaseSensitive(o, k.data);
    bool same = c != NULL;
    if (same && cJSON_IsString(c)) {
      same = strcmp(c->valuestring, v.data) == 0;
    } else if (same && cJSON_IsNumber(c) && fs[i].type == BT_FLAT_INT) {
      char t[32];
      snprintf(t, sizeof t, "%" PRId64, fs[i].v.i);
      same = strcmp(t, v.data) == 0 && (double)fs[i].v.i == c->valuedouble;
    } else if (same && cJSON_IsNumber(c)) {
      bt_json_buf d = {0};
      bt_json_dbl(&d, c->valuedouble);
      same = strcmp(d.data, v.data) == 0;
      bt_json_free(&d);
    } else if (same) {
      same = strcmp(cJSON_IsTrue(c) ? "true" : cJSON_IsFalse(c) ? "false" : "", v.data) == 0;
    }
    if (!same) {
      fprintf(stderr, "field %d of %s: key '%s' value '%s'\n", i, j.data + off, k.data, v.data);
      failures++;
    }
  }
  cJSON_Delete(o);
  bt_json_free(&j);
  bt_json_free(&k);
  bt_json_free(&v);
}

/* Random payloads from pieces that matter to redaction, escaping and UTF-8; each key
 * starts with its own letter, which no redaction takes, so keys stay unique. */
static void random_payloads(void) {
#define P(s) {s, sizeof(s) - 1}
  static const struct { const char *s; size_t n; } bits[] = {
      P("a"), P("token"), P("="), P(":"), P(" "), P("Bearer "), P("api_key"), P("x\0y"),
      P("\xff"), P("\xc3\xa9"), P("\xe2\x82"), P("\""), P(","), P("\n"), P("\\"), P("\x01"),
      P("password"), P("[REDACTED]"), P("&"), P("secret")};
#undef P
  uint64_t r = 42;
  for (int it = 0; it < 3000; it++) {
    flat f = {0};
    for (int i = 0; i < 1 + it % 4; i++) {
      char key[32] = {(char)('A' + i)}, val[48];
      size_t kl = 1, vl = 0;
      for (int p = 0; p < 3; p++) {
        r = r * 6364136223846793005u + 1442695040888963407u;
        size_t b = (r >> 33) % (sizeof bits / sizeof bits[0]);
        if ((r >> 20) % 3 == 0) memcpy(key + kl, bits[b].s, bits[b].n), kl += bits[b].n;
        memcpy(val + vl, bits[b].s, bits[b].n), vl += bits[b].n;
      }
      r = r * 6364136223846793005u + 1442695040888963407u;
      int64_t iv = (int64_t)(r >> 11) * ((r & 1) ? -1 : 1);
      double dv = (double)(int64_t)(r >> 40) / 7.0;
      bt_flat_type t = (bt_flat_type[]){BT_FLAT_STR, BT_FLAT_INT, BT_FLAT_DBL, BT_FLAT_DEC}[(r >> 8) % 4];
      const void *v = t == BT_FLAT_STR ? (void *)val : t == BT_FLAT_DBL ? (void *)&dv : (void *)&iv;
      if (!bt_flat_add(f.b, &f.n, t, key, kl, v, t == BT_FLAT_STR ? vl : 8)) break; /* full */
    }
    reads_as_json(&f);
  }
}

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);

  flat f = {0};
  same_as_lua(L, &f, "return {}");

  /* sma_cross's signal, fields in another order than sorted */
  f = (flat){0};
  add_str(&f, "side", "buy", 3);
  add_dbl(&f, "slow", 100.04233333333335);
  add_dbl(&f, "fast", 99.954);
  same_as_lua(L, &f, "return {side='buy', slow=100.04233333333335, fast=99.954}");
  reads_as_json(&f);

  /* integers, integral and odd doubles, booleans, prefixes sort first, escapes */
  f = (flat){0};
  add_int(&f, "n", -42);
  add_dbl(&f, "nn", 3.0);
  add_dbl(&f, "a", 0.1 + 0.2);
  add_dbl(&f, "b", -1e300);
  add_dbl(&f, "c", 1.0 / 0.0);
  add_dbl(&f, "d", -0.0);
  add_dbl(&f, "e", 5e-324);
  add_bool(&f, "t", 1);
  add_bool(&f, "u", 0);
  add_str(&f, "q\"k", "line\nbreak\x01", 11);
  add_str(&f, "B", "", 0);
  same_as_lua(L, &f,
              "return {n=-42, nn=3.0, a=0.1+0.2, b=-1e300, c=1/0, d=-0.0, e=5e-324, t=true,"
              " u=false, ['q\"k']='line\\nbreak\\1', B=''}");
  reads_as_json(&f);

  /* secrets: a secret-named key's value and a secret inside a string are redacted */
  f = (flat){0};
  add_str(&f, "api_key", "abc", 3);
  add_int(&f, "password", 7);
  add_str(&f, "note", "Bearer xyz123", 13);
  same_as_lua(L, &f, "return {api_key='abc', password=7, note='Bearer xyz123'}");
  reads_as_json(&f);
  bt_flat_field fs[BT_FLAT_MAX_FIELDS];
  CHECK(bt_flat_fields(f.b, f.n, fs) == 3 && fs[0].type == BT_FLAT_STR && fs[0].v.str.n == 3 &&
        fs[1].type == BT_FLAT_INT && fs[1].v.i == 7 && memcmp(fs[2].key, "note", 4) == 0);

  /* strings and keys that redaction, escaping and UTF-8 repair change; a huge int */
  f = (flat){0};
  add_str(&f, "url", "https://h/x?token=abc&page=2", 28);
  add_str(&f, "bad", "\xff\xfe\xc3\xa9", 4);
  add_str(&f, "nul", "token=\0abc", 10);
  add_int(&f, "Bearer k", INT64_MAX);
  add_dbl(&f, "nan", 0.0 / 0.0);
  add(&f, BT_FLAT_TRUE, "\xff", NULL, 0);
  reads_as_json(&f);
  random_payloads();

  /* money: exact decimal text, as a string */
  f = (flat){0};
  add_dec(&f, "cash", 12345678901234);
  add_dec(&f, "pos", -150000000);
  add_dec(&f, "zero", 0);
  char src[256], c[BT_DEC_STRLEN], p[BT_DEC_STRLEN], z[BT_DEC_STRLEN];
  bt_dec_format((bt_dec){12345678901234}, c);
  bt_dec_format((bt_dec){-150000000}, p);
  bt_dec_format((bt_dec){0}, z);
  CHECK(strcmp(c, "123456.78901234") == 0 && strcmp(p, "-1.5") == 0);
  snprintf(src, sizeof src, "return {cash='%s', pos='%s', zero='%s'}", c, p, z);
  same_as_lua(L, &f, src);

  /* the builder refuses what does not fit and leaves the payload as it was */
  f = (flat){0};
  char big[200];
  memset(big, 'x', sizeof big);
  CHECK(!bt_flat_add(f.b, &f.n, BT_FLAT_STR, "k", 1, big, 200));
  CHECK(!bt_flat_add(f.b, &f.n, BT_FLAT_TRUE, big, 200, NULL, 0));
  CHECK(bt_flat_add(f.b, &f.n, BT_FLAT_STR, "k", 1, big, BT_FLAT_MAX - 4));
  CHECK(f.n == BT_FLAT_MAX);
  CHECK(!bt_flat_add(f.b, &f.n, BT_FLAT_TRUE, "", 0, NULL, 0));
  CHECK(f.n == BT_FLAT_MAX);

  /* malformed: truncated key, truncated value, unknown type, key past the end */
  bt_json_buf b = {0};
  f = (flat){0};
  add_dbl(&f, "x", 1.5);
  CHECK(bt_flat_render_json(f.b, 2, &b) == (size_t)-1);
  CHECK(bt_flat_fields(f.b, 2, fs) == -1 && bt_flat_fields(f.b, f.n - 1, fs) == -1);
  CHECK(bt_flat_render_json(f.b, f.n - 1, &b) == (size_t)-1);
  f.b[0] = 99;
  CHECK(bt_flat_render_json(f.b, f.n, &b) == (size_t)-1);
  f = (flat){0};
  add_bool(&f, "x", 1);
  f.b[1] = 5; /* key longer than the payload */
  CHECK(bt_flat_render_json(f.b, f.n, &b) == (size_t)-1);
  bt_json_free(&b);

  lua_close(L);
  return failures ? 1 : 0;
}
