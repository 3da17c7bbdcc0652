#include "luabind.h"

/* One line per `bt` submodule; modules add theirs here. */
const bt_lua_module bt_lua_modules[] = {
    {NULL, NULL},
};
