#include "perf.h"

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <limits.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "perf_files.h"
#include "perf_index_json.h"
#include "perf_source.h"
#include "perf_time.h"

#define INDEX_NAME "performance-index.json"

/* The section's target: the settings, and targets apart (named means explicit). */
typedef struct perf_section {
  bt_perf_cfg c;
  char targets[sizeof(((bt_perf_cfg *)0)->targets)];
} perf_section;

#define F(kind, k, m, ...) BT_CFG_F_##kind(perf_section, k, m, __VA_ARGS__)
static const bt_cfg_field perf_fields[] = {
    F(STR, "trades", c.trades, "a file or directory of *.jsonl"),
    F(STR, "out_dir", c.out_dir, NULL),
    F(STR, "alerts_file", c.alerts_file, NULL),
    F(STR, "targets", targets, NULL),
    F(STR, "formats_dir", c.formats_dir, NULL),
    F(STR, "timezone", c.timezone, "an IANA zone or a fixed offset"),
    F(BOOL, "html", c.html, NULL),
    {0}};
#undef F

int bt_perf_cfg_load(bt_app *app, bt_perf_cfg *cfg, bt_err *err) {
  memset(cfg, 0, sizeof *cfg);
  snprintf(cfg->trades, sizeof cfg->trades, "logs/trades");
  snprintf(cfg->out_dir, sizeof cfg->out_dir, "logs/performance");
  snprintf(cfg->alerts_file, sizeof cfg->alerts_file, "logs/performance-alerts.jsonl");
  snprintf(cfg->targets, sizeof cfg->targets, "config/targets.lua");
  snprintf(cfg->timezone, sizeof cfg->timezone, "UTC");
  int idx = app ? bt_config_section(&app->cfg, "perf") : 0;
  if (idx) {
    lua_State *L = app->cfg.L;
    perf_section sec = {.c = *cfg};
    int rc = bt_cfg_read(L, idx, "perf", perf_fields, &sec, err);
    if (!rc && bt_perf_timezone_check(sec.c.timezone, err))
      rc = bt_cfg_fail(L, "perf", "timezone", err, "%s", err->msg);
    lua_settop(L, idx - 1);
    if (rc) return rc;
    *cfg = sec.c;
    if (sec.targets[0]) {
      snprintf(cfg->targets, sizeof cfg->targets, "%s", sec.targets);
      cfg->targets_explicit = true;
    }
  }
  const char *env = getenv("PERFORMANCE_SUMMARY_TIMEZONE");
  if (env && *env) {
    if (bt_perf_timezone_check(env, err))
      return bt_errf(err, BT_EINVAL, "config_error", "PERFORMANCE_SUMMARY_TIMEZONE: %s", err->msg);
    snprintf(cfg->timezone, sizeof cfg->timezone, "%s", env);
  }
  env = getenv("PERFORMANCE_ALERT_ROLLING_WINDOW");
  if (env && *env) {
    char *end;
    long long v = strtoll(env, &end, 10);
    if (*end || v < 1 || v > 100000)
      return bt_errf(err, BT_EINVAL, "config_error",
                     "PERFORMANCE_ALERT_ROLLING_WINDOW: expected an integer 1..100000, got \"%s\"", env);
    cfg->rolling_window = v;
  }
  return 0;
}

int bt_perf_timezone_check(const char *spec, bt_err *err) {
  bt_tz *tz;
  if (strlen(spec) >= sizeof(((bt_perf_cfg *)0)->timezone))
    return bt_errf(err, BT_EINVAL, "config_error", "time zone name too long");
  int rc = bt_tz_load(spec, &tz, err);
  bt_tz_free(tz);
  return rc;
}

int bt_perf_open(bt_perf *p, const bt_perf_cfg *cfg, bt_err *err) {
  memset(p, 0, sizeof *p);
  p->cfg = *cfg;
  p->outfd = -1;
  int rc = bt_tz_load(cfg->timezone, &p->tz, err);
  if (rc) return rc;
  rc = bt_perf_targets_load(&p->targets, cfg->targets, cfg->targets_explicit,
                                cfg->rolling_window, err);
  if (rc) return rc;
  int fd = bt_perf_dir_open(cfg->out_dir, err);
  if (fd < 0) return fd;
  p->outfd = fd;
  char src[PATH_MAX];
  bt_perf_source_id(cfg->trades, src, sizeof src);
  bt_perf_index_init(&p->ix, src, p->tz, bt_perf_targets_tail_k(p->targets));
  char *text;
  size_t len;
  rc = bt_perf_read(fd, INDEX_NAME, &text, &len, err);
  if (rc < 0) return rc;
  if (rc == 0) bt_perf_index_load(&p->ix, text, len);
  free(text);
  p->ix.strict = cfg->strict;
  return 0;
}

