/* Helpers for the analytics unit tests: a temp dir, the loopback PostHog test server
 * (tests/tools/posthog_server.py), schema tables from Lua source, log capture. */
#ifndef TEST_ANALYTICS_LIB_H
#define TEST_ANALYTICS_LIB_H

#include <cjson/cJSON.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lualib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "analytics.h"
#include "log.h"

/* Not every test uses every helper. */
#pragma GCC diagnostic ignored "-Wunused-function"

static int failures;
#define CHECK(c)                                                         \
  do {                                                                   \
    if (!(c)) {                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
      failures++;                                                        \
    }                                                                    \
  } while (0)

static char tmp_root[1024];

static void make_tmp(const char *name) {
  const char *base = getenv("BT_TEST_TMP");
  char cmd[1200];
  snprintf(tmp_root, sizeof tmp_root, "%s/%s.%ld", base && *base ? base : "/tmp", name,
           (long)getpid());
  snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", tmp_root, tmp_root);
  if (system(cmd) != 0) exit(2);
}

static void remove_tmp(void) {
  char cmd[1200];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
  if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", tmp_root);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
  nanosleep(&ts, NULL);
}

typedef struct server {
  pid_t pid;
  int port;
  char dir[1100];
  char events[1200], requests[1200];
} server;

/* Start the test server in tmp_root/<tag>; extra args NULL-terminated. port 0 = any. */
static int server_start(server *s, const char *tag, int port, const char *const *extra) {
  memset(s, 0, sizeof *s);
  snprintf(s->dir, sizeof s->dir, "%s/%s", tmp_root, tag);
  char cmd[1200], portfile[1200], portarg[16];
  snprintf(cmd, sizeof cmd, "mkdir -p '%s'", s->dir);
  if (system(cmd) != 0) return -1;
  snprintf(portfile, sizeof portfile, "%s/port", s->dir);
  snprintf(s->events, sizeof s->events, "%s/ev.jsonl", s->dir);
  snprintf(s->requests, sizeof s->requests, "%s/req.jsonl", s->dir);
  snprintf(portarg, sizeof portarg, "%d", port);
  unlink(portfile);
  const char *src = getenv("BTRUN_SRC");
  char script[1200];
  snprintf(script, sizeof script, "%s/tests/tools/posthog_server.py", src ? src : ".");
  const char *argv[32] = {"python3", script, "--port-file", portfile, "--events", s->events,
                          "--requests", s->requests, "--port", portarg, "--lifetime", "100"};
  int n = 12;
  for (int i = 0; extra && extra[i] && n < 30; i++) argv[n++] = extra[i];
  argv[n] = NULL;
  /* The system interpreter starts fast; version-manager shims can take seconds. */
  const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3";
  s->pid = fork();
  if (s->pid == 0) {
    execvp(py, (char *const *)argv);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    FILE *f = fopen(portfile, "r");
    if (f) {
      int ok = fscanf(f, "%d", &s->port) == 1;
      fclose(f);
      if (ok) return 0;
    }
    sleep_ms(25);
  }
  return -1;
}

static void server_stop(server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
  }
  s->pid = 0;
}

/* A port nobody listens on. */
static int free_port(void) {
  server s;
  if (server_start(&s, "probe", 0, NULL)) return 0;
  int p = s.port;
  server_stop(&s);
  return p;
}

/* JSON lines of a file as a cJSON array (never NULL). */
static cJSON *read_jsonl(const char *path) {
  cJSON *arr = cJSON_CreateArray();
  FILE *f = fopen(path, "r");
  if (!f) return arr;
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) > 0) {
    cJSON *v = cJSON_Parse(line);
    if (v) cJSON_AddItemToArray(arr, v);
  }
  free(line);
  fclose(f);
  return arr;
}

static int count_event(const cJSON *evs, const char *name) {
  int n = 0;
  const cJSON *e;
  cJSON_ArrayForEach(e, evs) {
    const cJSON *nm = cJSON_GetObjectItem(e, "event");
    if (!name || (cJSON_IsString(nm) && strcmp(nm->valuestring, name) == 0)) n++;
  }
  return n;
}

static const char *str_of(const cJSON *o, const char *k) {
  const cJSON *v = cJSON_GetObjectItem(o, k);
  return cJSON_IsString(v) ? v->valuestring : "";
}

/* Schemas: the shipped lua/schemas plus a list given as Lua source. */
static bt_an_schemas *test_schemas(const char *lua_list) {
  bt_an_schemas *s = bt_an_schemas_new();
  bt_err err = {0};
  char dir[1200];
  const char *src = getenv("BTRUN_SRC");
  snprintf(dir, sizeof dir, "%s/lua/schemas", src ? src : ".");
  if (bt_an_schemas_load_dir(s, dir, &err)) fprintf(stderr, "schemas: %s\n", err.msg);
  if (lua_list) {
    lua_State *L = luaL_newstate();
    if (luaL_dostring(L, lua_list) || bt_an_schemas_add_list(s, L, -1, "test", &err))
      fprintf(stderr, "schemas: %s %s\n", lua_tostring(L, -1), err.msg);
    lua_close(L);
  }
  return s;
}

/* Options for a fast test client against port. */
static void test_opts(bt_analytics_opts *o, int port, const char *data_tag) {
  bt_analytics_opts_default(o);
  snprintf(o->api_key, sizeof o->api_key, "phc_test");
  snprintf(o->host, sizeof o->host, "http://127.0.0.1:%d", port);
  snprintf(o->data_dir, sizeof o->data_dir, "%s/%s", tmp_root, data_tag);
  o->flush_interval_ms = 20;
  o->sync_interval_ms = 10;
  o->retry_base_ms = 10;
  o->retry_max_ms = 200;
  o->request_timeout_ms = 3000;
  o->shutdown_timeout_ms = 3000;
  o->replay_interval_ms = 60000;
}

/* Log records go to a file we can read back. */
static char log_path[1200];
static void capture_logs(void) {
  snprintf(log_path, sizeof log_path, "%s/log.jsonl", tmp_root);
  int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  bt_log_set_format(BT_LOG_FORMAT_JSON);
  bt_log_set_fd(fd);
}

/* Number of log records with this event (and, if field is non-NULL, field == value). */
static int count_logs(const char *event, const char *field, const char *value) {
  cJSON *logs = read_jsonl(log_path);
  int n = 0;
  const cJSON *l;
  cJSON_ArrayForEach(l, logs) {
    if (strcmp(str_of(l, "event"), event) != 0) continue;
    if (field && strcmp(str_of(l, field), value) != 0) continue;
    n++;
  }
  cJSON_Delete(logs);
  return n;
}

#endif
