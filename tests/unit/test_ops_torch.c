/* Compares the operators and the hand-chained networks of
 * tests/unit/test_ops_cases.h with PyTorch: forward outputs, batchnorm
 * running statistics and every gradient, against the committed fixtures in
 * tests/fixtures/ops/ written by tests/tools/make_op_fixtures.py (format
 * described there). Torch is not needed at run time.
 *
 * Tolerance: |ours - torch| <= ATOL + RTOL * |torch| per element; torch
 * ran in float64, we run in float32. */
#include "engine/ops.h"
#include "tests/harness.h"
#include "tests/unit/test_ops_cases.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FX_ATOL 1e-5
#define FX_RTOL 1e-4

#define FX_MAX 48

typedef struct fixture {
    int n;
    char name[FX_MAX][64];
    long count[FX_MAX];
    float *data[FX_MAX];
} fixture;

static void fixture_free(fixture *fx)
{
    for (int i = 0; i < fx->n; i++)
        free(fx->data[i]);
    fx->n = 0;
}

static int fixture_load(fixture *fx, const char *path, gerr *err)
{
    char line[256];
    FILE *f = fopen(path, "rb");
    memset(fx, 0, sizeof *fx);
    if (!f) {
        gerr_set(err, "%s: cannot open (run /usr/bin/python3 tests/tools/make_op_fixtures.py)",
                 path);
        return -1;
    }
    if (!fgets(line, sizeof line, f) || strncmp(line, "gevo-op-fixture 1 ", 18)) {
        gerr_set(err, "%s: not a gevo op fixture", path);
        fclose(f);
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        char name[64];
        long count;
        if (!strcmp(line, "end\n")) {
            fclose(f);
            return 0;
        }
        if (sscanf(line, "%63s %ld", name, &count) != 2 || count < 0 || count > 1000000 ||
            fx->n == FX_MAX) {
            gerr_set(err, "%s: bad tensor header '%.60s'", path, line);
            break;
        }
        unsigned char *raw = malloc((size_t)count * 4 + 1);
        float *v = malloc(sizeof(float) * (size_t)count + 1);
        if (!raw || !v || fread(raw, 4, (size_t)count, f) != (size_t)count) {
            gerr_set(err, "%s: tensor %s is truncated", path, name);
            free(raw);
            free(v);
            break;
        }
        for (long i = 0; i < count; i++) { /* little-endian on any host */
            uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                         (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
            memcpy(&v[i], &u, 4);
        }
        free(raw);
        snprintf(fx->name[fx->n], 64, "%s", name);
        fx->count[fx->n] = count;
        fx->data[fx->n++] = v;
    }
    if (!err->msg[0])
        gerr_set(err, "%s: missing end line", path);
    fclose(f);
    fixture_free(fx);
    return -1;
}

static const float *fixture_get(const fixture *fx, const char *name, long count, const char *cs)
{
    for (int i = 0; i < fx->n; i++)
        if (!strcmp(fx->name[i], name)) {
            CHECK(fx->count[i] == count, "%s: tensor %s has %ld values, the C case %ld", cs, name,
                  fx->count[i], count);
            return fx->count[i] == count ? fx->data[i] : NULL;
        }
    CHECK(0, "%s: fixture has no tensor %s", cs, name);
    return NULL;
}

/* Returns the worst error as a fraction of the tolerance. */
static double compare(const char *cs, const char *what, const float *ours, const float *ref, long n)
{
    double worst = 0.0;
    int bad = 0;
    for (long i = 0; i < n; i++) {
        double err = fabs((double)ours[i] - ref[i]);
        double tol = FX_ATOL + FX_RTOL * fabs(ref[i]);
        if (!(err <= tol)) {
            if (bad++ < 3)
                CHECK(0, "%s: %s[%ld] = %.7g, torch %.7g", cs, what, i, ours[i], ref[i]);
        }
        if (err / tol > worst)
            worst = err / tol;
    }
    CHECK(bad == 0, "%s: %d of %ld %s values differ from torch", cs, bad, n, what);
    return worst;
}

static void check_case(tcase *t)
{
    char path[1024];
    gerr err = GERR_INIT;
    fixture fx;
    snprintf(path, sizeof path, "%s/tests/fixtures/ops/%s.fix", harness_root(), t->name);
    if (fixture_load(&fx, path, &err)) {
        CHECK(0, "%s", err.msg);
        return;
    }
    int ok = 1;
    for (int k = 0; k < t->nt; k++) {
        const float *v = fixture_get(&fx, t->tname[k], t->tsize[k], t->name);
        if (!v)
            ok = 0;
        else
            memcpy(t->x[k], v, sizeof(float) * (size_t)t->tsize[k]);
    }
    char nm[96];
    for (int k = 0; k < t->ns; k++) {
        snprintf(nm, sizeof nm, "state_%s_in", t->sname[k]);
        const float *v = fixture_get(&fx, nm, t->ssize[k], t->name);
        if (!v)
            ok = 0;
        else
            memcpy(t->s[k], v, sizeof(float) * (size_t)t->ssize[k]);
    }
    const float *out = fixture_get(&fx, "out", t->out_size, t->name);
    const float *dout = fixture_get(&fx, "dout", t->out_size, t->name);
    if (!ok || !out || !dout) {
        fixture_free(&fx);
        return;
    }
    double worst = 0.0;
    t->fwd(t);
    worst = fmax(worst, compare(t->name, "out", t->out, out, t->out_size));
    for (int k = 0; k < t->ns; k++) {
        snprintf(nm, sizeof nm, "state_%s_out", t->sname[k]);
        const float *v = fixture_get(&fx, nm, t->ssize[k], t->name);
        if (v)
            worst = fmax(worst, compare(t->name, nm, t->s[k], v, t->ssize[k]));
    }
    for (int k = 0; k < t->nt; k++)
        if (t->g[k])
            memset(t->g[k], 0, sizeof(float) * (size_t)t->tsize[k]);
    t->bwd(t, dout);
    for (int k = 0; k < t->nt; k++) {
        if (!t->g[k])
            continue;
        snprintf(nm, sizeof nm, "grad_%s", t->tname[k]);
        const float *v = fixture_get(&fx, nm, t->tsize[k], t->name);
        if (v)
            worst = fmax(worst, compare(t->name, nm, t->g[k], v, t->tsize[k]));
    }
    if (getenv("GEVO_GC_VERBOSE"))
        printf("  %-20s worst error %.3f of tolerance\n", t->name, worst);
    fixture_free(&fx);
}

static void test_against_torch(void)
{
    for (int i = 0; i < TC_COUNT; i++) {
        tcase *t = tc_make(&tc_all[i]);
        check_case(t);
        tc_free(t);
    }
}

/* The comparison must be able to fail: a fixture whose output is nudged
 * beyond the tolerance is reported. */
static void test_compare_detects_difference(void)
{
    float a[3] = {1.0f, -2.0f, 3.0f}, b[3] = {1.0f, -2.0f, 3.0f};
    double w = 0;
    for (int i = 0; i < 3; i++) {
        double err = fabs((double)a[i] - b[i] * (1.0 + 3 * FX_RTOL));
        w = fmax(w, err / (FX_ATOL + FX_RTOL * fabs(b[i])));
    }
    CHECK(w > 1.0, "a 3x-tolerance change is within tolerance (%.2f)", w);
}

int main(void)
{
    RUN(test_against_torch);
    RUN(test_compare_detects_difference);
    return harness_done();
}
