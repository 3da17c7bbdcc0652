/* json.h - a growable text buffer and the JSON writers built on it: the project's one
 * way to render JSON text by hand (log records, event payloads, summaries, reports).
 * cJSON is for parsing and for building trees; this is for streaming text fast.
 * On out-of-memory `failed` is set and later writes are ignored; bt_json_take then
 * returns NULL. A zeroed struct is an empty buffer.
 * (Until issue 10 these were bt_log_buf and bt_log_buf_* in log.h.) */
#ifndef BT_JSON_H
#define BT_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct bt_json_buf {
  char *data; /* NUL-terminated once anything was written */
  size_t len, cap;
  bool failed;
} bt_json_buf;

/* Room for `extra` more bytes (and the NUL); false once the buffer has failed. */
bool bt_json_grow(bt_json_buf *b, size_t extra);
static inline bool bt_json_reserve(bt_json_buf *b, size_t extra) {
  return (!b->failed && b->len + extra + 1 <= b->cap) || bt_json_grow(b, extra);
}
static inline void bt_json_put(bt_json_buf *b, const char *s, size_t n) {
  if (!bt_json_reserve(b, n)) return;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  b->data[b->len] = 0;
}
static inline void bt_json_putc(bt_json_buf *b, char c) {
  if (!bt_json_reserve(b, 1)) return;
  b->data[b->len++] = c;
  b->data[b->len] = 0;
}
#define BT_JSON_PUTS(b, lit) bt_json_put((b), (lit), sizeof(lit) - 1)
void bt_json_printf(bt_json_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bt_json_free(bt_json_buf *b);
/* Hand over the NUL-terminated text (an empty string when nothing was written; NULL
 * after a failed write, the text is then freed) and reset the buffer. */
char *bt_json_take(bt_json_buf *b, size_t *len);

/* A quoted JSON string: control characters escaped, invalid UTF-8 replaced by U+FFFD.
 * Values are written as given (log.h's bt_log_json_str also redacts secrets). */
void bt_json_str(bt_json_buf *b, const char *s, size_t n);
/* The same without the quotes. */
void bt_json_escape(bt_json_buf *b, const char *s, size_t n);
void bt_json_int(bt_json_buf *b, int64_t v);
void bt_json_dbl(bt_json_buf *b, double v); /* shortest round-trip; NaN/inf -> null */

/* cJSON_Print's text (tab indents, "key":<tab>value) laid out as jq prints it: two-space
 * indents, "key": value. Every raw tab in that text is layout (tabs inside strings are
 * escaped), so the rewrite is textual. A new heap string; NULL on OOM or NULL input. */
char *bt_json_indent2(const char *printed);

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates or code
 * points above U+10FFFF). When invalid, returns 0 and sets *bad to the length of the
 * maximal valid prefix (at least 1), which is one U+FFFD when replaced. */
size_t bt_utf8_len(const unsigned char *s, size_t n, size_t *bad);
/* s[0..n) appended as is but for invalid UTF-8, replaced by U+FFFD as bt_json_escape
 * does: the text a JSON reader gets back from bt_json_str's string. */
void bt_utf8_copy(bt_json_buf *b, const char *s, size_t n);
/* Whether s[0..n) is entirely valid UTF-8 (as bt_utf8_len defines it). */
bool bt_utf8_valid(const char *s, size_t n);

#endif
