/* Elementwise activations. One loop per kind, so the switch is outside the
 * loop; the ones with exp or selects are written with eight-float vectors
 * (engine/ops_vec.h), which the auto-vectoriser does not manage. */
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "engine/ops_vec.h"

#include <math.h>

#pragma GCC optimize("O3")

typedef struct act_args {
    ops_act a;
    float *out;
    const float *in, *dout;
    bool acc;
} act_args;

static void act_forward_range(void *ctx, long lo, long hi)
{
    const act_args *x = ctx;
    ops_act_span_forward(x->a, x->out + lo, x->in + lo, hi - lo);
}

static void act_backward_range(void *ctx, long lo, long hi)
{
    const act_args *x = ctx;
    ops_act_span_backward(x->a, x->out + lo, x->dout + lo, x->in + lo, hi - lo, x->acc);
}

/* Elementwise, so any split gives the same numbers. */
void ops_act_forward(ops_act a, float *out, const float *in, long size)
{
    act_args x = {.a = a, .out = out, .in = in};
    ops_par_for(size, size > OPS_PAR_MIN, act_forward_range, &x);
}

void ops_act_backward(ops_act a, float *din, const float *dout, const float *in, long size,
                      bool accumulate)
{
    act_args x = {.a = a, .out = din, .in = in, .dout = dout, .acc = accumulate};
    ops_par_for(size, size > OPS_PAR_MIN, act_backward_range, &x);
}

OPS_CLONES void ops_act_span_forward(ops_act a, float *restrict out, const float *restrict in,
                                     long size)
{
    switch (a) {
    case OPS_RELU:
        for (long i = 0; i < size; i++)
            out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case OPS_SILU: V8_MAP1(size, out, r = in_v / (1.0f + v8_exp(-in_v)), in); break;
    case OPS_HSWISH:
        V8_MAP1(size, out,
                r = in_v * v8_min(v8_max(in_v + 3.0f, v8_all(0.0f)), v8_all(6.0f)) / 6.0f, in);
        break;
    case OPS_GELU:
        for (long i = 0; i < size; i++)
            out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * 0.70710678118654752f));
        break;
    case OPS_SIGMOID: V8_MAP1(size, out, r = 1.0f / (1.0f + v8_exp(-in_v)), in); break;
    case OPS_TANH:
        for (long i = 0; i < size; i++)
            out[i] = tanhf(in[i]);
        break;
    }
}

/* KEEP is what an element adds to: the gradient already there, or 0. */
OPS_CLONES void ops_act_span_backward(ops_act a, float *restrict din, const float *restrict dout,
                                      const float *restrict in, long size, bool acc)
{
#define KEEP(i) (acc ? din[i] : 0.0f)
/* TERM sets v8 t, the gradient of a vector of elements, from dout_v, in_v */
#define VEC_BACKWARD(TERM)         \
    do {                           \
        if (acc)                   \
            V8_MAP3(               \
                size, din,         \
                {                  \
                    TERM;          \
                    r = din_v + t; \
                },                 \
                din, dout, in);    \
        else                       \
            V8_MAP2(               \
                size, din,         \
                {                  \
                    TERM;          \
                    r = t;         \
                },                 \
                dout, in);         \
    } while (0)
    switch (a) {
    case OPS_RELU:
        for (long i = 0; i < size; i++)
            din[i] = KEEP(i) + (in[i] > 0.0f ? dout[i] : 0.0f);
        break;
    case OPS_SILU:
        VEC_BACKWARD(v8 s = 1.0f / (1.0f + v8_exp(-in_v));
                     v8 t = dout_v * s * (1.0f + in_v * (1.0f - s)));
        break;
    case OPS_HSWISH:
        /* At the break points as PyTorch's vectorised hardswish_backward:
         * -0.5 at x = -3, 1 at x = 3 (its scalar tail loop gives 1.5 at 3;
         * torch 1.13 is inconsistent there, the measure-zero point). */
        VEC_BACKWARD(v8 d = v8_select(in_v < 3.0f, in_v / 3.0f + 0.5f, v8_all(1.0f));
                     v8 t = dout_v * v8_select(in_v < -3.0f, v8_all(0.0f), d));
        break;
    case OPS_GELU:
        for (long i = 0; i < size; i++) {
            float x = in[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
            din[i] = KEEP(i) + dout[i] * (cdf + x * pdf);
        }
        break;
    case OPS_SIGMOID:
        VEC_BACKWARD(v8 s = 1.0f / (1.0f + v8_exp(-in_v)); v8 t = dout_v * s * (1.0f - s));
        break;
    case OPS_TANH:
        for (long i = 0; i < size; i++) {
            float t = tanhf(in[i]);
            din[i] = KEEP(i) + dout[i] * (1.0f - t * t);
        }
        break;
    }
#undef KEEP
#undef VEC_BACKWARD
}
