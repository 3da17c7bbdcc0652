#include "cli.h"
#include "analytics.h"
#include "perf.h"

/* One line per subcommand; modules add theirs here. */
const bt_cli_command bt_cli_commands[] = {
    {"analytics", bt_analytics_cli, "product analytics: flush the spool, status, opt-out/opt-in"},
    {"perf", bt_perf_cli, "performance summaries per day/week/month, targets and alerts"},
    {NULL, NULL, NULL},
};
