#include "luabind.h"

#include <cjson/cJSON.h>
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "json.h"
#include "log.h"
#include "lua_mem.h"
#include "sandbox.h"

static const char APP_KEY[] = "btrun.app";
static const char RUN_KEY[] = "btrun.run";
static const char ENGINE_KEY[] = "btrun.engine";
static const char STOP_KEY[] = "btrun.stop";

const char *bt_lua_dir(void) {
  static char dir[4096]; /* resolved once; same answer for the whole process */
  if (dir[0]) return dir;
  const char *env = getenv("BTRUN_LUA_DIR");
  struct stat st;
  if (env && *env) {
    snprintf(dir, sizeof dir, "%s", env);
    return dir;
  }
  /* Installed layout: <prefix>/bin/btrun -> <prefix>/share/btrun/lua. */
  char exe[2048];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) {
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash) {
      *slash = '\0';
      snprintf(dir, sizeof dir, "%s/../share/btrun/lua", exe);
      if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode)) return dir;
    }
  }
  if (stat(BT_INSTALL_LUA_DIR, &st) == 0 && S_ISDIR(st.st_mode))
    snprintf(dir, sizeof dir, "%s", BT_INSTALL_LUA_DIR);
  else
    snprintf(dir, sizeof dir, "%s", BT_SOURCE_LUA_DIR);
  return dir;
}

/* lua.c's msghandler: turn any error value into a message with a traceback. */
int bt_lua_msghandler(lua_State *L) {
  const char *msg = lua_tostring(L, 1);
  if (msg == NULL) {
    if (luaL_callmeta(L, 1, "__tostring") && lua_type(L, -1) == LUA_TSTRING) return 1;
    msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  luaL_traceback(L, L, msg, 1);
  return 1;
}

int bt_lua_pcall(lua_State *L, int nargs, int nresults, bt_err *err) {
  int base = lua_gettop(L) - nargs;
  lua_pushcfunction(L, bt_lua_msghandler);
  lua_insert(L, base);
  int status = lua_pcall(L, nargs, nresults, base);
  lua_remove(L, base);
  if (status == LUA_OK) return 0;
  return bt_lua_error(L, status, err);
}

int bt_lua_pcall_in(lua_State *L, int nargs, int nresults, const char *what, bt_err *err) {
  int rc = bt_lua_pcall(L, nargs, nresults, err);
  if (rc && what) {
    char msg[sizeof err->msg];
    snprintf(msg, sizeof msg, "%s: %s", what, err->msg);
    memcpy(err->msg, msg, sizeof msg);
  }
  return rc;
}

/* Why the state was stopped (bt_lua_raise_stop), 0 if it was not; clears it. */
static int take_stop(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, STOP_KEY);
  int reason = (int)lua_tointeger(L, -1);
  lua_pop(L, 1);
  if (reason) {
    lua_pushnil(L);
    lua_setfield(L, LUA_REGISTRYINDEX, STOP_KEY);
  }
  return reason;
}

int bt_lua_error(lua_State *L, int status, bt_err *err) {
  const char *full = lua_tostring(L, -1);
  full = full ? full : "(no message)";
  /* msghandler appended "\nstack traceback:..."; split message and traceback. */
  const char *tb = strstr(full, "\nstack traceback:");
  size_t msglen = tb ? (size_t)(tb - full) : strlen(full);
  int code = status == LUA_ERRMEM ? BT_ELIMIT : BT_ELUA;
  const char *type = status == LUA_ERRMEM ? "memory_limit" : "lua_error";
  if (status == LUA_ERRMEM) {
    size_t limit = bt_lua_mem_limit(L);
    if (limit) bt_errf(err, code, type, "Lua memory limit exceeded (max_memory = %zu bytes)", limit);
    else bt_errf(err, code, type, "out of memory");
    lua_pop(L, 1);
    return code;
  }
  int stop = take_stop(L);
  if (stop == BT_LUA_STOP_INTERRUPT) {
    bt_errf(err, BT_ELIMIT, "interrupted", "interrupted by signal");
    lua_pop(L, 1);
    return BT_ELIMIT;
  }
  if (stop == BT_LUA_STOP_TIMEOUT) code = BT_ELIMIT, type = "timeout";
  bt_errf(err, code, type, "%.*s", (int)(msglen > 700 ? 700 : msglen), full);
  free(err->traceback);
  err->traceback = tb ? strdup(tb + 1) : NULL;
  lua_pop(L, 1);
  return code;
}

