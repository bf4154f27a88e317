/* Per-element central-difference gradient checks for every operator's
 * backward and for small networks chained by hand (tests/unit/
 * test_ops_cases.h), plus the operators' argument checks, output-size rules,
 * dropout statistics and weight initialisation.
 *
 * The check: loss = sum(out * R) for fixed random R, computed in double
 * from float forwards; every element of every input and parameter is
 * moved by +-H and (L+ - L-) / 2H is compared with the analytic gradient:
 * |num - ana| <= ATOL + RTOL * max(|num|, |ana|). Gradients are pre-filled
 * with a constant before backward, which also proves backward accumulates.
 * Inputs are kept away from kinks (relu at 0, hardswish at +-3, ties of
 * max/min pooling) by more than H so the finite difference is valid. */
#include "engine/init.h"
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "tests/harness.h"
#include "tests/unit/test_ops_cases.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GC_H       1e-2
#define GC_H_NET   1e-3 /* composites: fewer kinks within reach */
#define GC_ATOL    2e-3
#define GC_RTOL    1e-2
#define GC_PREFILL 0.25f

static double loss_of(tcase *t, const float *r)
{
    t->fwd(t);
    double l = 0.0;
    for (long i = 0; i < t->out_size; i++)
        l += (double)t->out[i] * r[i];
    return l;
}

/* Returns the number of elements whose gradient disagrees; reports the
 * first few through CHECK unless quiet. */
static int gradcheck(tcase *t, uint64_t seed, bool quiet, double *max_err, double h)
{
    rng rr;
    rng_seed(&rr, seed ^ 0x5eedULL);
    float *r = malloc(sizeof(float) * (size_t)t->out_size);
    for (long i = 0; i < t->out_size; i++)
        r[i] = rng_uniform_range(&rr, -1.0f, 1.0f);

    t->fwd(t);
    for (int k = 0; k < t->nt; k++)
        if (t->g[k])
            for (long i = 0; i < t->tsize[k]; i++)
                t->g[k][i] = GC_PREFILL;
    t->bwd(t, r);
    for (int k = 0; k < t->nt; k++)
        if (t->g[k])
            for (long i = 0; i < t->tsize[k]; i++)
                t->g[k][i] -= GC_PREFILL;

    int bad = 0;
    *max_err = 0.0;
    for (int k = 0; k < t->nt; k++) {
        if (!t->g[k])
            continue;
        for (long i = 0; i < t->tsize[k]; i++) {
            float v = t->x[k][i];
            t->x[k][i] = (float)(v + h);
            double lp = loss_of(t, r);
            t->x[k][i] = (float)(v - h);
            double lm = loss_of(t, r);
            t->x[k][i] = v;
            double num = (lp - lm) / (2.0 * h), ana = t->g[k][i];
            double err = fabs(num - ana);
            double tol = GC_ATOL + GC_RTOL * fmax(fabs(num), fabs(ana));
            if (err / tol > *max_err)
                *max_err = err / tol;
            if (err > tol) {
                if (!quiet && bad < 5)
                    CHECK(0, "%s: d/d%s[%ld]: numeric %.6f, analytic %.6f", t->name, t->tname[k], i,
                          num, ana);
                bad++;
            }
        }
    }
    free(r);
    return bad;
}

/* Distinct values spaced more than 2H apart, shuffled: no ties, and no
 * perturbation can change which element of a window is largest. */
static void fill_distinct(float *x, long n, float spacing, rng *r)
{
    for (long i = 0; i < n; i++)
        x[i] = (float)(i - n / 2) * spacing;
    for (long i = n - 1; i > 0; i--) {
        long j = (long)rng_below(r, (uint64_t)i + 1);
        float s = x[i];
        x[i] = x[j];
        x[j] = s;
    }
}

static void away_from(float *x, long n, float kink, float margin)
{
    for (long i = 0; i < n; i++) {
        float d = x[i] - kink;
        if (fabsf(d) < margin)
            x[i] = kink + (d < 0 ? -margin : margin) * 2.0f;
    }
}

/* Values that suit each case, beyond uniform(-1, 1). */
static void prepare(tcase *t, uint64_t seed)
{
    rng r;
    tc_fill(t, seed);
    rng_seed(&r, seed + 1);
    for (int k = 0; k < t->nt; k++) {
        if (!strcmp(t->tname[k], "mask")) {
            float keep = 1.0f - 0.3f;
            for (long i = 0; i < t->tsize[k]; i++)
                t->x[k][i] = rng_uniform(&r) < keep ? 1.0f / keep : 0.0f;
        } else if (!strcmp(t->tname[k], "labels")) {
            for (long i = 0; i < t->tsize[k]; i++)
                t->x[k][i] = (float)rng_below(&r, (uint64_t)t->k);
        }
    }
    if (!strcmp(t->name, "relu"))
        away_from(t->x[0], t->tsize[0], 0.0f, 0.05f);
    if (!strcmp(t->name, "hswish")) {
        for (long i = 0; i < t->tsize[0]; i++)
            t->x[0][i] = rng_uniform_range(&r, -4.5f, 4.5f);
        away_from(t->x[0], t->tsize[0], -3.0f, 0.05f);
        away_from(t->x[0], t->tsize[0], 3.0f, 0.05f);
    }
    if (!strcmp(t->name, "tanh") || !strcmp(t->name, "sigmoid") || !strcmp(t->name, "gelu") ||
        !strcmp(t->name, "silu"))
        for (long i = 0; i < t->tsize[0]; i++)
            t->x[0][i] *= 3.0f;
    if (strstr(t->name, "pool"))
        fill_distinct(t->x[0], t->tsize[0], 5 * GC_H, &r);
    if (!strcmp(t->name, "catnet"))
        fill_distinct(t->x[0], t->tsize[0], 5 * GC_H_NET, &r);
    if (!strcmp(t->name, "bn_eval") || !strcmp(t->name, "bn_silu_eval_fused"))
        for (int c = 0; c < t->bn[0].c; c++) {
            t->s[0][c] = rng_uniform_range(&r, -0.5f, 0.5f);
            t->s[1][c] = rng_uniform_range(&r, 0.5f, 1.5f);
        }
}

static void test_gradients(void)
{
    for (int i = 0; i < TC_COUNT; i++) {
        tcase *t = tc_make(&tc_all[i]);
        double max_err;
        prepare(t, 1000 + (uint64_t)i);
        long n = 0;
        for (int k = 0; k < t->nt; k++)
            if (t->g[k])
                n += t->tsize[k];
        int bad = gradcheck(t, 77 + (uint64_t)i, false, &max_err, t->buf[0] ? GC_H_NET : GC_H);
        CHECK(bad == 0, "%s: %d of %ld gradient elements disagree", t->name, bad, n);
        if (getenv("GEVO_GC_VERBOSE"))
            printf("  %-20s %5ld elements, worst error %.3f of tolerance\n", t->name, n, max_err);
        tc_free(t);
    }
}

/* The checker itself must catch a wrong backward: linear with one weight
 * gradient off by 0.05, and a backward that overwrites instead of adding. */
static void bad_bwd_offset(tcase *t, const float *dout)
{
    linear_bwd(t, dout);
    t->g[1][3] += 0.05f;
}
static void bad_bwd_overwrite(tcase *t, const float *dout)
{
    memset(t->g[2], 0, sizeof(float) * 4);
    linear_bwd(t, dout);
}
static void test_checker_catches_errors(void)
{
    double e;
    tcase *t = tc_make(tc_find(tc_all, TC_COUNT, "linear"));
    prepare(t, 5);
    CHECK_EQ_INT(gradcheck(t, 6, true, &e, GC_H), 0);
    t->bwd = bad_bwd_offset;
    CHECK_EQ_INT(gradcheck(t, 6, true, &e, GC_H), 1);
    t->bwd = bad_bwd_overwrite;
    CHECK_EQ_INT(gradcheck(t, 6, true, &e, GC_H), 4);
    tc_free(t);
}

