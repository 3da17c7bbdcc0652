/* lua_log.c - the bt.log submodule: structured logging from Lua.
 *
 * A log call never raises: values are rendered with raw table access (no
 * metamethods run), depth and size limits, cycle detection and type markers for
 * values JSON cannot hold. Rendering goes into one buffer per Lua state that is
 * reused across calls. */
#include "lua_log.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>

#include "log.h"

#define MAX_DEPTH 16    /* nesting rendered; deeper tables become "<max depth>" */
#define MAX_ITEMS 256   /* entries rendered per table; the rest are counted */
#define MAX_FIELDS 64   /* top-level fields of one call */
#define SCRATCH_MT "bt.log.scratch"
#define SCOPE_MT "bt.log.scope"
#define DEFAULT_LOGGER "strategy"

#define PUTS(b, lit) bt_json_put((b), (lit), sizeof(lit) - 1)

typedef struct {
  bt_json_buf buf;
} scratch;

static scratch *get_scratch(lua_State *L) {
  scratch *s = lua_touserdata(L, lua_upvalueindex(1));
  s->buf.len = 0;
  s->buf.failed = false;
  return s;
}

static const char *type_marker(int t) {
  switch (t) {
  case LUA_TFUNCTION: return "<function>";
  case LUA_TUSERDATA: case LUA_TLIGHTUSERDATA: return "<userdata>";
  case LUA_TTHREAD: return "<thread>";
  case LUA_TTABLE: return "<table>";
  case LUA_TNIL: return "<nil>";
  default: return "<value>";
  }
}

static void put_marker(bt_json_buf *b, const char *m) { bt_log_json_str(b, m, strlen(m)); }

static void render(lua_State *L, int idx, bt_json_buf *b, int depth, const void **path);
static size_t render_json_at(lua_State *L, int idx, bt_json_buf *b);

/* Keys sort numbers first (numerically), then strings (bytewise), then the rest
 * (booleans, tables, ...) in traversal order: a record does not depend on table
 * hash order. */
static int key_rank(int t) { return t == LUA_TNUMBER ? 0 : t == LUA_TSTRING ? 1 : 2; }

static bool key_less(lua_State *L, int a, int b) {
  int ra = key_rank(lua_type(L, a)), rb = key_rank(lua_type(L, b));
  if (ra != rb) return ra < rb;
  if (ra == 0) return lua_compare(L, a, b, LUA_OPLT);
  if (ra == 1) {
    size_t la, lb;
    const char *sa = lua_tolstring(L, a, &la), *sb = lua_tolstring(L, b, &lb);
    int c = memcmp(sa, sb, la < lb ? la : lb);
    return c < 0 || (c == 0 && la < lb);
  }
  return false;
}

/* Push up to `max` keys of table t onto the stack (above the current top), sorted
 * into ord[]; returns how many were pushed, *skipped counts the rest. */
static int collect_keys(lua_State *L, int t, int max, int *ord, size_t *skipped) {
  int base = lua_gettop(L), m = 0;
  *skipped = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    if (m < max) lua_pushvalue(L, -1), m++; /* the copy stays below the iteration key */
    else (*skipped)++;
  }
  for (int i = 0; i < m; i++) {
    int k = base + 1 + i, j = i;
    while (j > 0 && key_less(L, k, ord[j - 1])) ord[j] = ord[j - 1], j--;
    ord[j] = k;
  }
  return m;
}

/* A key as a JSON string, or as raw NUL-terminated text when nul_term. */
static void put_key_string(lua_State *L, int k, bt_json_buf *b, bool nul_term) {
  char tmp[64];
  size_t len;
  const char *s;
  switch (lua_type(L, k)) {
  case LUA_TSTRING: s = lua_tolstring(L, k, &len); break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, k)) len = (size_t)snprintf(tmp, sizeof tmp, "%lld", (long long)lua_tointeger(L, k));
    else len = (size_t)snprintf(tmp, sizeof tmp, "%.17g", (double)lua_tonumber(L, k));
    s = tmp;
    break;
  case LUA_TBOOLEAN: s = lua_toboolean(L, k) ? "true" : "false", len = strlen(s); break;
  default: s = type_marker(lua_type(L, k)), len = strlen(s);
  }
  if (nul_term) {
    bt_json_put(b, s, len);
    bt_json_put(b, "", 1);
  } else {
    bt_log_json_str(b, s, len);
  }
}

