/* nsga2: fast non-dominated sort, crowding distance, selection and
 * tournaments (see nsga2.h). Objective values are turned into "smaller is
 * better" numbers once, so the sort compares plain doubles. */
#include "core/nsga2.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- objectives -------------------------------------------------------- */

static double get_val_acc(const nsga2_measure *m)
{
    return m->val_acc;
}
static double get_params(const nsga2_measure *m)
{
    return m->params;
}
static double get_flops(const nsga2_measure *m)
{
    return m->flops;
}
static double get_seconds(const nsga2_measure *m)
{
    return m->seconds;
}

static const nsga2_objective objective_table[] = {
    {"val_acc", NSGA2_MAXIMIZE, get_val_acc, "validation accuracy (maximise)"},
    {"params", NSGA2_MINIMIZE, get_params, "trainable parameters (minimise)"},
    {"flops", NSGA2_MINIMIZE, get_flops, "forward FLOPs per image (minimise)"},
    {"seconds", NSGA2_MINIMIZE, get_seconds, "training time in seconds (minimise)"},
};
#define N_OBJECTIVES ((int)(sizeof objective_table / sizeof *objective_table))

const nsga2_objective *nsga2_objective_find(const char *name)
{
    for (int i = 0; i < N_OBJECTIVES; i++)
        if (!strcmp(objective_table[i].name, name))
            return &objective_table[i];
    return NULL;
}

void nsga2_objectives_default(nsga2_objectives *objs)
{
    memset(objs, 0, sizeof *objs);
    objs->o[objs->n++] = nsga2_objective_find("val_acc");
    objs->o[objs->n++] = nsga2_objective_find("params");
}

int nsga2_objectives_parse(nsga2_objectives *objs, const char *spec, gerr *err)
{
    nsga2_objectives out = {0};
    const char *p = spec ? spec : "";
    char known[256] = "";
    for (int i = 0, l = 0; i < N_OBJECTIVES; i++)
        l += snprintf(known + l, sizeof known - (size_t)l, "%s%s", i ? ", " : "",
                      objective_table[i].name);
    for (;;) {
        while (*p == ' ')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        size_t len = (size_t)(t - p);
        if (len == 0) {
            gerr_set(err, "objectives '%s': empty name (a comma-separated list of: %s)",
                     spec ? spec : "", known);
            return -1;
        }
        char name[64];
        if (len >= sizeof name)
            len = sizeof name - 1;
        memcpy(name, p, len);
        name[len] = 0;
        const nsga2_objective *o = nsga2_objective_find(name);
        if (!o) {
            gerr_set(err, "unknown objective '%s' (known: %s)", name, known);
            return -1;
        }
        for (int i = 0; i < out.n; i++)
            if (out.o[i] == o) {
                gerr_set(err, "objective '%s' is listed twice", name);
                return -1;
            }
        if (out.n == NSGA2_MAX_OBJECTIVES) {
            gerr_set(err, "too many objectives (at most %d)", NSGA2_MAX_OBJECTIVES);
            return -1;
        }
        out.o[out.n++] = o;
        if (!*e)
            break;
        p = e + 1;
    }
    *objs = out;
    return 0;
}

/* ---- measures ---------------------------------------------------------- */

static double json_number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

int nsga2_measure_from_result(nsga2_measure *m, const char *text, gerr *err)
{
    memset(m, 0, sizeof *m);
    m->failed = true;
    m->val_acc = m->params = m->flops = m->seconds = NAN;
    json_error_t je;
    json_t *o = json_loads(text ? text : "", 0, &je);
    if (!o || !json_is_object(o)) {
        gerr_set(err, "not a training result: %s", o ? "not a JSON object" : je.text);
        json_decref(o);
        return -1;
    }
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!status) {
        gerr_set(err, "not a training result: no \"status\"");
        json_decref(o);
        return -1;
    }
    m->val_acc = json_number(o, "val_acc");
    m->params = json_number(o, "params");
    m->flops = json_number(o, "flops");
    m->seconds = json_number(o, "seconds");
    if (!strcmp(status, "ok"))
        m->failed = false;
    else if (!strcmp(status, "timeout") || !strcmp(status, "stopped"))
        m->failed = !isfinite(m->val_acc);
    else if (strcmp(status, "error") && strcmp(status, "diverged")) {
        gerr_set(err, "training result with an unknown status '%s'", status);
        json_decref(o);
        return -1;
    }
    json_decref(o);
    return 0;
}

