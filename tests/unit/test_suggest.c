/* test_suggest.c - bt_suggest / bt_suggester: the closest name within a typo's
 * distance, or none. */
#include <string.h>

#include "check.h"
#include "suggest.h"

static const char *const OPTS[] = {"--data", "--param", "--cash", "--out", "--config"};
static const char *const CBS[] = {"on_start", "on_bar", "on_fill", "on_finish"};
#define N(a) (sizeof a / sizeof a[0])

static bool is(const char *got, const char *want) {
  if (got == want || (got && want && strcmp(got, want) == 0)) return true;
  fprintf(stderr, "  got %s, want %s\n", got ? got : "(null)", want ? want : "(null)");
  return false;
}

/* The incremental form over a NULL-terminated list. */
static const char *pick(const char *word, const char *const *names) {
  bt_suggester s;
  bt_suggest_init(&s, word);
  for (; *names; names++) bt_suggest_add(&s, *names);
  return bt_suggest_best(&s);
}

int main(void) {
  CHECK(is(bt_suggest("--parm", OPTS, N(OPTS)), "--param"));    /* one deletion */
  CHECK(is(bt_suggest("--cahs", OPTS, N(OPTS)), "--cash"));     /* a swap */
  CHECK(is(bt_suggest("--DATA", OPTS, N(OPTS)), "--data"));     /* case-insensitive */
  CHECK(is(bt_suggest("onBar", CBS, N(CBS)), "on_bar"));
  CHECK(is(bt_suggest("on_fills", CBS, N(CBS)), "on_fill"));
  /* a swap of two letters costs one edit: "ab" is one typo from "ba" (Levenshtein: 2) */
  static const char *const BA[] = {"ba"};
  CHECK(is(bt_suggest("ab", BA, 1), "ba"));
  /* far words get no wild guess */
  CHECK(is(bt_suggest("--verbose", OPTS, N(OPTS)), NULL));
  CHECK(is(bt_suggest("helper", CBS, N(CBS)), NULL));
  CHECK(is(bt_suggest("x", BA, 1), NULL));
  CHECK(is(bt_suggest("", OPTS, N(OPTS)), NULL));
  /* ties go to the earlier name; NULL entries are skipped */
  static const char *const TIE[] = {NULL, "cat", "car"};
  CHECK(is(bt_suggest("cax", TIE, N(TIE)), "cat"));
  /* words longer than any option are not typos, and do not overflow */
  char longw[200];
  memset(longw, 'a', sizeof longw - 1);
  longw[sizeof longw - 1] = '\0';
  CHECK(is(bt_suggest(longw, OPTS, N(OPTS)), NULL));

  /* Config keys, fed one by one. */
  static const char *const keys[] = {"enabled", "store", "sample_rate", "context_window",
                                     "critical", "bars", "seed", "ring_size", NULL};
  CHECK(is(pick("sample_rte", keys), "sample_rate"));
  CHECK(is(pick("sampel_rate", keys), "sample_rate"));
  CHECK(is(pick("enable", keys), "enabled"));
  CHECK(is(pick("ring_sze", keys), "ring_size"));
  CHECK(is(pick("bar", keys), "bars"));
  CHECK(is(pick("sede", keys), "seed"));
  CHECK(is(pick("colour", keys), NULL));
  CHECK(is(pick(longw, keys), NULL));
  static const char *const none[] = {NULL};
  CHECK(is(pick("anything", none), NULL));
  return failures != 0;
}