static void test_pool_output_sizes(void)
{
    /* h, k, s, pad, ceil -> expected (PyTorch) */
    // clang-format off
    static const int cases[][6] = {
        {7, 3, 2, 1, 1, 4}, {7, 3, 2, 1, 0, 4}, {5, 2, 2, 0, 1, 3}, {5, 2, 2, 0, 0, 2},
        {5, 3, 3, 1, 1, 2}, {6, 3, 2, 0, 1, 3}, {6, 3, 2, 0, 0, 2}, {1, 1, 1, 0, 1, 1},
        {28, 2, 2, 0, 1, 14}, {7, 2, 3, 1, 1, 3},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int *c = cases[i];
        gerr err = GERR_INIT;
        ops_pool p = TC_POOL(OPS_POOL_MAX, 1, 1, c[0], c[0], c[1], c[2], c[3], c[4]);
        CHECK(ops_pool_init(&p, &err) == 0, "case %zu: %s", i, err.msg);
        CHECK(p.oh == c[5] && p.ow == c[5],
              "case %zu: h=%d k=%d s=%d pad=%d ceil=%d: %d, expected %d", i, c[0], c[1], c[2], c[3],
              c[4], p.oh, c[5]);
    }
}

/* The paths are taken where the brief says: depthwise needs its padded
 * planes (or, on small maps, its rows across channels); 1x1 (no
 * columns) and the general path need per-thread memory for the weight
 * gradient (and the columns). Their
 * numbers are checked by the gradient and torch tests of the same cases. */
static void test_conv_paths(void)
{
    // clang-format off
    struct { const char *name; bool general; } cases[] = {
        {"conv_1x1", true}, {"conv_1x1_grouped", true}, {"conv_depthwise", true},
        {"conv_depthwise_dil", true}, {"conv_general", true}, {"conv_strided_1x1", true},
        {"conv_3x3", true},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tcase *t = tc_make(tc_find(tc_all, TC_COUNT, cases[i].name));
        size_t s = ops_conv_scratch(&t->conv[0]);
        CHECK((s > 0) == cases[i].general, "%s: scratch %zu floats", t->name, s);
        tc_free(t);
    }
}

static void test_bad_arguments(void)
{
    gerr err = GERR_INIT;
    ops_conv c = TC_CONV(1, 6, 5, 5, 4, 3, 3, 1, 0, 0, 1, 4, false);
    CHECK_EQ_INT(ops_conv_init(&c, &err), -1);
    CHECK(strstr(err.msg, "groups=4") != NULL, "message: %s", err.msg);
    c.groups = 2;
    c.kh = 7;
    CHECK_EQ_INT(ops_conv_init(&c, &err), -1);
    CHECK(strstr(err.msg, "does not fit") != NULL, "message: %s", err.msg);
    c.kh = 3;
    c.stride = 0;
    CHECK_EQ_INT(ops_conv_init(&c, &err), -1);
    c.stride = 1;
    CHECK_EQ_INT(ops_conv_init(&c, &err), 0);
    CHECK_EQ_INT(c.oh, 3);

    ops_pool p = TC_POOL(OPS_POOL_AVG, 1, 1, 5, 5, 2, 2, 0, false);
    p.pad_h = 2;
    CHECK_EQ_INT(ops_pool_init(&p, &err), -1);
    CHECK(strstr(err.msg, "avgpool") && strstr(err.msg, "half the kernel"), "message: %s", err.msg);
    p.pad_h = 0;
    p.kh = 6;
    CHECK_EQ_INT(ops_pool_init(&p, &err), -1);

    ops_bn b = {.n = 1, .c = 3, .hw = 1, .eps = 1e-5f, .momentum = 0.1f, .training = true};
    CHECK_EQ_INT(ops_bn_init(&b, &err), -1);
    CHECK(strstr(err.msg, "more than one value") != NULL, "message: %s", err.msg);
    b.training = false;
    CHECK_EQ_INT(ops_bn_init(&b, &err), 0);
    b.momentum = 2.0f;
    CHECK_EQ_INT(ops_bn_init(&b, &err), -1);
    ops_ln l = {.n = 1, .c = 3, .hw = 1, .eps = 0.0f};
    CHECK_EQ_INT(ops_ln_init(&l, &err), -1);

    float logits[6] = {0}, loss = -1.0f;
    int labels[2] = {1, 3}, correct = -1;
    CHECK_EQ_INT(ops_xent(&loss, &correct, NULL, logits, labels, 2, 3, 0.0f, &err), -1);
    CHECK(strstr(err.msg, "label 3") != NULL, "message: %s", err.msg);
    labels[1] = 2;
    CHECK_EQ_INT(ops_xent(&loss, &correct, NULL, logits, labels, 2, 3, 1.5f, &err), -1);
    CHECK_EQ_INT(ops_xent(&loss, &correct, NULL, logits, labels, 2, 3, 0.0f, &err), 0);
    CHECK(fabsf(loss - logf(3.0f)) < 1e-6f, "uniform logits: loss %f, expected log 3", loss);
}

static void test_xent_counts_correct(void)
{
    gerr err = GERR_INIT;
    float logits[12] = {2, 1, 0, 0, 0, 5, 1, 1, 0, -1, 3, 3}, loss, d[12];
    int labels[4] = {0, 1, 1, 2}, correct;
    CHECK_EQ_INT(ops_xent(&loss, &correct, d, logits, labels, 4, 3, 0.2f, &err), 0);
    /* argmax: 0, 2, 0 (first of a tie), 1 (first of a tie) */
    CHECK_EQ_INT(correct, 1);
    for (int i = 0; i < 4; i++) {
        double s = 0;
        for (int j = 0; j < 3; j++)
            s += d[i * 3 + j];
        CHECK(fabs(s) < 1e-6, "gradient row %d sums to %g, expected 0", i, s);
    }
}

static void test_dropout(void)
{
    enum {
        N = 100000
    };
    float *x = malloc(sizeof(float) * N), *y = malloc(sizeof(float) * N);
    float *m = malloc(sizeof(float) * ops_dropout_scratch(N)), *d = calloc(N, sizeof(float));
    rng r;
    for (int i = 0; i < N; i++)
        x[i] = 1.0f + (float)(i % 7);
    rng_seed(&r, 42);
    ops_dropout_forward(y, x, N, 0.25f, true, &r, m);
    long kept = 0;
    int wrong = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] != 0.0f) {
            kept++;
            if (fabsf(y[i] - x[i] / 0.75f) > 1e-5f * y[i])
                wrong++;
        }
    }
    CHECK(labs(kept - 75000) < 1000, "kept %ld of %d at p=0.25", kept, N);
    CHECK_EQ_INT(wrong, 0);
    /* the same seed gives the same mask */
    float *y2 = malloc(sizeof(float) * N);
    rng_seed(&r, 42);
    ops_dropout_forward(y2, x, N, 0.25f, true, &r, m);
    CHECK(memcmp(y, y2, sizeof(float) * N) == 0, "same seed, different masks");
    /* backward routes through the mask */
    for (int i = 0; i < N; i++)
        d[i] = 0.0f;
    ops_dropout_backward(d, x, N, true, m, true);
    for (int i = 0; i < N; i++)
        if (d[i] != y2[i]) {
            CHECK(0, "backward %d: %f, expected %f", i, d[i], y2[i]);
            break;
        }
    ops_dropout_forward(y, x, N, 0.25f, false, &r, m);
    CHECK(memcmp(y, x, sizeof(float) * N) == 0, "eval dropout is not the identity");
    ops_dropout_forward(y, x, N, 1.0f, true, &r, m);
    int nz = 0;
    for (int i = 0; i < N; i++)
        nz += y[i] != 0.0f;
    CHECK_EQ_INT(nz, 0);
    ops_dropout_forward(y, x, N, 0.0f, true, &r, m);
    CHECK(memcmp(y, x, sizeof(float) * N) == 0, "p=0 dropout is not the identity");
    free(x), free(y), free(y2), free(m), free(d);
}

