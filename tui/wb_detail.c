/* wb_detail: what the panes and the full-screen views show of the
 * selection, read from the session into plain structs (diff lines, the
 * reasoning text, learning curves) when the selection or the session
 * changes. The views draw from these and never read the session. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "tui/wb.h"

int wb_annotations(wb *w, const char *id, char ***out, size_t *n, gerr *err)
{
    *out = NULL;
    *n = 0;
    char *note = NULL;
    if (!id[0])
        return 0;
    if (session_get_review(w->s, id, &note, err) != 0)
        return gerr_prefix(err, "%s: review note", id);
    if (!note)
        return 0;
    json_error_t je;
    json_t *j = json_loads(note, 0, &je);
    free(note);
    if (!j)
        return gerr_set(err, "%s: review note: %s", id, je.text);
    json_t *arr = json_object_get(j, "annotations");
    size_t alloc = 0;
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *a = json_array_get(arr, i);
        const char *t = json_string_value(json_object_get(a, "text"));
        strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "%d\t%s", (int)json_integer_value(json_object_get(a, "line")), t ? t : "");
        int bad = sb.failed || wb_strv_push(out, n, &alloc, sb.buf);
        strbuf_release(&sb);
        if (bad) {
            wb_strv_free(*out, *n);
            *out = NULL;
            *n = 0;
            json_decref(j);
            return gerr_set(err, "%s: out of memory reading the annotations", id);
        }
    }
    json_decref(j);
    return 0;
}

/* ---- the diff pane ------------------------------------------------------ */

static void add_dline(wb *w, const char *text, size_t len, int kind, int newline)
{
    char *t = strndup(text, len);
    if (!t || ALLOC_GROW(w->diff, w->n_diff + 1, w->alloc_diff) != 0) {
        free(t);
        return;
    }
    w->diff[w->n_diff++] = (wb_dline){t, kind, newline};
}

static void add_dstr(wb *w, const char *text, int kind)
{
    add_dline(w, text, strlen(text), kind, 0);
}

static void add_notes(wb *w, char **notes, size_t nn, int line, const char *pfx)
{
    for (size_t i = 0; i < nn; i++) {
        if (atoi(notes[i]) != line)
            continue;
        const char *t = strchr(notes[i], '\t');
        strbuf sb = STRBUF_INIT;
        strbuf_addf(&sb, "%s%s", pfx, t ? t + 1 : "");
        add_dline(w, sb.buf, sb.len, WB_C_NOTE, 0);
        strbuf_release(&sb);
    }
}

/* Colours a unified diff and numbers its lines in the new genome. */
static void add_patch(wb *w, const char *patch, char **notes, size_t nn)
{
    int cur = 0;
    const char *p = patch;
    while (p && *p) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        int kind = WB_C_NORMAL, nl = 0;
        if (!strncmp(p, "diff ", 5) || !strncmp(p, "index ", 6)) {
            p = e ? e + 1 : NULL; /* git's plumbing lines say nothing here */
            continue;
        }
        if (!strncmp(p, "--- ", 4) || !strncmp(p, "+++ ", 4) || !strncmp(p, "new file", 8) ||
            !strncmp(p, "deleted", 7)) {
            kind = WB_C_DIFF_HEAD;
        } else if (!strncmp(p, "@@", 2)) {
            kind = WB_C_DIFF_HUNK;
            const char *plus = memchr(p, '+', len);
            cur = plus ? atoi(plus + 1) : 0;
        } else if (*p == '+') {
            kind = WB_C_DIFF_ADD;
            nl = cur++;
        } else if (*p == '-') {
            kind = WB_C_DIFF_DEL;
        } else if (*p == ' ') {
            nl = cur++;
        }
        add_dline(w, p, len, kind, nl);
        if (nl > 0)
            add_notes(w, notes, nn, nl, "    note: ");
        p = e ? e + 1 : NULL;
    }
}

static void clear_diff(wb *w)
{
    for (size_t i = 0; i < w->n_diff; i++)
        free(w->diff[i].text);
    w->n_diff = 0;
}

