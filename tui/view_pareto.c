/* view_pareto: validation accuracy against parameters (log scale) of the
 * trained individuals shown; the front stands out, the selection on top. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/wb.h"

static void pareto_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    int W = w->cols - 12, H = h - 4;
    wb_put(w, y0, 1, w->cols - 2,
           "Pareto front: validation accuracy (up) vs. parameters (right, log)",
           w->attr[WB_C_TITLE]);
    double xmin = 1e300, xmax = -1, ymin = 2, ymax = -1;
    int n = 0;
    for (size_t i = 0; i < w->n_inds; i++) {
        const wb_ind *d = &w->inds[i];
        if (d->val_acc < 0 || d->params <= 0)
            continue;
        double lx = log10((double)d->params);
        xmin = fmin(xmin, lx);
        xmax = fmax(xmax, lx);
        ymin = fmin(ymin, d->val_acc);
        ymax = fmax(ymax, d->val_acc);
        n++;
    }
    char buf[256];
    if (!n || W < 10 || H < 4) {
        wb_put(w, y0 + 2, 2, w->cols - 4, "no trained individual yet (Esc: back)", A_NORMAL);
        return;
    }
    int ox = 9, oy = y0 + 1;
    wb_draw_params_axes(w, &(wb_area){oy, ox, H, W, false}, &xmin, &xmax, &ymin, &ymax);
    wb_ind *sel = wb_selected(w);
    /* Ordinary points first, the front over them, the selection last. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t i = 0; i < w->n_inds; i++) {
            const wb_ind *d = &w->inds[i];
            if (d->val_acc < 0 || d->params <= 0)
                continue;
            bool is_sel = sel && !strcmp(sel->id, d->id);
            if ((pass == 0 && (d->on_front || is_sel)) || (pass == 1 && (!d->on_front || is_sel)) ||
                (pass == 2 && !is_sel))
                continue;
            int cx = (int)((log10((double)d->params) - xmin) / (xmax - xmin) * (W - 1) + 0.5);
            int cy = (int)((ymax - d->val_acc) / (ymax - ymin) * (H - 1) + 0.5);
            const char *g = is_sel ? w->g.mark : d->on_front ? w->g.front : w->g.state[WB_TRAINED];
            wb_put(w, oy + cy, ox + cx, 1, g,
                   w->attr[is_sel        ? WB_C_CURSOR
                           : d->on_front ? WB_C_FRONT
                                         : WB_C_TRAINED]);
        }
    snprintf(buf, sizeof buf, "%s front  %s selected%s%s   %d trained shown", w->g.front, w->g.mark,
             sel ? ": " : "", sel ? sel->id : "", n);
    wb_put(w, oy + H + 2, ox, w->cols - ox - 1, buf, A_NORMAL);
}

DEFINE_VIEW(pareto, "Pareto front", .draw = pareto_draw, .request = wb_scroll_request);
