/* cli_opts.c - see cli_opts.h. */
#include "cli_opts.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "suggest.h"

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

bool bt_cli_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (!*s || *end || errno || v < lo || v > hi) return false;
  *out = v;
  return true;
}

int bt_cli_fail(const char *prog, bt_err *err) {
  fprintf(stderr, "%s: %s\n", prog, err->msg[0] ? err->msg : "error");
  if (err->traceback && !strstr(err->msg, err->traceback)) fprintf(stderr, "%s\n", err->traceback);
  bt_err_clear(err);
  return 1;
}

int bt_cli_unknown(const bt_cli_usage *u, const char *arg, const char *const *names, size_t n) {
  char msg[512];
  snprintf(msg, sizeof msg, u->unknown, arg);
  const char *near = bt_suggest(arg, names, n);
  if (near) return bt_cli_usage_error(u, "%s; did you mean '%s'?", msg, near);
  return bt_cli_usage_error(u, "%s", msg);
}

/* The unknown-option error with the table's names and --help (every command answers it,
 * bt_cli_main) as suggestions. */
static int unknown_option(const bt_cli_usage *u, const bt_cli_opt *opts, const char *arg) {
  const char *names[130];
  size_t n = 0;
  for (; opts->name && n < sizeof names / sizeof names[0] - 2; opts++) names[n++] = opts->name;
  names[n++] = "--help";
  return bt_cli_unknown(u, arg, names, n);
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
    if (strcmp(a, "--") == 0) {
      if (u->rest) {
        args->rest = argv + i + 1;
        args->nrest = argc - i - 1;
      } else {
        while (++i < argc) argv[first + args->npos++] = argv[i];
      }
      return 0;
    }
    if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
      /* A command's help is answered by bt_cli_main before any parsing, up to the first
       * "--"; one seen here came after a "--" read as an option's value. Running the
       * command without its remaining arguments would be wrong, so refuse. */
      if (!u->rest)
        return bt_cli_usage_error(u, "%s after '--' (read as the value of the option before "
                                  "it) is not a request for help; for help: %s --help", a, u->prog);
      args->help = true;
      return 0;
    }
    const bt_cli_opt *o = find(opts, a);
    if (!o) {
      if (a[0] == '-' && a[1] && (u->rest || a[1] == '-')) return unknown_option(u, opts, a);
      if (args->first_pos < 0) args->first_pos = i;
      argv[first + args->npos++] = (char *)a;
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