static bool secret_key_at(lua_State *L, int k) {
  size_t len;
  if (lua_type(L, k) != LUA_TSTRING) return false;
  const char *s = lua_tolstring(L, k, &len);
  return bt_log_secret_key(s, len);
}

static void render_table(lua_State *L, int t, bt_json_buf *b, int depth, const void **path) {
  const void *p = lua_topointer(L, t);
  for (int i = 0; i < depth; i++)
    if (path[i] == p) return put_marker(b, "<cycle>");
  if (depth >= MAX_DEPTH) return put_marker(b, "<max depth>");
  if (!lua_checkstack(L, MAX_ITEMS + 8)) return put_marker(b, "<table>");
  path[depth] = p;

  lua_Unsigned n = lua_rawlen(L, t);
  size_t count = 0;
  bool seq = n > 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    lua_pop(L, 1);
    count++;
    if (seq && (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
                (lua_Unsigned)lua_tointeger(L, -1) > n))
      seq = false;
  }
  if (seq && count == n) {
    bt_json_putc(b, '[');
    lua_Unsigned shown = n < MAX_ITEMS ? n : MAX_ITEMS;
    for (lua_Unsigned i = 1; i <= shown; i++) {
      if (i > 1) bt_json_putc(b, ',');
      lua_rawgeti(L, t, (lua_Integer)i);
      render(L, -1, b, depth + 1, path);
      lua_pop(L, 1);
    }
    if (n > shown) {
      char more[48];
      snprintf(more, sizeof more, ",\"<%llu more>\"", (unsigned long long)(n - shown));
      bt_json_put(b, more, strlen(more));
    }
    bt_json_putc(b, ']');
    return;
  }

  int base = lua_gettop(L), ord[MAX_ITEMS];
  size_t skipped;
  int m = collect_keys(L, t, MAX_ITEMS, ord, &skipped);
  bt_json_putc(b, '{');
  for (int i = 0; i < m; i++) {
    if (i) bt_json_putc(b, ',');
    put_key_string(L, ord[i], b, false);
    bt_json_putc(b, ':');
    if (secret_key_at(L, ord[i])) {
      PUTS(b, "\"[REDACTED]\"");
      continue;
    }
    lua_pushvalue(L, ord[i]);
    lua_rawget(L, t);
    render(L, -1, b, depth + 1, path);
    lua_pop(L, 1);
  }
  if (skipped) {
    if (m) bt_json_putc(b, ',');
    PUTS(b, "\"_truncated\":");
    bt_json_int(b, (int64_t)skipped);
  }
  bt_json_putc(b, '}');
  lua_settop(L, base);
}

static void render(lua_State *L, int idx, bt_json_buf *b, int depth, const void **path) {
  idx = lua_absindex(L, idx);
  switch (lua_type(L, idx)) {
  case LUA_TNIL: PUTS(b, "null"); break;
  case LUA_TBOOLEAN:
    if (lua_toboolean(L, idx)) PUTS(b, "true");
    else PUTS(b, "false");
    break;
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) bt_json_int(b, lua_tointeger(L, idx));
    else bt_json_dbl(b, lua_tonumber(L, idx));
    break;
  case LUA_TSTRING: {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    bt_log_json_str(b, s, len);
    break;
  }
  case LUA_TTABLE: render_table(L, idx, b, depth, path); break;
  default: put_marker(b, type_marker(lua_type(L, idx)));
  }
}

size_t bt_lua_log_render_json(lua_State *L, int idx, bt_json_buf *b) {
  return render_json_at(L, idx, b);
}

