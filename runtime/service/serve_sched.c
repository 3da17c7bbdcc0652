/* serve_sched.c - the scheduler inside `btrun serve` (scheduler.h, docs/schedules.md). */
#include "serve.h"

int bt_serve_sched_start(bt_app *app, bt_queue *q, const char *path,
                         void (*on_enqueued)(void *ud), void *enqueued_ud, bt_scheduler **out,
                         bt_err *err) {
  bt_perf_cfg perf;
  int rc = bt_perf_cfg_load(app, &perf, err);
  if (rc) return rc;
  bt_scheduler_opts so = {.queue = q, .data_dir = app->cfg.data_dir, .perf = &perf,
                          .user_id = app->cfg.user_id,
                          .path = path ? path : BT_SCHEDULES_DEFAULT,
                          .explicit_path = path != NULL, .on_enqueued = on_enqueued,
                          .enqueued_ud = enqueued_ud};
  return bt_scheduler_start(&so, out, err);
}
