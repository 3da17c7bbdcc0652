/* log_config.h - apply the `log` section of the config to the logger. */
#ifndef BT_LOG_CONFIG_H
#define BT_LOG_CONFIG_H

#include "common.h"
#include "config.h"

/* log = { level = "info", format = "auto"|"json"|"console", loggers = { name = "debug" } } */
int bt_log_configure(bt_config *cfg, bt_err *err);

#endif
