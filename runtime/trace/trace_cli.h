/* trace_cli.h - subcommands over the event store (see trace_cli.c and docs/events.md). */
#ifndef BT_TRACE_CLI_H
#define BT_TRACE_CLI_H

#include "run.h"

int bt_events_cli(bt_app *app, int argc, char **argv); /* btrun events list|prune */
int bt_trace_cli(bt_app *app, int argc, char **argv);  /* btrun trace lineage|latency */
int bt_runs_cli(bt_app *app, int argc, char **argv);   /* btrun runs list|show */

#endif
