/* text: see text.h. */
#include "engine/base/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point;
 * 0 when it is not well-formed (overlong, surrogate, beyond U+10FFFF). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t len;
    uint32_t v, min;
    if (c < 0x80)
        return *cp = c, 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, v = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, v = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return len;
}

static bool cp_hidden(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

/* Copies s to out with every unsafe character replaced by its visible
 * form. With out NULL it only looks: it stops at the first character that
 * would be replaced. Returns the length of the safe prefix (n when all of
 * s is safe). */
static size_t walk(strbuf *out, const char *str, size_t n, unsigned flags)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0;
    while (i < n) {
        unsigned char c = s[i];
        uint32_t cp;
        size_t len = utf8_decode(s + i, n - i, &cp);
        bool ok;
        if (len == 1)
            ok = (c >= 0x20 && c != 0x7f) || (c == '\n' && (flags & TEXT_NEWLINES)) ||
                 (c == '\t' && (flags & TEXT_TABS));
        else
            ok = len > 0 && !cp_hidden(cp);
        if (ok) {
            i += len;
            continue;
        }
        if (!out)
            return i;
        strbuf_add(out, s + run, i - run);
        if (len == 0) {
            strbuf_addf(out, "\\x%02X", c);
            len = 1;
        } else if (len == 1) {
            strbuf_addch(out, '^');
            strbuf_addch(out, c == 0x7f ? '?' : c + 0x40);
        } else {
            strbuf_addf(out, "<U+%04X>", (unsigned)cp);
        }
        i += len;
        run = i;
    }
    if (out)
        strbuf_add(out, s + run, i - run);
    return n;
}

void text_sanitize(strbuf *out, const char *s, size_t n, unsigned flags)
{
    walk(out, s, n, flags);
}

bool text_is_safe(const char *s, size_t n, unsigned flags)
{
    return walk(NULL, s, n, flags) == n;
}

size_t text_safe_prefix(const char *s, size_t n, unsigned flags)
{
    return walk(NULL, s, n, flags);
}

size_t text_unsafe_char(const char *s, size_t n, unsigned flags, char *shown, size_t size)
{
    uint32_t cp;
    size_t len = n ? utf8_decode((const unsigned char *)s, n, &cp) : 0;
    if (len == 0)
        len = n ? 1 : 0;
    strbuf sb = STRBUF_INIT;
    text_sanitize(&sb, s, len, flags);
    snprintf(shown, size, "%s", sb.buf);
    strbuf_release(&sb);
    return len;
}

char *text_safe(const char *s, unsigned flags)
{
    strbuf sb = STRBUF_INIT;
    if (s)
        text_sanitize(&sb, s, strlen(s), flags);
    return strbuf_detach(&sb, NULL);
}

int text_fputs(const char *s, unsigned flags, FILE *f)
{
    size_t n = strlen(s);
    if (text_is_safe(s, n, flags))
        return fputs(s, f);
    char *safe = text_safe(s, flags);
    int rc = safe ? fputs(safe, f) : EOF;
    free(safe);
    return rc;
}

int text_fprintf(FILE *f, unsigned flags, const char *fmt, ...)
{
    strbuf raw = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&raw, fmt, ap);
    va_end(ap);
    int rc = raw.failed ? EOF : text_fputs(raw.buf, flags, f);
    strbuf_release(&raw);
    return rc;
}