void bt_perf_source_id(const char *trades, char *out, size_t n) {
  char real[PATH_MAX];
  snprintf(out, n, "%s", realpath(trades, real) ? real : trades);
}

void bt_perf_close(bt_perf *p) {
  bt_perf_index_free(&p->ix);
  bt_perf_targets_free(p->targets);
  bt_formats_close(p->report);
  bt_tz_free(p->tz);
  if (p->outfd >= 0) close(p->outfd);
  memset(p, 0, sizeof *p);
  p->outfd = -1;
}

int bt_perf_refresh(bt_perf *p, bool cold, bt_err *err) {
  uint64_t t0 = bt_now_ns();
  int rc = bt_perf_index_refresh(&p->ix, cold, err);
  if (!rc && p->ix.dirty) {
    size_t len;
    char *text = bt_perf_index_dump(&p->ix, &len);
    rc = text ? bt_perf_write(p->outfd, INDEX_NAME, text, len, false, err)
              : bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    free(text);
    if (!rc) p->ix.dirty = false;
  }
  p->refresh_ms = (double)(bt_now_ns() - t0) / 1e6;
  return rc;
}

int64_t bt_perf_anchor_day(const bt_perf *p) {
  if (p->ix.ndays) return p->ix.days[p->ix.ndays - 1].day;
  return bt_perf_local_day((int64_t)time(NULL), p->tz);
}

int bt_perf_evaluate(bt_perf *p, bt_perf_window w, int64_t day, int64_t now_ms,
                     bt_perf_eval *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  uint64_t t0 = bt_now_ns();
  int rc = bt_perf_refresh(p, false, err);
  if (rc) return rc;
  bt_perf_window_bounds(w, day, &out->start, &out->end);
  bt_perf_summary s;
  if ((rc = bt_perf_window_summary(p, w, out->start, out->end, &s, err))) return rc;
  out->trades = s.trades;
  out->win_rate = s.win_rate;
  if (!s.no_trades)
    rc = bt_perf_alerts_raise(p->cfg.alerts_file, p->ix.source, &s, now_ms, &out->raised, err);
  if (!rc) rc = bt_perf_write_outputs(p, &s, p->cfg.html, &out->written, err);
  if (!rc) rc = bt_perf_alerts_active(p->cfg.alerts_file, p->ix.source, &out->active, NULL, err);
  bt_perf_summary_free(&s);
  out->ms = (double)(bt_now_ns() - t0) / 1e6;
  return rc;
}

int bt_perf_window_summary(bt_perf *p, bt_perf_window w, int64_t start, int64_t end,
                           bt_perf_summary *s, bt_err *err) {
  int rc = bt_perf_summarize(&p->ix, w, start, end, s, err);
  if (!rc) rc = bt_perf_targets_eval(p->targets, &p->ix, s, err);
  if (rc) bt_perf_summary_free(s);
  return rc;
}

static int report(bt_perf *p, bt_err *err) {
  return p->report ? 0 : bt_formats_open(&p->report, p->cfg.formats_dir, err);
}

/* Targets and format scripts are inputs of the rendered files too. */
static uint64_t extra_hash(bt_perf *p) {
  uint64_t h = bt_perf_targets_hash(p->targets);
  h = h * 1099511628211ULL ^ bt_formats_hash(p->report, "summary_md");
  return h * 1099511628211ULL ^ bt_formats_hash(p->report, "summary_html");
}

static void now_iso(char out[32]) { bt_format_time(bt_wall_ms() / 1000, out); }

#define PAGE_ALERTS 200 /* alerts listed on a summary page (the latest) */

/* The alerts of this log (or of no recorded log) raised for windows inside this
 * summary's period, as the `alerts` list of the table on top of L (the HTML page shows
 * them with their ack state). */
