/* config.h - the Lua configuration file (config/btrun.lua by default).
 *
 * A config file is a Lua chunk returning a table. The core keys are checked here;
 * each module owns one section table (log, trace, analytics, perf, service) and reads
 * it through a field table (cfg_fields.h), whose errors name the file and the key
 * ("config/btrun.lua: analytics.batch_size: expected an integer >= 1, got "x"").
 * Unknown keys are errors, at the top level and in every section. */
#ifndef BT_CONFIG_H
#define BT_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "broker.h"
#include "cfg_fields.h"
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
  bool bar_cache;                  /* CSV bars parsed once into <data_dir>/cache/bars
                                    * (barcache.h); default true, --no-cache */
  int64_t bar_cache_min_bytes;     /* smaller CSV files are read directly; default 1 MiB */
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

#endif
