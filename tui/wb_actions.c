/* wb_actions: requests and the prompt line. Each action returns redraw
 * flags (WB_REDRAW, WB_RELOAD, WB_DETAIL, WB_QUIT); evolution itself is
 * evolve's: the workbench only calls evolve_* with the researcher's choice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "tui/wb.h"

int wb_page(wb *w)
{
    int h = w->lines - 4;
    return h > 1 ? h : 1;
}

int wb_move_delta(wb *w, int req, bool *is_move)
{
    *is_move = true;
    switch (req) {
    case WB_REQ_MOVE_UP: return -1;
    case WB_REQ_MOVE_DOWN: return 1;
    case WB_REQ_PAGE_UP: return -wb_page(w);
    case WB_REQ_PAGE_DOWN: return wb_page(w);
    case WB_REQ_MOVE_FIRST: return -1000000;
    case WB_REQ_MOVE_LAST: return 1000000;
    default: *is_move = false; return 0;
    }
}

int wb_scroll(wb *w, int req, int *top)
{
    bool move;
    int delta = wb_move_delta(w, req, &move);
    if (!move)
        return WB_UNHANDLED;
    *top = wb_clamp_add(*top, delta, 0, 1000000);
    return WB_REDRAW;
}

int wb_scroll_request(wb *w, int req)
{
    return wb_scroll(w, req, &w->view_top);
}

void wb_show(wb *w, int view)
{
    if (view == w->full)
        return;
    if (w->full >= 0 && wb_views[w->full]->close)
        wb_views[w->full]->close(w);
    w->full = view;
    w->view_top = 0;
    if (view < 0)
        return;
    if (wb_views[view]->open)
        wb_views[view]->open(w);
    if (wb_views[view]->load)
        wb_views[view]->load(w);
}

static bool need_ev(wb *w)
{
    if (w->ev)
        return true;
    const char *holder = session_lock_holder(w->s);
    if (holder && holder[0])
        wb_msg(w, true, "read-only: the session is open by %s", holder);
    else
        wb_msg(w, true, "read-only: the evolution loop is not running in this workbench");
    return false;
}

/* The selected individual of the live generation in one of the states
 * given, else an error message naming what the action needs. */
static wb_ind *need_sel(wb *w, const char *action, unsigned states)
{
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0]) {
        wb_msg(w, true, "%s: select a proposal first", action);
        return NULL;
    }
    if (!(states & (1u << d->state))) {
        wb_msg(w, true, "%s: %s is %s", action, d->id,
               d->state == WB_PENDING    ? "pending review"
               : d->state == WB_TRAINED  ? "trained already"
               : d->state == WB_REJECTED ? "rejected"
               : d->state == WB_FAILED   ? "failed"
               : d->state == WB_TRAINING ? "training"
                                         : "not pending review");
        return NULL;
    }
    return d;
}

/* rc and err: what an evolve_* action returned and said. */
static int ev_result(wb *w, int rc, const gerr *err, const char *fmt, const char *id)
{
    if (rc < 0) {
        wb_msg(w, true, "%s", gerr_msg(err));
        return WB_REDRAW;
    }
    wb_msg(w, false, fmt, id);
    wb_log(w, fmt, id);
    w->hist_dirty = true;
    return WB_RELOAD | WB_DETAIL;
}

static void ensure_folded(wb *w, int gen)
{
    if (gen < w->n_folded || ALLOC_GROW(w->folded, (size_t)gen + 1, w->alloc_folded) != 0)
        return;
    memset(w->folded + w->n_folded, 0, (size_t)(gen + 1 - w->n_folded));
    w->n_folded = gen + 1;
}

