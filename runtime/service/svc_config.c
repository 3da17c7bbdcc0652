#include "svc_config.h"

#include <dirent.h>
#include <gnutls/crypto.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "grow.h"
#include "pg_conn.h"
#include "run.h"

bool bt_svc_name_valid(const char *s) {
  size_t n = 0;
  for (; s[n]; n++) {
    char ch = s[n];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.';
    if (!ok || n >= BT_SVC_NAME_MAX) return false;
  }
  return n > 0 && s[0] != '.';
}

static int cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* One api_keys entry as written: the digest stays text until it is checked. */
typedef struct key_row {
  char user_id[128];
  char sha256[80];
} key_row;

static const bt_cfg_field key_fields[] = {
    BT_CFG_F_STR(key_row, "user_id", user_id, "the user the key authenticates"),
    /* The value is not echoed: someone may have put the token itself here. */
    {"sha256", BT_CFG_STR, BT_CFG_AT(key_row, sha256), 0, 0, NULL, NULL, BT_CFG_SECRET,
     "the 64 hex digits of the token's SHA-256"},
    {0}};

static int read_keys(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  bt_svc_config *out = obj;
  int n = (int)lua_rawlen(L, idx);
  out->keys = calloc(n ? (size_t)n : 1, sizeof *out->keys);
  if (!out->keys) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  for (int i = 1; i <= n; i++) {
    char where[64];
    snprintf(where, sizeof where, "%s[%d]", path, i);
    if (lua_rawgeti(L, idx, i) != LUA_TTABLE)
      return bt_cfg_fail(L, NULL, where, err,
                         "expected a table {user_id = ..., sha256 = ...}, got %s",
                         luaL_typename(L, -1));
    key_row row = {"", ""};
    if (bt_cfg_read(L, -1, where, key_fields, &row, err)) return err->code;
    bt_svc_key *key = &out->keys[i - 1];
    snprintf(key->user_id, sizeof key->user_id, "%s", row.user_id);
    if (!key->user_id[0])
      return bt_cfg_fail(L, where, "user_id", err, "required (the user the key authenticates)");
    bool ok = strlen(row.sha256) == 64;
    for (int b = 0; ok && b < 32; b++) {
      int hi = hexval(row.sha256[2 * b]), lo = hexval(row.sha256[2 * b + 1]);
      ok = hi >= 0 && lo >= 0;
      key->sha256[b] = (unsigned char)(hi << 4 | lo);
    }
    if (!ok)
      return bt_cfg_fail(L, where, "sha256", err,
                         "want the 64 hex digits of the token's SHA-256 "
                         "(printf %%s TOKEN | sha256sum)");
    lua_pop(L, 1);
    out->nkeys++;
  }
  return 0;
}

static int cmp_dataset(const void *a, const void *b) {
  return strcmp(((const bt_svc_dataset *)a)->name, ((const bt_svc_dataset *)b)->name);
}

static int read_datasets(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  bt_svc_config *out = obj;
  int n = 0;
  lua_pushnil(L);
  while (lua_next(L, idx)) n++, lua_pop(L, 1);
  out->datasets = calloc(n ? (size_t)n : 1, sizeof *out->datasets);
  if (!out->datasets) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
  lua_pushnil(L);
  while (lua_next(L, idx)) {
    char where[160];
    if (lua_type(L, -2) != LUA_TSTRING || !bt_svc_name_valid(lua_tostring(L, -2)))
      return bt_cfg_fail(L, NULL, path, err,
                         "dataset names are 1..100 characters of A-Z a-z 0-9 _ . - "
                         "(not starting with '.')");
    snprintf(where, sizeof where, "%s.%s", path, lua_tostring(L, -2));
    size_t len;
    const char *path = lua_type(L, -1) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!path || !len || len >= sizeof out->datasets[0].data)
      return bt_cfg_fail(L, NULL, where, err,
                         "expected a CSV path (or SYM=path) of under 512 bytes");
    bt_svc_dataset *d = &out->datasets[out->ndatasets++];
    snprintf(d->name, sizeof d->name, "%s", lua_tostring(L, -2));
    memcpy(d->data, path, len + 1);
    lua_pop(L, 1);
  }
  qsort(out->datasets, (size_t)out->ndatasets, sizeof *out->datasets, cmp_dataset);
  return 0;
}

