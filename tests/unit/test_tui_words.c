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

static void test_changed_words_of_a_pair(void)
{
    char *del[] = {"    return relu(batchnorm(conv(x, c, k=3, stride=2, padding=1, bias=false)))"};
    char *add[] = {"    return relu(batchnorm(conv(x, c, k=5, stride=2, padding=2, bias=false)))"};
    unsigned char **dm, **am;
    gerr err = GERR_INIT;
    CHECK_EQ_INT(wb_words_diff(del, 1, add, 1, &dm, &am, &err), 0);
    char got[200];
    shown(del[0], dm[0], got);
    CHECK(!strcmp(got,
                  ".......................................3....................1..............."),
          "removed: %s", got);
    shown(add[0], am[0], got);
    CHECK(!strcmp(got,
                  ".......................................5....................2..............."),
          "added: %s", got);
    wb_marks_free(dm, 1);
    wb_marks_free(am, 1);
}

/* As git: the words of the whole block are diffed, so a line split in
 * two changes no word, and words only the added side has are marked. */
static void test_blocks_are_diffed_as_a_whole(void)
{
    char *del[] = {"y = add(conv(x, c, k=1), x)"};
    char *add[] = {"y = add(conv(x, c,", "          k=1), x)"};
    unsigned char **dm, **am;
    gerr err = GERR_INIT;
    CHECK_EQ_INT(wb_words_diff(del, 1, add, 2, &dm, &am, &err), 0);
    char got[64];
    shown(del[0], dm[0], got);
    CHECK(!strcmp(got, "..........................."), "split line, removed: %s", got);
    shown(add[0], am[0], got);
    CHECK(!strcmp(got, ".................."), "split line, added 1: %s", got);
    shown(add[1], am[1], got);
    CHECK(!strcmp(got, ".................."), "split line, added 2: %s", got);
    wb_marks_free(dm, 1);
    wb_marks_free(am, 2);

    /* a new line's words are new; where the block's words are ambiguous
       (which ")" is the old one) git's diff decides, so only what is
       certain is checked */
    char *del2[] = {"x = stem(x, 16)"};
    char *add2[] = {"x = stem(x, 24)", "s = sigmoid(gap(x))"};
    CHECK_EQ_INT(wb_words_diff(del2, 1, add2, 2, &dm, &am, &err), 0);
    shown(del2[0], dm[0], got);
    CHECK(!strcmp(got, "............16."), "removed: %s", got);
    shown(add2[0], am[0], got);
    CHECK(!strncmp(got, "............24", 14), "added 1: %s", got);
    shown(add2[1], am[1], got);
    CHECK(!strncmp(got, "s.=.sigmoid(gap(x", 17), "added 2: %s", got);
    wb_marks_free(dm, 1);
    wb_marks_free(am, 2);
}

/* A line with no counterpart: nothing to compare, nothing marked. */
static void test_lines_without_a_pair(void)
{
    char *add[] = {"x = se(x)"};
    unsigned char **dm, **am;
    gerr err = GERR_INIT;
    CHECK_EQ_INT(wb_words_diff(NULL, 0, add, 1, &dm, &am, &err), 0);
    char got[64];
    shown(add[0], am[0], got);
    CHECK(!strcmp(got, "x.=.se(x)"), "an added line alone: %s", got);
    wb_marks_free(dm, 0);
    wb_marks_free(am, 1);
}

int main(void)
{
    RUN(test_textdiff_reports_changed_lines);
    RUN(test_changed_words_of_a_pair);
    RUN(test_blocks_are_diffed_as_a_whole);
    RUN(test_lines_without_a_pair);
    return harness_done();
}
