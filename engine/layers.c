/* The operator families' model functions (see engine/layers.h). Each
 * family ends with its LAYER_FNS_family list (params, init, setup,
 * forward, backward); the table at the end gives every operator of
 * engine/net_ops.h its family's list. */
#include "engine/layers.h"

#include "engine/ops.h"

#include <stdlib.h>
#include <string.h>

static const model_layer *input_layer(const model *m, const net_node *nd, int j)
{
    return &m->layers[nd->in[j]];
}

/* The kernel's output size is the compiler's (which mirrors PyTorch's
 * formulas): a disagreement is a bug of one of them, caught here. */
static int check_size(const net_node *nd, int oh, int ow, gerr *err)
{
    if (oh == nd->shape.h && ow == nd->shape.w)
        return 0;
    return gerr_set(err, "line %d: %s output %dx%d disagrees with shape inference %dx%d", nd->line,
                    net_op_name(nd->op), oh, ow, nd->shape.h, nd->shape.w);
}

/* The designated initializers of the fields ops_conv and ops_pool name as
 * the node does: a batch of in-sized maps and the window (kernel, stride,
 * padding) that slides over them. */
#define WINDOW_OF(nd, in, batch)                                            \
    .n = (batch), .h = (in).h, .w = (in).w, .kh = (nd)->kh, .kw = (nd)->kw, \
    .stride = (nd)->stride, .pad_h = (nd)->pad_h, .pad_w = (nd)->pad_w

/* ---- conv ---------------------------------------------------------------- */

static void conv_params(const net_graph *g, const net_node *nd, layer_params *p)
{
    long cin = g->nodes[nd->in[0]].shape.c;
    p->nw = nd->shape.c * (cin / nd->groups) * nd->kh * nd->kw;
    p->nb = nd->bias ? nd->shape.c : 0;
    p->decay = true;
}

static void conv_init(model *m, int i, rng *r)
{
    const net_node *nd = &m->g->nodes[i];
    const model_layer *L = &m->layers[i];
    long fan_in = (m->g->nodes[nd->in[0]].shape.c / nd->groups) * nd->kh * nd->kw;
    rng_init_fan_in(r, m->params + L->w, L->nw, fan_in);
    if (L->nb)
        rng_init_fan_in(r, m->params + L->b, L->nb, fan_in);
}

static size_t conv_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                         gerr *err)
{
    const net_node *nd = &g->nodes[i];
    net_shape in = g->nodes[nd->in[0]].shape;
    ops_conv *c = &L->conv;
    *c = (ops_conv){.cin = in.c,
                    .cout = nd->shape.c,
                    .dilation = nd->dilation,
                    .groups = nd->groups,
                    .bias = nd->bias,
                    WINDOW_OF(nd, in, batch)};
    if (ops_conv_init(c, err))
        return (size_t)-1;
    if (check_size(nd, c->oh, c->ow, err))
        return (size_t)-1;
    size_t ws = ops_conv_scratch(c);
    if (ws > *conv_ws)
        *conv_ws = ws;
    return 0;
}

static void conv_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const float *P = m->params;
    L->conv.n = n;
    ops_conv_forward(&L->conv, L->out, input_layer(m, L->node, 0)->out, P + L->w,
                     L->nb ? P + L->b : NULL, m->conv_ws);
}

static void conv_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    float *G = m->grads;
    ops_conv_backward(&L->conv, I->dout, G + L->w, L->nb ? G + L->b : NULL, L->dout, I->out,
                      m->params + L->w, m->conv_ws, L->accumulate[0]);
}

#define LAYER_FNS_conv conv_params, conv_init, conv_setup, conv_forward, conv_backward

/* ---- linear -------------------------------------------------------------- */

static void linear_params(const net_graph *g, const net_node *nd, layer_params *p)
{
    p->nw = nd->shape.c * (long)g->nodes[nd->in[0]].shape.c;
    p->nb = nd->bias ? nd->shape.c : 0;
    p->decay = true;
}

static void linear_init(model *m, int i, rng *r)
{
    const net_node *nd = &m->g->nodes[i];
    const model_layer *L = &m->layers[i];
    long fan_in = m->g->nodes[nd->in[0]].shape.c;
    rng_init_fan_in(r, m->params + L->w, L->nw, fan_in);
    if (L->nb)
        rng_init_fan_in(r, m->params + L->b, L->nb, fan_in);
}

