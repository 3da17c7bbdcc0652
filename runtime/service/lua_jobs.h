/* lua_jobs.h - bt.jobs: submit backtests to a job queue from a script and wait for them
 * (lua_jobs.c has the API; docs/postgresql.md, "Sweeps"). */
#ifndef BT_LUA_JOBS_H
#define BT_LUA_JOBS_H

#include <lua.h>

int bt_lua_open_jobs(lua_State *L);

#endif
