#include "cli.h"
#include "analytics.h"

/* One line per subcommand; modules add theirs here. */
const bt_cli_command bt_cli_commands[] = {
    {"analytics", bt_analytics_cli, "product analytics: flush the spool, status, opt-out/opt-in"},
    {NULL, NULL, NULL},
};
