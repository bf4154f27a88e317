/* wb_data: what the panes show. History comes from the session (the list of
 * individuals, the journal's fronts and populations, diffs, files, notes);
 * the generation being built comes from evolve. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tui/wb.h"

void wb_strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void wb_log(wb *w, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (w->n_events == w->cap_events) {
        size_t c = w->cap_events ? w->cap_events * 2 : 64;
        char **v = realloc(w->events, c * sizeof *v);
        if (!v)
            return;
        w->events = v;
        w->cap_events = c;
    }
    char *s = strdup(buf);
    if (s)
        w->events[w->n_events++] = s;
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
    size_t cap = 2 + json_array_size(arr) * SESSION_ID_MAX, o = 1;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    strcpy(s, " ");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *it = json_array_get(arr, i);
        const char *id = json_string_value(field ? json_object_get(it, field) : it);
        if (id && strlen(id) < SESSION_ID_MAX)
            o += (size_t)snprintf(s + o, cap - o, "%s ", id);
    }
    return s;
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

static void load_history(wb *w)
{
    gerr serr = GERR_INIT;
    free(w->hist);
    w->hist = NULL;
    w->n_hist = 0;
    if (session_list(w->s, -1, &w->hist, &w->n_hist, &serr) != 0)
        wb_msg(w, true, "%s", serr.msg);
    for (int i = 0; i < w->n_journal; i++) {
        free(w->fronts[i]);
        free(w->pops[i]);
    }
    free(w->fronts);
    free(w->pops);
    w->fronts = w->pops = NULL;
    w->n_journal = 0;
    journal_acc a = {w, 0};
    if (session_journal_foreach(w->s, journal_cb, &a, &serr) != 0)
        wb_msg(w, true, "journal: %s", serr.msg);
    /* Both arrays must be as long as n_journal. */
    if (a.n_pops != w->n_journal) {
        int n = a.n_pops > w->n_journal ? a.n_pops : w->n_journal;
        int nf = w->n_journal, np = a.n_pops;
        set_gen_str(&w->fronts, &nf, n - 1, w->fronts && n - 1 < nf ? w->fronts[n - 1] : NULL);
        set_gen_str(&w->pops, &np, n - 1, w->pops && n - 1 < np ? w->pops[n - 1] : NULL);
        w->n_journal = n;
    }
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

static void free_inds(wb *w)
{
    for (size_t i = 0; i < w->n_inds; i++)
        free(w->inds[i].message);
    free(w->inds);
    w->inds = NULL;
    w->n_inds = 0;
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
    free_inds(w);
    w->inds = calloc(w->n_hist + nlive + 1, sizeof *w->inds);
    if (!w->inds)
        return;
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
        wb_ind *d = &w->inds[w->n_inds++];
        snprintf(d->id, sizeof d->id, "%s", h->id);
        d->generation = h->generation;
        d->slot = h->number;
        d->state = state_of(h);
        snprintf(d->op, sizeof d->op, "%s", h->op);
        snprintf(d->persona, sizeof d->persona, "%s", h->persona);
        d->n_parents = h->n_parents;
        for (int p = 0; p < h->n_parents && p < 2; p++)
            snprintf(d->parents[p], SESSION_ID_MAX, "%s", h->parents[p]);
        d->val_acc = h->val_acc;
        d->params = h->params;
        d->edited = h->edited;
        d->on_front = in_list(front, h->id);
        d->survivor = in_list(pop, h->id);
        if (d->state == WB_FAILED) {
            char buf[64];
            snprintf(buf, sizeof buf, "training %s", h->status);
            d->message = strdup(buf);
        }
    }
    for (size_t i = 0; i < nlive; i++) {
        const evolve_ind *l = &live[i];
        wb_ind *d = &w->inds[w->n_inds++];
        snprintf(d->id, sizeof d->id, "%s", l->id);
        d->generation = l->generation;
        d->slot = l->slot;
        d->state = (wb_state)l->state;
        if ((int)d->state < 0 || d->state >= WB_NSTATES)
            d->state = WB_FAILED;
        snprintf(d->op, sizeof d->op, "%s", l->op ? l->op : "");
        snprintf(d->persona, sizeof d->persona, "%s", l->persona ? l->persona : "");
        d->n_parents = l->n_parents < 0 ? 0 : l->n_parents > 2 ? 2 : l->n_parents;
        for (int p = 0; p < d->n_parents; p++)
            snprintf(d->parents[p], SESSION_ID_MAX, "%s", l->parents[p]);
        d->progress = l->progress;
        d->val_acc = l->val_acc;
        d->params = l->params;
        d->on_front = l->on_front;
        d->survivor = l->survivor;
        d->live = true;
        d->message = l->message && l->message[0] ? strdup(l->message) : NULL;
        for (size_t h = 0; h < w->n_hist; h++)
            if (!strcmp(w->hist[h].id, d->id))
                d->edited = w->hist[h].edited;
    }
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

