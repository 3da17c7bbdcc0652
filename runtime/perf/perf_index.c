#define _GNU_SOURCE /* memrchr */
#include "perf_index.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "log.h"
#include "perf_hash.h"
#include "perf_time.h"

void bt_perf_index_init(bt_perf_index *ix, const char *source, const bt_tz *tz,
                        uint32_t tail_k) {
  memset(ix, 0, sizeof *ix);
  snprintf(ix->source, sizeof ix->source, "%s", source ? source : "");
  ix->tz = tz;
  bt_perf_tz_label(tz, ix->tz_label);
  ix->tail_k = tail_k ? tail_k : 1;
}

void bt_perf_index_reset(bt_perf_index *ix) {
  for (size_t i = 0; i < ix->nfiles; i++) free(ix->files[i].path);
  for (size_t i = 0; i < ix->ndays; i++) free(ix->days[i].tail);
  free(ix->files);
  free(ix->days);
  free(ix->open);
  ix->files = NULL, ix->nfiles = ix->capfiles = 0;
  ix->days = NULL, ix->ndays = ix->capdays = 0;
  ix->open = NULL, ix->nopen = ix->capopen = 0;
  ix->last_hit = 0;
  ix->overflow = false;
  ix->skipped_lines = 0;
}

void bt_perf_index_free(bt_perf_index *ix) { bt_perf_index_reset(ix); }

/* ---- aggregation ----------------------------------------------------------------- */

static inline void acc(bt_perf_index *ix, bt_dec *a, bt_dec b) {
  if (__builtin_add_overflow(a->v, b.v, &a->v)) ix->overflow = true;
}

void bt_perf_streak_combine(bt_perf_streak *a, const bt_perf_streak *b) {
  if (b->n == 0) return;
  if (a->n == 0) {
    *a = *b;
    return;
  }
  bt_perf_streak r;
  r.n = a->n + b->n;
  uint32_t join = a->suf_sign == b->pre_sign ? a->suf_len + b->pre_len : 0;
  r.max_win = a->max_win > b->max_win ? a->max_win : b->max_win;
  r.max_loss = a->max_loss > b->max_loss ? a->max_loss : b->max_loss;
  if (a->suf_sign == 1 && join > r.max_win) r.max_win = join;
  if (a->suf_sign == -1 && join > r.max_loss) r.max_loss = join;
  r.pre_sign = a->pre_sign, r.pre_len = a->pre_len;
  if (a->pre_len == a->n && a->pre_sign != 0 && a->pre_sign == b->pre_sign)
    r.pre_len = a->n + b->pre_len;
  r.suf_sign = b->suf_sign, r.suf_len = b->suf_len;
  if (b->suf_len == b->n && b->suf_sign != 0 && b->suf_sign == a->suf_sign)
    r.suf_len = b->n + a->suf_len;
  *a = r;
}

bool bt_perf_dd_combine(bt_perf_dd *a, const bt_perf_dd *b) {
  bt_dec sum, hi, lo, fall;
  if (!bt_dec_add(a->sum, b->sum, &sum) || !bt_dec_add(a->sum, b->max_pre, &hi) ||
      !bt_dec_add(a->sum, b->min_pre, &lo) || !bt_dec_sub(a->max_pre, lo, &fall))
    return false;
  a->dd = bt_dec_max(bt_dec_max(a->dd, b->dd), fall);
  a->max_pre = bt_dec_max(a->max_pre, hi);
  a->min_pre = bt_dec_min(a->min_pre, lo);
  a->sum = sum;
  return true;
}

