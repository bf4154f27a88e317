/* The Winograd F(2x2, 3x3) path (engine/ops_winograd.c) against the
 * definition summed in double: forward (with and without bias), the input
 * gradient stored and accumulated, and the weight and bias gradients that
 * it also computes in the Winograd domain, and the bias gradient; odd map sizes (tiles cut by the
 * edge, rows of fewer tiles than a vector), padding 0, 1 and 2, batches
 * of one image up to 128 (several blocks per group of images). One and
 * two threads (every task split) give the same bits, nothing is written
 * past an output, and GEVO_NO_WINOGRAD=1 gives the column path's numbers
 * (other bits: the switch really switches). WINO_VERBOSE=1 prints the
 * errors. */
#include "engine/base/rng.h"
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "engine/ops_winograd.h"
#include "tests/harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CANARY   16
#define CANARY_V 1234.5f
/* Winograd's rounding: the transforms add up to nine inputs (and the
 * kernels' halves) before the products, a few ulps of the output's scale */
#define TOL      1e-5

typedef struct wcase {
    ops_conv c;
    float *x, *w, *b, *g;
    double *ref_o, *ref_dx, *ref_dw;
    size_t xs, os, ws;
} wcase;

static float *fill(rng *r, size_t n)
{
    float *p = malloc(sizeof(float) * (n + CANARY));
    for (size_t i = 0; i < n; i++)
        p[i] = rng_uniform_range(r, -1.0f, 1.0f);
    return p;
}

/* The definition, in double: out = x (*) w + b, dx and dw of sum(out * g). */
static void reference(wcase *t)
{
    const ops_conv *c = &t->c;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    t->ref_o = calloc(t->os, sizeof(double));
    t->ref_dx = calloc(t->xs, sizeof(double));
    t->ref_dw = calloc(t->ws, sizeof(double));
    for (int i = 0; i < c->n; i++)
        for (int co = 0; co < c->cout; co++)
            for (int oy = 0; oy < c->oh; oy++)
                for (int ox = 0; ox < c->ow; ox++) {
                    size_t oi = ((size_t)i * c->cout + co) * ohw + (size_t)oy * c->ow + ox;
                    double acc = c->bias ? t->b[co] : 0.0, gv = t->g[oi];
                    for (int ci = 0; ci < c->cin; ci++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int iy = oy + ki - c->pad_h, ix = ox + kj - c->pad_w;
                                if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                                    continue;
                                size_t xi =
                                    ((size_t)i * c->cin + ci) * ihw + (size_t)iy * c->w + ix;
                                size_t wi = (((size_t)co * c->cin + ci) * 3 + ki) * 3 + kj;
                                acc += (double)t->w[wi] * t->x[xi];
                                t->ref_dx[xi] += gv * t->w[wi];
                                t->ref_dw[wi] += gv * t->x[xi];
                            }
                    t->ref_o[oi] = acc;
                }
}

static bool setup(wcase *t, ops_conv c, uint64_t seed)
{
    gerr err = GERR_INIT;
    memset(t, 0, sizeof *t);
    c.kh = c.kw = 3;
    c.stride = c.dilation = c.groups = 1;
    if (ops_conv_init(&c, &err)) {
        CHECK(0, "%s", err.msg);
        return false;
    }
    t->c = c;
    t->xs = (size_t)c.n * c.cin * c.h * c.w;
    t->os = (size_t)c.n * c.cout * c.oh * c.ow;
    t->ws = (size_t)c.cout * c.cin * 9;
    rng r;
    rng_seed(&r, seed);
    t->x = fill(&r, t->xs);
    t->w = fill(&r, t->ws);
    t->b = fill(&r, (size_t)c.cout);
    t->g = fill(&r, t->os);
    reference(t);
    return true;
}

static void teardown(wcase *t)
{
    free(t->x), free(t->w), free(t->b), free(t->g);
    free(t->ref_o), free(t->ref_dx), free(t->ref_dw);
}

/* The largest |d[i] - ref[i]| over the largest |ref[i]|. */
static double rel_err(const float *d, const double *ref, size_t n)
{
    double worst = 0.0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        scale = fmax(scale, fabs(ref[i]));
        worst = fmax(worst, fabs(d[i] - ref[i]));
    }
    return worst / scale;
}

static bool canary_ok(const float *p, size_t n)
{
    for (int i = 0; i < CANARY; i++)
        if (p[n + i] != CANARY_V)
            return false;
    return true;
}

