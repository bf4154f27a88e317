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
    void *mem[96];
    int nmem;
};

/* The accumulate argument the single-operator cases pass to backward
 * (conv, batchnorm, activations, add): true adds into the gradients, as the
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

static tcase *tc_new(const char *name)
{
    tcase *t = calloc(1, sizeof *t);
    if (!t)
        abort();
    snprintf(t->name, sizeof t->name, "%s", name);
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

static void tc_must(int rc, const gerr *err)
{
    if (rc) {
        fprintf(stderr, "test setup: %s\n", err->msg);
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

static tcase *mk_conv(const char *name, ops_conv cfg)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new(name);
    tc_must(ops_conv_init(&cfg, &err), &err);
    t->conv[0] = cfg;
    tc_tensor(t, "x", (long)cfg.n * cfg.cin * cfg.h * cfg.w, true);
    tc_tensor(t, "w", (long)cfg.cout * (cfg.cin / cfg.groups) * cfg.kh * cfg.kw, true);
    if (cfg.bias)
        tc_tensor(t, "b", cfg.cout, true);
    t->out_size = (long)cfg.n * cfg.cout * cfg.oh * cfg.ow;
    t->out = tc_alloc(t, t->out_size);
    t->scr[0] = tc_alloc(t, (long)ops_conv_scratch(&cfg));
    t->fwd = conv_fwd;
    t->bwd = conv_bwd;
    return t;
}

static tcase *mk_conv_1x1(void)
{
    ops_conv c = {.n = 2,
                  .cin = 4,
                  .h = 5,
                  .w = 5,
                  .cout = 6,
                  .kh = 1,
                  .kw = 1,
                  .stride = 1,
                  .dilation = 1,
                  .groups = 1,
                  .bias = true};
    return mk_conv("conv_1x1", c);
}
static tcase *mk_conv_1x1_grouped(void)
{
    ops_conv c = {.n = 2,
                  .cin = 4,
                  .h = 3,
                  .w = 5,
                  .cout = 6,
                  .kh = 1,
                  .kw = 1,
                  .stride = 1,
                  .dilation = 1,
                  .groups = 2,
                  .bias = false};
    return mk_conv("conv_1x1_grouped", c);
}
static tcase *mk_conv_general(void)
{
    ops_conv c = {.n = 2,
                  .cin = 4,
                  .h = 7,
                  .w = 6,
                  .cout = 6,
                  .kh = 3,
                  .kw = 2,
                  .stride = 2,
                  .pad_h = 2,
                  .pad_w = 1,
                  .dilation = 2,
                  .groups = 2,
                  .bias = true};
    return mk_conv("conv_general", c);
}
static tcase *mk_conv_3x3(void)
{
    ops_conv c = {.n = 2,
                  .cin = 3,
                  .h = 6,
                  .w = 6,
                  .cout = 4,
                  .kh = 3,
                  .kw = 3,
                  .stride = 1,
                  .pad_h = 1,
                  .pad_w = 1,
                  .dilation = 1,
                  .groups = 1,
                  .bias = false};
    return mk_conv("conv_3x3", c);
}
static tcase *mk_conv_strided_1x1(void)
{
    ops_conv c = {.n = 2,
                  .cin = 3,
                  .h = 7,
                  .w = 7,
                  .cout = 5,
                  .kh = 1,
                  .kw = 1,
                  .stride = 2,
                  .pad_h = 1,
                  .pad_w = 0,
                  .dilation = 1,
                  .groups = 1,
                  .bias = true};
    return mk_conv("conv_strided_1x1", c);
}
static tcase *mk_conv_depthwise(void)
{
    ops_conv c = {.n = 2,
                  .cin = 4,
                  .h = 7,
                  .w = 7,
                  .cout = 4,
                  .kh = 3,
                  .kw = 3,
                  .stride = 2,
                  .pad_h = 1,
                  .pad_w = 1,
                  .dilation = 1,
                  .groups = 4,
                  .bias = true};
    return mk_conv("conv_depthwise", c);
}
static tcase *mk_conv_depthwise_dil(void)
{
    ops_conv c = {.n = 2,
                  .cin = 3,
                  .h = 6,
                  .w = 7,
                  .cout = 3,
                  .kh = 3,
                  .kw = 2,
                  .stride = 1,
                  .pad_h = 2,
                  .pad_w = 1,
                  .dilation = 2,
                  .groups = 3,
                  .bias = false};
    return mk_conv("conv_depthwise_dil", c);
}

static void linear_fwd(tcase *t)
{
    ops_linear_forward(t->out, t->x[0], t->x[1], t->x[2], t->n, t->in_f, t->out_f);
}
static void linear_bwd(tcase *t, const float *dout)
{
    ops_linear_backward(t->g[0], t->g[1], t->g[2], dout, t->x[0], t->x[1], t->n, t->in_f, t->out_f);
}
static tcase *mk_linear(void)
{
    tcase *t = tc_new("linear");
    t->n = 3, t->in_f = 5, t->out_f = 4;
    tc_tensor(t, "x", 15, true);
    tc_tensor(t, "w", 20, true);
    tc_tensor(t, "b", 4, true);
    t->out_size = 12;
    t->out = tc_alloc(t, 12);
    t->fwd = linear_fwd;
    t->bwd = linear_bwd;
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
static tcase *mk_bn(const char *name, int n, int c, int hw, bool training)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new(name);
    ops_bn b = {.n = n, .c = c, .hw = hw, .eps = 1e-5f, .momentum = 0.1f, .training = training};
    tc_must(ops_bn_init(&b, &err), &err);
    t->bn[0] = b;
    tc_tensor(t, "x", (long)n * c * hw, true);
    tc_tensor(t, "gamma", c, true);
    tc_tensor(t, "beta", c, true);
    tc_state(t, "run_mean", c);
    tc_state(t, "run_var", c);
    for (int i = 0; i < c; i++)
        t->s[1][i] = 1.0f;
    t->out_size = (long)n * c * hw;
    t->out = tc_alloc(t, t->out_size);
    t->scr[0] = tc_alloc(t, (long)ops_bn_scratch(&b));
    t->fwd = bn_fwd;
    t->bwd = bn_bwd;
    return t;
}
static tcase *mk_bn_train(void)
{
    return mk_bn("bn_train", 2, 3, 25, true);
}
static tcase *mk_bn_eval(void)
{
    return mk_bn("bn_eval", 2, 3, 25, false);
}
static tcase *mk_bn_vec(void)
{
    return mk_bn("bn_vec", 4, 5, 1, true);
}

static void ln_fwd(tcase *t)
{
    ops_ln_forward(&t->ln[0], t->out, t->x[0], t->x[1], t->x[2], t->scr[0]);
}
static void ln_bwd(tcase *t, const float *dout)
{
    ops_ln_backward(&t->ln[0], t->g[0], t->g[1], t->g[2], dout, t->x[0], t->x[1], t->scr[0]);
}
static tcase *mk_ln(const char *name, int n, int c, int hw)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new(name);
    ops_ln l = {.n = n, .c = c, .hw = hw, .eps = 1e-5f};
    tc_must(ops_ln_init(&l, &err), &err);
    t->ln[0] = l;
    tc_tensor(t, "x", (long)n * c * hw, true);
    tc_tensor(t, "gamma", c, true);
    tc_tensor(t, "beta", c, true);
    t->out_size = (long)n * c * hw;
    t->out = tc_alloc(t, t->out_size);
    t->scr[0] = tc_alloc(t, (long)ops_ln_scratch(&l));
    t->fwd = ln_fwd;
    t->bwd = ln_bwd;
    return t;
}
static tcase *mk_ln_map(void)
{
    return mk_ln("ln_map", 2, 4, 9);
}
static tcase *mk_ln_vec(void)
{
    return mk_ln("ln_vec", 3, 6, 1);
}

static void act_fwd(tcase *t)
{
    ops_act_forward(t->act, t->out, t->x[0], t->out_size);
}
static void act_bwd(tcase *t, const float *dout)
{
    ops_act_backward(t->act, t->g[0], dout, t->x[0], t->out_size, tc_accumulate);
}
static tcase *mk_act(const char *name, ops_act a)
{
    tcase *t = tc_new(name);
    t->act = a;
    tc_tensor(t, "x", 2 * 3 * 16, true);
    t->out_size = 2 * 3 * 16;
    t->out = tc_alloc(t, t->out_size);
    t->fwd = act_fwd;
    t->bwd = act_bwd;
    return t;
}
static tcase *mk_relu(void)
{
    return mk_act("relu", OPS_RELU);
}
static tcase *mk_silu(void)
{
    return mk_act("silu", OPS_SILU);
}
static tcase *mk_hswish(void)
{
    return mk_act("hswish", OPS_HSWISH);
}
static tcase *mk_gelu(void)
{
    return mk_act("gelu", OPS_GELU);
}
static tcase *mk_sigmoid(void)
{
    return mk_act("sigmoid", OPS_SIGMOID);
}
static tcase *mk_tanh(void)
{
    return mk_act("tanh", OPS_TANH);
}

static void pool_fwd(tcase *t)
{
    ops_pool_forward(&t->pool[0], t->out, t->x[0], t->scr[0]);
}
static void pool_bwd(tcase *t, const float *dout)
{
    ops_pool_backward(&t->pool[0], t->g[0], dout, t->scr[0]);
}
static tcase *mk_pool(const char *name, ops_pool p)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new(name);
    tc_must(ops_pool_init(&p, &err), &err);
    t->pool[0] = p;
    tc_tensor(t, "x", (long)p.n * p.c * p.h * p.w, true);
    t->out_size = (long)p.n * p.c * p.oh * p.ow;
    t->out = tc_alloc(t, t->out_size);
    t->scr[0] = tc_alloc(t, (long)ops_pool_scratch(&p));
    t->fwd = pool_fwd;
    t->bwd = pool_bwd;
    return t;
}
static tcase *mk_maxpool_ceil(void)
{
    ops_pool p = {.kind = OPS_POOL_MAX,
                  .n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 6,
                  .kh = 3,
                  .kw = 3,
                  .stride = 2,
                  .pad_h = 1,
                  .pad_w = 1,
                  .ceil = true};
    return mk_pool("maxpool_ceil", p);
}
static tcase *mk_maxpool_floor(void)
{
    ops_pool p = {.kind = OPS_POOL_MAX,
                  .n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 7,
                  .kh = 2,
                  .kw = 2,
                  .stride = 2,
                  .ceil = false};
    return mk_pool("maxpool_floor", p);
}
static tcase *mk_minpool_ceil(void)
{
    ops_pool p = {.kind = OPS_POOL_MIN,
                  .n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 5,
                  .kh = 2,
                  .kw = 2,
                  .stride = 2,
                  .ceil = true};
    return mk_pool("minpool_ceil", p);
}
static tcase *mk_avgpool_ceil_pad(void)
{
    ops_pool p = {.kind = OPS_POOL_AVG,
                  .n = 2,
                  .c = 3,
                  .h = 7,
                  .w = 6,
                  .kh = 3,
                  .kw = 3,
                  .stride = 2,
                  .pad_h = 1,
                  .pad_w = 1,
                  .ceil = true};
    return mk_pool("avgpool_ceil_pad", p);
}
static tcase *mk_avgpool_ceil(void)
{
    ops_pool p = {.kind = OPS_POOL_AVG,
                  .n = 2,
                  .c = 3,
                  .h = 5,
                  .w = 5,
                  .kh = 2,
                  .kw = 2,
                  .stride = 2,
                  .ceil = true};
    return mk_pool("avgpool_ceil", p);
}

static void gap_fwd(tcase *t)
{
    ops_gap_forward(t->out, t->x[0], (long)t->n * t->c, t->hw);
}
static void gap_bwd(tcase *t, const float *dout)
{
    ops_gap_backward(t->g[0], dout, (long)t->n * t->c, t->hw);
}
static tcase *mk_gap(void)
{
    tcase *t = tc_new("gap");
    t->n = 2, t->c = 3, t->hw = 30;
    tc_tensor(t, "x", 180, true);
    t->out_size = 6;
    t->out = tc_alloc(t, 6);
    t->fwd = gap_fwd;
    t->bwd = gap_bwd;
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
    ops_concat_backward(dins, dout, t->chans, t->n_in, t->n, t->hw);
}
static tcase *mk_concat(void)
{
    static const char *names[3] = {"a", "b", "c"};
    tcase *t = tc_new("concat");
    t->n = 2, t->hw = 12, t->n_in = 3;
    t->chans[0] = 2, t->chans[1] = 3, t->chans[2] = 1;
    for (int i = 0; i < 3; i++)
        tc_tensor(t, names[i], (long)t->n * t->chans[i] * t->hw, true);
    t->out_size = 2 * 6 * 12;
    t->out = tc_alloc(t, t->out_size);
    t->fwd = concat_fwd;
    t->bwd = concat_bwd;
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
static tcase *mk_add(void)
{
    static const char *names[3] = {"a", "b", "c"};
    tcase *t = tc_new("add");
    t->n_in = 3;
    for (int i = 0; i < 3; i++)
        tc_tensor(t, names[i], 2 * 3 * 10, true);
    t->out_size = 60;
    t->out = tc_alloc(t, 60);
    t->fwd = add_fwd;
    t->bwd = add_bwd;
    return t;
}

static void mul_fwd(tcase *t)
{
    ops_mul_forward(t->out, t->x[0], t->x[1], t->n, t->c, t->hw, t->bcast);
}
static void mul_bwd(tcase *t, const float *dout)
{
    ops_mul_backward(t->g[0], t->g[1], dout, t->x[0], t->x[1], t->n, t->c, t->hw, t->bcast);
}
static tcase *mk_mul(const char *name, bool bcast)
{
    tcase *t = tc_new(name);
    t->n = 2, t->c = 3, t->hw = 20, t->bcast = bcast;
    tc_tensor(t, "a", 120, true);
    tc_tensor(t, "b", bcast ? 6 : 120, true);
    t->out_size = 120;
    t->out = tc_alloc(t, 120);
    t->fwd = mul_fwd;
    t->bwd = mul_bwd;
    return t;
}
static tcase *mk_mul_same(void)
{
    return mk_mul("mul", false);
}
static tcase *mk_mul_bcast(void)
{
    return mk_mul("mul_bcast", true);
}

/* The mask is an input here (a fixed, scaled 0/1 pattern), so the check
 * is deterministic and PyTorch can apply the same one. */
