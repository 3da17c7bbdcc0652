/* event_export.h - the events of runs as JSON lines or CSV, streamed into a FILE in large
 * blocks: `btrun events list --format jsonl|csv` and the service's GET /runs/ID/events.
 *
 * Both forms carry every field of an event (docs/events.md "Export"): event_id, seq,
 * event_type, user_type, timestamp, symbol, causation_id, correlation_id, source, the
 * four timings, latency_ns, queue_time_ns and the payload. JSONL keeps the payload as
 * the object `data`; CSV flattens it into one `data.<key>` column per payload key of the
 * exported event types (nested objects as `data.<key>.<sub>`, arrays as JSON text), the
 * names pandas.json_normalize gives the JSONL. CSV column order is stable: the fixed
 * fields, then the payload keys by event type (BAR, SIGNAL, ORDER, FILL, PORTFOLIO,
 * RISK_BREACH, LOG, USER), each type's keys in their documented order (BAR/ORDER/FILL)
 * or sorted by name, a key shared by several types in its first place. */
#ifndef BT_EVENT_EXPORT_H
#define BT_EVENT_EXPORT_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"

typedef enum { BT_EXPORT_JSONL, BT_EXPORT_CSV } bt_export_format;
typedef struct bt_event_export bt_event_export;

/* NULL on out-of-memory. out stays the caller's. */
bt_event_export *bt_event_export_new(FILE *out, bt_export_format fmt);
/* CSV only, before the first bt_event_export_run: learn the payload columns of the
 * events of run that q selects (reads its non-BAR events; BAR, ORDER and FILL payloads
 * have fixed keys). Call once per run to export. */
int bt_event_export_scan(bt_event_export *x, bt_store *s, const bt_store_run *run,
                         const bt_store_filter *q, bt_err *err);
/* Writes the events of run that q selects (q->run_no is set from run), until *listed
 * reaches limit (0 = no limit); *listed counts across calls. */
int bt_event_export_run(bt_event_export *x, bt_store *s, const bt_store_run *run,
                        bt_store_filter q, uint64_t limit, uint64_t *listed, bt_err *err);
/* Writes what is buffered (the CSV header when no row was written) and frees x;
 * BT_EIO when a write failed, except on a closed pipe (EPIPE: the reader stopped
 * reading, as `| head` does), which ends the export quietly with 0. */
int bt_event_export_finish(bt_event_export *x, bt_err *err);

/* One event of run as the JSON object of a JSONL line (no newline), appended to b. */
struct bt_json_buf;
void bt_event_json_write(struct bt_json_buf *b, const bt_store_run *run,
                         const bt_trace_event *e);

#endif
