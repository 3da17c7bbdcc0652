/* store_copy.c - a run's rows as stored, out of one store and into another (store.h,
 * "copying a run between stores"): how a shared database keeps runs byte for byte. */
#include <stdio.h>
#include <stdlib.h>

#include "store_internal.h"


int bt_store_export(bt_store *s, int64_t run_no, const bt_store_sink *sink, bt_err *err) {
  char sql[256];
  snprintf(sql, sizeof sql,
           "SELECT stream, first_seq, last_seq, ts_min, ts_max, n, types, %s FROM chunks"
           " WHERE run = ? ORDER BY stream, first_seq",
           BLOB_COLS(s));
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL)) return store_db_err(s, err, "export events");
  sqlite3_bind_int64(st, 1, run_no);
  rbuf b = {0};
  int rc = 0, step = SQLITE_DONE;
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    bt_store_raw_chunk c = {.stream = sqlite3_column_int(st, 0),
                            .first_seq = (uint64_t)sqlite3_column_int64(st, 1),
                            .last_seq = (uint64_t)sqlite3_column_int64(st, 2),
                            .ts_min = sqlite3_column_int64(st, 3),
                            .ts_max = sqlite3_column_int64(st, 4),
                            .n = (uint32_t)sqlite3_column_int64(st, 5),
                            .types = (uint32_t)sqlite3_column_int64(st, 6)};
    int len = 0;
    rc = store_chunk_blob(s, st, 7, run_no, &b, &c.data, &len, err);
    c.len = (size_t)len;
    if (!rc) rc = sink->chunk(sink->ud, &c, err);
  }
  if (!rc && step != SQLITE_DONE) rc = store_db_err(s, err, "export events");
  sqlite3_finalize(st);
  free(b.p);
  if (rc) return rc;
  if (sqlite3_prepare_v2(s->db,
                         "SELECT bucket, first_seq, data FROM links WHERE run = ?"
                         " ORDER BY bucket, first_seq",
                         -1, &st, NULL))
    return store_db_err(s, err, "export links");
  sqlite3_bind_int64(st, 1, run_no);
  while (!rc && (step = sqlite3_step(st)) == SQLITE_ROW) {
    bt_store_raw_links l = {.bucket = (uint64_t)sqlite3_column_int64(st, 0),
                            .first_seq = (uint64_t)sqlite3_column_int64(st, 1),
                            .data = sqlite3_column_blob(st, 2),
                            .len = (size_t)sqlite3_column_bytes(st, 2)};
    rc = sink->links(sink->ud, &l, err);
  }
  if (!rc && step != SQLITE_DONE) rc = store_db_err(s, err, "export links");
  sqlite3_finalize(st);
  return rc;
}

int bt_store_import_run(bt_store *s, const bt_store_run *r, int64_t *run_no, bt_err *err) {
  static const char *const del[] = {
      "DELETE FROM chunks WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM links WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM latency WHERE run IN (SELECT run_no FROM runs WHERE run_id = ?)",
      "DELETE FROM runs WHERE run_id = ?"};
  int rc = store_exec(s, "BEGIN IMMEDIATE", err);
  for (size_t d = 0; !rc && d < sizeof del / sizeof del[0]; d++) {
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) {
      rc = store_db_err(s, err, "import run");
      break;
    }
    sqlite3_bind_text(st, 1, r->run_id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "import run");
    sqlite3_finalize(st);
  }
  sqlite3_stmt *st = NULL;
  if (!rc && sqlite3_prepare_v2(s->db,
                                "INSERT INTO runs(run_id, correlation_id, strategy, status,"
                                " created_at, completed_at, duration_ms, pid, bars, event_count,"
                                " events_stored, events_sampled_out, events_dropped,"
                                " lineage_gaps, clock_origin, strategy_path, origin, user_id,"
                                " params, data, config, trace_config, out_dir, metrics, error,"
                                " host) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                -1, &st, NULL))
    rc = store_db_err(s, err, "import run");
  if (!rc) {
    sqlite3_bind_text(st, 1, r->run_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, r->correlation_id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, r->strategy, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, r->status, -1, SQLITE_TRANSIENT);
    const int64_t ints[] = {r->created_at,          r->completed_at,        r->duration_ms,
                            r->pid,                 (int64_t)r->bars,       (int64_t)r->event_count,
                            (int64_t)r->stored,     (int64_t)r->sampled_out, (int64_t)r->dropped,
                            (int64_t)r->lineage_gaps, (int64_t)r->clock_origin};
    for (int i = 0; i < 11; i++) sqlite3_bind_int64(st, 5 + i, ints[i]);
    const char *texts[] = {r->strategy_path, r->origin, r->user_id,      r->params,
                           r->data,          r->config, r->trace_config, r->out_dir,
                           r->metrics,       r->error,  r->host};
    for (int i = 0; i < 11; i++) store_bind_text(st, 16 + i, texts[i]);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "import run");
    if (!rc) *run_no = sqlite3_last_insert_rowid(s->db);
  }
  sqlite3_finalize(st);
  if (rc) {
    store_exec(s, "ROLLBACK", &(bt_err){0});
    return rc;
  }
  return store_exec(s, "COMMIT", err);
}

int bt_store_import_chunk(bt_store *s, int64_t run_no, const bt_store_raw_chunk *c, bt_err *err) {
  if (s->version < 3)
    return bt_errf(err, BT_ESTATE, "store_error", "%s: a version 2 store is read-only", s->path);
  uint64_t off;
  int rc = store_seg_append(s, run_no, c->data, c->len, &off, err);
  if (rc) return rc;
  sqlite3_stmt *st = s->st[ST_INS_CHUNK];
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int(st, 2, c->stream);
  sqlite3_bind_int64(st, 3, (int64_t)c->first_seq);
  sqlite3_bind_int64(st, 4, (int64_t)c->last_seq);
  sqlite3_bind_int64(st, 5, c->ts_min);
  sqlite3_bind_int64(st, 6, c->ts_max);
  sqlite3_bind_int64(st, 7, (int64_t)c->n);
  sqlite3_bind_int64(st, 8, (int64_t)c->types);
  sqlite3_bind_int64(st, 9, (int64_t)off);
  sqlite3_bind_int64(st, 10, (int64_t)c->len);
  rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "import events");
  sqlite3_reset(st);
  return rc;
}

int bt_store_import_links(bt_store *s, int64_t run_no, const bt_store_raw_links *l, bt_err *err) {
  sqlite3_stmt *st = s->st[ST_INS_LINKS];
  sqlite3_bind_int64(st, 1, run_no);
  sqlite3_bind_int64(st, 2, (int64_t)l->bucket);
  sqlite3_bind_int64(st, 3, (int64_t)l->first_seq);
  sqlite3_bind_blob(st, 4, l->data, (int)l->len, SQLITE_STATIC);
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : store_db_err(s, err, "import links");
  sqlite3_reset(st);
  return rc;
}
