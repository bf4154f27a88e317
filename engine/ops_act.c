/* Elementwise activations. One loop per kind, so the switch is outside the
 * loop and the compiler can vectorise the simple ones. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <math.h>

#pragma GCC optimize("O3")

typedef struct act_args {
    ops_act a;
    float *out;
    const float *in, *dout;
} act_args;

OPS_CLONES static void act_forward_span(ops_act a, float *restrict out, const float *restrict in, long size);
OPS_CLONES static void act_backward_span(ops_act a, float *restrict din, const float *restrict dout,
                                         const float *restrict in, long size);

static void act_forward_range(void *ctx, long lo, long hi)
{
    const act_args *x = ctx;
    act_forward_span(x->a, x->out + lo, x->in + lo, hi - lo);
}

static void act_backward_range(void *ctx, long lo, long hi)
{
    const act_args *x = ctx;
    act_backward_span(x->a, x->out + lo, x->dout + lo, x->in + lo, hi - lo);
}

/* Elementwise, so any split gives the same numbers. */
void ops_act_forward(ops_act a, float *out, const float *in, long size)
{
    act_args x = {.a = a, .out = out, .in = in};
    ops_par_for(size, size > OPS_PAR_MIN, act_forward_range, &x);
}

void ops_act_backward(ops_act a, float *din, const float *dout,
                      const float *in, long size)
{
    act_args x = {.a = a, .out = din, .in = in, .dout = dout};
    ops_par_for(size, size > OPS_PAR_MIN, act_backward_range, &x);
}

OPS_CLONES static void act_forward_span(ops_act a, float *restrict out, const float *restrict in, long size)
{
    switch (a) {
    case OPS_RELU:
        for (long i = 0; i < size; i++) out[i] = in[i] > 0.0f ? in[i] : 0.0f;
        break;
    case OPS_SILU:
        for (long i = 0; i < size; i++) out[i] = in[i] / (1.0f + expf(-in[i]));
        break;
    case OPS_HSWISH:
        for (long i = 0; i < size; i++) {
            float x = in[i], r = x + 3.0f;
            r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
            out[i] = x * r / 6.0f;
        }
        break;
    case OPS_GELU:
        for (long i = 0; i < size; i++)
            out[i] = 0.5f * in[i] * (1.0f + erff(in[i] * 0.70710678118654752f));
        break;
    case OPS_SIGMOID:
        for (long i = 0; i < size; i++) out[i] = 1.0f / (1.0f + expf(-in[i]));
        break;
    case OPS_TANH:
        for (long i = 0; i < size; i++) out[i] = tanhf(in[i]);
        break;
    }
}

OPS_CLONES static void act_backward_span(ops_act a, float *restrict din, const float *restrict dout,
                                         const float *restrict in, long size)
{
    switch (a) {
    case OPS_RELU:
        for (long i = 0; i < size; i++) din[i] += in[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case OPS_SILU:
        for (long i = 0; i < size; i++) {
            float s = 1.0f / (1.0f + expf(-in[i]));
            din[i] += dout[i] * s * (1.0f + in[i] * (1.0f - s));
        }
        break;
    case OPS_HSWISH:
        /* At the break points as PyTorch's vectorised hardswish_backward:
         * -0.5 at x = -3, 1 at x = 3 (its scalar tail loop gives 1.5 at 3;
         * torch 1.13 is inconsistent there, the measure-zero point). */
        for (long i = 0; i < size; i++) {
            float x = in[i];
            float d = x < -3.0f ? 0.0f : (x < 3.0f ? x / 3.0f + 0.5f : 1.0f);
            din[i] += dout[i] * d;
        }
        break;
    case OPS_GELU:
        for (long i = 0; i < size; i++) {
            float x = in[i];
            float cdf = 0.5f * (1.0f + erff(x * 0.70710678118654752f));
            float pdf = 0.39894228040143268f * expf(-0.5f * x * x);
            din[i] += dout[i] * (cdf + x * pdf);
        }
        break;
    case OPS_SIGMOID:
        for (long i = 0; i < size; i++) {
            float s = 1.0f / (1.0f + expf(-in[i]));
            din[i] += dout[i] * s * (1.0f - s);
        }
        break;
    case OPS_TANH:
        for (long i = 0; i < size; i++) {
            float t = tanhf(in[i]);
            din[i] += dout[i] * (1.0f - t * t);
        }
        break;
    }
}
