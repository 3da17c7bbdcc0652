/* ta_internal.h - helpers shared by the ta/ modules (not part of the bt_ta contract). */
#ifndef BT_TA_INTERNAL_H
#define BT_TA_INTERNAL_H

#include "ta.h"

void bt_ta_win_init(bt_ta_win *w, int n, double *buf);
/* Append x; when the window was full, the dropped input goes to *old and it returns true. */
bool bt_ta_win_push(bt_ta_win *w, double x, double *old);

#endif