static void linear_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    const float *P = m->params;
    ops_linear_forward(L->out, I->out, P + L->w, L->nb ? P + L->b : NULL, n, I->node->shape.c,
                       L->node->shape.c);
}

static void linear_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    float *G = m->grads;
    ops_linear_backward(I->dout, G + L->w, L->nb ? G + L->b : NULL, L->dout, I->out,
                        m->params + L->w, n, I->node->shape.c, L->node->shape.c, L->accumulate[0]);
}

#define LAYER_FNS_linear linear_params, linear_init, NULL, linear_forward, linear_backward

/* ---- batchnorm, layernorm: per-channel gamma and beta -------------------- */

static void norm_params(const net_graph *g, const net_node *nd, layer_params *p)
{
    p->nw = p->nb = g->nodes[nd->in[0]].shape.c;
}

static void norm_init(model *m, int i, rng *r)
{
    const model_layer *L = &m->layers[i];
    rng_init_const(m->params + L->w, L->nw, 1.0f);
    rng_init_const(m->params + L->b, L->nb, 0.0f);
}

static void batchnorm_params(const net_graph *g, const net_node *nd, layer_params *p)
{
    norm_params(g, nd, p);
    p->nstats = 2 * p->nw;
}

static void batchnorm_init(model *m, int i, rng *r)
{
    const model_layer *L = &m->layers[i];
    norm_init(m, i, r);
    rng_init_const(m->buffers + L->stats, L->nw, 0.0f);
    rng_init_const(m->buffers + L->stats + L->nw, L->nw, 1.0f);
}

static size_t batchnorm_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                              gerr *err)
{
    const net_node *nd = &g->nodes[i];
    net_shape in = g->nodes[nd->in[0]].shape;
    ops_bn *b = &L->bn;
    int act = layer_fused_act(g, i);
    *b = (ops_bn){.n = batch,
                  .c = in.c,
                  .hw = in.h * in.w,
                  .eps = nd->eps,
                  .momentum = nd->momentum,
                  .training = true,
                  .fuse_act = act > 0,
                  .act = act > 0 ? (ops_act)layer_table[g->nodes[act].op].variant : OPS_RELU};
    if (ops_bn_init(b, err))
        return (size_t)-1;
    return ops_bn_scratch(b);
}

static void batchnorm_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const float *P = m->params;
    L->bn.n = n;
    L->bn.training = training;
    float *out = L->fuse_act ? m->layers[L->fuse_act].out : L->out;
    ops_bn_forward(&L->bn, out, input_layer(m, L->node, 0)->out, P + L->w, P + L->b,
                   m->buffers + L->stats, m->buffers + L->stats + L->bn.c, L->scratch);
}

static void batchnorm_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    if (L->fuse_act)
        ops_bn_act_backward(&L->bn, I->dout, m->grads + L->w, m->grads + L->b, L->dout,
                            m->layers[L->fuse_act].dout, I->out, m->params + L->w, m->params + L->b,
                            L->scratch, L->accumulate[0]);
    else
        ops_bn_backward(&L->bn, I->dout, m->grads + L->w, m->grads + L->b, L->dout, I->out,
                        m->params + L->w, L->scratch, L->accumulate[0]);
}

#define LAYER_FNS_batchnorm \
    batchnorm_params, batchnorm_init, batchnorm_setup, batchnorm_forward, batchnorm_backward

static size_t layernorm_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                              gerr *err)
{
    const net_node *nd = &g->nodes[i];
    net_shape in = g->nodes[nd->in[0]].shape;
    ops_ln *l = &L->ln;
    *l = (ops_ln){.n = batch, .c = in.c, .hw = in.h * in.w, .eps = nd->eps};
    if (ops_ln_init(l, err))
        return (size_t)-1;
    return ops_ln_scratch(l);
}

static void layernorm_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const float *P = m->params;
    L->ln.n = n;
    ops_ln_forward(&L->ln, L->out, input_layer(m, L->node, 0)->out, P + L->w, P + L->b, L->scratch);
}

static void layernorm_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    ops_ln_backward(&L->ln, I->dout, m->grads + L->w, m->grads + L->b, L->dout, I->out,
                    m->params + L->w, L->scratch);
}

#define LAYER_FNS_layernorm \
    norm_params, norm_init, layernorm_setup, layernorm_forward, layernorm_backward

/* ---- elementwise activations --------------------------------------------- */

