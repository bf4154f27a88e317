/* wb_detail: what the panes and the full-screen views show of the
 * selection, read from the session into plain structs (the reasoning
 * text, learning curves; the diff is wb_diff.c's) when the selection or
 * the session changes. The views draw from these and never read the
 * session. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "tui/wb.h"

/* ---- the reasoning pane ------------------------------------------------- */

static char *file_or_empty(wb *w, const char *id, const char *name)
{
    char *t = NULL;
    if (session_file(w->s, id, name, &t, NULL) != 0 || !t)
        return strdup("");
    return t;
}

/* What meta.json and the review note add: repairs, the EoT context, the
 * decision. */
static void reason_notes(wb *w, const wb_ind *d, strbuf *sb)
{
    char *meta = file_or_empty(w, d->id, "meta.json");
    json_t *m = meta ? json_loads(meta, 0, NULL) : NULL;
    free(meta);
    json_t *rep = json_object_get(m, "repairs");
    if (json_is_integer(rep) && json_integer_value(rep) > 0)
        strbuf_addf(sb, "repair attempts: %d\n", (int)json_integer_value(rep));
    else if (json_is_array(rep))
        for (size_t i = 0; i < json_array_size(rep); i++) {
            json_t *r = json_array_get(rep, i);
            const char *t = json_is_string(r) ? json_string_value(r)
                                              : json_string_value(json_object_get(r, "error"));
            strbuf_addf(sb, "repair %zu: %s\n", i + 1, t ? t : "(attempt)");
        }
    const char *eot = json_string_value(json_object_get(m, "eot"));
    if (eot)
        strbuf_addf(sb, "\nEoT context:\n%s\n", eot);
    json_decref(m);
    char *rev = NULL;
    if (session_get_review(w->s, d->id, &rev, NULL) == 0 && rev) {
        json_t *r = json_loads(rev, 0, NULL);
        const char *dec = json_string_value(json_object_get(r, "decision"));
        const char *why = json_string_value(json_object_get(r, "reason"));
        if (dec)
            strbuf_addf(sb, "review: %s%s%s\n", dec, why && why[0] ? ": " : "", why ? why : "");
        json_decref(r);
        free(rev);
    }
}

/* A failed proposal: why, every check error, every raw answer (t: every
 * prompt), from its record, refs/failed/ID. */
static void load_failed_reason(wb *w, const wb_ind *d, strbuf *sb)
{
    strbuf_addf(sb, "%s failed proposal: %s", d->failed, d->op);
    if (d->persona[0])
        strbuf_addf(sb, " by %s", d->persona);
    strbuf_addch(sb, '\n');
    if (d->n_parents)
        strbuf_addf(sb, "parents: %s%s%s\n", d->parents[0], d->n_parents > 1 ? " " : "",
                    d->n_parents > 1 ? d->parents[1] : "");
    strbuf_addf(sb, "failed: %s\nR asks again in this slot (with an optional steering note)\n",
                d->message ? d->message : "(no reason recorded)");
    const char *files[][2] = {{"reasoning.md", "what gevo's checks said"},
                              {"response.txt", "every answer, as it came"}};
    for (int k = 0; k < 2; k++) {
        const char *name = w->show_prompt ? "prompt.txt" : files[k][0];
        char *t = NULL;
        session_failed_file(w->s, d->failed, name, &t, NULL);
        strbuf_addf(sb, "\n-- %s --\n%s\n",
                    w->show_prompt ? "every prompt (t: back to the answers)" : files[k][1],
                    t && t[0] ? t : "(none)");
        free(t);
        if (w->show_prompt)
            break;
    }
}

static void load_reason(wb *w, const wb_ind *d)
{
    strbuf sb = STRBUF_INIT;
    if (d->failed[0]) {
        load_failed_reason(w, d, &sb);
        free(w->reason_text);
        w->reason_text = strbuf_detach(&sb, NULL);
        return;
    }
    session_info info;
    bool have = d->id[0] && session_info_get(w->s, d->id, &info, NULL) == 0;
    strbuf_addf(&sb, "%s %s", d->id[0] ? d->id : "(proposing)", d->op);
    if (d->persona[0])
        strbuf_addf(&sb, " by %s", d->persona);
    strbuf_addch(&sb, '\n');
    if (d->n_parents)
        strbuf_addf(&sb, "parents: %s%s%s\n", d->parents[0], d->n_parents > 1 ? " " : "",
                    d->n_parents > 1 ? d->parents[1] : "");
    if (have && info.retry_of[0])
        strbuf_addf(&sb, "asked again for failed proposal %s%s%s\n", info.retry_of,
                    info.steering[0] ? ", steering: " : "", info.steering);
    if (have && info.model[0])
        strbuf_addf(&sb, "model: %s, tokens %ld in, %ld out, %.1f s\n", info.model, info.tokens_in,
                    info.tokens_out, info.latency_s);
    if (d->message)
        strbuf_addf(&sb, "%s: %s\n", d->state == WB_REJECTED ? "rejected" : "note", d->message);
    if (have)
        reason_notes(w, d, &sb);
    if (w->show_prompt) {
        char *pr = have ? file_or_empty(w, d->id, "prompt.txt") : NULL;
        strbuf_addf(&sb, "\n-- prompt (t: back to the reasoning) --\n%s\n",
                    pr && pr[0] ? pr : "(none)");
        free(pr);
    } else if (have) {
        char *rs = file_or_empty(w, d->id, "reasoning.md");
        if (!strcmp(d->op, "eot") && !strstr(sb.buf, "EoT context"))
            strbuf_addstr(&sb, "\nEoT: the elite's change is in the prompt (t shows it)\n");
        strbuf_addf(&sb, "\n-- reasoning --\n%s\n", rs && rs[0] ? rs : "(none)");
        free(rs);
    }
    free(w->reason_text);
    w->reason_text = strbuf_detach(&sb, NULL);
}

