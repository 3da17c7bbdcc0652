/* analytics.h - product analytics: backtest lifecycle and user events to PostHog.
 *
 * A client validates each event against its schema (analytics_schema.h), stamps it
 * (UUID v4, ISO-8601 time of the event, distinct id, session, $lib), and queues it
 * in a bounded in-memory ring. A background thread journals the ring into the disk
 * spool (analytics_spool.h) and POSTs gzip'd batches to PostHog's /batch/ endpoint
 * (analytics_http.h), retrying with backoff; the spool is replayed by later
 * processes, so an event is never dropped because PostHog or the network is down.
 * Capturing never blocks on the network: when the ring is full the capturing thread
 * writes the queued events to the spool itself. docs/analytics.md is the user guide. */
#ifndef BT_ANALYTICS_H
#define BT_ANALYTICS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>

#include "analytics_schema.h"
#include "run.h"

typedef struct lua_State lua_State;

typedef struct bt_analytics_opts {
  bool enabled;                  /* analytics.enabled; false = nothing is captured */
  char api_key[256];             /* POSTHOG_API_KEY / analytics.api_key */
  char host[1024];               /* POSTHOG_HOST / analytics.host */
  char data_dir[512];            /* spool, opt_out, installation_id, sessions */
  char user_id[128];             /* default user id ("" = anonymous) */
  int64_t batch_size;            /* events per request (100) */
  int64_t flush_interval_ms;     /* max wait before a partial batch is sent (1000) */
  int64_t sync_interval_ms;      /* max time an event lives only in memory (200) */
  int64_t request_timeout_ms;    /* per HTTP request (10000) */
  int64_t shutdown_timeout_ms;   /* flush deadline at exit (2000) */
  int64_t max_queue;             /* in-memory ring capacity (10000) */
  int64_t spool_max_bytes;       /* cap of undelivered bytes on disk (64 MiB) */
  int64_t session_timeout_minutes; /* SESSION_TIMEOUT_MINUTES (30) */
  int64_t session_timeout_ms;    /* derived; tests may set it directly (0 = use minutes) */
  int64_t max_retries;           /* attempts before a batch waits for the next replay (8) */
  int64_t retry_base_ms;         /* first backoff (500) */
  int64_t retry_max_ms;          /* backoff cap (30000) */
  int64_t replay_interval_ms;    /* orphan spool adoption / deferred retry period (60000) */
} bt_analytics_opts;

typedef struct bt_analytics_stats {
  uint64_t captured;     /* accepted into the queue */
  uint64_t invalid;      /* failed schema validation (not sent) */
  uint64_t opted_out;    /* dropped for consent (not sent, never written) */
  uint64_t delivered;    /* accepted by the server */
  uint64_t rejected;     /* terminal 4xx (logged) */
  uint64_t retries;      /* failed attempts that will be retried */
  uint64_t overflowed;   /* written to the spool by a capturing thread (ring full) */
  uint64_t dropped_cap;  /* dropped because the spool was at its size cap */
  uint64_t adopted;      /* records taken over from other processes' spools */
  uint64_t batches;      /* requests sent */
  int64_t pending_bytes; /* undelivered bytes in this process's spool segment */
} bt_analytics_stats;

typedef struct bt_analytics bt_analytics;

/* Defaults for every field above (enabled = true, host = US cloud, ...). */
void bt_analytics_opts_default(bt_analytics_opts *o);

/* Start a client (the sender thread starts at once and adopts orphan spools).
 * Takes ownership of schemas. */
bt_analytics *bt_analytics_open(const bt_analytics_opts *o, bt_an_schemas *schemas,
                                bt_err *err);

typedef struct bt_analytics_capture_opts {
  const char *user_id;   /* overrides props.user_id and the default user */
  int64_t timestamp_ms;  /* when it happened (0 = now); old ones go as historical */
  bool urgent;           /* journal within one sender cycle instead of sync_interval */
  /* Non-NULL: the event's uuid is derived from this key (a name-based UUID), so the same
   * fact sent twice (a job run again after its worker died) is one event to PostHog,
   * which deduplicates by uuid. NULL: a random uuid. */
  const char *idempotency_key;
  /* Journaled to the spool (and synced) before capture returns, so the event survives
   * the process being killed right after: for facts other processes act on at once. */
  bool durable;
} bt_analytics_capture_opts;

/* Validate, stamp and queue one event. props (a JSON object or NULL) is consumed.
 * Returns 0 (uuid_out filled, or "" when dropped for consent) or BT_EINVAL for an
 * invalid event (a warning record names the field; nothing is queued). a == NULL
 * (analytics disabled) is a no-op returning 0. Thread-safe, never blocks on I/O
 * except to spool when the ring is full. */
int bt_analytics_capture(bt_analytics *a, const char *event, cJSON *props,
                         const bt_analytics_capture_opts *co, char uuid_out[40], bt_err *err);

/* Send everything queued or spooled now; wait up to timeout_ms for it to be
 * delivered. Returns 0 when nothing is left undelivered, 1 otherwise. */
int bt_analytics_flush(bt_analytics *a, int64_t timeout_ms);
void bt_analytics_get_stats(bt_analytics *a, bt_analytics_stats *st);
/* Flush with the shutdown deadline, leave the rest in the spool, free. */
void bt_analytics_close(bt_analytics *a);

/* ---- runtime seams ---------------------------------------------------------------- */

/* Read config section `analytics` + env (POSTHOG_API_KEY, POSTHOG_HOST,
 * SESSION_TIMEOUT_MINUTES) into o. *configured is false when no API key is set. */
int bt_analytics_read_config(bt_app *app, bt_analytics_opts *o, bt_an_schemas *schemas,
                             bool *configured, bt_err *err);
/* Called once from bt_app_init: read the config and observe runs (lifecycle events).
 * The client starts on first use (run, capture, bt_analytics_of) or at app close, so
 * command-line overrides of data_dir/user_id made after bt_app_init apply.
 * Not configured or disabled: one info record and nothing else. */
int bt_analytics_register(bt_app *app, bt_err *err);
/* The app's client (started if needed), NULL when analytics is off or unavailable. */
bt_analytics *bt_analytics_of(bt_app *app);

/* `btrun analytics flush|status|opt-out USER_ID|opt-in USER_ID` */
int bt_analytics_cli(bt_app *app, int argc, char **argv);
extern const char bt_analytics_help[]; /* its --help text (cli_table.c) */
extern const char *const bt_analytics_subcommands[];
/* bt.analytics: capture(event, props [, {user_id=, timestamp=}]) -> uuid | nil, err */
int bt_lua_open_analytics(lua_State *L);

#endif
