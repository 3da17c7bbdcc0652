/* worker_cli.h - `btrun worker`: the queue's workers, without the HTTP API
 * (docs/service.md, "Workers"). `btrun jobs` is jobs_cli.h. */
#ifndef BT_WORKER_CLI_H
#define BT_WORKER_CLI_H

#include "run.h"

/* `btrun worker [--concurrency N] [--db URL] [--data-dir DIR] ...` */
int bt_worker_cli(bt_app *app, int argc, char **argv);
extern const char bt_worker_help[]; /* its --help text (cli_table.c) */

#endif
