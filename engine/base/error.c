/* gerr: see error.h. */
#include "engine/base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Formats the calling function's arguments after fmt into buf (cut to
 * fit): the va_start ... va_end of every variadic function below. */
#define FORMAT_ARGS(buf, size, fmt)     \
    do {                                \
        va_list ap_;                    \
        va_start(ap_, fmt);             \
        vsnprintf(buf, size, fmt, ap_); \
        va_end(ap_);                    \
    } while (0)

int gerr_set(gerr *err, const char *fmt, ...)
{
    if (err)
        FORMAT_ARGS(err->msg, sizeof err->msg, fmt);
    return -1;
}

int gerr_errno(gerr *err, const char *fmt, ...)
{
    int e = errno;
    if (!err)
        return -1;
    FORMAT_ARGS(err->msg, sizeof err->msg, fmt);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
    return -1;
}

int gerr_prefix(gerr *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char head[GERR_MSG_MAX];
    FORMAT_ARGS(head, sizeof head, fmt);
    char old[GERR_MSG_MAX];
    memcpy(old, err->msg, sizeof old);
    if (old[0])
        snprintf(err->msg, sizeof err->msg, "%s: %s", head, old);
    else
        snprintf(err->msg, sizeof err->msg, "%s", head);
    return -1;
}

int gerr_copy(gerr *err, const gerr *src)
{
    if (err && src && err != src)
        memcpy(err->msg, src->msg, sizeof err->msg);
    return -1;
}

void gerr_clear(gerr *err)
{
    if (err)
        err->msg[0] = 0;
}

const char *gerr_msg(const gerr *err)
{
    return err ? err->msg : "";
}
