#include "svc_metrics.h"

static const double bounds_s[BT_SVC_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   10,    60};

void bt_svc_hist_observe(bt_svc_hist *h, uint64_t micros) {
  int i = 0;
  while (i < BT_SVC_HIST_BUCKETS && (double)micros > bounds_s[i] * 1e6) i++;
  atomic_fetch_add_explicit(&h->count[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_us, micros, memory_order_relaxed);
}

void bt_svc_hist_render(const bt_svc_hist *h, const char *name, const char *help,
                        const char *labels, bt_json_buf *out) {
  if (help) bt_json_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  const char *sep = labels ? "," : "";
  labels = labels ? labels : "";
  uint64_t cum = 0;
  for (int i = 0; i <= BT_SVC_HIST_BUCKETS; i++) {
    cum += atomic_load_explicit(&h->count[i], memory_order_relaxed);
    if (i < BT_SVC_HIST_BUCKETS)
      bt_json_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds_s[i],
                        (unsigned long long)cum);
    else
      bt_json_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                        (unsigned long long)cum);
  }
  const char *open = *labels ? "{" : "", *close = *labels ? "}" : "";
  bt_json_printf(out, "%s_sum%s%s%s %.6f\n", name, open, labels, close,
                    (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6);
  bt_json_printf(out, "%s_count%s%s%s %llu\n", name, open, labels, close,
                    (unsigned long long)cum);
}

void bt_svc_status_count(bt_svc_status_counts *c, int status) {
  if (status >= 100 && status < 600)
    atomic_fetch_add_explicit(&c->n[status], 1, memory_order_relaxed);
}

void bt_svc_status_render(const bt_svc_status_counts *c, const char *name, const char *help,
                          bt_json_buf *out) {
  bt_json_printf(out, "# HELP %s %s\n# TYPE %s counter\n", name, help, name);
  for (int s = 100; s < 600; s++) {
    uint64_t n = atomic_load_explicit(&c->n[s], memory_order_relaxed);
    if (n) bt_json_printf(out, "%s{code=\"%d\"} %llu\n", name, s, (unsigned long long)n);
  }
}
