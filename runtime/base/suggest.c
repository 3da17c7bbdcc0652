/* suggest.c - see suggest.h. */
#include "suggest.h"

#include <ctype.h>
#include <string.h>

#define MAXLEN 64 /* longer words are not typos of option, callback or key names */

/* Optimal string alignment distance: Levenshtein plus transposition of neighbours. */
static size_t distance(const char *a, size_t la, const char *b, size_t lb) {
  unsigned char d[MAXLEN + 1][MAXLEN + 1]; /* distances never exceed MAXLEN */
  for (size_t i = 0; i <= la; i++) d[i][0] = (unsigned char)i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = (unsigned char)j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
      unsigned best = d[i - 1][j - 1] + (unsigned)(ca != cb);
      if (d[i - 1][j] + 1u < best) best = d[i - 1][j] + 1u;
      if (d[i][j - 1] + 1u < best) best = d[i][j - 1] + 1u;
      if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
          tolower((unsigned char)a[i - 2]) == cb && d[i - 2][j - 2] + 1u < best)
        best = d[i - 2][j - 2] + 1u;
      d[i][j] = (unsigned char)best;
    }
  return d[la][lb];
}

void bt_suggest_init(bt_suggester *s, const char *word) {
  s->word = word;
  s->len = strlen(word);
  s->best = NULL;
  size_t limit = (s->len + 2) / 3 > 1 ? (s->len + 2) / 3 : 1;
  s->dist = s->len == 0 || s->len > MAXLEN ? 0 : limit + 1; /* 0: nothing can be close */
}

void bt_suggest_add(bt_suggester *s, const char *candidate) {
  if (!candidate || s->dist == 0) return;
  size_t ln = strlen(candidate);
  if (ln > MAXLEN) return;
  size_t d = distance(s->word, s->len, candidate, ln);
  if (d < s->dist) s->best = candidate, s->dist = d;
}

const char *bt_suggest_best(const bt_suggester *s) { return s->best; }

const char *bt_suggest(const char *word, const char *const *names, size_t n) {
  bt_suggester s;
  bt_suggest_init(&s, word);
  for (size_t i = 0; i < n; i++) bt_suggest_add(&s, names[i]);
  return bt_suggest_best(&s);
}
