/* strbuf: a growable, always NUL-terminated string (git's strbuf, without
 * dying on failure).
 *
 * Invariants: sb.buf is never NULL and sb.buf[sb.len] == 0, from
 * STRBUF_INIT on (an empty buffer points at a shared "" until it first
 * grows, so it must not be written through then). Out of memory does not
 * return an error from every call: it makes the buffer "failed" (sticky;
 * later appends do nothing), so a builder appends freely and checks once:
 *
 *     strbuf sb = STRBUF_INIT;
 *     strbuf_addf(&sb, "%d", n); strbuf_addstr(&sb, name);
 *     if (sb.failed) { strbuf_release(&sb); return gerr_set(err, "out of memory"); }
 *
 * strbuf_release frees what the buffer owns and leaves it as STRBUF_INIT;
 * strbuf_detach hands the string to the caller (free() it). */
#ifndef GEVO_BASE_STRBUF_H
#define GEVO_BASE_STRBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct strbuf {
    char *buf;
    size_t len;
    size_t alloc; /* 0 while buf points at the shared "" */
    bool failed;  /* an allocation failed: the content is incomplete */
} strbuf;

extern char strbuf_empty[1];
#define STRBUF_INIT               \
    {                             \
        strbuf_empty, 0, 0, false \
    }

void strbuf_init(strbuf *sb);
void strbuf_release(strbuf *sb);
/* The string (malloc'd, caller frees; never NULL unless out of memory or
 * the buffer failed); *len gets its length when len is not NULL. The
 * buffer is left empty. */
char *strbuf_detach(strbuf *sb, size_t *len);
/* Room for `extra` more bytes (plus the NUL); -1 when that fails. */
int strbuf_grow(strbuf *sb, size_t extra);
void strbuf_add(strbuf *sb, const void *data, size_t n);
void strbuf_addstr(strbuf *sb, const char *s);
void strbuf_addch(strbuf *sb, int c);
void strbuf_addf(strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void strbuf_vaddf(strbuf *sb, const char *fmt, va_list ap);
/* Cuts to len (<= sb->len). */
void strbuf_setlen(strbuf *sb, size_t len);
void strbuf_reset(strbuf *sb);

#endif
