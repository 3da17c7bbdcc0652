/* uuid.h - random identifiers: run ids, correlation ids, event ids, session ids. */
#ifndef BT_UUID_H
#define BT_UUID_H

#include <stdint.h>

/* UUID v4 (36 chars + NUL) from a per-thread pool of getrandom() bytes: libuuid's own
 * generator costs ~10 us per call here, too much for analytics captures from the bar
 * loop (libuuid is the fallback when the kernel has no randomness). */
void bt_uuid(char out[40]);
/* UUID v7 (RFC 9562): 48-bit ms timestamp then random bits; PostHog wants session ids
 * in this form, with the timestamp of the session's first event. */
void bt_uuid7(int64_t epoch_ms, char out[40]);

#endif