static void dropout_fwd(tcase *t)
{
    ops_dropout_apply(t->out, t->x[0], t->out_size, t->training, t->x[1]);
}
static void dropout_bwd(tcase *t, const float *dout)
{
    ops_dropout_backward(t->g[0], dout, t->out_size, t->training, t->x[1]);
}
static tcase *mk_dropout(void)
{
    tcase *t = tc_new("dropout");
    t->training = true, t->p = 0.3f;
    tc_tensor(t, "x", 2 * 4 * 9, true);
    tc_tensor(t, "mask", 2 * 4 * 9, false);
    t->out_size = 72;
    t->out = tc_alloc(t, 72);
    t->fwd = dropout_fwd;
    t->bwd = dropout_bwd;
    return t;
}

static void labels_from(tcase *t, const float *f, int n)
{
    for (int i = 0; i < n; i++)
        t->labels[i] = (int)f[i];
}
static void xent_fwd(tcase *t)
{
    gerr err = GERR_INIT;
    labels_from(t, t->x[1], t->n);
    tc_must(ops_xent(&t->out[0], NULL, NULL, t->x[0], t->labels, t->n, t->k, t->smoothing, &err),
            &err);
}
static void xent_bwd(tcase *t, const float *dout)
{
    gerr err = GERR_INIT;
    float loss, *d = t->scr[0];
    labels_from(t, t->x[1], t->n);
    tc_must(ops_xent(&loss, NULL, d, t->x[0], t->labels, t->n, t->k, t->smoothing, &err), &err);
    for (long i = 0; i < (long)t->n * t->k; i++)
        t->g[0][i] += dout[0] * d[i];
}
static tcase *mk_xent(const char *name, float smoothing)
{
    tcase *t = tc_new(name);
    t->n = 5, t->k = 7, t->smoothing = smoothing;
    tc_tensor(t, "logits", 35, true);
    tc_tensor(t, "labels", 5, false);
    t->labels = (int *)(void *)tc_alloc(t, 5);
    t->scr[0] = tc_alloc(t, 35);
    t->out_size = 1;
    t->out = tc_alloc(t, 1);
    t->fwd = xent_fwd;
    t->bwd = xent_bwd;
    return t;
}
static tcase *mk_xent_smooth(void)
{
    return mk_xent("xent_smooth", 0.1f);
}
static tcase *mk_xent_plain(void)
{
    return mk_xent("xent_plain", 0.0f);
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
static tcase *mk_resblock(void)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new("resblock");
    int n = 2, c = 4, h = 6, w = 6;
    long sz = (long)n * c * h * w;
    ops_conv c0 = {.n = n,
                   .cin = c,
                   .h = h,
                   .w = w,
                   .cout = c,
                   .kh = 3,
                   .kw = 3,
                   .stride = 1,
                   .pad_h = 1,
                   .pad_w = 1,
                   .dilation = 1,
                   .groups = 1,
                   .bias = false};
    ops_conv c1 = c0;
    c1.bias = true;
    tc_must(ops_conv_init(&c0, &err), &err);
    tc_must(ops_conv_init(&c1, &err), &err);
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
    t->scr[0] = tc_alloc(t, (long)ops_conv_scratch(&c0));
    t->scr[1] = tc_alloc(t, (long)ops_bn_scratch(&bn));
    t->scr[2] = tc_alloc(t, (long)ops_bn_scratch(&bn));
    t->out_size = sz;
    t->out = tc_alloc(t, sz);
    t->fwd = res_fwd;
    t->bwd = res_bwd;
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
    ops_concat_backward(dins, d[4], t->chans, 3, t->n, t->hw);
    ops_conv_backward(&t->conv[2], t->g[0], t->g[4], t->g[5], d[3], t->x[0], t->x[4], t->scr[3],
                      true);
    ops_conv_backward(&t->conv[1], d[1], t->g[3], NULL, d[2], b[1], t->x[3], t->scr[1], true);
    ops_pool_backward(&t->pool[0], t->g[0], d[1], t->scr[0]);
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], t->g[2], d[0], t->x[0], t->x[1], t->scr[2],
                      true);
}
static tcase *mk_catnet(void)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new("catnet");
    int n = 2, c = 4, h = 6, w = 6;
    t->n = n, t->hw = h * w;
    ops_conv c0 = {.n = n,
                   .cin = c,
                   .h = h,
                   .w = w,
                   .cout = 3,
                   .kh = 1,
                   .kw = 1,
                   .stride = 1,
                   .dilation = 1,
                   .groups = 1,
                   .bias = true};
    ops_conv c1 = {.n = n,
                   .cin = c,
                   .h = h,
                   .w = w,
                   .cout = 4,
                   .kh = 3,
                   .kw = 3,
                   .stride = 1,
                   .pad_h = 1,
                   .pad_w = 1,
                   .dilation = 1,
                   .groups = 2,
                   .bias = false};
    ops_conv c2 = c1;
    c2.groups = 4, c2.bias = true;
    ops_pool p = {.kind = OPS_POOL_MAX,
                  .n = n,
                  .c = c,
                  .h = h,
                  .w = w,
                  .kh = 3,
                  .kw = 3,
                  .stride = 1,
                  .pad_h = 1,
                  .pad_w = 1,
                  .ceil = false};
    tc_must(ops_conv_init(&c0, &err), &err);
    tc_must(ops_conv_init(&c1, &err), &err);
    tc_must(ops_conv_init(&c2, &err), &err);
    tc_must(ops_pool_init(&p, &err), &err);
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
    t->out_size = 11L * n * h * w;
    t->out = tc_alloc(t, t->out_size);
    t->fwd = cat_fwd;
    t->bwd = cat_bwd;
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
    ops_mul_backward(t->g[0], d[5], dout, t->x[0], b[5], n, c, t->hw, true);
    ops_act_backward(OPS_SIGMOID, d[4], d[5], b[4], (long)n * c, true);
    ops_ln_backward(&t->ln[0], d[3], t->g[5], t->g[6], d[4], b[3], t->x[5], t->scr[0]);
    ops_linear_backward(d[2], t->g[3], t->g[4], d[3], b[2], t->x[3], n, 2, c);
    ops_act_backward(OPS_RELU, d[1], d[2], b[1], 2L * n, true);
    ops_linear_backward(d[0], t->g[1], t->g[2], d[1], b[0], t->x[1], n, c, 2);
    ops_gap_backward(t->g[0], d[0], (long)n * c, t->hw);
}
static tcase *mk_senet(void)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new("senet");
    int n = 2, c = 4;
    t->n = n, t->c = c, t->hw = 25;
    ops_ln l = {.n = n, .c = c, .hw = 1, .eps = 1e-5f};
    tc_must(ops_ln_init(&l, &err), &err);
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
    t->out_size = (long)n * c * 25;
    t->out = tc_alloc(t, t->out_size);
    t->fwd = se_fwd;
    t->bwd = se_bwd;
    return t;
}

