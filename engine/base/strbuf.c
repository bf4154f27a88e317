/* strbuf: see strbuf.h. */
#include "engine/base/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"

char strbuf_empty[1];

void strbuf_init(strbuf *sb)
{
    *sb = (strbuf)STRBUF_INIT;
}

void strbuf_release(strbuf *sb)
{
    if (sb->alloc)
        free(sb->buf);
    strbuf_init(sb);
}

char *strbuf_detach(strbuf *sb, size_t *len)
{
    char *s = NULL;
    if (!sb->failed)
        s = sb->alloc ? sb->buf : strdup("");
    else if (sb->alloc)
        free(sb->buf);
    if (len)
        *len = s ? sb->len : 0;
    strbuf_init(sb);
    return s;
}

int strbuf_grow(strbuf *sb, size_t extra)
{
    if (sb->failed)
        return -1;
    size_t need;
    if (!size_add(sb->len, extra, &need) || !size_add(need, 1, &need)) {
        sb->failed = true;
        return -1;
    }
    if (need <= sb->alloc)
        return 0;
    char *old = sb->alloc ? sb->buf : NULL;
    size_t alloc = sb->alloc;
    if (base_grow((void **)&old, 1, need, &alloc) != 0) {
        sb->failed = true;
        return -1;
    }
    if (!sb->alloc)
        old[0] = 0;
    sb->buf = old;
    sb->alloc = alloc;
    return 0;
}

void strbuf_add(strbuf *sb, const void *data, size_t n)
{
    if (n == 0 || strbuf_grow(sb, n) != 0)
        return;
    memcpy(sb->buf + sb->len, data, n);
    sb->len += n;
    sb->buf[sb->len] = 0;
}

void strbuf_addstr(strbuf *sb, const char *s)
{
    strbuf_add(sb, s, strlen(s));
}

void strbuf_addch(strbuf *sb, int c)
{
    char ch = (char)c;
    strbuf_add(sb, &ch, 1);
}

void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap)
{
    if (sb->failed)
        return;
    va_list cp;
    va_copy(cp, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, cp);
    va_end(cp);
    if (n < 0)
        return;
    if ((size_t)n < sizeof small) {
        strbuf_add(sb, small, (size_t)n);
        return;
    }
    if (strbuf_grow(sb, (size_t)n) != 0)
        return;
    vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
    sb->len += (size_t)n;
}

void strbuf_addf(strbuf *sb, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(sb, fmt, ap);
    va_end(ap);
}

void strbuf_setlen(strbuf *sb, size_t len)
{
    if (len > sb->len || !sb->alloc)
        return;
    sb->len = len;
    sb->buf[len] = 0;
}

void strbuf_reset(strbuf *sb)
{
    strbuf_setlen(sb, 0);
}
