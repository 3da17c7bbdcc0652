/* analytics_consent.h - who may be tracked, and the anonymous installation id.
 *
 * Opt-outs are persisted in <dir>/opt_out (one user id per line), written by
 * `btrun analytics opt-out|opt-in` under a file lock and replaced atomically. A
 * client keeps the set in memory and re-reads it when the file changes, so a
 * long-running process honours an opt-out made by another process. The
 * installation id (<dir>/installation_id, a UUID v4 created once) is the distinct
 * id of events whose user is unknown. */
#ifndef BT_ANALYTICS_CONSENT_H
#define BT_ANALYTICS_CONSENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common.h"

typedef struct bt_an_consent bt_an_consent;

bt_an_consent *bt_an_consent_open(const char *dir);
void bt_an_consent_free(bt_an_consent *c);
/* Thread-safe. */
bool bt_an_consent_opted_out(bt_an_consent *c, const char *user_id);
/* Re-read the file if it changed since the last read. */
void bt_an_consent_refresh(bt_an_consent *c);

/* A user id must be 1..127 bytes without control characters. */
int bt_an_user_id_check(const char *user_id, bt_err *err);
/* Persist an opt-out (opt_out = true) or remove one. *changed tells whether it did. */
int bt_an_consent_set(const char *dir, const char *user_id, bool opt_out, bool *changed,
                      bt_err *err);
/* The opted-out ids (heap array of heap strings; free with bt_an_consent_list_free). */
char **bt_an_consent_list(const char *dir, size_t *n);
void bt_an_consent_list_free(char **ids, size_t n);

/* Read, or create once, the installation id. */
int bt_an_installation_id(const char *dir, char out[40], bt_err *err);

#endif
