/* wb_stats: the data of the stats view, core/stats.h's table of the
 * session's proposals, and of the report view, core/report.h's result
 * table; each read when its view opens. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/report.h"
#include "core/stats.h"
#include "tui/wb.h"

void wb_stats_load(wb *w)
{
    wb_strv_free(w->stats, w->n_stats);
    w->stats = NULL;
    w->n_stats = 0;
    size_t alloc = 0;
    stats st;
    gerr err = GERR_INIT;
    strbuf sb = STRBUF_INIT;
    if (stats_collect(w->s, &st, &err) != 0) {
        strbuf_addf(&sb, "the counts cannot be read: %s", err.msg);
    } else {
        if (stats_format(&st, &sb))
            strbuf_addstr(&sb, "out of memory");
        stats_release(&st);
    }
    for (char *line = sb.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        wb_strv_push(&w->stats, &w->n_stats, &alloc, line);
    }
    strbuf_release(&sb);
}

void wb_report_load(wb *w)
{
    report_release(&w->report);
    gerr err = GERR_INIT;
    w->report_err[0] = 0;
    if (report_build(w->s, &w->report, &err))
        snprintf(w->report_err, sizeof w->report_err, "%s", err.msg);
}