static float *canaried(size_t n, float v)
{
    float *p = malloc(sizeof(float) * (n + CANARY));
    for (size_t i = 0; i < n; i++)
        p[i] = v;
    for (int i = 0; i < CANARY; i++)
        p[n + i] = CANARY_V;
    return p;
}

/* One run of forward and backward (the input gradient stored over NaN,
 * then added to a prefill of 0.25): outputs in o, dx (stored), dxa
 * (added), dw, db. */
typedef struct wrun {
    float *o, *dx, *dxa, *dw, *db;
} wrun;

static void run(const wcase *t, wrun *r)
{
    const ops_conv *c = &t->c;
    float *scr = malloc(sizeof(float) * (ops_conv_scratch(c) + 1));
    r->o = canaried(t->os, NAN);
    r->dx = canaried(t->xs, NAN);
    r->dxa = canaried(t->xs, 0.25f);
    r->dw = canaried(t->ws, 0.0f);
    r->db = canaried((size_t)c->cout, 0.0f);
    ops_conv_forward(c, r->o, t->x, t->w, t->b, scr);
    ops_conv_backward(c, r->dx, r->dw, r->db, t->g, t->x, t->w, scr, false);
    ops_conv_backward(c, r->dxa, NULL, NULL, t->g, t->x, t->w, scr, true);
    free(scr);
}

static void run_free(wrun *r)
{
    free(r->o), free(r->dx), free(r->dxa), free(r->dw), free(r->db);
}

static bool same(const float *a, const float *b, size_t n)
{
    return !memcmp(a, b, sizeof(float) * n);
}

static const char *describe(const ops_conv *c)
{
    static char s[96];
    snprintf(s, sizeof s, "n %d, %d->%d, %dx%d pad %d,%d%s", c->n, c->cin, c->cout, c->h, c->w,
             c->pad_h, c->pad_w, c->bias ? ", bias" : "");
    return s;
}

static void check_case(ops_conv c, uint64_t seed)
{
    wcase t;
    if (!setup(&t, c, seed))
        return;
    const char *what = describe(&t.c);
    CHECK(ops_wino_fits(&t.c), "%s: not a Winograd shape", what);
    long saved = ops_par_min;
    unsetenv("GEVO_NO_WINOGRAD");
    wrun one, two, col;
    ops_set_threads(1);
    run(&t, &one);
    ops_set_threads(2);
    ops_par_min = 0;
    run(&t, &two);
    ops_par_min = saved;
    ops_set_threads(1);
    setenv("GEVO_NO_WINOGRAD", "1", 1);
    run(&t, &col);
    unsetenv("GEVO_NO_WINOGRAD");

    double eo = rel_err(one.o, t.ref_o, t.os), edx = rel_err(one.dx, t.ref_dx, t.xs);
    double edw = rel_err(one.dw, t.ref_dw, t.ws);
    for (size_t i = 0; i < t.xs; i++)
        one.dxa[i] -= 0.25f;
    double edxa = rel_err(one.dxa, t.ref_dx, t.xs);
    CHECK(eo < TOL, "%s: forward off the definition by %g of its scale", what, eo);
    CHECK(edx < TOL, "%s: input gradient off by %g", what, edx);
    CHECK(edxa < TOL, "%s: accumulated input gradient off by %g", what, edxa);
    CHECK(edw < TOL, "%s: weight gradient off by %g", what, edw);
    CHECK(canary_ok(one.o, t.os) && canary_ok(one.dx, t.xs) && canary_ok(one.dxa, t.xs),
          "%s: written past an output", what);
    for (size_t i = 0; i < t.xs; i++)
        two.dxa[i] -= 0.25f;
    CHECK(same(one.o, two.o, t.os) && same(one.dx, two.dx, t.xs) && same(one.dxa, two.dxa, t.xs) &&
              same(one.dw, two.dw, t.ws) && same(one.db, two.db, (size_t)c.cout),
          "%s: two threads give other bits than one", what);
    /* the column path: within the tolerance too, and (on enough work to
     * round somewhere) other bits; the bias gradient is the same one */
    CHECK(rel_err(col.o, t.ref_o, t.os) < TOL && rel_err(col.dw, t.ref_dw, t.ws) < TOL,
          "%s: column path off", what);
    CHECK(same(col.db, one.db, (size_t)c.cout), "%s: the bias gradient changed with the path",
          what);
    if (t.os > 4096)
        CHECK(!same(col.o, one.o, t.os) && !same(col.dx, one.dx, t.xs) &&
                  !same(col.dw, one.dw, t.ws),
              "%s: GEVO_NO_WINOGRAD=1 gave Winograd's bits", what);
    if (getenv("WINO_VERBOSE"))
        printf("  %s: forward %.2g, input gradient %.2g (added %.2g), weights %.2g\n", what, eo,
               edx, edxa, edw);
    run_free(&one), run_free(&two), run_free(&col);
    teardown(&t);
}

