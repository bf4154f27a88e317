/* Tensor plumbing: concat, add, mul (with squeeze-excitation broadcast),
 * dropout. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <string.h>

#pragma GCC optimize("O3")

typedef struct misc_args {
    float *out, *da, *db;
    const float *a, *b, *dout;
    const float *const *ins;
    float *const *dins;
    const int *chans;
    int n_in, hw;
    size_t total;
    const bool *acc; /* backward: per input, false stores; NULL = all add */
} misc_args;

static void concat_forward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    for (long i = lo; i < hi; i++) {
        float *o = m->out + (size_t)i * m->total;
        for (int k = 0; k < m->n_in; k++) {
            size_t sz = (size_t)m->chans[k] * m->hw;
            memcpy(o, m->ins[k] + (size_t)i * sz, sizeof(float) * sz);
            o += sz;
        }
    }
}

/* Runs a concat direction over the n images: m->total, the values of one
 * image of the output, is the sum of the inputs' channels times hw. */
static void concat_run(misc_args *m, int n, void (*range)(void *, long, long))
{
    for (int k = 0; k < m->n_in; k++)
        m->total += (size_t)m->chans[k] * m->hw;
    ops_par_for(n, (long)(n * m->total) > OPS_PAR_MIN, range, m);
}

void ops_concat_forward(float *out, const float *const *ins, const int *chans, int n_in, int n,
                        int hw)
{
    misc_args m = {.out = out, .ins = ins, .chans = chans, .n_in = n_in, .hw = hw};
    concat_run(&m, n, concat_forward_range);
}

OPS_CLONES static void concat_backward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    for (long i = lo; i < hi; i++) {
        const float *g = m->dout + (size_t)i * m->total;
        for (int k = 0; k < m->n_in; k++) {
            size_t sz = (size_t)m->chans[k] * m->hw;
            if (m->dins[k]) {
                float *restrict d = m->dins[k] + (size_t)i * sz;
                if (m->acc && !m->acc[k])
                    memcpy(d, g, sizeof(float) * sz);
                else
                    for (size_t j = 0; j < sz; j++)
                        d[j] += g[j];
            }
            g += sz;
        }
    }
}

void ops_concat_backward(float *const *dins, const float *dout, const int *chans, int n_in, int n,
                         int hw, const bool *accumulate)
{
    misc_args m = {
        .dins = dins, .dout = dout, .chans = chans, .n_in = n_in, .hw = hw, .acc = accumulate};
    concat_run(&m, n, concat_backward_range);
}

/* out may be ins[0] (no restrict on it). The first two inputs are added
 * in one pass rather than copied, then added to (a residual add is two). */
OPS_CLONES static void add_forward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    float *out = m->out;
    int k = 1;
    if (m->n_in >= 2) {
        const float *x0 = m->ins[0], *x1 = m->ins[1];
        for (long j = lo; j < hi; j++)
            out[j] = x0[j] + x1[j];
        k = 2;
    } else if (out != m->ins[0]) {
        memmove(out + lo, m->ins[0] + lo, sizeof(float) * (size_t)(hi - lo));
    }
    for (; k < m->n_in; k++) {
        const float *x = m->ins[k];
        for (long j = lo; j < hi; j++)
            out[j] += x[j];
    }
}

void ops_add_forward(float *out, const float *const *ins, int n_in, long size)
{
    if (n_in < 1)
        return;
    misc_args m = {.out = out, .ins = ins, .n_in = n_in};
    ops_par_for(size, size * n_in > OPS_PAR_MIN, add_forward_range, &m);
}

OPS_CLONES static void add_backward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    for (int k = 0; k < m->n_in; k++) {
        float *restrict d = m->dins[k];
        const float *restrict g = m->dout;
        if (!d)
            continue;
        if (m->acc && !m->acc[k])
            memcpy(d + lo, g + lo, sizeof(float) * (size_t)(hi - lo));
        else
            for (long j = lo; j < hi; j++)
                d[j] += g[j];
    }
}

void ops_add_backward(float *const *dins, const float *dout, int n_in, long size,
                      const bool *accumulate)
{
    misc_args m = {.dins = dins, .dout = dout, .n_in = n_in, .acc = accumulate};
    ops_par_for(size, size * n_in > OPS_PAR_MIN, add_backward_range, &m);
}

