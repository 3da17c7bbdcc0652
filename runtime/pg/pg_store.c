/* pg_store.c - see pg_store.h. */
#include "pg_store.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_schema.h"

typedef struct numbuf {
  char b[24][24];
  int n;
} numbuf;

static const char *num(numbuf *nb, int64_t v) {
  char *p = nb->b[nb->n++ % 24];
  snprintf(p, 24, "%" PRId64, v);
  return p;
}

static int exec_params(bt_pg *pg, const char *sql, int n, const char *const *p, const char *what,
                       bt_err *err) {
  PGresult *r = PQexecParams(bt_pg_conn(pg), sql, n, NULL, p, NULL, NULL, 0);
  ExecStatusType st = PQresultStatus(r);
  int rc = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK ? 0 : bt_pg_fail(pg, r, what, err);
  PQclear(r);
  return rc;
}

/* ---- push ----------------------------------------------------------------------------- */

static const char UPSERT_RUN[] =
    "INSERT INTO backtest_analytics.backtest_runs AS b (run_id, correlation_id, created_at,"
    " config_file, strategy_type, total_return, sharpe_ratio, max_drawdown, total_trades,"
    " event_count, event_storage_path, status, completed_at, user_id, origin, host, pid,"
    " duration_ms, bars, events_stored, events_sampled_out, events_dropped, lineage_gaps,"
    " clock_origin, strategy_path, out_dir, params, data, config, trace_config, metrics, error)"
    " SELECT $1::uuid, $2, to_timestamp($3::bigint / 1000.0), $4, $5,"
    " (m->>'total_return')::float8, (m->>'sharpe')::float8, (m->>'max_drawdown')::float8,"
    " (m->>'trades')::int, $7::bigint, $8, $9,"
    " CASE WHEN $10::bigint > 0 THEN to_timestamp($10::bigint / 1000.0) END, $11, $12, $13,"
    " $14::bigint, $15::bigint, $16::bigint, $17::bigint, $18::bigint, $19::bigint,"
    " $20::bigint, $21::bigint, $22, $23, $24::jsonb, $25::jsonb, $26::jsonb, $27::jsonb, m, $28"
    " FROM (SELECT $6::jsonb AS m) x"
    " ON CONFLICT (run_id) DO UPDATE SET correlation_id = EXCLUDED.correlation_id,"
    " created_at = EXCLUDED.created_at, config_file = EXCLUDED.config_file,"
    " strategy_type = EXCLUDED.strategy_type, total_return = EXCLUDED.total_return,"
    " sharpe_ratio = EXCLUDED.sharpe_ratio, max_drawdown = EXCLUDED.max_drawdown,"
    " total_trades = EXCLUDED.total_trades, event_count = EXCLUDED.event_count,"
    " event_storage_path = coalesce(EXCLUDED.event_storage_path, b.event_storage_path),"
    " status = EXCLUDED.status, completed_at = EXCLUDED.completed_at,"
    " user_id = EXCLUDED.user_id, origin = EXCLUDED.origin, host = EXCLUDED.host,"
    " pid = EXCLUDED.pid, duration_ms = EXCLUDED.duration_ms, bars = EXCLUDED.bars,"
    " events_stored = EXCLUDED.events_stored, events_sampled_out = EXCLUDED.events_sampled_out,"
    " events_dropped = EXCLUDED.events_dropped, lineage_gaps = EXCLUDED.lineage_gaps,"
    " clock_origin = EXCLUDED.clock_origin, strategy_path = EXCLUDED.strategy_path,"
    " out_dir = EXCLUDED.out_dir, params = EXCLUDED.params, data = EXCLUDED.data,"
    " config = EXCLUDED.config, trace_config = EXCLUDED.trace_config,"
    " metrics = EXCLUDED.metrics, error = EXCLUDED.error, updated_at = now(),"
    /* each start of the run (a job run again) counts */
    " attempt = b.attempt + (EXCLUDED.status = 'running')::int";

