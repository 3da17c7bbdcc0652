/* floor_bench.c - the floor of scripts/bench-floor.sh: the least a backtest of a CSV
 * can do. mmap the file, parse each row with strtod (time as YYYY-MM-DD[ HH:MM:SS]),
 * fill one reused Lua bar table (same fields as btrun's) and call the strategy's
 * on_bar(ctx, bar) with a minimal ctx (position/buy/close on a number). No ledger,
 * broker, metrics, events or output files: btrun's whole-process figures are reported
 * as ratios to this program's.
 *   floor_bench STRATEGY.lua FILE.csv */
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm) */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (int64_t)doe - 719468;
}

static int num(const char **p, int n) {
  int v = 0;
  while (n--) v = v * 10 + (*(*p)++ - '0');
  return v;
}

static int ctx_position(lua_State *L) {
  lua_pushnumber(L, *(double *)lua_touserdata(L, lua_upvalueindex(1)));
  return 1;
}
static int ctx_buy(lua_State *L) {
  *(double *)lua_touserdata(L, lua_upvalueindex(1)) += luaL_checknumber(L, 2);
  return 0;
}
static int ctx_close(lua_State *L) {
  *(double *)lua_touserdata(L, lua_upvalueindex(1)) = 0;
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: floor_bench STRATEGY.lua FILE.csv\n");
    return 2;
  }
  int fd = open(argv[2], O_RDONLY);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    perror(argv[2]);
    return 1;
  }
  const char *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (m == MAP_FAILED) {
    perror("mmap");
    return 1;
  }
  const char *p = m, *end = m + st.st_size;
  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dofile(L, argv[1]) != LUA_OK || !lua_istable(L, -1)) {
    fprintf(stderr, "%s: %s\n", argv[1], lua_tostring(L, -1));
    return 1;
  }
  lua_getfield(L, -1, "on_bar");
  int on_bar = lua_gettop(L);
  double *pos = lua_newuserdatauv(L, sizeof *pos, 0);
  *pos = 0;
  int pos_ud = lua_gettop(L);
  lua_createtable(L, 0, 3); /* ctx */
  const luaL_Reg methods[] = {{"position", ctx_position}, {"buy", ctx_buy}, {"close", ctx_close}};
  for (int i = 0; i < 3; i++) {
    lua_pushvalue(L, pos_ud);
    lua_pushcclosure(L, methods[i].func, 1);
    lua_setfield(L, -2, methods[i].name);
  }
  int ctx = lua_gettop(L);
  static const char *const keys[] = {"symbol", "time", "open", "high", "low", "close", "volume"};
  int key0 = lua_gettop(L) + 1;
  for (int i = 0; i < 7; i++) lua_pushstring(L, keys[i]);
  lua_createtable(L, 0, 8);
  int bar = lua_gettop(L);
  lua_pushvalue(L, key0);
  lua_pushstring(L, "BENCH");
  lua_rawset(L, bar);

  p = memchr(p, '\n', (size_t)(end - p)) + 1; /* header */
  uint64_t bars = 0;
  while (p < end) {
    int64_t y = num(&p, 4);
    p++;
    unsigned mo = (unsigned)num(&p, 2);
    p++;
    unsigned d = (unsigned)num(&p, 2);
    int64_t t = days_from_civil(y, mo, d) * 86400;
    if (*p == ' ' || *p == 'T') {
      p++;
      int hh = num(&p, 2);
      p++;
      int mi = num(&p, 2);
      p++;
      t += hh * 3600 + mi * 60 + num(&p, 2);
    }
    double v[5];
    char *q = (char *)p;
    for (int i = 0; i < 5; i++) v[i] = strtod(q + 1, &q); /* skips the comma before */
    p = memchr(q, '\n', (size_t)(end - q));
    p = p ? p + 1 : end;
    lua_pushvalue(L, key0 + 1);
    lua_pushinteger(L, t);
    lua_rawset(L, bar);
    for (int i = 0; i < 5; i++) {
      lua_pushvalue(L, key0 + 2 + i);
      lua_pushnumber(L, v[i]);
      lua_rawset(L, bar);
    }
    lua_pushvalue(L, on_bar);
    lua_pushvalue(L, ctx);
    lua_pushvalue(L, bar);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
      fprintf(stderr, "on_bar: %s\n", lua_tostring(L, -1));
      return 1;
    }
    bars++;
  }
  printf("floor: %llu bars, final position %g\n", (unsigned long long)bars, *pos);
  lua_close(L);
  munmap((void *)m, (size_t)st.st_size);
  close(fd);
  return 0;
}
