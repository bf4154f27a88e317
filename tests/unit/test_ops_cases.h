/* Test cases shared by test_ops.c (per-element gradient checks) and
 * test_ops_torch.c (comparison with PyTorch fixtures): each case is an
 * operator or a small network chained by hand from the kernels, with named
 * input/parameter tensors, a forward that writes `out` and a backward that
 * accumulates into the tensors' gradients. The shapes here must match
 * tests/tools/make_op_fixtures.py (the fixture test checks every size). */
#ifndef GEVO_TESTS_OPS_CASES_H
#define GEVO_TESTS_OPS_CASES_H

#include "engine/init.h"
#include "engine/ops.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TC_MAXT 12
#define TC_MAXB 16

typedef struct tcase tcase;
struct tcase {
    char name[48];
    /* inputs and parameters; g[i] == NULL: not differentiable (labels, masks) */
    int nt;
    const char *tname[TC_MAXT];
    long tsize[TC_MAXT];
    float *x[TC_MAXT], *g[TC_MAXT];
    /* state a forward updates (batchnorm running statistics) */
    int ns;
    const char *sname[4];
    long ssize[4];
    float *s[4];
    long out_size;
    float *out;
    void (*fwd)(tcase *);
    void (*bwd)(tcase *, const float *dout);
    /* operator settings */
    ops_conv conv[3];
    ops_bn bn[2];
    ops_ln ln[1];
    ops_pool pool[1];
    ops_act act;
    int n, c, hw, in_f, out_f, k, n_in, chans[4];
    float p, smoothing;
    bool bcast, training;
    float *scr[8];
    /* intermediates of composites and their gradients */
    float *buf[TC_MAXB], *dbuf[TC_MAXB];
    long bsize[TC_MAXB];
    int *labels;
    gerr err; /* what tc_must reports */
    void *mem[96];
    int nmem;
};

/* A case as a row of a table: its name, the function that builds it and
 * the settings that function reads (those of its kind; the rest zero). */
typedef struct tc_spec tc_spec;
struct tc_spec {
    const char *name;
    tcase *(*make)(const tc_spec *);
    ops_conv conv;   /* mk_conv */
    ops_pool pool;   /* mk_pool */
    int n, c, hw;    /* mk_bn, mk_ln: images, channels, positions */
    bool training;   /* mk_bn */
    ops_act act;     /* mk_act (and test_ops.c's fused batchnorm) */
    float smoothing; /* mk_xent */
    bool bcast;      /* mk_mul */
};

static tcase *tc_make(const tc_spec *s)
{
    return s->make(s);
}

/* An ops_conv, every setting given: n x cin x h x w in, cout filters of
 * kh x kw, stride, padding (pad_h, pad_w), dilation, groups, bias. */
#define TC_CONV(N, CIN, H, W, COUT, KH, KW, STRIDE, PAD_H, PAD_W, DIL, GROUPS, BIAS)        \
    {                                                                                       \
        .n = (N), .cin = (CIN), .h = (H), .w = (W), .cout = (COUT), .kh = (KH), .kw = (KW), \
        .stride = (STRIDE), .pad_h = (PAD_H), .pad_w = (PAD_W), .dilation = (DIL),          \
        .groups = (GROUPS), .bias = (BIAS)                                                  \
    }
/* An ops_pool of a square window: kind, n x c x h x w in, kernel k x k,
 * stride, padding on every side, ceil mode. */
#define TC_POOL(KIND, N, C, H, W, K, STRIDE, PAD, CEIL)                               \
    {                                                                                 \
        .kind = (KIND), .n = (N), .c = (C), .h = (H), .w = (W), .kh = (K), .kw = (K), \
        .stride = (STRIDE), .pad_h = (PAD), .pad_w = (PAD), .ceil = (CEIL)            \
    }

/* The accumulate argument the single-operator cases pass to backward
 * (conv, linear, batchnorm, activations, concat, add, mul, dropout): true adds into the gradients, as the
 * gradient checks expect; test_ops.c turns it off to check storing. */
static bool tc_accumulate = true;

static float *tc_alloc(tcase *t, long n)
{
    float *p = calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!p || t->nmem >= 96) {
        fprintf(stderr, "test: out of memory\n");
        abort();
    }
    t->mem[t->nmem++] = p;
    return p;
}

static void tc_free(tcase *t)
{
    if (!t)
        return;
    for (int i = 0; i < t->nmem; i++)
        free(t->mem[i]);
    free(t);
}