/* ---- the full-screen views' data --------------------------------------- */

void wb_curves_load(wb *w)
{
    w->n_curves = 0;
    const char *ids[WB_CURVES_MAX];
    int n = 0;
    for (size_t i = 0; i < w->n_marks && n < WB_CURVES_MAX; i++)
        ids[n++] = w->marks[i];
    wb_ind *sel = wb_selected(w);
    if (!n && sel && sel->id[0])
        ids[n++] = sel->id;
    for (int k = 0; k < n; k++) {
        wb_curve *c = &w->curves[w->n_curves++];
        snprintf(c->id, sizeof c->id, "%s", ids[k]);
        c->n = 0;
        char *res = NULL;
        if (session_get_result(w->s, ids[k], &res, NULL) != 0 || !res)
            continue;
        json_t *j = json_loads(res, 0, NULL);
        free(res);
        json_t *ep = json_object_get(j, "epochs");
        for (size_t e = 0; e < json_array_size(ep) && c->n < WB_EPOCHS_MAX; e++) {
            json_t *v = json_object_get(json_array_get(ep, e), "val_acc");
            if (json_is_number(v))
                c->acc[c->n++] = json_number_value(v);
        }
        json_decref(j);
    }
}

static const session_info *hist_info(wb *w, const char *id)
{
    for (size_t i = 0; i < w->n_hist; i++)
        if (!strcmp(w->hist[i].id, id))
            return &w->hist[i];
    return NULL;
}

void wb_lineage_load(wb *w)
{
    w->n_lineage = 0;
    wb_ind *d = wb_selected(w);
    snprintf(w->lineage_of, sizeof w->lineage_of, "%s", d ? d->id : "");
    if (!w->lineage_of[0])
        return;
    char(*ids)[SESSION_ID_MAX] = NULL;
    size_t n = 0;
    gerr err = GERR_INIT;
    if (session_lineage(w->s, w->lineage_of, &ids, &n, &err) != 0) {
        wb_msg(w, true, "lineage: %s", err.msg);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const session_info *h = hist_info(w, ids[i]);
        if (!h || ALLOC_GROW(w->lineage, w->n_lineage + 1, w->alloc_lineage) != 0)
            continue;
        wb_step *s = &w->lineage[w->n_lineage++];
        memset(s, 0, sizeof *s);
        snprintf(s->id, sizeof s->id, "%s", h->id);
        s->gen = h->generation;
        snprintf(s->op, sizeof s->op, "%s", h->op);
        snprintf(s->persona, sizeof s->persona, "%s", h->persona);
        s->n_parents = h->n_parents > 2 ? 2 : h->n_parents;
        memcpy(s->parents, h->parents, sizeof s->parents);
        s->val_acc = h->val_acc;
        s->params = h->params;
        const session_info *p = h->n_parents ? hist_info(w, h->parents[0]) : NULL;
        s->parent_acc = p ? p->val_acc : -1;
        s->parent_params = p ? p->params : -1;
    }
    free(ids);
}

void wb_help_load(wb *w)
{
    wb_strv_free(w->help, w->n_help);
    size_t n = 0, alloc;
    char **v = wb_help_lines(&n);
    alloc = n;
    strbuf sb = STRBUF_INIT;
    const char *const *st = w->g.state;
    strbuf_addf(&sb,
                "  %s proposing  %s pending  %s approved  %s training  %s trained  "
                "%s rejected  %s failed",
                st[0], st[1], st[2], st[3], st[4], st[5], st[6]);
    wb_strv_push(&v, &n, &alloc, "");
    wb_strv_push(&v, &n, &alloc, "Glyphs");
    wb_strv_push(&v, &n, &alloc, sb.buf);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "  %s on the Pareto front  %s survivor  %s marked  ' edited", w->g.front,
                w->g.dot, w->g.mark);
    wb_strv_push(&v, &n, &alloc, sb.buf);
    strbuf_release(&sb);
    w->help = v;
    w->n_help = n;
}

/* ---- loading ------------------------------------------------------------ */

void wb_detail_load(wb *w, bool force)
{
    wb_ind *d = wb_selected(w);
    /* an individual, a failed proposal, or a slot still proposing */
    char key[SESSION_ID_MAX];
    snprintf(key, sizeof key, "%s", !d ? "" : d->id[0] ? d->id : d->failed);
    if (d && !key[0])
        snprintf(key, sizeof key, "#%d", d->slot);
    bool changed = strcmp(key, w->detail_id) != 0;
    if (!force && !changed && w->n_diff)
        return;
    if (changed)
        w->diff_cur = w->diff_top = w->reason_top = 0;
    snprintf(w->detail_id, sizeof w->detail_id, "%s", key);
    for (int v = 0; v < WB_NPANES; v++)
        if (wb_views[v]->load)
            wb_views[v]->load(w);
    if (w->full >= 0 && wb_views[w->full]->load)
        wb_views[w->full]->load(w);
}

void wb_detail_reason(wb *w)
{
    wb_ind *d = wb_selected(w);
    if (d) {
        load_reason(w, d);
        return;
    }
    free(w->reason_text);
    w->reason_text = strdup("Enter expands or collapses the generation.");
}
