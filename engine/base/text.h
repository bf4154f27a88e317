/* text: what any layer does before text it did not write itself reaches a
 * terminal (an LLM's reasoning and genome comments, a server's error body
 * or `model` field, a file name from a data set).
 *
 * Printable UTF-8 passes; a newline and a tab pass where the caller allows
 * them; everything else is shown visibly instead of being obeyed: C0
 * controls and DEL in caret notation (ESC is "^["), C1 controls and the
 * bidirectional overrides that reorder what a reader sees (U+202A-U+202E,
 * U+2066-U+2069) as "<U+009B>", and bytes that are not UTF-8 as "\xNN".
 * So no escape sequence (CSI, OSC 52 clipboard writes, OSC 8 links) from
 * untrusted text can act on the terminal. */
#ifndef GEVO_BASE_TEXT_H
#define GEVO_BASE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "engine/base/strbuf.h"

enum {
    TEXT_NEWLINES = 1, /* keep '\n' (else shown as ^J) */
    TEXT_TABS = 2,     /* keep '\t' (else shown as ^I) */
    TEXT_MULTILINE = TEXT_NEWLINES | TEXT_TABS,
};

/* Appends the safe form of s[0..n) to out. */
void text_sanitize(strbuf *out, const char *s, size_t n, unsigned flags);
/* The safe form of a string (malloc'd; NULL only when out of memory). */
char *text_safe(const char *s, unsigned flags);
/* true when s[0..n) is already safe (text_sanitize would copy it as is). */
bool text_is_safe(const char *s, size_t n, unsigned flags);
/* The length of the longest safe prefix of s[0..n): n when all of it is
 * safe, else the offset of the first character text_sanitize would
 * replace (for "line 4, column 12: control character ^[" messages). */
size_t text_safe_prefix(const char *s, size_t n, unsigned flags);
/* The visible form of the one character at s (at most n bytes; an unsafe
 * one, typically at a text_safe_prefix offset) into shown ("^[",
 * "<U+202E>", "\xFF"); returns its length in bytes. */
size_t text_unsafe_char(const char *s, size_t n, unsigned flags, char *shown, size_t size);
/* fputs of the safe form; returns what fputs does. */
int text_fputs(const char *s, unsigned flags, FILE *f);
/* printf-like: formats, then writes the safe form of the result. Use it
 * only where every argument is safe to mangle (a message, not data). */
int text_fprintf(FILE *f, unsigned flags, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
