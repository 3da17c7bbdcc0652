/* log_config.h - apply the `log` section of the config file to the log sink.
 *
 *   log = { level = "info", format = "auto" | "json" | "console",
 *           loggers = { broker = "debug", run = "warning" } }
 *
 * Precedence (highest first): --log-level / --log-format (the CLI sets them after
 * this call), BTRUN_LOG_LEVEL / BTRUN_LOG_FORMAT, this section, the defaults (info,
 * auto). Per-logger levels come only from the config. Unknown keys, wrong types and
 * unknown level names are errors naming the key (e.g. "log.loggers.broker"); an
 * invalid BTRUN_LOG_LEVEL or BTRUN_LOG_FORMAT is an error too. */
#ifndef BT_LOG_CONFIG_H
#define BT_LOG_CONFIG_H

#include "common.h"
#include "config.h"

int bt_log_configure(bt_config *cfg, bt_err *err);

#endif
