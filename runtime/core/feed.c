/* feed.c - CSV bar reader.
 *
 * The file is read through a window (read(2), 1 MiB) and scanned in place. A row of the
 * usual shape is parsed in one pass (fast_row): prices straight into bt_dec with integer arithmetic, dates
 * through days-from-civil with the last date cached. Any other row is re-read by the
 * general parser (parse_row), which handles every accepted spelling through
 * bt_dec_parse / bt_parse_time and explains what is wrong. Nothing is allocated per row. */
#define _GNU_SOURCE
#include "feed.h"

#include "iso8601.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum role {
  R_IGNORE = 0,
  R_TS,     /* full timestamp in one field */
  R_DATE,   /* date part of a Date + Time pair */
  R_TOD,    /* time of day of a Date + Time pair */
  R_OPEN,
  R_HIGH,
  R_LOW,
  R_CLOSE,
  R_VOLUME,
};

#define WINDOW (1u << 20)      /* the read buffer; grows for a longer line */
#define LINE_MAX_BYTES (64u << 20)
#define MAX_NAME 64
#define MAX_COLS 1024 /* bounds the per-column tables a hostile header could inflate */

struct bt_feed {
  char *path, *symbol;
  uint32_t symbol_index;
  bt_feed_opts opts;
  /* A window on the file, read with read(2): a file truncated under the run is an I/O
   * error naming it (a mapping would kill the process with SIGBUS), and memory stays flat
   * however long the file is. */
  int fd;
  char *data;       /* the window: file bytes [base, base + size) */
  size_t size, cap;
  uint64_t base;    /* file offset of data[0] */
  uint64_t total;   /* the file's size when opened (0: not a regular file) */
  size_t last_nl;   /* data[last_nl] is the window's last '\n' (SIZE_MAX: none) */
  size_t pin;       /* bytes from here on are kept by a refill (0 while the header is read) */
  bool eof;
  size_t pos;       /* start of the next unread line */
  long line;        /* 1-based number of the line last read */
  int ncols;        /* fields per data row */
  uint8_t *role;
  char (*name)[MAX_NAME]; /* column names as written, for error messages */
  int time_col;     /* column whose name is used for ordering errors */
  bool has_prev;
  int64_t prev_time;
  long prev_line;
  uint64_t rows, skipped;
  long first_skipped;
  char date_cache[10]; /* last YYYY-MM-DD seen and its day number */
  int64_t date_cache_days;
  bool date_cache_ok;
  char *date_format, *columns; /* owned copies of the options (NULL when not given) */
  bt_feed_source src;          /* src.next set: bars come from there, not the CSV */
};

/* ---- time ---- */


static inline bool isdig(char c) { return (unsigned)(c - '0') < 10; }

/* Latest accepted instant: 9999-12-31T23:59:59Z. */
#define MAX_EPOCH 253402300799LL
/* Integer times of 12 or more digits (>= 10^11, the year 5138 in seconds) are epoch
 * milliseconds, as exchanges export them: no real bar is dated past 5138, and 10^11 ms is
 * 1973. A millisecond time must be a whole second (bars are whole seconds). */
#define MS_FROM 100000000000LL
#define MAX_EPOCH_MS (MAX_EPOCH * 1000 + 999)

/* An integer time: seconds below MS_FROM, whole milliseconds from it. */
static inline bool epoch_int(int64_t v, int64_t *t) {
  if (v < MS_FROM) {
    *t = v;
    return true;
  }
  if (v > MAX_EPOCH_MS || v % 1000 != 0) return false;
  *t = v / 1000;
  return true;
}

