/* test_cfg_fields.c - the config field table (core/cfg_fields): values land at their
 * offsets, absent keys keep defaults, and every kind of mistake is an error naming
 * file, section and key with what was expected and what was found. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <string.h>

#include "cfg_fields.h"
#include "check.h"

typedef struct demo {
  bool on;
  int32_t small;
  int64_t big;
  int64_t workers;
  double rate;
  char name[8];
  char key[16];
  bt_dec cash;
  int mode;
  int nlist;
} demo;

static const char *const modes[] = {"block", "drop", NULL};

static int read_list(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  demo *d = obj;
  d->nlist = (int)lua_rawlen(L, idx);
  if (d->nlist > 2) return bt_cfg_fail(L, path, NULL, err, "at most 2 entries");
  return 0;
}

#define F(kind, k, m, ...) BT_CFG_F_##kind(demo, k, m, __VA_ARGS__)
static const bt_cfg_field fields[] = {
    F(BOOL, "on", on, NULL),
    F(INT, "small", small, 1, 100, NULL),
    F(INT, "big", big, 1024, INFINITY, "bytes"),
    {"workers", BT_CFG_INT, BT_CFG_AT(demo, workers), 1, 64, NULL, NULL,
     BT_CFG_ZERO_DEFAULT, NULL},
    F(NUM, "rate", rate, 0, 1, NULL),
    F(STR, "name", name, NULL),
    {"key", BT_CFG_STR, BT_CFG_AT(demo, key), 0, 0, NULL, NULL, BT_CFG_SECRET, NULL},
    F(DEC, "cash", cash, NULL),
    F(ENUM, "mode", mode, modes, NULL),
    BT_CFG_F_TABLE("list", read_list, "a list of names"),
    {0}};

static demo defaults(void) {
  demo d = {.small = 5, .big = 4096, .workers = 8, .rate = 0.5, .name = "n", .mode = 0};
  d.cash = bt_dec_from_int(10);
  return d;
}

static lua_State *L;

/* Read the table `text` into d; returns the rc, err holds the message. */
static int read(const char *text, demo *d, bt_err *err) {
  memset(err, 0, sizeof *err);
  *d = defaults();
  char chunk[512];
  snprintf(chunk, sizeof chunk, "return %s", text);
  if (luaL_dostring(L, chunk) != LUA_OK) {
    fprintf(stderr, "bad chunk %s\n", text);
    failures++;
    return -1;
  }
  int top = lua_gettop(L);
  int rc = bt_cfg_read(L, -1, "sec", fields, d, err);
  CHECK(lua_gettop(L) == top); /* the stack is left as it was */
  lua_settop(L, 0);
  return rc;
}

static bool fails_with(const char *text, const char *msg, const char *field) {
  demo d;
  bt_err err;
  int rc = read(text, &d, &err);
  bool ok = rc == BT_EINVAL && strcmp(err.msg, msg) == 0 && strcmp(err.field, field) == 0 &&
            strcmp(err.type, "config_error") == 0 && strcmp(err.file, "cfg/test.lua") == 0;
  if (!ok) fprintf(stderr, "  %s\n  got  [%s] field [%s]\n  want [%s]\n", text, err.msg,
                   err.field, msg);
  return ok;
}

