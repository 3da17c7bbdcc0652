/* log.h - structured logging: JSON lines (or an aligned console form) on stdout.
 *
 * Every record has timestamp, level, event, logger and the bound context of the
 * calling thread (correlation_id, run_id, strategy_id, user_id, ...). Fields given
 * at the call site win over bound ones. Use the bt_log() macro: a disabled level
 * costs one comparison and builds nothing.
 *
 *   bt_log("run", BT_LOG_INFO, "backtest_started",
 *          BT_F_STR("strategy", path), BT_F_INT("bars", n));
 *
 * The sink configuration is process-wide (set once by the CLI before threads start);
 * the bound context is per thread. Logging never fails the caller. */
#ifndef BT_LOG_H
#define BT_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"

typedef enum {
  BT_LOG_DEBUG = 10,
  BT_LOG_INFO = 20,
  BT_LOG_WARNING = 30,
  BT_LOG_ERROR = 40,
  BT_LOG_OFF = 100
} bt_log_level;

typedef enum {
  BT_F_END = 0,
  BT_F_STR_T,    /* NUL-terminated string (escaped on output; NULL renders null) */
  BT_F_INT_T,
  BT_F_DBL_T,    /* NaN/inf render as null */
  BT_F_BOOL_T,
  BT_F_JSON_T,   /* already-rendered JSON value (object, array, ...) inserted as is */
  BT_F_NULL_T,
} bt_field_type;

/* Where a field shows (console lines are for a person on a terminal, JSON keeps all). */
typedef enum {
  BT_F_SHOW_ALL = 0,
  BT_F_SHOW_JSON,   /* JSON only: detail a console line leaves out (paths, full metrics) */
  BT_F_SHOW_TEXT,   /* console only, printed bare: the record told in words; the console
                     * line then leaves out the event name */
} bt_field_show;

typedef struct bt_field {
  const char *key;
  bt_field_type type;
  union {
    const char *s;
    int64_t i;
    double d;
    bool b;
  } v;
  bt_field_show show;
} bt_field;

#define BT_F_STR(k, x) ((bt_field){.key = (k), .type = BT_F_STR_T, .v.s = (x)})
#define BT_F_INT(k, x) ((bt_field){.key = (k), .type = BT_F_INT_T, .v.i = (int64_t)(x)})
#define BT_F_DBL(k, x) ((bt_field){.key = (k), .type = BT_F_DBL_T, .v.d = (double)(x)})
#define BT_F_BOOL(k, x) ((bt_field){.key = (k), .type = BT_F_BOOL_T, .v.b = (x)})
#define BT_F_JSON(k, x) ((bt_field){.key = (k), .type = BT_F_JSON_T, .v.s = (x)})
#define BT_F_NULL(k) ((bt_field){.key = (k), .type = BT_F_NULL_T})
/* A field shown in JSON only; a console-only human text (x: a string). */
#define BT_F_JSON_ONLY(f) bt_field_json_only(f)
#define BT_F_TEXT(x) ((bt_field){.key = "text", .type = BT_F_STR_T, .v.s = (x), .show = BT_F_SHOW_TEXT})
static inline bt_field bt_field_json_only(bt_field f) {
  f.show = BT_F_SHOW_JSON;
  return f;
}

typedef enum { BT_LOG_FORMAT_AUTO = 0, BT_LOG_FORMAT_JSON, BT_LOG_FORMAT_CONSOLE } bt_log_format;

/* Process-wide sink settings. Call before starting threads. */
void bt_log_set_format(bt_log_format fmt);     /* AUTO: console on a TTY, else JSON */
bt_log_format bt_log_get_format(void);         /* the resolved format */
void bt_log_set_level(bt_log_level lvl);       /* default INFO (or BTRUN_LOG_LEVEL) */
int bt_log_set_logger_level(const char *logger, bt_log_level lvl); /* per-logger override */
int bt_log_level_parse(const char *name, bt_log_level *out);       /* "debug".."error" */
void bt_log_set_fd(int fd);                     /* default 1 (stdout); tests redirect */

bool bt_log_enabled(const char *logger, bt_log_level lvl);
void bt_log_write(const char *logger, bt_log_level lvl, const char *event,
                  const bt_field *fields, size_t nfields);