static int upsert_run(bt_pg *pg, const bt_store_run *r, bool events, const char *config_file,
                      bt_err *err) {
  numbuf nb = {0};
  const char *p[] = {r->run_id,
                     r->correlation_id,
                     num(&nb, r->created_at),
                     config_file && *config_file ? config_file : NULL,
                     r->strategy,
                     r->metrics,
                     num(&nb, (int64_t)r->event_count),
                     events ? "postgresql:btrun.event_chunks" : NULL,
                     r->status,
                     num(&nb, r->completed_at),
                     r->user_id,
                     r->origin,
                     r->host,
                     num(&nb, r->pid),
                     num(&nb, r->duration_ms),
                     num(&nb, (int64_t)r->bars),
                     num(&nb, (int64_t)r->stored),
                     num(&nb, (int64_t)r->sampled_out),
                     num(&nb, (int64_t)r->dropped),
                     num(&nb, (int64_t)r->lineage_gaps),
                     num(&nb, (int64_t)r->clock_origin),
                     r->strategy_path,
                     r->out_dir,
                     r->params,
                     r->data,
                     r->config,
                     r->trace_config,
                     r->error};
  return exec_params(pg, UPSERT_RUN, 28, p, "write run", err);
}

typedef struct push_ctx {
  bt_pg *pg;
  const char *run_id;
  bool chunks_prepared, links_prepared;
} push_ctx;

static int prepare(push_ctx *c, const char *sql, int n, bt_err *err) {
  /* The unnamed statement: replaced by the next one, never left behind on the connection. */
  PGresult *r = PQprepare(bt_pg_conn(c->pg), "", sql, n, NULL);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : bt_pg_fail(c->pg, r, "prepare", err);
  PQclear(r);
  return rc;
}

static int run_binary_last(push_ctx *c, int n, const char *const *p, const uint8_t *blob,
                           size_t len, const char *what, bt_err *err) {
  int lens[16] = {0}, fmts[16] = {0};
  lens[n - 1] = (int)len;
  fmts[n - 1] = 1; /* the blob goes as bytes, not escaped text */
  const char *vals[16];
  memcpy(vals, p, (size_t)(n - 1) * sizeof *p);
  vals[n - 1] = (const char *)blob;
  PGresult *r = PQexecPrepared(bt_pg_conn(c->pg), "", n, vals, lens, fmts, 0);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : bt_pg_fail(c->pg, r, what, err);
  PQclear(r);
  return rc;
}

static int push_chunk(void *ud, const bt_store_raw_chunk *ch, bt_err *err) {
  push_ctx *c = ud;
  if (!c->chunks_prepared) {
    if (prepare(c,
                "INSERT INTO btrun.event_chunks (run_id, stream, first_seq, last_seq, ts_min,"
                " ts_max, n, types, data) VALUES ($1::uuid, $2::smallint, $3::bigint, $4::bigint,"
                " $5::bigint, $6::bigint, $7::int, $8::int, $9::bytea)",
                9, err))
      return err->code;
    c->chunks_prepared = true;
  }
  numbuf nb = {0};
  const char *p[] = {c->run_id,
                     num(&nb, ch->stream),
                     num(&nb, (int64_t)ch->first_seq),
                     num(&nb, (int64_t)ch->last_seq),
                     num(&nb, ch->ts_min),
                     num(&nb, ch->ts_max),
                     num(&nb, ch->n),
                     num(&nb, ch->types)};
  return run_binary_last(c, 9, p, ch->data, ch->len, "write events", err);
}

static int push_links(void *ud, const bt_store_raw_links *l, bt_err *err) {
  push_ctx *c = ud;
  if (!c->links_prepared) {
    if (prepare(c,
                "INSERT INTO btrun.event_links (run_id, bucket, first_seq, data)"
                " VALUES ($1::uuid, $2::bigint, $3::bigint, $4::bytea)",
                4, err))
      return err->code;
    c->links_prepared = true;
  }
  numbuf nb = {0};
  const char *p[] = {c->run_id, num(&nb, (int64_t)l->bucket), num(&nb, (int64_t)l->first_seq)};
  return run_binary_last(c, 4, p, l->data, l->len, "write links", err);
}

