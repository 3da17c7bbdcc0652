/* log_exception.c - the `exception` field: a bt_err or a Lua traceback as JSON with
 * parsed frames. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"
#include "log.h"

/* One traceback line after "\t": "src:line: in what", "src: in what" ([C] frames),
 * or a marker that is skipped. */
static void put_frame(bt_json_buf *b, const char *line, size_t len, bool *first) {
  const char *in = NULL;
  for (size_t i = 0; i + 5 <= len; i++)
    if (memcmp(line + i, ": in ", 5) == 0) {
      in = line + i;
      break;
    }
  /* markers: "(...tail calls...)" and "...\t(skipping N levels)"; a source may
   * itself start with "..." (Lua shortens long paths to ".../tail") */
  if (!in || line[0] == '(' || (len >= 4 && memcmp(line, "...\t", 4) == 0)) return;
  size_t loclen = (size_t)(in - line), srclen = loclen;
  int64_t lineno = -1;
  size_t k = loclen;
  while (k > 0 && isdigit((unsigned char)line[k - 1])) k--;
  if (k < loclen && k > 0 && line[k - 1] == ':') {
    lineno = strtoll(line + k, NULL, 10);
    srclen = k - 1;
  }
  const char *what = in + 5;
  size_t wlen = len - (size_t)(what - line);
  const char *fn = what;
  size_t fnlen = wlen;
  const char *q1 = memchr(what, '\'', wlen);
  const char *lt = memchr(what, '<', wlen);
  if (q1) {
    const char *q2 = memchr(q1 + 1, '\'', wlen - (size_t)(q1 + 1 - what));
    fn = q1 + 1;
    fnlen = q2 ? (size_t)(q2 - fn) : wlen - (size_t)(fn - what);
  } else if (lt) {
    fn = lt;
    fnlen = wlen - (size_t)(lt - what);
  }
  if (!*first) bt_json_putc(b, ',');
  *first = false;
  BT_JSON_PUTS(b, "{\"source\":");
  bt_log_json_str(b, line, srclen);
  BT_JSON_PUTS(b, ",\"line\":");
  if (lineno >= 0) bt_json_int(b, lineno);
  else BT_JSON_PUTS(b, "null");
  BT_JSON_PUTS(b, ",\"function\":");
  if (wlen == 1 && what[0] == '?') BT_JSON_PUTS(b, "null");
  else bt_log_json_str(b, fn, fnlen);
  bt_json_putc(b, '}');
}

static void put_frames(bt_json_buf *b, const char *tb) {
  BT_JSON_PUTS(b, "\"frames\":[");
  if (tb) {
    const char *p = strstr(tb, "stack traceback:");
    p = p ? p + 16 : tb;
    bool first = true;
    while (*p) {
      const char *eol = strchr(p, '\n');
      size_t len = eol ? (size_t)(eol - p) : strlen(p);
      const char *s = p;
      while (len && (*s == '\t' || *s == ' ')) s++, len--;
      while (len && (s[len - 1] == '\r' || s[len - 1] == ' ')) len--;
      if (len) put_frame(b, s, len, &first);
      if (!eol) break;
      p = eol + 1;
    }
  }
  bt_json_putc(b, ']');
}

static char *finish(bt_json_buf *b) {
  if (b->failed) {
    bt_json_free(b);
    return NULL;
  }
  return b->data;
}

char *bt_log_exception_json(const char *type, const char *message, const char *traceback) {
  bt_json_buf b = {0};
  BT_JSON_PUTS(&b, "{\"type\":");
  type = type ? type : "error";
  bt_log_json_str(&b, type, strlen(type));
  BT_JSON_PUTS(&b, ",\"message\":");
  message = message ? message : "";
  bt_log_json_str(&b, message, strlen(message));
  bt_json_putc(&b, ',');
  put_frames(&b, traceback);
  bt_json_putc(&b, '}');
  return finish(&b);
}

char *bt_log_err_json(const bt_err *e) {
  if (!e) return bt_log_exception_json(NULL, NULL, NULL);
  bt_json_buf b = {0};
  BT_JSON_PUTS(&b, "{\"type\":");
  const char *type = e->type[0] ? e->type : "error";
  bt_log_json_str(&b, type, strlen(type));
  BT_JSON_PUTS(&b, ",\"message\":");
  bt_log_json_str(&b, e->msg, strnlen(e->msg, sizeof e->msg));
  if (e->file[0]) {
    BT_JSON_PUTS(&b, ",\"file\":");
    bt_log_json_str(&b, e->file, strnlen(e->file, sizeof e->file));
  }
  if (e->line > 0) BT_JSON_PUTS(&b, ",\"line\":"), bt_json_int(&b, e->line);
  if (e->field[0]) {
    BT_JSON_PUTS(&b, ",\"field\":");
    bt_log_json_str(&b, e->field, strnlen(e->field, sizeof e->field));
  }
  bt_json_putc(&b, ',');
  put_frames(&b, e->traceback);
  bt_json_putc(&b, '}');
  return finish(&b);
}