static void set_alerts(bt_perf *p, const bt_perf_summary *s, lua_State *L) {
  size_t len;
  char *text = bt_perf_slurp(p->cfg.alerts_file, &len);
  char a[16], z[16];
  bt_perf_day_format(s->start, a);
  bt_perf_day_format(s->end, z);
  lua_newtable(L);
  int n = 0;
  for (char *line = text, *nl; line && *line; line = nl ? nl + 1 : NULL) {
    nl = strchr(line, '\n');
    cJSON *o = cJSON_ParseWithLength(line, nl ? (size_t)(nl - line) : strlen(line));
    const char *ps = cJSON_GetStringValue(cJSON_GetObjectItem(o, "period_start"));
    const char *pe = cJSON_GetStringValue(cJSON_GetObjectItem(o, "period_end"));
    const char *src = cJSON_GetStringValue(cJSON_GetObjectItem(o, "source"));
    if (ps && pe && strcmp(ps, a) >= 0 && strcmp(pe, z) <= 0 && (!src || strcmp(src, p->ix.source) == 0)) {
      char *js = cJSON_PrintUnformatted(o);
      bt_err err = {0};
      if (js && bt_formats_push_json(L, js, strlen(js), &err) == 0) {
        if (n == PAGE_ALERTS) { /* keep the latest: drop the oldest */
          lua_getglobal(L, "table");
          lua_getfield(L, -1, "remove");
          lua_pushvalue(L, -4);
          lua_pushinteger(L, 1);
          lua_call(L, 2, 0);
          lua_pop(L, 1);
          n--;
        }
        lua_rawseti(L, -2, ++n);
      }
      bt_err_clear(&err);
      free(js);
    }
    cJSON_Delete(o);
  }
  free(text);
  lua_setfield(L, -2, "alerts");
}

int bt_perf_render(bt_perf *p, const bt_perf_summary *s, const char *fmt, char **out,
                   size_t *len, bt_err *err) {
  int rc = report(p, err);
  if (rc) return rc;
  char now[32];
  now_iso(now);
  bool html = strcmp(fmt, "html") == 0;
  char *json = bt_perf_summary_json(s, now, extra_hash(p), len);
  if (!json) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (strcmp(fmt, "json") == 0) {
    *out = json;
    return 0;
  }
  if (strcmp(fmt, "md") && !html) {
    free(json);
    return bt_errf(err, BT_EINVAL, "usage_error", "unknown export format '%s' (json, md, html)", fmt);
  }
  lua_State *L = bt_formats_lua(p->report);
  rc = bt_formats_push_json(L, json, *len, err);
  free(json);
  if (rc) return rc;
  if (html) set_alerts(p, s, L);
  return bt_formats_render(p->report, html ? "summary_html" : "summary_md", out, len, err);
}

int bt_perf_write_outputs(bt_perf *p, const bt_perf_summary *s, bool html, int *written,
                          bt_err *err) {
  *written = 0;
  int rc = report(p, err);
  if (rc) return rc;
  char base[80], name[96], ck[24], needle[64];
  bt_perf_summary_basename(s, base);
  bt_perf_summary_checksum(s, extra_hash(p), ck);
  snprintf(needle, sizeof needle, "\"source_checksum\": \"%s\"", ck);
  const char *exts[] = {"json", "md", "html"};
  int nexts = html ? 3 : 2;
  bool same = true;
  char *old;
  size_t oldlen;
  snprintf(name, sizeof name, "%s.json", base);
  rc = bt_perf_read(p->outfd, name, &old, &oldlen, err);
  if (rc < 0) return rc;
  same = rc == 0 && strstr(old, needle) != NULL;
  free(old);
  for (int i = 1; i < nexts && same; i++) {
    snprintf(name, sizeof name, "%s.%s", base, exts[i]);
    if (faccessat(p->outfd, name, F_OK, AT_SYMLINK_NOFOLLOW) != 0) same = false;
  }
  if (same) return 0;
  for (int i = 0; i < nexts; i++) {
    char *text;
    size_t len;
    if ((rc = bt_perf_render(p, s, exts[i], &text, &len, err))) return rc;
    snprintf(name, sizeof name, "%s.%s", base, exts[i]);
    rc = bt_perf_write(p->outfd, name, text, len, false, err); /* regenerated when damaged: no checksum match */
    free(text);
    if (rc) return rc;
    (*written)++;
  }
  return 0;
}