/* In JSON log mode stdout carries only JSON lines, so print() becomes an info record
 * (event "print", the text in `message`); in console mode it prints as usual. */
/* print's arguments joined by tabs, as lua.c's print writes them; pushed. */
static const char *print_text(lua_State *L, const char *end, size_t *len) {
  int n = lua_gettop(L);
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  for (int i = 1; i <= n; i++) {
    if (i > 1) luaL_addchar(&b, '\t');
    luaL_tolstring(L, i, NULL);
    luaL_addvalue(&b);
  }
  luaL_addstring(&b, end);
  luaL_pushresult(&b);
  return lua_tolstring(L, -1, len);
}

static int json_print(lua_State *L) {
  size_t len;
  const char *msg = print_text(L, "", &len);
  if (strlen(msg) == len) {
    bt_log("lua", BT_LOG_INFO, "print", BT_F_STR("message", msg));
  } else { /* embedded NUL: every byte kept, NUL as \u0000 */
    bt_json_buf jb = {0};
    bt_json_str(&jb, msg, len);
    bt_log("lua", BT_LOG_INFO, "print", BT_F_JSON("message", jb.failed ? NULL : jb.data));
    bt_json_free(&jb);
  }
  return 0;
}

/* On a terminal, print goes through the log sink so that its lines scroll above a live
 * progress line instead of through it. */
static int console_print(lua_State *L) {
  size_t len;
  const char *text = print_text(L, "\n", &len);
  fflush(stdout); /* io.write's text first */
  bt_log_print(text, len);
  return 0;
}

static int open_bt(lua_State *L) {
  lua_newtable(L);
  for (const bt_lua_module *m = bt_lua_modules; m->name; m++) {
    lua_pushcfunction(L, m->open);
    lua_call(L, 0, 1);
    lua_setfield(L, -2, m->name);
  }
  lua_pushstring(L, BT_VERSION);
  lua_setfield(L, -2, "version");
  return 1;
}

lua_State *bt_lua_new_state(bt_app *app, bt_err *err) {
  lua_State *L = bt_lua_mem_newstate(app ? (size_t)app->cfg.max_memory : 0);
  if (!L) {
    bt_errf(err, BT_ENOMEM, "out_of_memory", "cannot create Lua state");
    return NULL;
  }
  luaL_openlibs(L);
  lua_gc(L, LUA_GCGEN, 0, 0);
  if (bt_log_get_format() == BT_LOG_FORMAT_JSON) {
    lua_pushcfunction(L, json_print);
    lua_setglobal(L, "print");
  } else if (bt_log_status_supported()) {
    lua_pushcfunction(L, console_print);
    lua_setglobal(L, "print");
  }
  lua_pushlightuserdata(L, app);
  lua_setfield(L, LUA_REGISTRYINDEX, APP_KEY);

  /* Let strategies and scripts require btrun's own Lua (lua/?.lua) and files beside them. */
  lua_getglobal(L, "package");
  lua_pushfstring(L, "%s/?.lua;%s/?/init.lua;./?.lua", bt_lua_dir(), bt_lua_dir());
  lua_setfield(L, -2, "path");
  lua_getfield(L, -1, "loaded");
  open_bt(L);
  lua_pushvalue(L, -1);
  lua_setglobal(L, "bt");
  lua_setfield(L, -2, "bt");
  lua_pop(L, 2);
  return L;
}

