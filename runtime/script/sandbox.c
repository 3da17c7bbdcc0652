#define _GNU_SOURCE
#include "sandbox.h"

#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int no_exit(lua_State *L) {
  return luaL_error(L, "os.exit is not allowed in a strategy: return from the callback, or "
                       "call error() to fail the run");
}

void bt_sandbox_no_exit(lua_State *L) {
  if (lua_getglobal(L, "os") == LUA_TTABLE) {
    lua_pushcfunction(L, no_exit);
    lua_setfield(L, -2, "exit");
  }
  lua_pop(L, 1);
}

/* ---- file reads below the root ---- */

/* Resolve path (symlinks and ".." included) and check it lies below root (upvalue 1).
 * Returns the resolved path pushed on the stack; raises an error when outside; returns
 * NULL (nothing pushed) when the file does not exist, so callers answer as Lua would. */
static const char *resolve_below_root(lua_State *L, const char *what, const char *path) {
  const char *root = lua_tostring(L, lua_upvalueindex(1));
  char real[PATH_MAX];
  if (!realpath(path, real)) return NULL;
  size_t n = root ? strlen(root) : 0;
  if (!root || strncmp(real, root, n) != 0 || (real[n] != '/' && real[n] != '\0' && n > 1))
    luaL_error(L, "%s: reading '%s' is not allowed: a sandboxed strategy reads only files "
                  "below its own directory (%s); trust_strategies in the config lifts this",
               what, path, root ? root : "none");
  return lua_pushstring(L, real);
}

static int missing(lua_State *L, const char *path) {
  int e = errno;
  luaL_pushfail(L);
  lua_pushfstring(L, "%s: %s", path, strerror(e));
  lua_pushinteger(L, e);
  return 3;
}

/* io.open(path [, "r" | "rb"]) */
static int sb_io_open(lua_State *L) {
  lua_settop(L, 2);
  const char *path = luaL_checkstring(L, 1);
  const char *mode = luaL_optstring(L, 2, "r");
  if (strcmp(mode, "r") != 0 && strcmp(mode, "rb") != 0)
    return luaL_error(L, "io.open: mode '%s' is not allowed: a sandboxed strategy only reads "
                         "files (write through bt.*)", mode);
  if (!resolve_below_root(L, "io.open", path)) return missing(L, path);
  lua_pushvalue(L, lua_upvalueindex(2)); /* the real io.open */
  lua_insert(L, -2);
  lua_pushstring(L, mode);
  lua_call(L, 2, LUA_MULTRET);
  return lua_gettop(L) - 2;
}

/* io.lines(path, ...): a path is required (no stdin). */
static int sb_io_lines(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  int nargs = lua_gettop(L);
  if (!resolve_below_root(L, "io.lines", path)) return luaL_error(L, "%s: %s", path, strerror(errno));
  lua_replace(L, 1);
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_insert(L, 1);
  lua_call(L, nargs, LUA_MULTRET);
  return lua_gettop(L);
}

/* loadfile(path [, mode [, env]]): text only, below the root. */
static int sb_loadfile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  bool has_env = !lua_isnone(L, 3);
  if (!resolve_below_root(L, "loadfile", path)) return missing(L, path);
  const char *real = lua_tostring(L, -1);
  if (luaL_loadfilex(L, real, "t") != LUA_OK) {
    luaL_pushfail(L);
    lua_insert(L, -2);
    return 2;
  }
  if (has_env) {
    lua_pushvalue(L, 3);
    if (!lua_setupvalue(L, -2, 1)) lua_pop(L, 1);
  }
  return 1;
}

static int sb_dofile(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  lua_settop(L, 1);
  if (!resolve_below_root(L, "dofile", path)) return luaL_error(L, "%s: %s", path, strerror(errno));
  if (luaL_loadfilex(L, lua_tostring(L, -1), "t") != LUA_OK) return lua_error(L);
  lua_call(L, 0, LUA_MULTRET);
  return lua_gettop(L) - 2;
}

/* load(chunk [, name [, mode [, env]]]): mode is always "t". */
static int sb_load(lua_State *L) {
  int n = lua_gettop(L);
  lua_pushvalue(L, lua_upvalueindex(1)); /* the real load */
  lua_pushvalue(L, 1);
  if (n >= 2) lua_pushvalue(L, 2);
  else lua_pushnil(L);
  lua_pushliteral(L, "t");
  if (n >= 4) lua_pushvalue(L, 4);
  lua_call(L, n >= 4 ? 4 : 3, LUA_MULTRET);
  return lua_gettop(L) - n;
}

