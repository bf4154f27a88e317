/* wb_data: the population the tree shows. History comes from the session
 * (the list of individuals, the journal's fronts and populations); the
 * generation being built comes from evolve. */
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "tui/wb.h"

void wb_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int wb_strv_push(char ***v, size_t *n, size_t *alloc, const char *s)
{
    char *copy = strdup(s);
    if (!copy || ALLOC_GROW(*v, *n + 1, *alloc) != 0) {
        free(copy);
        return -1;
    }
    (*v)[(*n)++] = copy;
    return 0;
}

void wb_log(wb *w, const char *fmt, ...)
{
    strbuf sb = STRBUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    strbuf_vaddf(&sb, fmt, ap);
    va_end(ap);
    if (!sb.failed)
        wb_strv_push(&w->events, &w->n_events, &w->alloc_events, sb.buf);
    strbuf_release(&sb);
}

void wb_msg(wb *w, bool error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->msg, sizeof w->msg, fmt, ap);
    va_end(ap);
    w->msg_error = error;
    if (error)
        wb_log(w, "error: %s", w->msg);
}

bool wb_is_marked(wb *w, const char *id)
{
    for (size_t i = 0; i < w->n_marks; i++)
        if (!strcmp(w->marks[i], id))
            return true;
    return false;
}

/* " id id " strings make membership a strstr. */
static bool in_list(const char *list, const char *id)
{
    if (!list || !id[0])
        return false;
    char key[SESSION_ID_MAX + 2];
    snprintf(key, sizeof key, " %s ", id);
    return strstr(list, key) != NULL;
}

static char *ids_of(json_t *arr, const char *field)
{
    strbuf sb = STRBUF_INIT;
    strbuf_addch(&sb, ' ');
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *it = json_array_get(arr, i);
        const char *id = json_string_value(field ? json_object_get(it, field) : it);
        if (id && strlen(id) < SESSION_ID_MAX)
            strbuf_addf(&sb, "%s ", id);
    }
    return strbuf_detach(&sb, NULL);
}

static void set_gen_str(char ***v, int *n, int gen, char *str)
{
    if (gen < 0 || gen > 100000) {
        free(str);
        return;
    }
    if (gen >= *n) {
        int nn = gen + 1;
        char **nv = realloc(*v, (size_t)nn * sizeof *nv);
        if (!nv) {
            free(str);
            return;
        }
        for (int i = *n; i < nn; i++)
            nv[i] = NULL;
        *v = nv;
        *n = nn;
    }
    free((*v)[gen]);
    (*v)[gen] = str;
}

typedef struct journal_acc {
    wb *w;
    int n_pops;
} journal_acc;

static int journal_cb(const session_journal_entry *e, void *arg)
{
    journal_acc *a = arg;
    wb *w = a->w;
    json_t *f = json_loads(e->front_json ? e->front_json : "{}", 0, NULL);
    json_t *p = json_loads(e->population_json ? e->population_json : "{}", 0, NULL);
    int nf = w->n_journal;
    set_gen_str(&w->fronts, &nf, e->generation, ids_of(json_object_get(f, "front"), NULL));
    set_gen_str(&w->pops, &a->n_pops, e->generation,
                ids_of(json_object_get(p, "population"), "id"));
    w->n_journal = nf;
    json_decref(f);
    json_decref(p);
    return 0;
}

/* Frees the journal's fronts and populations. */
static void journal_clear(wb *w)
{
    for (int i = 0; i < w->n_journal; i++) {
        free(w->fronts[i]);
        free(w->pops[i]);
    }
    free(w->fronts);
    free(w->pops);
    w->fronts = w->pops = NULL;
    w->n_journal = 0;
}

