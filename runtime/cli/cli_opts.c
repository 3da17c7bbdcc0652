/* cli_opts.c - see cli_opts.h. */
#include "cli_opts.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int bt_cli_usage_error(const bt_cli_usage *u, const char *fmt, ...) {
  fprintf(stderr, "%s: ", u->prog);
  va_list ap;
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  if (u->hint) fprintf(stderr, "%s\n", u->hint);
  return 1;
}

int bt_cli_fail(const char *prog, bt_err *err) {
  fprintf(stderr, "%s: %s\n", prog, err->msg[0] ? err->msg : "error");
  if (err->traceback && !strstr(err->msg, err->traceback)) fprintf(stderr, "%s\n", err->traceback);
  bt_err_clear(err);
  return 1;
}

static const bt_cli_opt *find(const bt_cli_opt *opts, const char *name) {
  for (; opts->name; opts++)
    if (strcmp(opts->name, name) == 0) return opts;
  return NULL;
}

int bt_cli_parse(const bt_cli_usage *u, const bt_cli_opt *opts, int argc, char **argv, int first,
                 bt_cli_args *args) {
  *args = (bt_cli_args){.pos = argv + first, .first_pos = -1};
  for (int i = first; i < argc; i++) {
    const char *a = argv[i];
    if (u->help && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
      args->help = true;
      return 0;
    }
    const bt_cli_opt *o = find(opts, a);
    if (!o) {
      bool after_rest = u->rest && args->first_pos >= 0;
      if (after_rest) continue; /* left for the script */
      if (a[0] == '-' && (u->rest || a[1] == '-'))
        return bt_cli_usage_error(u, u->unknown, a);
      if (args->first_pos < 0) args->first_pos = i;
      if (u->rest) { /* the positional and everything after it, as given */
        args->pos = argv + i;
        args->npos = argc - i;
      } else {
        argv[first + args->npos++] = (char *)a;
      }
      continue;
    }
    if (o->flag) {
      *o->flag = true;
      continue;
    }
    if (i + 1 >= argc) return bt_cli_usage_error(u, u->needs_value, a);
    const char *v = argv[++i];
    if (o->list) {
      if (*o->count == o->max) return bt_cli_usage_error(u, "%s", o->too_many);
      o->list[(*o->count)++] = v;
    } else {
      *o->value = v;
    }
  }
  return 0;
}
