/* test_suggest.c - bt_edit_distance and the "did you mean" pick (base/suggest). */
#include <string.h>

#include "check.h"
#include "suggest.h"

static const char *pick(const char *word, const char *const *names) {
  bt_suggest s;
  bt_suggest_init(&s, word);
  for (; *names; names++) bt_suggest_add(&s, *names);
  return bt_suggest_best(&s);
}

static bool is(const char *got, const char *want) {
  if (got == want || (got && want && strcmp(got, want) == 0)) return true;
  fprintf(stderr, "  got %s, want %s\n", got ? got : "(null)", want ? want : "(null)");
  return false;
}

int main(void) {
  CHECK(bt_edit_distance("", "") == 0);
  CHECK(bt_edit_distance("abc", "abc") == 0);
  CHECK(bt_edit_distance("abc", "") == 3);
  CHECK(bt_edit_distance("kitten", "sitting") == 3);
  CHECK(bt_edit_distance("sampel", "sample") == 1); /* a swap is one edit */
  CHECK(bt_edit_distance("ab", "ba") == 1);
  CHECK(bt_edit_distance("ring", "rings") == 1);
  char longw[100];
  memset(longw, 'a', sizeof longw - 1);
  longw[99] = 0;
  CHECK(bt_edit_distance(longw, "a") > 64);

  static const char *const keys[] = {"enabled", "store", "sample_rate", "context_window",
                                     "critical", "bars", "seed", "ring_size", NULL};
  CHECK(is(pick("sample_rte", keys), "sample_rate"));
  CHECK(is(pick("sampel_rate", keys), "sample_rate"));
  CHECK(is(pick("enable", keys), "enabled"));
  CHECK(is(pick("ring_sze", keys), "ring_size"));
  CHECK(is(pick("bar", keys), "bars"));
  CHECK(is(pick("colour", keys), NULL));        /* nothing close */
  CHECK(is(pick("xy", keys), NULL));            /* short words need a near-exact match */
  CHECK(is(pick("sede", keys), "seed"));        /* one swap */
  CHECK(is(pick("sotre", keys), "store"));
  static const char *const tie[] = {"abcd", "abce", NULL};
  CHECK(is(pick("abcf", tie), "abcd"));         /* ties keep the first */
  static const char *const none[] = {NULL};
  CHECK(is(pick("anything", none), NULL));
  return failures != 0;
}
