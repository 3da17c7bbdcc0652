#include "lua_mem.h"

#include <lauxlib.h>
#include <stdlib.h>

typedef struct mem_budget {
  size_t used, limit;
} mem_budget;

static void *budget_alloc(void *ud, void *ptr, size_t osize, size_t nsize) {
  mem_budget *b = ud;
  size_t old = ptr ? osize : 0;
  if (nsize == 0) {
    free(ptr);
    b->used -= old;
    return NULL;
  }
  if (b->limit && nsize > old && b->used - old + nsize > b->limit) return NULL;
  void *p = realloc(ptr, nsize);
  if (!p) return NULL;
  b->used = b->used - old + nsize;
  return p;
}

static int panic(lua_State *L) {
  (void)L;
  abort(); /* unreachable in practice: every call into Lua is protected */
}

lua_State *bt_lua_mem_newstate(size_t limit) {
  mem_budget *b = calloc(1, sizeof *b);
  if (!b) return NULL;
  b->limit = limit;
  lua_State *L = lua_newstate(budget_alloc, b);
  if (!L) {
    free(b);
    return NULL;
  }
  lua_atpanic(L, panic);
  return L;
}

/* NULL for a state that does not use this allocator (plain luaL_newstate). */
static mem_budget *budget(lua_State *L) {
  void *ud;
  return lua_getallocf(L, &ud) == budget_alloc ? ud : NULL;
}

size_t bt_lua_mem_limit(lua_State *L) { return budget(L) ? budget(L)->limit : 0; }

void bt_lua_mem_close(lua_State *L) {
  mem_budget *b = budget(L);
  lua_close(L);
  free(b); /* NULL for a foreign state */
}
