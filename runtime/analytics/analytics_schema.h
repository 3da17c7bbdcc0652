/* analytics_schema.h - event schemas for product analytics.
 *
 * A schema names an event, its version and its properties: required ones (must be
 * present) and optional ones, each with a type ("string", "integer", "number",
 * "boolean", "object", "array", unions with '|', and a trailing '?' meaning null is
 * allowed; a nullable required property that is absent is filled with null).
 * Schemas come from lua/schemas/NAME.lua (each file returns one table) and from the
 * config's analytics.schemas list; a later definition of the same name replaces an
 * earlier one. Files are run in a private lua_State that is closed after loading.
 * Validation is read-only and thread-safe once loading is done. */
#ifndef BT_ANALYTICS_SCHEMA_H
#define BT_ANALYTICS_SCHEMA_H

#include <cjson/cJSON.h>
#include <stdint.h>

#include "common.h"

typedef struct lua_State lua_State;
typedef struct bt_an_schemas bt_an_schemas;

typedef struct bt_an_schema_info {
  const char *name;
  int64_t version;
} bt_an_schema_info;

bt_an_schemas *bt_an_schemas_new(void);
void bt_an_schemas_free(bt_an_schemas *s);
/* Load every *.lua file of dir (sorted by name). A missing dir is not an error. */
int bt_an_schemas_load_dir(bt_an_schemas *s, const char *dir, bt_err *err);
/* Add the schema tables of the list at idx (where = "analytics.schemas" for messages). */
int bt_an_schemas_add_list(bt_an_schemas *s, lua_State *L, int idx, const char *where,
                           bt_err *err);
int bt_an_schemas_count(const bt_an_schemas *s);

/* Check props (a JSON object, modified only to fill absent nullable required fields
 * with null) against the schema of event. On failure err->field names the property
 * ("" for the event name itself) and err->msg says why. info receives name/version. */
int bt_an_schemas_validate(const bt_an_schemas *s, const char *event, cJSON *props,
                           bt_an_schema_info *info, bt_err *err);

#endif
