/* perf_source.h - reading the trade-log files of an index incrementally.
 *
 * The source is a .jsonl file or a directory whose *.jsonl files are read in name
 * order. Per file the index remembers device, inode, bytes and lines consumed (always up
 * to a newline) and CRC-32s of the first and last 4 KiB consumed, so a refresh parses
 * only what was appended; a partial last line is left for the next refresh. */
#ifndef BT_PERF_SOURCE_H
#define BT_PERF_SOURCE_H

#include <stdbool.h>

#include "common.h"
#include "perf_index.h"

/* Bring the index up to date with the trade logs under ix->source (a .jsonl file or a
 * directory of *.jsonl files): reads only bytes appended since the last refresh; starts
 * over when a file shrank, was replaced or rewritten (head/tail checksums), vanished, or
 * when force_cold. */
int bt_perf_index_refresh(bt_perf_index *ix, bool force_cold, bt_err *err);

#endif