static int set_fold(wb *w, int how) /* 1 fold, 2 unfold, 0 toggle */
{
    if (!w->n_rows)
        return WB_OK;
    int gen = w->rows[w->sel].gen;
    ensure_folded(w, gen);
    if (gen >= w->n_folded)
        return WB_OK;
    bool is_folded = w->folded[gen] ? w->folded[gen] == 1 : gen < w->view_gen;
    if (how == 0)
        how = is_folded ? 2 : 1;
    w->folded[gen] = (unsigned char)how;
    if (how == 1) { /* the selection moves to the header it folds into */
        while (w->sel > 0 && w->rows[w->sel].ind >= 0)
            w->sel--;
        w->sel_id[0] = 0;
        w->sel_slot = -1 - gen;
    }
    wb_data_rows(w);
    return WB_REDRAW | WB_DETAIL;
}

static bool ind_matches(const wb_ind *d, const char *q)
{
    return strstr(d->id, q) || strstr(d->failed, q) || strstr(d->op, q) || strstr(d->persona, q) ||
           (d->message && strstr(d->message, q));
}

static int search(wb *w, int dir)
{
    if (!w->search[0]) {
        wb_msg(w, true, "no search yet (/ searches)");
        return WB_REDRAW;
    }
    wb_ind *cur = wb_selected(w);
    int start = cur ? (int)(cur - w->inds) : -1;
    int n = (int)w->n_inds;
    for (int k = 1; k <= n; k++) {
        int i = ((start + dir * k) % n + n) % n;
        if (!ind_matches(&w->inds[i], w->search))
            continue;
        ensure_folded(w, w->inds[i].generation);
        if (w->inds[i].generation < w->n_folded)
            w->folded[w->inds[i].generation] = 2;
        snprintf(w->sel_id, sizeof w->sel_id, "%s", w->inds[i].id);
        w->sel_slot = w->inds[i].slot;
        w->only_pending = w->only_front = false;
        wb_data_rows(w);
        wb_msg(w, false, "found '%s': %s", w->search,
               w->inds[i].id[0]       ? w->inds[i].id
               : w->inds[i].failed[0] ? w->inds[i].failed
                                      : "...");
        return WB_REDRAW | WB_DETAIL;
    }
    wb_msg(w, true, "'%s' not found", w->search);
    return WB_REDRAW;
}

/* ---- $EDITOR ---------------------------------------------------------- */

static int edit_round(wb *w, const char *id, const char *text, const char *error)
{
    char *edited = NULL;
    gerr err = GERR_INIT;
    if (wb_editor_run(text, error, &edited, &err) != 0) {
        wb_msg(w, true, "%s", err.msg);
        return WB_REDRAW;
    }
    char *orig = NULL;
    if (session_genome(w->s, id, &orig, NULL) == 0 && orig && !strcmp(orig, edited)) {
        free(orig);
        free(edited);
        w->prompt = WB_PROMPT_NONE;
        wb_msg(w, false, "edit: no change; %s is as proposed", id);
        return WB_REDRAW;
    }
    free(orig);
    if (evolve_edit(w->ev, id, edited, &err) != 0) {
        snprintf(w->edit_err, sizeof w->edit_err, "%s", err.msg);
        free(w->edit_buf);
        w->edit_buf = edited;
        w->prompt = WB_PROMPT_EDIT_RETRY;
        wb_log(w, "%s: edit refused: %s", id, w->edit_err);
        return WB_REDRAW;
    }
    free(edited);
    free(w->edit_buf);
    w->edit_buf = NULL;
    w->prompt = WB_PROMPT_NONE;
    return ev_result(w, 0, NULL, "edited %s: the edit is a commit on top of the proposal", id);
}

/* ---- annotations -------------------------------------------------------- */

bool wb_note_anchor(wb *w, bool *old, int *line)
{
    *old = false;
    *line = 0;
    if (w->diff_cur < 0 || w->diff_cur >= (int)w->n_diff)
        return true;
    const wb_dline *l = &w->diff[w->diff_cur];
    if (l->type == WB_D_ADD || l->type == WB_D_CTX) {
        *line = l->new_line;
    } else if (l->type == WB_D_DEL) {
        if (w->diff_mode != 0 || l->part != 0) {
            wb_msg(w, true,
                   "annotate: a removed line is annotated in the diff against the "
                   "(first) parent");
            return false;
        }
        *old = true;
        *line = l->old_line;
    }
    return true;
}