static void test_winograd_matches_definition(void)
{
    struct {
        int n, cin, cout, hw, pad;
    } cases[] = {
        {1, 16, 16, 14, 1}, {3, 17, 19, 13, 1}, {3, 16, 20, 7, 1},    {1, 18, 16, 5, 1},
        {3, 16, 17, 1, 1},  {3, 16, 16, 13, 0}, {1, 19, 16, 14, 0},   {3, 16, 18, 7, 0},
        {3, 17, 16, 5, 0},  {3, 16, 16, 5, 2},  {128, 16, 24, 14, 1}, {128, 16, 16, 7, 1},
        {5, 32, 64, 14, 1}, {2, 16, 16, 28, 1}, {9, 16, 16, 3, 1},    {4, 8, 8, 14, 1},
        {3, 8, 11, 9, 0},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ops_conv c = {.n = cases[k].n,
                      .cin = cases[k].cin,
                      .cout = cases[k].cout,
                      .h = cases[k].hw,
                      .w = cases[k].hw,
                      .pad_h = cases[k].pad,
                      .pad_w = cases[k].pad,
                      .bias = k % 2 == 0};
        check_case(c, 100 + k);
    }
    /* uneven padding and maps wider than high */
    check_case(
        (ops_conv){
            .n = 3, .cin = 16, .cout = 16, .h = 9, .w = 20, .pad_h = 0, .pad_w = 1, .bias = true},
        7);
    check_case((ops_conv){.n = 2, .cin = 16, .cout = 16, .h = 17, .w = 6, .pad_h = 2, .pad_w = 1},
               8);
}

/* The shapes outside the path keep the column path. */
static void test_winograd_fits(void)
{
    ops_conv ok = {.n = 2,
                   .cin = 16,
                   .cout = 16,
                   .h = 8,
                   .w = 8,
                   .kh = 3,
                   .kw = 3,
                   .stride = 1,
                   .pad_h = 1,
                   .pad_w = 1,
                   .dilation = 1,
                   .groups = 1};
    gerr err = GERR_INIT;
    CHECK(ops_conv_init(&ok, &err) == 0, "%s", err.msg);
    CHECK(ops_wino_fits(&ok), "a 16->16 3x3 convolution should take Winograd");
    ops_conv c8 = ok;
    c8.cin = c8.cout = 8;
    CHECK(ops_wino_fits(&c8), "an 8->8 one too");
    ops_conv c = ok;
    c.cin = 7;
    CHECK(!ops_wino_fits(&c), "7 input channels");
    c = ok, c.cout = 7;
    CHECK(!ops_wino_fits(&c), "7 output channels");
    c = ok, c.stride = 2;
    ops_conv_init(&c, &err);
    CHECK(!ops_wino_fits(&c), "stride 2");
    c = ok, c.groups = 2;
    CHECK(!ops_wino_fits(&c), "two groups");
    c = ok, c.pad_h = 3;
    ops_conv_init(&c, &err);
    CHECK(!ops_wino_fits(&c), "padding 3");
    c = ok, c.kh = c.kw = 5;
    ops_conv_init(&c, &err);
    CHECK(!ops_wino_fits(&c), "5x5 kernel");
    setenv("GEVO_NO_WINOGRAD", "1", 1);
    CHECK(!ops_wino_on(&ok), "GEVO_NO_WINOGRAD=1 should turn it off");
    setenv("GEVO_NO_WINOGRAD", "0", 1);
    CHECK(ops_wino_on(&ok), "GEVO_NO_WINOGRAD=0 should leave it on");
    unsetenv("GEVO_NO_WINOGRAD");
}

int main(void)
{
    RUN(test_winograd_fits);
    RUN(test_winograd_matches_definition);
    return harness_done();
}
