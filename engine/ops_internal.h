/* Helpers shared by the ops_*.c files; not part of the public API. */
#ifndef GEVO_ENGINE_OPS_INTERNAL_H
#define GEVO_ENGINE_OPS_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

/* Writes a message into err (if any) and returns -1. */
static inline int ops_fail(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline int ops_fail(char *err, size_t errsize, const char *fmt, ...)
{
    if (err && errsize) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errsize, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Output positions o in [*lo, *hi) for which o * stride + off lies in
 * [0, in): lets inner loops run without a bounds test per element. */
static inline void ops_valid_range(int out, int in, int stride, int off,
                                   int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (h > out) h = out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

#endif