static bool folded(wb *w, int gen)
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
    free(w->rows);
    w->n_rows = 0;
    w->rows = calloc(w->n_inds + (size_t)w->view_gen + 2, sizeof *w->rows);
    if (!w->rows)
        return;
    bool filtering = w->only_pending || w->only_front;
    for (int g = 0; g <= w->view_gen; g++) {
        w->rows[w->n_rows++] = (wb_row){g, -1};
        bool fold = folded(w, g) && !filtering;
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
    if (w->sel >= (int)w->n_rows)
        w->sel = (int)w->n_rows - 1;
    if (w->sel < 0)
        w->sel = 0;
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

void wb_data_free(wb *w)
{
    free_inds(w);
    free(w->hist);
    for (int i = 0; i < w->n_journal; i++) {
        free(w->fronts[i]);
        free(w->pops[i]);
    }
    free(w->fronts);
    free(w->pops);
    free(w->rows);
    free(w->folded);
    wb_strv_free(w->marks, w->n_marks);
    for (size_t i = 0; i < w->n_diff; i++)
        free(w->diff[i].text);
    free(w->diff);
    free(w->reason_text);
    free(w->live_text);
    free(w->edit_buf);
    wb_strv_free(w->events, w->n_events);
}

/* ---- the detail of the selection: diff and reasoning ------------------ */

char **wb_annotations(wb *w, const char *id, size_t *n)
{
    *n = 0;
    char *note = NULL;
    if (!id[0] || session_get_review(w->s, id, &note, NULL) != 0 || !note)
        return NULL;
    json_t *j = json_loads(note, 0, NULL);
    free(note);
    json_t *arr = json_object_get(j, "annotations");
    char **v = calloc(json_array_size(arr) + 1, sizeof *v);
    for (size_t i = 0; v && i < json_array_size(arr); i++) {
        json_t *a = json_array_get(arr, i);
        const char *t = json_string_value(json_object_get(a, "text"));
        char buf[600];
        snprintf(buf, sizeof buf, "%d\t%s", (int)json_integer_value(json_object_get(a, "line")),
                 t ? t : "");
        v[(*n)++] = strdup(buf);
    }
    json_decref(j);
    return v;
}

static void add_dline(wb *w, size_t *cap, const char *text, size_t len, int kind, int newline)
{
    if (w->n_diff == *cap) {
        size_t c = *cap ? *cap * 2 : 64;
        wb_dline *v = realloc(w->diff, c * sizeof *v);
        if (!v)
            return;
        w->diff = v;
        *cap = c;
    }
    char *t = malloc(len + 1);
    if (!t)
        return;
    memcpy(t, text, len);
    t[len] = 0;
    w->diff[w->n_diff++] = (wb_dline){t, kind, newline};
}

static void add_notes(wb *w, size_t *cap, char **notes, size_t nn, int line, const char *pfx)
{
    for (size_t i = 0; i < nn; i++) {
        if (atoi(notes[i]) != line)
            continue;
        const char *t = strchr(notes[i], '\t');
        char buf[640];
        snprintf(buf, sizeof buf, "%s%s", pfx, t ? t + 1 : "");
        add_dline(w, cap, buf, strlen(buf), WB_C_NOTE, 0);
    }
}

/* Colours a unified diff and numbers its lines in the new genome. */
static void add_patch(wb *w, size_t *cap, const char *patch, char **notes, size_t nn)
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
        add_dline(w, cap, p, len, kind, nl);
        if (nl > 0)
            add_notes(w, cap, notes, nn, nl, "    note: ");
        p = e ? e + 1 : NULL;
    }
}

