/* stats: see stats.h. */
#include "core/stats.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/noise.h"
#include "engine/base/grow.h"
#include "engine/base/strbuf.h"

void stats_release(stats *st)
{
    free(st->records);
    free(st->personas);
    free(st->models);
    free(st->operators);
    free(st->pairs);
    memset(st, 0, sizeof *st);
}

void stats_row_add(stats_row *row, const stats_record *r)
{
    row->proposals++;
    if (r->valid && r->attempts <= 1)
        row->valid_first++;
    else if (r->valid)
        row->repaired++;
    else
        row->failed++;
    row->approved += r->approved;
    row->edited += r->edited;
    row->rejected += r->rejected;
    row->trained += r->trained;
    if (r->has_delta) {
        row->with_delta++;
        row->delta_sum += r->delta;
        row->improved += r->improved;
    }
    row->front += r->front;
    row->tokens_in += r->tokens_in;
    row->tokens_out += r->tokens_out;
    row->cost_usd += r->cost_usd;
    row->latency_sum += r->latency_s;
}

double stats_reward(const stats_record *r)
{
    if (!r->valid)
        return 0;
    if (r->improved)
        return 1;
    return r->trained ? 0.5 : 0.25;
}

/* The group named name in *v (added when new). */
static stats_group *group_of(stats_group **v, size_t *n, size_t *alloc, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i].name, name))
            return &(*v)[i];
    if (ALLOC_GROW(*v, *n + 1, *alloc))
        return NULL;
    stats_group *g = &(*v)[(*n)++];
    memset(g, 0, sizeof *g);
    snprintf(g->name, sizeof g->name, "%s", name);
    return g;
}

static stats_pair *pair_of(stats *st, size_t *alloc, const char *model, const char *persona)
{
    for (size_t i = 0; i < st->n_pairs; i++)
        if (!strcmp(st->pairs[i].model, model) && !strcmp(st->pairs[i].persona, persona))
            return &st->pairs[i];
    if (ALLOC_GROW(st->pairs, st->n_pairs + 1, *alloc))
        return NULL;
    stats_pair *p = &st->pairs[st->n_pairs++];
    memset(p, 0, sizeof *p);
    snprintf(p->model, sizeof p->model, "%s", model);
    snprintf(p->persona, sizeof p->persona, "%s", persona);
    return p;
}

static int group_cmp(const void *a, const void *b)
{
    return strcmp(((const stats_group *)a)->name, ((const stats_group *)b)->name);
}

static int pair_cmp(const void *a, const void *b)
{
    const stats_pair *x = a, *y = b;
    int c = strcmp(x->model, y->model);
    return c ? c : strcmp(x->persona, y->persona);
}

/* The ids on the journal's last front. */
typedef struct front_ids {
    json_t *front; /* array of ids, or NULL */
} front_ids;

static int take_front(const session_journal_entry *e, void *arg)
{
    front_ids *f = arg;
    json_t *j = json_loads(e->front_json, 0, NULL);
    json_t *ids = json_object_get(j, "front");
    if (json_is_array(ids)) {
        json_decref(f->front);
        f->front = json_incref(ids);
    }
    json_decref(j);
    return 0;
}

static bool on_front(const front_ids *f, const char *id)
{
    size_t i;
    json_t *v;
    json_array_foreach(f->front, i, v)
    {
        if (json_is_string(v) && !strcmp(json_string_value(v), id))
            return true;
    }
    return false;
}

/* meta.json's model at full length (session_info's is cut). */
static void read_model(session *s, const char *id, stats_record *r)
{
    char *text = NULL;
    if (session_file(s, id, "meta.json", &text, NULL) != 0)
        return;
    json_t *m = json_loads(text, 0, NULL);
    free(text);
    json_t *model = json_object_get(m, "model");
    if (json_is_string(model))
        snprintf(r->model, sizeof r->model, "%s", json_string_value(model));
    json_decref(m);
}

static double acc_of(const session_info *v, size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i].id, id))
            return !strcmp(v[i].status, "ok") ? v[i].val_acc : -1;
    return -1;
}