/* A new case with its row's name and settings. */
static tcase *tc_from(const tc_spec *s)
{
    tcase *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    snprintf(t->name, sizeof t->name, "%s", s->name);
    t->conv[0] = s->conv;
    t->pool[0] = s->pool;
    t->n = s->n, t->c = s->c, t->hw = s->hw;
    t->training = s->training;
    t->act = s->act;
    t->smoothing = s->smoothing;
    t->bcast = s->bcast;
    return t;
}

/* Adds a tensor; returns its index. */
static int tc_tensor(tcase *t, const char *name, long size, bool diff)
{
    int i = t->nt++;
    t->tname[i] = name;
    t->tsize[i] = size;
    t->x[i] = tc_alloc(t, size);
    t->g[i] = diff ? tc_alloc(t, size) : NULL;
    return i;
}

static int tc_state(tcase *t, const char *name, long size)
{
    int i = t->ns++;
    t->sname[i] = name;
    t->ssize[i] = size;
    t->s[i] = tc_alloc(t, size);
    return i;
}

static int tc_buf(tcase *t, long size)
{
    int i;
    for (i = 0; i < TC_MAXB && t->buf[i]; i++) {
    }
    t->buf[i] = tc_alloc(t, size);
    t->dbuf[i] = tc_alloc(t, size);
    t->bsize[i] = size;
    return i;
}

/* The case's output, of size values, and its two directions. */
static void tc_output(tcase *t, long size, void (*fwd)(tcase *),
                      void (*bwd)(tcase *, const float *))
{
    t->out_size = size;
    t->out = tc_alloc(t, size);
    t->fwd = fwd;
    t->bwd = bwd;
}

static void tc_zero_dbufs(tcase *t)
{
    for (int i = 0; i < TC_MAXB && t->buf[i]; i++)
        memset(t->dbuf[i], 0, sizeof(float) * (size_t)t->bsize[i]);
}

static inline void tc_fill(tcase *t, uint64_t seed)
{
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < t->nt; i++)
        for (long j = 0; j < t->tsize[i]; j++)
            t->x[i][j] = rng_uniform_range(&r, -1.0f, 1.0f);
}

/* A kernel's init or a loss that must not fail (rc): the message it left
 * in t->err, and the test aborts. */
static void tc_must(tcase *t, int rc)
{
    if (rc) {
        fprintf(stderr, "test setup: %s: %s\n", t->name, t->err.msg);
        abort();
    }
}

/* ---------------- single operators ---------------- */

static void conv_fwd(tcase *t)
{
    ops_conv_forward(&t->conv[0], t->out, t->x[0], t->x[1], t->conv[0].bias ? t->x[2] : NULL,
                     t->scr[0]);
}
static void conv_bwd(tcase *t, const float *dout)
{
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], t->conv[0].bias ? t->g[2] : NULL, dout,
                      t->x[0], t->x[1], t->scr[0], tc_accumulate);
}

static tcase *mk_conv(const tc_spec *s)
{
    tcase *t = tc_from(s);
    ops_conv *c = &t->conv[0];
    tc_must(t, ops_conv_init(c, &t->err));
    tc_tensor(t, "x", (long)c->n * c->cin * c->h * c->w, true);
    tc_tensor(t, "w", (long)c->cout * (c->cin / c->groups) * c->kh * c->kw, true);
    if (c->bias)
        tc_tensor(t, "b", c->cout, true);
    t->scr[0] = tc_alloc(t, (long)ops_conv_scratch(c));
    tc_output(t, (long)c->n * c->cout * c->oh * c->ow, conv_fwd, conv_bwd);
    return t;
}

static void linear_fwd(tcase *t)
{
    ops_linear_forward(t->out, t->x[0], t->x[1], t->x[2], t->n, t->in_f, t->out_f);
}
static void linear_bwd(tcase *t, const float *dout)
{
    ops_linear_backward(t->g[0], t->g[1], t->g[2], dout, t->x[0], t->x[1], t->n, t->in_f, t->out_f,
                        tc_accumulate);
}
static tcase *mk_linear(const tc_spec *s)
{
    tcase *t = tc_from(s);
    t->n = 3, t->in_f = 5, t->out_f = 4;
    tc_tensor(t, "x", 15, true);
    tc_tensor(t, "w", 20, true);
    tc_tensor(t, "b", 4, true);
    tc_output(t, 12, linear_fwd, linear_bwd);
    return t;
}