static ops_act act_kind(const net_node *nd)
{
    return (ops_act)layer_table[nd->op].variant;
}

static void act_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    if (L->fused || (L->pool_relu && (!training || L->pool_trains)))
        return; /* the batchnorm before it wrote the output, or the pool after it runs it */
    ops_act_forward(act_kind(L->node), L->out, input_layer(m, L->node, 0)->out, (long)n * L->size);
}

static void act_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    if (I->dout && !L->fused && !L->pool_trains)
        ops_act_backward(act_kind(L->node), I->dout, L->dout, I->out, (long)n * L->size,
                         L->accumulate[0]);
}

#define LAYER_FNS_act NULL, NULL, NULL, act_forward, act_backward

/* ---- pools --------------------------------------------------------------- */

static size_t pool_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                         gerr *err)
{
    const net_node *nd = &g->nodes[i];
    net_shape in = g->nodes[nd->in[0]].shape;
    ops_pool *p = &L->pool;
    *p = (ops_pool){.kind = (ops_pool_kind)layer_table[nd->op].variant,
                    .c = in.c,
                    .ceil = nd->ceil,
                    WINDOW_OF(nd, in, batch)};
    if (ops_pool_init(p, err))
        return (size_t)-1;
    if (check_size(nd, p->oh, p->ow, err))
        return (size_t)-1;
    return ops_pool_scratch(p);
}

static void pool_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    L->pool.n = n;
    /* the argmax indices are for backward: none in evaluation */
    float *idx = training ? L->scratch : NULL;
    if (L->relu_in && (!training || L->pool_trains)) {
        /* layer_pool_relu: pool the relu's input, the relu applied as
           each extreme is stored, straight into this output (the relu's
           own output is not written) */
        const model_layer *R = &m->layers[L->relu_in];
        ops_pool_relu_forward(&L->pool, L->out, input_layer(m, R->node, 0)->out, idx);
        return;
    }
    ops_pool_forward(&L->pool, L->out, input_layer(m, L->node, 0)->out, idx);
}

static void pool_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    if (L->pool_trains) {
        /* the relu's backward too (layer_pool_relu_trains), as the relu
           would write its input's gradient: stored or added */
        const model_layer *R = &m->layers[L->relu_in];
        float *dx = input_layer(m, R->node, 0)->dout;
        if (dx)
            ops_pool_relu_backward(&L->pool, dx, L->dout, L->out, L->scratch, R->accumulate[0]);
        return;
    }
    float *dx = input_layer(m, L->node, 0)->dout;
    if (dx)
        ops_pool_backward(&L->pool, dx, L->dout, L->scratch);
}

#define LAYER_FNS_pool NULL, NULL, pool_setup, pool_forward, pool_backward

/* ---- gap ----------------------------------------------------------------- */

static void gap_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    ops_gap_forward(L->out, I->out, (long)n * L->node->shape.c,
                    I->node->shape.h * I->node->shape.w);
}

static void gap_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const model_layer *I = input_layer(m, L->node, 0);
    if (I->dout)
        ops_gap_backward(I->dout, L->dout, (long)n * L->node->shape.c,
                         I->node->shape.h * I->node->shape.w);
}

#define LAYER_FNS_gap NULL, NULL, NULL, gap_forward, gap_backward

/* ---- concat, add: n inputs (L->ins, L->dins, L->chans) -------------------- */

static void concat_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const net_node *nd = L->node;
    ops_concat_forward(L->out, L->ins, L->chans, nd->n_in, n, nd->shape.h * nd->shape.w);
}

static void concat_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const net_node *nd = L->node;
    ops_concat_backward(L->dins, L->dout, L->chans, nd->n_in, n, nd->shape.h * nd->shape.w,
                        L->accumulate);
}

#define LAYER_FNS_concat NULL, NULL, NULL, concat_forward, concat_backward

static void add_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    ops_add_forward(L->out, L->ins, L->node->n_in, (long)n * L->size);
}

static void add_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    ops_add_backward(L->dins, L->dout, L->node->n_in, (long)n * L->size, L->accumulate);
}

#define LAYER_FNS_add NULL, NULL, NULL, add_forward, add_backward

/* ---- mul: a map times a map, or times a per-channel vector ---------------- */