static int read_dirs(lua_State *L, int idx, const char *path, void *obj, bt_err *err) {
  bt_svc_config *out = obj;
  int n = (int)lua_rawlen(L, idx);
  if (n < 1 || n > BT_SVC_MAX_DIRS)
    return bt_cfg_fail(L, NULL, path, err, "want a list of 1..%d directories", BT_SVC_MAX_DIRS);
  for (int i = 1; i <= n; i++) {
    char where[64];
    snprintf(where, sizeof where, "%s[%d]", path, i);
    size_t len = 0;
    const char *s = lua_rawgeti(L, idx, i) == LUA_TSTRING ? lua_tolstring(L, -1, &len) : NULL;
    if (!s || !len || len >= sizeof out->strategy_dirs[0])
      return bt_cfg_fail(L, NULL, where, err, "expected a directory path of under 512 bytes");
    memcpy(out->strategy_dirs[i - 1], s, len + 1);
    lua_pop(L, 1);
  }
  out->nstrategy_dirs = n;
  return 0;
}

#define F(kind, k, m, ...) BT_CFG_F_##kind(bt_svc_config, k, m, __VA_ARGS__)
static const bt_cfg_field service_fields[] = {
    F(STR, "listen", listen, "host:port"),
    /* may hold a password: never echoed */
    {"queue", BT_CFG_STR, BT_CFG_AT(bt_svc_config, queue), 0, 0, NULL, NULL, BT_CFG_SECRET,
     NULL},
    F(INT, "max_attempts", max_attempts, 1, 100, NULL),
    F(INT, "job_lease", job_lease_s, 3, 3600, "seconds; heartbeats come every second"),
    F(INT, "shutdown_grace", shutdown_grace_s, 0, 86400, "seconds"),
    {"workers", BT_CFG_INT, BT_CFG_AT(bt_svc_config, workers), 1, 1024, NULL, NULL,
     BT_CFG_ZERO_DEFAULT, "0 = CPU cores"},
    {"http_threads", BT_CFG_INT, BT_CFG_AT(bt_svc_config, http_threads), 1, 256, NULL, NULL,
     BT_CFG_ZERO_DEFAULT, "0 = CPU cores"},
    F(INT, "max_body", max_body, 1, 64 << 20, "bytes"),
    F(INT, "max_queued_per_user", max_queued_per_user, 1, INT32_MAX, NULL),
    F(INT, "connection_timeout", connection_timeout_s, 1, 3600, "seconds"),
    BT_CFG_F_TABLE("strategy_dirs", read_dirs, "a list of directories"),
    BT_CFG_F_TABLE("datasets", read_datasets, "name = \"path\" or \"SYM=path\""),
    BT_CFG_F_TABLE("api_keys", read_keys, "a list of {user_id = ..., sha256 = ...}"),
    {0}};
#undef F

int bt_svc_config_read(bt_config *cfg, bt_svc_config *out, bt_err *err) {
  memset(out, 0, sizeof *out);
  snprintf(out->listen, sizeof out->listen, "127.0.0.1:8080");
  out->workers = out->http_threads = cores();
  out->max_body = 65536;
  out->max_queued_per_user = 1000;
  out->connection_timeout_s = 10;
  out->max_attempts = 3;
  out->job_lease_s = 30;
  out->shutdown_grace_s = 30;
  int rc = 0;
  lua_State *L = cfg->L;
  int top = L ? lua_gettop(L) : 0;
  int t = bt_config_section(cfg, "service");
  if (t) rc = bt_cfg_read(L, t, "service", service_fields, out, err);
  if (L) lua_settop(L, top);
  if (rc) {
    bt_svc_config_free(out);
    return rc;
  }
  if (!out->nstrategy_dirs) {
    snprintf(out->strategy_dirs[0], sizeof out->strategy_dirs[0], "strategies");
    out->nstrategy_dirs = 1;
  }
  if (!out->ndatasets) {
    /* No catalog: the data shipped with btrun (sorted by name). */
    static const bt_svc_dataset bundled[] = {
        {"nvda", "NVDA=" BT_SOURCE_DATA_DIR "/market/nvda-1999-2014.txt"},
        {"orcl", "ORCL=" BT_SOURCE_DATA_DIR "/market/orcl-1995-2014.txt"},
        {"sample", "SAMPLE=" BT_SOURCE_DATA_DIR "/sample-daily.csv"},
        {"yhoo", "YHOO=" BT_SOURCE_DATA_DIR "/market/yhoo-1996-2014.txt"},
    };
    free(out->datasets);
    out->datasets = malloc(sizeof bundled);
    if (!out->datasets) return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    memcpy(out->datasets, bundled, sizeof bundled);
    out->ndatasets = (int)(sizeof bundled / sizeof bundled[0]);
    out->default_dataset = 2;
  }
  return 0;
}