static int annotate(wb *w, const char *id, bool old, int line, const char *text, gerr *err)
{
    if (old)
        return evolve_annotate_old(w->ev, id, line, text, err);
    return evolve_annotate(w->ev, id, line, text, err);
}

/* ---- the prompt line -------------------------------------------------- */

void wb_prompt_open(wb *w, int kind, const char *initial)
{
    w->prompt = kind;
    snprintf(w->pbuf, sizeof w->pbuf, "%s", initial ? initial : "");
    w->plen = strlen(w->pbuf);
    w->msg[0] = 0;
}

static int prompt_done(wb *w)
{
    int kind = w->prompt;
    w->prompt = WB_PROMPT_NONE;
    const char *t = w->pbuf;
    wb_ind *d = wb_selected(w);
    gerr ev_err = GERR_INIT;
    switch (kind) {
    case WB_PROMPT_REJECT:
        if (!t[0]) {
            wb_msg(w, true, "reject: a reason is needed (the LLM is told about it)");
            return WB_REDRAW;
        }
        if (!d || !need_ev(w))
            return WB_REDRAW;
        return ev_result(w, evolve_reject(w->ev, d->id, t, &ev_err), &ev_err, "rejected %s", d->id);
    case WB_PROMPT_ANNOTATE: {
        bool old;
        int line;
        if (!t[0] || !d || !need_ev(w) || !wb_note_anchor(w, &old, &line))
            return WB_REDRAW;
        return ev_result(w, annotate(w, d->id, old, line, t, &ev_err), &ev_err, "annotated %s",
                         d->id);
    }
    case WB_PROMPT_REGENERATE:
        if (!d || !need_ev(w))
            return WB_REDRAW;
        if (!d->id[0] && d->failed[0]) {
            char id[SESSION_ID_MAX];
            snprintf(id, sizeof id, "%s", d->failed);
            return ev_result(w, evolve_regenerate(w->ev, id, t, &ev_err), &ev_err,
                             t[0] ? "asking again for %s in its slot, with the steering note"
                                  : "asking again for %s in its slot",
                             id);
        }
        return ev_result(w, evolve_regenerate(w->ev, d->id, t, &ev_err), &ev_err,
                         "regenerating in place of %s with the steering note", d->id);
    case WB_PROMPT_SEARCH: snprintf(w->search, sizeof w->search, "%s", t); return search(w, 1);
    case WB_PROMPT_GOTO: {
        int g;
        if (num_int(t, 0, w->last_gen, &g, "go to generation", NULL) != 0) {
            wb_msg(w, true, "go to generation: a number from 0 to %d", w->last_gen);
            return WB_REDRAW;
        }
        w->view_gen = g;
        w->hist_dirty = true;
        wb_msg(w, false, "generation %d%s", g, g < w->last_gen ? ", as it was" : "");
        return WB_RELOAD | WB_DETAIL;
    }
    case WB_PROMPT_EXPORT: return wb_export_to(w, t);
    default: return WB_REDRAW;
    }
}

