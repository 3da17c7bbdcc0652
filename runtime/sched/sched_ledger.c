#include "sched_ledger.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grow.h"
#include "perf_time.h"

struct bt_sched_ledger {
  sqlite3 *db;
};

static int db_err(bt_sched_ledger *l, bt_err *err, const char *what) {
  return bt_errf(err, BT_EIO, "ledger_error", "schedules ledger: %s: %s", what,
                 l->db ? sqlite3_errmsg(l->db) : "cannot open");
}

static const char schema[] =
    "PRAGMA journal_mode=WAL;"
    "CREATE TABLE IF NOT EXISTS fires("
    " schedule TEXT NOT NULL, fire_ms INTEGER NOT NULL, kind TEXT NOT NULL,"
    " origin TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '', state TEXT NOT NULL,"
    " outcome TEXT NOT NULL DEFAULT '', detail TEXT NOT NULL DEFAULT '{}',"
    " owner TEXT NOT NULL DEFAULT '', created_ms INTEGER NOT NULL,"
    " finished_ms INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(schedule, fire_ms));"
    "CREATE TABLE IF NOT EXISTS cursors(schedule TEXT PRIMARY KEY, upto_ms INTEGER NOT NULL);";

int bt_sched_ledger_open(const char *path, bt_sched_ledger **out, bt_err *err) {
  *out = NULL;
  bt_sched_ledger *l = calloc(1, sizeof *l);
  if (!l) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  if (sqlite3_open_v2(path, &l->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      NULL) != SQLITE_OK) {
    int rc = db_err(l, err, path);
    bt_sched_ledger_close(l);
    return rc;
  }
  /* Schedulers in several processes write here: wait for each other's short writes. */
  sqlite3_busy_timeout(l->db, 10000);
  if (sqlite3_exec(l->db, schema, NULL, NULL, NULL) != SQLITE_OK) {
    int rc = db_err(l, err, path);
    bt_sched_ledger_close(l);
    return rc;
  }
  *out = l;
  return 0;
}

void bt_sched_ledger_close(bt_sched_ledger *l) {
  if (!l) return;
  sqlite3_close(l->db);
  free(l);
}

static int prep(bt_sched_ledger *l, const char *sql, sqlite3_stmt **st, bt_err *err) {
  if (sqlite3_prepare_v2(l->db, sql, -1, st, NULL) != SQLITE_OK) return db_err(l, err, "prepare");
  return 0;
}

int bt_sched_ledger_cursor(bt_sched_ledger *l, const char *schedule, int64_t *upto_ms,
                           bool *found, bt_err *err) {
  sqlite3_stmt *st;
  if (prep(l, "SELECT upto_ms FROM cursors WHERE schedule = ?", &st, err)) return err->code;
  sqlite3_bind_text(st, 1, schedule, -1, SQLITE_STATIC);
  int r = sqlite3_step(st);
  *found = r == SQLITE_ROW;
  if (*found) *upto_ms = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  return r == SQLITE_ROW || r == SQLITE_DONE ? 0 : db_err(l, err, "cursor");
}

int bt_sched_ledger_advance(bt_sched_ledger *l, const char *schedule, int64_t upto_ms,
                            bt_err *err) {
  sqlite3_stmt *st;
  if (prep(l,
           "INSERT INTO cursors(schedule, upto_ms) VALUES(?1, ?2) ON CONFLICT(schedule) "
           "DO UPDATE SET upto_ms = max(upto_ms, excluded.upto_ms)",
           &st, err))
    return err->code;
  sqlite3_bind_text(st, 1, schedule, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, upto_ms);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : db_err(l, err, "advance");
}

