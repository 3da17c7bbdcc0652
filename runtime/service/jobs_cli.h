/* jobs_cli.h - `btrun jobs`: submit, list, show and cancel queued jobs from the command
 * line, without the HTTP API (docs/service.md, "Jobs from the command line"). */
#ifndef BT_JOBS_CLI_H
#define BT_JOBS_CLI_H

#include "run.h"

/* `btrun jobs submit|list|show|cancel ...` */
int bt_jobs_cli(bt_app *app, int argc, char **argv);
extern const char bt_jobs_help[]; /* its --help text (cli_table.c) */
extern const char *const bt_jobs_subcommands[];

#endif
