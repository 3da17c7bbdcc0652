/* config.h - the Lua configuration file (config/btrun.lua by default).
 *
 * A config file is a Lua chunk returning a table. The core keys are checked here;
 * each module owns one section table (trace, analytics, log, perf) and validates it
 * with the bt_cfg_* readers below, which name the offending key in their error
 * ("config/btrun.lua: analytics.batch_size: expected integer, got string").
 * Unknown keys are errors, at the top level and in every section. */
#ifndef BT_CONFIG_H
#define BT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "common.h"
#include "decimal.h"

typedef struct lua_State lua_State;

typedef struct bt_config {
  char path[512];                  /* "" when defaults only */
  bt_dec cash;                     /* default 100000 */
  bt_broker_cfg broker;            /* commission, slippage; default zero */
  char out_dir[512];               /* base for runs/<run_id>; default "runs" */
  char data_dir[512];              /* store, spool, consent; see bt_config_load */
  char user_id[128];               /* "" = unknown */
  double timeout_s;                /* wall-clock limit per run, default 600 */
  int64_t max_memory;              /* Lua heap cap in bytes, default 512 MiB */
  bool skip_bad_rows;
  char date_format[64];            /* strptime form of data files' time column, "" = built-in */
  char columns[256];               /* column mapping "time=open_time,close=c", "" = by header */
  bool trust_strategies;           /* false (default): strategies run sandboxed (sandbox.h);
                                    * env BTRUN_TRUST_STRATEGIES=1|0 overrides the file */
  uint64_t progress_every;         /* bars between backtest_progress records, 0 = off */
  /* risk limits: breaching one publishes a RISK_BREACH event (0 = no limit) */
  double risk_max_drawdown;        /* fraction of the equity peak, 0..1 */
  bt_dec risk_max_position_value;  /* money held in positions (absolute value) */
  lua_State *L;                    /* holds the config table (registry ref) for sections */
  int ref;                         /* LUA_NOREF when defaults only */
} bt_config;

/* Defaults, then the file (if path is non-NULL; a missing explicitly given file is an
 * error, a missing default file is not). data_dir: config key, else $BTRUN_DATA_DIR,
 * else $XDG_DATA_HOME/btrun, else ~/.local/share/btrun. */
int bt_config_load(bt_config *cfg, const char *path, bool explicit_path, bt_err *err);
void bt_config_free(bt_config *cfg);

/* Push section `name` of the config (a table) onto cfg->L; returns its absolute stack
 * index, or 0 when absent. bt_config_load already refused a section that is not a
 * table. Caller pops it (lua_settop). */
int bt_config_section(bt_config *cfg, const char *name);

/* Typed readers for a section table at idx. `where` is "analytics" (used in messages).
 * Absent key: leave *out unchanged and return 0. Wrong type: error naming where.key. */
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
/* Error unless every key of the table at idx is in the NULL-terminated list. */
int bt_cfg_check_keys(lua_State *L, int idx, const char *where, const char *const *keys,
                      bt_err *err);

#endif
