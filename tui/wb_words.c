/* wb_words: word-level highlights of a diff, as git's --word-diff finds
 * them: the words of a block of removed lines are diffed against the
 * words of the added lines that follow it, one word a line, by the same
 * line diff git uses (sessions/textdiff.h). A word is a run of letters,
 * digits and '_', or one other character; blanks separate words and are
 * never a change of their own. */
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "sessions/textdiff.h"
#include "tui/wb.h"

#define MAX_WORDS 4000 /* a block this big is a rewrite: no word highlights */

typedef struct word {
    int side; /* 0 removed, 1 added */
    size_t line, start, len;
} word;

typedef struct words {
    word *v;
    size_t n, alloc;
    size_t first_add; /* v[first_add..] are the added side's */
    strbuf text[2];   /* one word a line, per side */
    unsigned char **marks[2];
} words;

static bool is_word_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c >= 0x80;
}

static int split(words *ws, int side, char **lines, size_t n)
{
    for (size_t l = 0; l < n; l++) {
        const unsigned char *s = (const unsigned char *)lines[l];
        for (size_t i = 0; s[i];) {
            if (s[i] == ' ' || s[i] == '\t') {
                i++;
                continue;
            }
            size_t j = i + 1;
            if (is_word_char(s[i]))
                while (s[j] && is_word_char(s[j]))
                    j++;
            if (ws->n >= MAX_WORDS || ALLOC_GROW(ws->v, ws->n + 1, ws->alloc) != 0)
                return -1;
            ws->v[ws->n++] = (word){side, l, i, j - i};
            strbuf_add(&ws->text[side], s + i, j - i);
            strbuf_addch(&ws->text[side], '\n');
            i = j;
        }
        /* the end of a line is a word of its own (an empty line, which no
           word is), so words stay with their line where they can */
        if (ws->n >= MAX_WORDS || ALLOC_GROW(ws->v, ws->n + 1, ws->alloc) != 0)
            return -1;
        ws->v[ws->n++] = (word){side, l, strlen(lines[l]), 0};
        strbuf_addch(&ws->text[side], '\n');
    }
    return ws->text[side].failed ? -1 : 0;
}

static int mark(void *ctx, int old_line, int new_line)
{
    words *ws = ctx;
    size_t k = old_line > 0 ? (size_t)old_line - 1 : ws->first_add + (size_t)new_line - 1;
    if (k >= ws->n)
        return 0;
    const word *wd = &ws->v[k];
    memset(ws->marks[wd->side][wd->line] + wd->start, 1, wd->len);
    return 0;
}

static unsigned char **new_marks(char **lines, size_t n)
{
    unsigned char **m = calloc(n ? n : 1, sizeof *m);
    for (size_t i = 0; m && i < n; i++)
        if (!(m[i] = calloc(strlen(lines[i]) + 1, 1))) {
            wb_marks_free(m, i);
            return NULL;
        }
    return m;
}

void wb_marks_free(unsigned char **m, size_t n)
{
    for (size_t i = 0; m && i < n; i++)
        free(m[i]);
    free(m);
}

int wb_words_diff(char **del, size_t nd, char **add, size_t na, unsigned char ***del_marks,
                  unsigned char ***add_marks, gerr *err)
{
    *del_marks = *add_marks = NULL;
    words ws = {.text = {STRBUF_INIT, STRBUF_INIT}};
    int rc = -1;
    ws.marks[0] = new_marks(del, nd);
    ws.marks[1] = new_marks(add, na);
    if (!ws.marks[0] || !ws.marks[1]) {
        gerr_set(err, "word diff: out of memory");
    } else if (split(&ws, 0, del, nd) != 0 || (ws.first_add = ws.n, split(&ws, 1, add, na)) != 0) {
        rc = 0; /* too big to be worth it, or no memory: no word highlights */
    } else {
        rc = textdiff_lines(ws.text[0].buf, ws.text[0].len, ws.text[1].buf, ws.text[1].len, mark,
                            &ws, err);
    }
    if (rc == 0) {
        *del_marks = ws.marks[0];
        *add_marks = ws.marks[1];
    } else {
        wb_marks_free(ws.marks[0], nd);
        wb_marks_free(ws.marks[1], na);
    }
    free(ws.v);
    strbuf_release(&ws.text[0]);
    strbuf_release(&ws.text[1]);
    return rc;
}