/* ---- dominance ----------------------------------------------------------- */

/* Objective value as "smaller is better". */
static double cost(const nsga2_measure *m, const nsga2_objective *o)
{
    double v = o->get(m);
    return o->dir == NSGA2_MAXIMIZE ? -v : v;
}

static bool is_failed(const nsga2_measure *m, const nsga2_objectives *objs)
{
    if (m->failed)
        return true;
    for (int j = 0; j < objs->n; j++)
        if (!isfinite(objs->o[j]->get(m)))
            return true;
    return false;
}

/* a and b are rows of k costs */
static bool dominates_costs(const double *a, const double *b, int k)
{
    bool better = false;
    for (int j = 0; j < k; j++) {
        if (a[j] > b[j])
            return false;
        if (a[j] < b[j])
            better = true;
    }
    return better;
}

bool nsga2_dominates(const nsga2_measure *a, const nsga2_measure *b, const nsga2_objectives *objs)
{
    bool fa = is_failed(a, objs), fb = is_failed(b, objs);
    if (fa)
        return false;
    if (fb)
        return true;
    double ca[NSGA2_MAX_OBJECTIVES], cb[NSGA2_MAX_OBJECTIVES];
    for (int j = 0; j < objs->n; j++) {
        ca[j] = cost(a, objs->o[j]);
        cb[j] = cost(b, objs->o[j]);
    }
    return dominates_costs(ca, cb, objs->n);
}

/* ---- ranking ------------------------------------------------------------- */

typedef struct sort_ctx {
    const double *cost; /* n x k */
    int k, j;           /* row width, the objective sorted on */
    const double *crowding;
} sort_ctx;

static int cmp_by_cost(const void *pa, const void *pb, void *vctx)
{
    const sort_ctx *c = vctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    double x = c->cost[(size_t)a * (size_t)c->k + (size_t)c->j],
           y = c->cost[(size_t)b * (size_t)c->k + (size_t)c->j];
    if (x < y)
        return -1;
    if (x > y)
        return 1;
    return (a > b) - (a < b);
}

static int cmp_by_crowding(const void *pa, const void *pb, void *vctx)
{
    const sort_ctx *c = vctx;
    int a = *(const int *)pa, b = *(const int *)pb;
    double x = c->crowding[a], y = c->crowding[b];
    if (x > y)
        return -1; /* larger first */
    if (x < y)
        return 1;
    return (a > b) - (a < b);
}

static int check_objs(const nsga2_objectives *objs, gerr *err)
{
    if (!objs || objs->n < 1 || objs->n > NSGA2_MAX_OBJECTIVES) {
        gerr_set(err, "selection needs 1 to %d objectives, not %d", NSGA2_MAX_OBJECTIVES,
                 objs ? objs->n : 0);
        return -1;
    }
    for (int j = 0; j < objs->n; j++)
        if (!objs->o[j] || !objs->o[j]->get) {
            gerr_set(err, "objective %d is not set", j + 1);
            return -1;
        }
    return 0;
}

