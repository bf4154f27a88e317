/* view_report: the session's result table, as gevo report prints it
 * (core/report.h), and a plot of the confirmed individuals' mean test
 * accuracy against parameters (log scale) with error bars of one
 * standard deviation over seeds. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/wb.h"

static void draw_table(wb *w, int y, int h)
{
    const report *rp = &w->report;
    char buf[512];
    snprintf(buf, sizeof buf, "%-9s %-5s %8s %8s %-13s %-13s %7s %6s %-5s %s", "id", "label",
             "params", "Δparams", "val %", "test %", "Δtest", "p", "noise", "gen op persona");
    wb_put(w, y, 1, w->cols - 2, buf, A_BOLD);
    for (size_t i = 0; i < rp->n && (int)i + 1 < h; i++) {
        const report_row *r = &rp->rows[i];
        char val[40], test[40], dp[24] = "-", dt[24] = "-", p[24] = "-", size[16];
        report_format_pm(val, sizeof val, r->val_mean, r->val_std);
        report_format_pm(test, sizeof test, r->test_mean, r->test_std);
        wb_fmt_params(size, sizeof size, (long)r->params);
        if (i) {
            snprintf(dp, sizeof dp, "%+.1f%%", r->delta_params_pct);
            snprintf(dt, sizeof dt, "%+.2f", r->delta_test);
        }
        if (isfinite(r->p))
            snprintf(p, sizeof p, "%.3f", r->p);
        /* "±" is one column, two bytes: the widths add one */
        snprintf(buf, sizeof buf, "%-9s %-5s %8s %8s %-14s %-14s %7s %6s %-5s %d %s %s", r->id,
                 r->label, size, dp, val, test, dt, p,
                 i == 0            ? "-"
                 : r->beyond_noise ? "yes"
                                   : "no",
                 r->generation, r->op, r->persona);
        wb_put(w, y + 1 + (int)i, 1, w->cols - 2, buf,
               r->label[0] && strcmp(r->label, "seed") ? w->attr[WB_C_FRONT] : A_NORMAL);
    }
}

/* Whether the row has a point on the plot (a parameter count and a mean
 * test accuracy); *sd is its bar's half height, 0 without a spread. */
static bool plotted(const report_row *r, double *sd)
{
    *sd = isfinite(r->test_std) ? r->test_std : 0;
    return r->params > 0 && isfinite(r->test_mean);
}

/* Mean test accuracy (up) against parameters (right, log), each with a
 * vertical bar from mean - sd to mean + sd. */
static void draw_plot(wb *w, int y0, int h)
{
    const report *rp = &w->report;
    int W = w->cols - 12, H = h - 2;
    if (W < 10 || H < 4)
        return;
    double xmin = 1e300, xmax = -1e300, ymin = 2, ymax = -1;
    for (size_t i = 0; i < rp->n; i++) {
        const report_row *r = &rp->rows[i];
        double sd;
        if (!plotted(r, &sd))
            continue;
        xmin = fmin(xmin, log10(r->params));
        xmax = fmax(xmax, log10(r->params));
        ymin = fmin(ymin, r->test_mean - sd);
        ymax = fmax(ymax, r->test_mean + sd);
    }
    if (ymax < 0)
        return;
    int ox = 9, oy = y0;
    wb_draw_params_axes(w, &(wb_area){oy, ox, H, W, false}, &xmin, &xmax, &ymin, &ymax);
    for (size_t i = 0; i < rp->n; i++) {
        const report_row *r = &rp->rows[i];
        double sd;
        if (!plotted(r, &sd))
            continue;
        int cx = (int)((log10(r->params) - xmin) / (xmax - xmin) * (W - 1) + 0.5);
#define ROW(v) ((int)((ymax - (v)) / (ymax - ymin) * (H - 1) + 0.5))
        int top = ROW(r->test_mean + sd), bot = ROW(r->test_mean - sd), mid = ROW(r->test_mean);
#undef ROW
        for (int yy = top; yy <= bot; yy++)
            wb_put(w, oy + yy, ox + cx, 1, yy == top || yy == bot ? "-" : w->g.vline, A_NORMAL);
        bool seed = i == 0;
        wb_put(w, oy + mid, ox + cx, 1, seed ? "o" : w->g.front,
               w->attr[seed ? WB_C_TRAINED : WB_C_FRONT]);
        const char *label = r->label[0] && !seed ? r->label : seed ? "seed" : "";
        int len = (int)strlen(label), lx = ox + cx + 2;
        if (lx + len > w->cols - 1) /* at the right edge: on the left of the point */
            lx = ox + cx - 1 - len;
        if (label[0] && lx > ox)
            wb_put(w, oy + mid, lx, len, label, A_NORMAL);
    }
}

static void report_draw(wb *w, const wb_area *a, bool focused)
{
    int y0 = a->y, h = a->h;
    const report *rp = &w->report;
    char buf[256];
    if (w->report_err[0] || rp->n == 0) {
        wb_put(w, y0, 1, w->cols - 2, "Result table (gevo report)", w->attr[WB_C_TITLE]);
        wb_put(w, y0 + 2, 2, w->cols - 4, w->report_err[0] ? w->report_err : "nothing confirmed",
               A_NORMAL);
        wb_put(w, y0 + 3, 2, w->cols - 4, "(Esc: back)", A_NORMAL);
        return;
    }
    char fid[64];
    if (rp->images)
        snprintf(fid, sizeof fid, "%ld images", rp->images);
    else
        snprintf(fid, sizeof fid, "all images");
    snprintf(buf, sizeof buf,
             "Result table: confirmed at %s, %d epoch%s; beyond noise: " REPORT_TEST, fid,
             rp->epochs, rp->epochs == 1 ? "" : "s");
    wb_put(w, y0, 1, w->cols - 2, buf, w->attr[WB_C_TITLE]);
    int table_h = (int)rp->n + 1;
    if (table_h > h / 2)
        table_h = h / 2;
    draw_table(w, y0 + 1, table_h);
    int py = y0 + 2 + table_h;
    wb_put(w, py, 1, w->cols - 2,
           "confirmed front: mean test accuracy (up, ± one sd over seeds) vs. parameters (right, "
           "log)",
           w->attr[WB_C_TITLE]);
    draw_plot(w, py + 1, h - (py + 1 - y0) - 1);
}

DEFINE_VIEW(report, "Result table", .open = wb_report_load, .draw = report_draw,
            .request = wb_scroll_request);