bool bt_parse_time(const char *s, long len, int64_t *epoch_out) {
  if (len < 0) len = (long)strlen(s);
  const char *p = s, *e = s + len;
  while (p < e && (*p == ' ' || *p == '\t')) p++;
  while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
  if (e - p >= 2 && *p == '"' && e[-1] == '"') p++, e--;
  if (p == e) return false;
  /* integer epoch seconds */
  const char *q = p;
  bool neg = false;
  if (*q == '-') neg = true, q++;
  if (q < e && isdig(*q)) {
    const char *r = q;
    int64_t v = 0;
    while (r < e && isdig(*r) && v <= MAX_EPOCH_MS) v = v * 10 + (*r++ - '0');
    if (r == e) {
      if (neg) {
        if (v >= MS_FROM) return false;
        *epoch_out = -v;
        return true;
      }
      return epoch_int(v, epoch_out);
    }
  }
  return bt_iso8601_parse(p, (long)(e - p), BT_ISO_LENIENT, epoch_out);
}

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

/* ---- file access ---- */

static int load_file(bt_feed *f, bt_err *err) {
  f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
  if (f->fd < 0)
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "cannot open data file: %s",
                      strerror(errno));
  struct stat st;
  if (fstat(f->fd, &st) != 0)
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "cannot stat: %s",
                      strerror(errno));
  if (S_ISDIR(st.st_mode))
    return bt_errf_at(err, BT_EIO, "io_error", f->path, 0, NULL, "is a directory, not a data file");
  if (S_ISREG(st.st_mode)) {
    f->total = (uint64_t)st.st_size;
    posix_fadvise(f->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  }
  f->last_nl = SIZE_MAX;
  return 0;
}

/* Make [pos, size) hold a whole line (a newline), unless the file ends first: drops the
 * consumed bytes (those before pos and pin), then reads, growing the window for a line
 * longer than it. A file that ends short of the size it had when opened was truncated
 * under the run: an I/O error naming it. */
static int refill(bt_feed *f, bt_err *err) {
  size_t keep = f->pos < f->pin ? f->pos : f->pin;
  if (keep) {
    memmove(f->data, f->data + keep, f->size - keep);
    f->size -= keep, f->pos -= keep, f->base += keep;
  }
  for (;;) {
    if (f->size == f->cap) {
      size_t ncap = f->cap ? f->cap * 2 : WINDOW;
      if (ncap > LINE_MAX_BYTES)
        return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line + 1, NULL,
                          "line longer than %u bytes", LINE_MAX_BYTES);
      char *nb = realloc(f->data, ncap);
      if (!nb) return bt_errf_at(err, BT_ENOMEM, "out_of_memory", f->path, 0, NULL, "out of memory");
      f->data = nb, f->cap = ncap;
    }
    ssize_t r = read(f->fd, f->data + f->size, f->cap - f->size);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0)
      return bt_errf_at(err, BT_EIO, "io_error", f->path, f->line, NULL, "read failed: %s",
                        strerror(errno));
    if (r == 0) {
      if (f->total && f->base + f->size < f->total) {
        struct stat st;
        long long now = fstat(f->fd, &st) == 0 ? (long long)st.st_size : -1;
        return bt_errf_at(err, BT_EIO, "io_error", f->path, f->line, NULL,
                          "data file truncated while it was read: %llu bytes when the run "
                          "started, %lld now", (unsigned long long)f->total, now);
      }
      f->eof = true;
      break;
    }
    f->size += (size_t)r;
    if (memchr(f->data + f->size - (size_t)r, '\n', (size_t)r)) break;
  }
  const char *nl = f->size > f->pos ? memrchr(f->data + f->pos, '\n', f->size - f->pos) : NULL;
  f->last_nl = nl ? (size_t)(nl - f->data) : SIZE_MAX;
  return 0;
}

/* A whole line at pos, or the end of the file: 0, or an error. */
static inline int need_line(bt_feed *f, bt_err *err) {
  if (f->eof || (f->last_nl != SIZE_MAX && f->pos <= f->last_nl)) return 0;
  return refill(f, err);
}

/* Next line as [*s, *e) without its line end; false at end of data. */
static inline bool next_line(bt_feed *f, const char **s, const char **e) {
  if (f->pos >= f->size) return false; /* callers call need_line first */
  const char *p = f->data + f->pos, *end = f->data + f->size;
  const char *nl = memchr(p, '\n', (size_t)(end - p));
  const char *le = nl ? nl : end;
  f->pos = nl ? (size_t)(nl + 1 - f->data) : f->size;
  if (le > p && le[-1] == '\r') le--;
  f->line++;
  *s = p, *e = le;
  return true;
}

