/* perf_index_json.h - performance-index.json: the index persisted between runs.
 *
 * The file records the source, timezone and tail size it was built for, per log file
 * the read position and checksums (perf_source.h), one compact string per day, and the
 * open trades. A file made for anything else, damaged or of another version is not
 * loaded: the index is rebuilt from the logs (deleting the file is always safe). */
#ifndef BT_PERF_INDEX_JSON_H
#define BT_PERF_INDEX_JSON_H

#include <stddef.h>

#include "perf_index.h"

/* Load from the JSON text of performance-index.json. Returns 0 when loaded, 1 when the
 * text is unusable or made for another source/timezone/tail size (ix reset, fresh). */
int bt_perf_index_load(bt_perf_index *ix, const char *json, size_t len);
/* Serialize; returns a malloc'd NUL-terminated string (NULL on out of memory). */
char *bt_perf_index_dump(const bt_perf_index *ix, size_t *len);

#endif