static void bn_fwd(tcase *t)
{
    ops_bn_forward(&t->bn[0], t->out, t->x[0], t->x[1], t->x[2], t->s[0], t->s[1], t->scr[0]);
}
static void bn_bwd(tcase *t, const float *dout)
{
    ops_bn_backward(&t->bn[0], t->g[0], t->g[1], t->g[2], dout, t->x[0], t->x[1], t->scr[0],
                    tc_accumulate);
}
static tcase *mk_bn(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = t->n, c = t->c, hw = t->hw;
    ops_bn b = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f, .training = t->training};
    tc_must(t, ops_bn_init(&b, &t->err));
    t->bn[0] = b;
    tc_tensor(t, "x", (long)n * c * hw, true);
    tc_tensor(t, "gamma", c, true);
    tc_tensor(t, "beta", c, true);
    tc_state(t, "run_mean", c);
    tc_state(t, "run_var", c);
    for (int i = 0; i < c; i++)
        t->s[1][i] = 1.0f;
    t->scr[0] = tc_alloc(t, (long)ops_bn_scratch(&b));
    tc_output(t, (long)n * c * hw, bn_fwd, bn_bwd);
    return t;
}
static void ln_fwd(tcase *t)
{
    ops_ln_forward(&t->ln[0], t->out, t->x[0], t->x[1], t->x[2], t->scr[0]);
}
static void ln_bwd(tcase *t, const float *dout)
{
    ops_ln_backward(&t->ln[0], t->g[0], t->g[1], t->g[2], dout, t->x[0], t->x[1], t->scr[0]);
}
static tcase *mk_ln(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = t->n, c = t->c, hw = t->hw;
    ops_ln l = {.n = n, .c = c, .hw = hw, .eps = 1e-5f};
    tc_must(t, ops_ln_init(&l, &t->err));
    t->ln[0] = l;
    tc_tensor(t, "x", (long)n * c * hw, true);
    tc_tensor(t, "gamma", c, true);
    tc_tensor(t, "beta", c, true);
    t->scr[0] = tc_alloc(t, (long)ops_ln_scratch(&l));
    tc_output(t, (long)n * c * hw, ln_fwd, ln_bwd);
    return t;
}
static void act_fwd(tcase *t)
{
    ops_act_forward(t->act, t->out, t->x[0], t->out_size);
}
static void act_bwd(tcase *t, const float *dout)
{
    ops_act_backward(t->act, t->g[0], dout, t->x[0], t->out_size, tc_accumulate);
}
static tcase *mk_act(const tc_spec *s)
{
    tcase *t = tc_from(s);
    tc_tensor(t, "x", 2 * 3 * 16, true);
    tc_output(t, 2 * 3 * 16, act_fwd, act_bwd);
    return t;
}
static void pool_fwd(tcase *t)
{
    ops_pool_forward(&t->pool[0], t->out, t->x[0], t->scr[0]);
}
static void pool_bwd(tcase *t, const float *dout)
{
    ops_pool_backward(&t->pool[0], t->g[0], dout, t->scr[0]);
}
static tcase *mk_pool(const tc_spec *s)
{
    tcase *t = tc_from(s);
    ops_pool *p = &t->pool[0];
    tc_must(t, ops_pool_init(p, &t->err));
    tc_tensor(t, "x", (long)p->n * p->c * p->h * p->w, true);
    t->scr[0] = tc_alloc(t, (long)ops_pool_scratch(p));
    tc_output(t, (long)p->n * p->c * p->oh * p->ow, pool_fwd, pool_bwd);
    return t;
}
static void gap_fwd(tcase *t)
{
    ops_gap_forward(t->out, t->x[0], (long)t->n * t->c, t->hw);
}
static void gap_bwd(tcase *t, const float *dout)
{
    ops_gap_backward(t->g[0], dout, (long)t->n * t->c, t->hw);
}
static tcase *mk_gap(const tc_spec *s)
{
    tcase *t = tc_from(s);
    t->n = 2, t->c = 3, t->hw = 30;
    tc_tensor(t, "x", 180, true);
    tc_output(t, 6, gap_fwd, gap_bwd);
    return t;
}

static void concat_fwd(tcase *t)
{
    const float *ins[4] = {t->x[0], t->x[1], t->x[2], t->x[3]};
    ops_concat_forward(t->out, ins, t->chans, t->n_in, t->n, t->hw);
}
static void concat_bwd(tcase *t, const float *dout)
{
    float *dins[4] = {t->g[0], t->g[1], t->g[2], t->g[3]};
    bool acc[4] = {tc_accumulate, tc_accumulate, tc_accumulate, tc_accumulate};
    ops_concat_backward(dins, dout, t->chans, t->n_in, t->n, t->hw, acc);
}
static tcase *mk_concat(const tc_spec *s)
{
    static const char *names[3] = {"a", "b", "c"};
    tcase *t = tc_from(s);
    t->n = 2, t->hw = 12, t->n_in = 3;
    t->chans[0] = 2, t->chans[1] = 3, t->chans[2] = 1;
    for (int i = 0; i < 3; i++)
        tc_tensor(t, names[i], (long)t->n * t->chans[i] * t->hw, true);
    tc_output(t, 2 * 6 * 12, concat_fwd, concat_bwd);
    return t;
}

