/* cache_cli.c - `btrun cache`: where the bar cache is, and emptying it (barcache.h). */
#include <stdio.h>
#include <string.h>

#include "barcache.h"
#include "cli.h"
#include "cli_opts.h"

const char bt_cache_help[] =
    "usage: btrun cache clear [--data-dir DIR]\n"
    "       btrun cache path [--data-dir DIR]\n"
    "\n"
    "The bar cache holds each CSV data file's bars parsed once (<data-dir>/cache/bars),\n"
    "so later runs and sweeps skip parsing. It rebuilds itself when a CSV changes;\n"
    "`clear` removes every cache file, `path` prints the directory. --no-cache (or\n"
    "config bar_cache = false) makes a run read its CSV without it. docs/data.md.\n";

int bt_cache_cli(bt_app *app, int argc, char **argv) {
  static const bt_cli_usage U = {.prog = "btrun cache",
                                 .hint = "Try 'btrun cache --help'.",
                                 .unknown = "unknown argument '%s'",
                                 .needs_value = "%s needs a value"};
  const char *data_dir = NULL;
  bt_cli_opt opts[] = {{"--data-dir", .value = &data_dir}, {.name = NULL}};
  bt_cli_args args;
  if (bt_cli_parse(&U, opts, argc, argv, 1, &args)) return 1;
  if (args.npos != 1 || (strcmp(args.pos[0], "clear") && strcmp(args.pos[0], "path")))
    return bt_cli_usage_error(&U, "want `clear` or `path`");
  char dir[600];
  snprintf(dir, sizeof dir, "%s/cache/bars", data_dir ? data_dir : app->cfg.data_dir);
  if (strcmp(args.pos[0], "path") == 0) {
    printf("%s\n", dir);
    return 0;
  }
  int removed;
  bt_err err = {0};
  if (bt_barcache_clear(dir, &removed, &err)) return bt_cli_fail("btrun cache", &err);
  printf("removed %d cache file%s from %s\n", removed, removed == 1 ? "" : "s", dir);
  return 0;
}
