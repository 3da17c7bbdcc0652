#define _GNU_SOURCE /* memmem */
#include "perf_alerts.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "log.h"
#include "perf_files.h"
#include "perf_hash.h"
#include "perf_time.h"

/* ---- alerts file ----------------------------------------------------------------- */

/* Read the alerts file; *dirfd is its directory, locked until closed. */
static int read_alerts(const char *path, char **text, size_t *len, int *dirfd, char *name,
                       bt_err *err) {
  char dir[1024];
  *text = NULL, *len = 0, *dirfd = -1;
  int rc = bt_perf_path_split(path, dir, sizeof dir, name, 256, err);
  if (rc) return rc;
  int fd = bt_perf_dir_open(dir, err);
  if (fd < 0) return fd;
  /* Raising appends and ack replaces the file: both hold the directory lock (released
   * by close) so an ack never drops a record appended meanwhile by a watch. */
  if (flock(fd, LOCK_EX) != 0) {
    close(fd);
    return bt_errf(err, BT_EIO, "io_error", "%s: lock: %s", dir, strerror(errno));
  }
  rc = bt_perf_read(fd, name, text, len, err);
  if (rc < 0) {
    close(fd);
    return rc;
  }
  *dirfd = fd;
  return 0;
}

/* Rolling targets judge the last N trades up to their newest exit, whatever summary
 * window asked: the daily, weekly and monthly views of one breach are one alert per
 * (log, metric, N, rolling window end). Targets on the window itself are per window. */
static void alert_id(const char *source, const bt_perf_summary *s, const bt_perf_check *c,
                     char out[40]) {
  char a[16], e[16], n[16];
  uint64_t h = bt_perf_fnv(BT_PERF_FNV_BASIS, source, strlen(source) + 1);
  if (c->window_trades && c->has_rolling_range) {
    bt_perf_day_format(c->rolling_end, e);
    snprintf(n, sizeof n, "%u", c->window_trades);
    const char *parts[] = {"rolling", c->type, c->name, n, e};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = bt_perf_fnv(h, parts[i], strlen(parts[i]) + 1);
  } else {
    bt_perf_day_format(s->start, a);
    bt_perf_day_format(s->end, e);
    const char *parts[] = {bt_perf_window_name(s->window), a, e, c->type, c->name, c->actual, c->target};
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) h = bt_perf_fnv(h, parts[i], strlen(parts[i]) + 1);
  }
  snprintf(out, 40, "pa-%016" PRIx64, h);
}

static bool text_has_id(const char *text, const char *id) {
  char needle[64];
  snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
  return text && strstr(text, needle) != NULL;
}

