/* analytics_util.h - small helpers shared by the analytics modules. */
#ifndef BT_ANALYTICS_UTIL_H
#define BT_ANALYTICS_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* "2026-11-23T05:58:41.123Z" */
void bt_an_iso_ms(int64_t epoch_ms, char out[32]);
/* The name-based (version 5, SHA-1) UUID of key in btrun's namespace: same key, same id. */
void bt_an_uuid_of(const char *key, char out[40]);
/* Write a whole file atomically (temp file + fsync + rename). 0 or -1 with errno. */
int bt_an_write_file_atomic(const char *path, const char *data, size_t len);
/* Uniform random double in [0, 1) from a per-thread xorshift state seeded from
 * /dev/urandom; used for backoff jitter. */
double bt_an_random01(uint64_t *state);

#endif