static int push_latency(bt_pg *pg, bt_store *local, const bt_store_run *r, bt_err *err) {
  bt_store_latency *ls = NULL;
  size_t n = 0;
  int rc = bt_store_get_latency(local, r->run_no, &ls, &n, err);
  if (!rc)
    rc = exec_params(pg, "DELETE FROM backtest_analytics.event_latencies WHERE run_id = $1::uuid",
                     1, (const char *[]){r->run_id}, "write latency", err);
  for (size_t i = 0; !rc && i < n; i++) {
    char v[4][32];
    snprintf(v[0], sizeof v[0], "%.17g", ls[i].mean_ns / 1e6);
    snprintf(v[1], sizeof v[1], "%.17g", (double)ls[i].p50_ns / 1e6);
    snprintf(v[2], sizeof v[2], "%.17g", (double)ls[i].p95_ns / 1e6);
    snprintf(v[3], sizeof v[3], "%.17g", (double)ls[i].max_ns / 1e6);
    numbuf nb = {0};
    const char *p[] = {r->run_id, ls[i].type, ls[i].metric, v[0], v[1], v[2], v[3],
                       num(&nb, (int64_t)ls[i].count)};
    rc = exec_params(pg,
                     "INSERT INTO backtest_analytics.event_latencies (run_id, event_type, metric,"
                     " mean_latency_ms, p50_latency_ms, p95_latency_ms, max_latency_ms,"
                     " event_count) VALUES ($1::uuid, $2, $3, $4::float8, $5::float8,"
                     " $6::float8, $7::float8, $8::bigint)",
                     8, p, "write latency", err);
  }
  free(ls);
  return rc;
}

int bt_pg_store_push(bt_pg *pg, bt_store *local, const bt_store_run *r, bool events,
                     const char *config_file, bt_err *err) {
  int rc = bt_pg_exec(pg, "BEGIN", err);
  if (!rc) rc = upsert_run(pg, r, events, config_file, err);
  if (!rc && events) {
    const char *id[] = {r->run_id};
    rc = exec_params(pg, "DELETE FROM btrun.event_chunks WHERE run_id = $1::uuid", 1, id,
                     "write events", err);
    if (!rc)
      rc = exec_params(pg, "DELETE FROM btrun.event_links WHERE run_id = $1::uuid", 1, id,
                       "write links", err);
    push_ctx c = {.pg = pg, .run_id = r->run_id};
    bt_store_sink sink = {&c, push_chunk, push_links};
    if (!rc) rc = bt_store_export(local, r->run_no, &sink, err);
    if (!rc) rc = push_latency(pg, local, r, err);
  }
  if (rc) {
    if (!bt_pg_lost(pg)) PQclear(PQexec(bt_pg_conn(pg), "ROLLBACK"));
    return rc;
  }
  return bt_pg_exec(pg, "COMMIT", err);
}

/* ---- pull ----------------------------------------------------------------------------- */

#define RUN_COLS                                                                             \
  "run_id::text, correlation_id, coalesce(strategy_type, ''), status,"                      \
  " (extract(epoch FROM created_at) * 1000)::bigint,"                                       \
  " coalesce((extract(epoch FROM completed_at) * 1000)::bigint, 0), coalesce(duration_ms, 0),"\
  " coalesce(pid, 0), coalesce(bars, 0), coalesce(event_count, 0), coalesce(events_stored, 0)," \
  " coalesce(events_sampled_out, 0), coalesce(events_dropped, 0), coalesce(lineage_gaps, 0),"  \
  " coalesce(clock_origin, 0), strategy_path, origin, user_id, params::text, data::text,"     \
  " config::text, trace_config::text, out_dir, metrics::text, error, host"