#define bt_log(logger, lvl, event, ...)                                              \
  do {                                                                               \
    if (bt_log_enabled((logger), (lvl))) {                                           \
      const bt_field bt_log_f_[] = {__VA_ARGS__};                                    \
      bt_log_write((logger), (lvl), (event), bt_log_f_,                              \
                   sizeof bt_log_f_ / sizeof bt_log_f_[0]);                          \
    }                                                                                \
  } while (0)

/* Per-thread bound context. Strings are copied. bind replaces an existing key. */
void bt_log_bind(const bt_field *fields, size_t n);
void bt_log_unbind(const char *key);
void bt_log_clear_context(void);
/* Save/restore the whole context (scoped binds). The snapshot is heap-allocated;
 * restore frees it. */
typedef struct bt_log_ctx bt_log_ctx;
bt_log_ctx *bt_log_save(void);
void bt_log_restore(bt_log_ctx *saved);

/* Render an exception object for the `exception` field:
 * {"type":..., "message":..., "frames":[{"source":..,"line":..,"function":..}...]}
 * from a Lua traceback string (luaL_traceback format). Returns a heap string. */
char *bt_log_exception_json(const char *type, const char *message, const char *traceback);

/* ---- Additions (log module) ---- */

struct bt_err;

/* Back to the start-up state: level from BTRUN_LOG_LEVEL (else info), format from
 * BTRUN_LOG_FORMAT (else auto), no per-logger levels, fd 1, sink open. */
void bt_log_reset(void);
const char *bt_log_level_name(bt_log_level lvl);   /* "debug", "info", "warning", "error", "off" */
int bt_log_format_parse(const char *name, bt_log_format *out); /* "auto" | "json" | "console" */
bt_log_level bt_log_get_level(void);
/* True when some logger may log at lvl (cheap pre-check before resolving a logger). */
bool bt_log_any_enabled(bt_log_level lvl);
/* The sink stopped after EPIPE/EBADF (reader gone); later records are dropped. */
bool bt_log_closed(void);
/* Records dropped because of a write error or out of memory. */
uint64_t bt_log_dropped(void);

/* The calling thread's bound context, in bind order; valid until the next bind,
 * unbind, clear or restore on this thread. */
size_t bt_log_context(const bt_field **fields);
/* Free a snapshot without restoring it. */
void bt_log_ctx_free(bt_log_ctx *saved);

/* Like bt_log_exception_json for a bt_err: type, message, file/line/field when set,
 * and frames parsed from e->traceback ([] when none). Heap string, NULL on OOM. */
char *bt_log_err_json(const struct bt_err *e);

/* A transient status line (a progress bar) under the log on a terminal: drawn in place
 * ("\r", text, clear to end of line), taken away before each record and drawn again after
 * it, so records scroll above it. NULL takes it away and leaves nothing behind. Only
 * when the sink is a terminal in console format (bt_log_status_supported); otherwise a
 * no-op. Thread-safe (the sink's lock). */
bool bt_log_status_supported(void);
void bt_log_status(const char *text);
/* Raw text (Lua's print in console mode) written to the sink under its lock, around the
 * status line like a record. */
void bt_log_print(const char *text, size_t n);
/* The terminal's width in columns (TIOCGWINSZ, else $COLUMNS, else 80). */
int bt_log_columns(void);

/* Key names whose values are secrets (api_key, token, password, ...), matched
 * case-insensitively as substrings. */
bool bt_log_secret_key(const char *key, size_t len);

/* A quoted JSON string (json.h's bt_json_str) with embedded secrets ("Bearer ...",
 * "token=...") replaced by [REDACTED]: for free text. Data that must read back as
 * written (symbols, dates, paths, user-returned values) uses bt_json_str. */
void bt_log_json_str(bt_json_buf *b, const char *s, size_t n);

/* The same redaction on plain text: what a JSON reader gets back from bt_log_json_str's
 * string (secrets as [REDACTED], invalid UTF-8 as U+FFFD), unquoted and unescaped. */
void bt_log_redact_text(bt_json_buf *b, const char *s, size_t n);

#endif
