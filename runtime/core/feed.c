/* feed.c - CSV bar reader.
 *
 * The file is read through a window (feed_window.c) and scanned in place. A row of the
 * usual shape is parsed in one pass (fast_row): prices straight into bt_dec with integer
 * arithmetic, dates through days-from-civil with the last date cached. Any other row is
 * re-read by the general parser (feed_row.c), which handles every accepted spelling
 * through bt_dec_parse / bt_parse_time and explains what is wrong. The header is read by
 * feed_header.c. Nothing is allocated per row. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "feed_internal.h"

/* ---- symbols ---- */

void bt_feed_symbol_from_arg(const char *arg, char *buf, size_t buflen, const char **path_out) {
  if (buflen == 0) return;
  const char *eq = strchr(arg, '=');
  /* "SYM=path": only when the part before '=' looks like a name, not a directory. */
  if (eq && eq > arg && !memchr(arg, '/', (size_t)(eq - arg))) {
    size_t n = (size_t)(eq - arg);
    if (n >= buflen) n = buflen - 1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
    *path_out = eq + 1;
    return;
  }
  *path_out = arg;
  const char *base = strrchr(arg, '/');
  base = base ? base + 1 : arg;
  size_t n = strcspn(base, "-_.");
  if (n == 0) n = strlen(base); /* ".hidden" or "-x": use the whole name */
  if (n >= buflen) n = buflen - 1;
  for (size_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)base[i]);
  buf[n] = '\0';
}