/* Crowding distances of front[0..s-1] (indices into cost rows). */
static void crowding_of_front(const int *front, int s, const double *costs, int k, double *crowding,
                              int *tmp)
{
    for (int i = 0; i < s; i++)
        crowding[front[i]] = 0;
    if (s <= 2) {
        for (int i = 0; i < s; i++)
            crowding[front[i]] = INFINITY;
        return;
    }
    sort_ctx c = {.cost = costs, .k = k};
    for (int j = 0; j < k; j++) {
        memcpy(tmp, front, sizeof *tmp * (size_t)s);
        c.j = j;
        qsort_r(tmp, (size_t)s, sizeof *tmp, cmp_by_cost, &c);
        double lo = costs[(size_t)tmp[0] * (size_t)k + (size_t)j];
        double hi = costs[(size_t)tmp[s - 1] * (size_t)k + (size_t)j];
        if (!(hi > lo))
            continue; /* no spread: nobody is an extreme */
        crowding[tmp[0]] = INFINITY;
        crowding[tmp[s - 1]] = INFINITY;
        for (int i = 1; i < s - 1; i++) {
            double prev = costs[(size_t)tmp[i - 1] * (size_t)k + (size_t)j];
            double next = costs[(size_t)tmp[i + 1] * (size_t)k + (size_t)j];
            crowding[tmp[i]] += (next - prev) / (hi - lo);
        }
    }
}

/* Every valid p that dominates a valid q: without dlist, counts them
 * (dstart[p + 1]: how many p dominates, count[q]: how many dominate q);
 * with dlist, writes q into p's list (CSR rows from dstart, fill[p] the
 * row's fill so far). */
static void dominance_pass(const double *costs, const bool *failed, int n, int k, size_t *dstart,
                           int *count, int *dlist, size_t *fill)
{
    for (int p = 0; p < n; p++) {
        if (failed[p])
            continue;
        for (int q = 0; q < n; q++) {
            if (q == p || failed[q] ||
                !dominates_costs(costs + (size_t)p * (size_t)k, costs + (size_t)q * (size_t)k, k))
                continue;
            if (dlist) {
                dlist[dstart[p] + fill[p]++] = q;
            } else {
                dstart[p + 1]++;
                count[q]++;
            }
        }
    }
}

void nsga2_ranking_release(nsga2_ranking *r)
{
    if (!r)
        return;
    free(r->rank);
    free(r->crowding);
    free(r->order);
    free(r->front_start);
    memset(r, 0, sizeof *r);
}

int nsga2_rank(nsga2_ranking *r, const nsga2_measure *m, int n, const nsga2_objectives *objs,
               gerr *err)
{
    memset(r, 0, sizeof *r);
    if (n < 0 || (n > 0 && !m)) {
        gerr_set(err, "selection: %d individuals", n);
        return -1;
    }
    if (check_objs(objs, err))
        return -1;
    int k = objs->n;
    size_t nn = n ? (size_t)n : 1;
    r->n = n;
    r->rank = calloc(nn, sizeof *r->rank);
    r->crowding = calloc(nn, sizeof *r->crowding);
    r->order = calloc(nn, sizeof *r->order);
    r->front_start = calloc(nn + 2, sizeof *r->front_start);
    double *costs = calloc(nn * (size_t)k, sizeof *costs);
    int *count = calloc(nn, sizeof *count);          /* how many dominate i */
    size_t *dstart = calloc(nn + 1, sizeof *dstart); /* CSR of "i dominates" lists */
    int *tmp = calloc(nn, sizeof *tmp);
    bool *failed = calloc(nn, sizeof *failed);
    int *dlist = NULL;
    int rc = -1;
    if (!r->rank || !r->crowding || !r->order || !r->front_start || !costs || !count || !dstart ||
        !tmp || !failed)
        goto oom;
    for (int i = 0; i < n; i++) {
        failed[i] = is_failed(&m[i], objs);
        for (int j = 0; j < k; j++)
            costs[(size_t)i * (size_t)k + (size_t)j] = cost(&m[i], objs->o[j]);
    }
    /* Pass 1 counts, pass 2 fills the lists of whom each one dominates. */
    dominance_pass(costs, failed, n, k, dstart, count, NULL, NULL);
    for (int p = 0; p < n; p++)
        dstart[p + 1] += dstart[p];
    size_t total = dstart[n];
    dlist = malloc((total ? total : 1) * sizeof *dlist);
    if (!dlist)
        goto oom;
    {
        size_t *fill = calloc(nn, sizeof *fill);
        if (!fill)
            goto oom;
        dominance_pass(costs, failed, n, k, dstart, NULL, dlist, fill);
        free(fill);
    }
    /* Peel the fronts: order[] receives each front's members in turn. */
    int placed = 0, f = 0;
    for (int i = 0; i < n; i++)
        if (!failed[i] && count[i] == 0)
            r->order[placed++] = i;
    int start = 0;
    while (start < placed) {
        int end = placed;
        r->front_start[f] = start;
        for (int a = start; a < end; a++) {
            int p = r->order[a];
            r->rank[p] = f;
            for (size_t e = dstart[p]; e < dstart[p + 1]; e++)
                if (--count[dlist[e]] == 0)
                    r->order[placed++] = dlist[e];
        }
        f++;
        start = end;
    }
    int n_valid = placed;
    if (n_valid < n) {
        r->front_start[f] = placed;
        for (int i = 0; i < n; i++)
            if (failed[i]) {
                r->rank[i] = f;
                r->order[placed++] = i;
            }
        f++;
    }
    r->n_fronts = f;
    r->front_start[f] = n;
    /* Crowding within each front, then each front sorted by it. */
    sort_ctx c = {.crowding = r->crowding};
    for (int fr = 0; fr < f; fr++) {
        int *front = r->order + r->front_start[fr];
        int s = r->front_start[fr + 1] - r->front_start[fr];
        if (r->front_start[fr] >= n_valid)
            for (int i = 0; i < s; i++)
                r->crowding[front[i]] = 0;
        else
            crowding_of_front(front, s, costs, k, r->crowding, tmp);
        qsort_r(front, (size_t)s, sizeof *front, cmp_by_crowding, &c);
    }
    rc = 0;
    goto done;
oom:
    gerr_set(err, "selection: out of memory ranking %d individuals", n);
    nsga2_ranking_release(r);
done:
    free(costs);
    free(count);
    free(dstart);
    free(dlist);
    free(tmp);
    free(failed);
    return rc;
}

