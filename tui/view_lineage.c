/* view_lineage: the selected individual's ancestors back to the seed, one
 * step a line: the operator and persona that made it, and what the step
 * changed in accuracy and parameters (against its first parent). The data
 * layer (wb_lineage_load) reads the lineage from the session. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tui/wb.h"

/* id, generation, operator, persona, accuracy and its change, parameters
 * and their change, the parents: within 80 columns */
#define ROW "%-8s %3s %-9.9s %-10.10s %7s %8s %7s %7s  %s"

static void fmt_delta_params(char *b, size_t n, long p)
{
    char v[16];
    wb_fmt_params(v, sizeof v, p < 0 ? -p : p);
    snprintf(b, n, "%s%s", p < 0 ? "-" : "+", v);
}

static void lineage_draw(wb *w, const wb_area *a, bool focused)
{
    char buf[320];
    if (!w->lineage_of[0]) {
        wb_put(w, a->y, 1, w->cols - 2, "select an individual to see its lineage (Esc: back)",
               A_NORMAL);
        return;
    }
    snprintf(buf, sizeof buf, "Lineage of %s: %zu ancestor%s back to the seed (Esc: back)",
             w->lineage_of, w->n_lineage ? w->n_lineage - 1 : 0, w->n_lineage == 2 ? "" : "s");
    wb_put(w, a->y, 1, w->cols - 2, buf, w->attr[WB_C_TITLE]);
    snprintf(buf, sizeof buf, ROW, "id", "gen", "operator", "persona", "val acc", "change",
             "params", "change", "from");
    wb_put(w, a->y + 1, 1, w->cols - 2, buf, w->attr[WB_C_SEP]);
    int h = a->h - 2;
    if (w->view_top > (int)w->n_lineage - h)
        w->view_top = (int)w->n_lineage - h;
    if (w->view_top < 0)
        w->view_top = 0;
    for (int i = 0; i < h && (size_t)(w->view_top + i) < w->n_lineage; i++) {
        const wb_step *s = &w->lineage[w->view_top + i];
        char acc[16] = "-", dacc[16] = "", par[16], dpar[16] = "", from[80] = "";
        if (s->val_acc >= 0)
            snprintf(acc, sizeof acc, "%.1f%%", s->val_acc * 100);
        if (s->val_acc >= 0 && s->parent_acc >= 0)
            snprintf(dacc, sizeof dacc, "%+.1f pt", (s->val_acc - s->parent_acc) * 100);
        wb_fmt_params(par, sizeof par, s->params);
        if (s->params >= 0 && s->parent_params >= 0)
            fmt_delta_params(dpar, sizeof dpar, s->params - s->parent_params);
        if (s->n_parents)
            snprintf(from, sizeof from, "%s%s%s", s->parents[0], s->n_parents > 1 ? "+" : "",
                     s->n_parents > 1 ? s->parents[1] : "");
        const char *persona = !strncmp(s->persona, "random mutation", 15) ? "(no LLM)" : s->persona;
        char gen[16];
        snprintf(gen, sizeof gen, "%d", s->gen);
        snprintf(buf, sizeof buf, ROW, s->id, gen, s->op, persona, acc, dacc, par, dpar, from);
        wb_put(w, a->y + 2 + i, 1, w->cols - 2, buf, A_NORMAL);
    }
}

DEFINE_VIEW(lineage, "Lineage", .load = wb_lineage_load, .draw = lineage_draw,
            .request = wb_scroll_request);