static size_t mul_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                        gerr *err)
{
    const net_node *nd = &g->nodes[i];
    net_shape a = g->nodes[nd->in[0]].shape, b = g->nodes[nd->in[1]].shape;
    L->broadcast = !(b.h == a.h && b.w == a.w);
    return 0;
}

static void mul_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    const net_node *nd = L->node;
    ops_mul_forward(L->out, input_layer(m, nd, 0)->out, input_layer(m, nd, 1)->out, n, nd->shape.c,
                    nd->shape.h * nd->shape.w, L->broadcast);
}

static void mul_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    const net_node *nd = L->node;
    const model_layer *I = input_layer(m, nd, 0), *J = input_layer(m, nd, 1);
    ops_mul_backward(I->dout, J->dout, L->dout, I->out, J->out, n, nd->shape.c,
                     nd->shape.h * nd->shape.w, L->broadcast, L->accumulate);
}

#define LAYER_FNS_mul NULL, NULL, mul_setup, mul_forward, mul_backward

/* ---- dropout ------------------------------------------------------------- */

static size_t dropout_setup(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                            gerr *err)
{
    return ops_dropout_scratch((long)batch * L->size);
}

static void dropout_forward(model *m, int i, int n, bool training)
{
    model_layer *L = &m->layers[i];
    ops_dropout_forward(L->out, input_layer(m, L->node, 0)->out, (long)n * L->size, L->node->p,
                        training, &m->dropout_rng, L->scratch);
}

static void dropout_backward(model *m, int i, int n)
{
    model_layer *L = &m->layers[i];
    float *dx = input_layer(m, L->node, 0)->dout;
    if (dx)
        ops_dropout_backward(dx, L->dout, (long)n * L->size, true, L->scratch, L->accumulate[0]);
}

#define LAYER_FNS_dropout NULL, NULL, dropout_setup, dropout_forward, dropout_backward

/* ---- the input and flatten compute nothing -------------------------------- */

#define LAYER_FNS_input   NULL, NULL, NULL, NULL, NULL
#define LAYER_FNS_flatten NULL, NULL, NULL, NULL, NULL

/* ---- the table ----------------------------------------------------------- */

#define LAYER_ROW(id, name, family, variant, flags) [NET_##id] = {variant, LAYER_FNS_##family},
const layer_fns layer_table[NET_OP_COUNT] = {NET_OP_INFO(LAYER_ROW)};
#undef LAYER_ROW

/* The one node that reads node i's output (once), or 0: i is the output,
 * unread, or read more than once. */
static int only_consumer(const net_graph *g, int i)
{
    if (i == g->output)
        return 0;
    int consumer = 0, uses = 0;
    for (int k = i + 1; k < g->n_nodes; k++)
        for (int j = 0; j < g->nodes[k].n_in; j++)
            if (g->nodes[k].in[j] == i) {
                consumer = k;
                uses++;
            }
    return uses == 1 ? consumer : 0;
}

/* A batchnorm whose output only an activation reads hands it the values
 * in the same pass (the pair was a fifth of ExquisiteNetV2's time, mostly
 * memory traffic), and its own output needs no storage. */
int layer_fused_act(const net_graph *g, int i)
{
    const char *off = getenv("GEVO_NO_FUSE");
    if (g->nodes[i].op != NET_BATCHNORM || (off && strcmp(off, "0")))
        return 0;
    int consumer = only_consumer(g, i);
    if (!consumer || layer_table[g->nodes[consumer].op].forward != act_forward)
        return 0;
    return consumer;
}

int layer_pool_relu(const net_graph *g, int i)
{
    const net_node *nd = &g->nodes[i];
    if (nd->op != NET_RELU || layer_fused_act(g, nd->in[0]) == i)
        return 0;
    int pool = only_consumer(g, i);
    if (!pool || (g->nodes[pool].op != NET_MAXPOOL && g->nodes[pool].op != NET_MINPOOL))
        return 0;
    /* the pooled values go through the relu's buffer: a padded pool can be
       larger than its input */
    return net_shape_size(g->nodes[pool].shape) <= net_shape_size(nd->shape) ? pool : 0;
}

bool layer_pool_relu_trains(const net_graph *g, int i)
{
    const char *off = getenv("GEVO_NO_FUSE");
    int pool = layer_pool_relu(g, i);
    if (!pool || pool != i + 1 || (off && strcmp(off, "0")))
        return false;
    const net_node *p = &g->nodes[pool];
    return p->stride >= p->kh && p->stride >= p->kw;
}
