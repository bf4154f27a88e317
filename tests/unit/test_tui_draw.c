/* The workbench's drawing primitive on a real curses screen (newterm on a
 * temporary file): untrusted text (an LLM's reasoning, a genome's
 * comments) is shown as engine/base/text.h makes it safe, C1 controls and
 * bidi overrides included, and read back from the screen as it would be
 * dumped. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <wchar.h>

#include "engine/base/text.h"
#include "tests/harness.h"
#include "tui/wb.h"

static SCREEN *scr;
static FILE *out, *in;

static int start_screen(void)
{
    setenv("TERM", "xterm-256color", 1);
    setenv("LINES", "5", 1);
    setenv("COLUMNS", "80", 1);
    if (!setlocale(LC_ALL, "C.UTF-8"))
        return -1;
    int fds[2];
    out = tmpfile();
    if (!out || pipe(fds) != 0)
        return -1;
    close(fds[1]);
    in = fdopen(fds[0], "r");
    scr = in ? newterm(NULL, out, in) : NULL;
    if (!scr)
        return -1;
    set_term(scr);
    return 0;
}

static void stop_screen(void)
{
    endwin();
    delscreen(scr);
    fclose(out);
    fclose(in);
}

/* Row y of the screen as UTF-8, trailing blanks removed. */
static void row_text(int y, char *buf, size_t size)
{
    wchar_t wbuf[128];
    int n = mvinnwstr(y, 0, wbuf, 80);
    size_t o = 0;
    mbstate_t ms;
    memset(&ms, 0, sizeof ms);
    for (int i = 0; i < n && wbuf[i] && o + MB_CUR_MAX < size; i++) {
        size_t k = wcrtomb(buf + o, wbuf[i], &ms);
        if (k != (size_t)-1)
            o += k;
    }
    while (o > 0 && buf[o - 1] == ' ')
        o--;
    buf[o] = 0;
}

static wb *new_wb(bool utf8)
{
    wb *w = calloc(1, sizeof *w);
    w->safe = (strbuf)STRBUF_INIT;
    w->utf8 = utf8;
    return w;
}

static void free_wb(wb *w)
{
    strbuf_release(&w->safe);
    wb_cells_release(&w->cells);
    free(w);
}

/* ESC (a CSI colour), CSI as the C1 control U+009B, an OSC 52 clipboard
 * write, a right-to-left override U+202E, an isolate U+2066, a byte that
 * is not UTF-8. */
static const char hostile[] = "a\x1b[31mb\xc2\x9b"
                              "2Jc\x1b]52;c;eA==\x07"
                              "d\xe2\x80\xae"
                              "e\xe2\x81\xa6"
                              "f\xff";

static void test_untrusted_text_is_shown_as_text_h_shows_it(void)
{
    wb *w = new_wb(true);
    erase();
    int used = wb_put(w, 0, 0, 80, hostile, A_NORMAL);
    char got[512];
    row_text(0, got, sizeof got);
    char *want = text_safe(hostile, TEXT_TABS);
    CHECK(want && !strcmp(got, want), "screen '%s', text.h '%s'", got, want);
    CHECK(strstr(got, "<U+009B>") && strstr(got, "<U+202E>") && strstr(got, "<U+2066>"),
          "C1 and bidi controls are visible: '%s'", got);
    CHECK(strstr(got, "^[[31m") && strstr(got, "^G") && strstr(got, "\\xFF"),
          "ESC, BEL and a bad byte are visible: '%s'", got);
    CHECK_EQ_INT(used, (long long)strlen(want));
    CHECK_EQ_INT(wb_text_width(w, hostile), (long long)strlen(want));
    free(want);
    free_wb(w);
}

static void test_cut_to_width_and_tabs(void)
{
    wb *w = new_wb(true);
    erase();
    wb_put(w, 1, 0, 6, "x\xc2\x9byz", A_NORMAL);
    wb_put(w, 2, 0, 80, "\tk=5 \xc3\xa9t\xc3\xa9", A_NORMAL);
    char got[256];
    row_text(1, got, sizeof got);
    CHECK(!strcmp(got, "x<U+00"), "cut at 6 columns of the visible form: '%s'", got);
    row_text(2, got, sizeof got);
    CHECK(!strcmp(got, "    k=5 \xc3\xa9t\xc3\xa9"), "a tab is four spaces, UTF-8 passes: '%s'",
          got);
    free_wb(w);
}

static void test_ascii_screen(void)
{
    wb *w = new_wb(false);
    erase();
    wb_put(w, 3, 0, 80, "\xc3\xa9\xc2\x9b\xe2\x80\xae!", A_NORMAL);
    char got[256];
    row_text(3, got, sizeof got);
    CHECK(!strcmp(got, "?<U+009B><U+202E>!"), "without UTF-8: '%s'", got);
    CHECK_EQ_INT(wb_text_width(w, "\xc3\xa9\xc2\x9b"), 9);
    free_wb(w);
}

int main(void)
{
    if (start_screen() != 0) {
        harness_fail(__FILE__, __LINE__, "no curses screen (TERM=xterm-256color, C.UTF-8)");
        return harness_done();
    }
    RUN(test_untrusted_text_is_shown_as_text_h_shows_it);
    RUN(test_cut_to_width_and_tabs);
    RUN(test_ascii_screen);
    stop_screen();
    return harness_done();
}