int main(void) {
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushstring(L, "cfg/test.lua");
  lua_setfield(L, LUA_REGISTRYINDEX, "btrun.config_path");
  bt_err err;
  demo d;

  /* Every kind stored at its offset; absent keys keep the defaults. */
  CHECK(read("{ on = true, small = 100, big = 2048.0, workers = 3, rate = 1, name = 'abcdefg',"
             " key = 'k', cash = '12.345', mode = 'drop', list = {'a', 'b'} }", &d, &err) == 0);
  CHECK(d.on && d.small == 100 && d.big == 2048 && d.workers == 3 && d.rate == 1.0);
  CHECK(strcmp(d.name, "abcdefg") == 0 && strcmp(d.key, "k") == 0);
  CHECK(dec_is(d.cash, "12.345") && d.mode == 1 && d.nlist == 2);
  CHECK(read("{}", &d, &err) == 0);
  demo def = defaults();
  CHECK(memcmp(&d, &def, sizeof d) == 0);
  CHECK(read("{ workers = 0, cash = 7 }", &d, &err) == 0);
  CHECK(d.workers == 8 && dec_is(d.cash, "7")); /* 0 keeps the default */

  /* Unknown keys, with the closest known one. */
  CHECK(fails_with("{ rat = 1 }", "cfg/test.lua: sec.rat: unknown key (did you mean \"rate\"?)",
                   "sec.rat"));
  CHECK(fails_with("{ colour = 1 }", "cfg/test.lua: sec.colour: unknown key", "sec.colour"));
  CHECK(fails_with("{ [1] = 1 }", "cfg/test.lua: sec: keys must be strings, got 1", "sec"));
  /* Types, bounds and what was found. */
  CHECK(fails_with("{ on = 'yes' }", "cfg/test.lua: sec.on: expected a boolean, got \"yes\"",
                   "sec.on"));
  CHECK(fails_with("{ small = 0 }", "cfg/test.lua: sec.small: expected an integer in [1, 100], got 0",
                   "sec.small"));
  CHECK(fails_with("{ small = 1.5 }",
                   "cfg/test.lua: sec.small: expected an integer in [1, 100], got 1.5", "sec.small"));
  CHECK(fails_with("{ big = 10 }",
                   "cfg/test.lua: sec.big: expected an integer >= 1024 (bytes), got 10", "sec.big"));
  CHECK(fails_with("{ workers = 65 }",
                   "cfg/test.lua: sec.workers: expected an integer in [1, 64], got 65", "sec.workers"));
  CHECK(fails_with("{ rate = 'x' }", "cfg/test.lua: sec.rate: expected a number in [0, 1], got \"x\"",
                   "sec.rate"));
  CHECK(fails_with("{ rate = 0/0 }", "cfg/test.lua: sec.rate: expected a number in [0, 1], got nan",
                   "sec.rate"));
  CHECK(fails_with("{ rate = {} }", "cfg/test.lua: sec.rate: expected a number in [0, 1], got table",
                   "sec.rate"));
  CHECK(fails_with("{ name = 5 }", "cfg/test.lua: sec.name: expected a string, got 5", "sec.name"));
  CHECK(fails_with("{ name = 'abcdefgh' }",
                   "cfg/test.lua: sec.name: expected a string of at most 7 bytes, got 8 bytes",
                   "sec.name"));
  CHECK(fails_with("{ key = 123456 }", "cfg/test.lua: sec.key: expected a string, got number",
                   "sec.key")); /* a secret is never echoed */
  CHECK(fails_with("{ cash = 'lots' }", "cfg/test.lua: sec.cash: not a decimal number: \"lots\"",
                   "sec.cash"));
  CHECK(fails_with("{ cash = true }",
                   "cfg/test.lua: sec.cash: expected a number or decimal string, got true",
                   "sec.cash"));
  CHECK(fails_with("{ mode = 'wait' }",
                   "cfg/test.lua: sec.mode: expected one of \"block\", \"drop\", got \"wait\"",
                   "sec.mode"));
  CHECK(fails_with("{ list = 'a' }",
                   "cfg/test.lua: sec.list: expected a table (a list of names), got \"a\"",
                   "sec.list"));
  CHECK(fails_with("{ list = {1, 2, 3} }", "cfg/test.lua: sec.list: at most 2 entries", "sec.list"));
  char longv[128];
  snprintf(longv, sizeof longv, "{ mode = '%s' }", "abcdefghijabcdefghijabcdefghijabcdefghijXYZ");
  CHECK(fails_with(longv, "cfg/test.lua: sec.mode: expected one of \"block\", \"drop\", got "
                          "\"abcdefghijabcdefghijabcdefghijabcdefghij...\"", "sec.mode"));

  /* The single readers share the messages; the top level has no section prefix. */
  luaL_dostring(L, "return { n = 'x', knd = 1 }");
  int64_t v = 3;
  CHECK(bt_cfg_integer(L, -1, "", "n", &v, &err) == BT_EINVAL && v == 3);
  CHECK(strcmp(err.msg, "cfg/test.lua: n: expected an integer, got \"x\"") == 0);
  static const char *const keys[] = {"n", "kind", NULL};
  CHECK(bt_cfg_check_keys(L, -1, "", keys, &err) == BT_EINVAL);
  CHECK(strcmp(err.msg, "cfg/test.lua: knd: unknown key (did you mean \"kind\"?)") == 0);
  CHECK(lua_gettop(L) == 1);
  lua_close(L);
  return failures != 0;
}
