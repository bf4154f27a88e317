/* view_events: the event log, newest last. */
#include "tui/wb.h"

static void events_open(wb *w)
{
    w->view_top = -1; /* the end of the log */
}

static void events_draw(wb *w, const wb_area *a, bool focused)
{
    int h = a->h;
    wb_put(w, a->y, 1, w->cols - 2, "Event log (newest last; Esc: back)", w->attr[WB_C_TITLE]);
    if (w->view_top < 0 || w->view_top > (int)w->n_events)
        w->view_top = (int)w->n_events - (h - 1);
    wb_draw_lines(w, w->events, w->n_events, a->y + 1, h - 1);
    if (!w->n_events)
        wb_put(w, a->y + 1, 1, w->cols - 2, "(nothing yet)", A_NORMAL);
}

DEFINE_VIEW(events, "Event log", .open = events_open, .draw = events_draw,
            .request = wb_scroll_request);
