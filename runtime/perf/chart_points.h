/* chart_points.h - the format scripts' native helpers (require "formats.native"):
 * points(), charts.lua's per-point loop in C (chart_points.c). */
#ifndef BT_CHART_POINTS_H
#define BT_CHART_POINTS_H

typedef struct lua_State lua_State;

/* Make require "formats.native" available in L (package.preload). */
void bt_chart_points_preload(lua_State *L);

#endif
