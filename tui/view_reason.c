/* view_reason: the persona's reasoning (or, with t, the prompt) of the
 * selection, wrapped at word boundaries; while a proposal streams, the
 * reasoning as it arrives. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/strbuf.h"
#include "tui/wb.h"

/* Calls out(ctx, n, line, len) for each line of text wrapped to width
 * columns; returns the number of lines. */
static int wrap(wb *w, const char *text, int width,
                void (*out)(void *ctx, int n, const char *s, size_t len), void *ctx)
{
    int n = 0;
    const char *p = text;
    char one[8];
    while (p && *p) {
        const char *start = p, *brk = NULL;
        int used = 0;
        while (*p && *p != '\n') {
            /* one character: its bytes up to the next character start */
            size_t len = 1;
            while (p[len] && ((unsigned char)p[len] & 0xc0) == 0x80 && len < sizeof one - 1)
                len++;
            memcpy(one, p, len);
            one[len] = 0;
            int cw = wb_text_width(w, one);
            if (used + cw > width)
                break;
            if (*p == ' ')
                brk = p;
            used += cw;
            p += len;
        }
        const char *end = p;
        if (*p && *p != '\n' && brk && brk > start) {
            end = brk;
            p = brk + 1;
        } else if (*p && *p != '\n' && p == start) {
            p++; /* wider than the pane: one character a line */
            end = p;
        } else if (*p == '\n') {
            p++;
        }
        if (out)
            out(ctx, n, start, (size_t)(end - start));
        n++;
    }
    return n;
}

typedef struct wrap_ctx {
    wb *w;
    int y0, x, h, width, top;
} wrap_ctx;

static void wrap_out(void *ctx, int n, const char *s, size_t len)
{
    wrap_ctx *c = ctx;
    int row = n - c->top;
    if (row < 0 || row >= c->h)
        return;
    char *line = strndup(s, len);
    if (!line)
        return;
    attr_t a = !strncmp(line, "-- ", 3) ? c->w->attr[WB_C_TITLE] : A_NORMAL;
    wb_put(c->w, c->y0 + row, c->x, c->width, line, a);
    free(line);
}

/* The text shown: the stored reasoning, or the stream of a proposal. */
static char *shown_text(wb *w)
{
    wb_ind *d = wb_selected(w);
    strbuf sb = STRBUF_INIT;
    if (d && d->live && d->state == WB_PROPOSING)
        strbuf_addf(&sb, "proposing: %s%s%s\n\n-- reasoning (streaming) --\n%s", d->op,
                    d->persona[0] ? " by " : "", d->persona, w->live_text ? w->live_text : "");
    else
        strbuf_addstr(&sb, w->reason_text ? w->reason_text : "");
    return strbuf_detach(&sb, NULL);
}

int wb_reason_lines(wb *w, int width)
{
    char *t = shown_text(w);
    int n = wrap(w, t, width, NULL, NULL);
    free(t);
    return n;
}

static void reason_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    if (a->titled) {
        wb_draw_title(w, y0++, a->x, a->w, w->show_prompt ? " Prompt" : " Reasoning", focused);
        h--;
    }
    char *t = shown_text(w);
    int total = wrap(w, t, a->w, NULL, NULL);
    if (w->reason_top > total - h)
        w->reason_top = total - h;
    if (w->reason_top < 0)
        w->reason_top = 0;
    wrap_ctx c = {w, y0, a->x, h, a->w, w->reason_top};
    wrap(w, t, a->w, wrap_out, &c);
    free(t);
}

static int reason_request(wb *w, int req)
{
    return wb_scroll(w, req, &w->reason_top);
}

DEFINE_VIEW(reason, NULL, .load = wb_detail_reason, .draw = reason_draw, .request = reason_request);