/* Render the value at idx as NUL-terminated JSON text in b; returns its offset. */
static size_t render_json_at(lua_State *L, int idx, bt_json_buf *b) {
  const void *path[MAX_DEPTH];
  size_t off = b->len;
  render(L, idx, b, 0, path);
  bt_json_put(b, "", 1);
  return off;
}

/* Turn the fields table at t into bt_field entries. Strings point into the table
 * (which anchors them); tables, odd keys and strings with NULs are rendered into b.
 * Pushes the sorted keys on the stack: the caller restores the top afterwards.
 * With skip_logger, a string `logger` field is left out (it names the logger). */
static size_t collect_fields(lua_State *L, int t, bt_json_buf *b, bt_field *out, bool skip_logger) {
  enum { NONE = 0, KEY = 1, VAL = 2 };
  size_t koff[MAX_FIELDS + 1], voff[MAX_FIELDS + 1];
  int inbuf[MAX_FIELDS + 1];
  size_t n = 0;
  if (lua_isnil(L, t) || lua_isnone(L, t)) return 0;
  if (!lua_istable(L, t)) {
    /* A lone value is logged as `message`. */
    out[0] = BT_F_JSON("message", NULL);
    voff[0] = render_json_at(L, t, b);
    inbuf[0] = VAL;
    n = 1;
  } else {
    if (!lua_checkstack(L, MAX_FIELDS + 8)) return 0;
    int ord[MAX_FIELDS];
    size_t skipped;
    int m = collect_keys(L, t, MAX_FIELDS, ord, &skipped);
    for (int i = 0; i < m; i++) {
      int k = ord[i];
      bt_field *f = &out[n];
      *f = (bt_field){0}; /* every member set: `show` stays "everywhere" */
      inbuf[n] = NONE;
      size_t klen;
      if (lua_type(L, k) == LUA_TSTRING && strlen(lua_tolstring(L, k, &klen)) == klen) {
        f->key = lua_tostring(L, k);
      } else {
        koff[n] = b->len;
        put_key_string(L, k, b, true);
        inbuf[n] |= KEY;
      }
      lua_pushvalue(L, k);
      int vt = lua_rawget(L, t);
      size_t len;
      const char *s;
      if (vt == LUA_TSTRING && skip_logger && !(inbuf[n] & KEY) && strcmp(f->key, "logger") == 0) {
        lua_pop(L, 1);
        continue;
      }
      switch (vt) {
      case LUA_TSTRING:
        s = lua_tolstring(L, -1, &len);
        if (strlen(s) == len) {
          f->type = BT_F_STR_T, f->v.s = s;
          break;
        }
        /* embedded NUL: keep every byte by rendering JSON */
        __attribute__((fallthrough));
      case LUA_TTABLE:
        f->type = BT_F_JSON_T;
        voff[n] = render_json_at(L, -1, b);
        inbuf[n] |= VAL;
        break;
      case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) f->type = BT_F_INT_T, f->v.i = lua_tointeger(L, -1);
        else f->type = BT_F_DBL_T, f->v.d = lua_tonumber(L, -1);
        break;
      case LUA_TBOOLEAN: f->type = BT_F_BOOL_T, f->v.b = lua_toboolean(L, -1); break;
      default: f->type = BT_F_STR_T, f->v.s = type_marker(vt);
      }
      lua_pop(L, 1);
      n++;
    }
    if (skipped) inbuf[n] = NONE, out[n++] = BT_F_INT("_truncated", (int64_t)skipped);
  }
  /* The buffer may have moved while growing: resolve offsets now. */
  for (size_t i = 0; i < n; i++) {
    if (b->failed && inbuf[i] & KEY) out[i].key = "_unrenderable";
    else if (inbuf[i] & KEY) out[i].key = b->data + koff[i];
    if (b->failed && inbuf[i] & VAL) out[i] = (bt_field){.key = out[i].key, .type = BT_F_NULL_T};
    else if (inbuf[i] & VAL) out[i].v.s = b->data + voff[i];
  }
  return n;
}

