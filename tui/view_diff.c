/* view_diff: the selection's diff against its parent(s) or the
 * researcher's edit, coloured, with the annotations under their lines and
 * a line cursor for annotating. */
#include <stdio.h>

#include "tui/wb.h"

static void title_text(wb *w, char *buf, size_t n)
{
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0])
        snprintf(buf, n, " Diff");
    else if (w->diff_mode == 1)
        snprintf(buf, n, " Diff: %s, the researcher's edit", d->id);
    else if (d->n_parents == 2)
        snprintf(buf, n, " Diff: %s against %s and %s", d->id, d->parents[0], d->parents[1]);
    else if (d->n_parents == 1)
        snprintf(buf, n, " Diff: %s against %s", d->id, d->parents[0]);
    else
        snprintf(buf, n, " Genome: %s", d->id);
}

static void diff_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    if (a->titled) {
        char title[128];
        title_text(w, title, sizeof title);
        wb_draw_title(w, y0++, a->x, a->w, title, focused);
        h--;
    }
    w->diff_top = wb_scroll_to(w->diff_top, w->diff_cur, h);
    for (int i = 0; i < h; i++) {
        size_t r = (size_t)(w->diff_top + i);
        if (r >= w->n_diff)
            break;
        attr_t at = w->attr[w->diff[r].kind];
        if (focused && (int)r == w->diff_cur) {
            at = w->attr[WB_C_CURSOR];
            wb_fill(y0 + i, a->x, a->w, at);
        }
        wb_put(w, y0 + i, a->x, a->w, w->diff[r].text, at);
    }
}

static int diff_request(wb *w, int req)
{
    bool move;
    int delta = wb_move_delta(w, req, &move);
    if (!move)
        return WB_UNHANDLED;
    w->diff_cur = wb_clamp_add(w->diff_cur, delta, 0, w->n_diff ? (int)w->n_diff - 1 : 0);
    return WB_REDRAW;
}

DEFINE_VIEW(diff) = {
    .name = "diff",
    .load = wb_detail_diff,
    .draw = diff_draw,
    .request = diff_request,
};
