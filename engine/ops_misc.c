/* Tensor plumbing: concat, add, mul (with squeeze-excitation broadcast),
 * dropout. */
#include "engine/ops.h"

#include <string.h>

void ops_concat_forward(float *out, const float *const *ins, const int *chans,
                        int n_in, int n, int hw)
{
    size_t total = 0;
    for (int k = 0; k < n_in; k++) total += (size_t)chans[k] * hw;
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * total;
        for (int k = 0; k < n_in; k++) {
            size_t sz = (size_t)chans[k] * hw;
            memcpy(o, ins[k] + (size_t)i * sz, sizeof(float) * sz);
            o += sz;
        }
    }
}

void ops_concat_backward(float *const *dins, const float *dout,
                         const int *chans, int n_in, int n, int hw)
{
    size_t total = 0;
    for (int k = 0; k < n_in; k++) total += (size_t)chans[k] * hw;
    for (int i = 0; i < n; i++) {
        const float *g = dout + (size_t)i * total;
        for (int k = 0; k < n_in; k++) {
            size_t sz = (size_t)chans[k] * hw;
            if (dins[k]) {
                float *d = dins[k] + (size_t)i * sz;
                for (size_t j = 0; j < sz; j++) d[j] += g[j];
            }
            g += sz;
        }
    }
}

void ops_add_forward(float *out, const float *const *ins, int n_in, long size)
{
    if (n_in < 1) return;
    if (out != ins[0]) memmove(out, ins[0], sizeof(float) * (size_t)size);
    for (int k = 1; k < n_in; k++) {
        const float *x = ins[k];
        for (long j = 0; j < size; j++) out[j] += x[j];
    }
}

void ops_add_backward(float *const *dins, const float *dout, int n_in, long size)
{
    for (int k = 0; k < n_in; k++) {
        float *d = dins[k];
        if (!d) continue;
        for (long j = 0; j < size; j++) d[j] += dout[j];
    }
}

void ops_mul_forward(float *out, const float *a, const float *b, int n, int c,
                     int hw, bool broadcast)
{
    size_t size = (size_t)n * c * hw;
    if (!broadcast) {
        for (size_t j = 0; j < size; j++) out[j] = a[j] * b[j];
        return;
    }
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = a + pl * hw;
        float *o = out + pl * hw, s = b[pl];
        for (int j = 0; j < hw; j++) o[j] = x[j] * s;
    }
}

void ops_mul_backward(float *da, float *db, const float *dout, const float *a,
                      const float *b, int n, int c, int hw, bool broadcast)
{
    size_t size = (size_t)n * c * hw;
    if (!broadcast) {
        if (da)
            for (size_t j = 0; j < size; j++) da[j] += dout[j] * b[j];
        if (db)
            for (size_t j = 0; j < size; j++) db[j] += dout[j] * a[j];
        return;
    }
    for (size_t pl = 0; pl < (size_t)n * c; pl++) {
        const float *x = a + pl * hw, *g = dout + pl * hw;
        if (da) {
            float *d = da + pl * hw, s = b[pl];
            for (int j = 0; j < hw; j++) d[j] += g[j] * s;
        }
        if (db) {
            float acc = 0.0f;
            for (int j = 0; j < hw; j++) acc += g[j] * x[j];
            db[pl] += acc;
        }
    }
}

size_t ops_dropout_scratch(long size)
{
    return (size_t)size;
}

void ops_dropout_forward(float *out, const float *in, long size, float p,
                         bool training, rng *r, float *scratch)
{
    if (training) {
        float keep = 1.0f - p, scale = keep > 0.0f ? 1.0f / keep : 0.0f;
        for (long j = 0; j < size; j++) scratch[j] = rng_uniform(r) < keep ? scale : 0.0f;
    }
    ops_dropout_apply(out, in, size, training, scratch);
}

void ops_dropout_apply(float *out, const float *in, long size, bool training,
                       const float *scratch)
{
    if (!training) {
        if (out != in) memmove(out, in, sizeof(float) * (size_t)size);
        return;
    }
    for (long j = 0; j < size; j++) out[j] = in[j] * scratch[j];
}

void ops_dropout_backward(float *din, const float *dout, long size,
                          bool training, const float *scratch)
{
    if (!din) return;
    if (!training) {
        for (long j = 0; j < size; j++) din[j] += dout[j];
        return;
    }
    for (long j = 0; j < size; j++) din[j] += dout[j] * scratch[j];
}