/* The event name; anything but a string is converted without calling Lua. */
static const char *event_name(lua_State *L, int idx, char *tmp, size_t tmplen) {
  switch (lua_type(L, idx)) {
  case LUA_TSTRING: return lua_tostring(L, idx);
  case LUA_TNUMBER:
    if (lua_isinteger(L, idx)) snprintf(tmp, tmplen, "%lld", (long long)lua_tointeger(L, idx));
    else snprintf(tmp, tmplen, "%.17g", (double)lua_tonumber(L, idx));
    return tmp;
  case LUA_TBOOLEAN: return lua_toboolean(L, idx) ? "true" : "false";
  case LUA_TNONE: case LUA_TNIL: return "log";
  default: return type_marker(lua_type(L, idx));
  }
}

/* bt.log.<level>(event [, fields]) */
static int l_log(lua_State *L) {
  bt_log_level lvl = (bt_log_level)lua_tointeger(L, lua_upvalueindex(2));
  if (!bt_log_any_enabled(lvl)) return 0;
  lua_settop(L, 2);
  const char *logger = DEFAULT_LOGGER;
  if (lua_istable(L, 2)) {
    lua_pushliteral(L, "logger");
    if (lua_rawget(L, 2) == LUA_TSTRING) logger = lua_tostring(L, -1); /* anchored by the table */
    lua_pop(L, 1);
  }
  if (!bt_log_enabled(logger, lvl)) return 0;
  scratch *s = get_scratch(L);
  char tmp[64];
  const char *event = event_name(L, 1, tmp, sizeof tmp);
  bt_field fields[MAX_FIELDS + 1];
  size_t n = collect_fields(L, 2, &s->buf, fields, true);
  bt_log_write(logger, lvl, event, fields, n);
  lua_settop(L, 2);
  return 0;
}

/* bt.log.bind(fields) */
static int l_bind(lua_State *L) {
  lua_settop(L, 1);
  if (!lua_istable(L, 1)) return 0;
  scratch *s = get_scratch(L);
  bt_field fields[MAX_FIELDS + 1];
  size_t n = collect_fields(L, 1, &s->buf, fields, false);
  bt_log_bind(fields, n);
  lua_settop(L, 1);
  return 0;
}

/* bt.log.unbind(key, ...) or bt.log.unbind{key, ...} */
static int l_unbind(lua_State *L) {
  int top = lua_gettop(L);
  for (int i = 1; i <= top; i++) {
    if (lua_type(L, i) == LUA_TSTRING) bt_log_unbind(lua_tostring(L, i));
    else if (lua_istable(L, i))
      for (lua_Integer j = 1; lua_rawgeti(L, i, j) != LUA_TNIL; j++) {
        if (lua_type(L, -1) == LUA_TSTRING) bt_log_unbind(lua_tostring(L, -1));
        lua_pop(L, 1);
      }
  }
  lua_settop(L, top);
  return 0;
}

/* The scope guard is a to-be-closed value: Lua closes it when scoped() returns and
 * also while an error unwinds through it, after the message handler has taken the
 * traceback, so the traceback still points at the line that raised. */
static int scope_close(lua_State *L) {
  bt_log_ctx **g = luaL_checkudata(L, 1, SCOPE_MT);
  bt_log_ctx *saved = *g;
  *g = NULL;
  bt_log_restore(saved);
  return 0;
}

static int scope_gc(lua_State *L) {
  bt_log_ctx **g = luaL_checkudata(L, 1, SCOPE_MT);
  bt_log_ctx_free(*g);
  *g = NULL;
  return 0;
}

