/* ta_volume.c - volume indicators: OBV and session VWAP. */
#include "ta.h"

void bt_ta_obv_reset(bt_ta_obv *o) {
  o->has_prev = false;
  o->prev_close = o->value = 0;
}

bool bt_ta_obv_update(bt_ta_obv *o, double close, double volume) {
  if (!o->has_prev) o->value = volume;
  else if (close > o->prev_close) o->value += volume;
  else if (close < o->prev_close) o->value -= volume;
  o->prev_close = close;
  o->has_prev = true;
  return true;
}

void bt_ta_vwap_init(bt_ta_vwap *v, int64_t session, int64_t offset) {
  v->session = session;
  v->offset = offset;
  bt_ta_vwap_reset(v);
}

void bt_ta_vwap_reset(bt_ta_vwap *v) {
  v->started = false;
  v->current = 0;
  v->pv = v->vol = v->value = 0;
}

static int64_t floor_div(int64_t a, int64_t b) { return a / b - (a % b != 0 && (a < 0) != (b < 0)); }

bool bt_ta_vwap_update(bt_ta_vwap *v, int64_t time, double high, double low, double close,
                       double volume) {
  int64_t s = floor_div(time - v->offset, v->session);
  if (!v->started || s != v->current) {
    v->current = s;
    v->started = true;
    v->pv = v->vol = 0;
  }
  v->pv += (high + low + close) / 3.0 * volume;
  v->vol += volume;
  if (v->vol == 0) return false;
  v->value = v->pv / v->vol;
  return true;
}