static void add_fwd(tcase *t)
{
    const float *ins[4] = {t->x[0], t->x[1], t->x[2], t->x[3]};
    ops_add_forward(t->out, ins, t->n_in, t->out_size);
}
static void add_bwd(tcase *t, const float *dout)
{
    float *dins[4] = {t->g[0], t->g[1], t->g[2], t->g[3]};
    bool acc[4] = {tc_accumulate, tc_accumulate, tc_accumulate, tc_accumulate};
    ops_add_backward(dins, dout, t->n_in, t->out_size, acc);
}
static tcase *mk_add(const tc_spec *s)
{
    static const char *names[3] = {"a", "b", "c"};
    tcase *t = tc_from(s);
    t->n_in = 3;
    for (int i = 0; i < 3; i++)
        tc_tensor(t, names[i], 2 * 3 * 10, true);
    tc_output(t, 60, add_fwd, add_bwd);
    return t;
}

static void mul_fwd(tcase *t)
{
    ops_mul_forward(t->out, t->x[0], t->x[1], t->n, t->c, t->hw, t->bcast);
}
static void mul_bwd(tcase *t, const float *dout)
{
    bool acc[2] = {tc_accumulate, tc_accumulate};
    ops_mul_backward(t->g[0], t->g[1], dout, t->x[0], t->x[1], t->n, t->c, t->hw, t->bcast, acc);
}
static tcase *mk_mul(const tc_spec *s)
{
    tcase *t = tc_from(s);
    bool bcast = t->bcast;
    t->n = 2, t->c = 3, t->hw = 20;
    tc_tensor(t, "a", 120, true);
    tc_tensor(t, "b", bcast ? 6 : 120, true);
    tc_output(t, 120, mul_fwd, mul_bwd);
    return t;
}
/* The mask is an input here (a fixed, scaled 0/1 pattern), so the check
 * is deterministic and PyTorch can apply the same one. */
static void dropout_fwd(tcase *t)
{
    ops_dropout_apply(t->out, t->x[0], t->out_size, t->training, t->x[1]);
}
static void dropout_bwd(tcase *t, const float *dout)
{
    ops_dropout_backward(t->g[0], dout, t->out_size, t->training, t->x[1], tc_accumulate);
}
static tcase *mk_dropout(const tc_spec *s)
{
    tcase *t = tc_from(s);
    t->training = true, t->p = 0.3f;
    tc_tensor(t, "x", 2 * 4 * 9, true);
    tc_tensor(t, "mask", 2 * 4 * 9, false);
    tc_output(t, 72, dropout_fwd, dropout_bwd);
    return t;
}

static void labels_from(tcase *t, const float *f, int n)
{
    for (int i = 0; i < n; i++)
        t->labels[i] = (int)f[i];
}
static void xent_fwd(tcase *t)
{
    labels_from(t, t->x[1], t->n);
    tc_must(
        t, ops_xent(&t->out[0], NULL, NULL, t->x[0], t->labels, t->n, t->k, t->smoothing, &t->err));
}
static void xent_bwd(tcase *t, const float *dout)
{
    float loss, *d = t->scr[0];
    labels_from(t, t->x[1], t->n);
    tc_must(t, ops_xent(&loss, NULL, d, t->x[0], t->labels, t->n, t->k, t->smoothing, &t->err));
    for (long i = 0; i < (long)t->n * t->k; i++)
        t->g[0][i] += dout[0] * d[i];
}
static tcase *mk_xent(const tc_spec *s)
{
    tcase *t = tc_from(s);
    t->n = 5, t->k = 7;
    tc_tensor(t, "logits", 35, true);
    tc_tensor(t, "labels", 5, false);
    t->labels = (int *)(void *)tc_alloc(t, 5);
    t->scr[0] = tc_alloc(t, 35);
    tc_output(t, 1, xent_fwd, xent_bwd);
    return t;
}
/* ---------------- composites ---------------- */