static void load_history(wb *w)
{
    free(w->hist);
    w->hist = NULL;
    w->n_hist = 0;
    gerr err = GERR_INIT;
    if (session_list(w->s, -1, &w->hist, &w->n_hist, &err) != 0)
        wb_msg(w, true, "%s", err.msg);
    free(w->hist_failed);
    w->hist_failed = NULL;
    w->n_hist_failed = 0;
    if (session_failed_list(w->s, -1, &w->hist_failed, &w->n_hist_failed, &err) != 0)
        wb_msg(w, true, "%s", err.msg);
    if (session_totals_get(w->s, &w->totals, &err) != 0)
        wb_msg(w, true, "%s", err.msg);
    journal_clear(w);
    journal_acc a = {w, 0};
    if (session_journal_foreach(w->s, journal_cb, &a, &err) != 0)
        wb_msg(w, true, "journal: %s", err.msg);
    /* Both arrays must be as long as n_journal. */
    if (a.n_pops != w->n_journal) {
        int n = a.n_pops > w->n_journal ? a.n_pops : w->n_journal;
        int nf = w->n_journal, np = a.n_pops;
        set_gen_str(&w->fronts, &nf, n - 1, w->fronts && n - 1 < nf ? w->fronts[n - 1] : NULL);
        set_gen_str(&w->pops, &np, n - 1, w->pops && n - 1 < np ? w->pops[n - 1] : NULL);
        w->n_journal = n;
    }
    /* the live loop's measurement (it ends while the workbench is open),
       else the stored one */
    const noise_info *ni = w->ev ? evolve_noise(w->ev) : NULL;
    if (ni)
        w->noise = *ni;
    else if (noise_read(w->s, &w->noise, &err))
        wb_msg(w, true, "noise: %s", err.msg);
    w->hist_dirty = false;
}

/* The front as of generation gen: the latest journal record at or before. */
static const char *front_at(wb *w, int gen)
{
    for (int g = gen < w->n_journal - 1 ? gen : w->n_journal - 1; g >= 0; g--)
        if (w->fronts[g])
            return w->fronts[g];
    return NULL;
}

static wb_state state_of(const session_info *i)
{
    if (!strcmp(i->decision, "rejected"))
        return WB_REJECTED;
    if (!strcmp(i->status, "ok"))
        return WB_TRAINED;
    if (strcmp(i->status, "pending"))
        return WB_FAILED;
    if (!strncmp(i->decision, "approved", 8))
        return WB_APPROVED;
    return WB_PENDING;
}

static void clear_inds(wb *w)
{
    for (size_t i = 0; i < w->n_inds; i++)
        free(w->inds[i].message);
    w->n_inds = 0;
}

/* The number of "g2-7" (7), or INT_MAX for a proposal that has no id yet. */
static int number_of(const wb_ind *d)
{
    int g, n;
    char end;
    if (sscanf(d->id, "g%d-%d%c", &g, &n, &end) == 2 && n >= 0)
        return n;
    return INT_MAX;
}

/* A generation's individuals in the order of their numbers; proposals
 * still arriving after them, by slot. */