/* Ranges over planes (n * c) when broadcast, else over elements. */
OPS_CLONES static void mul_forward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    const float *restrict a = m->a, *restrict b = m->b;
    float *restrict out = m->out;
    if (!m->n_in) {
        for (long j = lo; j < hi; j++)
            out[j] = a[j] * b[j];
        return;
    }
    for (long pl = lo; pl < hi; pl++) {
        const float *x = a + (size_t)pl * m->hw;
        float *o = out + (size_t)pl * m->hw, s = b[pl];
        for (int j = 0; j < m->hw; j++)
            o[j] = x[j] * s;
    }
}

void ops_mul_forward(float *out, const float *a, const float *b, int n, int c, int hw,
                     bool broadcast)
{
    size_t size = (size_t)n * c * hw;
    misc_args m = {.out = out, .a = a, .b = b, .hw = hw, .n_in = broadcast};
    ops_par_for(broadcast ? (long)n * c : (long)size, (long)size > OPS_PAR_MIN, mul_forward_range,
                &m);
}

OPS_CLONES static void mul_backward_range(void *ctx, long lo, long hi)
{
    const misc_args *m = ctx;
    const float *restrict a = m->a, *restrict b = m->b, *restrict dout = m->dout;
    float *da = m->da, *db = m->db; /* the same buffer for mul(x, x) */
    bool add_a = !m->acc || m->acc[0], add_b = !m->acc || m->acc[1];
    if (!m->n_in) {
        /* da's pass first: for mul(x, x) it stores, db's then adds */
        if (da && add_a)
            for (long j = lo; j < hi; j++)
                da[j] += dout[j] * b[j];
        else if (da)
            for (long j = lo; j < hi; j++)
                da[j] = dout[j] * b[j];
        if (db && add_b)
            for (long j = lo; j < hi; j++)
                db[j] += dout[j] * a[j];
        else if (db)
            for (long j = lo; j < hi; j++)
                db[j] = dout[j] * a[j];
        return;
    }
    int hw = m->hw;
    for (long pl = lo; pl < hi; pl++) {
        const float *x = a + (size_t)pl * hw, *g = dout + (size_t)pl * hw;
        if (da) {
            float *d = da + (size_t)pl * hw, s = b[pl];
            if (add_a)
                for (int j = 0; j < hw; j++)
                    d[j] += g[j] * s;
            else
                for (int j = 0; j < hw; j++)
                    d[j] = g[j] * s;
        }
        if (db) {
            float acc = 0.0f;
            for (int j = 0; j < hw; j++)
                acc += g[j] * x[j];
            db[pl] = add_b ? db[pl] + acc : acc;
        }
    }
}

void ops_mul_backward(float *da, float *db, const float *dout, const float *a, const float *b,
                      int n, int c, int hw, bool broadcast, const bool *accumulate)
{
    size_t size = (size_t)n * c * hw;
    misc_args m = {.da = da,
                   .db = db,
                   .dout = dout,
                   .a = a,
                   .b = b,
                   .hw = hw,
                   .n_in = broadcast,
                   .acc = accumulate};
    ops_par_for(broadcast ? (long)n * c : (long)size, (long)size > OPS_PAR_MIN, mul_backward_range,
                &m);
}

size_t ops_dropout_scratch(long size)
{
    return (size_t)size;
}

void ops_dropout_forward(float *out, const float *in, long size, float p, bool training, rng *r,
                         float *scratch)
{
    if (training) {
        float keep = 1.0f - p, scale = keep > 0.0f ? 1.0f / keep : 0.0f;
        rng_fill_uniform(r, scratch, size);
        for (long j = 0; j < size; j++)
            scratch[j] = scratch[j] < keep ? scale : 0.0f;
    }
    ops_dropout_apply(out, in, size, training, scratch);
}

void ops_dropout_apply(float *out, const float *in, long size, bool training, const float *scratch)
{
    if (!training) {
        if (out != in)
            memmove(out, in, sizeof(float) * (size_t)size);
        return;
    }
    for (long j = 0; j < size; j++)
        out[j] = in[j] * scratch[j];
}

void ops_dropout_backward(float *din, const float *dout, long size, bool training,
                          const float *scratch, bool accumulate)
{
    if (!din)
        return;
    if (!training && !accumulate)
        memcpy(din, dout, sizeof(float) * (size_t)size);
    else if (!training)
        for (long j = 0; j < size; j++)
            din[j] += dout[j];
    else if (!accumulate)
        for (long j = 0; j < size; j++)
            din[j] = dout[j] * scratch[j];
    else
        for (long j = 0; j < size; j++)
            din[j] += dout[j] * scratch[j];
}