static bool is_blank(const char *s, const char *e) {
  for (; s < e; s++)
    if (*s != ' ' && *s != '\t' && *s != '\r') return false;
  return true;
}

static int count_fields(const char *s, const char *e) {
  int n = 1;
  while ((s = memchr(s, ',', (size_t)(e - s))) != NULL) n++, s++;
  return n;
}

static void trim(const char **s, const char **e) {
  while (*s < *e && isspace((unsigned char)**s)) (*s)++;
  while (*e > *s && isspace((unsigned char)(*e)[-1])) (*e)--;
  if (*e - *s >= 2 && **s == '"' && (*e)[-1] == '"') (*s)++, (*e)--;
}

/* ---- header ---- */

static int role_of(const char *name) {
  static const struct {
    const char *name;
    int role;
  } known[] = {{"open", R_OPEN}, {"high", R_HIGH}, {"low", R_LOW}, {"close", R_CLOSE},
               {"volume", R_VOLUME}};
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcasecmp(name, known[i].name) == 0) return known[i].role;
  return R_IGNORE;
}

/* opts.columns: "role=name,..." */
enum { MAP_TIME = R_VOLUME + 1, MAP_DATE, MAP_N };
typedef struct col_map {
  char name[MAP_N][MAX_NAME]; /* "" = role not mapped */
  bool used[MAP_N];
} col_map;

static int parse_columns(const bt_feed *f, col_map *m, bt_err *err) {
  static const struct {
    const char *role;
    int idx;
  } roles[] = {{"time", MAP_TIME}, {"date", MAP_DATE}, {"open", R_OPEN}, {"high", R_HIGH},
               {"low", R_LOW},     {"close", R_CLOSE}, {"volume", R_VOLUME}};
  memset(m, 0, sizeof *m);
  const char *p = f->columns;
  while (p && *p) {
    const char *end = strchr(p, ',');
    if (!end) end = p + strlen(p);
    const char *eq = memchr(p, '=', (size_t)(end - p));
    size_t rlen = eq ? (size_t)(eq - p) : 0;
    int idx = -1;
    for (size_t i = 0; eq && i < sizeof roles / sizeof roles[0]; i++)
      if (strlen(roles[i].role) == rlen && strncasecmp(p, roles[i].role, rlen) == 0)
        idx = roles[i].idx;
    if (idx < 0 || end - eq - 1 <= 0 || end - eq - 1 >= MAX_NAME)
      return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, 0, "columns",
                        "bad column mapping '%.*s': expected ROLE=NAME with ROLE one of "
                        "time, date, open, high, low, close, volume", (int)(end - p), p);
    snprintf(m->name[idx], MAX_NAME, "%.*s", (int)(end - eq - 1), eq + 1);
    p = *end ? end + 1 : end;
  }
  return 0;
}

/* The mapped role of column name nm, or -1. */
static int mapped_role(col_map *m, const char *nm) {
  for (int i = R_OPEN; i < MAP_N; i++)
    if (m->name[i][0] && !m->used[i] && strcasecmp(m->name[i], nm) == 0) {
      m->used[i] = true;
      return i;
    }
  return -1;
}

/* A header line that is really a data row: several fields and no letter in any of them
 * but those numbers and ISO times use (1e5, 2020-01-02T00:00:00Z). */
static bool looks_like_data(const char *s, const char *e) {
  if (!memchr(s, ',', (size_t)(e - s))) return false;
  for (const char *p = s; p < e; p++)
    if (isalpha((unsigned char)*p) && !strchr("eETZ", *p)) return false;
  return true;
}

