/* runs_cli_compare.c - `btrun runs compare`: runs side by side from their result.json. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_opts.h"
#include "trace_cli_internal.h"

/* A compare argument -> its run directory: a directory holding result.json as given,
 * else a run id (prefix) looked up in the store (opened on first need). */
static int resolve_run(bt_app *app, bt_tcli_opts *o, bt_store **s, const char *arg, char *dir,
                       size_t n) {
  char path[1100];
  snprintf(path, sizeof path, "%s/result.json", arg);
  if (access(path, R_OK) == 0) {
    snprintf(dir, n, "%s", arg);
    return 0;
  }
  if (!*s && bt_tcli_open_store(app, o, &(bt_tcli_wants){0}, s)) return 1;
  bt_store_run r;
  bt_err err = {0};
  if (bt_store_find_run(*s, arg, &r, &err)) return bt_cli_fail("btrun", &err);
  int rc = 0;
  if (!r.out_dir || !*r.out_dir) {
    fprintf(stderr, "btrun runs compare: run %s wrote no run directory\n", r.run_id);
    rc = 1;
  } else {
    snprintf(dir, n, "%s", r.out_dir);
  }
  bt_store_run_clear(&r);
  return rc;
}

typedef struct cmp_row {
  const char *label, *key;
  int kind; /* 0 string/int as is, 1 percent, 2 ratio */
} cmp_row;

static void cmp_cell(const cJSON *v, int kind, char *buf, size_t n) {
  if (cJSON_IsNumber(v)) {
    if (kind == 1) snprintf(buf, n, "%.2f%%", v->valuedouble * 100);
    else if (kind == 2) snprintf(buf, n, "%.3f", v->valuedouble);
    else snprintf(buf, n, "%.17g", v->valuedouble);
  } else if (cJSON_IsString(v)) {
    snprintf(buf, n, "%s", v->valuestring);
  } else {
    snprintf(buf, n, "-");
  }
}

#define CMP_MAX 32

int bt_tcli_runs_compare(bt_app *app, bt_tcli_opts *o, bt_runs_html_fn html) {
  if (o->npos < 2 || o->npos > CMP_MAX) {
    fprintf(stderr, "btrun runs compare: give 2 to %d runs (run ids or run directories)\n", CMP_MAX);
    return 1;
  }
  bt_store *s = NULL;
  char dirs[CMP_MAX][1024];
  const char *dirp[CMP_MAX];
  cJSON *res[CMP_MAX] = {0};
  int rc = 0, n = o->npos;
  for (int i = 0; i < n && !rc; i++) {
    rc = resolve_run(app, o, &s, o->pos[i], dirs[i], sizeof dirs[i]);
    dirp[i] = dirs[i];
    char path[1100];
    snprintf(path, sizeof path, "%s/result.json", dirs[i]);
    FILE *f = rc ? NULL : fopen(path, "r");
    if (!rc && !f) {
      fprintf(stderr, "btrun runs compare: %s: cannot read\n", path);
      rc = 1;
    }
    if (f) {
      long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
      char *buf = size >= 0 ? malloc((size_t)size + 1) : NULL;
      size_t len = buf && fseek(f, 0, SEEK_SET) == 0 ? fread(buf, 1, (size_t)size, f) : 0;
      fclose(f);
      if (buf) buf[len] = 0;
      res[i] = buf ? cJSON_Parse(buf) : NULL;
      free(buf);
      if (!res[i]) {
        fprintf(stderr, "btrun runs compare: %s: not valid JSON\n", path);
        rc = 1;
      }
    }
  }
  if (s) bt_tcli_close_store(o, s);
  if (!rc) {
    /* one column per run; the parameters of all runs as rows, then the figures */
    static const cmp_row rows[] = {
        {"strategy", "strategy_id", 0}, {"status", "status", 0}, {"bars", "bars", 0},
        {"trades", "trades", 0}, {"final_equity", "final_equity", 0},
        {"total_return", "total_return", 1}, {"cagr", "cagr", 1}, {"sharpe", "sharpe", 2},
        {"sortino", "sortino", 2}, {"max_drawdown", "max_drawdown", 1}, {"win_rate", "win_rate", 1},
        {"profit_factor", "profit_factor", 2}, {"exposure", "exposure", 1},
        {"rejected_orders", "rejected_orders", 0}};
    char cell[64];
    printf("%-16s", "");
    for (int i = 0; i < n; i++) {
      cmp_cell(cJSON_GetObjectItem(res[i], "run_id"), 0, cell, sizeof cell);
      printf(" %14.8s", cell);
    }
    putchar('\n');
    /* parameter names, in first-seen order */
    const char *pnames[64];
    int np = 0;
    for (int i = 0; i < n; i++) {
      const cJSON *p;
      cJSON_ArrayForEach(p, cJSON_GetObjectItem(res[i], "params")) {
        int k = 0;
        while (k < np && strcmp(pnames[k], p->string)) k++;
        if (k == np && np < 64) pnames[np++] = p->string;
      }
    }
    for (int k = 0; k < np; k++) {
      printf("param %-10.10s", pnames[k]);
      for (int i = 0; i < n; i++) {
        cmp_cell(cJSON_GetObjectItem(cJSON_GetObjectItem(res[i], "params"), pnames[k]), 0, cell, sizeof cell);
        printf(" %14.14s", cell);
      }
      putchar('\n');
    }
    for (size_t r = 0; r < sizeof rows / sizeof rows[0]; r++) {
      printf("%-16s", rows[r].label);
      for (int i = 0; i < n; i++) {
        cmp_cell(cJSON_GetObjectItem(res[i], rows[r].key), rows[r].kind, cell, sizeof cell);
        printf(" %14.14s", cell);
      }
      putchar('\n');
    }
  }
  for (int i = 0; i < n; i++) cJSON_Delete(res[i]);
  if (!rc && o->html) {
    bt_err err = {0};
    if (!html) {
      fprintf(stderr, "btrun runs compare: --html is not available in this build\n");
      rc = 1;
    } else if (html(app, dirp, n, o->html, &err)) {
      rc = bt_cli_fail("btrun", &err);
    } else {
      printf("wrote %s\n", o->html);
    }
  }
  return rc;
}
