/* barcache.h - the binary bar cache: each CSV data file is parsed once.
 *
 * The first run on a CSV file parses it and writes its bars into a cache file under
 * <data_dir>/cache/bars/ (docs/data.md#bar-cache); later runs, and every run of a sweep,
 * read the bars from there: fixed-width columns, no parsing. A cache file is written to a
 * temporary name and renamed (concurrent builders each write a whole file; the last
 * rename wins), and is used only while the CSV is unchanged (same device, inode, size,
 * mtime and ctime, and the same checksum of its first and last 64 KiB) and the file
 * itself checks out (header checksum, size, a checksum per block of bars verified as
 * each block is read). Anything else rebuilds it; a block that fails its checksum
 * mid-run is read from the CSV instead (the run goes on, same bars) and the cache file
 * is removed. The values are the feed's own (bt_dec units, the volume's double bits),
 * so a run from the cache is byte-identical to a run from the CSV. */
#ifndef BT_BARCACHE_H
#define BT_BARCACHE_H

#include <stdint.h>

#include "common.h"
#include "feed.h"

typedef struct bt_barcache bt_barcache;

/* A cache in directory dir (created on the first build). CSV files smaller than
 * min_bytes are read directly (parsing them costs less than the cache's own I/O). */
int bt_barcache_new(bt_barcache **out, const char *dir, uint64_t min_bytes, bt_err *err);
/* Frees the cache; every feed opened through it must be closed first. */
void bt_barcache_free(bt_barcache *c);

/* bt_feed_open through the cache: the bars come from the cache file, built first when
 * missing or stale. A file the cache cannot hold (not a regular file, smaller than
 * min_bytes, a row the CSV reader refuses, an unwritable cache directory) opens as a
 * plain CSV feed, with the CSV reader's errors at the same bar as ever. Thread-safe:
 * the runs of a sweep share one opened, validated cache file. c NULL = bt_feed_open. */
int bt_barcache_open_feed(bt_barcache *c, bt_feed **out, const char *path, const char *symbol,
                          uint32_t symbol_index, const bt_feed_opts *opts, bt_err *err);

/* Removes every cache file (and leftover temporary file) in dir; *removed = how many. */
int bt_barcache_clear(const char *dir, int *removed, bt_err *err);

#endif