int wb_prompt_key(wb *w, int key)
{
    if (w->prompt == WB_PROMPT_EDIT_RETRY) {
        if (key == 'e' || key == '\n' || key == KEY_ENTER) {
            wb_ind *d = wb_selected(w);
            if (!d || !w->edit_buf) {
                w->prompt = WB_PROMPT_NONE;
                return WB_REDRAW;
            }
            char err[512];
            snprintf(err, sizeof err, "%s", w->edit_err);
            return edit_round(w, d->id, w->edit_buf, err);
        }
        if (key == 27 || key == 'n' || key == 'q') {
            w->prompt = WB_PROMPT_NONE;
            free(w->edit_buf);
            w->edit_buf = NULL;
            wb_msg(w, false, "edit cancelled; the proposal is unchanged");
            return WB_REDRAW;
        }
        return WB_OK;
    }
    if (w->prompt == WB_PROMPT_NEXT_FORCE) {
        w->prompt = WB_PROMPT_NONE;
        if (key != 'y')
            return WB_REDRAW;
        w->picked = false;
        gerr ev_err = GERR_INIT;
        return ev_result(w, evolve_next_generation(w->ev, true, &ev_err), &ev_err,
                         "next generation%s (unfinished candidates dropped)", "");
    }
    if (key == 27) {
        w->prompt = WB_PROMPT_NONE;
        wb_msg(w, false, "cancelled");
        return WB_REDRAW;
    }
    if (key == '\n' || key == '\r' || key == KEY_ENTER)
        return prompt_done(w);
    if (key == KEY_BACKSPACE || key == 127 || key == 8) {
        /* remove one UTF-8 character */
        while (w->plen > 0 && ((unsigned char)w->pbuf[w->plen - 1] & 0xC0) == 0x80)
            w->plen--;
        if (w->plen > 0)
            w->plen--;
        w->pbuf[w->plen] = 0;
        return WB_REDRAW;
    }
    if (key == ('u' & 0x1f)) {
        w->plen = 0;
        w->pbuf[0] = 0;
        return WB_REDRAW;
    }
    if (key >= 32 && key < 256 && key != 127 && w->plen + 1 < sizeof w->pbuf) {
        w->pbuf[w->plen++] = (char)key;
        w->pbuf[w->plen] = 0;
    }
    return WB_REDRAW;
}

/* ---- requests --------------------------------------------------------- */

static int toggle_mark(wb *w)
{
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0])
        return WB_OK;
    for (size_t i = 0; i < w->n_marks; i++)
        if (!strcmp(w->marks[i], d->id)) {
            free(w->marks[i]);
            w->marks[i] = w->marks[--w->n_marks];
            wb_msg(w, false, "unmarked %s", d->id);
            return WB_REDRAW;
        }
    if (wb_strv_push(&w->marks, &w->n_marks, &w->alloc_marks, d->id) != 0) {
        wb_msg(w, true, "mark: out of memory");
        return WB_REDRAW;
    }
    wb_msg(w, false, "marked %s for the learning curves (C)", d->id);
    return WB_REDRAW;
}

#define BIT(s) (1u << (s))

/* D: the selection against the newest mark that is not itself. */
static int diff_marked(wb *w)
{
    if (w->diff_mode == 2) {
        w->diff_mode = 0;
        wb_msg(w, false, "diff against the parent");
        return WB_REDRAW | WB_DETAIL;
    }
    wb_ind *d = wb_selected(w);
    if (!d || !d->id[0]) {
        wb_msg(w, true, "diff-marked: select an individual first");
        return WB_REDRAW;
    }
    const char *other = NULL;
    for (size_t i = w->n_marks; i-- > 0 && !other;)
        if (strcmp(w->marks[i], d->id))
            other = w->marks[i];
    if (!other) {
        wb_msg(w, true, "diff-marked: mark another individual first (m)");
        return WB_REDRAW;
    }
    snprintf(w->diff_against, sizeof w->diff_against, "%s", other);
    w->diff_mode = 2;
    if (w->cols < 120)
        w->pane = WB_VIEW_DIFF;
    wb_msg(w, false, "%s against %s (D: back to the parent diff)", d->id, other);
    return WB_REDRAW | WB_DETAIL;
}

static int focus(wb *w, int pane)
{
    w->pane = pane;
    wb_show(w, -1);
    return WB_REDRAW;
}

