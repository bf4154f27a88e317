/* view_tree: the population tree, one line per generation and per
 * individual (in the order of their numbers): state, front or survivor
 * mark, id, operator, persona, objective, parameters, parents (a failed
 * proposal, gN-fK, then its reason). Without
 * colour (NO_COLOR, a monochrome terminal) the first column marks the
 * selected line, as the cursor bar does with colour. Moving selects. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/noise.h"
#include "tui/wb.h"

static void row_text(wb *w, const wb_row *r, int width, char *buf, size_t size)
{
    if (r->ind < 0) {
        int n = 0, pend = 0;
        for (size_t i = 0; i < w->n_inds; i++)
            if (w->inds[i].generation == r->gen) {
                n++;
                pend += w->inds[i].state == WB_PENDING;
            }
        bool fold = wb_folded(w, r->gen) && !(w->only_pending || w->only_front);
        char extra[48] = "";
        if (pend)
            snprintf(extra, sizeof extra, ", %d pending", pend);
        /* without colour the first column is the selection's marker */
        snprintf(buf, size, "%s%s generation %d: %d%s%s", w->color ? "" : " ",
                 fold ? w->g.closed : w->g.open, r->gen, n, extra,
                 r->gen == w->live_gen ? " (live)" : "");
        return;
    }
    const wb_ind *d = &w->inds[r->ind];
    char obj[32], p[16];
    wb_fmt_params(p, sizeof p, d->params);
    if (d->state == WB_TRAINING)
        snprintf(obj, sizeof obj, "%3d%%", (int)(d->progress * 100 + 0.5));
    else if (d->val_acc >= 0)
        noise_format_acc(obj, sizeof obj, d->val_acc, d->rung, &w->noise);
    else
        snprintf(obj, sizeof obj, "%s", wb_state_label[d->state]);
    /* "74.9% ±0.7" needs a column of 10 (one more byte for the two of
       "±") once the session's noise is measured, 9 before */
    int obj_w = (isfinite(w->noise.std) ? 10 : 9) + (strstr(obj, "±") ? 1 : 0);
    const char *mark = d->on_front ? w->g.front : d->survivor ? w->g.dot : " ";
    char id[SESSION_ID_MAX + 4];
    snprintf(id, sizeof id, "%s%s",
             d->id[0]       ? d->id
             : d->failed[0] ? d->failed
                            : "...",
             d->edited ? "'" : "");
    char lin[80] = "";
    if (d->n_parents == 1)
        snprintf(lin, sizeof lin, "<%s", d->parents[0]);
    else if (d->n_parents == 2)
        snprintf(lin, sizeof lin, "<%s+%s", d->parents[0], d->parents[1]);
    const char *m = wb_is_marked(w, d->id) ? w->g.mark : " ";
    /* the offline proposer's label is too long for the column */
    const char *persona = !strncmp(d->persona, "random mutation", 15) ? "(no LLM)" : d->persona;
    /* a failed proposal says why after its parents */
    const char *why = d->failed[0] && d->message ? d->message : "";
    if (width >= 44)
        snprintf(buf, size, " %s%s%s %-7s %-9.9s %-8.8s %-*s %6s %s%s%s", m, w->g.state[d->state],
                 mark, id, d->op, persona, obj_w, obj, p, lin, why[0] ? "  " : "", why);
    else
        snprintf(buf, size, " %s%s%s %-7s %-9.9s %-*s %6s%s%s", m, w->g.state[d->state], mark, id,
                 d->op, obj_w, obj, p, why[0] ? " " : "", why);
}

static void tree_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    if (a->titled) {
        char title[128];
        snprintf(title, sizeof title, " Population%s%s", w->only_pending ? " [pending]" : "",
                 w->only_front ? " [front]" : "");
        wb_draw_title(w, y0++, a->x, a->w, title, focused);
        h--;
    }
    w->top = wb_scroll_to(w->top, w->sel, h);
    char buf[256];
    for (int i = 0; i < h; i++) {
        size_t r = (size_t)(w->top + i);
        if (r >= w->n_rows)
            break;
        const wb_row *row = &w->rows[r];
        row_text(w, row, a->w, buf, sizeof buf);
        int el = row->ind < 0 ? WB_C_GEN : WB_C_PROPOSING + (int)w->inds[row->ind].state;
        attr_t at = w->attr[el];
        if ((int)r == w->sel) {
            at = focused ? w->attr[WB_C_CURSOR] : w->attr[WB_C_CURSOR_DIM];
            wb_fill(y0 + i, a->x, a->w, at);
        }
        wb_put(w, y0 + i, a->x, a->w, buf, at);
        if ((int)r == w->sel && !w->color) /* the selection is seen without colour too */
            wb_put(w, y0 + i, a->x, 1, w->g.cursor, at);
        if (row->ind >= 0 && w->inds[row->ind].on_front && (int)r != w->sel) {
            /* the front mark stands out in its own colour */
            int x = a->x + 1 + wb_text_width(w, w->g.mark) + wb_text_width(w, w->g.state[0]);
            wb_put(w, y0 + i, x, 1, w->g.front, w->attr[WB_C_FRONT]);
        }
    }
    if (!w->n_rows || (w->n_rows == 1 && (w->only_pending || w->only_front)))
        wb_put(w, y0 + (int)w->n_rows, a->x, a->w,
               w->only_pending ? "  nothing pending review (p: all)" : "  (empty)", A_NORMAL);
}

static int tree_request(wb *w, int req)
{
    bool move;
    int delta = wb_move_delta(w, req, &move);
    if (!move)
        return WB_UNHANDLED;
    wb_select_row(w, w->sel + delta);
    return WB_REDRAW | WB_DETAIL;
}

static int tree_click(wb *w, const wb_area *a, int row, int col)
{
    int r = row - (a->titled ? 1 : 0);
    if (r < 0 || w->top + r >= (int)w->n_rows)
        return WB_REDRAW;
    wb_select_row(w, w->top + r);
    return WB_REDRAW | WB_DETAIL;
}

DEFINE_VIEW(tree, NULL, .draw = tree_draw, .request = tree_request, .click = tree_click);
