/* grow.h - the one grow-by-doubling helper for heap arrays and byte buffers. */
#ifndef BT_GROW_H
#define BT_GROW_H

#include <stddef.h>

/* Makes *pp (a pointer to T, passed as &p) hold at least `need` elements of `elem`
 * bytes; *cap counts elements. When need > *cap the capacity becomes the largest of
 * need, twice *cap and 16, so appending one at a time costs amortised O(1).
 * Returns 0 (BT_OK); BT_ERANGE when the size in bytes would not fit a size_t; BT_ENOMEM
 * when realloc fails. On an error *pp and *cap are left as they were (the old buffer
 * stays valid and owned by the caller). */
int bt_grow_to(void *pp, size_t *cap, size_t need, size_t elem);

/* The check inline (appends in hot loops), the realloc out of line. */
static inline int bt_grow(void *pp, size_t *cap, size_t need, size_t elem) {
  return need <= *cap ? 0 : bt_grow_to(pp, cap, need, elem);
}

/* The type-checked form: p is a T * lvalue, cap a size_t lvalue. */
#define BT_GROW(p, cap, need) bt_grow(&(p), &(cap), (need), sizeof *(p))

#endif