static int read_header(bt_feed *f, bt_err *err) {
  col_map map;
  if (parse_columns(f, &map, err)) return err->code;
  const char *s, *e;
  /* A UTF-8 byte-order mark is not part of the first column's name. */
  if (need_line(f, err)) return err->code;
  if (f->size >= 3 && memcmp(f->data, "\xEF\xBB\xBF", 3) == 0) f->pos = 3;
  do {
    if (need_line(f, err)) return err->code;
    if (!next_line(f, &s, &e)) return 0; /* empty file: no bars */
  } while (is_blank(s, e));
  long hline = f->line;
  /* s and e move on when the first data row is peeked at, and a refill may move the
   * window (nothing is dropped while the header is read: f->pin is 0) */
  size_t hs_off = (size_t)(s - f->data), he_off = (size_t)(e - f->data);
  int nh = count_fields(s, e);
  if (nh > MAX_COLS)
    return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, hline, NULL,
                      "header has %d columns, more than the %d supported", nh, MAX_COLS);
  /* One spare column for backtrader's minute files, whose rows carry a Time field the
   * header does not name. */
  f->role = calloc((size_t)nh + 1, 1);
  f->name = calloc((size_t)nh + 1, sizeof *f->name);
  if (!f->role || !f->name)
    return bt_errf_at(err, BT_ENOMEM, "out_of_memory", f->path, hline, NULL, "out of memory");
  int col_date = -1, col_time = -1, col_dt = -1, col_ts = -1;
  int seen[R_VOLUME + 1];
  for (int i = 0; i <= R_VOLUME; i++) seen[i] = -1;
  const char *p = s;
  for (int i = 0; i < nh; i++) {
    const char *fe = memchr(p, ',', (size_t)(e - p));
    if (!fe) fe = e;
    const char *a = p, *b = fe;
    trim(&a, &b);
    size_t n = (size_t)(b - a);
    if (n >= MAX_NAME) n = MAX_NAME - 1;
    memcpy(f->name[i], a, n);
    f->name[i][n] = '\0';
    const char *nm = f->name[i];
    int mr = mapped_role(&map, nm);
    int r;
    if (mr == MAP_TIME) {
      col_dt = i;
      r = R_IGNORE;
    } else if (mr == MAP_DATE) {
      col_date = i;
      r = R_IGNORE;
    } else if (mr >= 0) {
      r = mr;
    } else {
      /* the header's own names, for every role the mapping leaves alone */
      bool time_mapped = map.name[MAP_TIME][0] || map.name[MAP_DATE][0];
      if (time_mapped) {
      } else if (strcasecmp(nm, "date") == 0 && col_date < 0) col_date = i;
      else if (strcasecmp(nm, "time") == 0 && col_time < 0) col_time = i;
      else if (strcasecmp(nm, "datetime") == 0 && col_dt < 0) col_dt = i;
      else if ((strcasecmp(nm, "timestamp") == 0 || strcasecmp(nm, "open_time") == 0) &&
               col_ts < 0) col_ts = i;
      r = role_of(nm);
      if (r != R_IGNORE && map.name[r][0]) r = R_IGNORE;
    }
    if (r != R_IGNORE) {
      if (seen[r] >= 0)
        return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, hline, nm,
                          "column appears twice (columns %d and %d)", seen[r] + 1, i + 1);
      seen[r] = i;
      f->role[i] = (uint8_t)r;
    }
    p = fe + 1;
  }
  f->ncols = nh;
  for (int i = R_OPEN; i < MAP_N; i++)
    if (map.name[i][0] && !map.used[i])
      return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, hline, map.name[i],
                        "column mapping names a column the header does not have");

  /* Peek at the first data row: one field more than the header names, with Date first
   * and no Time column, is backtrader's Date,Time,... minute layout. */
  if (col_date == 0 && col_time < 0 && col_dt < 0 && col_ts < 0) {
    size_t save_pos = f->pos;
    long save_line = f->line;
    while (need_line(f, err) == 0 && next_line(f, &s, &e)) {
      if (is_blank(s, e)) continue;
      if (count_fields(s, e) == nh + 1) {
        memmove(f->role + 2, f->role + 1, (size_t)(nh - 1));
        memmove(f->name + 2, f->name + 1, (size_t)(nh - 1) * sizeof *f->name);
        f->role[1] = R_IGNORE;
        snprintf(f->name[1], MAX_NAME, "Time");
        col_time = 1;
        f->ncols = nh + 1;
      }
      break;
    }
    f->pos = save_pos;
    f->line = save_line;
  }

  /* Which column(s) carry the time: a full Datetime/Timestamp wins, then Date with an
   * optional Time of day, then a lone Time. */
  if (col_dt >= 0 || col_ts >= 0) {
    f->time_col = col_dt >= 0 ? col_dt : col_ts;
    f->role[f->time_col] = R_TS;
  } else if (col_date >= 0 && col_time >= 0) {
    f->role[col_date] = R_DATE;
    f->role[col_time] = R_TOD;
    f->time_col = col_date;
  } else if (col_date >= 0 || col_time >= 0) {
    f->time_col = col_date >= 0 ? col_date : col_time;
    f->role[f->time_col] = R_TS;
  } else {
    bool other_sep =
        nh == 1 && (memchr(f->data + hs_off, ';', he_off - hs_off) ||
                    memchr(f->data + hs_off, '\t', he_off - hs_off));
    return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, hline, "Date",
                      "missing required column (need Date, Datetime, Time or Timestamp; "
                      "header has %d column%s)%s", nh, nh == 1 ? "" : "s",
                      other_sep ? "; fields must be separated by commas"
                      : looks_like_data(f->data + hs_off, f->data + he_off)
                          ? "; the first line looks like data, not a header: add a header "
                            "line such as Date,Open,High,Low,Close,Volume"
                          : "; name the columns with --columns time=NAME,... if they differ");
  }
  static const struct {
    int role;
    const char *name;
  } required[] = {{R_OPEN, "Open"}, {R_HIGH, "High"}, {R_LOW, "Low"}, {R_CLOSE, "Close"}};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (seen[required[i].role] < 0)
      return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, hline, required[i].name,
                        "missing required column (name it with --columns %s=NAME if the "
                        "file calls it otherwise)", required[i].name);
  return 0;
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
  int rc = load_file(f, err);
  if (rc == 0) rc = read_header(f, err);
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

