/* suggest.h - "did you mean": the closest known name to a mistyped one.
 *
 * Feed the candidates one by one (they may live in any table), then ask for the best:
 *
 *   bt_suggest s;
 *   bt_suggest_init(&s, key);
 *   for (...) bt_suggest_add(&s, name);
 *   const char *hint = bt_suggest_best(&s);   // NULL when nothing is close
 *
 * Closeness is the edit distance counting a swap of two neighbours as one edit
 * ("sampel" -> "sample"); a candidate is close when at most a third of the typed word
 * (at least 1, at most 3 edits) differs. Ties keep the first candidate added. */
#ifndef BT_SUGGEST_H
#define BT_SUGGEST_H

typedef struct bt_suggest {
  const char *word;
  const char *best; /* closest candidate so far, NULL when none is close */
  int dist;
} bt_suggest;

void bt_suggest_init(bt_suggest *s, const char *word);
void bt_suggest_add(bt_suggest *s, const char *candidate);
const char *bt_suggest_best(const bt_suggest *s);
/* Edit distance (insert, delete, replace, swap of neighbours), capped at 64 bytes per
 * word: longer words compare as far apart. */
int bt_edit_distance(const char *a, const char *b);

#endif