int wb_request(wb *w, int req)
{
    const wb_view_ops *v = wb_views[w->full >= 0 ? w->full : w->pane];
    if (v->request) {
        int r = v->request(w, req);
        if (r != WB_UNHANDLED)
            return r;
    }
    wb_ind *d;
    gerr ev_err = GERR_INIT;
    switch (req) {
    case WB_REQ_NEXT_PANE: return focus(w, (w->pane + 1) % WB_NPANES);
    case WB_REQ_PREV_PANE: return focus(w, (w->pane + WB_NPANES - 1) % WB_NPANES);
    case WB_REQ_PANE_TREE: return focus(w, WB_VIEW_TREE);
    case WB_REQ_PANE_DIFF: return focus(w, WB_VIEW_DIFF);
    case WB_REQ_PANE_REASON: return focus(w, WB_VIEW_REASON);
    case WB_REQ_TOGGLE_FOLD: return set_fold(w, 0);
    case WB_REQ_FOLD: return set_fold(w, 1);
    case WB_REQ_UNFOLD: return set_fold(w, 2);
    case WB_REQ_FILTER_PENDING:
        w->only_pending = !w->only_pending;
        wb_data_rows(w);
        wb_msg(w, false,
               w->only_pending ? "showing proposals pending review (p: all)" : "showing all");
        return WB_REDRAW | WB_DETAIL;
    case WB_REQ_FILTER_FRONT:
        w->only_front = !w->only_front;
        wb_data_rows(w);
        wb_msg(w, false, w->only_front ? "showing the Pareto front (f: all)" : "showing all");
        return WB_REDRAW | WB_DETAIL;
    case WB_REQ_SEARCH: wb_prompt_open(w, WB_PROMPT_SEARCH, NULL); return WB_REDRAW;
    case WB_REQ_SEARCH_NEXT: return search(w, 1);
    case WB_REQ_SEARCH_PREV: return search(w, -1);
    case WB_REQ_MARK: return toggle_mark(w);
    case WB_REQ_APPROVE:
        if (!need_ev(w) || !(d = need_sel(w, "approve", BIT(WB_PENDING))))
            return WB_REDRAW;
        return ev_result(w, evolve_approve(w->ev, d->id, &ev_err), &ev_err,
                         "approved %s: queued for training", d->id);
    case WB_REQ_APPROVE_ALL: {
        if (!need_ev(w))
            return WB_REDRAW;
        int n = evolve_approve_all(w->ev, &ev_err);
        char buf[32];
        snprintf(buf, sizeof buf, "%d", n);
        return ev_result(w, n, &ev_err, "approved %s pending: queued for training", buf);
    }
    case WB_REQ_REJECT:
        if (!need_ev(w) || !need_sel(w, "reject", BIT(WB_PENDING) | BIT(WB_APPROVED)))
            return WB_REDRAW;
        wb_prompt_open(w, WB_PROMPT_REJECT, NULL);
        return WB_REDRAW;
    case WB_REQ_EDIT: {
        if (!need_ev(w) || !(d = need_sel(w, "edit", BIT(WB_PENDING))))
            return WB_REDRAW;
        char *g = NULL;
        gerr serr = GERR_INIT;
        if (session_genome(w->s, d->id, &g, &serr) != 0) {
            wb_msg(w, true, "edit: %s", serr.msg);
            return WB_REDRAW;
        }
        char id[SESSION_ID_MAX];
        snprintf(id, sizeof id, "%s", d->id);
        int r = edit_round(w, id, g, NULL);
        free(g);
        return r;
    }
    case WB_REQ_ANNOTATE:
        if (!need_ev(w) || !need_sel(w, "annotate", ~0u))
            return WB_REDRAW;
        if (w->pane != WB_VIEW_DIFF && w->cols < 120)
            w->pane = WB_VIEW_DIFF;
        wb_prompt_open(w, WB_PROMPT_ANNOTATE, NULL);
        return WB_REDRAW;
    case WB_REQ_REGENERATE:
        /* a failed proposal is asked again for in its slot */
        d = wb_selected(w);
        if (!need_ev(w) ||
            (!(d && !d->id[0] && d->failed[0] && d->state == WB_FAILED) &&
             !need_sel(w, "regenerate", BIT(WB_PENDING) | BIT(WB_REJECTED) | BIT(WB_FAILED))))
            return WB_REDRAW;
        wb_prompt_open(w, WB_PROMPT_REGENERATE, NULL);
        return WB_REDRAW;
    case WB_REQ_CANCEL:
        if (!need_ev(w) || !(d = need_sel(w, "cancel", BIT(WB_TRAINING) | BIT(WB_APPROVED))))
            return WB_REDRAW;
        return ev_result(w, evolve_cancel_training(w->ev, d->id, &ev_err), &ev_err,
                         "cancelled the training of %s", d->id);
    case WB_REQ_EXPORT: return wb_export_ask(w);
    case WB_REQ_NEXT_GENERATION: {
        if (!need_ev(w))
            return WB_REDRAW;
        if (!w->st.generation_done) {
            wb_prompt_open(w, WB_PROMPT_NEXT_FORCE, NULL);
            return WB_REDRAW;
        }
        char g[16];
        snprintf(g, sizeof g, "%d", w->st.generation + 1);
        int r = ev_result(w, evolve_next_generation(w->ev, false, &ev_err), &ev_err,
                          "generation %s started", g);
        w->picked = false;
        w->view_gen = 1 << 30; /* follow the new generation */
        return r;
    }
    case WB_REQ_GEN_BACK:
    case WB_REQ_GEN_FORWARD: {
        int g = w->view_gen + (req == WB_REQ_GEN_BACK ? -1 : 1);
        if (g < 0 || g > w->last_gen) {
            wb_msg(w, true, "no generation %d", g);
            return WB_REDRAW;
        }
        w->view_gen = g;
        w->hist_dirty = true;
        wb_msg(w, false, "generation %d%s", g, g < w->last_gen ? ", as it was (] forward)" : "");
        return WB_RELOAD | WB_DETAIL;
    }
    case WB_REQ_GOTO_GEN: wb_prompt_open(w, WB_PROMPT_GOTO, NULL); return WB_REDRAW;
    case WB_REQ_DIFF_MODE: w->diff_mode = w->diff_mode ? 0 : 1; return WB_REDRAW | WB_DETAIL;
    case WB_REQ_DIFF_MARKED: return diff_marked(w);
    case WB_REQ_DIFF_SPLIT:
        if (!w->diff_sides) {
            wb_msg(w, true, "side by side: this diff has no old side");
            return WB_REDRAW;
        }
        {
            /* back to what the width gives is "by width" again, so zooming
           (or a wider terminal) chooses again */
            bool split = !wb_diff_split(w);
            w->diff_split = split == (w->diff_width >= WB_SPLIT_COLS) ? -1 : split;
            w->diff_old = w->diff_cur < (int)w->n_diff && w->diff[w->diff_cur].type == WB_D_DEL;
            w->diff_top = 0;
            wb_msg(w, false, split ? "side by side (s: unified)" : "unified (s: side by side)");
            return WB_REDRAW;
        }
    case WB_REQ_ZOOM:
        if (w->full >= 0)
            return WB_OK;
        w->zoom = !w->zoom;
        w->diff_top = 0;
        return WB_REDRAW;
    case WB_REQ_VIEW_LINEAGE: wb_show(w, WB_VIEW_LINEAGE); return WB_REDRAW;
    case WB_REQ_TOGGLE_PROMPT:
        w->show_prompt = !w->show_prompt;
        w->reason_top = 0;
        return WB_REDRAW | WB_DETAIL;
    case WB_REQ_VIEW_PARETO: wb_show(w, WB_VIEW_PARETO); return WB_REDRAW;
    case WB_REQ_VIEW_CURVES: wb_show(w, WB_VIEW_CURVES); return WB_REDRAW;
    case WB_REQ_VIEW_REPORT: wb_show(w, WB_VIEW_REPORT); return WB_REDRAW;
    case WB_REQ_VIEW_EVENTS: wb_show(w, WB_VIEW_EVENTS); return WB_REDRAW;
    case WB_REQ_VIEW_STATS: wb_show(w, WB_VIEW_STATS); return WB_REDRAW;
    case WB_REQ_VIEW_HELP:
        wb_show(w, w->full == WB_VIEW_HELP ? -1 : WB_VIEW_HELP);
        return WB_REDRAW;
    case WB_REQ_VIEW_CLOSE:
        wb_show(w, -1);
        w->msg[0] = 0;
        return WB_REDRAW;
    case WB_REQ_REDRAW: clearok(curscr, TRUE); return WB_REDRAW;
    case WB_REQ_QUIT: w->quit = true; return WB_QUIT;
    default: return WB_OK;
    }
}