static int by_number(const void *pa, const void *pb)
{
    const wb_ind *a = pa, *b = pb;
    if (a->generation != b->generation)
        return a->generation < b->generation ? -1 : 1;
    int na = number_of(a), nb = number_of(b);
    if (na != nb)
        return na < nb ? -1 : 1;
    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Whether a failed proposal was asked again for. */
static bool retried(const wb *w, const char *id)
{
    for (size_t i = 0; i < w->n_hist; i++)
        if (!strcmp(w->hist[i].retry_of, id))
            return true;
    for (size_t i = 0; i < w->n_hist_failed; i++)
        if (!strcmp(w->hist_failed[i].retry_of, id))
            return true;
    return false;
}

/* Appends an individual to w->inds (wb_data_reload made the room) with
 * what every source of the tree has: where it stands (generation, slot,
 * state), how it was made (operator, persona, up to two parents) and its
 * result (val_acc at rung, params; -1 when unknown). */
static wb_ind *ind_add(wb *w, int generation, int slot, wb_state state, const char *op,
                       const char *persona, const char (*parents)[SESSION_ID_MAX], int n_parents,
                       double val_acc, int rung, long params)
{
    wb_ind *d = &w->inds[w->n_inds++];
    d->generation = generation;
    d->slot = slot;
    d->state = state;
    snprintf(d->op, sizeof d->op, "%s", op ? op : "");
    snprintf(d->persona, sizeof d->persona, "%s", persona ? persona : "");
    d->n_parents = n_parents < 0 ? 0 : n_parents > 2 ? 2 : n_parents;
    for (int p = 0; p < d->n_parents; p++)
        snprintf(d->parents[p], SESSION_ID_MAX, "%s", parents[p]);
    d->val_acc = val_acc;
    d->rung = rung;
    d->params = params;
    return d;
}

void wb_data_reload(wb *w)
{
    if (w->hist_dirty)
        load_history(w);
    memset(&w->st, 0, sizeof w->st);
    w->live_gen = -1;
    if (w->ev) {
        evolve_status_get(w->ev, &w->st);
        w->live_gen = w->st.generation;
    }
    int last = 0;
    for (size_t i = 0; i < w->n_hist; i++)
        if (w->hist[i].generation > last)
            last = w->hist[i].generation;
    if (w->live_gen > last)
        last = w->live_gen;
    bool follow = w->view_gen >= w->last_gen; /* follow the newest generation */
    w->last_gen = last;
    if (follow || w->view_gen > last)
        w->view_gen = last;
    if (w->view_gen < 0)
        w->view_gen = 0;

    size_t nlive = 0;
    const evolve_ind *live = NULL;
    if (w->ev && w->live_gen >= 0 && w->live_gen <= w->view_gen)
        live = evolve_list(w->ev, -1, &nlive);
    clear_inds(w);
    size_t need;
    if (!size_add(w->n_hist, nlive, &need) || !size_add(need, w->n_hist_failed, &need) ||
        ALLOC_GROW(w->inds, need + 1, w->alloc_inds) != 0) {
        wb_msg(w, true, "out of memory listing the population");
        return;
    }
    memset(w->inds, 0, need * sizeof *w->inds);
    const char *front = front_at(w, w->view_gen);
    const char *pop = w->view_gen < w->n_journal ? w->pops[w->view_gen] : NULL;
    for (size_t i = 0; i < w->n_hist; i++) {
        const session_info *h = &w->hist[i];
        if (h->generation > w->view_gen || (live && h->generation == w->live_gen))
            continue;
        bool in_live = false; /* evolve lists the survivors it carries over too */
        for (size_t k = 0; k < nlive && !in_live; k++)
            in_live = !strcmp(live[k].id, h->id);
        if (in_live)
            continue;
        wb_ind *d = ind_add(w, h->generation, h->number, state_of(h), h->op, h->persona, h->parents,
                            h->n_parents, h->val_acc, h->rung, h->params);
        snprintf(d->id, sizeof d->id, "%s", h->id);
        d->edited = h->edited;
        d->on_front = in_list(front, h->id);
        d->survivor = in_list(pop, h->id);
        if (d->state == WB_FAILED) {
            char buf[64];
            snprintf(buf, sizeof buf, "training %s", h->status);
            d->message = strdup(buf);
        }
    }
    /* failed proposals of the generations evolve does not hold, unless
       asked again for (a later record or an individual names them) */
    for (size_t i = 0; i < w->n_hist_failed; i++) {
        const session_failed_info *f = &w->hist_failed[i];
        if (f->generation > w->view_gen || (live && f->generation == w->live_gen) ||
            retried(w, f->id))
            continue;
        wb_ind *d = ind_add(w, f->generation, INT_MAX / 2 + f->number, WB_FAILED, f->op, f->persona,
                            f->parents, f->n_parents, -1, 0, -1);
        snprintf(d->failed, sizeof d->failed, "%s", f->id);
        d->message = f->error[0] ? strdup(f->error) : NULL;
    }
    for (size_t i = 0; i < nlive; i++) {
        const evolve_ind *l = &live[i];
        wb_state st =
            (int)l->state < 0 || l->state >= EVOLVE_NSTATES ? WB_FAILED : (wb_state)l->state;
        wb_ind *d = ind_add(w, l->generation, l->slot, st, l->op, l->persona, l->parents,
                            l->n_parents, l->val_acc, l->rung, l->params);
        snprintf(d->id, sizeof d->id, "%s", l->id);
        d->progress = l->progress;
        d->on_front = l->on_front;
        d->survivor = l->survivor;
        d->live = true;
        d->message = l->message && l->message[0] ? strdup(l->message) : NULL;
        snprintf(d->failed, sizeof d->failed, "%s", l->failed);
        for (size_t h = 0; h < w->n_hist; h++)
            if (!strcmp(w->hist[h].id, d->id))
                d->edited = w->hist[h].edited;
    }
    qsort(w->inds, w->n_inds, sizeof *w->inds, by_number);
    /* The streamed reasoning of the selection (proposing only). */
    for (size_t i = 0; i < nlive; i++)
        if (live[i].state == EVOLVE_PROPOSING && !w->sel_id[0] && live[i].slot == w->sel_slot &&
            live[i].generation == w->live_gen) {
            const char *r = live[i].reasoning_live ? live[i].reasoning_live : "";
            if (!w->live_text || strcmp(w->live_text, r)) {
                free(w->live_text);
                w->live_text = strdup(r);
            }
        }
    wb_data_rows(w);
}

bool wb_folded(wb *w, int gen)
{
    if (gen < w->n_folded && w->folded[gen])
        return w->folded[gen] == 1;
    return gen < w->view_gen;
}

static bool matches_filter(wb *w, const wb_ind *d)
{
    if (w->only_pending && d->state != WB_PENDING)
        return false;
    if (w->only_front && !d->on_front)
        return false;
    return true;
}

void wb_data_rows(wb *w)
{
    w->n_rows = 0;
    if (ALLOC_GROW(w->rows, w->n_inds + (size_t)w->view_gen + 1, w->alloc_rows) != 0) {
        wb_msg(w, true, "out of memory listing the population");
        return;
    }
    bool filtering = w->only_pending || w->only_front;
    for (int g = 0; g <= w->view_gen; g++) {
        w->rows[w->n_rows++] = (wb_row){g, -1};
        bool fold = wb_folded(w, g) && !filtering;
        for (size_t i = 0; i < w->n_inds && !fold; i++)
            if (w->inds[i].generation == g && matches_filter(w, &w->inds[i]))
                w->rows[w->n_rows++] = (wb_row){g, (int)i};
    }
    /* Keep the selection on the same individual (or proposing slot). */
    int found = -1;
    for (size_t r = 0; r < w->n_rows && found < 0; r++) {
        if (w->rows[r].ind < 0) {
            if (!w->sel_id[0] && w->sel_slot == -1 - w->rows[r].gen)
                found = (int)r;
            continue;
        }
        const wb_ind *d = &w->inds[w->rows[r].ind];
        if (w->sel_id[0] ? !strcmp(d->id, w->sel_id)
                         : (d->live && d->slot == w->sel_slot && w->sel_slot >= 0))
            found = (int)r;
    }
    if (found >= 0)
        w->sel = found;
    wb_select_row(w, w->sel);
}

void wb_select_row(wb *w, int r)
{
    if (r >= (int)w->n_rows)
        r = (int)w->n_rows - 1;
    w->sel = r < 0 ? 0 : r;
    wb_ind *d = wb_selected(w);
    if (d) {
        snprintf(w->sel_id, sizeof w->sel_id, "%s", d->id);
        w->sel_slot = d->slot;
    } else if (w->n_rows) {
        w->sel_id[0] = 0;
        w->sel_slot = -1 - w->rows[w->sel].gen;
    }
}

wb_ind *wb_selected(wb *w)
{
    if (w->sel < 0 || w->sel >= (int)w->n_rows || w->rows[w->sel].ind < 0)
        return NULL;
    return &w->inds[w->rows[w->sel].ind];
}

void wb_data_release(wb *w)
{
    report_release(&w->report);
    clear_inds(w);
    free(w->inds);
    free(w->hist);
    free(w->hist_failed);
    journal_clear(w);
    free(w->rows);
    free(w->folded);
    wb_strv_free(w->marks, w->n_marks);
    wb_diff_release(w);
    free(w->reason_text);
    free(w->live_text);
    free(w->edit_buf);
    wb_strv_free(w->help, w->n_help);
    free(w->lineage);
    free(w->diff_rows);
    wb_strv_free(w->stats, w->n_stats);
    wb_strv_free(w->events, w->n_events);
    strbuf_release(&w->safe);
    wb_cells_release(&w->cells);
}