/* Residual block: relu(bn1(conv1(relu(bn0(conv0(x))))) + x). */
static void res_fwd(tcase *t)
{
    float **b = t->buf;
    ops_conv_forward(&t->conv[0], b[0], t->x[0], t->x[1], NULL, t->scr[0]);
    ops_bn_forward(&t->bn[0], b[1], b[0], t->x[2], t->x[3], NULL, NULL, t->scr[1]);
    ops_act_forward(OPS_RELU, b[2], b[1], t->bsize[2]);
    ops_conv_forward(&t->conv[1], b[3], b[2], t->x[4], t->x[5], t->scr[0]);
    ops_bn_forward(&t->bn[1], b[4], b[3], t->x[6], t->x[7], NULL, NULL, t->scr[2]);
    const float *ins[2] = {b[4], t->x[0]};
    ops_add_forward(b[5], ins, 2, t->bsize[5]);
    ops_act_forward(OPS_RELU, t->out, b[5], t->out_size);
}
static void res_bwd(tcase *t, const float *dout)
{
    float **b = t->buf, **d = t->dbuf;
    tc_zero_dbufs(t);
    ops_act_backward(OPS_RELU, d[5], dout, b[5], t->out_size, true);
    float *dins[2] = {d[4], t->g[0]};
    ops_add_backward(dins, d[5], 2, t->bsize[5], NULL);
    ops_bn_backward(&t->bn[1], d[3], t->g[6], t->g[7], d[4], b[3], t->x[6], t->scr[2], true);
    ops_conv_backward(&t->conv[1], d[2], t->g[4], t->g[5], d[3], b[2], t->x[4], t->scr[0], true);
    ops_act_backward(OPS_RELU, d[1], d[2], b[1], t->bsize[2], true);
    ops_bn_backward(&t->bn[0], d[0], t->g[2], t->g[3], d[1], b[0], t->x[2], t->scr[1], true);
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], NULL, d[0], t->x[0], t->x[1], t->scr[0], true);
}
static tcase *mk_resblock(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = 2, c = 4, h = 6, w = 6;
    long sz = (long)n * c * h * w;
    ops_conv c0 = TC_CONV(n, c, h, w, c, 3, 3, 1, 1, 1, 1, 1, false);
    ops_conv c1 = c0;
    c1.bias = true;
    tc_must(t, ops_conv_init(&c0, &t->err));
    tc_must(t, ops_conv_init(&c1, &t->err));
    ops_bn bn = {.n = n, .c = c, .hw = h * w, .eps = 1e-5f, .momentum = 0.1f, .training = true};
    t->conv[0] = c0, t->conv[1] = c1, t->bn[0] = bn, t->bn[1] = bn;
    tc_tensor(t, "x", sz, true);
    tc_tensor(t, "w0", (long)c * c * 9, true);
    tc_tensor(t, "gamma0", c, true);
    tc_tensor(t, "beta0", c, true);
    tc_tensor(t, "w1", (long)c * c * 9, true);
    tc_tensor(t, "b1", c, true);
    tc_tensor(t, "gamma1", c, true);
    tc_tensor(t, "beta1", c, true);
    for (int i = 0; i < 6; i++)
        tc_buf(t, sz);
    /* both convolutions take turns in one scratch: the one with the bias
       needs more (its gradient's plane sums) */
    t->scr[0] = tc_alloc(t, (long)ops_conv_scratch(&c1));
    t->scr[1] = tc_alloc(t, (long)ops_bn_scratch(&bn));
    t->scr[2] = tc_alloc(t, (long)ops_bn_scratch(&bn));
    tc_output(t, sz, res_fwd, res_bwd);
    return t;
}

