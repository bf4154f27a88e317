/* view_help: the keys, from the one key table (wb_keys.c), and the
 * glyphs. */
#include "tui/wb.h"

static void help_draw(wb *w, const wb_area *a, bool focused)
{
    wb_draw_lines(w, w->help, w->n_help, a->y, a->h);
}

DEFINE_VIEW(help, "Help", .open = wb_help_load, .draw = help_draw, .request = wb_scroll_request);
