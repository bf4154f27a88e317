/* view_stats: every proposal counted per persona, model, operator and
 * (model, persona) pair, failed ones too: what `gevo stats` prints. */
#include "tui/wb.h"

static void stats_open(wb *w)
{
    w->view_top = 0;
    wb_stats_load(w);
}

static void stats_draw(wb *w, const wb_area *a, bool focused)
{
    wb_put(w, a->y, 1, w->cols - 2, "Proposals per persona, model, operator (Esc: back)",
           w->attr[WB_C_TITLE]);
    wb_draw_lines(w, w->stats, w->n_stats, a->y + 1, a->h - 1);
}

DEFINE_VIEW(stats, "Stats", .open = stats_open, .draw = stats_draw, .request = wb_scroll_request);