static const int64_t pow10_tab[9] = {100000000, 10000000, 1000000, 100000, 10000,
                                     1000,      100,      10,      1};

/* A plain price at *pp: optional '-', up to 10 integer digits, '.', up to 8 decimals,
 * at least one digit. Converted with integer arithmetic only; advances *pp past it.
 * False when the text there is not of that shape (it may still be a valid number). */
static inline bool plain_price(const char **pp, const char *end, int64_t *out) {
  const char *p = *pp;
  bool neg = p < end && *p == '-';
  p += neg;
  const char *is = p;
  uint64_t ip = 0, fp = 0;
  while (p < end && isdig(*p)) ip = ip * 10 + (uint64_t)(*p++ - '0');
  long ni = p - is, nf = 0;
  if (p < end && *p == '.') {
    const char *fs = ++p;
    while (p < end && isdig(*p)) fp = fp * 10 + (uint64_t)(*p++ - '0');
    nf = p - fs;
  }
  if (ni > 10 || nf > 8 || ni + nf == 0) return false;
  int64_t v = (int64_t)(ip * (uint64_t)BT_DEC_SCALE + fp * (uint64_t)pow10_tab[nf]);
  *out = neg ? -v : v;
  *pp = p;
  return true;
}

/* Exact price field [p, e). Anything beyond the plain shape (spaces, quotes, '+',
 * exponents, trailing zeros past 8 decimals) goes through bt_dec_parse. Returns NULL or
 * a reason. */
static inline const char *parse_price(const char *p, const char *e, bt_dec *out) {
  const char *q = p;
  if (plain_price(&q, e, &out->v) && q == e) return NULL;
  const char *a = p, *b = e;
  trim(&a, &b);
  if (a == b) return "empty field";
  int n = bt_dec_parse(a, b - a, out);
  if (n < 0) return "number out of range or with more than 8 decimals";
  if (n != b - a) return "not a number";
  return NULL;
}

