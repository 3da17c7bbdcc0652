/* sched_cli.h - the `btrun schedules` subcommand (list, run, history). */
#ifndef BT_SCHED_CLI_H
#define BT_SCHED_CLI_H

#include "queue.h"
#include "run.h"

/* Opens the queue `btrun serve` uses (its config's service.queue, else SQLite in the data
 * dir): the opener lives above this layer (runtime/service), so app/ passes it in. */
typedef int (*bt_sched_queue_open_fn)(bt_app *app, bt_queue **out, bt_err *err);

int bt_sched_cli(bt_app *app, int argc, char **argv, bt_sched_queue_open_fn open);
extern const char bt_sched_help[]; /* its --help text (cli_table.c) */
extern const char *const bt_sched_subcommands[];

#endif