static void load_generation(wb *w)
{
    strbuf sb = STRBUF_INIT;
    int g = w->n_rows ? w->rows[w->sel].gen : 0;
    strbuf_addf(&sb, "generation %d%s", g, g == w->live_gen ? " (being built)" : "");
    add_dstr(w, sb.buf, WB_C_DIFF_HEAD);
    const char *f = g < w->n_journal ? w->fronts[g] : NULL;
    const char *p = g < w->n_journal ? w->pops[g] : NULL;
    strbuf_reset(&sb);
    strbuf_addf(&sb, "front:%s", f ? f : " (not selected yet)");
    add_dstr(w, sb.buf, WB_C_NORMAL);
    strbuf_reset(&sb);
    strbuf_addf(&sb, "survivors:%s", p ? p : " (not selected yet)");
    add_dstr(w, sb.buf, WB_C_NORMAL);
    strbuf_release(&sb);
}

static void load_genome(wb *w, const wb_ind *d, char **notes, size_t nn)
{
    char *g = NULL;
    strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "%s has no parent: its genome", d->id);
    add_dstr(w, sb.buf, WB_C_TITLE);
    strbuf_release(&sb);
    gerr err = GERR_INIT;
    if (session_genome(w->s, d->id, &g, &err) != 0) {
        add_dstr(w, err.msg, WB_C_ERROR);
        return;
    }
    int line = 1;
    for (const char *p = g; p && *p;) {
        const char *e = strchr(p, '\n');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        add_dline(w, p, len, WB_C_NORMAL, line);
        add_notes(w, notes, nn, line, "    note: ");
        line++;
        p = e ? e + 1 : p + len;
    }
    free(g);
}

static void load_diff(wb *w, const wb_ind *d)
{
    size_t nn = 0;
    char **notes = NULL;
    gerr err = GERR_INIT;
    if (wb_annotations(w, d->id, &notes, &nn, &err) != 0)
        add_dstr(w, err.msg, WB_C_ERROR);
    add_notes(w, notes, nn, 0, "note: ");
    char *patch = NULL;
    strbuf head = STRBUF_INIT;
    if (w->diff_mode == 1) {
        if (session_edit_diff(w->s, d->id, &patch, &err) != 0) {
            add_dstr(w, err.msg, WB_C_ERROR);
        } else if (!patch || !patch[0]) {
            add_dstr(w, "(no edit by the researcher; d: back to the parent diff)", WB_C_NORMAL);
        } else {
            strbuf_addf(&head, "the researcher's edit of %s (d: parent diff)", d->id);
            add_dstr(w, head.buf, WB_C_TITLE);
            add_patch(w, patch, notes, nn);
        }
        free(patch);
    } else if (d->n_parents == 0) {
        load_genome(w, d, notes, nn);
    } else {
        for (int i = 0; i < d->n_parents; i++) {
            if (d->n_parents > 1) {
                strbuf_reset(&head);
                strbuf_addf(&head, "crossover: against parent %d (%s)", i + 1, d->parents[i]);
                add_dstr(w, head.buf, WB_C_TITLE);
            }
            if (session_diff(w->s, i ? d->parents[i] : NULL, d->id, true, &patch, &err) != 0)
                add_dstr(w, err.msg, WB_C_ERROR);
            else if (!patch || !patch[0])
                add_dstr(w, "(no change against the parent)", WB_C_NORMAL);
            else
                add_patch(w, patch, i ? NULL : notes, i ? 0 : nn);
            free(patch);
            patch = NULL;
        }
    }
    strbuf_release(&head);
    wb_strv_free(notes, nn);
}

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

static void load_reason(wb *w, const wb_ind *d)
{
    strbuf sb = STRBUF_INIT;
    session_info info;
    bool have = d->id[0] && session_info_get(w->s, d->id, &info, NULL) == 0;
    strbuf_addf(&sb, "%s %s", d->id[0] ? d->id : "(proposing)", d->op);
    if (d->persona[0])
        strbuf_addf(&sb, " by %s", d->persona);
    strbuf_addch(&sb, '\n');
    if (d->n_parents)
        strbuf_addf(&sb, "parents: %s%s%s\n", d->parents[0], d->n_parents > 1 ? " " : "",
                    d->n_parents > 1 ? d->parents[1] : "");
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
    const char *key = d ? d->id : "";
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

void wb_detail_diff(wb *w)
{
    clear_diff(w);
    wb_ind *d = wb_selected(w);
    if (!d)
        load_generation(w);
    else if (!d->id[0])
        add_dstr(w, "(proposing: the diff appears when the proposal arrives)", WB_C_PROPOSING);
    else
        load_diff(w, d);
    if (w->diff_cur >= (int)w->n_diff)
        w->diff_cur = w->n_diff ? (int)w->n_diff - 1 : 0;
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