/* Weight initialisation (the generator itself: test_base). */
static void test_init(void)
{
    rng a;
    rng_seed(&a, 7);
    /* PyTorch's default init: uniform(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
    float w[4096];
    rng_init_fan_in(&a, w, 4096, 16 * 9);
    float bound = 1.0f / 12.0f, mx = 0;
    for (int i = 0; i < 4096; i++)
        mx = fmaxf(mx, fabsf(w[i]));
    CHECK(mx <= bound && mx > 0.95f * bound, "init max |w| %f, bound %f", mx, bound);
    rng_init_const(w, 10, 1.0f);
    CHECK(w[0] == 1.0f && w[9] == 1.0f, "const init");
}

/* ---- the speed paths ----------------------------------------------------
 * (their rows are in speed_cases below) */

/* batchnorm computing the activation after it (ops_bn.fuse_act): the
 * activation's gradient goes through buf[0] on its way to x */
static void bn_act_fwd(tcase *t)
{
    ops_bn_forward(&t->bn[0], t->out, t->x[0], t->x[1], t->x[2], t->s[0], t->s[1], t->scr[0]);
}
static void bn_act_bwd(tcase *t, const float *dout)
{
    ops_bn_act_backward(&t->bn[0], t->g[0], t->g[1], t->g[2], t->dbuf[0], dout, t->x[0], t->x[1],
                        t->x[2], t->scr[0], tc_accumulate);
}
static tcase *mk_bn_act(const tc_spec *s)
{
    tcase *t = mk_bn(s);
    t->bn[0].fuse_act = true;
    t->bn[0].act = s->act;
    t->dbuf[0] = tc_alloc(t, t->out_size);
    t->fwd = bn_act_fwd;
    t->bwd = bn_act_bwd;
    return t;
}

/* linear over a batch and outputs that engine/ops_conv.c cuts in two
 * chunks of rows each (the second ending in a partial group of 12): n
 * images of 3 features into 121 outputs */
static tcase *mk_linear_chunks(const tc_spec *s)
{
    tcase *t = tc_from(s);
    t->in_f = 3, t->out_f = 121;
    tc_tensor(t, "x", (long)t->n * t->in_f, true);
    tc_tensor(t, "w", (long)t->out_f * t->in_f, true);
    tc_tensor(t, "b", t->out_f, true);
    tc_output(t, (long)t->n * t->out_f, linear_fwd, linear_bwd);
    return t;
}

/* The speed paths' cases, run by the gradient, storing and thread checks
 * (no PyTorch fixtures). */
/* depthwise, 3 wide, at stride 1: n, channels, h, w, kernel height,
   pad_h, pad_w, bias */
#define DW3(N, C, H, W, KH, PAD_H, PAD_W, BIAS) \
    TC_CONV(N, C, H, W, C, KH, 3, 1, PAD_H, PAD_W, 1, C, BIAS)
/* square maps and kernels padded to keep the size at stride 1: n, cin,
   cout, h = w, k, stride, groups, bias */
#define BLOCKS(N, CIN, COUT, HW, K, STRIDE, GROUPS, BIAS) \
    TC_CONV(N, CIN, HW, HW, COUT, K, K, STRIDE, (K) / 2, (K) / 2, 1, GROUPS, BIAS)
// clang-format off
static const tc_spec speed_cases[] = {
    /* depthwise at stride 1 (flat planes; across channels on maps down to
       1x1; wide padding) */
    {"dw3_7x5",  mk_conv, .conv = DW3(2, 19, 7, 5, 3, 1, 1, true)},
    {"dw3_2x2",  mk_conv, .conv = DW3(3, 12, 2, 2, 3, 1, 1, true)},
    {"dw3_1x1",  mk_conv, .conv = DW3(4, 3, 1, 1, 3, 1, 1, false)},
    {"dw3_k5",   mk_conv, .conv = DW3(2, 2, 6, 4, 5, 2, 0, true)},
    {"dw3_pad2", mk_conv, .conv = DW3(2, 2, 3, 3, 3, 2, 2, false)},
    /* strided depthwise (phases), one channel and three */
    {"dw_s2_1ch",  mk_conv, .conv = TC_CONV(3, 1, 14, 12, 1, 4, 4, 2, 1, 1, 1, 1, false)},
    {"dw_s2_3ch",  mk_conv, .conv = TC_CONV(2, 3, 9, 11, 3, 3, 3, 2, 1, 0, 1, 3, true)},
    /* 1x1 convolutions of 1x1 maps (one sgemm over the batch) */
    {"conv_dense", mk_conv, .conv = TC_CONV(5, 6, 1, 1, 4, 1, 1, 1, 0, 0, 1, 1, true)},
    /* the column path's blocks (engine/ops_conv.c): several images side by
       side in one sgemm, groups of images cut in blocks of uneven sizes,
       grouped convolutions, strides; conv_3x3_blocks: 16x16 outputs, two
       images per block, groups of two or three */
    {"conv_1x1_blocks",         mk_conv, .conv = BLOCKS(19, 5, 6, 3, 1, 1, 1, false)},
    {"conv_1x1_grouped_blocks", mk_conv, .conv = BLOCKS(17, 4, 6, 2, 1, 1, 2, true)},
    {"conv_3x3_blocks",         mk_conv, .conv = BLOCKS(21, 2, 3, 16, 3, 1, 1, true)},
    {"conv_3x3_strided_blocks", mk_conv, .conv = BLOCKS(11, 3, 4, 7, 3, 2, 1, false)},
    /* batchnorm with the activation after it (ops_bn.fuse_act);
       bn_silu_fused: 700 positions, pieces of the fused loop and a tail */
    {"bn_silu_fused",        mk_bn_act, .n = 3, .c = 2, .hw = 700, .training = true, .act = OPS_SILU},
    {"bn_hswish_fused",      mk_bn_act, .n = 2, .c = 3, .hw = 25, .training = true, .act = OPS_HSWISH},
    {"bn_sigmoid_vec_fused", mk_bn_act, .n = 6, .c = 5, .hw = 1, .training = true, .act = OPS_SIGMOID},
    {"bn_silu_eval_fused",   mk_bn_act, .n = 2, .c = 3, .hw = 25, .training = false, .act = OPS_SILU},
    /* stride 1, outputs as wide as the input (the shifted-plane columns of
       ops_conv.c): dilation 2 with padding 2 across, 1 down (shorter rows) */
    {"conv_3x3_dilated_same", mk_conv, .conv = TC_CONV(3, 2, 9, 11, 3, 3, 3, 1, 1, 2, 2, 1, true)},
    /* 2x2 pools wide enough for the vectorised interior of ops_pool.c (and
       a ceil-mode last column and row of single samples); kind, n, c, h, w,
       k, stride, padding, ceil */
    {"linear_chunks", mk_linear_chunks, .n = 110},
    {"maxpool2_wide",      mk_pool, .pool = TC_POOL(OPS_POOL_MAX, 2, 3, 6, 38, 2, 2, 0, false)},
    {"minpool2_wide_ceil", mk_pool, .pool = TC_POOL(OPS_POOL_MIN, 2, 3, 7, 35, 2, 2, 0, true)},
};
// clang-format on
#undef BLOCKS
#undef DW3
#define SPEED_COUNT ((int)(sizeof speed_cases / sizeof speed_cases[0]))

static void test_speed_path_gradients(void)
{
    for (int i = 0; i < SPEED_COUNT; i++) {
        tcase *t = tc_make(&speed_cases[i]);
        double max_err;
        prepare(t, 3000 + (uint64_t)i);
        int bad = gradcheck(t, 91 + (uint64_t)i, false, &max_err, GC_H);
        CHECK(bad == 0, "%s: %d gradient elements disagree", t->name, bad);
        tc_free(t);
    }
}

/* The vectorised depthwise kernels (engine/ops_depthwise.c: flat padded
 * planes in blocks of images, and across channels for maps of at most 16
 * outputs) against the definition, summed in double: forward, input,
 * kernel and bias gradients, for geometries that cross blocks, leave a
 * partial block of channels, and use dilation and uneven padding. */
static double dw_direct_check(ops_conv c)
{
    gerr err = GERR_INIT;
    if (ops_conv_init(&c, &err)) {
        CHECK(0, "%s", err.msg);
        return 1e9;
    }
    size_t ihw = (size_t)c.h * c.w, ohw = (size_t)c.oh * c.ow, taps = (size_t)c.kh * c.kw;
    size_t xs = (size_t)c.n * c.cin * ihw, os = (size_t)c.n * c.cin * ohw;
    float *x = malloc(sizeof(float) * xs), *w = malloc(sizeof(float) * c.cin * taps),
          *b = malloc(sizeof(float) * c.cin);
    float *o = malloc(sizeof(float) * os), *g = malloc(sizeof(float) * os),
          *dx = calloc(xs, sizeof(float));
    float *dw = calloc((size_t)c.cin * taps, sizeof(float)),
          *db = calloc((size_t)c.cin, sizeof(float));
    double *rx = calloc(xs, sizeof(double)), *rw = calloc((size_t)c.cin * taps, sizeof(double));
    float *scr = malloc(sizeof(float) * (ops_conv_scratch(&c) + 1));
    rng r;
    rng_seed(&r, (uint64_t)(c.h * 131 + c.cin));
    for (size_t i = 0; i < xs; i++)
        x[i] = rng_uniform_range(&r, -1.0f, 1.0f);
    for (size_t i = 0; i < (size_t)c.cin * taps; i++)
        w[i] = rng_uniform_range(&r, -1.0f, 1.0f);
    for (int i = 0; i < c.cin; i++)
        b[i] = rng_uniform_range(&r, -1.0f, 1.0f);
    for (size_t i = 0; i < os; i++)
        g[i] = rng_uniform_range(&r, -1.0f, 1.0f);
    ops_conv_forward(&c, o, x, w, b, scr);
    ops_conv_backward(&c, dx, dw, db, g, x, w, scr, true);
    /* without the input gradient (a first layer's), and storing it over
       NaN: the same numbers, bit for bit */
    float *dw2 = calloc((size_t)c.cin * taps, sizeof(float)), *dx2 = malloc(sizeof(float) * xs);
    ops_conv_backward(&c, NULL, dw2, NULL, g, x, w, scr, true);
    CHECK(memcmp(dw, dw2, sizeof(float) * c.cin * taps) == 0, "weight gradient without din");
    for (size_t i = 0; i < xs; i++)
        dx2[i] = NAN;
    ops_conv_backward(&c, dx2, NULL, NULL, g, x, w, scr, false);
    CHECK(memcmp(dx, dx2, sizeof(float) * xs) == 0, "stored input gradient");
    free(dw2), free(dx2);
    double worst = 0.0;
    for (int i = 0; i < c.n; i++)
        for (int ch = 0; ch < c.cin; ch++) {
            const float *xp = x + ((size_t)i * c.cin + ch) * ihw,
                        *gp = g + ((size_t)i * c.cin + ch) * ohw;
            const float *k = w + (size_t)ch * taps;
            double sb = 0.0;
            for (int oy = 0; oy < c.oh; oy++)
                for (int ox = 0; ox < c.ow; ox++) {
                    double acc = c.bias ? b[ch] : 0.0, gv = gp[oy * c.ow + ox];
                    sb += gv;
                    for (int ki = 0; ki < c.kh; ki++)
                        for (int kj = 0; kj < c.kw; kj++) {
                            int iy = oy * c.stride + ki * c.dilation - c.pad_h,
                                ix = ox * c.stride + kj * c.dilation - c.pad_w;
                            if (iy < 0 || iy >= c.h || ix < 0 || ix >= c.w)
                                continue;
                            acc += (double)k[ki * c.kw + kj] * xp[iy * c.w + ix];
                            rx[((size_t)i * c.cin + ch) * ihw + iy * c.w + ix] +=
                                gv * k[ki * c.kw + kj];
                            rw[(size_t)ch * taps + ki * c.kw + kj] += gv * xp[iy * c.w + ix];
                        }
                    double d = fabs(acc - o[((size_t)i * c.cin + ch) * ohw + oy * c.ow + ox]);
                    if (d > worst)
                        worst = d;
                }
            (void)sb;
        }
    for (size_t i = 0; i < xs; i++)
        worst = fmax(worst, fabs(rx[i] - dx[i]));
    /* kernel and bias gradients sum over the batch: relative to its size */
    double scale = (double)c.n * ohw;
    for (size_t i = 0; i < (size_t)c.cin * taps; i++)
        worst = fmax(worst, fabs(rw[i] - dw[i]) / scale);
    if (c.bias)
        for (int ch = 0; ch < c.cin; ch++) {
            double s = 0.0;
            for (int i = 0; i < c.n; i++)
                for (size_t q = 0; q < ohw; q++)
                    s += g[((size_t)i * c.cin + ch) * ohw + q];
            worst = fmax(worst, fabs(s - db[ch]) / scale);
        }
    free(x), free(w), free(b), free(o), free(g), free(dx), free(dw), free(db), free(rx), free(rw),
        free(scr);
    return worst;
}

static void test_dw_matches_direct(void)
{
    struct {
        const char *what;
        ops_conv c;
        // clang-format off
    } cases[] = {
        // clang-format on
        {"14x14, 3 blocks of images",
         {.n = 70, .cin = 3, .h = 14, .w = 14, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"7x7, 20 channels",
         {.n = 9, .cin = 20, .h = 7, .w = 7, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"4x4 across channels, a partial block",
         {.n = 5, .cin = 20, .h = 4, .w = 4, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"2x2, 33 channels",
         {.n = 7, .cin = 33, .h = 2, .w = 2, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"1x1, 17 channels",
         {.n = 6, .cin = 17, .h = 1, .w = 1, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"5x3 dilated, uneven padding",
         {.n = 4,
          .cin = 5,
          .h = 9,
          .w = 8,
          .kh = 5,
          .kw = 3,
          .pad_h = 3,
          .pad_w = 0,
          .dilation = 2}},
        {"2x2 kernel, no padding", {.n = 3, .cin = 4, .h = 6, .w = 5, .kh = 2, .kw = 2}},
        {"7x7 to 5x5, no padding (the kernel gradient by output, no zero row read)",
         {.n = 4, .cin = 9, .h = 7, .w = 7, .kh = 3, .kw = 3}},
        {"6x5, 3x3 taps, padding 1 (the kernel gradient by output, 30 outputs)",
         {.n = 3, .cin = 17, .h = 6, .w = 5, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1}},
        {"7x7 kernel on a 3x3 map",
         {.n = 3, .cin = 18, .h = 3, .w = 3, .kh = 7, .kw = 7, .pad_h = 3, .pad_w = 3}},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        ops_conv c = cases[k].c;
        c.cout = c.groups = c.cin;
        c.stride = 1;
        if (!c.dilation)
            c.dilation = 1;
        for (int bias = 0; bias < 2; bias++) {
            c.bias = bias;
            double worst = dw_direct_check(c);
            CHECK(worst < 1e-4, "%s (bias %d): differs from the definition by %g", cases[k].what,
                  bias, worst);
        }
    }
}

/* Depthwise at strides (phases of the padded plane) and one channel in
 * and out (ExquisiteNet's first layer on 1x28x28: 4x4 taps at stride 2,
 * padding 1), against the definition: forward, input, kernel and bias
 * gradients. Odd sizes, stride 1 and 3, no padding, images across blocks;
 * small maps (across channels) at stride 2; and one channel where the
 * phases do not apply (a stride larger than the kernel, wide padding). */
static void test_dw_strided_matches_direct(void)
{
    struct {
        const char *what;
        ops_conv c;
    } cases[] = {
        {"1x28x28, 4x4 s2 p1, 20 images", TC_CONV(20, 1, 28, 28, 1, 4, 4, 2, 1, 1, 1, 1, false)},
        {"1x28x28, 4x4 s2 p1, bias", TC_CONV(3, 1, 28, 28, 1, 4, 4, 2, 1, 1, 1, 1, true)},
        {"3x32x32, 4x4 s2 p1", TC_CONV(9, 3, 32, 32, 3, 4, 4, 2, 1, 1, 1, 3, false)},
        {"1x13x11, 3x3 s2 p1", TC_CONV(5, 1, 13, 11, 1, 3, 3, 2, 1, 1, 1, 1, true)},
        {"1x15x17, 4x2 s2 p0", TC_CONV(4, 1, 15, 17, 1, 4, 2, 2, 0, 0, 1, 1, false)},
        {"1x9x7, 3x3 s1 p0", TC_CONV(4, 1, 9, 7, 1, 3, 3, 1, 0, 0, 1, 1, true)},
        {"1x12x12, 4x4 s1 p1", TC_CONV(3, 1, 12, 12, 1, 4, 4, 1, 1, 1, 1, 1, false)},
        {"2x26x25, 3x3 s3 p1", TC_CONV(3, 2, 26, 25, 2, 3, 3, 3, 1, 2, 1, 2, true)},
        {"20x8x8, 3x3 s2 p1 (small maps)", TC_CONV(5, 20, 8, 8, 20, 3, 3, 2, 1, 1, 1, 20, true)},
        {"1x7x6, 1x1 s2", TC_CONV(3, 1, 7, 6, 1, 1, 1, 2, 0, 0, 1, 1, false)},
        {"1x5x5, 2x2 s1 p2", TC_CONV(3, 1, 5, 5, 1, 2, 2, 1, 2, 2, 1, 1, true)},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double worst = dw_direct_check(cases[k].c);
        CHECK(worst < 1e-4, "%s: differs from the definition by %g", cases[k].what, worst);
    }
}

/* Storing (accumulate false) gives what adding to zeros gives, exactly,
 * whatever the input gradient held before (NaN here, so a kernel
 * that reads it shows), and parameter gradients still add. */
static bool stores_input_grad(const tcase *t)
{
    static const char *ops[] = {"conv", "dw3",     "bn_",  "add",    "relu",   "silu", "hswish",
                                "gelu", "sigmoid", "tanh", "linear", "concat", "mul",  "dropout"};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        if (!strncmp(t->name, ops[i], strlen(ops[i])))
            return true;
    return false;
}

static void test_store_matches_add(void)
{
    int checked = 0;
    for (int i = 0; i < TC_COUNT + SPEED_COUNT; i++) {
        tcase *t = tc_make(i < TC_COUNT ? &tc_all[i] : &speed_cases[i - TC_COUNT]);
        if (!stores_input_grad(t)) {
            tc_free(t);
            continue;
        }
        /* every tensor of add, concat and mul is an input */
        bool all_inputs = !strcmp(t->name, "add") || !strncmp(t->name, "concat", 6) ||
                          !strncmp(t->name, "mul", 3);
        float *dout = calloc((size_t)t->out_size, sizeof(float));
        for (long j = 0; j < t->out_size; j++)
            dout[j] = (float)((j * 31) % 17) / 17.0f - 0.5f;
        float *want[TC_MAXT] = {0};
        for (int pass = 0; pass < 2; pass++) {
            prepare(t, 6000 + (uint64_t)i);
            t->fwd(t);
            for (int k = 0; k < t->nt; k++) {
                if (!t->g[k])
                    continue;
                bool input = all_inputs || !strcmp(t->tname[k], "x");
                for (long j = 0; j < t->tsize[k]; j++)
                    t->g[k][j] = pass && input ? NAN : 0.0f;
            }
            tc_accumulate = pass == 0;
            t->bwd(t, dout);
            tc_accumulate = true;
            for (int k = 0; k < t->nt; k++) {
                if (!t->g[k])
                    continue;
                if (!pass) {
                    want[k] = malloc(sizeof(float) * (size_t)t->tsize[k]);
                    memcpy(want[k], t->g[k], sizeof(float) * (size_t)t->tsize[k]);
                } else {
                    /* equal as numbers: -0 stored is +0 once added to 0 */
                    long bad = 0;
                    for (long j = 0; j < t->tsize[k]; j++)
                        bad += !(want[k][j] == t->g[k][j]);
                    CHECK(bad == 0, "%s: %ld elements of d%s stored differ from d%s added to zeros",
                          t->name, bad, t->tname[k], t->tname[k]);
                }
            }
        }
        for (int k = 0; k < t->nt; k++)
            free(want[k]);
        free(dout);
        tc_free(t);
        checked++;
    }
    CHECK(checked >= 20, "only %d cases store their input gradient", checked);
}

/* batchnorm with fuse_act gives what batchnorm then the activation give,
 * bit for bit, forward and backward (every activation, training and
 * eval, maps of one position and of more than one piece), storing or
 * adding its input gradient. */
static void test_bn_act_matches_pair(void)
{
    static const int shapes[][3] = {{3, 4, 700}, {5, 6, 1}, {2, 3, 25}};
    for (int a = OPS_RELU; a <= OPS_TANH; a++)
        for (int s = 0; s < 3; s++)
            for (int training = 0; training < 2; training++)
                for (int acc = 0; acc < 2; acc++) {
                    int n = shapes[s][0], c = shapes[s][1], hw = shapes[s][2];
                    tc_spec fused = {"bn_fused",       mk_bn_act, .n = n,
                                     .c = c,           .hw = hw,  .training = training,
                                     .act = (ops_act)a};
                    tcase *t = tc_make(&fused);
                    ops_bn plain = t->bn[0];
                    plain.fuse_act = false;
                    prepare(t, 7000 + (uint64_t)(a * 100 + s * 10 + training));
                    for (int k = 0; k < c; k++) {
                        t->s[0][k] = 0.1f * (float)k - 0.2f;
                        t->s[1][k] = 0.5f + 0.25f * (float)k;
                    }
                    size_t sz = (size_t)t->out_size, cb = sizeof(float) * (size_t)c;
                    float *y = calloc(sz, sizeof(float)), *o = calloc(sz, sizeof(float));
                    float *dy = calloc(sz, sizeof(float)), *dx = calloc(sz, sizeof(float));
                    float *g = calloc(sz, sizeof(float)), *dg = calloc((size_t)c, sizeof(float));
                    float *db = calloc((size_t)c, sizeof(float));
                    float *rm = malloc(cb), *rv = malloc(cb);
                    float *scr = calloc(ops_bn_scratch(&plain), sizeof(float));
                    memcpy(rm, t->s[0], cb);
                    memcpy(rv, t->s[1], cb);
                    for (size_t j = 0; j < sz; j++) {
                        g[j] = (float)((j * 29) % 13) / 13.0f - 0.5f;
                        dx[j] = t->g[0][j] = acc ? 0.375f : NAN;
                    }
                    memset(t->g[1], 0, cb);
                    memset(t->g[2], 0, cb);
                    ops_bn_forward(&plain, y, t->x[0], t->x[1], t->x[2], rm, rv, scr);
                    ops_act_forward((ops_act)a, o, y, (long)sz);
                    ops_act_backward((ops_act)a, dy, g, y, (long)sz, false);
                    ops_bn_backward(&plain, dx, dg, db, dy, t->x[0], t->x[1], scr, acc);
                    t->fwd(t);
                    tc_accumulate = acc;
                    t->bwd(t, g);
                    tc_accumulate = true;
                    CHECK(!memcmp(o, t->out, sizeof(float) * sz) && !memcmp(rm, t->s[0], cb) &&
                              !memcmp(rv, t->s[1], cb),
                          "act %d, %dx%dx%d, training %d: forward differs from the pair", a, n, c,
                          hw, training);
                    CHECK(!memcmp(dx, t->g[0], sizeof(float) * sz) && !memcmp(dg, t->g[1], cb) &&
                              !memcmp(db, t->g[2], cb) &&
                              !memcmp(dy, t->dbuf[0], sizeof(float) * sz),
                          "act %d, %dx%dx%d, training %d, accumulate %d: backward differs from "
                          "the pair",
                          a, n, c, hw, training, acc);
                    free(y), free(o), free(dy), free(dx), free(g), free(dg), free(db), free(rm),
                        free(rv), free(scr);
                    tc_free(t);
                }
}

/* Threads: every case, with every task split (ops_par_min = 0), gives the
 * serial numbers bit for bit, and so does a second run. */
static void run_case(tcase *t, float *out, float *grads, const float *dout)
{
    for (int k = 0; k < t->nt; k++)
        if (t->g[k])
            memset(t->g[k], 0, sizeof(float) * (size_t)t->tsize[k]);
    t->fwd(t);
    memcpy(out, t->out, sizeof(float) * (size_t)t->out_size);
    t->bwd(t, dout);
    long o = 0;
    for (int k = 0; k < t->nt; k++)
        if (t->g[k]) {
            memcpy(grads + o, t->g[k], sizeof(float) * (size_t)t->tsize[k]);
            o += t->tsize[k];
        }
}

/* 2x2 pools at stride 2 against the definition: the window's extreme and
 * the index of its first occurrence (values drawn from five levels, so
 * ties are common), for widths that use the vectorised interior, its
 * remainder and ceil mode's partial windows. */
static void test_pool2_matches_definition(void)
{
    static const int shapes[][3] = {{6, 38, 0}, {7, 35, 1}, {5, 17, 1}, {4, 9, 0}, {1, 40, 1}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 2; kind++) {
            bool is_min = kind == 1;
            ops_pool p = TC_POOL(is_min ? OPS_POOL_MIN : OPS_POOL_MAX, 2, 2, shapes[s][0],
                                 shapes[s][1], 2, 2, 0, shapes[s][2] != 0);
            gerr err = GERR_INIT;
            CHECK(ops_pool_init(&p, &err) == 0, "%s", err.msg);
            size_t ihw = (size_t)p.h * p.w, ohw = (size_t)p.oh * p.ow, np = (size_t)p.n * p.c;
            float *x = malloc(sizeof(float) * np * ihw), *o = malloc(sizeof(float) * np * ohw);
            float *idx = malloc(sizeof(float) * (ops_pool_scratch(&p) + 1));
            rng r;
            rng_seed(&r, 77 + s);
            for (size_t i = 0; i < np * ihw; i++)
                x[i] = (float)(int)rng_below(&r, 5) - 2.0f;
            ops_pool_forward(&p, o, x, idx);
            int bad = 0;
            for (size_t pl = 0; pl < np; pl++)
                for (int oy = 0; oy < p.oh; oy++)
                    for (int ox = 0; ox < p.ow; ox++) {
                        const float *xp = x + pl * ihw;
                        int bi = 2 * oy * p.w + 2 * ox;
                        for (int y = 2 * oy; y < 2 * oy + 2 && y < p.h; y++)
                            for (int xx = 2 * ox; xx < 2 * ox + 2 && xx < p.w; xx++) {
                                float v = xp[y * p.w + xx];
                                if (is_min ? v < xp[bi] : v > xp[bi])
                                    bi = y * p.w + xx;
                            }
                        size_t k = pl * ohw + (size_t)oy * p.ow + ox;
                        int32_t got;
                        memcpy(&got, &idx[k], sizeof got);
                        if (o[k] != xp[bi] || got != bi)
                            bad++;
                    }
            CHECK(bad == 0, "pool %dx%d ceil %d %s: %d outputs differ from the definition", p.h,
                  p.w, (int)p.ceil, is_min ? "min" : "max", bad);
            free(x), free(o), free(idx);
        }
}

/* Max and min pools without indices (scratch NULL, evaluation) give the
 * indexed path's values bit for bit: values from five levels, signed
 * zeros and NaNs (ties and unordered comparisons keep the first sample),
 * 2x2 pools of every width class (rows shorter than a vector, ceil mode's
 * single-sample column and row) and a padded 3x3 one, on 1 and 2 threads
 * (every task split); nothing is written past the output. */
static void test_pool_without_index(void)
{
    static const int shapes[][6] = {
        /* h, w, k, stride, pad, ceil */
        {28, 28, 2, 2, 0, 1}, {14, 14, 2, 2, 0, 1}, {7, 7, 2, 2, 0, 1},  {4, 4, 2, 2, 0, 1},
        {2, 2, 2, 2, 0, 1},   {6, 38, 2, 2, 0, 0},  {7, 35, 2, 2, 0, 1}, {5, 17, 2, 2, 0, 1},
        {3, 3, 2, 2, 0, 0},   {1, 9, 2, 2, 0, 1},   {9, 1, 2, 2, 0, 1},  {9, 11, 3, 2, 1, 0}};
    long saved = ops_par_min;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int kind = 0; kind < 2; kind++) {
            const int *sh = shapes[s];
            ops_pool p = TC_POOL(kind ? OPS_POOL_MIN : OPS_POOL_MAX, 3, 5, sh[0], sh[1], sh[2],
                                 sh[3], sh[4], sh[5] != 0);
            gerr err = GERR_INIT;
            CHECK(ops_pool_init(&p, &err) == 0, "%s", err.msg);
            size_t ni = (size_t)p.n * p.c * p.h * p.w, no = (size_t)p.n * p.c * p.oh * p.ow;
            float *x = malloc(sizeof(float) * ni), *want = malloc(sizeof(float) * no);
            float *got = malloc(sizeof(float) * (no + 16));
            float *idx = malloc(sizeof(float) * ops_pool_scratch(&p));
            rng r;
            rng_seed(&r, 91 + s);
            for (size_t i = 0; i < ni; i++) {
                uint32_t u = rng_below(&r, 8);
                x[i] = u < 5 ? (float)(int)u - 2.0f : u == 5 ? -0.0f : u == 6 ? NAN : -NAN;
            }
            ops_set_threads(1);
            ops_par_min = saved;
            ops_pool_forward(&p, want, x, idx);
            for (int t = 1; t <= 2; t++) {
                ops_set_threads(t);
                ops_par_min = t == 2 ? 0 : saved;
                for (int i = 0; i < 16; i++)
                    got[no + i] = 1234.5f;
                ops_pool_forward(&p, got, x, NULL);
                bool canary = true;
                for (int i = 0; i < 16; i++)
                    canary = canary && got[no + i] == 1234.5f;
                CHECK(!memcmp(got, want, sizeof(float) * no) && canary,
                      "%s %dx%d k%d s%d p%d ceil %d, %d threads: values without the index differ "
                      "(or written past the output)",
                      kind ? "min" : "max", p.h, p.w, p.kh, p.stride, p.pad_h, (int)p.ceil, t);
            }
            free(x), free(want), free(got), free(idx);
        }
    ops_par_min = saved;
    ops_set_threads(1);
}

/* n values of five levels (-2 to 2) with signed zeros and NaNs of both
 * signs: ties and unordered comparisons in every window of the 2x2 pool
 * tests below. */
static void pool_levels(rng *r, float *x, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = rng_below(r, 10);
        x[i] = u < 5 ? (float)(int)u - 2.0f : u < 7 ? -0.0f : u < 8 ? 0.0f : u < 9 ? NAN : -NAN;
    }
}

/* Evaluation's 2x2 pools on small planes (engine/ops_pool.c takes them
 * eight windows or two four-window rows to a vector, across planes)
 * against the definition, bit for bit: every height and width from 1 to
 * 10 and a few larger ones, floor and ceil mode, 39 planes (tails of every
 * kind), values from five levels with signed zeros and NaNs of both signs
 * (the first sample of a window wins ties and unordered comparisons), on
 * 1 and 2 threads with every task split; nothing is written past the
 * output. */
static void test_pool2_values_small(void)
{
    long saved = ops_par_min;
    for (int h = 1; h <= 17; h++)
        for (int w = 1; w <= 17; w++)
            for (int mode = 0; mode < 4; mode++) {
                bool is_min = mode & 1, ceil = mode & 2;
                if ((h > 10 || w > 10) && h != w && h != 17 && w != 17)
                    continue;
                ops_pool p =
                    TC_POOL(is_min ? OPS_POOL_MIN : OPS_POOL_MAX, 3, 13, h, w, 2, 2, 0, ceil);
                gerr err = GERR_INIT;
                if (ops_pool_init(&p, &err) != 0)
                    continue; /* a 1-sample axis in floor mode has no window */
                size_t ihw = (size_t)h * w, ohw = (size_t)p.oh * p.ow, np = (size_t)p.n * p.c;
                float *x = malloc(sizeof(float) * np * ihw),
                      *want = malloc(sizeof(float) * np * ohw);
                float *got = malloc(sizeof(float) * (np * ohw + 16));
                rng r;
                rng_seed(&r, 1000 + 37 * h + w);
                pool_levels(&r, x, np * ihw);
                for (size_t pl = 0; pl < np; pl++)
                    for (int oy = 0; oy < p.oh; oy++)
                        for (int ox = 0; ox < p.ow; ox++) {
                            const float *xp = x + pl * ihw;
                            float best = xp[2 * oy * w + 2 * ox];
                            for (int y = 2 * oy; y < 2 * oy + 2 && y < h; y++)
                                for (int xx = 2 * ox; xx < 2 * ox + 2 && xx < w; xx++) {
                                    float v = xp[y * w + xx];
                                    if (is_min ? v < best : v > best)
                                        best = v;
                                }
                            want[pl * ohw + (size_t)oy * p.ow + ox] = best;
                        }
                for (int t = 1; t <= 2; t++) {
                    ops_set_threads(t);
                    ops_par_min = t == 2 ? 0 : saved;
                    for (int i = 0; i < 16; i++)
                        got[np * ohw + i] = 1234.5f;
                    ops_pool_forward(&p, got, x, NULL);
                    bool canary = true;
                    for (int i = 0; i < 16; i++)
                        canary = canary && got[np * ohw + i] == 1234.5f;
                    CHECK(!memcmp(got, want, sizeof(float) * np * ohw) && canary,
                          "%s %dx%d ceil %d, %d threads: differs from the definition (or written "
                          "past the output)",
                          is_min ? "min" : "max", h, w, (int)ceil, t);
                }
                free(x), free(want), free(got);
            }
    ops_par_min = saved;
    ops_set_threads(1);
}

/* Training's 2x2 pools (with the argmax, engine/ops_pool.c takes eight
 * windows of a row to a vector) against the definition, bit for bit in
 * values and indices: every height and width from 1 to 10 and a few
 * larger ones, floor and ceil mode, values from five levels with signed
 * zeros and NaNs of both signs (the first sample of a window wins ties
 * and unordered comparisons), plain and with the relu applied at the
 * store (ops_pool_relu_forward: OPS_RELU's in > 0 ? in : 0 of the
 * extreme), on 1 and 2 threads with every task split; nothing is written
 * past the output or the indices. Then ops_pool_relu_backward, stored and
 * added, against the pair relu-then-pool's backward: the pool's gradient
 * 0 + g at the argmax, +0 elsewhere, then the relu's din (or 0) plus
 * (x > 0 ? that : 0), with signed zeros in the gradients and in din. */
static void test_pool2_indexed_small(void)
{
    long saved = ops_par_min;
    for (int h = 1; h <= 17; h++)
        for (int w = 1; w <= 38; w++)
            for (int mode = 0; mode < 8; mode++) {
                bool is_min = mode & 1, ceil = mode & 2, relu = mode & 4;
                if ((h > 10 || w > 10) && h != w && h != 17 && w != 17 && w != 38 && w != 35)
                    continue;
                ops_pool p =
                    TC_POOL(is_min ? OPS_POOL_MIN : OPS_POOL_MAX, 3, 13, h, w, 2, 2, 0, ceil);
                gerr err = GERR_INIT;
                if (ops_pool_init(&p, &err) != 0)
                    continue; /* a 1-sample axis in floor mode has no window */
                size_t ihw = (size_t)h * w, ohw = (size_t)p.oh * p.ow, np = (size_t)p.n * p.c;
                size_t ni = np * ihw, no = np * ohw;
                float *x = malloc(sizeof(float) * ni), *want = malloc(sizeof(float) * no);
                int32_t *want_i = malloc(sizeof(int32_t) * no);
                float *got = malloc(sizeof(float) * (no + 16));
                float *idx = malloc(sizeof(float) * (no + 16));
                rng r;
                rng_seed(&r, 2000 + 37 * h + w);
                pool_levels(&r, x, ni);
                for (size_t pl = 0; pl < np; pl++)
                    for (int oy = 0; oy < p.oh; oy++)
                        for (int ox = 0; ox < p.ow; ox++) {
                            const float *xp = x + pl * ihw;
                            int bi = 2 * oy * w + 2 * ox;
                            for (int y = 2 * oy; y < 2 * oy + 2 && y < h; y++)
                                for (int xx = 2 * ox; xx < 2 * ox + 2 && xx < w; xx++) {
                                    float v = xp[y * w + xx];
                                    if (is_min ? v < xp[bi] : v > xp[bi])
                                        bi = y * w + xx;
                                }
                            size_t k = pl * ohw + (size_t)oy * p.ow + ox;
                            want[k] = relu ? (xp[bi] > 0.0f ? xp[bi] : 0.0f) : xp[bi];
                            want_i[k] = bi;
                        }
                for (int t = 1; t <= 2; t++) {
                    ops_set_threads(t);
                    ops_par_min = t == 2 ? 0 : saved;
                    for (int i = 0; i < 16; i++)
                        got[no + i] = idx[no + i] = 1234.5f;
                    if (relu)
                        ops_pool_relu_forward(&p, got, x, idx);
                    else
                        ops_pool_forward(&p, got, x, idx);
                    bool canary = true;
                    for (int i = 0; i < 16; i++)
                        canary = canary && got[no + i] == 1234.5f && idx[no + i] == 1234.5f;
                    CHECK(!memcmp(got, want, sizeof(float) * no) &&
                              !memcmp(idx, want_i, sizeof(float) * no) && canary,
                          "%s %dx%d ceil %d relu %d, %d threads: values or indices differ from "
                          "the definition (or written past the output)",
                          is_min ? "min" : "max", h, w, (int)ceil, (int)relu, t);
                }
                if (relu) {
                    /* backward: gradients and din from levels with signed zeros */
                    float *g = malloc(sizeof(float) * no), *d0 = malloc(sizeof(float) * ni);
                    float *wantd = malloc(sizeof(float) * ni), *gotd = malloc(sizeof(float) * ni);
                    float *dr = malloc(sizeof(float) * ni);
                    for (size_t i = 0; i < no; i++) {
                        uint32_t u = rng_below(&r, 4);
                        g[i] = u < 2 ? (float)(int)u + 0.5f : u == 2 ? -0.0f : 0.0f;
                    }
                    for (size_t i = 0; i < ni; i++) {
                        uint32_t u = rng_below(&r, 3);
                        d0[i] = u == 0 ? -0.0f : u == 1 ? 0.0f : -1.25f;
                    }
                    for (int acc = 0; acc < 2; acc++) {
                        for (size_t i = 0; i < ni; i++)
                            dr[i] = 0.0f;
                        for (size_t pl = 0; pl < np; pl++)
                            for (size_t o = 0; o < ohw; o++)
                                dr[pl * ihw + (size_t)want_i[pl * ohw + o]] += g[pl * ohw + o];
                        for (size_t i = 0; i < ni; i++)
                            wantd[i] = (acc ? d0[i] : 0.0f) + (x[i] > 0.0f ? dr[i] : 0.0f);
                        for (int t = 1; t <= 2; t++) {
                            ops_set_threads(t);
                            ops_par_min = t == 2 ? 0 : saved;
                            for (size_t i = 0; i < ni; i++)
                                gotd[i] = acc ? d0[i] : 7.0f;
                            ops_pool_relu_backward(&p, gotd, g, want, idx, acc);
                            CHECK(!memcmp(gotd, wantd, sizeof(float) * ni),
                                  "%dx%d ceil %d accumulate %d, %d threads: the fused backward "
                                  "differs from the pair's",
                                  h, w, (int)ceil, acc, t);
                        }
                    }
                    free(g), free(d0), free(wantd), free(gotd), free(dr);
                }
                free(x), free(want), free(want_i), free(got), free(idx);
            }
    ops_par_min = saved;
    ops_set_threads(1);
}

/* Global average pooling against its definition, bit for bit: each
 * plane summed in order in double from 0.0, then divided; values of wide
 * range (where another order of the sum rounds differently), -0 and NaN,
 * plane counts around the planes summed side by side, 1x1 planes, on 1
 * and 2 threads. */
static void test_gap_matches_definition(void)
{
    static const int hws[] = {1, 2, 4, 16, 49, 196};
    static const long planes[] = {1, 7, 8, 9, 23, 64};
    long saved = ops_par_min;
    for (size_t h = 0; h < sizeof hws / sizeof hws[0]; h++)
        for (size_t q = 0; q < sizeof planes / sizeof planes[0]; q++) {
            int hw = hws[h];
            long np = planes[q];
            float *x = malloc(sizeof(float) * (size_t)(np * hw)),
                  *want = malloc(sizeof(float) * np);
            float *got = malloc(sizeof(float) * (size_t)(np + 1));
            rng r;
            rng_seed(&r, 300 + h * 10 + q);
            for (long i = 0; i < np * hw; i++) {
                uint32_t u = rng_below(&r, 16);
                x[i] = u == 0             ? -0.0f
                       : u == 1 && q == 2 ? NAN
                       : u < 5            ? 3e30f * (u == 3 ? -1 : 1)
                               : rng_uniform_range(&r, -1.0f, 1.0f) * (u < 10 ? 1e-8f : 1.0f);
            }
            for (long pl = 0; pl < np; pl++) {
                double s = 0.0;
                for (int i = 0; i < hw; i++)
                    s += x[pl * hw + i];
                want[pl] = (float)(s / hw);
            }
            for (int t = 1; t <= 2; t++) {
                ops_set_threads(t);
                ops_par_min = t == 2 ? 0 : saved;
                got[np] = 1234.5f;
                ops_gap_forward(got, x, np, hw);
                CHECK(!memcmp(got, want, sizeof(float) * np) && got[np] == 1234.5f,
                      "gap of %ld planes of %d, %d threads: not the planes' sums in order", np, hw,
                      t);
            }
            free(x), free(want), free(got);
        }
    ops_par_min = saved;
    ops_set_threads(1);
}

/* Layernorm forward against its definition, bit for bit: per image and
 * position, the mean and the variance summed over the channels in order
 * in float, then (x - mean) * invstd * gamma + beta; 1x1 maps (the
 * images transposed for the statistics) and 2x2 ones, batches split over
 * 2 threads at every size (the scratch of one range must not overlap
 * another's), and the saved statistics too. */
static void test_ln_forward_matches_definition(void)
{
    static const int shapes[][3] = {{1, 12, 1},    {5, 12, 1}, {37, 48, 1},
                                    {128, 384, 1}, {9, 7, 4},  {3, 16, 1}};
    long saved = ops_par_min;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        ops_ln l = {.n = shapes[s][0], .c = shapes[s][1], .hw = shapes[s][2], .eps = 1e-5f};
        size_t hw = (size_t)l.hw, chw = (size_t)l.c * hw, nx = (size_t)l.n * chw;
        float *x = malloc(sizeof(float) * nx), *want = malloc(sizeof(float) * nx);
        float *got = malloc(sizeof(float) * (nx + 1)), *gb = malloc(sizeof(float) * 2 * l.c);
        float *stats = malloc(sizeof(float) * 2 * l.n * hw);
        float *scr = malloc(sizeof(float) * ops_ln_scratch(&l));
        rng r;
        rng_seed(&r, 400 + s);
        for (size_t i = 0; i < nx; i++)
            x[i] = rng_uniform_range(&r, -2.0f, 3.0f);
        for (int c = 0; c < 2 * l.c; c++)
            gb[c] = rng_uniform_range(&r, -1.0f, 1.0f);
        float inv_c = 1.0f / (float)l.c;
        for (int i = 0; i < l.n; i++)
            for (size_t p = 0; p < hw; p++) {
                const float *xi = x + i * chw + p;
                float mu = 0.0f, var = 0.0f;
                for (int c = 0; c < l.c; c++)
                    mu += xi[c * hw];
                mu *= inv_c;
                for (int c = 0; c < l.c; c++) {
                    float d = xi[c * hw] - mu;
                    var += d * d;
                }
                float is = 1.0f / sqrtf(var * inv_c + l.eps);
                stats[i * hw + p] = mu, stats[l.n * hw + i * hw + p] = is;
                for (int c = 0; c < l.c; c++)
                    want[i * chw + c * hw + p] = (xi[c * hw] - mu) * is * gb[c] + gb[l.c + c];
            }
        for (int t = 1; t <= 2; t++) {
            ops_set_threads(t);
            ops_par_min = t == 2 ? 0 : saved;
            got[nx] = 1234.5f;
            ops_ln_forward(&l, got, x, gb, gb + l.c, scr);
            CHECK(!memcmp(got, want, sizeof(float) * nx) && got[nx] == 1234.5f &&
                      !memcmp(scr, stats, sizeof(float) * 2 * l.n * hw),
                  "layernorm %dx%dx%d, %d threads: not the definition's numbers", l.n, l.c, l.hw,
                  t);
        }
        free(x), free(want), free(got), free(gb), free(stats), free(scr);
    }
    ops_par_min = saved;
    ops_set_threads(1);
}

static void test_threads_agree(void)
{
    long saved = ops_par_min;
    for (int i = 0; i < TC_COUNT + SPEED_COUNT; i++) {
        tcase *t = tc_make(i < TC_COUNT ? &tc_all[i] : &speed_cases[i - TC_COUNT]);
        prepare(t, 5000 + (uint64_t)i);
        long ng = 0;
        for (int k = 0; k < t->nt; k++)
            if (t->g[k])
                ng += t->tsize[k];
        float *dout = calloc((size_t)t->out_size, sizeof(float));
        float *o[3], *g[3];
        for (int r = 0; r < 3; r++) {
            o[r] = calloc((size_t)t->out_size, sizeof(float));
            g[r] = calloc((size_t)(ng ? ng : 1), sizeof(float));
        }
        for (long j = 0; j < t->out_size; j++)
            dout[j] = (float)((j * 29) % 13) / 13.0f - 0.5f;
        /* a case's state (running statistics, dropout masks) must start
           equal: snapshot it by re-preparing before each run */
        ops_set_threads(1);
        ops_par_min = saved;
        prepare(t, 5000 + (uint64_t)i);
        run_case(t, o[0], g[0], dout);
        ops_set_threads(2);
        ops_par_min = 0;
        for (int r = 1; r < 3; r++) {
            prepare(t, 5000 + (uint64_t)i);
            run_case(t, o[r], g[r], dout);
        }
        CHECK(!memcmp(o[1], o[2], sizeof(float) * (size_t)t->out_size) &&
                  !memcmp(g[1], g[2], sizeof(float) * (size_t)(ng ? ng : 1)),
              "%s: two runs on 2 threads differ", t->name);
        double worst = 0;
        for (long j = 0; j < t->out_size; j++) {
            double d = fabs(o[0][j] - o[1][j]) / (1.0 + fabs(o[0][j]));
            if (d > worst)
                worst = d;
        }
        for (long j = 0; j < ng; j++) {
            double d = fabs(g[0][j] - g[1][j]) / (1.0 + fabs(g[0][j]));
            if (d > worst)
                worst = d;
        }
        /* the chunks are fixed by the data, not the threads: same bits */
        CHECK(worst == 0, "%s: 1 and 2 threads differ by %g", t->name, worst);
        for (int r = 0; r < 3; r++)
            free(o[r]), free(g[r]);
        free(dout);
        tc_free(t);
    }
    ops_par_min = saved;
    ops_set_threads(1);
}

/* An activation's span gives each element the bits it gives that element
 * alone, forward and backward (stored and added): whichever loop takes
 * it (sixteen floats a step where the CPU has AVX-512, eight, or the
 * padded tail), so the numbers cannot depend on the thread split or on
 * where a batch norm's piece starts. Inputs cover both sides of the
 * clamps of exp and the break points of hswish. */
static void test_act_span_matches_elementwise(void)
{
    enum {
        N = 203
    };
    float x[N], g[N], base[N], span[N], one[N];
    for (int j = 0; j < N; j++) {
        x[j] = (float)((j * 37) % 101 - 50) * 0.19f;
        g[j] = (float)((j * 13) % 29) / 29.0f - 0.4f;
        base[j] = (float)(j % 7) * 0.25f - 0.5f;
    }
    const float special[] = {-100.0f, -87.4f, -87.3f, -3.0f, -0.0f,
                             0.0f,    3.0f,   88.3f,  88.4f, 100.0f};
    for (size_t k = 0; k < sizeof special / sizeof special[0]; k++)
        x[5 + 11 * k] = special[k];
    int bad = 0;
    for (int a = OPS_RELU; a <= OPS_TANH; a++)
        for (int start = 0; start < 18; start++) {
            long len = N - start;
            ops_act_span_forward((ops_act)a, span + start, x + start, len);
            for (long j = start; j < N; j++)
                ops_act_span_forward((ops_act)a, one + j, x + j, 1);
            bad += memcmp(span + start, one + start, sizeof(float) * (size_t)len) != 0;
            for (int acc = 0; acc < 2; acc++) {
                memcpy(span, base, sizeof span);
                memcpy(one, base, sizeof one);
                ops_act_span_backward((ops_act)a, span + start, g + start, x + start, len, acc);
                for (long j = start; j < N; j++)
                    ops_act_span_backward((ops_act)a, one + j, g + j, x + j, 1, acc);
                bad += memcmp(span, one, sizeof span) != 0;
            }
        }
    CHECK(bad == 0, "%d (activation, start, pass) spans differ from their elements one at a time",
          bad);
}

int main(void)
{
    RUN(test_speed_path_gradients);
    RUN(test_dw_matches_direct);
    RUN(test_dw_strided_matches_direct);
    RUN(test_store_matches_add);
    RUN(test_bn_act_matches_pair);
    RUN(test_act_span_matches_elementwise);
    RUN(test_pool2_matches_definition);
    RUN(test_pool_without_index);
    RUN(test_pool2_values_small);
    RUN(test_pool2_indexed_small);
    RUN(test_gap_matches_definition);
    RUN(test_ln_forward_matches_definition);
    RUN(test_threads_agree);
    RUN(test_gradients);
    RUN(test_checker_catches_errors);
    RUN(test_pool_output_sizes);
    RUN(test_conv_paths);
    RUN(test_bad_arguments);
    RUN(test_xent_counts_correct);
    RUN(test_dropout);
    RUN(test_init);
    return harness_done();
}