static char *val(const PGresult *r, int row, int col) {
  return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

static int64_t ival(const PGresult *r, int row, int col) {
  return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

/* A row of RUN_COLS as a bt_store_run whose strings point into r. */
static void run_of(const PGresult *r, int row, bt_store_run *out) {
  memset(out, 0, sizeof *out);
  snprintf(out->run_id, sizeof out->run_id, "%s", PQgetvalue(r, row, 0));
  snprintf(out->correlation_id, sizeof out->correlation_id, "%s", PQgetvalue(r, row, 1));
  snprintf(out->strategy, sizeof out->strategy, "%s", PQgetvalue(r, row, 2));
  snprintf(out->status, sizeof out->status, "%s", PQgetvalue(r, row, 3));
  out->created_at = ival(r, row, 4);
  out->completed_at = ival(r, row, 5);
  out->duration_ms = ival(r, row, 6);
  out->pid = ival(r, row, 7);
  uint64_t *u[] = {&out->bars, &out->event_count, &out->stored, &out->sampled_out,
                   &out->dropped, &out->lineage_gaps, &out->clock_origin};
  for (int i = 0; i < 7; i++) *u[i] = (uint64_t)ival(r, row, 8 + i);
  char **s[] = {&out->strategy_path, &out->origin, &out->user_id, &out->params, &out->data,
                &out->config, &out->trace_config, &out->out_dir, &out->metrics, &out->error,
                &out->host};
  for (int i = 0; i < 11; i++) *s[i] = val(r, row, 15 + i);
}

static uint64_t be(const char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | (uint8_t)p[i];
  return v;
}

/* Rows of a binary-format query, one at a time (a run's events need not fit in memory
 * twice). row returns non-zero to stop. */
static int each_row(bt_pg *pg, const char *sql, const char *run_id, const char *what,
                    int (*row)(void *ud, const PGresult *r, bt_err *err), void *ud,
                    bt_err *err) {
  PGconn *c = bt_pg_conn(pg);
  const char *p[] = {run_id};
  if (!PQsendQueryParams(c, sql, 1, NULL, p, NULL, NULL, 1) || !PQsetSingleRowMode(c))
    return bt_pg_fail(pg, NULL, what, err);
  int rc = 0;
  for (PGresult *r; (r = PQgetResult(c));) {
    ExecStatusType st = PQresultStatus(r);
    if (!rc && st == PGRES_SINGLE_TUPLE) rc = row(ud, r, err);
    else if (!rc && st != PGRES_TUPLES_OK) rc = bt_pg_fail(pg, r, what, err);
    PQclear(r); /* drained to the end, also after an error */
  }
  return rc;
}

typedef struct pull_ctx {
  bt_store *cache;
  int64_t run_no;
} pull_ctx;

static int pull_chunk(void *ud, const PGresult *r, bt_err *err) {
  pull_ctx *c = ud;
  bt_store_raw_chunk ch = {.stream = (int)(int16_t)be(PQgetvalue(r, 0, 0), 2),
                           .first_seq = be(PQgetvalue(r, 0, 1), 8),
                           .last_seq = be(PQgetvalue(r, 0, 2), 8),
                           .ts_min = (int64_t)be(PQgetvalue(r, 0, 3), 8),
                           .ts_max = (int64_t)be(PQgetvalue(r, 0, 4), 8),
                           .n = (uint32_t)be(PQgetvalue(r, 0, 5), 4),
                           .types = (uint32_t)be(PQgetvalue(r, 0, 6), 4),
                           .data = (const uint8_t *)PQgetvalue(r, 0, 7),
                           .len = (size_t)PQgetlength(r, 0, 7)};
  return bt_store_import_chunk(c->cache, c->run_no, &ch, err);
}

static int pull_link(void *ud, const PGresult *r, bt_err *err) {
  pull_ctx *c = ud;
  bt_store_raw_links l = {.bucket = be(PQgetvalue(r, 0, 0), 8),
                          .first_seq = be(PQgetvalue(r, 0, 1), 8),
                          .data = (const uint8_t *)PQgetvalue(r, 0, 2),
                          .len = (size_t)PQgetlength(r, 0, 2)};
  return bt_store_import_links(c->cache, c->run_no, &l, err);
}

static int pull_latency(bt_pg *pg, const char *run_id, bt_store *cache, int64_t run_no,
                        bt_err *err) {
  PGresult *r = bt_pg_query(pg,
                            "SELECT event_type, metric, event_count, mean_latency_ms,"
                            " coalesce(p50_latency_ms, 0), p95_latency_ms, max_latency_ms"
                            " FROM backtest_analytics.event_latencies WHERE run_id = $1::uuid",
                            1, (const char *[]){run_id}, err);
  if (!r) return err->code;
  int rc = 0;
  for (int i = 0; !rc && i < PQntuples(r); i++) {
    bt_store_latency l = {0};
    snprintf(l.type, sizeof l.type, "%s", PQgetvalue(r, i, 0));
    snprintf(l.metric, sizeof l.metric, "%s", PQgetvalue(r, i, 1));
    l.count = (uint64_t)ival(r, i, 2);
    l.mean_ns = strtod(PQgetvalue(r, i, 3), NULL) * 1e6;
    l.p50_ns = (uint64_t)llround(strtod(PQgetvalue(r, i, 4), NULL) * 1e6);
    l.p95_ns = (uint64_t)llround(strtod(PQgetvalue(r, i, 5), NULL) * 1e6);
    l.max_ns = (uint64_t)llround(strtod(PQgetvalue(r, i, 6), NULL) * 1e6);
    rc = bt_store_put_latency(cache, run_no, &l, err);
  }
  PQclear(r);
  return rc;
}

/* One run's row, and its events when events, into cache. */
static int pull_run(bt_pg *pg, const PGresult *rows, int row, bool events, bt_store *cache,
                    bt_err *err) {
  bt_store_run run;
  run_of(rows, row, &run);
  pull_ctx c = {.cache = cache};
  int rc = bt_store_import_run(cache, &run, &c.run_no, err);
  if (rc) return rc;
  rc = bt_store_begin(cache, err);
  if (!rc && events)
    rc = each_row(pg,
                  "SELECT stream, first_seq, last_seq, ts_min, ts_max, n, types, data"
                  " FROM btrun.event_chunks WHERE run_id = $1::uuid ORDER BY stream, first_seq",
                  run.run_id, "read events", pull_chunk, &c, err);
  if (!rc && events)
    rc = each_row(pg,
                  "SELECT bucket, first_seq, data FROM btrun.event_links WHERE run_id = $1::uuid"
                  " ORDER BY bucket, first_seq",
                  run.run_id, "read links", pull_link, &c, err);
  if (!rc) rc = pull_latency(pg, run.run_id, cache, c.run_no, err);
  int crc = bt_store_commit(cache, err);
  return rc ? rc : crc;
}

static bool id_ok(const char *id) {
  if (strlen(id) < 4 || strlen(id) > 36) return false;
  for (const char *p = id; *p; p++)
    if (!strchr("0123456789abcdefABCDEF-", *p)) return false;
  return true;
}

int bt_pg_store_pull(bt_pg *pg, const char *id, const char *correlation, int limit,
                     bool events, bt_store *cache, bt_err *err) {
  PGresult *r;
  if (id) {
    if (!id_ok(id))
      return bt_errf(err, BT_EINVAL, "not_found", "no run '%s' in %s (run ids are UUIDs)", id,
                     bt_pg_url(pg));
    r = bt_pg_query(pg,
                    "SELECT " RUN_COLS " FROM backtest_analytics.backtest_runs"
                    " WHERE run_id::text LIKE lower($1) || '%' ORDER BY run_id LIMIT 2",
                    1, (const char *[]){id}, err);
  } else {
    char lim[24];
    snprintf(lim, sizeof lim, "%d", limit);
    /* oldest first into the cache, so that its newest-first listing keeps their order */
    r = bt_pg_query(pg,
                    "SELECT * FROM (SELECT " RUN_COLS ", created_at AS t"
                    " FROM backtest_analytics.backtest_runs"
                    " WHERE $1::text IS NULL OR correlation_id = $1"
                    " ORDER BY created_at DESC LIMIT nullif($2::int, 0)) x ORDER BY t",
                    2, (const char *[]){correlation, lim}, err);
  }
  if (!r) return err->code;
  int n = PQntuples(r), rc = 0;
  if (id && n == 0)
    rc = bt_errf(err, BT_EINVAL, "not_found", "no run '%s' in %s", id, bt_pg_url(pg));
  else if (id && n > 1 && strcmp(PQgetvalue(r, 0, 0), id) != 0)
    rc = bt_errf(err, BT_EINVAL, "usage_error", "run id '%s' is ambiguous: give more characters",
                 id);
  for (int i = 0; !rc && i < (id ? 1 : n); i++) rc = pull_run(pg, r, i, events, cache, err);
  PQclear(r);
  return rc;
}

/* ---- the CLI's remote ----------------------------------------------------------------- */

static int remote_fetch(const char *url, const char *id, const char *correlation, int limit,
                        bool events, bt_store *cache, bt_err *err) {
  bt_pg *pg = NULL;
  int rc = bt_pg_open(&pg, url, err);
  if (!rc) rc = bt_pg_migrate(pg, NULL, err); /* a new database reads as one without runs */
  if (!rc) rc = bt_pg_store_pull(pg, id, correlation, limit, events, cache, err);
  bt_pg_close(pg);
  return rc;
}

const bt_store_remote bt_pg_store_remote = {.handles = bt_pg_is_url, .fetch = remote_fetch};
