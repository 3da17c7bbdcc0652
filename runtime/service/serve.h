/* serve.h - `btrun serve`: the HTTP API, the supervisor that runs queued jobs in worker
 * processes, and the queue they share, in one process (docs/service.md). */
#ifndef BT_SERVE_H
#define BT_SERVE_H

#include "queue.h"
#include "scheduler.h"
#include "run.h"

/* Open the queue named by url: NULL or "" = SQLite at <data_dir>/queue.db,
 * "sqlite:PATH" = SQLite at PATH, "postgresql://..." = PostgreSQL (runtime/pg). */
int bt_service_queue_open(const char *url, const char *data_dir, bt_queue **out, bt_err *err);

/* The scheduler of `btrun serve` (serve_sched.c): the schedules file (NULL = the default,
 * config/schedules.lua, when it exists), perf defaults from the config, jobs into q. */
int bt_serve_sched_start(bt_app *app, bt_queue *q, const char *path,
                         void (*on_enqueued)(void *ud), void *enqueued_ud, bt_scheduler **out,
                         bt_err *err);

/* `btrun serve [--listen HOST:PORT] [--workers N] [--data-dir DIR] [--log-format FMT]` */
int bt_serve_cli(bt_app *app, int argc, char **argv);
extern const char bt_serve_help[]; /* its --help text (cli_table.c) */

#endif
