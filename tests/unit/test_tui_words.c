/* Word-level highlights: the words git's --word-diff would mark, found by
 * libgit2's line diff over one word a line (sessions/textdiff.h). */
#include <stdlib.h>
#include <string.h>

#include "sessions/textdiff.h"
#include "tests/harness.h"
#include "tui/wb.h"

/* The marked bytes of s as a string: the marked ones, '.' elsewhere. */
static void shown(const char *s, const unsigned char *m, char *out)
{
    size_t n = strlen(s);
    for (size_t i = 0; i < n; i++)
        out[i] = m[i] ? s[i] : '.';
    out[n] = 0;
}

typedef struct seen {
    int del[8], add[8], nd, na;
} seen;

static int collect(void *ctx, int old_line, int new_line)
{
    seen *s = ctx;
    if (old_line && s->nd < 8)
        s->del[s->nd++] = old_line;
    if (new_line && s->na < 8)
        s->add[s->na++] = new_line;
    return 0;
}

static void test_textdiff_reports_changed_lines(void)
{
    const char a[] = "one\ntwo\nthree\nfour\n", b[] = "one\n2\nthree\nfour\nfive\n";
    seen s = {0};
    gerr err = GERR_INIT;
    CHECK_EQ_INT(textdiff_lines(a, strlen(a), b, strlen(b), collect, &s, &err), 0);
    CHECK(s.nd == 1 && s.del[0] == 2, "removed: %d lines, first %d", s.nd, s.del[0]);
    CHECK(s.na == 2 && s.add[0] == 2 && s.add[1] == 5, "added: %d lines", s.na);
}

/* The word marks of the block del (nd lines) against the block add (na
 * lines), checked line by line: want_del[i] and want_add[i] are what
 * shown() gives for each line; one ending in '*' need only begin with
 * what comes before it (where git's diff decides the rest). */
static void check_words(const char *what, char **del, size_t nd, char **add, size_t na,
                        const char *const *want_del, const char *const *want_add)
{
    unsigned char **dm, **am;
    gerr err = GERR_INIT;
    int rc = wb_words_diff(del, nd, add, na, &dm, &am, &err);
    CHECK_EQ_INT(rc, 0);
    if (rc)
        return;
    for (size_t i = 0; i < nd + na; i++) {
        const char *line = i < nd ? del[i] : add[i - nd];
        const char *want = i < nd ? want_del[i] : want_add[i - nd];
        char got[256];
        shown(line, i < nd ? dm[i] : am[i - nd], got);
        size_t n = strlen(want);
        bool prefix = n && want[n - 1] == '*';
        CHECK(prefix ? !strncmp(got, want, n - 1) : !strcmp(got, want), "%s, %s line %zu: %s", what,
              i < nd ? "removed" : "added", i < nd ? i + 1 : i - nd + 1, got);
    }
    wb_marks_free(dm, nd);
    wb_marks_free(am, na);
}

static void test_changed_words_of_a_pair(void)
{
    char *del[] = {"    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))"};
    char *add[] = {"    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))"};
    const char *want_del[] = {
        ".......................................3....................1..............."};
    const char *want_add[] = {
        ".......................................5....................2..............."};
    check_words("a pair", del, 1, add, 1, want_del, want_add);
}

/* As git: the words of the whole block are diffed, so a line split in
 * two changes no word, and words only the added side has are marked. */
static void test_blocks_are_diffed_as_a_whole(void)
{
    char *del[] = {"y = add(conv(x, c, k=1), x)"};
    char *add[] = {"y = add(conv(x, c,", "          k=1), x)"};
    const char *unmarked_del[] = {"..........................."};
    const char *unmarked_add[] = {"..................", ".................."};
    check_words("split line", del, 1, add, 2, unmarked_del, unmarked_add);

    /* a new line's words are new; where the block's words are ambiguous
       (which ")" is the old one) git's diff decides, so only what is
       certain is checked */
    char *del2[] = {"x = stem(x, 16)"};
    char *add2[] = {"x = stem(x, 24)", "s = sigmoid(gap(x))"};
    const char *want_del[] = {"............16."};
    const char *want_add[] = {"............24*", "s.=.sigmoid(gap(x*"};
    check_words("a new line", del2, 1, add2, 2, want_del, want_add);
}

/* A line with no counterpart: nothing to compare, nothing marked. */
static void test_lines_without_a_pair(void)
{
    char *add[] = {"x = se(x)"};
    const char *want_add[] = {"x.=.se(x)"};
    check_words("an added line alone", NULL, 0, add, 1, NULL, want_add);
}

int main(void)
{
    RUN(test_textdiff_reports_changed_lines);
    RUN(test_changed_words_of_a_pair);
    RUN(test_blocks_are_diffed_as_a_whole);
    RUN(test_lines_without_a_pair);
    return harness_done();
}
