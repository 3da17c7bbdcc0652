/* cfg_fields.c - see cfg_fields.h. */
#include "cfg_fields.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "suggest.h"

const char *bt_cfg_file(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "btrun.config_path");
  const char *p = lua_tostring(L, -1);
  lua_pop(L, 1); /* the registry keeps the string alive */
  return p ? p : "config";
}

static const char *path_of(const char *where, const char *key, char *buf, size_t n) {
  if (where && *where && key) snprintf(buf, n, "%s.%s", where, key);
  else snprintf(buf, n, "%s", key ? key : where ? where : "");
  return buf;
}

int bt_cfg_fail(lua_State *L, const char *where, const char *key, bt_err *err,
                const char *fmt, ...) {
  char path[160], msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return bt_errf_at(err, BT_EINVAL, "config_error", bt_cfg_file(L), 0,
                    path_of(where, key, path, sizeof path), "%s", msg);
}

/* A number as written: integers without a fraction, others with up to 14 digits. */
static void fmt_num(double v, char *buf, size_t n) {
  if (isnan(v)) snprintf(buf, n, "nan");
  else if (fabs(v) < 9e15 && v == (double)(long long)v) snprintf(buf, n, "%lld", (long long)v);
  else snprintf(buf, n, "%.14g", v);
}

/* What the value at idx is, for "got ...": a quoted string, a number, or a type name. */
static void describe(lua_State *L, int idx, unsigned flags, char *buf, size_t n) {
  int t = lua_type(L, idx);
  if (flags & BT_CFG_SECRET) {
    snprintf(buf, n, "%s", lua_typename(L, t));
  } else if (t == LUA_TSTRING) {
    size_t len;
    const char *s = lua_tolstring(L, idx, &len);
    if (len > 40) snprintf(buf, n, "\"%.40s...\"", s);
    else snprintf(buf, n, "\"%s\"", s);
  } else if (t == LUA_TNUMBER) {
    if (lua_isinteger(L, idx)) snprintf(buf, n, "%lld", (long long)lua_tointeger(L, idx));
    else fmt_num(lua_tonumber(L, idx), buf, n);
  } else if (t == LUA_TBOOLEAN) {
    snprintf(buf, n, "%s", lua_toboolean(L, idx) ? "true" : "false");
  } else {
    snprintf(buf, n, "%s", lua_typename(L, t));
  }
}

/* "an integer in [1, 60000]", "a number >= 0", "one of \"block\", \"drop\"" ... */
static void expectation(const bt_cfg_field *f, bool is_string, char *buf, size_t n) {
  static const char *const what[] = {
      [BT_CFG_BOOL] = "a boolean",  [BT_CFG_INT] = "an integer",
      [BT_CFG_NUM] = "a number",    [BT_CFG_STR] = "a string",
      [BT_CFG_DEC] = "a number or decimal string", [BT_CFG_ENUM] = "one of",
      [BT_CFG_TABLE] = "a table"};
  size_t len = (size_t)snprintf(buf, n, "%s", what[f->kind]);
  char lo[32], hi[32];
  fmt_num(f->lo, lo, sizeof lo);
  fmt_num(f->hi, hi, sizeof hi);
  if (f->kind == BT_CFG_INT || f->kind == BT_CFG_NUM) {
    bool has_lo = isfinite(f->lo), has_hi = isfinite(f->hi);
    if (has_lo && has_hi) len += (size_t)snprintf(buf + len, n - len, " in [%s, %s]", lo, hi);
    else if (has_lo) len += (size_t)snprintf(buf + len, n - len, " >= %s", lo);
    else if (has_hi) len += (size_t)snprintf(buf + len, n - len, " <= %s", hi);
  } else if (f->kind == BT_CFG_STR && is_string) { /* the length is what is wrong */
    len += (size_t)snprintf(buf + len, n - len, " of at most %zu bytes", f->size - 1);
  } else if (f->kind == BT_CFG_ENUM) {
    for (const char *const *c = f->choices; *c && len < n; c++)
      len += (size_t)snprintf(buf + len, n - len, "%s \"%s\"", c == f->choices ? "" : ",", *c);
  }
  if (f->doc && len < n) snprintf(buf + len, n - len, " (%s)", f->doc);
}

