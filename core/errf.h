/* errf: the one way core functions write a message into a caller's
 * (err, errsize) buffer. */
#ifndef GEVO_CORE_ERRF_H
#define GEVO_CORE_ERRF_H

#include <stddef.h>

/* printf into err (cut to errsize); nothing when err is NULL or errsize 0. */
void core_errf(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
