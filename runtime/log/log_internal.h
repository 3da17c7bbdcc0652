/* log_internal.h - shared by log.c (sink, context, rendering) and log_redact.c. */
#ifndef BT_LOG_INTERNAL_H
#define BT_LOG_INTERNAL_H

#include "json.h"

/* A BT_F_JSON value re-emitted through a validating copy (secret keys redacted at any
 * depth); malformed JSON becomes a (redacted) string. scratch: a reusable buffer. */
void log_put_json_value(bt_json_buf *b, bt_json_buf *scratch, const char *json);
/* Escaped JSON string text (no quotes) with secrets replaced by [REDACTED]. */
void log_escape_redacted(bt_json_buf *b, const char *s, size_t n);

#endif