/* The value at the stack top does not fit f. */
static int bad_value(lua_State *L, const char *where, const bt_cfg_field *f, bt_err *err) {
  char want[400], got[64];
  bool is_string = lua_type(L, -1) == LUA_TSTRING;
  expectation(f, is_string, want, sizeof want);
  if (f->kind == BT_CFG_STR && is_string)
    snprintf(got, sizeof got, "%llu bytes", (unsigned long long)lua_rawlen(L, -1)); /* the value may be a secret */
  else describe(L, -1, f->flags, got, sizeof got);
  return bt_cfg_fail(L, where, f->key, err, "expected %s, got %s", want, got);
}

/* The integer value at the stack top, if it is one (an integral float counts). */
static bool to_int(lua_State *L, int64_t *v) {
  if (lua_type(L, -1) != LUA_TNUMBER) return false;
  if (lua_isinteger(L, -1)) {
    *v = lua_tointeger(L, -1);
    return true;
  }
  lua_Number d = lua_tonumber(L, -1);
  if (!(d >= -9.2e18 && d <= 9.2e18) || d != (lua_Number)(int64_t)d) return false;
  *v = (int64_t)d;
  return true;
}

/* Stores the value at the stack top (not nil) into out. */
static int store(lua_State *L, const char *where, const bt_cfg_field *f, void *obj, void *out,
                 bt_err *err) {
  int t = lua_type(L, -1);
  switch (f->kind) {
  case BT_CFG_BOOL:
    if (t != LUA_TBOOLEAN) return bad_value(L, where, f, err);
    *(bool *)out = lua_toboolean(L, -1);
    return 0;
  case BT_CFG_INT: {
    int64_t v;
    if (!to_int(L, &v)) return bad_value(L, where, f, err);
    if ((f->flags & BT_CFG_ZERO_DEFAULT) && v == 0) return 0;
    double lo = f->lo, hi = f->hi;
    if (f->size == 4) { /* the storage bounds the value too */
      lo = lo < INT32_MIN ? INT32_MIN : lo;
      hi = hi > INT32_MAX ? INT32_MAX : hi;
    }
    if (!((double)v >= lo && (double)v <= hi)) return bad_value(L, where, f, err);
    if (f->size == 4) *(int32_t *)out = (int32_t)v;
    else *(int64_t *)out = v;
    return 0;
  }
  case BT_CFG_NUM: {
    double v = lua_tonumber(L, -1);
    if (t != LUA_TNUMBER || !(v >= f->lo && v <= f->hi)) return bad_value(L, where, f, err);
    *(double *)out = v;
    return 0;
  }
  case BT_CFG_STR: {
    size_t len;
    const char *s = t == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!s || len >= f->size) return bad_value(L, where, f, err);
    memcpy(out, s, len + 1);
    return 0;
  }
  case BT_CFG_DEC: {
    bt_dec v;
    if (t == LUA_TSTRING) {
      size_t len;
      const char *s = lua_tolstring(L, -1, &len);
      if (bt_dec_parse(s, (long)len, &v) != (int)len)
        return bt_cfg_fail(L, where, f->key, err, "not a decimal number: \"%s\"", s);
    } else if (t == LUA_TNUMBER && lua_isinteger(L, -1)) {
      v = bt_dec_from_int(lua_tointeger(L, -1));
    } else if (t == LUA_TNUMBER) {
      if (!bt_dec_from_double(lua_tonumber(L, -1), &v))
        return bt_cfg_fail(L, where, f->key, err, "number out of range");
    } else {
      return bad_value(L, where, f, err);
    }
    *(bt_dec *)out = v;
    return 0;
  }
  case BT_CFG_ENUM: {
    const char *s = t == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
    for (int i = 0; s && f->choices[i]; i++)
      if (strcmp(s, f->choices[i]) == 0) {
        *(int *)out = i;
        return 0;
      }
    return bad_value(L, where, f, err);
  }
  case BT_CFG_TABLE: {
    if (t != LUA_TTABLE) return bad_value(L, where, f, err);
    char path[160];
    return f->read(L, lua_gettop(L), path_of(where, f->key, path, sizeof path), obj, err);
  }
  }
  return bad_value(L, where, f, err);
}

