#include "cli.h"

/* One line per subcommand; modules add theirs here. */
const bt_cli_command bt_cli_commands[] = {
    {NULL, NULL, NULL},
};
