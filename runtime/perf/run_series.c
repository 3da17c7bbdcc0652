#include "run_series.h"

#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iso8601.h"
#include "decimal.h"
#include "perf_time.h"

static int find_col(const char *hdr, size_t n, const char *name) {
  int col = 0;
  size_t nl = strlen(name);
  for (size_t i = 0; i <= n;) {
    size_t j = i;
    while (j < n && hdr[j] != ',') j++;
    size_t l = j - i;
    if (l && hdr[i + l - 1] == '\r') l--;
    if (l == nl && memcmp(hdr + i, name, nl) == 0) return col;
    col++;
    i = j + 1;
  }
  return -1;
}

typedef struct row {
  const char *f[8];
  size_t n[8];
  bt_dec equity;
  int64_t time;
} row;

static bool split_row(const char *p, size_t len, int tcol, int ecol, int dcol, row *r) {
  int col = 0;
  size_t i = 0;
  while (col < 8) {
    size_t j = i;
    while (j < len && p[j] != ',') j++;
    size_t l = j - i;
    if (l && p[i + l - 1] == '\r') l--;
    r->f[col] = p + i, r->n[col] = l;
    col++;
    if (j >= len) break;
    i = j + 1;
  }
  if (tcol >= col || ecol >= col || dcol >= col) return false;
  return bt_iso8601_parse(r->f[tcol], (long)r->n[tcol], BT_ISO_STRICT, &r->time) &&
         bt_dec_parse(r->f[ecol], (long)r->n[ecol], &r->equity) == (int)r->n[ecol];
}

/* year*12+month of a day number (civil calendar, Howard Hinnant's days_from_civil inverse) */
static int64_t month_of(int64_t day) {
  int64_t z = day + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097, yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  int64_t m = mp < 10 ? mp + 3 : mp - 9, y = yoe + era * 400 + (m <= 2);
  return y * 12 + m - 1;
}


static void put_index(bt_json_buf *b, bt_index_series *s, int64_t day) {
  if (!s->pts) {
    bt_json_printf(b, ",null");
    return;
  }
  while (s->at < s->n && s->pts[s->at].day <= day) s->at++;
  bt_json_putc(b, ',');
  bt_json_dbl(b, s->at ? s->pts[s->at - 1].value : 1.0);
}

static void emit_row(bt_json_buf *b, const row *r, int ecol, int dcol, bt_index_series *bench,
                     bt_index_series *extra, bool *first) {
  bt_json_printf(b, "%s[%lld,%.*s,%.*s", *first ? "" : ",", (long long)r->time, (int)r->n[ecol],
                    r->f[ecol], (int)r->n[dcol], r->f[dcol]);
  put_index(b, bench, bt_run_series_day(r->time));
  put_index(b, extra, bt_run_series_day(r->time));
  bt_json_putc(b, ']');
  *first = false;
}

/* equity.csv -> {"rows":N,"stride":K,"points":[[time,equity,drawdown,bench,extra],...]}:
 * every row (time in epoch seconds, equity and drawdown as numbers, the benchmarks' growth
 * index or null), or beyond BT_RUN_SERIES_CAP rows every K-th row plus the last of each month. */
int bt_run_series_json(const char *path, bt_json_buf *b, bt_index_series *bench, bt_index_series *extra,
                       bt_err *err) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
    if (fd >= 0) close(fd);
    bt_json_printf(b, "{\"rows\":0,\"stride\":1,\"points\":[]}");
    return 0;
  }
  size_t size = (size_t)st.st_size;
  const char *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
  close(fd);
  if (m == MAP_FAILED) return bt_errf(err, BT_EIO, "io_error", "%s: mmap failed", path);
  const char *e = m + size, *hdr_end = memchr(m, '\n', size);
  const char *body = hdr_end ? hdr_end + 1 : e;
  size_t hl = (size_t)((hdr_end ? hdr_end : e) - m);
  int tcol = find_col(m, hl, "time"), ecol = find_col(m, hl, "equity"), dcol = find_col(m, hl, "drawdown");
  if (tcol < 0 || ecol < 0 || dcol < 0 || tcol > 7 || ecol > 7 || dcol > 7) {
    munmap((void *)m, size);
    return bt_errf(err, BT_EINVAL, "csv_error", "%s: header needs time, equity and drawdown", path);
  }
  /* Stride from the first rows' length: one pass over a file that can hold tens of
   * millions of rows; a skewed estimate only changes the row count by that factor. */
  size_t sample = 0;
  uint64_t sampled = 0;
  for (const char *p = body; p < e && sampled < 256; sampled++) {
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    p = nl ? nl + 1 : e;
    sample = (size_t)(p - body);
  }
  uint64_t est = sampled ? (uint64_t)((double)(e - body) / ((double)sample / (double)sampled)) : 0;
  uint64_t stride = est > BT_RUN_SERIES_CAP ? est / BT_RUN_SERIES_CAP + 1 : 1;
  bt_json_printf(b, "{\"stride\":%llu,\"points\":[", (unsigned long long)stride);
  bool first = true, have = false;
  uint64_t k = 0, line = 1;
  row prev, cur;
  for (const char *p = body; p < e; line++) {
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    size_t len = (size_t)((nl ? nl : e) - p);
    if (len) {
      if (!split_row(p, len, tcol, ecol, dcol, &cur)) {
        munmap((void *)m, size);
        return bt_errf_at(err, BT_EINVAL, "csv_error", path, (long)line + 1, "equity", "bad row");
      }
      /* the previous row is kept when it is a stride row or its month's last */
      if (have && ((k - 1) % stride == 0 || month_of(bt_run_series_day(prev.time)) != month_of(bt_run_series_day(cur.time))))
        emit_row(b, &prev, ecol, dcol, bench, extra, &first);
      prev = cur, have = true, k++;
    }
    p = nl ? nl + 1 : e;
  }
  if (have) emit_row(b, &prev, ecol, dcol, bench, extra, &first);
  bt_json_printf(b, "],\"rows\":%llu}", (unsigned long long)k);
  munmap((void *)m, size);
  return 0;
}