static int add_individuals(session *s, stats *st, size_t *alloc, const front_ids *front, gerr *err)
{
    session_info *v = NULL;
    size_t n = 0;
    if (session_list(s, -1, &v, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        const session_info *x = &v[i];
        if (!strcmp(x->op, "seed"))
            continue;
        if (ALLOC_GROW(st->records, st->n_records + 1, *alloc)) {
            free(v);
            return gerr_set(err, "out of memory");
        }
        stats_record *r = &st->records[st->n_records++];
        memset(r, 0, sizeof *r);
        r->generation = x->generation;
        snprintf(r->op, sizeof r->op, "%s", x->op);
        snprintf(r->persona, sizeof r->persona, "%s", x->persona);
        snprintf(r->model, sizeof r->model, "%s", x->model);
        if (strlen(x->model) + 1 >= sizeof x->model)
            read_model(s, x->id, r);
        r->attempts = x->requests;
        r->cost_usd = x->cost_usd;
        r->valid = true;
        r->approved = !strncmp(x->decision, "approved", 8);
        r->edited = x->edited || !strcmp(x->decision, "approved_edited");
        r->rejected = !strcmp(x->decision, "rejected");
        r->trained = !strcmp(x->status, "ok") && x->val_acc >= 0;
        double parent = -1;
        for (int k = 0; k < x->n_parents; k++) {
            double a = acc_of(v, n, x->parents[k]);
            if (a > parent)
                parent = a;
        }
        if (r->trained && parent >= 0) {
            r->has_delta = true;
            r->delta = x->val_acc - parent;
            r->improved = r->delta > st->noise;
        }
        r->front = on_front(front, x->id);
        r->tokens_in = x->tokens_in;
        r->tokens_out = x->tokens_out;
        r->latency_s = x->latency_s;
    }
    free(v);
    return 0;
}

static int add_failures(session *s, stats *st, size_t *alloc, gerr *err)
{
    session_failed_info *f = NULL;
    size_t n = 0;
    if (session_failed_list(s, -1, &f, &n, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (ALLOC_GROW(st->records, st->n_records + 1, *alloc)) {
            free(f);
            return gerr_set(err, "out of memory");
        }
        stats_record *r = &st->records[st->n_records++];
        memset(r, 0, sizeof *r);
        r->generation = f[i].generation;
        snprintf(r->op, sizeof r->op, "%s", f[i].op);
        snprintf(r->persona, sizeof r->persona, "%s", f[i].persona);
        snprintf(r->model, sizeof r->model, "%s", f[i].model);
        r->attempts = f[i].attempts;
        r->tokens_in = f[i].tokens_in;
        r->tokens_out = f[i].tokens_out;
        r->cost_usd = f[i].cost_usd;
        r->latency_s = f[i].latency_s;
    }
    free(f);
    return 0;
}

int stats_collect(session *s, stats *st, gerr *err)
{
    memset(st, 0, sizeof *st);
    if (noise_tolerance(s, STATS_DEFAULT_NOISE, &st->noise, st->noise_how, sizeof st->noise_how,
                        err))
        return -1;
    front_ids front = {NULL};
    if (session_journal_foreach(s, take_front, &front, err) < 0)
        return -1;
    size_t alloc = 0;
    int rc = add_individuals(s, st, &alloc, &front, err);
    json_decref(front.front);
    if (rc || add_failures(s, st, &alloc, err))
        goto fail;
    size_t a_p = 0, a_m = 0, a_o = 0, a_pair = 0;
    for (size_t i = 0; i < st->n_records; i++) {
        const stats_record *r = &st->records[i];
        stats_group *p = group_of(&st->personas, &st->n_personas, &a_p, r->persona);
        stats_group *m = group_of(&st->models, &st->n_models, &a_m, r->model);
        stats_group *o = group_of(&st->operators, &st->n_operators, &a_o, r->op);
        stats_pair *pp = pair_of(st, &a_pair, r->model, r->persona);
        if (!p || !m || !o || !pp) {
            gerr_set(err, "out of memory");
            goto fail;
        }
        stats_row_add(&p->row, r);
        stats_row_add(&m->row, r);
        stats_row_add(&o->row, r);
        stats_row_add(&pp->row, r);
        stats_row_add(&st->total, r);
    }
    if (st->n_personas)
        qsort(st->personas, st->n_personas, sizeof *st->personas, group_cmp);
    if (st->n_models)
        qsort(st->models, st->n_models, sizeof *st->models, group_cmp);
    if (st->n_operators)
        qsort(st->operators, st->n_operators, sizeof *st->operators, group_cmp);
    if (st->n_pairs)
        qsort(st->pairs, st->n_pairs, sizeof *st->pairs, pair_cmp);
    return 0;
fail:
    stats_release(st);
    return -1;
}

/* ---- the table, for gevo stats and the workbench ------------------------ */

static void header(strbuf *sb, const char *title, int w)
{
    w += 2; /* the rows are indented under it */
    strbuf_addf(sb, "\n%-*s %5s %5s %5s %5s %5s %5s %5s %5s %7s %5s %5s %9s %9s %8s %6s\n", w,
                title, "PROP", "VAL1", "REP", "FAIL", "APPR", "EDIT", "REJ", "TRND", "DVAL", "IMPR",
                "FRONT", "TOK_IN", "TOK_OUT", "COST", "LAT_S");
}

static void row_line(strbuf *sb, const char *name, int w, const stats_row *r)
{
    char dval[16] = "-", impr[16] = "-", lat[16] = "-";
    if (r->with_delta) {
        snprintf(dval, sizeof dval, "%+.4f", r->delta_sum / (double)r->with_delta);
        snprintf(impr, sizeof impr, "%.0f%%", 100.0 * (double)r->improved / (double)r->with_delta);
    }
    if (r->proposals)
        snprintf(lat, sizeof lat, "%.2f", r->latency_sum / (double)r->proposals);
    strbuf_addf(
        sb, "  %-*.*s %5ld %5ld %5ld %5ld %5ld %5ld %5ld %5ld %7s %5s %5ld %9ld %9ld %8.4f %6s\n",
        w, w, name, r->proposals, r->valid_first, r->repaired, r->failed, r->approved, r->edited,
        r->rejected, r->trained, dval, impr, r->front, r->tokens_in, r->tokens_out, r->cost_usd,
        lat);
}

static void groups(strbuf *sb, const char *title, const stats_group *g, size_t n, int w)
{
    header(sb, title, w);
    for (size_t i = 0; i < n; i++)
        row_line(sb, g[i].name[0] ? g[i].name : "-", w, &g[i].row);
}

int stats_format(const stats *st, strbuf *sb)
{
    const stats_row *t = &st->total;
    strbuf_addf(sb,
                "%ld proposals: %ld valid at the first answer, %ld repaired, %ld failed; "
                "improved means beyond %.4g (%s)\n",
                t->proposals, t->valid_first, t->repaired, t->failed, st->noise, st->noise_how);
    int w = 16;
    for (size_t i = 0; i < st->n_pairs; i++) {
        int l = (int)(strlen(st->pairs[i].model) + 3 + strlen(st->pairs[i].persona));
        if (l > w)
            w = l;
    }
    if (w > 48)
        w = 48; /* longer names are cut: --json has them whole */
    groups(sb, "PERSONA", st->personas, st->n_personas, w);
    groups(sb, "MODEL", st->models, st->n_models, w);
    groups(sb, "OPERATOR", st->operators, st->n_operators, w);
    header(sb, "MODEL / PERSONA", w);
    for (size_t i = 0; i < st->n_pairs; i++) {
        /* a long model name is cut, never the persona after it */
        char name[320];
        int keep = w - 3 - (int)strlen(st->pairs[i].persona);
        snprintf(name, sizeof name, "%.*s / %s", keep > 4 ? keep : 4, st->pairs[i].model,
                 st->pairs[i].persona);
        row_line(sb, name, w, &st->pairs[i].row);
    }
    header(sb, "TOTAL", w);
    row_line(sb, "all", w, t);
    return sb->failed ? -1 : 0;
}