/* bt.log.scoped(fields, fn, ...) -> fn(...)'s results */
static int l_scoped(lua_State *L) {
  int nargs = lua_gettop(L);
  luaL_checktype(L, 2, LUA_TFUNCTION);
  bt_log_ctx **g = lua_newuserdatauv(L, sizeof *g, 0);
  *g = NULL;
  luaL_setmetatable(L, SCOPE_MT);
  int gidx = lua_gettop(L);
  lua_toclose(L, gidx);
  scratch *s = get_scratch(L);
  bt_field fields[MAX_FIELDS + 1];
  size_t n = collect_fields(L, 1, &s->buf, fields, false);
  *g = bt_log_save();
  if (*g) bt_log_bind(fields, n); /* no snapshot (out of memory): bind nothing */
  lua_settop(L, gidx);
  for (int i = 2; i <= nargs; i++) lua_pushvalue(L, i);
  lua_call(L, nargs - 2, LUA_MULTRET);
  int nres = lua_gettop(L) - gidx;
  lua_closeslot(L, gidx);
  return nres;
}

/* bt.log.context() -> table of the bound fields (JSON values as JSON text) */
static int l_context(lua_State *L) {
  const bt_field *f;
  size_t n = bt_log_context(&f);
  lua_createtable(L, 0, (int)n);
  for (size_t i = 0; i < n; i++) {
    switch (f[i].type) {
    case BT_F_STR_T: case BT_F_JSON_T:
      if (f[i].v.s) lua_pushstring(L, f[i].v.s);
      else lua_pushnil(L);
      break;
    case BT_F_INT_T: lua_pushinteger(L, f[i].v.i); break;
    case BT_F_DBL_T: lua_pushnumber(L, f[i].v.d); break;
    case BT_F_BOOL_T: lua_pushboolean(L, f[i].v.b); break;
    default: lua_pushnil(L);
    }
    lua_setfield(L, -2, f[i].key);
  }
  return 1;
}

/* bt.log.enabled(level [, logger]) -> boolean */
static int l_enabled(lua_State *L) {
  bt_log_level lvl;
  const char *name = luaL_checkstring(L, 1);
  if (bt_log_level_parse(name, &lvl)) return luaL_argerror(L, 1, "unknown level");
  lua_pushboolean(L, bt_log_enabled(luaL_optstring(L, 2, DEFAULT_LOGGER), lvl));
  return 1;
}

static int scratch_gc(lua_State *L) {
  scratch *s = luaL_checkudata(L, 1, SCRATCH_MT);
  bt_json_free(&s->buf);
  return 0;
}

int bt_lua_open_log(lua_State *L) {
  static const struct {
    const char *name;
    bt_log_level lvl;
  } levels[] = {{"debug", BT_LOG_DEBUG}, {"info", BT_LOG_INFO}, {"warning", BT_LOG_WARNING},
                {"warn", BT_LOG_WARNING}, {"error", BT_LOG_ERROR}};
  if (luaL_newmetatable(L, SCOPE_MT)) {
    lua_pushcfunction(L, scope_close);
    lua_setfield(L, -2, "__close");
    lua_pushcfunction(L, scope_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
  if (luaL_newmetatable(L, SCRATCH_MT)) {
    lua_pushcfunction(L, scratch_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);

  lua_newtable(L);
  scratch *s = lua_newuserdatauv(L, sizeof *s, 0);
  memset(s, 0, sizeof *s);
  luaL_setmetatable(L, SCRATCH_MT);
  for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
    lua_pushvalue(L, -1);
    lua_pushinteger(L, levels[i].lvl);
    lua_pushcclosure(L, l_log, 2);
    lua_setfield(L, -3, levels[i].name);
  }
  static const luaL_Reg with_scratch[] = {{"bind", l_bind}, {"scoped", l_scoped}, {NULL, NULL}};
  for (const luaL_Reg *r = with_scratch; r->name; r++) {
    lua_pushvalue(L, -1);
    lua_pushcclosure(L, r->func, 1);
    lua_setfield(L, -3, r->name);
  }
  lua_pop(L, 1);
  static const luaL_Reg plain[] = {
      {"unbind", l_unbind}, {"context", l_context}, {"enabled", l_enabled}, {NULL, NULL}};
  luaL_setfuncs(L, plain, 0);
  return 1;
}