static inline const char *parse_volume(const char *p, const char *e, double *out) {
  /* whole numbers (the usual case) without strtod */
  if (e - p > 0 && e - p <= 15) {
    uint64_t v = 0;
    const char *q = p;
    while (q < e && isdig(*q)) v = v * 10 + (uint64_t)(*q++ - '0');
    if (q == e) {
      *out = (double)v;
      return NULL;
    }
  }
  const char *a = p, *b = e;
  trim(&a, &b);
  if (a == b) return "empty field";
  char buf[64];
  if (b - a >= (long)sizeof buf) return "not a number";
  memcpy(buf, a, (size_t)(b - a));
  buf[b - a] = '\0';
  /* strtod would also take hex, "inf" and "nan": only decimal spellings get through */
  if (strspn(buf, "0123456789.-+eE") < (size_t)(b - a)) return "not a number";
  char *end;
  double v = strtod(buf, &end);
  if (*end != '\0') return "not a number";
  if (!isfinite(v)) return "number out of range";
  *out = v;
  return NULL;
}

static inline bool date_cached(bt_feed *f, const char *p, int64_t *days) {
  if (f->date_cache_ok && memcmp(p, f->date_cache, 10) == 0) {
    *days = f->date_cache_days;
    return true;
  }
  if (!bt_iso8601_date(p, days)) return false;
  memcpy(f->date_cache, p, 10);
  f->date_cache_days = *days;
  f->date_cache_ok = true;
  return true;
}

/* Full timestamp field; the common "YYYY-MM-DD" and "YYYY-MM-DD HH:MM:SS" use the
 * date cache. */
static bool parse_with_format(const char *fmt, const char *p, const char *e, int64_t *t) {
  char buf[128];
  trim(&p, &e);
  if (e - p <= 0 || e - p >= (long)sizeof buf) return false;
  memcpy(buf, p, (size_t)(e - p));
  buf[e - p] = '\0';
  struct tm tm = {0};
  const char *rest = strptime(buf, fmt, &tm);
  if (!rest || *rest) return false;
  *t = timegm(&tm);
  return true;
}

static inline bool parse_ts_field(bt_feed *f, const char *p, const char *e, int64_t *t) {
  if (f->opts.date_format) return parse_with_format(f->opts.date_format, p, e, t);
  long n = e - p;
  int64_t days;
  if (n == 10 && date_cached(f, p, &days)) {
    *t = days * 86400;
    return true;
  }
  int secs;
  if (n == 19 && (p[10] == ' ' || p[10] == 'T') && date_cached(f, p, &days) &&
      bt_iso8601_tod(p + 11, e, &secs) == 8) {
    *t = days * 86400 + secs;
    return true;
  }
  return bt_parse_time(p, n, t);
}

static int count_error(bt_feed *f, int nf, bt_err *err) {
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, NULL,
                    "wrong number of fields: expected %d, got %d", f->ncols, nf);
}

/* Field `col` of the row [s, e) is bad. The field count is reported instead when it is
 * wrong, since a missing field shifts every later one and makes the field misleading. */
static int field_error(bt_feed *f, const char *s, const char *e, int col, const char *why,
                       bt_err *err) {
  int nf = count_fields(s, e);
  if (nf != f->ncols) return count_error(f, nf, err);
  const char *fs = s;
  for (int i = 0; i < col; i++) fs = (const char *)memchr(fs, ',', (size_t)(e - fs)) + 1;
  const char *fe = memchr(fs, ',', (size_t)(e - fs));
  if (!fe) fe = e;
  int len = fe - fs > 40 ? 40 : (int)(fe - fs);
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, f->name[col], "%s: '%.*s'",
                    why, len, fs);
}

static int ohlc_error(bt_feed *f, int role, const char *what, bt_dec a, bt_dec b, bt_err *err) {
  int col = 0;
  while (col < f->ncols && f->role[col] != role) col++;
  char sa[BT_DEC_STRLEN], sb[BT_DEC_STRLEN];
  bt_dec_format(a, sa);
  bt_dec_format(b, sb);
  return bt_errf_at(err, BT_EINVAL, "csv_error", f->path, f->line, f->name[col], "%s (%s vs %s)",
                    what, sa, sb);
}

