#include "grow.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

int bt_grow_to(void *pp, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return BT_OK;
  size_t max = elem ? SIZE_MAX / elem : SIZE_MAX;
  if (need > max) return BT_ERANGE;
  size_t n = *cap <= max / 2 ? *cap * 2 : max;
  if (n < 16) n = 16 < max ? 16 : max;
  if (n < need) n = need;
  /* The pointer is read and written through memcpy so any T * can be passed as void *
   * without breaking the aliasing rules. */
  void *old;
  memcpy(&old, pp, sizeof old);
  void *p = realloc(old, n * elem);
  if (!p) return BT_ENOMEM;
  memcpy(pp, &p, sizeof p);
  *cap = n;
  return BT_OK;
}
