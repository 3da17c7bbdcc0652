/* pg_test.h - a throwaway PostgreSQL cluster for one unit test, from tests/tools/pg.sh.
 * pg_test_start exits 77 (ctest: skipped) when no server can be started outside CI;
 * under CI=true that is a failure. The cluster is stopped by pg_test_stop, or by the
 * harness's watchdog when the test dies. */
#ifndef BT_PG_TEST_H
#define BT_PG_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct pg_test {
  char dir[256];
  char url[512];
  char password[64];
  char sh[512];
} pg_test;

/* Runs `pg.sh VERB DIR` (stop, kill, up, restart); returns its exit status. */
static inline int pg_test_ctl(const pg_test *pg, const char *verb) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "bash '%s' %s '%s'", pg->sh, verb, pg->dir);
  int st = system(cmd);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static inline void pg_test_start(pg_test *pg) {
  memset(pg, 0, sizeof *pg);
  const char *src = getenv("BTRUN_SRC");
  snprintf(pg->sh, sizeof pg->sh, "%s/tests/tools/pg.sh", src ? src : ".");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "bash '%s' start --owner-pid %d", pg->sh, (int)getpid());
  FILE *p = popen(cmd, "r");
  if (!p) {
    perror("popen");
    exit(1);
  }
  char line[1024];
  while (fgets(line, sizeof line, p)) {
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, "PG_DIR=", 7)) snprintf(pg->dir, sizeof pg->dir, "%s", line + 7);
    if (!strncmp(line, "PG_URL=", 7)) snprintf(pg->url, sizeof pg->url, "%s", line + 7);
    if (!strncmp(line, "PG_PASSWORD=", 12))
      snprintf(pg->password, sizeof pg->password, "%s", line + 12);
  }
  int st = pclose(p);
  int rc = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  if (rc == 77) exit(77); /* pg.sh said why */
  if (rc != 0 || !pg->url[0]) {
    fprintf(stderr, "pg_test_start: tests/tools/pg.sh start failed (%d)\n", rc);
    exit(1);
  }
}

static inline void pg_test_stop(pg_test *pg) {
  if (pg->dir[0]) pg_test_ctl(pg, "stop");
  pg->dir[0] = 0;
}

#endif
