/* view_curves: validation accuracy per epoch of the marked individuals
 * (or the selected one), from the curves the data layer read
 * (wb_curves_load). */
#include <math.h>
#include <stdio.h>

#include "tui/wb.h"

static void curves_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h, n = w->n_curves, maxe = 0;
    wb_put(w, y0, 1, w->cols - 2, "Learning curves: validation accuracy per epoch (m marks more)",
           w->attr[WB_C_TITLE]);
    double lo = 1, hi = 0;
    for (int k = 0; k < n; k++) {
        const wb_curve *c = &w->curves[k];
        for (int e = 0; e < c->n; e++) {
            lo = fmin(lo, c->acc[e]);
            hi = fmax(hi, c->acc[e]);
        }
        if (c->n > maxe)
            maxe = c->n;
    }
    char buf[256];
    int o = 0;
    for (int k = 0; k < n && o < (int)sizeof buf; k++)
        o += snprintf(buf + o, sizeof buf - (size_t)o, "%d=%s%s  ", k + 1, w->curves[k].id,
                      w->curves[k].n ? "" : " (no curve yet)");
    wb_put(w, y0 + 1, 1, w->cols - 2, n ? buf : "select an individual (or mark some with m)",
           A_NORMAL);
    int W = w->cols - 12, H = h - 5, ox = 9, oy = y0 + 2;
    if (!maxe || W < 10 || H < 3)
        return;
    if (hi - lo < 1e-9) {
        lo -= 0.01;
        hi += 0.01;
    }
    wb_draw_axes(w, &(wb_area){oy, ox, H, W, false}, lo, hi);
    snprintf(buf, sizeof buf, "epoch 1 .. %d", maxe);
    wb_put(w, oy + H + 1, ox, W, buf, A_NORMAL);
    for (int k = 0; k < n; k++)
        for (int e = 0; e < w->curves[k].n; e++) {
            int cx = maxe > 1 ? e * (W - 1) / (maxe - 1) : 0;
            int cy = (int)((hi - w->curves[k].acc[e]) / (hi - lo) * (H - 1) + 0.5);
            char c[2] = {(char)('1' + k), 0};
            wb_put(w, oy + cy, ox + cx, 1, c, w->attr[WB_C_TRAINED + (k % 2) * 5]);
        }
}

DEFINE_VIEW(curves, "Learning curves", .load = wb_curves_load, .draw = curves_draw,
            .request = wb_scroll_request);