size_t bt_perf_index_lower(const bt_perf_index *ix, int64_t day) {
  size_t lo = 0, hi = ix->ndays;
  while (lo < hi) {
    size_t mid = (lo + hi) / 2;
    if (ix->days[mid].day < day) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static bt_perf_day *day_get(bt_perf_index *ix, int64_t day, bt_err *err) {
  if (ix->last_hit < ix->ndays && ix->days[ix->last_hit].day == day) return &ix->days[ix->last_hit];
  size_t i = bt_perf_index_lower(ix, day);
  if (i == ix->ndays || ix->days[i].day != day) {
    if (BT_GROW(ix->days, ix->capdays, ix->ndays + 1))
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"), NULL;
    memmove(&ix->days[i + 1], &ix->days[i], (ix->ndays - i) * sizeof *ix->days);
    ix->ndays++;
    bt_perf_day *d = &ix->days[i];
    memset(d, 0, sizeof *d);
    d->day = day;
    d->tail = calloc(ix->tail_k, sizeof *d->tail);
    if (!d->tail) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory"), NULL;
  }
  ix->last_hit = i;
  return &ix->days[i];
}

static int open_find(const bt_perf_index *ix, uint64_t key) {
  for (size_t i = 0; i < ix->nopen; i++)
    if (ix->open[i].key == key) return (int)i;
  return -1;
}

static uint64_t trade_fp(const bt_perf_trade *t) {
  return bt_perf_mix64(t->key ^ bt_perf_mix64((uint64_t)t->exit_ts ^ ((uint64_t)t->closed << 63)) ^
                       bt_perf_mix64((uint64_t)t->pnl.v) ^
                       bt_perf_mix64((uint64_t)t->risk.v + 0x9e3779b97f4a7c15ULL));
}

int bt_perf_index_add(bt_perf_index *ix, const bt_perf_trade *t, bt_err *err) {
  ix->dirty = true;
  if (!t->closed) {
    int i = t->key ? open_find(ix, t->key) : -1;
    if (i < 0) {
      if (BT_GROW(ix->open, ix->capopen, ix->nopen + 1))
        return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      i = (int)ix->nopen++;
    }
    ix->open[i] = (bt_perf_open_trade){t->key, bt_perf_local_day(t->entry_ts, ix->tz), t->pnl,
                                 trade_fp(t)};
    return 0;
  }
  if (ix->nopen && t->key) {
    int i = open_find(ix, t->key);
    if (i >= 0) ix->open[i] = ix->open[--ix->nopen];
  }
  bt_perf_day *d = day_get(ix, bt_perf_local_day(t->exit_ts, ix->tz), err);
  if (!d) return err->code;
  int s = bt_dec_sign(t->pnl);
  d->trades++;
  if (s > 0) d->wins++, acc(ix, &d->gross_profit, t->pnl);
  else if (s < 0) d->losses++, acc(ix, &d->gross_loss, t->pnl);
  acc(ix, &d->commission, t->commission);
  if (t->has_risk) {
    bt_dec r;
    if (!bt_dec_div(t->pnl, t->risk, &r)) ix->overflow = true;
    else acc(ix, &d->r_sum, r), d->r_trades++;
  }
  bt_perf_streak one = {1, (int8_t)s, (int8_t)s, 1, 1, s > 0, s < 0};
  bt_perf_streak_combine(&d->streak, &one);
  bt_perf_dd dd1 = {t->pnl, bt_dec_max(t->pnl, BT_DEC_ZERO), bt_dec_min(t->pnl, BT_DEC_ZERO),
                    bt_dec_max(bt_dec_neg(t->pnl), BT_DEC_ZERO)};
  if (!bt_perf_dd_combine(&d->dd, &dd1)) ix->overflow = true;
  d->fp += trade_fp(t);
  d->tail[d->tail_pos] = (bt_perf_tail_item){t->pnl, t->has_risk ? t->risk : BT_DEC_ZERO};
  d->tail_pos = (d->tail_pos + 1) % ix->tail_k;
  if (d->tail_n < ix->tail_k) d->tail_n++;
  if (ix->overflow)
    return bt_errf(err, BT_ERANGE, "overflow", "performance sums exceed the decimal range");
  return 0;
}

static void *batch_thread(void *arg) {
  bt_perf_batch_parse(arg);
  return NULL;
}

#define BLOCK_BYTES (4u << 20)

int bt_perf_index_add_buffer(bt_perf_index *ix, const char *buf, size_t len, const char *file,
                             uint64_t first_line, size_t *consumed, uint64_t *nlines,
                             bt_err *err) {
  *consumed = 0, *nlines = 0;
  const char *last = len ? memrchr(buf, '\n', len) : NULL;
  if (!last) return 0; /* only a partial line: left for the next refresh */
  const char *p = buf, *end = last + 1;
  uint64_t line = first_line;
  bt_perf_batch b[2];
  memset(b, 0, sizeof b);
  b[0].strict = b[1].strict = ix->strict;
  b[0].shown = b[1].shown = ix->on_trade != NULL;
  int rc = 0;
  /* Big inputs (a cold start) parse two blocks at a time on two threads; trades are
   * then added in file order, so results do not depend on the split. */
  while (p < end && !rc) {
    int nb = 0;
    for (; nb < 2 && p < end; nb++) {
      const char *q = (size_t)(end - p) > BLOCK_BYTES ? p + BLOCK_BYTES : end;
      if (q < end) q = (const char *)memchr(q - 1, '\n', (size_t)(end - q) + 1) + 1;
      b[nb].p = p, b[nb].e = q, b[nb].file = file, b[nb].first_line = line;
      p = q;
    }
    pthread_t th;
    bool threaded = nb == 2 && pthread_create(&th, NULL, batch_thread, &b[1]) == 0;
    bt_perf_batch_parse(&b[0]);
    if (threaded) pthread_join(th, NULL);
    else if (nb == 2) bt_perf_batch_parse(&b[1]);
    for (int k = 0; k < nb && !rc; k++) {
      for (uint64_t i = 0; i < b[k].skipped; i++) {
        if (i < BT_PERF_SKIP_KEEP) {
          if (ix->skipped_lines < BT_PERF_SKIP_KEEP)
            snprintf(ix->skipped_first[ix->skipped_lines], sizeof ix->skipped_first[0],
                     "%s:%" PRIu64, file, b[k].skip[i].line);
          bt_log("perf", BT_LOG_WARNING, "trade_line_skipped", BT_F_STR("file", file),
                 BT_F_INT("line", b[k].skip[i].line), BT_F_STR("error", b[k].skip[i].why));
        }
        ix->skipped_lines++;
      }
      if (b[k].rc) {
        /* re-parse to report the error with its real line number */
        b[k].first_line = line;
        bt_perf_batch_parse(&b[k]);
        *err = b[k].err;
        rc = b[k].rc ? b[k].rc : BT_EINVAL;
        break;
      }
      for (size_t i = 0; i < b[k].n && !rc; i++) {
        rc = bt_perf_index_add(ix, &b[k].t[i], err);
        if (!rc && ix->on_trade) ix->on_trade(ix->on_trade_ctx, &b[k].t[i], &b[k].x[i]);
      }
      if (rc) break;
      line += b[k].lines;
      *consumed = (size_t)(b[k].e - buf);
      *nlines = line - first_line;
    }
  }
  free(b[0].t);
  free(b[1].t);
  free(b[0].x);
  free(b[1].x);
  return rc;
}

bool bt_perf_index_partial(const bt_perf_index *ix) {
  if (ix->skipped_lines) return true;
  for (size_t i = 0; i < ix->nopen; i++)
    if (ix->open[i].pnl.v == BT_PERF_PNL_UNKNOWN.v) return true;
  for (size_t i = 0; i < ix->nfiles; i++)
    if (ix->files[i].partial) return true;
  return false;
}
