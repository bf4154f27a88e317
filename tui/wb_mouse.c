/* wb_mouse: the mouse, as a shortcut for what the keys do. A click on a
 * pane focuses it and, in the tree and the diff, puts the selection or
 * the cursor on the line clicked; a click on a tab focuses its pane; the
 * wheel scrolls the view under the pointer as three Up or Down keys
 * would. GEVO_MOUSE=off leaves the mouse to the terminal (text
 * selection). */
#include <stdlib.h>

#include "engine/base/num.h"
#include "tui/wb.h"

#define WHEEL_LINES 3

void wb_mouse_init(wb *w)
{
    const char *v = getenv("GEVO_MOUSE");
    bool on = true;
    if (v && *v && num_bool(v, &on, "GEVO_MOUSE", NULL) != 0)
        on = true; /* a value that is not a yes or a no leaves the default */
    w->mouse = on;
    if (on) {
        mousemask(BUTTON1_PRESSED | BUTTON1_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
        mouseinterval(0);
    }
}

static bool inside(const wb_area *a, int x, int y)
{
    return a->h > 0 && y >= a->y && y < a->y + a->h && x >= a->x && x < a->x + a->w;
}

static int wheel(wb *w, int view, int dir)
{
    const wb_view_ops *v = wb_views[view];
    int flags = WB_OK;
    for (int i = 0; i < WHEEL_LINES && v->request; i++) {
        int r = v->request(w, dir < 0 ? WB_REQ_MOVE_UP : WB_REQ_MOVE_DOWN);
        if (r != WB_UNHANDLED)
            flags |= r;
    }
    return flags | WB_REDRAW;
}

int wb_mouse(wb *w, int x, int y, mmask_t button)
{
    int dir = button & BUTTON4_PRESSED ? -1 : button & BUTTON5_PRESSED ? 1 : 0;
    bool click = button & (BUTTON1_PRESSED | BUTTON1_CLICKED);
    if (!dir && !click)
        return WB_OK;
    if (w->full >= 0)
        return dir ? wheel(w, w->full, dir) : WB_OK;
    if (!w->zoom && w->cols < 120 && y == 1) { /* the tabs */
        for (int p = 0; p < WB_NPANES; p++)
            if (click && x >= w->tab_x[p] && x < w->tab_x[p + 1]) {
                w->pane = p;
                return WB_REDRAW;
            }
        return WB_OK;
    }
    for (int v = 0; v < WB_NPANES; v++) {
        const wb_area *a = &w->areas[v];
        if (!inside(a, x, y))
            continue;
        if (dir)
            return wheel(w, v, dir);
        w->pane = v;
        if (wb_views[v]->click)
            return wb_views[v]->click(w, a, y - a->y, x - a->x) | WB_REDRAW;
        return WB_REDRAW;
    }
    return WB_OK;
}
