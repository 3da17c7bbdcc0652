/* store_runs.c - the event store's rows about runs: a run's row written when it starts
 * and ends, found by id or prefix, listed, sized; its latency rows (store.h). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "store_internal.h"

static char *col_dup(sqlite3_stmt *st, int i) {
  const unsigned char *t = sqlite3_column_text(st, i);
  return t ? strdup((const char *)t) : NULL;
}

/* ---- runs ---------------------------------------------------------------------- */

/* Deletes the rows of run_id (an earlier attempt of a job run again); its segment file
 * stays and the new attempt appends after it (its process may not be quite gone). */
static int drop_attempt(bt_store *s, const char *run_id, bt_err *err) {
  static const char *const del[] = {
      "DELETE FROM chunks WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM links WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM latency WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM runs WHERE run_id = ?"};
  for (size_t d = 0; d < 4; d++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) return store_db_err(s, err, "replace run");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "replace run");
    sqlite3_finalize(st);
    if (rc) return rc;
  }
  return 0;
}

static int insert_run(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                      uint64_t clock_origin, int64_t *run_no, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "INSERT INTO runs(run_id, correlation_id, created_at, strategy,"
                         " strategy_path, origin, user_id, params, data, config, trace_config,"
                         " out_dir, status, pid, host, clock_origin, bars, event_count,"
                         " events_stored, events_sampled_out, events_dropped, lineage_gaps)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,'running',?,?,?,0,0,0,0,0,0)",
                         -1, &st, NULL))
    return store_db_err(s, err, "insert run");
  sqlite3_bind_text(st, 1, info->run_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_text(st, 2, info->correlation_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 3, info->started_ms);
  store_bind_text(st, 4, info->strategy_id);
  store_bind_text(st, 5, info->strategy_path);
  store_bind_text(st, 6, info->origin);
  store_bind_text(st, 7, info->user_id);
  store_bind_text(st, 8, info->params_json);
  store_bind_text(st, 9, info->data_json);
  store_bind_text(st, 10, info->config_json);
  store_bind_text(st, 11, trace_config_json);
  store_bind_text(st, 12, info->out_dir);
  sqlite3_bind_int64(st, 13, (int64_t)getpid());
  sqlite3_bind_text(st, 14, s->host, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 15, (int64_t)clock_origin);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "insert run");
  sqlite3_finalize(st);
  if (!rc) *run_no = sqlite3_last_insert_rowid(s->db);
  return rc;
}

int bt_store_run_begin(bt_store *s, const bt_run_info *info, const char *trace_config_json,
                       uint64_t clock_origin, int64_t *run_no, bt_err *err) {
  bool own_tx = sqlite3_get_autocommit(s->db) != 0;
  int rc = own_tx ? store_exec(s, "BEGIN IMMEDIATE", err) : 0;
  if (!rc) rc = drop_attempt(s, info->run_id, err);
  if (!rc) rc = insert_run(s, info, trace_config_json, clock_origin, run_no, err);
  if (own_tx) rc = rc ? (store_exec(s, "ROLLBACK", NULL), rc) : store_exec(s, "COMMIT", err);
  return rc;
}

int bt_store_run_finish(bt_store *s, int64_t run_no, const bt_store_run_end *e, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "UPDATE runs SET status = ?, completed_at = ?, duration_ms = ?,"
                         " metrics = ?, error = ?, bars = ?, event_count = ?, events_stored = ?,"
                         " events_sampled_out = ?, events_dropped = ?, lineage_gaps = ?"
                         " WHERE run_no = ?",
                         -1, &st, NULL))
    return store_db_err(s, err, "update run");
  sqlite3_bind_text(st, 1, e->status, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, e->completed_at);
  sqlite3_bind_int64(st, 3, e->duration_ms);
  store_bind_text(st, 4, e->metrics_json);
  store_bind_text(st, 5, e->error);
  sqlite3_bind_int64(st, 6, (int64_t)e->bars);
  sqlite3_bind_int64(st, 7, (int64_t)e->event_count);
  sqlite3_bind_int64(st, 8, (int64_t)e->stored);
  sqlite3_bind_int64(st, 9, (int64_t)e->sampled_out);
  sqlite3_bind_int64(st, 10, (int64_t)e->dropped);
  sqlite3_bind_int64(st, 11, (int64_t)e->lineage_gaps);
  sqlite3_bind_int64(st, 12, run_no);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "update run");
  sqlite3_finalize(st);
  return rc;
}

void bt_store_run_clear(bt_store_run *r) {
  char **p[] = {&r->strategy_path, &r->origin, &r->user_id, &r->params, &r->data, &r->config,
                &r->trace_config, &r->out_dir, &r->metrics, &r->error, &r->host};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) free(*p[i]);
  memset(r, 0, sizeof *r);
}

