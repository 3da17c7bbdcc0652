/* store_prune.c - retention: deleting old runs' rows and their segment files
 * (bt_store_prune, docs/events.md). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "grow.h"
#include "store_internal.h"

/* Segment files whose run has no row (in the write transaction that deleted runs, so
 * that no run can be added meanwhile; a run's row is committed before its segment is
 * created): the deleted runs' and any that a crash between commit and unlink left. */
static int orphan_segments(bt_store *s, char ***out, size_t *n, bt_err *err) {
  char dir[1100];
  store_seg_path(s, NULL, dir, sizeof dir);
  DIR *d = opendir(dir);
  if (!d) return 0; /* no segment yet (or a version 2 store) */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM runs WHERE run_id = ?", -1, &st, NULL)) {
    closedir(d);
    return store_db_err(s, err, "prune");
  }
  int rc = 0;
  size_t cap = 0;
  struct dirent *de;
  while (!rc && (de = readdir(d))) {
    char id[64];
    size_t len = strlen(de->d_name);
    if (len < 5 || len - 4 >= sizeof id || strcmp(de->d_name + len - 4, ".seg") != 0) continue;
    memcpy(id, de->d_name, len - 4);
    id[len - 4] = '\0';
    if (!store_run_id_ok(id)) continue;
    sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
    int step = sqlite3_step(st);
    sqlite3_reset(st);
    if (step == SQLITE_ROW) continue;
    if (step != SQLITE_DONE) {
      rc = store_db_err(s, err, "prune");
      break;
    }
    /* this connection may hold it open */
    if (strcmp(s->wseg.run_id, id) == 0) store_seg_close(&s->wseg);
    if (strcmp(s->rseg.run_id, id) == 0) store_seg_close(&s->rseg);
    if (BT_GROW(*out, cap, *n + 1)) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    size_t plen = strlen(dir) + len + 2;
    if (!((*out)[*n] = malloc(plen))) {
      rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
      break;
    }
    snprintf((*out)[(*n)++], plen, "%s/%s", dir, de->d_name);
  }
  sqlite3_finalize(st);
  closedir(d);
  return rc;
}

int bt_store_prune(bt_store *s, int64_t before_ms, int keep_runs, int *deleted, bt_err *err) {
  *deleted = 0;
  /* Collect victims first: a run still being written by a live process is kept. */
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(s->db, "SELECT " RUN_COLS " FROM runs ORDER BY run_no DESC", -1, &st,
                         NULL))
    return store_db_err(s, err, "prune");
  int64_t *victims = NULL;
  size_t nv = 0, cap = 0;
  int idx = 0, rc = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    bt_store_run r;
    store_read_run(s, st, &r);
    bool old = (before_ms >= 0 && r.created_at < before_ms) || (keep_runs >= 0 && idx >= keep_runs);
    bool live = strcmp(r.status, "running") == 0 && !r.incomplete;
    idx++;
    if (old && !live) {
      if (BT_GROW(victims, cap, nv + 1)) {
        rc = bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
        bt_store_run_clear(&r);
        break;
      }
      victims[nv++] = r.run_no;
    }
    bt_store_run_clear(&r);
  }
  sqlite3_finalize(st);
  char **gone = NULL;
  size_t ngone = 0;
  if (!rc) rc = store_exec(s, "BEGIN IMMEDIATE", err);
  if (!rc) {
    static const char *const del[] = {
        "DELETE FROM chunks WHERE run = ?", "DELETE FROM links WHERE run = ?",
        "DELETE FROM latency WHERE run = ?", "DELETE FROM runs WHERE run_no = ?"};
    for (size_t d = 0; !rc && d < 4; d++) {
      if (sqlite3_prepare_v2(s->db, del[d], -1, &st, NULL)) {
        rc = store_db_err(s, err, "prune");
        break;
      }
      for (size_t i = 0; !rc && i < nv; i++) {
        sqlite3_bind_int64(st, 1, victims[i]);
        if (sqlite3_step(st) != SQLITE_DONE) rc = store_db_err(s, err, "prune");
        sqlite3_reset(st);
      }
      sqlite3_finalize(st);
    }
    if (!rc) rc = orphan_segments(s, &gone, &ngone, err);
    rc = rc ? (store_exec(s, "ROLLBACK", NULL), rc) : store_exec(s, "COMMIT", err);
    if (!rc) *deleted = (int)nv;
    /* files go once their rows are gone for good */
    for (size_t i = 0; !rc && i < ngone; i++)
      if (unlink(gone[i]) && errno != ENOENT)
        rc = bt_errf(err, BT_EIO, "store_error", "%s: cannot delete: %s", gone[i],
                     strerror(errno));
    if (!rc && nv) rc = store_exec(s, "PRAGMA incremental_vacuum; PRAGMA wal_checkpoint(TRUNCATE);", err);
  }
  for (size_t i = 0; i < ngone; i++) free(gone[i]);
  free(gone);
  free(victims);
  return rc;
}