static char *file_or_empty(wb *w, const char *id, const char *name)
{
    char *t = NULL;
    if (session_file(w->s, id, name, &t, NULL) != 0 || !t)
        return strdup("");
    return t;
}

static void build_reason(wb *w, const wb_ind *d)
{
    free(w->reason_text);
    w->reason_text = NULL;
    size_t cap = 4096, o = 0;
    char *buf = malloc(cap);
    if (!buf)
        return;
    buf[0] = 0;
#define APPEND(...)                                       \
    do {                                                  \
        int k_ = snprintf(buf + o, cap - o, __VA_ARGS__); \
        if (k_ > 0 && (size_t)k_ >= cap - o) {            \
            cap = o + (size_t)k_ + 4096;                  \
            char *nb_ = realloc(buf, cap);                \
            if (!nb_)                                     \
                break;                                    \
            buf = nb_;                                    \
            k_ = snprintf(buf + o, cap - o, __VA_ARGS__); \
        }                                                 \
        if (k_ > 0)                                       \
            o += (size_t)k_;                              \
    } while (0)
    session_info info;
    bool have = d->id[0] && session_info_get(w->s, d->id, &info, NULL) == 0;
    APPEND("%s %s", d->id[0] ? d->id : "(proposing)", d->op);
    if (d->persona[0])
        APPEND(" by %s", d->persona);
    APPEND("\n");
    if (d->n_parents)
        APPEND("parents: %s%s%s\n", d->parents[0], d->n_parents > 1 ? " " : "",
               d->n_parents > 1 ? d->parents[1] : "");
    if (have && info.model[0])
        APPEND("model: %s, tokens %ld in, %ld out, %.1f s\n", info.model, info.tokens_in,
               info.tokens_out, info.latency_s);
    if (d->message)
        APPEND("%s: %s\n", d->state == WB_REJECTED ? "rejected" : "note", d->message);
    if (have) {
        char *meta = file_or_empty(w, d->id, "meta.json");
        json_t *m = json_loads(meta, 0, NULL);
        free(meta);
        json_t *rep = json_object_get(m, "repairs");
        if (json_is_integer(rep) && json_integer_value(rep) > 0)
            APPEND("repair attempts: %d\n", (int)json_integer_value(rep));
        else if (json_is_array(rep))
            for (size_t i = 0; i < json_array_size(rep); i++) {
                json_t *r = json_array_get(rep, i);
                const char *t = json_is_string(r) ? json_string_value(r)
                                                  : json_string_value(json_object_get(r, "error"));
                APPEND("repair %zu: %s\n", i + 1, t ? t : "(attempt)");
            }
        const char *eot = json_string_value(json_object_get(m, "eot"));
        if (eot)
            APPEND("\nEoT context:\n%s\n", eot);
        json_decref(m);
        char *rev = NULL;
        if (session_get_review(w->s, d->id, &rev, NULL) == 0 && rev) {
            json_t *r = json_loads(rev, 0, NULL);
            const char *dec = json_string_value(json_object_get(r, "decision"));
            const char *why = json_string_value(json_object_get(r, "reason"));
            if (dec)
                APPEND("review: %s%s%s\n", dec, why && why[0] ? ": " : "", why ? why : "");
            json_decref(r);
            free(rev);
        }
    }
    if (w->show_prompt) {
        char *pr = have ? file_or_empty(w, d->id, "prompt.txt") : strdup("");
        APPEND("\n-- prompt (t: back to the reasoning) --\n%s\n", pr && pr[0] ? pr : "(none)");
        free(pr);
    } else if (have) {
        char *rs = file_or_empty(w, d->id, "reasoning.md");
        if (!strcmp(d->op, "eot") && !strstr(buf, "EoT context"))
            APPEND("\nEoT: the elite's change is in the prompt (t shows it)\n");
        APPEND("\n-- reasoning --\n%s\n", rs && rs[0] ? rs : "(none)");
        free(rs);
    }
    w->reason_text = buf;
#undef APPEND
}

