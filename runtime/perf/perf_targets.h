/* perf_targets.h - performance targets (config/targets.lua) compared with a summary.
 *
 * Targets are a Lua table (docs/performance.md): win_rate {min, window}, risk_reward
 * {min, window, measure = "payoff"|"r_multiple"}, avg_win {min}, avg_loss {max} and
 * rules = { {name, check = function(summary) return ok, actual, target end}, ... }.
 * The file runs in a private lua_State kept for the custom rules. Rolling targets look
 * at the last `window` closed trades up to the end of the summary window (their exit
 * days are recorded on the check) and are skipped until that many exist; a window
 * without trades suppresses every check. Breaches become alerts in perf_alerts.h. */
#ifndef BT_PERF_TARGETS_H
#define BT_PERF_TARGETS_H

#include <stdbool.h>
#include <stdint.h>

#include "common.h"
#include "perf_index.h"
#include "perf_summary.h"

typedef struct bt_perf_targets bt_perf_targets;

/* path NULL or missing file (when !explicit_path): no targets. rolling_override > 0
 * replaces win_rate.window (PERFORMANCE_ALERT_ROLLING_WINDOW). */
int bt_perf_targets_load(bt_perf_targets **out, const char *path, bool explicit_path,
                         int64_t rolling_override, bt_err *err);
void bt_perf_targets_free(bt_perf_targets *t);
/* Closed trades per day the index must remember for the rolling targets (>= 1). */
uint32_t bt_perf_targets_tail_k(const bt_perf_targets *t);
/* Changes when the targets file or override changes (part of summary checksums). */
uint64_t bt_perf_targets_hash(const bt_perf_targets *t);
/* Compare the summary with every target; appends s->checks. */
int bt_perf_targets_eval(bt_perf_targets *t, const bt_perf_index *ix, bt_perf_summary *s,
                         bt_err *err);

#endif
