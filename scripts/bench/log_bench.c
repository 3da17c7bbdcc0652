/* log_bench.c - structured logging costs: ns per disabled call (C and Lua), records/s
 * written to /dev/null (JSON and console, one and two threads, from Lua). */
#define _GNU_SOURCE
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"
#include "log.h"
#include "lua_log.h"

static void bind_run_context(void) {
  bt_field ctx[] = {BT_F_STR("correlation_id", "8b0f4c7e-2f7a-4d55-9a57-0f1c3c9d2e11"),
                    BT_F_STR("run_id", "3c4fbbeb-c21d-4581-8a55-070baa3316f2"),
                    BT_F_STR("strategy_id", "sma_cross"), BT_F_STR("user_id", "user-7")};
  bt_log_bind(ctx, 4);
}

static void typical_record(long i) {
  bt_log("run", BT_LOG_INFO, "backtest_progress", BT_F_INT("bars_done", i),
         BT_F_DBL("percent", (double)i / 1e5), BT_F_DBL("bars_per_s", 3456789.25),
         BT_F_STR("symbol", "ORCL"), BT_F_INT("market_time", 1480550400 + i));
}

static double records(long n) {
  uint64_t t0 = bt_now_ns();
  for (long i = 0; i < n; i++) typical_record(i);
  return (double)(bt_now_ns() - t0) / 1e9;
}

static void *thread_main(void *p) {
  bind_run_context();
  records(*(long *)p);
  bt_log_clear_context();
  return NULL;
}

static void report_lines(const char *what, long n, double secs) {
  printf("%-44s %10.0f lines/s  (%.0f ns/line)\n", what, (double)n / secs, secs * 1e9 / (double)n);
}

static double lua_loop(lua_State *L, const char *code) {
  if (luaL_loadstring(L, code) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  uint64_t t0 = bt_now_ns();
  if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    exit(1);
  }
  return (double)(bt_now_ns() - t0) / 1e9;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  int devnull = open("/dev/null", O_WRONLY);
  bt_log_set_fd(devnull);
  bt_log_set_level(BT_LOG_INFO);
  bind_run_context();

  /* disabled: one comparison and a call */
  long nd = n * 100;
  uint64_t t0 = bt_now_ns();
  for (long i = 0; i < nd; i++)
    bt_log("run", BT_LOG_DEBUG, "bar", BT_F_INT("i", i), BT_F_DBL("close", 1.5));
  printf("%-44s %10.2f ns/call\n", "disabled call (C, debug below info)",
         (double)(bt_now_ns() - t0) / (double)nd);
  bt_log_set_logger_level("broker", BT_LOG_DEBUG);
  t0 = bt_now_ns();
  for (long i = 0; i < nd; i++)
    bt_log("run", BT_LOG_DEBUG, "bar", BT_F_INT("i", i), BT_F_DBL("close", 1.5));
  printf("%-44s %10.2f ns/call\n", "disabled call (C, with a per-logger level)",
         (double)(bt_now_ns() - t0) / (double)nd);
  bt_log_reset();
  bt_log_set_fd(devnull);

  bt_log_set_format(BT_LOG_FORMAT_JSON);
  typical_record(0);
  report_lines("JSON record, 4 bound + 5 fields (C)", n, records(n));
  bt_log_set_format(BT_LOG_FORMAT_CONSOLE);
  report_lines("console record, same fields (C)", n, records(n));
  bt_log_set_format(BT_LOG_FORMAT_JSON);

  /* For scale: the write() alone, with a line of the same size. */
  char line[512];
  memset(line, 'x', sizeof line);
  size_t len = 380;
  line[len - 1] = '\n';
  t0 = bt_now_ns();
  for (long i = 0; i < n; i++)
    if (write(devnull, line, len) < 0) return 1;
  report_lines("  (for scale: bare write() of 380 bytes)", n, (double)(bt_now_ns() - t0) / 1e9);

  pthread_t a, b;
  long half = n;
  t0 = bt_now_ns();
  pthread_create(&a, NULL, thread_main, &half);
  pthread_create(&b, NULL, thread_main, &half);
  pthread_join(a, NULL);
  pthread_join(b, NULL);
  report_lines("JSON record, 2 threads (C, total)", 2 * n, (double)(bt_now_ns() - t0) / 1e9);

  lua_State *L = luaL_newstate();
  luaL_openlibs(L);
  luaL_requiref(L, "log", bt_lua_open_log, 1);
  lua_pop(L, 1);
  char code[512];
  snprintf(code, sizeof code,
           "local log = log; local t = {close = 101.25, qty = 100, symbol = 'ORCL', signal = 'buy'}\n"
           "for i = 1, %ld do log.info('signal', t) end", n);
  report_lines("JSON record from Lua, 4 bound + 4 fields", n, lua_loop(L, code));
  snprintf(code, sizeof code,
           "local log = log; local t = {close = 101.25, qty = 100}\n"
           "for i = 1, %ld do log.debug('bar', t) end", nd / 10);
  printf("%-44s %10.2f ns/call\n", "disabled call (Lua, bt.log.debug)",
         lua_loop(L, code) * 1e9 / (double)(nd / 10));
  snprintf(code, sizeof code, "local t = {close = 101.25, qty = 100}\n"
           "local function f() end\nfor i = 1, %ld do f('bar', t) end", nd / 10);
  printf("%-44s %10.2f ns/call\n", "  (for scale: empty Lua function call)",
         lua_loop(L, code) * 1e9 / (double)(nd / 10));
  lua_close(L);
  close(devnull);
  return 0;
}