void wb_detail_load(wb *w, bool force)
{
    gerr serr = GERR_INIT;
    wb_ind *d = wb_selected(w);
    char key[SESSION_ID_MAX + 8];
    snprintf(key, sizeof key, "%s", d ? d->id : "");
    if (!force && !strcmp(key, w->detail_id) && w->diff)
        return;
    if (strcmp(key, w->detail_id))
        w->diff_cur = w->diff_top = w->reason_top = 0;
    snprintf(w->detail_id, sizeof w->detail_id, "%s", key);
    for (size_t i = 0; i < w->n_diff; i++)
        free(w->diff[i].text);
    free(w->diff);
    w->diff = NULL;
    w->n_diff = 0;
    size_t cap = 0;
    free(w->reason_text);
    w->reason_text = NULL;
    if (!d) {
        char buf[256];
        int g = w->n_rows ? w->rows[w->sel].gen : 0;
        snprintf(buf, sizeof buf, "generation %d%s", g, g == w->live_gen ? " (being built)" : "");
        add_dline(w, &cap, buf, strlen(buf), WB_C_DIFF_HEAD, 0);
        const char *f = g < w->n_journal ? w->fronts[g] : NULL;
        const char *p = g < w->n_journal ? w->pops[g] : NULL;
        snprintf(buf, sizeof buf, "front:%s", f ? f : " (not selected yet)");
        add_dline(w, &cap, buf, strlen(buf), WB_C_NORMAL, 0);
        snprintf(buf, sizeof buf, "survivors:%s", p ? p : " (not selected yet)");
        add_dline(w, &cap, buf, strlen(buf), WB_C_NORMAL, 0);
        w->reason_text = strdup("Enter expands or collapses the generation.");
        return;
    }
    if (!d->id[0]) {
        const char *t = "(proposing: the diff appears when the proposal arrives)";
        add_dline(w, &cap, t, strlen(t), WB_C_PROPOSING, 0);
        build_reason(w, d);
        return;
    }
    size_t nn = 0;
    char **notes = wb_annotations(w, d->id, &nn);
    add_notes(w, &cap, notes, nn, 0, "note: ");
    char *patch = NULL;
    char head[160];
    if (w->diff_mode == 1) {
        if (session_edit_diff(w->s, d->id, &patch, &serr) != 0) {
            add_dline(w, &cap, serr.msg, strlen(serr.msg), WB_C_ERROR, 0);
        } else if (!patch || !patch[0]) {
            const char *t = "(no edit by the researcher; d: back to the parent diff)";
            add_dline(w, &cap, t, strlen(t), WB_C_NORMAL, 0);
        } else {
            snprintf(head, sizeof head, "the researcher's edit of %s (d: parent diff)", d->id);
            add_dline(w, &cap, head, strlen(head), WB_C_TITLE, 0);
            add_patch(w, &cap, patch, notes, nn);
        }
    } else if (d->n_parents == 0) {
        char *g = NULL;
        snprintf(head, sizeof head, "%s has no parent: its genome", d->id);
        add_dline(w, &cap, head, strlen(head), WB_C_TITLE, 0);
        if (session_genome(w->s, d->id, &g, &serr) == 0 && g) {
            int line = 1;
            for (const char *p = g; *p;) {
                const char *e = strchr(p, '\n');
                size_t len = e ? (size_t)(e - p) : strlen(p);
                add_dline(w, &cap, p, len, WB_C_NORMAL, line);
                add_notes(w, &cap, notes, nn, line, "    note: ");
                line++;
                p = e ? e + 1 : p + len;
            }
        }
        free(g);
    } else {
        for (int i = 0; i < d->n_parents; i++) {
            if (d->n_parents > 1) {
                snprintf(head, sizeof head, "crossover: against parent %d (%s)", i + 1,
                         d->parents[i]);
                add_dline(w, &cap, head, strlen(head), WB_C_TITLE, 0);
            }
            if (session_diff(w->s, i ? d->parents[i] : NULL, d->id, true, &patch, &serr) != 0) {
                add_dline(w, &cap, serr.msg, strlen(serr.msg), WB_C_ERROR, 0);
            } else if (!patch || !patch[0]) {
                const char *t = "(no change against the parent)";
                add_dline(w, &cap, t, strlen(t), WB_C_NORMAL, 0);
            } else {
                add_patch(w, &cap, patch, i ? NULL : notes, i ? 0 : nn);
            }
            free(patch);
            patch = NULL;
        }
    }
    free(patch);
    wb_strv_free(notes, nn);
    if (w->diff_cur >= (int)w->n_diff)
        w->diff_cur = w->n_diff ? (int)w->n_diff - 1 : 0;
    build_reason(w, d);
}