static int check_ohlc(bt_feed *f, const bt_bar *bar, bt_err *err) {
  if (bar->high.v < bar->low.v)
    return ohlc_error(f, R_HIGH, "high below low", bar->high, bar->low, err);
  if (bar->open.v < bar->low.v || bar->open.v > bar->high.v)
    return ohlc_error(f, R_OPEN, "open outside [low, high]", bar->open,
                      bar->open.v < bar->low.v ? bar->low : bar->high, err);
  if (bar->close.v < bar->low.v || bar->close.v > bar->high.v)
    return ohlc_error(f, R_CLOSE, "close outside [low, high]", bar->close,
                      bar->close.v < bar->low.v ? bar->low : bar->high, err);
  return 0;
}

/* Parse one data row into *bar: 0 ok, <0 malformed (err filled). */
static int parse_row(bt_feed *f, const char *s, const char *e, bt_bar *bar, bt_err *err) {
  const char *p = s;
  int64_t days = 0, t = 0;
  int tod = 0;
  bar->volume = 0;
  int col = 0;
  for (;; col++) {
    const char *fe = memchr(p, ',', (size_t)(e - p));
    if (!fe) fe = e;
    if (col >= f->ncols) return count_error(f, count_fields(s, e), err);
    const char *why = NULL;
    switch (f->role[col]) {
      case R_IGNORE: break;
      case R_TS:
        if (!parse_ts_field(f, p, fe, &t))
          why = f->opts.date_format ? "does not match --date-format"
                : memchr(p, '/', (size_t)(fe - p))
                    ? "not a date/time (for dates like 01/02/2020 give the form with "
                      "--date-format %m/%d/%Y or %d/%m/%Y)"
                    : "not a date/time";
        break;
      case R_DATE: {
        const char *a = p, *b = fe;
        if (b - a != 10) trim(&a, &b);
        if (b - a != 10 || !date_cached(f, a, &days)) why = "not a date (YYYY-MM-DD)";
        break;
      }
      case R_TOD: {
        const char *a = p, *b = fe;
        trim(&a, &b);
        if (bt_iso8601_tod(a, b, &tod) != b - a || a == b) why = "not a time of day (HH:MM:SS)";
        break;
      }
      case R_OPEN: why = parse_price(p, fe, &bar->open); break;
      case R_HIGH: why = parse_price(p, fe, &bar->high); break;
      case R_LOW: why = parse_price(p, fe, &bar->low); break;
      case R_CLOSE: why = parse_price(p, fe, &bar->close); break;
      case R_VOLUME:
        why = parse_volume(p, fe, &bar->volume);
        if (!why && bar->volume < 0) why = "negative volume";
        break;
    }
    if (why) return field_error(f, s, e, col, why, err);
    if (fe == e) break;
    p = fe + 1;
  }
  if (col + 1 != f->ncols) return count_error(f, col + 1, err);
  if (f->role[f->time_col] == R_DATE) t = days * 86400 + tod;
  bar->time = t;
  return check_ohlc(f, bar, err);
}

/* Field terminator expected after column `col`: ',' inside the row; a line end or the
 * end of the data after the last column. */
static inline bool at_field_end(const bt_feed *f, int col, const char *p, const char *end) {
  if (col + 1 < f->ncols) return p < end && *p == ',';
  return p == end || *p == '\n' || (*p == '\r' && (p + 1 == end || p[1] == '\n'));
}

/* The common row shape parsed in one pass, without looking for the line end or the
 * field ends first: plain prices, whole volumes, "YYYY-MM-DD[ HH:MM:SS]" times.
 * Returns the start of the next line, or NULL when anything in the row is not of that
 * shape; parse_row then reads it again and accepts or explains it. Every value this
 * path accepts, parse_row would read the same. */
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
      rc = parse_row(f, s, e, bar, perr);
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

void bt_feed_close(bt_feed *f) {
  if (!f) return;
  if (f->src.close) f->src.close(f->src.ud);
  if (f->fd >= 0) close(f->fd);
  free(f->data);
  free(f->role);
  free(f->name);
  free(f->path);
  free(f->symbol);
  free(f->date_format);
  free(f->columns);
  free(f);
}
