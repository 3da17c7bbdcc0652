/* worker_cli.h - `btrun worker` and `btrun jobs`: the queue's workers and its command
 * line, without the HTTP API (docs/service.md, "Workers" and "Jobs from the command
 * line"). */
#ifndef BT_WORKER_CLI_H
#define BT_WORKER_CLI_H

#include "run.h"

/* `btrun worker [--concurrency N] [--db URL] [--data-dir DIR] ...` */
int bt_worker_cli(bt_app *app, int argc, char **argv);
extern const char bt_worker_help[]; /* its --help text (cli_table.c) */

/* `btrun jobs submit|list|show|cancel ...` */
int bt_jobs_cli(bt_app *app, int argc, char **argv);
extern const char bt_jobs_help[];
extern const char *const bt_jobs_subcommands[];

#endif
