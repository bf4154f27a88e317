/* textdiff: a line diff of two texts in memory, by libgit2 (git's xdiff),
 * for what is not a session's tree: the workbench's word-level highlights
 * put one word on a line and diff the words, as git's --word-diff does.
 *
 * Errors follow engine/base/error.h: -1 with a message in err. */
#ifndef GEVO_SESSIONS_TEXTDIFF_H
#define GEVO_SESSIONS_TEXTDIFF_H

#include <stddef.h>

#include "engine/base/error.h"

/* Called for each line of a that b does not have (old_line >= 1,
 * new_line 0) and each line of b that a does not have (old_line 0,
 * new_line >= 1); lines count from 1. A non-zero return stops the diff and
 * is returned. */
typedef int (*textdiff_fn)(void *ctx, int old_line, int new_line);

/* Diffs a[0..alen) against b[0..blen) (lines end in '\n'; git's minimal
 * diff) and calls fn for every changed line. */
int textdiff_lines(const char *a, size_t alen, const char *b, size_t blen, textdiff_fn fn,
                   void *ctx, gerr *err);

#endif