int bt_perf_alerts_raise(const char *path, const char *source, bt_perf_summary *s,
                         int64_t now_ms, int *raised, bt_err *err) {
  *raised = 0;
  bool any = false;
  for (size_t i = 0; i < s->nchecks; i++) any |= s->checks[i].status == BT_PERF_CHECK_BREACH;
  if (!any) return 0;
  char *text, name[256];
  size_t len;
  int dirfd;
  int rc = read_alerts(path, &text, &len, &dirfd, name, err);
  if (rc) return rc;
  bt_json_buf b = {0};
  char now[32], a[16], e[16];
  bt_format_time(now_ms / 1000, now);
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, e);
  for (size_t i = 0; i < s->nchecks; i++) {
    bt_perf_check *c = &s->checks[i];
    if (c->status != BT_PERF_CHECK_BREACH) continue;
    alert_id(source, s, c, c->alert_id);
    if (text_has_id(text, c->alert_id)) continue;
    bt_json_printf(&b, "{\"event\":\"performance.alert\",\"id\":\"%s\",\"type\":", c->alert_id);
    bt_json_str(&b, c->type, strlen(c->type));
    bt_json_printf(&b, ",\"window\":\"%s\",\"period_start\":\"%s\",\"period_end\":\"%s\",\"metric\":",
                       bt_perf_window_name(s->window), a, e);
    bt_json_str(&b, c->name, strlen(c->name));
    bt_json_printf(&b, ",\"actual\":%s,\"target\":%s,\"op\":\"%s\",\"window_trades\":%u,",
                       c->actual[0] ? c->actual : "null", c->target[0] ? c->target : "null", c->op,
                       c->window_trades);
    if (c->has_rolling_range) {
      char ra[16], re[16];
      bt_perf_day_format(c->rolling_start, ra);
      bt_perf_day_format(c->rolling_end, re);
      bt_json_printf(&b, "\"rolling_start\":\"%s\",\"rolling_end\":\"%s\",", ra, re);
    } else {
      bt_json_printf(&b, "\"rolling_start\":null,\"rolling_end\":null,");
    }
    bt_json_printf(&b, "\"source\":");
    bt_json_str(&b, source, strlen(source));
    bt_json_printf(&b, ",\"severity\":");
    bt_json_str(&b, c->severity, strlen(c->severity));
    bt_json_printf(&b, ",\"note\":");
    bt_json_str(&b, c->note, strlen(c->note));
    bt_json_printf(&b, ",\"raised_at\":\"%s\",\"acknowledged_at\":null}\n", now);
    bt_log("perf", BT_LOG_WARNING, c->type, BT_F_STR("alert_id", c->alert_id),
           BT_F_STR("window", bt_perf_window_name(s->window)), BT_F_STR("period_start", a),
           BT_F_STR("metric", c->name), BT_F_STR("source", source), BT_F_JSON("actual", c->actual[0] ? c->actual : "null"),
           BT_F_JSON("target", c->target[0] ? c->target : "null"), BT_F_STR("severity", c->severity));
    (*raised)++;
  }
  free(text);
  size_t n;
  char *add = bt_json_take(&b, &n);
  if (!add) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (!rc && n) {
    int fd = openat(dirfd, name, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    struct stat st;
    if (fd < 0) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: %s", path, strerror(errno));
    } else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink > 1) {
      /* a hard link planted as the alerts file would make us append to a file elsewhere */
      rc = bt_errf(err, BT_EINVAL, "path_error",
                   "%s: refusing to append to a file with other hard links or not regular", path);
      close(fd);
    } else {
      /* one write per batch: appenders never interleave inside a record */
      if (write(fd, add, n) != (ssize_t)n || fsync(fd) != 0)
        rc = bt_errf(err, BT_EIO, "io_error", "%s: append failed: %s", path, strerror(errno));
      close(fd);
    }
  }
  free(add);
  close(dirfd);
  return rc;
}

static void copy_str(const cJSON *o, const char *key, char *out, size_t n) {
  const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
  snprintf(out, n, "%s", v ? v : "");
}

/* A JSON value as it was written (numbers, quoted money strings, null). */
static void copy_json(const cJSON *o, const char *key, char *out, size_t n) {
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
  char *t = v ? cJSON_PrintUnformatted(v) : NULL;
  snprintf(out, n, "%s", t ? t : "null");
  free(t);
}

static bool parse_alert(const char *line, size_t n, bt_perf_alert *a) {
  cJSON *o = cJSON_ParseWithLength(line, n);
  const char *ev = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "event"));
  bool ok = ev && strcmp(ev, "performance.alert") == 0;
  if (ok) {
    memset(a, 0, sizeof *a);
    copy_str(o, "id", a->id, sizeof a->id);
    copy_str(o, "type", a->type, sizeof a->type);
    copy_str(o, "metric", a->metric, sizeof a->metric);
    copy_str(o, "severity", a->severity, sizeof a->severity);
    copy_str(o, "window", a->window, sizeof a->window);
    copy_str(o, "period_start", a->period_start, sizeof a->period_start);
    copy_str(o, "period_end", a->period_end, sizeof a->period_end);
    copy_str(o, "rolling_start", a->rolling_start, sizeof a->rolling_start);
    copy_str(o, "rolling_end", a->rolling_end, sizeof a->rolling_end);
    copy_str(o, "op", a->op, sizeof a->op);
    copy_str(o, "raised_at", a->raised_at, sizeof a->raised_at);
    copy_str(o, "acknowledged_at", a->acknowledged_at, sizeof a->acknowledged_at);
    copy_str(o, "source", a->source, sizeof a->source);
    copy_json(o, "actual", a->actual, sizeof a->actual);
    copy_json(o, "target", a->target, sizeof a->target);
    const cJSON *wt = cJSON_GetObjectItemCaseSensitive(o, "window_trades");
    a->window_trades = cJSON_IsNumber(wt) && wt->valuedouble > 0 ? (uint32_t)wt->valuedouble : 0;
    a->active = cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, "acknowledged_at"));
  }
  cJSON_Delete(o);
  return ok;
}

