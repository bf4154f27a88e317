/* Growable arrays and checked sizes: the one way any layer grows an array
 * or multiplies a count by a size, so that no length from a file, a
 * network or an LLM can overflow an allocation.
 *
 *     struct item *v = NULL; size_t n = 0, alloc = 0;
 *     if (ALLOC_GROW(v, n + 1, alloc) != 0) return gerr_set(err, "out of memory");
 *     v[n++] = item;
 *
 * ALLOC_GROW makes room for at least `nr` elements, growing geometrically;
 * `alloc` must be a size_t lvalue. It returns 0, or -1 (ptr and alloc left
 * as they were) when the size overflows or memory runs out. */
#ifndef GEVO_BASE_GROW_H
#define GEVO_BASE_GROW_H

#include <stdbool.h>
#include <stddef.h>

int base_grow(void **ptr, size_t elsize, size_t nr, size_t *alloc);

#define ALLOC_GROW(ptr, nr, alloc) base_grow((void **)&(ptr), sizeof *(ptr), (size_t)(nr), &(alloc))

/* a * b into *out; false (and *out untouched) when it overflows. */
static inline bool size_mul(size_t a, size_t b, size_t *out)
{
    return !__builtin_mul_overflow(a, b, out);
}

/* a + b into *out; false when it overflows. */
static inline bool size_add(size_t a, size_t b, size_t *out)
{
    return !__builtin_add_overflow(a, b, out);
}

/* calloc-like with an overflow check; NULL when n * size overflows. */
void *base_alloc_array(size_t n, size_t size);

#endif
