/* chart_points.c - require "formats.native" in the format scripts' Lua state:
 * points(xs, ys, log, xlo, xhi, ylo, yhi, L, T, pw, ph), the per-point loop of
 * charts.lua's M.chart in C. That loop (scale each point into the plot, print x and y with
 * "%.1f", join them) was most of a report's Lua time: about 8,000 string.format calls per
 * page. The arithmetic is the Lua it replaces, operation for operation, with integer and
 * float operands combined as Lua combines them, and "%.1f" gives printf's digits, so the
 * page's bytes do not change.
 *
 * Returns the runs of drawable points (y not nil, and y > 0 on a log scale) as
 * {{text = "x,y x,y ...", n = points, first = "x,y", last = "x,y"}, ...}. */
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "chart_points.h"
#include "decimal.h"

/* A Lua number as Lua keeps it: an integer or a float. */
typedef struct num {
  bool isint;
  lua_Integer i;
  double d;
} num;

static num arg_num(lua_State *L, int idx) {
  num n = {0};
  if (lua_isinteger(L, idx)) n.isint = true, n.i = lua_tointeger(L, idx);
  else n.d = luaL_checknumber(L, idx);
  return n;
}

static double fl(num a) { return a.isint ? (double)a.i : a.d; }

/* a - b as Lua computes it (integers wrap), then as a float, as `/` converts it */
static double sub(num a, num b) {
  if (a.isint && b.isint) return (double)(lua_Integer)((lua_Unsigned)a.i - (lua_Unsigned)b.i);
  return fl(a) - fl(b);
}

/* string.format("%.1f", v): a*10 rounded to an integer, the tie decided on the exact
 * binary value as printf does (fma gives the rounding error of a*10; bt_fixed8_put's
 * method), printf itself for large values, infinities and NaN. */
static size_t put_f1(double v, char *p) {
  double a = fabs(v);
  if (!(a < 1e14)) return (size_t)snprintf(p, 400, "%.1f", v);
  double s = a * 10, e = fma(a, 10, -s), r = nearbyint(s), d = s - r;
  if (d == 0.5 && e > 0) r += 1;
  else if (d == -0.5 && e < 0) r -= 1;
  uint64_t u = (uint64_t)r;
  char *q = p;
  if (signbit(v)) *q++ = '-';
  q = bt_dec_put_uint(u / 10, q);
  *q++ = '.';
  *q++ = (char)('0' + u % 10);
  return (size_t)(q - p);
}

/* close the current run: {text, n, first, last} appended to the result at index res */
static void end_run(lua_State *L, luaL_Buffer *b, int res, lua_Integer *nruns, lua_Integer n,
                    const char *first, size_t firstlen, const char *last, size_t lastlen) {
  luaL_pushresult(b); /* the run's text */
  lua_createtable(L, 0, 4);
  lua_insert(L, -2);
  lua_setfield(L, -2, "text");
  lua_pushinteger(L, n);
  lua_setfield(L, -2, "n");
  lua_pushlstring(L, first, firstlen);
  lua_setfield(L, -2, "first");
  lua_pushlstring(L, last, lastlen);
  lua_setfield(L, -2, "last");
  lua_rawseti(L, res, ++*nruns);
}

static int points(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  luaL_checktype(L, 2, LUA_TTABLE);
  bool log = lua_toboolean(L, 3);
  num xlo = arg_num(L, 4), xhi = arg_num(L, 5), ylo = arg_num(L, 6), yhi = arg_num(L, 7);
  double left = fl(arg_num(L, 8)), top = fl(arg_num(L, 9)), pw = fl(arg_num(L, 10)),
         ph = fl(arg_num(L, 11));
  double xspan = sub(xhi, xlo), yspan = sub(yhi, ylo);
  lua_Integer n = (lua_Integer)lua_rawlen(L, 1);
  lua_settop(L, 2);
  lua_newtable(L);
  int res = lua_gettop(L);
  lua_Integer nruns = 0, inrun = 0;
  char pt[820], first[820], last[820];
  size_t firstlen = 0, lastlen = 0;
  luaL_Buffer b;
  for (lua_Integer i = 1; i <= n; i++) {
    int ty = lua_rawgeti(L, 2, i);
    num y = {0};
    bool draw = false;
    if (ty == LUA_TNUMBER) {
      y = arg_num(L, -1);
      draw = !log || (y.isint ? y.i > 0 : y.d > 0);
    } else if (ty != LUA_TNIL) {
      return luaL_error(L, "points: ys[%d] is a %s", (int)i, luaL_typename(L, -1));
    }
    lua_pop(L, 1);
    if (!draw) {
      if (inrun) end_run(L, &b, res, &nruns, inrun, first, firstlen, last, lastlen), inrun = 0;
      continue;
    }
    lua_rawgeti(L, 1, i);
    num x = arg_num(L, -1);
    lua_pop(L, 1);
    /* X(x) = L + (x - xlo) / (xhi - xlo) * pw;  Y(v) = T + (yhi - v) / (yhi - ylo) * ph */
    double px = left + sub(x, xlo) / xspan * pw;
    double dy = log ? fl(yhi) - log10(fl(y)) : sub(yhi, y);
    double py = top + dy / yspan * ph;
    size_t len = put_f1(px, pt);
    pt[len++] = ',';
    len += put_f1(py, pt + len);
    if (!inrun) {
      luaL_buffinit(L, &b);
      memcpy(first, pt, len), firstlen = len;
    } else {
      luaL_addchar(&b, ' ');
    }
    luaL_addlstring(&b, pt, len);
    memcpy(last, pt, len), lastlen = len;
    inrun++;
  }
  if (inrun) end_run(L, &b, res, &nruns, inrun, first, firstlen, last, lastlen);
  return 1;
}

static int open_native(lua_State *L) {
  lua_newtable(L);
  lua_pushcfunction(L, points);
  lua_setfield(L, -2, "points");
  return 1;
}

void bt_chart_points_preload(lua_State *L) {
  luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
  lua_pushcfunction(L, open_native);
  lua_setfield(L, -2, "formats.native");
  lua_pop(L, 1);
}