/* Inception-like: hswish(concat(conv1x1(x), conv_g2(maxpool(x)), dwconv(x))). */
static void cat_fwd(tcase *t)
{
    float **b = t->buf;
    ops_conv_forward(&t->conv[0], b[0], t->x[0], t->x[1], t->x[2], t->scr[2]);
    ops_pool_forward(&t->pool[0], b[1], t->x[0], t->scr[0]);
    ops_conv_forward(&t->conv[1], b[2], b[1], t->x[3], NULL, t->scr[1]);
    ops_conv_forward(&t->conv[2], b[3], t->x[0], t->x[4], t->x[5], t->scr[3]);
    const float *ins[3] = {b[0], b[2], b[3]};
    ops_concat_forward(b[4], ins, t->chans, 3, t->n, t->hw);
    ops_act_forward(OPS_HSWISH, t->out, b[4], t->out_size);
}
static void cat_bwd(tcase *t, const float *dout)
{
    float **b = t->buf, **d = t->dbuf;
    tc_zero_dbufs(t);
    ops_act_backward(OPS_HSWISH, d[4], dout, b[4], t->out_size, true);
    float *dins[3] = {d[0], d[2], d[3]};
    ops_concat_backward(dins, d[4], t->chans, 3, t->n, t->hw, NULL);
    ops_conv_backward(&t->conv[2], t->g[0], t->g[4], t->g[5], d[3], t->x[0], t->x[4], t->scr[3],
                      true);
    ops_conv_backward(&t->conv[1], d[1], t->g[3], NULL, d[2], b[1], t->x[3], t->scr[1], true);
    ops_pool_backward(&t->pool[0], t->g[0], d[1], t->scr[0]);
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], t->g[2], d[0], t->x[0], t->x[1], t->scr[2],
                      true);
}
static tcase *mk_catnet(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = 2, c = 4, h = 6, w = 6;
    t->n = n, t->hw = h * w;
    ops_conv c0 = TC_CONV(n, c, h, w, 3, 1, 1, 1, 0, 0, 1, 1, true);
    ops_conv c1 = TC_CONV(n, c, h, w, 4, 3, 3, 1, 1, 1, 1, 2, false);
    ops_conv c2 = c1;
    c2.groups = 4, c2.bias = true;
    ops_pool p = TC_POOL(OPS_POOL_MAX, n, c, h, w, 3, 1, 1, false);
    tc_must(t, ops_conv_init(&c0, &t->err));
    tc_must(t, ops_conv_init(&c1, &t->err));
    tc_must(t, ops_conv_init(&c2, &t->err));
    tc_must(t, ops_pool_init(&p, &t->err));
    t->conv[0] = c0, t->conv[1] = c1, t->conv[2] = c2, t->pool[0] = p;
    t->chans[0] = 3, t->chans[1] = 4, t->chans[2] = 4;
    tc_tensor(t, "x", (long)n * c * h * w, true);
    tc_tensor(t, "w0", 3L * c, true);
    tc_tensor(t, "b0", 3, true);
    tc_tensor(t, "w1", 4L * 2 * 9, true);
    tc_tensor(t, "w2", 4L * 9, true);
    tc_tensor(t, "b2", 4, true);
    tc_buf(t, 3L * n * h * w);
    tc_buf(t, (long)n * c * h * w);
    tc_buf(t, 4L * n * h * w);
    tc_buf(t, 4L * n * h * w);
    tc_buf(t, 11L * n * h * w);
    t->scr[0] = tc_alloc(t, (long)ops_pool_scratch(&p));
    t->scr[1] = tc_alloc(t, (long)ops_conv_scratch(&c1));
    t->scr[2] = tc_alloc(t, (long)ops_conv_scratch(&c0));
    t->scr[3] = tc_alloc(t, (long)ops_conv_scratch(&c2));
    tc_output(t, 11L * n * h * w, cat_fwd, cat_bwd);
    return t;
}

/* Squeeze-excitation: x * sigmoid(layernorm(linear(relu(linear(gap(x)))))). */
static void se_fwd(tcase *t)
{
    float **b = t->buf;
    int n = t->n, c = t->c;
    ops_gap_forward(b[0], t->x[0], (long)n * c, t->hw);
    ops_linear_forward(b[1], b[0], t->x[1], t->x[2], n, c, 2);
    ops_act_forward(OPS_RELU, b[2], b[1], 2L * n);
    ops_linear_forward(b[3], b[2], t->x[3], t->x[4], n, 2, c);
    ops_ln_forward(&t->ln[0], b[4], b[3], t->x[5], t->x[6], t->scr[0]);
    ops_act_forward(OPS_SIGMOID, b[5], b[4], (long)n * c);
    ops_mul_forward(t->out, t->x[0], b[5], n, c, t->hw, true);
}
static void se_bwd(tcase *t, const float *dout)
{
    float **b = t->buf, **d = t->dbuf;
    int n = t->n, c = t->c;
    tc_zero_dbufs(t);
    ops_mul_backward(t->g[0], d[5], dout, t->x[0], b[5], n, c, t->hw, true, NULL);
    ops_act_backward(OPS_SIGMOID, d[4], d[5], b[4], (long)n * c, true);
    ops_ln_backward(&t->ln[0], d[3], t->g[5], t->g[6], d[4], b[3], t->x[5], t->scr[0]);
    ops_linear_backward(d[2], t->g[3], t->g[4], d[3], b[2], t->x[3], n, 2, c, true);
    ops_act_backward(OPS_RELU, d[1], d[2], b[1], 2L * n, true);
    ops_linear_backward(d[0], t->g[1], t->g[2], d[1], b[0], t->x[1], n, c, 2, true);
    ops_gap_backward(t->g[0], d[0], (long)n * c, t->hw);
}
static tcase *mk_senet(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = 2, c = 4;
    t->n = n, t->c = c, t->hw = 25;
    ops_ln l = {.n = n, .c = c, .hw = 1, .eps = 1e-5f};
    tc_must(t, ops_ln_init(&l, &t->err));
    t->ln[0] = l;
    tc_tensor(t, "x", (long)n * c * 25, true);
    tc_tensor(t, "w0", 2L * c, true);
    tc_tensor(t, "b0", 2, true);
    tc_tensor(t, "w1", 2L * c, true);
    tc_tensor(t, "b1", c, true);
    tc_tensor(t, "gamma", c, true);
    tc_tensor(t, "beta", c, true);
    tc_buf(t, (long)n * c);
    tc_buf(t, 2L * n);
    tc_buf(t, 2L * n);
    tc_buf(t, (long)n * c);
    tc_buf(t, (long)n * c);
    tc_buf(t, (long)n * c);
    t->scr[0] = tc_alloc(t, (long)ops_ln_scratch(&l));
    tc_output(t, (long)n * c * 25, se_fwd, se_bwd);
    return t;
}