/* package.searchers[2]: Lua files along the fixed path (upvalue 1), loaded as text. */
static int sb_searcher(lua_State *L) {
  const char *name = luaL_checkstring(L, 1);
  const char *tmpl = lua_tostring(L, lua_upvalueindex(1));
  if (!tmpl) {
    lua_pushfstring(L, "no file for module '%s' (sandbox)", name);
    return 1;
  }
  const char *file = luaL_gsub(L, name, ".", "/");
  const char *p = tmpl;
  while (*p) {
    const char *semi = strchr(p, ';');
    size_t len = semi ? (size_t)(semi - p) : strlen(p);
    lua_pushlstring(L, p, len);
    const char *cand = luaL_gsub(L, lua_tostring(L, -1), "?", file);
    FILE *f = fopen(cand, "r");
    if (f) {
      fclose(f);
      if (luaL_loadfilex(L, cand, "t") != LUA_OK)
        return luaL_error(L, "error loading module '%s' from file '%s':\n\t%s", name, cand,
                          lua_tostring(L, -1));
      lua_pushstring(L, cand);
      return 2;
    }
    lua_pop(L, 2);
    p += len + (semi ? 1 : 0);
  }
  lua_pushfstring(L, "no file '%s' along the sandbox's module path", file);
  return 1;
}

/* t[name] = the C closure fn with the value at stack index up (absolute) as upvalue 1
 * and field orig of table index origt as upvalue 2 (when orig is non-NULL). */
static void set_closure(lua_State *L, int t, const char *name, lua_CFunction fn, int up,
                        int origt, const char *orig) {
  lua_pushvalue(L, up);
  int n = 1;
  if (orig) {
    lua_getfield(L, origt, orig);
    n = 2;
  }
  lua_pushcclosure(L, fn, n);
  lua_setfield(L, t, name);
}

/* Replace global and package.loaded[name] with the table on top (popped). */
static void set_lib(lua_State *L, const char *name) {
  lua_pushvalue(L, -1);
  lua_setglobal(L, name);
  lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
  lua_insert(L, -2);
  lua_setfield(L, -2, name);
  lua_pop(L, 1);
}

int bt_sandbox_apply(lua_State *L, const char *read_root, const char *require_path,
                     bt_err *err) {
  int top = lua_gettop(L);
  char root[PATH_MAX];
  if (read_root) {
    if (!realpath(read_root, root))
      return bt_errf(err, BT_EIO, "sandbox_error", "sandbox: cannot resolve %s: %s", read_root,
                     strerror(errno));
    lua_pushstring(L, root);
  } else {
    lua_pushnil(L);
  }
  int rootv = lua_gettop(L);

  /* io: reading files below the root, nothing else */
  lua_getglobal(L, "io");
  int oldio = lua_gettop(L);
  if (!lua_istable(L, oldio)) return bt_errf(err, BT_ESTATE, "sandbox_error", "sandbox: no io library");
  lua_newtable(L);
  int io = lua_gettop(L);
  set_closure(L, io, "open", sb_io_open, rootv, oldio, "open");
  set_closure(L, io, "lines", sb_io_lines, rootv, oldio, "lines");
  lua_getfield(L, oldio, "type");
  lua_setfield(L, io, "type");
  lua_pushvalue(L, io);
  set_lib(L, "io");

  /* os: time only */
  lua_getglobal(L, "os");
  int oldos = lua_gettop(L);
  lua_newtable(L);
  int os = lua_gettop(L);
  static const char *const os_keep[] = {"clock", "date", "difftime", "time", NULL};
  for (const char *const *k = os_keep; *k; k++) {
    lua_getfield(L, oldos, *k);
    lua_setfield(L, os, *k);
  }
  lua_pushcfunction(L, no_exit);
  lua_setfield(L, os, "exit");
  lua_pushvalue(L, os);
  set_lib(L, "os");

  /* debug: gone */
  lua_pushnil(L);
  set_lib(L, "debug");

  /* load/loadfile/dofile: text only, files below the root */
  lua_getglobal(L, "load");
  lua_pushcclosure(L, sb_load, 1);
  lua_setglobal(L, "load");
  lua_pushglobaltable(L);
  int g = lua_gettop(L);
  set_closure(L, g, "loadfile", sb_loadfile, rootv, 0, NULL);
  set_closure(L, g, "dofile", sb_dofile, rootv, 0, NULL);

  /* package: no C modules, Lua modules as text along a fixed path */
  lua_getglobal(L, "package");
  int pkg = lua_gettop(L);
  lua_pushnil(L);
  lua_setfield(L, pkg, "loadlib");
  lua_pushnil(L);
  lua_setfield(L, pkg, "searchpath");
  lua_pushliteral(L, "");
  lua_setfield(L, pkg, "cpath");
  lua_pushstring(L, require_path ? require_path : "");
  lua_setfield(L, pkg, "path"); /* informative only: the searcher keeps its own copy */
  lua_getfield(L, pkg, "searchers");
  int old = lua_gettop(L);
  lua_createtable(L, 2, 0);
  lua_rawgeti(L, old, 1); /* the preload searcher */
  lua_rawseti(L, -2, 1);
  if (require_path) lua_pushstring(L, require_path);
  else lua_pushnil(L);
  lua_pushcclosure(L, sb_searcher, 1);
  lua_rawseti(L, -2, 2);
  lua_setfield(L, pkg, "searchers");
  lua_settop(L, top);
  return 0;
}