int bt_sched_ledger_claim(bt_sched_ledger *l, const bt_sched_fire *f, bool *claimed,
                          bt_err *err) {
  sqlite3_stmt *st;
  if (prep(l,
           "INSERT OR IGNORE INTO fires(schedule, fire_ms, kind, origin, run_id, state, outcome,"
           " detail, owner, created_ms, finished_ms) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
           &st, err))
    return err->code;
  sqlite3_bind_text(st, 1, f->schedule, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, f->fire_ms);
  sqlite3_bind_text(st, 3, f->kind, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 4, f->origin, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 5, f->run_id, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 6, f->state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 7, f->outcome, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 8, f->detail[0] ? f->detail : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 9, f->owner, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 10, f->created_ms);
  sqlite3_bind_int64(st, 11, f->finished_ms);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return db_err(l, err, "claim");
  *claimed = sqlite3_changes(l->db) == 1;
  return 0;
}

int bt_sched_ledger_finish(bt_sched_ledger *l, const char *schedule, int64_t fire_ms,
                           const char *state, const char *outcome, const char *detail,
                           int64_t finished_ms, bt_err *err) {
  sqlite3_stmt *st;
  if (prep(l,
           "UPDATE fires SET state = ?, outcome = ?, detail = ?, finished_ms = ?"
           " WHERE schedule = ? AND fire_ms = ?",
           &st, err))
    return err->code;
  sqlite3_bind_text(st, 1, state, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, outcome ? outcome : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, detail && *detail ? detail : "{}", -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, finished_ms);
  sqlite3_bind_text(st, 5, schedule, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 6, fire_ms);
  int r = sqlite3_step(st);
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : db_err(l, err, "finish");
}

cJSON *bt_sched_fire_json(const bt_sched_fire *f) {
  char when[32];
  bt_format_time(f->fire_ms / 1000, when);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "schedule", f->schedule);
  cJSON_AddStringToObject(o, "fire_time", when);
  cJSON_AddStringToObject(o, "kind", f->kind);
  cJSON_AddStringToObject(o, "origin", f->origin);
  cJSON_AddStringToObject(o, "state", f->state);
  cJSON_AddStringToObject(o, "outcome", f->outcome);
  cJSON_AddStringToObject(o, "run_id", f->run_id);
  cJSON_AddStringToObject(o, "owner", f->owner);
  cJSON *d = cJSON_Parse(f->detail);
  cJSON_AddItemToObject(o, "detail", d ? d : cJSON_CreateObject());
  return o;
}

static void col(sqlite3_stmt *st, int i, char *out, size_t n) {
  const unsigned char *s = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", s ? (const char *)s : "");
}

int bt_sched_ledger_list(bt_sched_ledger *l, const char *schedule, int limit,
                         bt_sched_fire **out, size_t *n, bt_err *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (prep(l,
           "SELECT schedule, fire_ms, kind, origin, run_id, state, outcome, detail, owner,"
           " created_ms, finished_ms FROM fires WHERE ?1 IS NULL OR schedule = ?1"
           " ORDER BY fire_ms DESC, schedule LIMIT ?2",
           &st, err))
    return err->code;
  if (schedule) sqlite3_bind_text(st, 1, schedule, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, limit > 0 ? limit : 100);
  size_t cap = 0;
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (BT_GROW(*out, cap, *n + 1)) {
      sqlite3_finalize(st);
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
    bt_sched_fire *f = &(*out)[(*n)++];
    memset(f, 0, sizeof *f);
    col(st, 0, f->schedule, sizeof f->schedule);
    f->fire_ms = sqlite3_column_int64(st, 1);
    col(st, 2, f->kind, sizeof f->kind);
    col(st, 3, f->origin, sizeof f->origin);
    col(st, 4, f->run_id, sizeof f->run_id);
    col(st, 5, f->state, sizeof f->state);
    col(st, 6, f->outcome, sizeof f->outcome);
    col(st, 7, f->detail, sizeof f->detail);
    col(st, 8, f->owner, sizeof f->owner);
    f->created_ms = sqlite3_column_int64(st, 9);
    f->finished_ms = sqlite3_column_int64(st, 10);
  }
  sqlite3_finalize(st);
  return r == SQLITE_DONE ? 0 : db_err(l, err, "list");
}