lua_State *bt_lua_new_strategy_state(bt_app *app, const char *strategy_path, bool sandbox,
                                     bt_err *err) {
  lua_State *L = bt_lua_new_state(app, err);
  if (!L) return NULL;
  bt_sandbox_no_exit(L);
  if (!sandbox) return L;
  char dir[2048];
  snprintf(dir, sizeof dir, "%s", strategy_path);
  char *slash = strrchr(dir, '/');
  if (!slash) snprintf(dir, sizeof dir, ".");
  else if (slash == dir) dir[1] = '\0';
  else *slash = '\0';
  char path[8400];
  snprintf(path, sizeof path, "%s/?.lua;%s/?/init.lua;%s/?.lua;%s/?/init.lua", dir, dir,
           bt_lua_dir(), bt_lua_dir());
  if (bt_sandbox_apply(L, dir, path, err)) {
    bt_lua_close(L);
    return NULL;
  }
  /* bt functions that take file paths or queue work belong to trusted scripts */
  lua_getglobal(L, "bt");
  static const char *const trusted_only[] = {"backtest", "sweep", "perf", "events", "jobs", NULL};
  for (const char *const *k = trusted_only; *k; k++) {
    lua_pushnil(L);
    lua_setfield(L, -2, *k);
  }
  lua_pop(L, 1);
  return L;
}

bool bt_lua_file_is_strategy(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f)) {
    if (strncmp(line, "return", 6) != 0) continue;
    const char *p = line + 6;
    if (*p != ' ' && *p != '\t' && *p != '{' && *p != '(') continue; /* returned, returns_x */
    while (*p == ' ' || *p == '\t') p++;
    found = *p && *p != '\n' && *p != '\r' && strncmp(p, "--", 2) != 0;
  }
  fclose(f);
  return found;
}

bt_app *bt_lua_app(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, APP_KEY);
  bt_app *app = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return app;
}

struct bt_run *bt_lua_run(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, RUN_KEY);
  struct bt_run *run = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return run;
}

bt_engine *bt_lua_engine(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
  bt_engine *e = lua_touserdata(L, -1);
  lua_pop(L, 1);
  return e;
}

void bt_lua_set_run(lua_State *L, struct bt_run *run, bt_engine *engine) {
  lua_pushlightuserdata(L, run);
  lua_setfield(L, LUA_REGISTRYINDEX, RUN_KEY);
  lua_pushlightuserdata(L, engine);
  lua_setfield(L, LUA_REGISTRYINDEX, ENGINE_KEY);
}

int bt_lua_raise_stop(lua_State *L, bt_lua_stop reason, double timeout_s) {
  lua_pushinteger(L, reason);
  lua_setfield(L, LUA_REGISTRYINDEX, STOP_KEY);
  if (reason == BT_LUA_STOP_INTERRUPT) return luaL_error(L, "btrun: interrupted");
  return luaL_error(L, "btrun: timeout after %f s", timeout_s);
}

void bt_lua_close(lua_State *L) {
  if (L) bt_lua_mem_close(L);
}

void bt_lua_push_json(lua_State *L, const cJSON *j) {
  if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
    lua_newtable(L);
    int i = 1;
    for (const cJSON *c = j->child; c; c = c->next) {
      bt_lua_push_json(L, c);
      if (cJSON_IsArray(j)) lua_rawseti(L, -2, i++);
      else lua_setfield(L, -2, c->string);
    }
  } else if (cJSON_IsString(j)) {
    lua_pushstring(L, j->valuestring);
  } else if (cJSON_IsNumber(j)) {
    double d = j->valuedouble;
    if (d == (double)(lua_Integer)d) lua_pushinteger(L, (lua_Integer)d);
    else lua_pushnumber(L, d);
  } else if (cJSON_IsBool(j)) {
    lua_pushboolean(L, cJSON_IsTrue(j));
  } else {
    lua_pushnil(L);
  }
}