void bt_svc_config_free(bt_svc_config *c) {
  free(c->datasets);
  free(c->keys);
  c->datasets = NULL;
  c->keys = NULL;
  c->ndatasets = c->nkeys = 0;
}

bool bt_svc_strategy_path(const bt_svc_config *c, const char *name, char *out, size_t n) {
  if (!bt_svc_name_valid(name)) return false;
  for (int i = 0; i < c->nstrategy_dirs; i++) {
    snprintf(out, n, "%s/%s.lua", c->strategy_dirs[i], name);
    struct stat st;
    if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return true;
  }
  return false;
}

const bt_svc_dataset *bt_svc_dataset_find(const bt_svc_config *c, const char *name) {
  bt_svc_dataset key;
  snprintf(key.name, sizeof key.name, "%s", name);
  return bsearch(&key, c->datasets, (size_t)c->ndatasets, sizeof key, cmp_dataset);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int bt_svc_strategy_list(const bt_svc_config *c, char ***names, int *n, bt_err *err) {
  char **v = NULL;
  int cnt = 0;
  size_t cap = 0;
  for (int i = 0; i < c->nstrategy_dirs; i++) {
    DIR *d = opendir(c->strategy_dirs[i]);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (len <= 4 || strcmp(e->d_name + len - 4, ".lua") != 0) continue;
      char name[BT_SVC_NAME_MAX + 1];
      if (len - 4 > BT_SVC_NAME_MAX) continue;
      snprintf(name, sizeof name, "%.*s", (int)(len - 4), e->d_name);
      if (!bt_svc_name_valid(name)) continue;
      bool dup = false;
      for (int k = 0; k < cnt && !dup; k++) dup = strcmp(v[k], name) == 0;
      if (dup) continue;
      if (BT_GROW(v, cap, (size_t)cnt + 1) || !(v[cnt] = strdup(name))) goto oom;
      cnt++;
      continue;
    oom:
      closedir(d);
      for (int k = 0; k < cnt; k++) free(v[k]);
      free(v);
      return bt_errf(err, BT_ENOMEM, "out_of_memory", "out of memory");
    }
    closedir(d);
  }
  if (cnt) qsort(v, (size_t)cnt, sizeof *v, cmp_str);
  *names = v;
  *n = cnt;
  return 0;
}

const char *bt_svc_key_user(const bt_svc_config *c, const char *token) {
  unsigned char h[32];
  if (!token || !*token || gnutls_hash_fast(GNUTLS_DIG_SHA256, token, strlen(token), h) != 0)
    return NULL;
  for (int i = 0; i < c->nkeys; i++)
    if (memcmp(h, c->keys[i].sha256, sizeof h) == 0) return c->keys[i].user_id;
  return NULL;
}

void bt_svc_resolve_db(bt_svc_config *c, struct bt_app *app, const char *flag) {
  if (flag) snprintf(c->queue, sizeof c->queue, "%s", flag);
  else if (!c->queue[0]) snprintf(c->queue, sizeof c->queue, "%s", app->db);
  if (bt_pg_is_url(c->queue)) snprintf(app->db, sizeof app->db, "%s", c->queue);
}
