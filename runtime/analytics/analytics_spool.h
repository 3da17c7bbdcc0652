/* analytics_spool.h - the analytics disk spool: an append-only journal per process.
 *
 * Every captured event is journaled here before it is sent, so the spool is also
 * the send queue: the sender reads records in order and acknowledges a prefix once
 * PostHog accepted it (or rejected it for good). Each process owns one segment file
 * <dir>/<ms>-<pid>-<rand>.spool, locked with flock() while it lives; a segment whose
 * lock can be taken belongs to a process that exited or crashed, and its unacked
 * records are adopted (copied in order into the adopter's segment, then the file is
 * removed). A clean shutdown with everything delivered removes the segment.
 *
 * Record: "E <len> <crc32 hex8> <payload>\n" (an event) or "A <len> <crc> <offset>\n"
 * (everything before offset is done). A torn or corrupt record is skipped with a
 * warning. Appends are thread-safe; reading and acking belong to one thread. */
#ifndef BT_ANALYTICS_SPOOL_H
#define BT_ANALYTICS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common.h"

typedef struct bt_an_spool bt_an_spool;

/* Create dir if needed and a new locked segment in it. max_bytes caps the unacked
 * bytes of this segment; records beyond it are dropped (counted, warned once). */
bt_an_spool *bt_an_spool_open(const char *dir, int64_t max_bytes, bt_err *err);

/* Append n payloads as E records in one write; fdatasync when sync. Returns the
 * number of records dropped because of the cap (0 normally), or < 0 on I/O error. */
int bt_an_spool_append(bt_an_spool *sp, const char *const *payloads, const size_t *lens,
                       size_t n, bool sync);
int bt_an_spool_sync(bt_an_spool *sp);

/* Next E record at or after *off: returns 1 and sets *payload (heap, NUL-terminated),
 * *len, *start and *off (to the record's end); 0 when none is complete yet. */
int bt_an_spool_read(bt_an_spool *sp, int64_t *off, char **payload, size_t *len,
                     int64_t *start);
/* Everything before off is done. Returns 1 when the segment became empty and was
 * truncated (readers restart at offset 0), 0 otherwise, < 0 on I/O error. */
int bt_an_spool_ack(bt_an_spool *sp, int64_t off);
int64_t bt_an_spool_unacked_bytes(bt_an_spool *sp);
uint64_t bt_an_spool_dropped(bt_an_spool *sp);

/* Adopt the unacked records of every segment whose owner is gone. Returns the number
 * of records adopted (files in *nfiles), < 0 on error. */
int64_t bt_an_spool_adopt(bt_an_spool *sp, int *nfiles, bt_err *err);

/* Sync and close; removes the segment when nothing is left unacked. Returns the
 * unacked bytes left behind. */
int64_t bt_an_spool_close(bt_an_spool *sp);

/* Read-only census of a spool directory (for `btrun analytics status`). */
typedef struct bt_an_spool_census {
  int files, files_in_use;
  int64_t events, bytes, corrupt;
} bt_an_spool_census;
int bt_an_spool_census_dir(const char *dir, bt_an_spool_census *out);

#endif
