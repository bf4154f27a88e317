/* report: the seed paper's table from the confirm notes (see report.h). */
#include "core/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/confirm.h"
#include "core/noise.h"
#include "core/welch.h"

static void fill_row(report_row *r, const session_info *x, const confirm_info *c)
{
    memset(r, 0, sizeof *r);
    snprintf(r->id, sizeof r->id, "%s", x->id);
    r->params = isfinite(c->params) ? c->params : (double)x->params;
    r->flops = isfinite(c->flops) ? c->flops : x->flops;
    r->seeds = c->n;
    r->val_mean = c->val_mean;
    r->val_std = c->val_std;
    r->test_mean = c->test_mean;
    r->test_std = c->test_std;
    r->p = NAN;
    r->generation = x->generation;
    snprintf(r->op, sizeof r->op, "%s", x->op);
    snprintf(r->persona, sizeof r->persona, "%s", x->persona);
}

static void against_seed(report_row *r, const confirm_info *c, const report_row *seed,
                         const confirm_info *sc)
{
    r->delta_params_pct = seed->params > 0 ? 100 * (r->params - seed->params) / seed->params : NAN;
    r->delta_test = 100 * (r->test_mean - seed->test_mean);
    double t, df, p;
    if (welch_test(r->test_mean, r->test_std, c->n, seed->test_mean, seed->test_std, sc->n, &t, &df,
                   &p)) {
        r->p = p;
        r->beyond_noise = p < REPORT_P;
    }
}

/* Rows after the seed: L, M, then the rest by parameters (then id). */
static int rank_of(const report_row *r)
{
    return !strcmp(r->label, "L") || !strcmp(r->label, "L,M") ? 0 : !strcmp(r->label, "M") ? 1 : 2;
}

static int cmp_rows(const void *a, const void *b)
{
    const report_row *x = a, *y = b;
    int rx = rank_of(x), ry = rank_of(y);
    if (rx != ry)
        return rx - ry;
    if (x->params != y->params)
        return x->params < y->params ? -1 : 1;
    return strcmp(x->id, y->id);
}

int report_build(session *s, report *out, gerr *err)
{
    memset(out, 0, sizeof *out);
    if (noise_seed_id(s, out->seed, err))
        return -1;
    session_info *all = NULL;
    size_t na = 0;
    if (session_list(s, -1, &all, &na, err))
        return -1;
    out->rows = calloc(na + 1, sizeof *out->rows);
    confirm_info *ci = calloc(na + 1, sizeof *ci);
    int rc = -1;
    if (!out->rows || !ci) {
        gerr_set(err, "out of memory");
        goto done;
    }
    /* the seed first */
    confirm_info sc;
    size_t si = na;
    for (size_t i = 0; i < na; i++)
        if (!strcmp(all[i].id, out->seed))
            si = i;
    if (si == na || confirm_read(s, out->seed, &sc, err))
        goto done;
    if (!sc.present || sc.n == 0) {
        gerr_set(err, "the seed %s is not confirmed: run gevo confirm %s first", out->seed,
                 session_workdir(s));
        goto done;
    }
    out->images = sc.images;
    out->epochs = sc.epochs;
    fill_row(&out->rows[0], &all[si], &sc);
    snprintf(out->rows[0].label, sizeof out->rows[0].label, "seed");
    ci[0] = sc;
    out->n = 1;
    for (size_t i = 0; i < na; i++) {
        if (i == si)
            continue;
        confirm_info c;
        if (confirm_read(s, all[i].id, &c, err))
            goto done;
        if (!c.present || c.n == 0)
            continue;
        if (c.images != sc.images || c.epochs != sc.epochs) {
            out->skipped++;
            continue;
        }
        fill_row(&out->rows[out->n], &all[i], &c);
        ci[out->n++] = c;
    }
    const report_row *seed = &out->rows[0];
    int L = -1, M = -1;
    for (size_t i = 1; i < out->n; i++) {
        report_row *r = &out->rows[i];
        against_seed(r, &ci[i], seed, &sc);
        if (r->params <= seed->params &&
            (L < 0 || r->test_mean > out->rows[L].test_mean ||
             (r->test_mean == out->rows[L].test_mean && r->params < out->rows[L].params)))
            L = (int)i;
        if (r->test_mean >= seed->test_mean &&
            (M < 0 || r->params < out->rows[M].params ||
             (r->params == out->rows[M].params && r->test_mean > out->rows[M].test_mean)))
            M = (int)i;
    }
    out->rows[0].delta_params_pct = 0;
    if (L >= 0)
        snprintf(out->rows[L].label, sizeof out->rows[L].label, L == M ? "L,M" : "L");
    if (M >= 0 && M != L)
        snprintf(out->rows[M].label, sizeof out->rows[M].label, "M");
    if (out->n > 2)
        qsort(out->rows + 1, out->n - 1, sizeof *out->rows, cmp_rows);
    rc = 0;
done:
    free(all);
    free(ci);
    if (rc)
        report_release(out);
    return rc;
}

void report_release(report *r)
{
    free(r->rows);
    r->rows = NULL;
    r->n = 0;
}

void report_format_pm(char *buf, size_t size, double mean, double sd)
{
    if (!isfinite(mean))
        snprintf(buf, size, "-");
    else if (isfinite(sd))
        snprintf(buf, size, "%.2f ±%.2f", 100 * mean, 100 * sd);
    else
        snprintf(buf, size, "%.2f", 100 * mean);
}
