/* formats.h - Lua format scripts that turn data into documents (Markdown, HTML).
 *
 * A format is lua/formats/<name>.lua (or <formats_dir>/<name>.lua first, so users can
 * restyle reports without rebuilding): a chunk returning function(data) -> string.
 * Scripts run in a private lua_State owned by the bt_formats (never a strategy's state),
 * loaded once and kept as registry refs. Performance summaries (summary_md,
 * summary_html) and a run's report.html (run_report) all render through here. */
#ifndef BT_FORMATS_H
#define BT_FORMATS_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct lua_State lua_State;
typedef struct bt_formats bt_formats;

/* formats_dir: NULL or "" = btrun's own lua/formats. */
int bt_formats_open(bt_formats **out, const char *formats_dir, bt_err *err);
void bt_formats_close(bt_formats *r);
lua_State *bt_formats_lua(bt_formats *r);

/* Push JSON text as Lua values: objects -> tables, arrays -> sequences, null -> nil,
 * integral numbers -> integers. Strings (money) stay strings. */
int bt_formats_push_json(lua_State *L, const char *json, size_t len, bt_err *err);

/* A number as push_json pushes a JSON number: integral values (|v| < 9e15) as integers,
 * others as floats; NaN and infinities (JSON null) as nil. So a table built from C equals,
 * value for value, the one pushed from the JSON text of the same numbers ("%.17g"). */
void bt_formats_push_num(lua_State *L, double v);
/* t[key] = v for the table on top, as push_json sets an object's number (NaN: no field). */
void bt_formats_set_num(lua_State *L, const char *key, double v);
/* A parsed document, as push_json pushes it (may raise a Lua memory error). */
struct cJSON;
void bt_formats_push_cjson(lua_State *L, const struct cJSON *v);

/* Render format `name` with the value on top of the report's Lua stack (popped).
 * *out is malloc'd. Errors carry the Lua traceback. */
int bt_formats_render(bt_formats *r, const char *name, char **out, size_t *len, bt_err *err);

/* Hash of the format script's text (0 when missing): part of output checksums so an
 * edited format re-renders. */
uint64_t bt_formats_hash(bt_formats *r, const char *name);

#endif
