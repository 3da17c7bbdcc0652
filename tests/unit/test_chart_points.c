/* test_chart_points.c - formats.native.points (chart_points.c) gives the text charts.lua's
 * own per-point loop gave (the reference below is that loop, as it was): random lines of
 * integer and float values, "%.1f" ties (k/20), values just beside them, negative values
 * that print "-0.0", -0.0, large values (printf's path), nil gaps, log scales with values
 * <= 0, integer and float axis bounds. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>

#include "chart_points.h"

#include "check.h"

static const char *const test_lua =
  "local native = require 'formats.native'\n"
  "local function f1(v) return string.format('%.1f', v) end\n"
  "local function reference(xs, ys, log, xlo, xhi, ylo, yhi, L, T, pw, ph)\n"
  "  local fy = log and function(v) return math.log(v, 10) end or function(v) return v end\n"
  "  local function X(x) return L + (x - xlo) / (xhi - xlo) * pw end\n"
  "  local function Y(v) return T + (yhi - v) / (yhi - ylo) * ph end\n"
  "  local segs, pts = {}, {}\n"
  "  for i = 1, #xs do\n"
  "    local y = ys[i]\n"
  "    if y ~= nil and (not log or y > 0) then\n"
  "      pts[#pts + 1] = f1(X(xs[i])) .. ',' .. f1(Y(fy(y)))\n"
  "    elseif #pts > 0 then\n"
  "      segs[#segs + 1], pts = pts, {}\n"
  "    end\n"
  "  end\n"
  "  if #pts > 0 then segs[#segs + 1] = pts end\n"
  "  return segs\n"
  "end\n"
  "local bad = 0\n"
  "local function same(...)\n"
  "  local want, got = reference(...), native.points(...)\n"
  "  local ok = #want == #got\n"
  "  for i = 1, #want do\n"
  "    local w, g = want[i], got[i]\n"
  "    if not g or g.text ~= table.concat(w, ' ') or g.n ~= #w or g.first ~= w[1] or g.last ~= w[#w] then\n"
  "      ok = false\n"
  "      if bad < 5 then print('want', table.concat(w, ' '):sub(1, 200)); print('got ', g and g.text:sub(1, 200)) end\n"
  "    end\n"
  "  end\n"
  "  if not ok then bad = bad + 1 end\n"
  "end\n"
  "math.randomseed(18)\n"
  "local function val(k)\n"
  "  local r = math.random(9)\n"
  "  if r == 1 then return math.random(-1000, 1000) end\n"
  "  if r == 2 then return math.random(-2000, 2000) / 20 end\n"
  "  if r == 3 then local v = math.random(-2000, 2000) / 20; return v + v * 2^-52 * (math.random(2) == 1 and 1 or -1) end\n"
  "  if r == 4 then return -math.random() * 0.05 end\n"
  "  if r == 5 then return (math.random() - 0.5) * 10 ^ math.random(-8, 18) end\n"
  "  if r == 6 and k then return nil end\n"
  "  if r == 7 then return -0.0 end\n"
  "  return (math.random() - 0.5) * 1000\n"
  "end\n"
  "for round = 1, 3000 do\n"
  "  local n, xs, ys = math.random(0, 40), {}, {}\n"
  "  local t = math.random(0, 2) == 0 and 1.5e9 or 0\n"
  "  for i = 1, n do\n"
  "    xs[i] = math.random(2) == 1 and t + i * 86400 or t + i * 86400.5\n"
  "    ys[i] = val(true)\n"
  "  end\n"
  "  local log = round % 3 == 0\n"
  "  local xlo, xhi = xs[1] or 0, (xs[n] or 1) + (math.random(2) == 1 and 0 or 0.25)\n"
  "  if xhi == xlo then xhi = xlo + 1 end\n"
  "  local ylo, yhi = val(false), val(false)\n"
  "  if ylo == yhi then yhi = ylo + 1 end\n"
  "  same(xs, ys, log, xlo, xhi, ylo, yhi, 64, 30, math.random(2) == 1 and 822 or 822.5, 204)\n"
  "end\n"
  "for k = -400, 400 do same({0, 1}, {k / 20, -k / 20}, false, 0, 1, 0, 1, 0, 0, 1, 1) end\n"
  "same({1, 2, 3}, {1, nil, 2}, false, 1, 3, 0, 3, 64, 30, 822, 204)\n"
  "same({1, 2, 3}, {1, -1, 2}, true, 1, 3, -1, 1, 64, 30, 822, 204)\n"
  "same({1, 2}, {0 / 0, 1 / 0}, false, 1, 2, 0, 1, 64, 30, 822, 204)\n"
  "return bad\n";

int main(void) {
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  bt_chart_points_preload(L);
  if (luaL_dostring(L, test_lua) != LUA_OK) {
    fprintf(stderr, "lua: %s\n", lua_tostring(L, -1));
    failures++;
  } else {
    CHECK(lua_tointeger(L, -1) == 0);
  }
  lua_close(L);
  return failures != 0;
}
