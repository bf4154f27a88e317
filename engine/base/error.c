/* gerr: see error.h. */
#include "engine/base/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int gerr_set(gerr *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return -1;
}

int gerr_errno(gerr *err, const char *fmt, ...)
{
    int e = errno;
    if (!err)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    size_t n = strlen(err->msg);
    snprintf(err->msg + n, sizeof err->msg - n, ": %s", strerror(e));
    return -1;
}

int gerr_prefix(gerr *err, const char *fmt, ...)
{
    if (!err)
        return -1;
    char head[GERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(head, sizeof head, fmt, ap);
    va_end(ap);
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