int bt_perf_alerts_list(const char *path, bt_perf_alert **out, size_t *count, bt_err *err) {
  char *text, name[256];
  size_t len, cap = 0;
  int dirfd;
  *out = NULL, *count = 0;
  int rc = read_alerts(path, &text, &len, &dirfd, name, err);
  if (rc) return rc;
  close(dirfd);
  for (const char *p = text; p && *p && !rc;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) : strlen(p);
    if (BT_GROW(*out, cap, *count + 1))
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    if (!rc && parse_alert(p, n, &(*out)[*count])) (*count)++;
    p = nl ? nl + 1 : p + n;
  }
  free(text);
  if (rc) free(*out), *out = NULL, *count = 0;
  return rc;
}

int bt_perf_alerts_active(const char *path, const char *source, int *active, int *other,
                          bt_err *err) {
  bt_perf_alert *v;
  size_t n;
  *active = 0;
  if (other) *other = 0;
  int rc = bt_perf_alerts_list(path, &v, &n, err);
  if (rc) return rc;
  for (size_t i = 0; i < n; i++) {
    if (!v[i].active) continue;
    if (!source || strcmp(v[i].source, source) == 0) (*active)++;
    else if (other) (*other)++;
  }
  free(v);
  return 0;
}

int bt_perf_alerts_ack_all(const char *path, const char *source, int64_t now_ms, int *acked,
                           bt_err *err) {
  char *text, name[256];
  size_t len;
  int dirfd;
  *acked = 0;
  int rc = read_alerts(path, &text, &len, &dirfd, name, err);
  if (rc) return rc;
  char now[32];
  bt_format_time(now_ms / 1000, now);
  static const char nul[] = "\"acknowledged_at\":null";
  bt_json_buf b = {0};
  for (const char *p = text; p && *p;) {
    const char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
    bt_perf_alert a;
    const char *slot = memmem(p, n, nul, sizeof nul - 1);
    if (slot && parse_alert(p, n, &a) && a.active && (!source || strcmp(a.source, source) == 0)) {
      bt_json_put(&b, p, (size_t)(slot - p));
      bt_json_printf(&b, "\"acknowledged_at\":\"%s\"", now);
      bt_json_put(&b, slot + sizeof nul - 1, n - (size_t)(slot - p) - (sizeof nul - 1));
      (*acked)++;
    } else {
      bt_json_put(&b, p, n);
    }
    p += n;
  }
  size_t outlen;
  char *out = bt_json_take(&b, &outlen);
  if (!out) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  else if (*acked) rc = bt_perf_write(dirfd, name, out, outlen, true, err);
  free(out);
  free(text);
  close(dirfd);
  return rc;
}

int bt_perf_alerts_ack(const char *path, const char *id, int64_t now_ms, bt_err *err) {
  char *text, name[256];
  size_t len;
  int dirfd;
  int rc = read_alerts(path, &text, &len, &dirfd, name, err);
  if (rc) return rc;
  char needle[64];
  snprintf(needle, sizeof needle, "\"id\":\"%s\"", id);
  char *hit = text && strlen(id) < 40 ? strstr(text, needle) : NULL;
  if (!hit) {
    free(text);
    close(dirfd);
    return bt_errf(err, BT_EINVAL, "not_found", "alert %s not found in %s", id, path);
  }
  char *eol = strchr(hit, '\n');
  size_t line_end = eol ? (size_t)(eol - text) : len;
  const char *nul = "\"acknowledged_at\":null";
  char *slot = memmem(hit, (size_t)(text + line_end - hit), nul, strlen(nul));
  if (!slot) {
    free(text);
    close(dirfd);
    return 1;
  }
  char now[32];
  bt_format_time(now_ms / 1000, now);
  bt_json_buf b = {0};
  bt_json_put(&b, text, (size_t)(slot - text));
  bt_json_printf(&b, "\"acknowledged_at\":\"%s\"", now);
  size_t after = (size_t)(slot - text) + strlen(nul);
  bt_json_put(&b, text + after, len - after);
  size_t n;
  char *out = bt_json_take(&b, &n);
  rc = out ? bt_perf_write(dirfd, name, out, n, true, err) : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  free(out);
  free(text);
  close(dirfd);
  return rc;
}
