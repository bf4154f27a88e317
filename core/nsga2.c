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
static double val_acc_at(const nsga2_measure *m, int r)
{
    if (r == m->rung)
        return m->val_acc;
    return r >= 0 && r < m->rung && r < NSGA2_MAX_RUNGS ? m->rung_acc[r] : NAN;
}
static double seconds_at(const nsga2_measure *m, int r)
{
    if (r == m->rung)
        return m->seconds;
    return r >= 0 && r < m->rung && r < NSGA2_MAX_RUNGS ? m->rung_seconds[r] : NAN;
}

static const nsga2_objective objective_table[] = {
    {"val_acc", NSGA2_MAXIMIZE, get_val_acc, "validation accuracy (maximise)", val_acc_at},
    {"params", NSGA2_MINIMIZE, get_params, "trainable parameters (minimise)", NULL},
    {"flops", NSGA2_MINIMIZE, get_flops, "forward FLOPs per image (minimise)", NULL},
    {"seconds", NSGA2_MINIMIZE, get_seconds, "training time in seconds (minimise)", seconds_at},
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

int nsga2_objectives_tolerance(nsga2_objectives *objs, const char *name, double tol)
{
    if (!(tol >= 0) || !isfinite(tol))
        return -1;
    for (int j = 0; j < objs->n; j++)
        if (!strcmp(objs->o[j]->name, name)) {
            objs->tol[j] = tol;
            return 0;
        }
    return 1;
}

/* ---- measures ---------------------------------------------------------- */

static double json_number(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The per-rung numbers of a promoted result: its "rungs" summaries, the
 * ok ones (a failed promotion leaves its rung unmeasured). */
static int read_rungs(nsga2_measure *m, json_t *o, gerr *err)
{
    json_t *jr = json_object_get(o, "rung");
    if (!jr)
        return 0;
    json_int_t top = json_is_integer(jr) ? json_integer_value(jr) : -1;
    if (top < 0 || top >= NSGA2_MAX_RUNGS)
        return gerr_set(err, "training result: \"rung\" must be an integer from 0 to %d",
                        NSGA2_MAX_RUNGS - 1);
    m->rung = (int)top;
    for (int r = 0; r < NSGA2_MAX_RUNGS; r++)
        m->rung_acc[r] = m->rung_seconds[r] = NAN;
    size_t i;
    json_t *e;
    json_array_foreach(json_object_get(o, "rungs"), i, e)
    {
        json_t *rv = json_object_get(e, "rung");
        const char *st = json_string_value(json_object_get(e, "status"));
        if (!json_is_integer(rv) || json_integer_value(rv) < 0 || json_integer_value(rv) >= top ||
            !st || strcmp(st, "ok"))
            continue;
        int r = (int)json_integer_value(rv);
        m->rung_acc[r] = json_number(e, "val_acc");
        m->rung_seconds[r] = json_number(e, "seconds");
    }
    return 0;
}

int nsga2_measure_from_json(nsga2_measure *m, json_t *o, gerr *err)
{
    memset(m, 0, sizeof *m);
    m->failed = true;
    m->val_acc = m->params = m->flops = m->seconds = NAN;
    if (!json_is_object(o))
        return gerr_set(err, "not a training result: not a JSON object");
    const char *status = json_string_value(json_object_get(o, "status"));
    if (!status)
        return gerr_set(err, "not a training result: no \"status\"");
    m->val_acc = json_number(o, "val_acc");
    m->params = json_number(o, "params");
    m->flops = json_number(o, "flops");
    m->seconds = json_number(o, "seconds");
    if (!strcmp(status, "ok"))
        m->failed = false;
    else if (!strcmp(status, "timeout") || !strcmp(status, "stopped"))
        m->failed = !isfinite(m->val_acc);
    else if (strcmp(status, "error") && strcmp(status, "diverged"))
        return gerr_set(err, "training result with an unknown status '%s'", status);
    if (read_rungs(m, o, err)) {
        m->failed = true;
        return -1;
    }
    return 0;
}

int nsga2_measure_from_result(nsga2_measure *m, const char *text, gerr *err)
{
    json_error_t je;
    json_t *o = json_loads(text ? text : "", 0, &je);
    if (!o) {
        nsga2_measure_from_json(m, NULL, NULL);
        return gerr_set(err, "not a training result: %s", je.text);
    }
    int rc = nsga2_measure_from_json(m, o, err);
    json_decref(o);
    return rc;
}

nsga2_measure nsga2_measure_at(const nsga2_measure *m, int r)
{
    nsga2_measure x = *m;
    x.rung = 0;
    x.val_acc = val_acc_at(m, r);
    x.seconds = seconds_at(m, r);
    if (!isfinite(x.val_acc))
        x.failed = true;
    return x;
}

int nsga2_common_rung(const nsga2_measure *a, const nsga2_measure *b)
{
    int top = a->rung < b->rung ? a->rung : b->rung;
    for (int r = top; r >= 0; r--)
        if (isfinite(val_acc_at(a, r)) && isfinite(val_acc_at(b, r)))
            return r;
    return -1;
}

/* ---- dominance ----------------------------------------------------------- */

/* Objective o's value of m at rung r as "smaller is better". */
static double cost_at(const nsga2_measure *m, const nsga2_objective *o, int r)
{
    double v = o->get_at ? o->get_at(m, r) : o->get(m);
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

/* The rungs a and b are compared on: the highest both have, else each
 * its own. */
static void pair_rungs(const nsga2_measure *a, const nsga2_measure *b, int *ra, int *rb)
{
    int r = nsga2_common_rung(a, b);
    *ra = r >= 0 ? r : a->rung;
    *rb = r >= 0 ? r : b->rung;
}

/* a and b are rows of k costs; tol the tolerance of each */
static bool dominates_costs(const double *a, const double *b, const double *tol, int k)
{
    bool better = false;
    for (int j = 0; j < k; j++) {
        if (a[j] > b[j] + tol[j])
            return false;
        if (a[j] < b[j] - tol[j])
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
    int ra, rb;
    pair_rungs(a, b, &ra, &rb);
    double ca[NSGA2_MAX_OBJECTIVES], cb[NSGA2_MAX_OBJECTIVES];
    for (int j = 0; j < objs->n; j++) {
        ca[j] = cost_at(a, objs->o[j], ra);
        cb[j] = cost_at(b, objs->o[j], rb);
    }
    return dominates_costs(ca, cb, objs->tol, objs->n);
}

int nsga2_compare_acc(const nsga2_measure *a, const nsga2_measure *b)
{
    bool fa = a->failed || !isfinite(a->val_acc), fb = b->failed || !isfinite(b->val_acc);
    if (fa || fb)
        return fa == fb ? 0 : fa ? -1 : 1;
    int ra, rb;
    pair_rungs(a, b, &ra, &rb);
    double x = val_acc_at(a, ra), y = val_acc_at(b, rb);
    return (x > y) - (x < y);
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

/* The costs of the members of a front at the highest rung they all have
 * (each member's own highest where it lacks that one), into costs (n x k). */
static void front_costs(const int *front, int s, const nsga2_measure *m,
                        const nsga2_objectives *objs, double *costs)
{
    int r = NSGA2_MAX_RUNGS;
    for (int i = 0; i < s; i++)
        if (m[front[i]].rung < r)
            r = m[front[i]].rung;
    for (int i = 0; i < s; i++) {
        const nsga2_measure *x = &m[front[i]];
        int ri = isfinite(val_acc_at(x, r)) ? r : x->rung;
        for (int j = 0; j < objs->n; j++)
            costs[(size_t)front[i] * (size_t)objs->n + (size_t)j] = cost_at(x, objs->o[j], ri);
    }
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
static void dominance_pass(const nsga2_measure *m, const bool *failed, int n,
                           const nsga2_objectives *objs, size_t *dstart, int *count, int *dlist,
                           size_t *fill)
{
    for (int p = 0; p < n; p++) {
        if (failed[p])
            continue;
        for (int q = 0; q < n; q++) {
            if (q == p || failed[q] || !nsga2_dominates(&m[p], &m[q], objs))
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
    free(r->crowding); /* the one block of all four arrays */
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
    /* one block (kann's slab): the doubles first, then rank, order and
       front_start, nn + nn + nn + 2 ints */
    r->crowding = calloc(1, nn * sizeof *r->crowding + (3 * nn + 2) * sizeof(int));
    if (r->crowding) {
        r->rank = (int *)(r->crowding + nn);
        r->order = r->rank + nn;
        r->front_start = r->order + nn;
    }
    double *costs = calloc(nn * (size_t)k, sizeof *costs);
    int *count = calloc(nn, sizeof *count);          /* how many dominate i */
    size_t *dstart = calloc(nn + 1, sizeof *dstart); /* CSR of "i dominates" lists */
    int *tmp = calloc(nn, sizeof *tmp);
    bool *failed = calloc(nn, sizeof *failed);
    bool *placed_in = calloc(nn, sizeof *placed_in);
    int *dlist = NULL;
    int rc = -1;
    if (!r->rank || !r->crowding || !r->order || !r->front_start || !costs || !count || !dstart ||
        !tmp || !failed || !placed_in)
        goto oom;
    int n_valid = 0;
    for (int i = 0; i < n; i++) {
        failed[i] = is_failed(&m[i], objs);
        n_valid += !failed[i];
    }
    /* Pass 1 counts, pass 2 fills the lists of whom each one dominates. */
    dominance_pass(m, failed, n, objs, dstart, count, NULL, NULL);
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
        dominance_pass(m, failed, n, objs, dstart, NULL, dlist, fill);
        free(fill);
    }
    /* Peel the fronts: order[] receives each front's members in turn. */
    int placed = 0, f = 0;
    for (int i = 0; i < n; i++)
        if (!failed[i] && count[i] == 0) {
            r->order[placed++] = i;
            placed_in[i] = true;
        }
    int start = 0;
    for (;;) {
        if (start == placed && placed < n_valid) {
            /* a cycle (comparisons on different rungs): those of it with
               the fewest dominators left are the next front */
            int least = -1;
            for (int i = 0; i < n; i++)
                if (!failed[i] && !placed_in[i] && (least < 0 || count[i] < least))
                    least = count[i];
            for (int i = 0; i < n; i++)
                if (!failed[i] && !placed_in[i] && count[i] == least) {
                    r->order[placed++] = i;
                    placed_in[i] = true;
                }
        }
        if (start == placed)
            break;
        int end = placed;
        r->front_start[f] = start;
        for (int a = start; a < end; a++) {
            int p = r->order[a];
            r->rank[p] = f;
            for (size_t e = dstart[p]; e < dstart[p + 1]; e++) {
                int q = dlist[e];
                if (--count[q] == 0 && !placed_in[q]) {
                    r->order[placed++] = q;
                    placed_in[q] = true;
                }
            }
        }
        f++;
        start = end;
    }
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
        if (r->front_start[fr] >= n_valid) {
            for (int i = 0; i < s; i++)
                r->crowding[front[i]] = 0;
        } else {
            front_costs(front, s, m, objs, costs);
            crowding_of_front(front, s, costs, k, r->crowding, tmp);
        }
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
    free(placed_in);
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
