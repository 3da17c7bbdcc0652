/* test_run_days.c - report.html's daily figures (run_days.c) keep their exact values:
 * the table bt_run_days_push hands the page, for series that reach every branch, is
 * written as text (numbers "%.17g", long lists as their length and an FNV-1a hash of
 * their text) and compared with tests/fixtures/report/run_days.golden, which the
 * array-per-figure version of run_days.c wrote. Series: empty, one day, fewer days than
 * the chart has points (no downsampling), long ones with both benchmarks (gaps, a late
 * start, a day at index 0), equity that falls to zero and below (returns skipped, so
 * the strategy's and the benchmark's returns pair up out of step), intraday times and
 * negative times, and years past 9999 (the month keys leave time order).
 * BT_GOLDEN_WRITE=1 rewrites the golden file instead. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "run_days.h"

#include "check.h"

#define GOLDEN "tests/fixtures/report/run_days.golden"

static uint64_t rng = 18;
static double unit(void) { /* splitmix64 -> [0, 1) */
  uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (double)((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

static uint64_t fnv(const char *s, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
  return h;
}

static void put_value(lua_State *L, int idx, bt_json_buf *b);

/* keys in sorted order: the text does not depend on Lua's table order */
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void put_table(lua_State *L, int t, bt_json_buf *b, const char *indent) {
  t = lua_absindex(L, t);
  lua_Integer n = (lua_Integer)lua_rawlen(L, t);
  if (n > 0) { /* a list (holes are nil): short ones in full, long ones as length + hash */
    bt_json_buf items = {0};
    for (lua_Integer i = 1; i <= n; i++) {
      lua_rawgeti(L, t, i);
      put_value(L, -1, &items);
      bt_json_putc(&items, ' ');
      lua_pop(L, 1);
    }
    if (n <= 8) bt_json_printf(b, "[%.*s]", (int)items.len, items.data);
    else bt_json_printf(b, "list #%lld fnv %016llx", (long long)n, (unsigned long long)fnv(items.data, items.len));
    free(items.data);
    return;
  }
  char *keys[64];
  size_t nk = 0;
  lua_pushnil(L);
  while (lua_next(L, t) && nk < 64) {
    keys[nk++] = strdup(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  qsort(keys, nk, sizeof *keys, cmp_str);
  bt_json_printf(b, "{\n");
  for (size_t i = 0; i < nk; i++) {
    bt_json_printf(b, "%s  %s = ", indent, keys[i]);
    lua_getfield(L, t, keys[i]);
    char deeper[32];
    snprintf(deeper, sizeof deeper, "%s  ", indent);
    if (lua_istable(L, -1)) put_table(L, -1, b, deeper);
    else put_value(L, -1, b);
    bt_json_putc(b, '\n');
    lua_pop(L, 1);
    free(keys[i]);
  }
  bt_json_printf(b, "%s}", indent);
}

static void put_value(lua_State *L, int idx, bt_json_buf *b) {
  if (lua_isinteger(L, idx)) bt_json_printf(b, "%lld", (long long)lua_tointeger(L, idx));
  else if (lua_type(L, idx) == LUA_TNUMBER) bt_json_printf(b, "%.17g", lua_tonumber(L, idx));
  else if (lua_type(L, idx) == LUA_TSTRING) bt_json_printf(b, "\"%s\"", lua_tostring(L, idx));
  else if (lua_istable(L, idx)) put_table(L, idx, b, "    ");
  else bt_json_printf(b, "%s", luaL_typename(L, idx));
}

typedef struct scenario {
  const char *name;
  size_t n;
  int64_t t0, step;         /* day i at t0 + i*step (+ a random intraday offset when jitter) */
  bool jitter, bench, extra;
  double drift, vol;        /* of the equity walk */
  double floor_at;          /* equity is pushed below zero over days [floor_at*n, +n/5) */
} scenario;

static int push_days(lua_State *L) {
  bt_run_days *d = lua_touserdata(L, 1);
  bt_run_days_push(L, d);
  return 1;
}

static void run(lua_State *L, const scenario *s, bt_json_buf *out) {
  bt_run_day *days = calloc(s->n ? s->n : 1, sizeof *days);
  bt_index_point *bp = calloc(s->n + 1, sizeof *bp), *xp = calloc(s->n + 1, sizeof *xp);
  size_t nb = 0, nx = 0;
  double eq = 100000, b = 1, x = 1;
  for (size_t i = 0; i < s->n; i++) {
    int64_t t = s->t0 + (int64_t)i * s->step + (s->jitter ? (int64_t)(unit() * 80000) : 0);
    eq *= 1 + s->drift + s->vol * (unit() - 0.5);
    double e = eq;
    if (s->floor_at > 0 && i >= (size_t)(s->floor_at * s->n) && i < (size_t)(s->floor_at * s->n) + s->n / 5)
      e = i % 17 == 0 ? 0 : -eq * unit(); /* at zero and below for a while */
    days[i] = (bt_run_day){t, {(int64_t)llround(e * 1e4) * 10000}};
    int64_t day = bt_run_series_day(t);
    b *= 1 + 0.0002 + 0.02 * (unit() - 0.5);
    if (i % 9 != 4) bp[nb++] = (bt_index_point){day, i == 30 ? 0 : b}; /* gaps; a zero */
    x *= 1 + 0.01 * (unit() - 0.5);
    if (i >= s->n / 3) xp[nx++] = (bt_index_point){day, x}; /* starts late */
  }
  bt_index_series bench = {s->bench ? bp : NULL, nb, 0}, extra = {s->extra ? xp : NULL, nx, 0};
  bt_run_days *d = NULL;
  bt_err err = {0};
  CHECK_OK(bt_run_days_compute(&d, days, s->n, 100000, &bench, &extra, &err));
  if (d) {
    lua_pushcfunction(L, push_days);
    lua_pushlightuserdata(L, d);
    CHECK(lua_pcall(L, 1, 1, 0) == LUA_OK);
    bt_json_printf(out, "%s ", s->name);
    put_table(L, -1, out, "");
    bt_json_putc(out, '\n');
    lua_pop(L, 1);
  }
  bt_run_days_free(d);
  free(days), free(bp), free(xp);
}

int main(void) {
  const int64_t day = 86400, y2015 = 1420156800; /* 2015-01-02 */
  const scenario sc[] = {
      {"empty", 0, y2015, day, false, true, true, 0, 0, 0},
      {"one_day", 1, y2015, day, false, true, true, 0, 0, 0},
      {"short", 500, y2015, day, false, true, false, 0.0003, 0.02, 0},
      {"long_both_benchmarks", 5000, y2015, day, false, true, true, 0.0002, 0.03, 0},
      {"no_benchmark", 3000, y2015, day, false, false, false, 0.0001, 0.01, 0},
      {"below_zero", 4000, y2015, day, false, true, true, 0.0001, 0.04, 0.4},
      {"zero_start", 900, y2015, day, false, true, true, 0, 0.03, 0.0001},
      {"intraday_negative_times", 2500, -400 * day, 3 * day / 2, true, true, true, 0.0002, 0.02, 0},
      {"past_9999", 1500, 253370764800 - 700 * day, 7 * day, false, true, false, 0.001, 0.05, 0},
      {"flat", 800, y2015, day, false, true, true, 0, 0, 0},
  };
  lua_State *L = luaL_newstate();
  bt_json_buf out = {0};
  for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) run(L, &sc[i], &out);
  lua_close(L);
  if (getenv("BT_GOLDEN_WRITE")) {
    FILE *f = fopen(GOLDEN, "w");
    CHECK(f && fwrite(out.data, 1, out.len, f) == out.len && fclose(f) == 0);
  } else {
    FILE *f = fopen(GOLDEN, "r");
    static char want[1 << 20];
    size_t n = f ? fread(want, 1, sizeof want, f) : 0;
    if (f) fclose(f);
    CHECK(n > 0);
    if (n != out.len || memcmp(want, out.data, n) != 0) {
      fprintf(stderr, "run_days figures differ from %s; this run's:\n%.*s\n", GOLDEN, (int)out.len, out.data);
      failures++;
    }
  }
  free(out.data);
  return failures != 0;
}
