/* pg_cli.h - `btrun db`: the shared PostgreSQL database (docs/postgresql.md). */
#ifndef BT_PG_CLI_H
#define BT_PG_CLI_H

#include "run.h"

/* btrun db migrate|status|sync [--db URL], btrun db bench [--db URL] [--jobs N] [--workers K] */
int bt_db_cli(bt_app *app, int argc, char **argv);
extern const char bt_db_help[]; /* its --help text (cli_table.c) */
extern const char *const bt_db_subcommands[];

#endif
