/* suggest.h - "did you mean ...?": the closest known name to a mistyped word.
 *
 * Used for unknown command-line options and commands (cli/cli_opts), strategy table
 * keys that look like misspelled callbacks (script/run) and unknown config keys
 * (core/cfg_fields).
 *
 * Closeness is the optimal string alignment distance, ASCII case-insensitive: an
 * insert, delete, replace or swap of two neighbours costs 1 ("sampel" -> "sample",
 * onBar -> on_bar). A name is close when it is within max(1, (strlen(word) + 2) / 3)
 * edits (no wild guesses); ties go to the earlier name; words over 64 bytes are not
 * typos of anything. */
#ifndef BT_SUGGEST_H
#define BT_SUGGEST_H

#include <stddef.h>

/* The name among names[0..n) closest to word, or NULL when none is close. names may
 * hold NULL entries (skipped). */
const char *bt_suggest(const char *word, const char *const *names, size_t n);

/* The same over candidates that are not in one array (a table of structs):
 *
 *   bt_suggester s;
 *   bt_suggest_init(&s, key);
 *   for (...) bt_suggest_add(&s, field->name);
 *   const char *hint = bt_suggest_best(&s);   // NULL when nothing is close
 */
typedef struct bt_suggester {
  const char *word;
  size_t len;
  const char *best; /* closest candidate so far, NULL when none is close */
  size_t dist;      /* its distance; starts one past the limit */
} bt_suggester;

void bt_suggest_init(bt_suggester *s, const char *word);
void bt_suggest_add(bt_suggester *s, const char *candidate);
const char *bt_suggest_best(const bt_suggester *s);

#endif
