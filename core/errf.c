/* errf: see errf.h. */
#include "core/errf.h"

#include <stdarg.h>
#include <stdio.h>

void core_errf(char *err, size_t errsize, const char *fmt, ...)
{
    if (!err || !errsize)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errsize, fmt, ap);
    va_end(ap);
}
