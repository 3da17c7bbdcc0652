/* cli_opts.h - the option parser and error printers every btrun command uses.
 *
 * A command describes its options in a table and its messages in a bt_cli_usage:
 *
 *   static const bt_cli_usage U = {.prog = "btrun perf", .hint = "(see btrun perf --help)",
 *                                  .unknown = "unknown argument '%s'",
 *                                  .needs_value = "%s needs a value"};
 *   bt_cli_opt opts[] = {{"--out", .value = &o.out}, {"--stats", .flag = &o.stats}, {.name = NULL}};
 *   if (bt_cli_parse(&U, opts, argc, argv, 1, &args)) return 1;
 *
 * Options take their value from the next argument ("--name value"). "--" ends the
 * options: every argument after it is positional (with u->rest: the script's own).
 * "-h" or "--help" before it stops parsing and sets args->help (only btrun's own options,
 * u->rest; bt_cli_main answers a command's help itself, see cli.h, so a command's parser
 * meets one only after a "--" that was an option's value: an error).
 * An unknown option is an error that names the closest known option ("did you mean
 * '--param'?"). Errors go to stderr as "PROG: message" and then the hint line; the
 * functions return the exit code 1. */
#ifndef BT_CLI_OPTS_H
#define BT_CLI_OPTS_H

#include <stdbool.h>

#include "common.h"

typedef struct bt_cli_opt {
  const char *name;        /* "--data"; NULL ends the table */
  const char **value;      /* a valued option: its argument (the last one given wins) */
  bool *flag;              /* a flag: set to true */
  const char **list;       /* a repeatable valued option: list[(*count)++] */
  int *count, max;
  const char *too_many;    /* the message when more than max are given */
} bt_cli_opt;

typedef struct bt_cli_usage {
  const char *prog;        /* message prefix: "btrun", "btrun perf" */
  const char *hint;        /* the line after a usage error, or NULL */
  const char *unknown;     /* message for an unknown option; %s: the option */
  const char *needs_value; /* message for an option given without its value; %s: the option */
  bool rest;               /* btrun FILE.lua: the arguments after "--" are the script's own
                              (args->rest), "-x" options must be known too */
} bt_cli_usage;

typedef struct bt_cli_args {
  char **pos;              /* positional arguments in argv order, compacted in place at
                              argv[first..] (only slots already read are overwritten) */
  int npos;
  char **rest;             /* with u->rest: the arguments after "--", untouched */
  int nrest;
  int first_pos;           /* argv index of the first positional argument, -1 if none */
  bool help;               /* "-h" or "--help" was given */
} bt_cli_args;

/* Parses argv[first..argc). Every argument starting with "--" (with u->rest: with "-")
 * before a "--" must be in the table. */
int bt_cli_parse(const bt_cli_usage *u, const bt_cli_opt *opts, int argc, char **argv, int first,
                 bt_cli_args *args);

/* "PROG: <message>\n<hint>\n" on stderr; returns 1. */
int bt_cli_usage_error(const bt_cli_usage *u, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* An unknown option or word: "PROG: unknown option '--parm'; did you mean '--param'?"
 * (u->unknown formats the first part; the suggestion is the closest of names[0..n),
 * left out when none is close, see base/suggest.h) and the hint line; returns 1. For
 * commands that parse their arguments by hand. */
int bt_cli_unknown(const bt_cli_usage *u, const char *arg, const char *const *names, size_t n);

/* An option's whole-number value in [lo, hi] (no sign games: "", "5x", " 5" are not). */
bool bt_cli_long(const char *s, long lo, long hi, long *out);

/* A failed operation: "PROG: <message>\n" on stderr (the traceback after it when the
 * message does not hold it); clears err; returns 1. */
int bt_cli_fail(const char *prog, bt_err *err);

#endif
