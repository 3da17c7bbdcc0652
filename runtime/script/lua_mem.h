/* lua_mem.h - a Lua allocator with a byte cap, so a strategy cannot exhaust memory.
 * When the cap would be exceeded the allocation fails and Lua raises a memory error
 * ("not enough memory"), which the run reports as a memory_limit failure. */
#ifndef BT_LUA_MEM_H
#define BT_LUA_MEM_H

#include <lua.h>
#include <stddef.h>

/* limit 0 = no cap */
lua_State *bt_lua_mem_newstate(size_t limit);
size_t bt_lua_mem_limit(lua_State *L);  /* 0 = no cap */
/* Close the state and free the allocator's bookkeeping. */
void bt_lua_mem_close(lua_State *L);

#endif
