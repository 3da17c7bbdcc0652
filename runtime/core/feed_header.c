/* feed_header.c - a feed's header line: which column holds which role (by name, or by
 * the --columns mapping), backtrader's Date,Time,... layout, and what is missing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "feed_internal.h"

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

int feed_read_header(bt_feed *f, bt_err *err) {
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