void store_read_run(bt_store *s, sqlite3_stmt *st, bt_store_run *r) {
  memset(r, 0, sizeof *r);
  r->run_no = sqlite3_column_int64(st, 0);
  store_col_copy(st, 1, r->run_id, sizeof r->run_id);
  store_col_copy(st, 2, r->correlation_id, sizeof r->correlation_id);
  store_col_copy(st, 3, r->strategy, sizeof r->strategy);
  store_col_copy(st, 4, r->status, sizeof r->status);
  r->created_at = sqlite3_column_int64(st, 5);
  r->completed_at = sqlite3_column_int64(st, 6);
  r->duration_ms = sqlite3_column_int64(st, 7);
  r->pid = sqlite3_column_int64(st, 8);
  uint64_t *u[] = {&r->bars, &r->event_count, &r->stored, &r->sampled_out, &r->dropped,
                   &r->lineage_gaps, &r->clock_origin};
  for (int i = 0; i < 7; i++) *u[i] = (uint64_t)sqlite3_column_int64(st, 9 + i);
  char **p[] = {&r->strategy_path, &r->origin, &r->user_id, &r->params, &r->data, &r->config,
                &r->trace_config, &r->out_dir, &r->metrics, &r->error, &r->host};
  for (int i = 0; i < 11; i++) *p[i] = col_dup(st, 16 + i);
  /* "running" is only true while the writing process lives; on this host we can tell. */
  if (strcmp(r->status, "running") == 0) {
    bool same_host = r->host && strcmp(r->host, s->host) == 0;
    bool alive = same_host && r->pid > 0 && (kill((pid_t)r->pid, 0) == 0 || errno == EPERM);
    r->incomplete = same_host && !alive;
  }
}

int bt_store_find_run(bt_store *s, const char *id, bt_store_run *out, bt_err *err) {
  if (strcmp(id, "latest") == 0) { /* the newest run (the highest run number) */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC LIMIT 1",
                           -1, &st, NULL))
      return store_db_err(s, err, "find run");
    bool found = sqlite3_step(st) == SQLITE_ROW;
    if (found) store_read_run(s, st, out);
    sqlite3_finalize(st);
    return found ? 0 : bt_errf(err, BT_EINVAL, "not_found", "no runs in %s", s->path);
  }
  size_t len = strlen(id);
  if (len < 4)
    return bt_errf(err, BT_EINVAL, "usage_error", "run id '%s': give at least 4 characters",
                   id);
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT " RUN_COLS " FROM runs WHERE run_id >= ?1 AND run_id < ?1 || "
                         "char(1114111) ORDER BY run_id LIMIT 2",
                         -1, &st, NULL))
    return store_db_err(s, err, "find run");
  sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
  int n = 0, rc = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (n++ == 0) store_read_run(s, st, out);
  }
  sqlite3_finalize(st);
  if (n == 0) rc = bt_errf(err, BT_EINVAL, "not_found", "no run '%s' in %s", id, s->path);
  else if (n > 1 && strcmp(out->run_id, id) != 0) {
    bt_store_run_clear(out);
    rc = bt_errf(err, BT_EINVAL, "usage_error", "run id '%s' is ambiguous: give more characters",
                 id);
  }
  return rc;
}

int bt_store_run_id_prefix(bt_store *s, const char *run_id, size_t min, size_t *len,
                           bt_err *err) {
  /* the ids next to it in sort order are the ones sharing the longest prefix */
  static const char *const sql[] = {
      "SELECT run_id FROM runs WHERE run_id < ?1 ORDER BY run_id DESC LIMIT 1",
      "SELECT run_id FROM runs WHERE run_id > ?1 ORDER BY run_id LIMIT 1"};
  size_t n = strlen(run_id), need = min < n ? min : n;
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, sql[k], -1, &st, NULL)) return store_db_err(s, err, "run id");
    sqlite3_bind_text(st, 1, run_id, -1, SQLITE_STATIC);
    if (sqlite3_step(st) == SQLITE_ROW) {
      const char *o = (const char *)sqlite3_column_text(st, 0);
      size_t c = 0;
      while (o && c < n && o[c] == run_id[c]) c++;
      if (c + 1 > need) need = c + 1 <= n ? c + 1 : n;
    }
    sqlite3_finalize(st);
  }
  *len = need;
  return 0;
}

