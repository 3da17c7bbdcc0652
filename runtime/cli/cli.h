/* cli.h - subcommands of the btrun executable.
 *
 * `btrun FILE.lua ...` runs a strategy or script; `btrun NAME ...` runs a subcommand.
 * Each module owns its subcommand: a function taking the app (config already loaded,
 * `--config FILE` already removed from argv) and its own arguments, argv[0] being the
 * subcommand name. It prints its own output and returns the process exit code:
 * 0 ok, 1 error, 2 degraded (perf alerts active). The table is in cli_table.c. */
#ifndef BT_CLI_H
#define BT_CLI_H

#include "run.h"

typedef int (*bt_cli_fn)(bt_app *app, int argc, char **argv);

typedef struct bt_cli_command {
  const char *name;
  bt_cli_fn fn;
  const char *summary;   /* one line for `btrun --help` */
  /* The text of `btrun NAME --help`. bt_cli_main answers -h/--help anywhere before "--"
   * for every command alike (stdout, exit 0, nothing set up): fn never sees one. */
  const char *help;
  /* NULL, or the command's subcommands (NULL-ended): bt_cli_main lets fn see only
   * argv[1] among them. `btrun NAME` alone prints the help on stderr (exit 1); another
   * word is a usage error naming the closest subcommand. */
  const char *const *subcommands;
} bt_cli_command;

extern const bt_cli_command bt_cli_commands[];  /* terminated by {NULL} */

int bt_cli_main(int argc, char **argv);
/* `btrun cache`: the bar cache's directory, and clearing it (cache_cli.c). */
int bt_cache_cli(bt_app *app, int argc, char **argv);
extern const char bt_cache_help[];

#endif