/* Classifier head: xent(linear(dropout(gap(gelu(bn(conv_s2(x))))))). */
static void head_fwd(tcase *t)
{
    float **b = t->buf;
    int n = t->n;
    long gsz = (long)n * 4;
    ops_conv_forward(&t->conv[0], b[0], t->x[0], t->x[1], t->x[2], t->scr[0]);
    ops_bn_forward(&t->bn[0], b[1], b[0], t->x[3], t->x[4], t->s[0], t->s[1], t->scr[1]);
    ops_act_forward(OPS_GELU, b[2], b[1], t->bsize[2]);
    ops_gap_forward(b[3], b[2], gsz, t->hw);
    ops_dropout_apply(b[4], b[3], gsz, true, t->x[7]);
    ops_linear_forward(b[5], b[4], t->x[5], t->x[6], n, 4, t->k);
    labels_from(t, t->x[8], n);
    tc_must(t, ops_xent(&t->out[0], NULL, NULL, b[5], t->labels, n, t->k, t->smoothing, &t->err));
}
static void head_bwd(tcase *t, const float *dout)
{
    float **b = t->buf, **d = t->dbuf, loss;
    int n = t->n;
    long gsz = (long)n * 4;
    tc_zero_dbufs(t);
    labels_from(t, t->x[8], n);
    tc_must(t, ops_xent(&loss, NULL, d[5], b[5], t->labels, n, t->k, t->smoothing, &t->err));
    for (long i = 0; i < (long)n * t->k; i++)
        d[5][i] *= dout[0];
    ops_linear_backward(d[4], t->g[5], t->g[6], d[5], b[4], t->x[5], n, 4, t->k, true);
    ops_dropout_backward(d[3], d[4], gsz, true, t->x[7], true);
    ops_gap_backward(d[2], d[3], gsz, t->hw);
    ops_act_backward(OPS_GELU, d[1], d[2], b[1], t->bsize[2], true);
    ops_bn_backward(&t->bn[0], d[0], t->g[3], t->g[4], d[1], b[0], t->x[3], t->scr[1], true);
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], t->g[2], d[0], t->x[0], t->x[1], t->scr[0],
                      true);
}
static tcase *mk_head(const tc_spec *s)
{
    tcase *t = tc_from(s);
    int n = 3, k = 5;
    t->n = n, t->k = k, t->smoothing = 0.1f;
    ops_conv c0 = TC_CONV(n, 3, 6, 6, 4, 3, 3, 2, 1, 1, 1, 1, true);
    tc_must(t, ops_conv_init(&c0, &t->err));
    t->hw = c0.oh * c0.ow;
    ops_bn bn = {.n = n, .c = 4, .hw = t->hw, .eps = 1e-5f, .momentum = 0.1f, .training = true};
    tc_must(t, ops_bn_init(&bn, &t->err));
    t->conv[0] = c0, t->bn[0] = bn;
    tc_tensor(t, "x", (long)n * 3 * 36, true);
    tc_tensor(t, "w0", 4L * 3 * 9, true);
    tc_tensor(t, "b0", 4, true);
    tc_tensor(t, "gamma", 4, true);
    tc_tensor(t, "beta", 4, true);
    tc_tensor(t, "w1", (long)k * 4, true);
    tc_tensor(t, "b1", k, true);
    tc_tensor(t, "mask", (long)n * 4, false);
    tc_tensor(t, "labels", n, false);
    tc_state(t, "run_mean", 4);
    tc_state(t, "run_var", 4);
    for (int i = 0; i < 4; i++)
        t->s[1][i] = 1.0f;
    long csz = (long)n * 4 * t->hw;
    tc_buf(t, csz);
    tc_buf(t, csz);
    tc_buf(t, csz);
    tc_buf(t, (long)n * 4);
    tc_buf(t, (long)n * 4);
    tc_buf(t, (long)n * k);
    t->labels = (int *)(void *)tc_alloc(t, n);
    t->scr[0] = tc_alloc(t, (long)ops_conv_scratch(&c0));
    t->scr[1] = tc_alloc(t, (long)ops_bn_scratch(&bn));
    tc_output(t, 1, head_fwd, head_bwd);
    return t;
}

