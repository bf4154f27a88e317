/* Elementwise activations. One loop per kind, so the switch is outside the
 * loop; the ones with exp or selects are written with eight-float vectors
 * (engine/ops_vec.h), which the auto-vectoriser does not manage. */
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "engine/ops_vec.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

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

/* ---- sixteen floats a step, where the CPU has AVX-512 ----------------------
 * The exp-based activations (silu, sigmoid) were an eighth of
 * ExquisiteNetV2's evaluation time on eight-float vectors. On a CPU with
 * AVX-512 the same arithmetic runs on sixteen floats a step: every lane
 * is computed exactly as the eight-float code computes it (no fused
 * multiply-adds, which the eight-float clones do not use either), so the
 * numbers do not depend on the CPU's vector width, on which elements the
 * wide loop takes and which the eight-float tail takes, or on the thread
 * split. GEVO_NO_AVX512=1 keeps the eight-float code (to measure). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define ACT_WIDE 1
#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC optimize("fp-contract=off")

typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));
typedef float v16u __attribute__((vector_size(64), aligned(4)));

VEC_EXP_DEFINE(v16_exp, v16, v16i)

#define W16(p)    (*(const v16u *)(p))
#define W16_AT(p) (*(v16u *)(p))

/* The floats of [0, size) it computed: a multiple of 16, 0 for kinds it
 * does not cover (the eight-float code does the rest). */
static long wide_forward(ops_act a, float *restrict out, const float *restrict in, long size)
{
    const v16 zero = {0};
    long i = 0;
    switch (a) {
    case OPS_SILU:
        for (; i + 16 <= size; i += 16) {
            v16 x = W16(in + i);
            W16_AT(out + i) = x / (1.0f + v16_exp(-x));
        }
        break;
    case OPS_SIGMOID:
        for (; i + 16 <= size; i += 16)
            W16_AT(out + i) = 1.0f / (1.0f + v16_exp(-W16(in + i)));
        break;
    case OPS_HSWISH:
        for (; i + 16 <= size; i += 16) {
            v16 x = W16(in + i), t = x + 3.0f;
            t = VEC_SELECT(v16, v16i, t > zero, t, zero);
            t = VEC_SELECT(v16, v16i, t < 6.0f, t, zero + 6.0f);
            W16_AT(out + i) = x * t / 6.0f;
        }
        break;
    default: break;
    }
    return i;
}

static long wide_backward(ops_act a, float *restrict din, const float *restrict dout,
                          const float *restrict in, long size, bool acc)
{
    const v16 zero = {0};
    long i = 0;
    switch (a) {
    case OPS_SILU:
        for (; i + 16 <= size; i += 16) {
            v16 x = W16(in + i), s = 1.0f / (1.0f + v16_exp(-x));
            v16 t = W16(dout + i) * s * (1.0f + x * (1.0f - s));
            W16_AT(din + i) = acc ? W16(din + i) + t : t;
        }
        break;
    case OPS_SIGMOID:
        for (; i + 16 <= size; i += 16) {
            v16 s = 1.0f / (1.0f + v16_exp(-W16(in + i)));
            v16 t = W16(dout + i) * s * (1.0f - s);
            W16_AT(din + i) = acc ? W16(din + i) + t : t;
        }
        break;
    case OPS_HSWISH:
        for (; i + 16 <= size; i += 16) {
            v16 x = W16(in + i);
            v16 d = VEC_SELECT(v16, v16i, x < 3.0f, x / 3.0f + 0.5f, zero + 1.0f);
            v16 t = W16(dout + i) * VEC_SELECT(v16, v16i, x < -3.0f, zero, d);
            W16_AT(din + i) = acc ? W16(din + i) + t : t;
        }
        break;
    default: break;
    }
    return i;
}

#undef W16
#undef W16_AT
#pragma GCC pop_options

/* Whether the wide loops run: the CPU (and its OS) has AVX-512 and
 * GEVO_NO_AVX512 is unset; asked once. */
static bool wide_on(void)
{
    static _Atomic int on = -1;
    int v = atomic_load_explicit(&on, memory_order_relaxed);
    if (v < 0) {
        const char *off = getenv("GEVO_NO_AVX512");
        v = __builtin_cpu_supports("avx512f") && !(off && *off && strcmp(off, "0"));
        atomic_store_explicit(&on, v, memory_order_relaxed);
    }
    return v;
}
#endif

OPS_CLONES void ops_act_span_forward(ops_act a, float *restrict out, const float *restrict in,
                                     long size)
{
#ifdef ACT_WIDE
    if (wide_on()) {
        long done = wide_forward(a, out, in, size);
        out += done;
        in += done;
        size -= done;
    }
#endif
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
#ifdef ACT_WIDE
    if (wide_on()) {
        long done = wide_backward(a, din, dout, in, size, acc);
        din += done;
        dout += done;
        in += done;
        size -= done;
    }
#endif
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