int bt_feed_open(bt_feed **out, const char *path, const char *symbol, uint32_t symbol_index,
                 const bt_feed_opts *opts, bt_err *err) {
  *out = NULL;
  bt_feed *f = calloc(1, sizeof *f);
  if (!f) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  f->fd = -1;
  f->path = strdup(path);
  f->symbol = strdup(symbol ? symbol : "");
  if (!f->path || !f->symbol) {
    bt_feed_close(f);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  f->symbol_index = symbol_index;
  bool rc_oom = false;
  if (opts) {
    f->opts = *opts;
    if (opts->date_format && *opts->date_format && !(f->date_format = strdup(opts->date_format)))
      rc_oom = true;
    if (opts->columns && *opts->columns && !(f->columns = strdup(opts->columns))) rc_oom = true;
  }
  f->opts.date_format = f->date_format;
  f->opts.columns = f->columns;
  if (rc_oom) {
    bt_feed_close(f);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  int rc = feed_load_file(f, err);
  if (rc == 0) rc = feed_read_header(f, err);
  if (rc != 0) {
    bt_feed_close(f);
    return rc;
  }
  f->pin = SIZE_MAX; /* from now on a refill drops what was read */
  *out = f;
  return 0;
}

int bt_feed_open_source(bt_feed **out, const char *path, const char *symbol,
                        uint32_t symbol_index, const bt_feed_source *src, bt_err *err) {
  *out = NULL;
  bt_feed *f = calloc(1, sizeof *f);
  if (f) f->path = strdup(path), f->symbol = strdup(symbol ? symbol : "");
  if (!f || !f->path || !f->symbol) {
    if (src->close) src->close(src->ud);
    if (f) bt_feed_close(f);
    return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  }
  f->fd = -1;
  f->symbol_index = symbol_index;
  f->src = *src;
  f->skipped = src->skipped;
  f->first_skipped = src->first_skipped;
  *out = f;
  return 0;
}

/* ---- rows ---- */

/* Field terminator expected after column `col`: ',' inside the row; a line end or the
 * end of the data after the last column. */
static inline bool at_field_end(const bt_feed *f, int col, const char *p, const char *end) {
  if (col + 1 < f->ncols) return p < end && *p == ',';
  return p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

/* The common row shape parsed in one pass, without looking for the line end or the
 * field ends first: plain prices, whole volumes, "YYYY-MM-DD[ HH:MM:SS]" times.
 * Returns the start of the next line, or NULL when anything in the row is not of that
 * shape; feed_parse_row then reads it again and accepts or explains it. Every value this
 * path accepts, feed_parse_row would read the same. */
static inline const char *fast_row(bt_feed *f, const char *p, const char *end, bt_bar *bar) {
  int64_t days = 0, t = 0;
  int tod = 0;
  bar->volume = 0;
  for (int col = 0; col < f->ncols; col++) {
    switch (f->role[col]) {
      case R_IGNORE:
        while (p < end && *p != ',' && *p != '\n' && *p != '\r' && *p != '"') p++;
        break;
      case R_TS: {
        /* epoch seconds, or "YYYY-MM-DD", "YYYY-MM-DD HH:MM:SS", "YYYY-MM-DDTHH:MM:SS[Z]" */
        if (f->opts.date_format) return NULL;
        if (end - p < 11 || p[4] != '-') {
          const char *s = p;
          int64_t v = 0;
          while (p < end && isdig(*p) && p - s < 16) v = v * 10 + (*p++ - '0');
          if (p == s || p - s == 16 || !epoch_int(v, &t)) return NULL;
          break;
        }
        if (!date_cached(f, p, &days)) return NULL;
        t = days * 86400;
        p += 10;
        if (*p == ' ' || *p == 'T') {
          if (end - p < 10 || bt_iso8601_tod(p + 1, p + 9, &tod) != 8) return NULL;
          t += tod;
          p += 9;
          if (*p == 'Z') p++;
        }
        break;
      }
      case R_DATE:
        if (end - p < 11 || !date_cached(f, p, &days)) return NULL;
        p += 10;
        break;
      case R_TOD:
        if (end - p < 9 || bt_iso8601_tod(p, p + 8, &tod) != 8) return NULL;
        p += 8;
        break;
      case R_VOLUME: {
        const char *s = p;
        uint64_t v = 0;
        while (p < end && isdig(*p)) v = v * 10 + (uint64_t)(*p++ - '0');
        if (p == s || p - s > 15) return NULL;
        bar->volume = (double)v;
        break;
      }
      default: { /* prices */
        bt_dec *dst = f->role[col] == R_OPEN   ? &bar->open
                      : f->role[col] == R_HIGH ? &bar->high
                      : f->role[col] == R_LOW  ? &bar->low
                                               : &bar->close;
        if (!plain_price(&p, end, &dst->v)) return NULL;
        break;
      }
    }
    if (!at_field_end(f, col, p, end)) return NULL;
    p++;
  }
  if (f->role[f->time_col] == R_DATE) t = days * 86400 + tod;
  bar->time = t;
  /* p is one past the terminator: past '\n', or one past '\r' of "\r\n" */
  if (p <= end && p[-1] == '\r') p++;
  return p < end ? p : end;
}

double bt_feed_progress(const bt_feed *f) {
  if (f->src.next) return f->src.progress(f->src.ud);
  if (!f->total) return f->eof && f->pos >= f->size ? 1.0 : 0.0;
  return (double)(f->base + f->pos) / (double)f->total;
}

int bt_feed_next(bt_feed *f, bt_bar *bar, bt_err *err) {
  if (f->src.next) {
    int rc = f->src.next(f->src.ud, bar, err);
    if (rc == 1) bar->symbol = f->symbol_index, f->rows++;
    return rc;
  }
  if (!f->role) return 0; /* empty file */
  for (;;) {
    if (need_line(f, err)) return err->code;
    if (f->pos >= f->size) break;
    /* When bad rows are skipped their message goes to a scratch error: only counted. */
    bt_err scratch;
    bt_err *perr = f->opts.skip_bad_rows ? &scratch : err;
    const char *s = f->data + f->pos, *e = s;
    const char *next = fast_row(f, s, f->data + f->size, bar);
    int rc;
    if (next) {
      f->line++;
      f->pos = (size_t)(next - f->data);
      rc = check_ohlc(f, bar, perr);
    } else {
      next_line(f, &s, &e);
      if (is_blank(s, e)) continue;
      rc = feed_parse_row(f, s, e, bar, perr);
    }
    if (rc < 0) {
      if (!f->opts.skip_bad_rows) return rc;
      if (!f->skipped) f->first_skipped = f->line;
      f->skipped++;
      continue;
    }
    if (f->has_prev && bar->time <= f->prev_time) {
      char a[32], b[32];
      bt_format_time(bar->time, a);
      bt_format_time(f->prev_time, b);
      const char *hint = bar->time == f->prev_time ? ""
                         : f->rows == 1 ? "; the file looks sorted newest first: sort its rows "
                                          "oldest first"
                                        : "; rows must be in ascending time order: sort the file";
      return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, f->name[f->time_col],
                        "time not after previous row (line %ld): %s %s %s%s", f->prev_line, a,
                        bar->time == f->prev_time ? "duplicates" : "is before", b, hint);
    }
    f->has_prev = true;
    f->prev_time = bar->time;
    f->prev_line = f->line;
    bar->symbol = f->symbol_index;
    f->rows++;
    return 1;
  }
  return 0;
}

const char *bt_feed_symbol(const bt_feed *f) { return f->symbol; }
const char *bt_feed_path(const bt_feed *f) { return f->path; }
uint64_t bt_feed_rows(const bt_feed *f) { return f->rows; }
uint64_t bt_feed_skipped(const bt_feed *f) { return f->skipped; }
long bt_feed_first_skipped_line(const bt_feed *f) { return f->first_skipped; }

void bt_feed_release(bt_feed *f) {
  if (!f) return;
  if (f->src.close) f->src.close(f->src.ud);
  f->src = (bt_feed_source){0}; /* f->skipped kept its counts at open */
  if (f->fd >= 0) close(f->fd);
  f->fd = -1;
  free(f->data);
  f->data = NULL;
  f->size = f->cap = f->pos = 0;
  f->total = 0;
  f->last_nl = SIZE_MAX;
  f->eof = true;
}

void bt_feed_close(bt_feed *f) {
  if (!f) return;
  bt_feed_release(f);
  free(f->role);
  free(f->name);
  free(f->path);
  free(f->symbol);
  free(f->date_format);
  free(f->columns);
  free(f);
}
