/* Growable arrays: see grow.h. */
#include "engine/base/grow.h"

#include <stdint.h>
#include <stdlib.h>

int base_grow(void **ptr, size_t elsize, size_t nr, size_t *alloc)
{
    if (nr <= *alloc)
        return 0;
    size_t want = *alloc < 8 ? 8 : *alloc + *alloc / 2;
    if (want < nr || want < *alloc)
        want = nr;
    size_t bytes;
    if (!size_mul(want, elsize, &bytes) || bytes > SIZE_MAX / 2)
        return -1;
    void *p = realloc(*ptr, bytes);
    if (!p)
        return -1;
    *ptr = p;
    *alloc = want;
    return 0;
}

void *base_alloc_array(size_t n, size_t size)
{
    size_t bytes;
    if (!size_mul(n, size, &bytes))
        return NULL;
    return calloc(n ? n : 1, size ? size : 1);
}
