/* tracer_hist.c - latency histograms: log-linear buckets, quantiles. */
#include "tracer.h"

static int hist_bucket(uint64_t v) {
  if (v < BT_HIST_SUB) return (int)v;
  int e = 63 - __builtin_clzll(v); /* >= 4 */
  return (e - 3) * BT_HIST_SUB + (int)((v >> (e - 4)) & (BT_HIST_SUB - 1));
}

static uint64_t hist_mid(int b) {
  if (b < BT_HIST_SUB) return (uint64_t)b;
  int e = b / BT_HIST_SUB + 3, sub = b % BT_HIST_SUB;
  uint64_t lo = (uint64_t)(BT_HIST_SUB + sub) << (e - 4), width = 1ull << (e - 4);
  return lo + width / 2;
}

void bt_lat_hist_add_n(bt_lat_hist *h, uint64_t v, uint64_t n) {
  h->count += n;
  h->sum += v * n;
  if (v > h->max) h->max = v;
  h->b[hist_bucket(v)] += n;
}

void bt_lat_hist_add(bt_lat_hist *h, uint64_t v) { bt_lat_hist_add_n(h, v, 1); }

uint64_t bt_lat_hist_quantile(const bt_lat_hist *h, double q) {
  if (!h->count) return 0;
  uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
  if (rank < 1) rank = 1;
  uint64_t acc = 0;
  for (int b = 0; b < BT_HIST_BUCKETS; b++) {
    acc += h->b[b];
    if (acc >= rank) {
      uint64_t m = hist_mid(b);
      return m > h->max ? h->max : m;
    }
  }
  return h->max;
}

