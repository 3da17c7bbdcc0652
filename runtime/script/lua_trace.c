/* lua_trace.c - bt.trace: signal, emit and current (docs/events.md). */
#include <lauxlib.h>
#include <string.h>

#include "engine.h"
#include "log.h"
#include "lua_log.h"
#include "lua_trace.h"
#include "luabind.h"

static bt_engine *current_engine(lua_State *L) {
  bt_engine *e = bt_lua_engine(L);
  if (!e || !e->bus) luaL_error(L, "bt.trace is only available while a backtest runs");
  return e;
}

/* Copy the table at idx into buf as a flat payload (bus.h) when it is one: string keys,
 * scalar values, small enough. Returns its length, or -1 (the caller renders JSON). No
 * formatting here: numbers are copied raw and rendered off the run thread. An integer
 * `cause` field seen on the way is stored in *cause (saves the caller a lookup). */
static int encode_flat(lua_State *L, int idx, uint8_t *buf, uint64_t *cause) {
  size_t len = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    size_t klen, slen = 0;
    const char *key = lua_type(L, -2) == LUA_TSTRING ? lua_tolstring(L, -2, &klen) : NULL;
    bool ok = key != NULL;
    if (ok) {
      switch (lua_type(L, -1)) {
      case LUA_TNUMBER:
        if (lua_isinteger(L, -1)) {
          int64_t v = lua_tointeger(L, -1);
          if (klen == 5 && memcmp(key, "cause", 5) == 0) *cause = (uint64_t)v;
          ok = bt_flat_add(buf, &len, BT_FLAT_INT, key, klen, &v, 8);
        } else {
          double v = lua_tonumber(L, -1);
          if (klen == 5 && memcmp(key, "cause", 5) == 0) *cause = (uint64_t)lua_tointeger(L, -1);
          ok = bt_flat_add(buf, &len, BT_FLAT_DBL, key, klen, &v, 8);
        }
        break;
      case LUA_TSTRING: {
        const char *s = lua_tolstring(L, -1, &slen);
        ok = bt_flat_add(buf, &len, BT_FLAT_STR, key, klen, s, slen);
        break;
      }
      case LUA_TBOOLEAN:
        ok = bt_flat_add(buf, &len, lua_toboolean(L, -1) ? BT_FLAT_TRUE : BT_FLAT_FALSE, key,
                         klen, NULL, 0);
        break;
      default: ok = false;
      }
    }
    lua_pop(L, 1);
    if (!ok) {
      lua_pop(L, 1);
      return -1;
    }
  }
  return (int)len;
}

static uint64_t publish_user(lua_State *L, bt_engine *e, bt_event_type type, const char *user_type,
                             int data_idx) {
  const char *json = NULL;
  uint8_t flat[BT_FLAT_MAX];
  int flat_len = -1;
  /* Nobody records it: the event still gets its id (lineage), but no payload is built.
   * A flat table is copied as is; anything else is rendered like a log value into a
   * buffer the run reuses. */
  uint64_t cause = e->cause;
  if (!lua_isnoneornil(L, data_idx) && bt_bus_wants(e->bus, type)) {
    if (lua_istable(L, data_idx)) flat_len = encode_flat(L, data_idx, flat, &cause);
    if (flat_len < 0) {
      e->payload.len = 0;
      e->payload.failed = false;
      size_t off = bt_lua_log_render_json(L, data_idx, &e->payload);
      if (!e->payload.failed) json = e->payload.data + off;
      /* bounded: a payload is stored with its event and buffered until then */
      if (json && e->payload.len - off > BT_TRACE_PAYLOAD_MAX)
        luaL_error(L, "bt.trace: the event's data is %I bytes as JSON, more than the "
                      "limit of %d bytes: store large data in a file, trace a reference",
                   (lua_Integer)(e->payload.len - off), BT_TRACE_PAYLOAD_MAX);
    }
  }
  if (flat_len < 0 && lua_istable(L, data_idx) &&
      lua_getfield(L, data_idx, "cause") == LUA_TNUMBER)
    cause = (uint64_t)lua_tointeger(L, -1);
  return bt_engine_publish(e, type, user_type, cause, json, flat_len >= 0 ? flat : NULL,
                           flat_len >= 0 ? (size_t)flat_len : 0);
}

/* bt.trace.signal{...}: a SIGNAL event; later orders of the same callback take it as cause. */
static int trace_signal(lua_State *L) {
  bt_engine *e = current_engine(L);
  uint64_t id = publish_user(L, e, BT_EV_SIGNAL, NULL, 1);
  e->cause = id;
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* bt.trace.emit(type, data): a typed event (a standard type name or a user-defined one). */
static int trace_emit(lua_State *L) {
  bt_engine *e = current_engine(L);
  size_t nlen;
  const char *name = luaL_checklstring(L, 1, &nlen);
  if (strlen(name) != nlen || nlen == 0 || nlen > BT_TRACE_TYPE_MAX)
    return luaL_error(L, "bt.trace.emit: an event type is 1 to %d bytes without NUL",
                      BT_TRACE_TYPE_MAX);
  int t = bt_event_type_parse(name);
  if (t == BT_EV_BAR || t == BT_EV_ORDER || t == BT_EV_FILL)
    return luaL_error(L, "bt.trace.emit: %s events are emitted by the runtime", name);
  uint64_t id = publish_user(L, e, t < 0 ? BT_EV_USER : (bt_event_type)t, t < 0 ? name : NULL, 2);
  if (t == BT_EV_SIGNAL) e->cause = id;
  lua_pushinteger(L, (lua_Integer)id);
  return 1;
}

/* bt.trace.current(): the event id orders submitted now would take as their cause. */
static int trace_current(lua_State *L) {
  bt_engine *e = bt_lua_engine(L);
  if (!e || !e->bus) return lua_pushnil(L), 1;
  lua_pushinteger(L, (lua_Integer)e->cause);
  return 1;
}

int bt_lua_open_trace(lua_State *L) {
  static const luaL_Reg fns[] = {{"signal", trace_signal}, {"emit", trace_emit},
                                 {"current", trace_current}, {NULL, NULL}};
  luaL_newlib(L, fns);
  return 1;
}
