/* textdiff: see textdiff.h. */
#include "sessions/textdiff.h"

#include <git2.h>
#include <stdbool.h>

typedef struct call {
    textdiff_fn fn;
    void *ctx;
    int rc; /* what fn returned to stop the diff */
} call;

static int on_line(const git_diff_delta *delta, const git_diff_hunk *hunk,
                   const git_diff_line *line, void *payload)
{
    call *c = payload;
    int rc = 0;
    if (line->origin == GIT_DIFF_LINE_DELETION)
        rc = c->fn(c->ctx, line->old_lineno, 0);
    else if (line->origin == GIT_DIFF_LINE_ADDITION)
        rc = c->fn(c->ctx, 0, line->new_lineno);
    if (rc)
        c->rc = rc;
    return rc;
}

int textdiff_lines(const char *a, size_t alen, const char *b, size_t blen, textdiff_fn fn,
                   void *ctx, gerr *err)
{
    static bool ready;
    if (!ready) {
        git_libgit2_init(); /* counted; the session module may have done it already */
        ready = true;
    }
    git_diff_options o;
    git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
    o.context_lines = 0;
    o.interhunk_lines = 0;
    o.flags = GIT_DIFF_MINIMAL | GIT_DIFF_FORCE_TEXT;
    call c = {fn, ctx, 0};
    int rc = git_diff_buffers(a, alen, NULL, b, blen, NULL, &o, NULL, NULL, NULL, on_line, &c);
    if (c.rc)
        return c.rc;
    if (rc < 0) {
        const git_error *e = git_error_last();
        return gerr_set(err, "diff of two texts: %s", e && e->message ? e->message : "failed");
    }
    return 0;
}