static int read_one(lua_State *L, int idx, const char *where, const bt_cfg_field *f,
                    void *obj, void *out, bt_err *err) {
  int top = lua_gettop(L);
  int rc = lua_getfield(L, idx, f->key) == LUA_TNIL ? 0 : store(L, where, f, obj, out, err);
  lua_settop(L, top);
  return rc;
}

int bt_cfg_read_field(lua_State *L, int idx, const char *where, const bt_cfg_field *f,
                      void *out, bt_err *err) {
  return read_one(L, lua_absindex(L, idx), where, f, NULL, out, err);
}

/* The key at the stack top is not known: an error, with the closest known name. */
static int unknown_key(lua_State *L, const char *where, bt_suggester *s, bt_err *err) {
  const char *key = lua_tostring(L, -1);
  const char *hint = bt_suggest_best(s);
  if (hint) return bt_cfg_fail(L, where, key, err, "unknown key (did you mean \"%s\"?)", hint);
  return bt_cfg_fail(L, where, key, err, "unknown key");
}

static int non_string_key(lua_State *L, const char *where, bt_err *err) {
  char got[64];
  describe(L, -1, 0, got, sizeof got);
  return bt_cfg_fail(L, where && *where ? where : NULL, NULL, err,
                     "keys must be strings, got %s", got);
}

int bt_cfg_check_keys(lua_State *L, int idx, const char *where, const char *const *keys,
                      bt_err *err) {
  idx = lua_absindex(L, idx);
  int top = lua_gettop(L), rc = 0;
  lua_pushnil(L);
  while (!rc && lua_next(L, idx)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) {
      rc = non_string_key(L, where, err);
      break;
    }
    const char *key = lua_tostring(L, -1);
    bt_suggester s;
    bt_suggest_init(&s, key);
    const char *const *p = keys;
    for (; *p && strcmp(*p, key) != 0; p++) bt_suggest_add(&s, *p);
    if (!*p) rc = unknown_key(L, where, &s, err);
  }
  lua_settop(L, top);
  return rc;
}

int bt_cfg_read(lua_State *L, int idx, const char *where, const bt_cfg_field *fields,
                void *obj, bt_err *err) {
  const char *names[65];
  size_t n = 0;
  for (const bt_cfg_field *f = fields; f->key && n < 64; f++) names[n++] = f->key;
  names[n] = NULL;
  idx = lua_absindex(L, idx);
  int rc = bt_cfg_check_keys(L, idx, where, names, err);
  for (const bt_cfg_field *f = fields; !rc && f->key; f++)
    rc = read_one(L, idx, where, f, obj, (char *)obj + f->off, err);
  return rc;
}

int bt_cfg_string(lua_State *L, int idx, const char *where, const char *key, char *out,
                  size_t outlen, bt_err *err) {
  bt_cfg_field f = {key, BT_CFG_STR, 0, outlen, 0, 0, NULL, NULL, 0, NULL};
  return bt_cfg_read_field(L, idx, where, &f, out, err);
}

int bt_cfg_number(lua_State *L, int idx, const char *where, const char *key, double *out,
                  bt_err *err) {
  bt_cfg_field f = {key, BT_CFG_NUM, 0, sizeof *out, BT_CFG_ANY, NULL, NULL, 0, NULL};
  return bt_cfg_read_field(L, idx, where, &f, out, err);
}

int bt_cfg_integer(lua_State *L, int idx, const char *where, const char *key, int64_t *out,
                   bt_err *err) {
  bt_cfg_field f = {key, BT_CFG_INT, 0, sizeof *out, BT_CFG_ANY, NULL, NULL, 0, NULL};
  return bt_cfg_read_field(L, idx, where, &f, out, err);
}

int bt_cfg_bool(lua_State *L, int idx, const char *where, const char *key, bool *out,
                bt_err *err) {
  bt_cfg_field f = {key, BT_CFG_BOOL, 0, sizeof *out, 0, 0, NULL, NULL, 0, NULL};
  return bt_cfg_read_field(L, idx, where, &f, out, err);
}

int bt_cfg_decimal(lua_State *L, int idx, const char *where, const char *key, bt_dec *out,
                   bt_err *err) {
  bt_cfg_field f = {key, BT_CFG_DEC, 0, sizeof *out, 0, 0, NULL, NULL, 0, NULL};
  return bt_cfg_read_field(L, idx, where, &f, out, err);
}
