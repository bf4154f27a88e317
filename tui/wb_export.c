/* wb_export: the export key. The selected individual leaves gevo as
 * `gevo export SESSION ID --torch DIR` makes it (core/export_session.h),
 * into a folder the researcher names. Only kept weights are exported here:
 * a retraining would hold the workbench for minutes, so for weights that
 * are gone the message names the command that retrains them. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export_session.h"
#include "core/weights_store.h"
#include "tui/wb.h"

/* The selection's id into id when its weights are kept, else a message
   that says why there is nothing to export. */
static bool exportable(wb *w, char id[SESSION_ID_MAX])
{
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0]) {
        wb_msg(w, true, "export: select an individual first");
        return false;
    }
    snprintf(id, SESSION_ID_MAX, "%s", d->id);
    if (weights_kept(w->s, id, NULL))
        return true;
    char *note = NULL, line[512];
    gerr err = GERR_INIT;
    if (session_get_result(w->s, id, &note, &err) != 0) {
        wb_msg(w, true, "export: %s", err.msg);
        return false;
    }
    export_session_weights_line(w->s, id, note, line, sizeof line);
    free(note);
    wb_msg(w, true, "export: %s's weights: %s", id, line);
    return false;
}

int wb_export_ask(wb *w)
{
    char id[SESSION_ID_MAX], dir[SESSION_ID_MAX + 16];
    if (!exportable(w, id))
        return WB_REDRAW;
    snprintf(dir, sizeof dir, "%s-torch", id);
    wb_prompt_open(w, WB_PROMPT_EXPORT, dir);
    return WB_REDRAW;
}

int wb_export_to(wb *w, const char *dir)
{
    char id[SESSION_ID_MAX];
    if (!dir[0]) {
        wb_msg(w, true, "export: a folder is needed");
        return WB_REDRAW;
    }
    if (!exportable(w, id))
        return WB_REDRAW;
    export_session_opts o = {.train = false};
    export_session_report rep;
    gerr err = GERR_INIT;
    if (export_session_torch(w->s, id, dir, &o, &rep, &err) != 0) {
        wb_msg(w, true, "export: %s", err.msg);
        return WB_REDRAW;
    }
    char where[PATH_MAX];
    if (!realpath(dir, where))
        snprintf(where, sizeof where, "%s", dir);
    char params[48] = "";
    if (rep.params >= 0)
        snprintf(params, sizeof params, "%ld parameters, ", rep.params);
    wb_msg(w, false, "exported %s to %s: %sload() in its model.py", rep.id, where, params);
    wb_log(w, "exported %s to %s", rep.id, where);
    return WB_REDRAW;
}
