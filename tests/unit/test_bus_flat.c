/* Flat event payloads (bus.h): bt_flat_render_json gives the same text as rendering the
 * equivalent Lua table as a log value (what the tracer stored before payloads were
 * flat-encoded), and rejects malformed encodings. */
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

  /* secrets: a secret-named key's value and a secret inside a string are redacted */
  f = (flat){0};
  add_str(&f, "api_key", "abc", 3);
  add_int(&f, "password", 7);
  add_str(&f, "note", "Bearer xyz123", 13);
  same_as_lua(L, &f, "return {api_key='abc', password=7, note='Bearer xyz123'}");

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