int nsga2_select(const nsga2_ranking *r, int k, int *chosen)
{
    int c = k < r->n ? k : r->n;
    if (c < 0)
        c = 0;
    /* order[] is already by front, then crowding: its head is the choice */
    for (int i = 0; i < c; i++)
        chosen[i] = r->order[i];
    return c;
}

int nsga2_better(const nsga2_ranking *r, int a, int b)
{
    if (r->rank[a] != r->rank[b])
        return r->rank[a] < r->rank[b] ? a : b;
    if (r->crowding[a] != r->crowding[b])
        return r->crowding[a] > r->crowding[b] ? a : b;
    return a < b ? a : b;
}

/* ---- tournaments ---------------------------------------------------------- */

int nsga2_tournament(const nsga2_ranking *r, const int *pool, int n_pool, rng *g)
{
    if (!pool)
        n_pool = r->n;
    if (n_pool <= 0)
        return -1;
    int i = (int)rng_below(g, (uint64_t)n_pool);
    int a = pool ? pool[i] : i;
    if (n_pool == 1)
        return a;
    int j = (int)rng_below(g, (uint64_t)n_pool - 1);
    if (j >= i)
        j++;
    int b = pool ? pool[j] : j;
    return nsga2_better(r, a, b);
}

/* ---- Pareto front ------------------------------------------------------------ */

int nsga2_pareto_front(const nsga2_measure *m, int n, const nsga2_objectives *objs, int *front,
                       gerr *err)
{
    if (n < 0 || (n > 0 && !m)) {
        gerr_set(err, "Pareto front: %d individuals", n);
        return -1;
    }
    if (check_objs(objs, err))
        return -1;
    int c = 0;
    for (int i = 0; i < n; i++) {
        if (is_failed(&m[i], objs))
            continue;
        bool dominated = false;
        for (int q = 0; q < n && !dominated; q++)
            if (q != i && nsga2_dominates(&m[q], &m[i], objs))
                dominated = true;
        if (!dominated)
            front[c++] = i;
    }
    return c;
}