/* Classifier head: xent(linear(dropout(gap(gelu(bn(conv_s2(x))))))). */
static void head_fwd(tcase *t)
{
    gerr err = GERR_INIT;
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
    tc_must(ops_xent(&t->out[0], NULL, NULL, b[5], t->labels, n, t->k, t->smoothing, &err), &err);
}
static void head_bwd(tcase *t, const float *dout)
{
    gerr err = GERR_INIT;
    float **b = t->buf, **d = t->dbuf, loss;
    int n = t->n;
    long gsz = (long)n * 4;
    tc_zero_dbufs(t);
    labels_from(t, t->x[8], n);
    tc_must(ops_xent(&loss, NULL, d[5], b[5], t->labels, n, t->k, t->smoothing, &err), &err);
    for (long i = 0; i < (long)n * t->k; i++)
        d[5][i] *= dout[0];
    ops_linear_backward(d[4], t->g[5], t->g[6], d[5], b[4], t->x[5], n, 4, t->k);
    ops_dropout_backward(d[3], d[4], gsz, true, t->x[7]);
    ops_gap_backward(d[2], d[3], gsz, t->hw);
    ops_act_backward(OPS_GELU, d[1], d[2], b[1], t->bsize[2], true);
    ops_bn_backward(&t->bn[0], d[0], t->g[3], t->g[4], d[1], b[0], t->x[3], t->scr[1], true);
    ops_conv_backward(&t->conv[0], t->g[0], t->g[1], t->g[2], d[0], t->x[0], t->x[1], t->scr[0],
                      true);
}
static tcase *mk_head(void)
{
    gerr err = GERR_INIT;
    tcase *t = tc_new("head");
    int n = 3, k = 5;
    t->n = n, t->k = k, t->smoothing = 0.1f;
    ops_conv c0 = {.n = n,
                   .cin = 3,
                   .h = 6,
                   .w = 6,
                   .cout = 4,
                   .kh = 3,
                   .kw = 3,
                   .stride = 2,
                   .pad_h = 1,
                   .pad_w = 1,
                   .dilation = 1,
                   .groups = 1,
                   .bias = true};
    tc_must(ops_conv_init(&c0, &err), &err);
    t->hw = c0.oh * c0.ow;
    ops_bn bn = {.n = n, .c = 4, .hw = t->hw, .eps = 1e-5f, .momentum = 0.1f, .training = true};
    tc_must(ops_bn_init(&bn, &err), &err);
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
    t->out_size = 1;
    t->out = tc_alloc(t, 1);
    t->fwd = head_fwd;
    t->bwd = head_bwd;
    return t;
}

typedef tcase *(*tc_maker)(void);

static const tc_maker tc_all[] = {
    mk_conv_1x1,
    mk_conv_1x1_grouped,
    mk_conv_general,
    mk_conv_3x3,
    mk_conv_strided_1x1,
    mk_conv_depthwise,
    mk_conv_depthwise_dil,
    mk_linear,
    mk_bn_train,
    mk_bn_eval,
    mk_bn_vec,
    mk_ln_map,
    mk_ln_vec,
    mk_relu,
    mk_silu,
    mk_hswish,
    mk_gelu,
    mk_sigmoid,
    mk_tanh,
    mk_maxpool_ceil,
    mk_maxpool_floor,
    mk_minpool_ceil,
    mk_avgpool_ceil_pad,
    mk_avgpool_ceil,
    mk_gap,
    mk_concat,
    mk_add,
    mk_mul_same,
    mk_mul_bcast,
    mk_dropout,
    mk_xent_smooth,
    mk_xent_plain,
    mk_resblock,
    mk_catnet,
    mk_senet,
    mk_head,
};
#define TC_COUNT ((int)(sizeof tc_all / sizeof tc_all[0]))

#endif
