/* cfg_fields.h - read a config table into a C struct through a table of fields.
 *
 * Every config section (the top level, log, trace, analytics, perf, service) is read
 * the same way: its keys are checked against the field table (an unknown key is an
 * error with a "did you mean"), each present value is type- and range-checked and
 * stored at its offset in the struct, and an absent key leaves the struct's default.
 * Errors name the config file, the section and the key, say what was expected and
 * echo what was found:
 *
 *   config/btrun.lua: trace.sample_rate: expected a number in [0, 1], got "x"
 *   config/btrun.lua: trace.sample_rat: unknown key (did you mean "sample_rate"?)
 *
 * The file name comes from the Lua registry (bt_config_load stores it), so a reader
 * needs only the lua_State. Messages never echo a BT_CFG_SECRET value. */
#ifndef BT_CFG_FIELDS_H
#define BT_CFG_FIELDS_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"
#include "decimal.h"

typedef struct lua_State lua_State;

typedef enum bt_cfg_kind {
  BT_CFG_BOOL,  /* bool */
  BT_CFG_INT,   /* 4- or 8-byte integer (size); an integral float is accepted */
  BT_CFG_NUM,   /* double */
  BT_CFG_STR,   /* char[size], NUL-terminated */
  BT_CFG_DEC,   /* bt_dec: a number or a decimal string */
  BT_CFG_ENUM,  /* int: index of the string value in choices */
  BT_CFG_TABLE, /* a table, handed to read() */
} bt_cfg_kind;

enum {
  BT_CFG_SECRET = 1,       /* never echo the value in an error */
  BT_CFG_ZERO_DEFAULT = 2, /* INT: 0 means "keep the default" (bounds apply otherwise) */
};

/* A TABLE field's reader: the table is at idx, path names it ("service.api_keys"),
 * obj is the whole struct given to bt_cfg_read. */
typedef int (*bt_cfg_read_fn)(lua_State *L, int idx, const char *path, void *obj,
                              bt_err *err);

typedef struct bt_cfg_field {
  const char *key;            /* NULL ends a table */
  bt_cfg_kind kind;
  size_t off, size;           /* where the value goes in the struct, and its size */
  double lo, hi;              /* INT, NUM: inclusive bounds (+-INFINITY: none) */
  const char *const *choices; /* ENUM: NULL-terminated names */
  bt_cfg_read_fn read;        /* TABLE */
  unsigned flags;             /* BT_CFG_SECRET, BT_CFG_ZERO_DEFAULT */
  const char *doc;            /* what the value means; shown after the expectation */
} bt_cfg_field;

#define BT_CFG_AT(T, m) offsetof(T, m), sizeof(((T *)0)->m)
/* Field makers: T is the struct type, m the member, k the config key. */
#define BT_CFG_F_BOOL(T, k, m, doc) {k, BT_CFG_BOOL, BT_CFG_AT(T, m), 0, 0, NULL, NULL, 0, doc}
#define BT_CFG_F_INT(T, k, m, lo, hi, doc) \
  {k, BT_CFG_INT, BT_CFG_AT(T, m), lo, hi, NULL, NULL, 0, doc}
#define BT_CFG_F_NUM(T, k, m, lo, hi, doc) \
  {k, BT_CFG_NUM, BT_CFG_AT(T, m), lo, hi, NULL, NULL, 0, doc}
#define BT_CFG_F_STR(T, k, m, doc) {k, BT_CFG_STR, BT_CFG_AT(T, m), 0, 0, NULL, NULL, 0, doc}
#define BT_CFG_F_DEC(T, k, m, doc) {k, BT_CFG_DEC, BT_CFG_AT(T, m), 0, 0, NULL, NULL, 0, doc}
#define BT_CFG_F_ENUM(T, k, m, names, doc) \
  {k, BT_CFG_ENUM, BT_CFG_AT(T, m), 0, 0, names, NULL, 0, doc}
#define BT_CFG_F_TABLE(k, fn, doc) {k, BT_CFG_TABLE, 0, 0, 0, 0, NULL, fn, 0, doc}
#define BT_CFG_ANY (-INFINITY), INFINITY

/* Read the table at idx into obj (at most 64 fields). where names the table in
 * messages ("trace", "service.api_keys[2]", "" for the top level). Fields are read in
 * table order; the first error stops. The Lua stack is left as it was. */
int bt_cfg_read(lua_State *L, int idx, const char *where, const bt_cfg_field *fields,
                void *obj, bt_err *err);
/* One field of the table at idx into out (the value itself, not a struct). */
int bt_cfg_read_field(lua_State *L, int idx, const char *where, const bt_cfg_field *f,
                      void *out, bt_err *err);

/* A config_error at where.key (key may be NULL: at where) in the config file. Returns
 * BT_EINVAL. For the checks a field table cannot express. */
int bt_cfg_fail(lua_State *L, const char *where, const char *key, bt_err *err,
                const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The config file's name, for messages ("config" when unknown). */
const char *bt_cfg_file(lua_State *L);

/* Error unless every key of the table at idx is in the NULL-terminated list (for tables
 * read without a field table); an unknown key gets a "did you mean". */
int bt_cfg_check_keys(lua_State *L, int idx, const char *where, const char *const *keys,
                      bt_err *err);

/* Single typed reads of t[key] at idx, for tables read without a field table. Absent
 * key: *out unchanged. Same messages as bt_cfg_read. */
int bt_cfg_string(lua_State *L, int idx, const char *where, const char *key, char *out,
                  size_t outlen, bt_err *err);
int bt_cfg_number(lua_State *L, int idx, const char *where, const char *key, double *out,
                  bt_err *err);
int bt_cfg_integer(lua_State *L, int idx, const char *where, const char *key, int64_t *out,
                   bt_err *err);
int bt_cfg_bool(lua_State *L, int idx, const char *where, const char *key, bool *out,
                bt_err *err);
int bt_cfg_decimal(lua_State *L, int idx, const char *where, const char *key, bt_dec *out,
                   bt_err *err);

#endif
