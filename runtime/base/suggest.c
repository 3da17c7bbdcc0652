/* suggest.c - see suggest.h. */
#include "suggest.h"

#include <string.h>

#define MAXW 64

static int min3(int a, int b, int c) {
  int m = a < b ? a : b;
  return m < c ? m : c;
}

int bt_edit_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  if (n > MAXW || m > MAXW) return MAXW + 1;
  /* Three rows of the optimal-string-alignment table: two back for a swap. */
  int rows[3][MAXW + 1];
  int *pp = rows[0], *p = rows[1], *c = rows[2];
  for (size_t j = 0; j <= m; j++) p[j] = (int)j;
  for (size_t i = 1; i <= n; i++) {
    c[0] = (int)i;
    for (size_t j = 1; j <= m; j++) {
      int cost = a[i - 1] != b[j - 1];
      c[j] = min3(p[j] + 1, c[j - 1] + 1, p[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < c[j])
        c[j] = pp[j - 2] + 1;
    }
    int *t = pp;
    pp = p;
    p = c;
    c = t;
  }
  return p[m];
}

void bt_suggest_init(bt_suggest *s, const char *word) {
  s->word = word;
  s->best = NULL;
  int len = (int)strlen(word);
  int limit = len / 3;
  s->dist = (limit < 1 ? 1 : limit > 3 ? 3 : limit) + 1; /* first distance not accepted */
}

void bt_suggest_add(bt_suggest *s, const char *candidate) {
  int d = bt_edit_distance(s->word, candidate);
  if (d < s->dist) {
    s->dist = d;
    s->best = candidate;
  }
}

const char *bt_suggest_best(const bt_suggest *s) { return s->best; }
