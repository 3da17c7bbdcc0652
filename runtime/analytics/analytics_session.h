/* analytics_session.h - product sessions per distinct id.
 *
 * A session is a run of activity of one distinct id without a gap longer than the
 * inactivity timeout. Its id is a UUID v7 stamped with the session's first event.
 * Sessions persist in a small file in the data directory so consecutive CLI runs of
 * one user share a session; a long-running process also expires idle sessions
 * periodically. Thread-safe. */
#ifndef BT_ANALYTICS_SESSION_H
#define BT_ANALYTICS_SESSION_H

#include <stdbool.h>
#include <stdint.h>

typedef struct bt_an_sessions bt_an_sessions;

typedef struct bt_an_session_change {
  char id[40];              /* the current session */
  int64_t start_ms;
  bool started;             /* this touch began it */
  bool ended;               /* a previous, idle session of this id ended */
  char ended_id[40];
  int64_t ended_start_ms, ended_last_ms;
} bt_an_session_change;

bt_an_sessions *bt_an_sessions_open(const char *path, int64_t timeout_ms);
void bt_an_sessions_free(bt_an_sessions *s);
/* Activity of distinct at now_ms. */
void bt_an_sessions_touch(bt_an_sessions *s, const char *distinct, int64_t now_ms,
                          bt_an_session_change *out);
/* End every session idle at now_ms; fn is called for each (outside the lock). */
typedef void (*bt_an_session_end_fn)(void *ud, const char *distinct, const char *id,
                                     int64_t start_ms, int64_t last_ms);
int bt_an_sessions_expire(bt_an_sessions *s, int64_t now_ms, bt_an_session_end_fn fn,
                          void *ud);
/* Persist, merged with what other processes wrote meanwhile. 0 or -1. */
int bt_an_sessions_save(bt_an_sessions *s);

#endif
