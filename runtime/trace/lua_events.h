/* lua_events.h - the bt.events Lua submodule: scripted queries of the event store.
 *
 *   for ev in bt.events.query{run = RUN_ID, type = "FILL" | {"ORDER","FILL"},
 *                             from = TIME, to = TIME, store = PATH} do ... end
 * run: a run id (or unique prefix) or a bt.backtest result table; TIME: epoch seconds
 * or a date string. Each ev: event_id, seq, type, user_type, time, symbol, cause,
 * causation_id, source, created_at, emitted_at, received_at, processed_at, data. */
#ifndef BT_LUA_EVENTS_H
#define BT_LUA_EVENTS_H

#include <lua.h>

int bt_lua_open_events(lua_State *L);

#endif