// clang-format off
static const tc_spec tc_all[] = {
    /* convolutions: n, cin, h, w, cout, kh, kw, stride, pad_h, pad_w, dilation, groups, bias */
    {"conv_1x1",           mk_conv, .conv = TC_CONV(2, 4, 5, 5, 6, 1, 1, 1, 0, 0, 1, 1, true)},
    {"conv_1x1_grouped",   mk_conv, .conv = TC_CONV(2, 4, 3, 5, 6, 1, 1, 1, 0, 0, 1, 2, false)},
    {"conv_general",       mk_conv, .conv = TC_CONV(2, 4, 7, 6, 6, 3, 2, 2, 2, 1, 2, 2, true)},
    {"conv_3x3",           mk_conv, .conv = TC_CONV(2, 3, 6, 6, 4, 3, 3, 1, 1, 1, 1, 1, false)},
    {"conv_strided_1x1",   mk_conv, .conv = TC_CONV(2, 3, 7, 7, 5, 1, 1, 2, 1, 0, 1, 1, true)},
    {"conv_depthwise",     mk_conv, .conv = TC_CONV(2, 4, 7, 7, 4, 3, 3, 2, 1, 1, 1, 4, true)},
    {"conv_depthwise_dil", mk_conv, .conv = TC_CONV(2, 3, 6, 7, 3, 3, 2, 1, 2, 1, 2, 3, false)},
    {"linear", .make = mk_linear},
    {"bn_train", mk_bn, .n = 2, .c = 3, .hw = 25, .training = true},
    {"bn_eval",  mk_bn, .n = 2, .c = 3, .hw = 25, .training = false},
    {"bn_vec",   mk_bn, .n = 4, .c = 5, .hw = 1,  .training = true},
    {"ln_map",   mk_ln, .n = 2, .c = 4, .hw = 9},
    {"ln_vec",   mk_ln, .n = 3, .c = 6, .hw = 1},
    {"relu",    mk_act, .act = OPS_RELU},
    {"silu",    mk_act, .act = OPS_SILU},
    {"hswish",  mk_act, .act = OPS_HSWISH},
    {"gelu",    mk_act, .act = OPS_GELU},
    {"sigmoid", mk_act, .act = OPS_SIGMOID},
    {"tanh",    mk_act, .act = OPS_TANH},
    /* pools: kind, n, c, h, w, k, stride, padding, ceil */
    {"maxpool_ceil",     mk_pool, .pool = TC_POOL(OPS_POOL_MAX, 2, 3, 7, 6, 3, 2, 1, true)},
    {"maxpool_floor",    mk_pool, .pool = TC_POOL(OPS_POOL_MAX, 2, 3, 7, 7, 2, 2, 0, false)},
    {"minpool_ceil",     mk_pool, .pool = TC_POOL(OPS_POOL_MIN, 2, 3, 7, 5, 2, 2, 0, true)},
    {"avgpool_ceil_pad", mk_pool, .pool = TC_POOL(OPS_POOL_AVG, 2, 3, 7, 6, 3, 2, 1, true)},
    {"avgpool_ceil",     mk_pool, .pool = TC_POOL(OPS_POOL_AVG, 2, 3, 5, 5, 2, 2, 0, true)},
    {"gap", .make = mk_gap},
    {"concat", .make = mk_concat},
    {"add", .make = mk_add},
    {"mul", mk_mul, .bcast = false},
    {"mul_bcast", mk_mul, .bcast = true},
    {"dropout", .make = mk_dropout},
    {"xent_smooth", mk_xent, .smoothing = 0.1f},
    {"xent_plain", mk_xent, .smoothing = 0.0f},
    {"resblock", .make = mk_resblock},
    {"catnet", .make = mk_catnet},
    {"senet", .make = mk_senet},
    {"head", .make = mk_head},
};
// clang-format on
#define TC_COUNT ((int)(sizeof tc_all / sizeof tc_all[0]))

/* The row called name of a table of n rows (a name no row has is the
 * test's own mistake: it aborts). */
static inline const tc_spec *tc_find(const tc_spec *table, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(table[i].name, name))
            return &table[i];
    fprintf(stderr, "test: no case %s\n", name);
    abort();
}

#endif
