/* test_grow.c - bt_grow / BT_GROW: doubling growth, overflow refused, and a failed
 * realloc leaves the caller's buffer and capacity as they were. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "common.h"
#include "grow.h"

/* Under ASan a request past its size limit would abort the test; the failure path is
 * what is tested here, so it must return NULL like glibc does. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) { return "allocator_may_return_null=1"; }

int main(void) {
  /* growth: from empty to 16, then doubling; contents survive each move */
  int64_t *v = NULL;
  size_t n = 0, cap = 0, reallocs = 0;
  for (int64_t i = 0; i < 1000; i++) {
    size_t before = cap;
    CHECK(BT_GROW(v, cap, n + 1) == BT_OK);
    if (cap != before) reallocs++;
    v[n++] = i * 3;
  }
  CHECK(cap == 1024);
  CHECK(reallocs == 7); /* 16 32 64 128 256 512 1024 */
  bool same = true;
  for (int64_t i = 0; i < 1000; i++) same = same && v[i] == i * 3;
  CHECK(same);
  /* enough room: nothing moves */
  int64_t *keep = v;
  CHECK(BT_GROW(v, cap, 1024) == BT_OK && v == keep && cap == 1024);
  CHECK(BT_GROW(v, cap, 0) == BT_OK && v == keep && cap == 1024);
  /* a need past twice the capacity is met at once */
  CHECK(BT_GROW(v, cap, 5000) == BT_OK && cap == 5000);
  same = true;
  for (int64_t i = 0; i < 1000; i++) same = same && v[i] == i * 3;
  CHECK(same);

  /* overflow: need * elem would wrap size_t -> refused, nothing touched */
  keep = v;
  CHECK(BT_GROW(v, cap, SIZE_MAX / sizeof *v + 1) == BT_ERANGE);
  CHECK(v == keep && cap == 5000);
  CHECK(BT_GROW(v, cap, SIZE_MAX) == BT_ERANGE && v == keep && cap == 5000);
  free(v);

  /* realloc failure (a request over PTRDIFF_MAX bytes is refused by malloc): the old
   * buffer stays valid with its contents, the capacity unchanged */
  char *b = NULL;
  size_t bcap = 0;
  CHECK(BT_GROW(b, bcap, 6) == BT_OK && bcap == 16);
  memcpy(b, "hello", 6);
  char *old = b;
  CHECK(BT_GROW(b, bcap, SIZE_MAX / 2 + 1) == BT_ENOMEM);
  CHECK(b == old && bcap == 16 && strcmp(b, "hello") == 0);
  /* and it still grows normally afterwards */
  CHECK(BT_GROW(b, bcap, 17) == BT_OK && bcap == 32 && strcmp(b, "hello") == 0);
  free(b);

  return failures != 0;
}
