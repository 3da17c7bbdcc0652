#include "run_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "perf.h"
#include "perf_files.h"
#include "formats.h"
#include "run_series.h"

int bt_run_compare_html(bt_app *app, const char *const *dirs, int n, const char *out_path, bt_err *err) {
  bt_perf_cfg cfg;
  int rc = bt_perf_cfg_load(app, &cfg, err);
  if (rc) return rc;
  bt_json_buf b = {0};
  bt_json_printf(&b, "{\"runs\":[");
  char path[1200];
  for (int i = 0; i < n && !rc; i++) {
    size_t len;
    snprintf(path, sizeof path, "%s/result.json", dirs[i]);
    char *result = bt_perf_slurp(path, &len);
    if (!result) {
      rc = bt_errf(err, BT_EIO, "io_error", "%s: cannot read (not a run directory?)", path);
      break;
    }
    bt_json_printf(&b, "%s{\"dir\":", i ? "," : "");
    bt_log_json_str(&b, dirs[i], strlen(dirs[i]));
    bt_json_printf(&b, ",\"result\":");
    bt_json_put(&b, result, len);
    free(result);
    bt_json_printf(&b, ",\"series\":");
    snprintf(path, sizeof path, "%s/equity.csv", dirs[i]);
    rc = bt_run_series_json(path, &b, &(bt_index_series){0}, &(bt_index_series){0}, err);
    bt_json_putc(&b, '}');
  }
  bt_json_printf(&b, "]}");
  size_t len;
  char *doc = bt_json_take(&b, &len);
  if (!rc && !doc) rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  bt_formats *rep = NULL;
  if (!rc) rc = bt_formats_open(&rep, cfg.formats_dir, err);
  if (!rc) rc = bt_formats_push_json(bt_formats_lua(rep), doc, len, err);
  free(doc);
  char *html = NULL;
  if (!rc) rc = bt_formats_render(rep, "compare_html", &html, &len, err);
  bt_formats_close(rep);
  if (!rc) {
    char d[1024], f[256];
    int fd = -1;
    rc = bt_perf_path_split(out_path, d, sizeof d, f, sizeof f, err);
    if (!rc) rc = (fd = bt_perf_dir_open(d, err)) < 0 ? fd : 0;
    if (!rc) rc = bt_perf_write(fd, f, html, len, true, err);
    if (fd >= 0) close(fd);
  }
  free(html);
  return rc;
}