int bt_store_run_size(bt_store *s, int64_t run_no, const char *run_id, uint64_t *bytes,
                      bt_err *err) {
  /* the run's segment file, plus what it holds inside SQLite: links, and the chunk
   * bytes of a schema 2 store (inline). Index rows are not counted (a few % of it). */
  char path[1200];
  struct stat st;
  *bytes = 0;
  if (store_run_id_ok(run_id)) {
    store_seg_path(s, run_id, path, sizeof path);
    if (stat(path, &st) == 0) *bytes += (uint64_t)st.st_size;
  }
  static const char *const sql[] = {
      "SELECT coalesce(sum(length(data)), 0) FROM links WHERE run = ?1",
      "SELECT coalesce(sum(length(data)), 0) FROM chunks WHERE run = ?1"};
  for (int k = 0; k < 2; k++) {
    sqlite3_stmt *q;
    if (sqlite3_prepare_v2(s->db, sql[k], -1, &q, NULL)) return store_db_err(s, err, "run size");
    sqlite3_bind_int64(q, 1, run_no);
    if (sqlite3_step(q) == SQLITE_ROW) *bytes += (uint64_t)sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
  }
  return 0;
}

uint64_t bt_store_disk_size(const char *path) {
  char p[1200];
  struct stat st;
  uint64_t total = 0;
  const char *const ext[] = {"", "-wal", "-shm"};
  for (int i = 0; i < 3; i++) {
    snprintf(p, sizeof p, "%s%s", path, ext[i]);
    if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
  }
  snprintf(p, sizeof p, "%s.chunks", path);
  DIR *d = opendir(p);
  for (struct dirent *e; d && (e = readdir(d));) {
    char f[1500];
    snprintf(f, sizeof f, "%s/%s", p, e->d_name);
    if (e->d_name[0] != '.' && stat(f, &st) == 0 && S_ISREG(st.st_mode))
      total += (uint64_t)st.st_size;
  }
  if (d) closedir(d);
  return total;
}

int bt_store_list_runs(bt_store *s, const char *correlation_id, int limit, bt_store_run_fn fn,
                       void *ud, bt_err *err) {
  sqlite3_stmt *st;
  const char *sql =
      correlation_id
          ? "SELECT " RUN_COLS " FROM runs WHERE correlation_id = ?1 ORDER BY run_no DESC LIMIT ?2"
          : "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC LIMIT ?2";
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) return store_db_err(s, err, "list runs");
  if (correlation_id) sqlite3_bind_text(st, 1, correlation_id, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    bt_store_run r;
    store_read_run(s, st, &r);
    int stop = fn(ud, &r);
    bt_store_run_clear(&r);
    if (stop) break;
  }
  if (step != SQLITE_ROW && step != SQLITE_DONE) rc = store_db_err(s, err, "list runs");
  sqlite3_finalize(st);
  return rc;
}

/* ---- latency ------------------------------------------------------------------- */

int bt_store_put_latency(bt_store *s, int64_t run_no, const bt_store_latency *l, bt_err *err) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "INSERT OR REPLACE INTO latency VALUES(?,?,?,?,?,?,?,?)", -1,
                         &st, NULL))
    return store_db_err(s, err, "insert latency");
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_text(st, 2, l->type, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, l->metric, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, (int64_t)l->count);
  sqlite3_bind_double(st, 5, l->mean_ns);
  sqlite3_bind_int64(st, 6, (int64_t)l->p50_ns);
  sqlite3_bind_int64(st, 7, (int64_t)l->p95_ns);
  sqlite3_bind_int64(st, 8, (int64_t)l->max_ns);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "insert latency");
  sqlite3_finalize(st);
  return rc;
}

int bt_store_get_latency(bt_store *s, int64_t run_no, bt_store_latency **out, size_t *n,
                         bt_err *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT type, metric, count, mean_ns, p50_ns, p95_ns, max_ns FROM latency"
                         " WHERE run = ? ORDER BY type, metric",
                         -1, &st, NULL))
    return store_db_err(s, err, "latency");
  sqlite3_bind_int64(st, 1, run_no);
  size_t cap = 0;
  int rc = 0, step;
  while ((step = sqlite3_step(st)) == SQLITE_ROW) {
    if (BT_GROW(*out, cap, *n + 1)) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    bt_store_latency *l = &(*out)[(*n)++];
    store_col_copy(st, 0, l->type, sizeof l->type);
    store_col_copy(st, 1, l->metric, sizeof l->metric);
    l->count = (uint64_t)sqlite3_column_int64(st, 2);
    l->mean_ns = sqlite3_column_double(st, 3);
    l->p50_ns = (uint64_t)sqlite3_column_int64(st, 4);
    l->p95_ns = (uint64_t)sqlite3_column_int64(st, 5);
    l->max_ns = (uint64_t)sqlite3_column_int64(st, 6);
  }
  if (!rc && step != SQLITE_DONE) rc = store_db_err(s, err, "latency");
  sqlite3_finalize(st);
  return rc;
}
