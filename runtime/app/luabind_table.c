#include "luabind.h"
#include "analytics.h"
#include "perf.h"
#include "lua_backtest.h"
#include "lua_sweep.h"
#include "lua_trace.h"
#include "lua_events.h"
#include "lua_jobs.h"
#include "lua_log.h"
#include "lua_ta.h"

/* One line per `bt` submodule; modules add theirs here. */
const bt_lua_module bt_lua_modules[] = {
    {"trace", bt_lua_open_trace},
    {"backtest", bt_lua_open_backtest},
    {"sweep", bt_lua_open_sweep},
    {"log", bt_lua_open_log},
    {"analytics", bt_lua_open_analytics},
    {"perf", bt_lua_open_perf},
    {"events", bt_lua_open_events},
    {"ta", bt_lua_open_ta},
    {"jobs", bt_lua_open_jobs},
    {NULL, NULL},
};
