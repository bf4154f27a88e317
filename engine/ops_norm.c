/* batchnorm2d and layernorm (over channels). Batch statistics are summed
 * per plane in float lanes and across planes in double: a float sum over
 * N*H*W elements loses digits on large batches. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <math.h>
#include <string.h>

/* vectorised statistics and affine loops (see ops_conv.c) */
#pragma GCC optimize("O3")

int ops_bn_init(const ops_bn *b, char *err, size_t errsize)
{
    if (b->n < 1 || b->c < 1 || b->hw < 1)
        return ops_fail(err, errsize, "batchnorm: shape n=%d c=%d hw=%d must be positive",
                        b->n, b->c, b->hw);
    if (!(b->eps > 0.0f))
        return ops_fail(err, errsize, "batchnorm: eps=%g must be positive", (double)b->eps);
    if (!(b->momentum >= 0.0f && b->momentum <= 1.0f))
        return ops_fail(err, errsize, "batchnorm: momentum=%g must be in [0, 1]",
                        (double)b->momentum);
    if (b->training && (long)b->n * b->hw < 2)
        return ops_fail(err, errsize,
                        "batchnorm: training needs more than one value per channel (batch %d x %d positions)",
                        b->n, b->hw);
    return 0;
}

size_t ops_bn_scratch(const ops_bn *b)
{
    return 2 * (size_t)b->c;
}

static inline double plane_sqdev(const float *restrict x, size_t hw, float mu)
{
    double total = 0.0;
    for (size_t c0 = 0; c0 < hw; c0 += 1024) {
        size_t c1 = c0 + 1024 < hw ? c0 + 1024 : hw, p = c0;
        float lane[8] = {0};
        for (; p + 8 <= c1; p += 8)
            for (int j = 0; j < 8; j++) {
                float d = x[p + j] - mu;
                lane[j] += d * d;
            }
        float t = 0.0f;
        for (; p < c1; p++) t += (x[p] - mu) * (x[p] - mu);
        for (int j = 0; j < 8; j++) t += lane[j];
        total += t;
    }
    return total;
}

/* sum g and sum g * (x - mu) over a plane */
static inline void plane_gsums(const float *restrict g, const float *restrict x, size_t hw, float mu, double *sg,
                               double *sgx)
{
    for (size_t c0 = 0; c0 < hw; c0 += 1024) {
        size_t c1 = c0 + 1024 < hw ? c0 + 1024 : hw, p = c0;
        float l1[8] = {0}, l2[8] = {0};
        for (; p + 8 <= c1; p += 8)
            for (int j = 0; j < 8; j++) {
                l1[j] += g[p + j];
                l2[j] += g[p + j] * (x[p + j] - mu);
            }
        float t1 = 0.0f, t2 = 0.0f;
        for (; p < c1; p++) {
            t1 += g[p];
            t2 += g[p] * (x[p] - mu);
        }
        for (int j = 0; j < 8; j++) {
            t1 += l1[j];
            t2 += l2[j];
        }
        *sg += t1;
        *sgx += t2;
    }
}

typedef struct bn_args {
    const ops_bn *b;
    float *out, *din, *dgamma, *dbeta, *run_mean, *run_var, *scratch;
    const float *in, *dout, *gamma, *beta;
} bn_args;

/* One thread per channel range: a channel's statistics are computed whole
 * by one thread, so the thread count does not change them. */
OPS_CLONES static void bn_forward_range(void *ctx, long lo, long hi)
{
    const bn_args *a = ctx;
    const ops_bn *b = a->b;
    float *mean = a->scratch, *invstd = a->scratch + b->c;
    size_t hw = (size_t)b->hw, chw = (size_t)b->c * hw;
    double m = (double)b->n * hw;
    for (long c = lo; c < hi; c++) {
        double mu, var;
        if (b->training) {
            double s = 0.0;
            for (int i = 0; i < b->n; i++) s += ops_sum(a->in + i * chw + c * hw, hw);
            mu = s / m;
            double ss = 0.0;
            for (int i = 0; i < b->n; i++) ss += plane_sqdev(a->in + i * chw + c * hw, hw, (float)mu);
            var = ss / m;
            if (a->run_mean && a->run_var) {
                double mo = b->momentum;
                a->run_mean[c] = (float)((1.0 - mo) * a->run_mean[c] + mo * mu);
                a->run_var[c] = (float)((1.0 - mo) * a->run_var[c] + mo * ss / (m - 1.0));
            }
        } else {
            mu = a->run_mean[c];
            var = a->run_var[c];
        }
        mean[c] = (float)mu;
        invstd[c] = (float)(1.0 / sqrt(var + b->eps));
        float sc = invstd[c] * a->gamma[c], sh = a->beta[c] - mean[c] * sc;
        for (int i = 0; i < b->n; i++) {
            const float *restrict x = a->in + i * chw + c * hw;
            float *restrict o = a->out + i * chw + c * hw;
            for (size_t p = 0; p < hw; p++) o[p] = x[p] * sc + sh;
        }
    }
}

void ops_bn_forward(const ops_bn *b, float *out, const float *in,
                    const float *gamma, const float *beta, float *run_mean,
                    float *run_var, float *scratch)
{
    bn_args a = {.b = b, .out = out, .in = in, .gamma = gamma, .beta = beta, .run_mean = run_mean,
                 .run_var = run_var, .scratch = scratch};
    ops_par_for(b->c, (long)b->n * b->c * b->hw > OPS_PAR_MIN, bn_forward_range, &a);
}

OPS_CLONES static void bn_backward_range(void *ctx, long lo, long hi)
{
    const bn_args *a = ctx;
    const ops_bn *b = a->b;
    const float *mean = a->scratch, *invstd = a->scratch + b->c;
    size_t hw = (size_t)b->hw, chw = (size_t)b->c * hw;
    double m = (double)b->n * hw;
    for (long c = lo; c < hi; c++) {
        float mu = mean[c], is = invstd[c];
        double sdy = 0.0, sdyx = 0.0; /* sum dy, sum dy * (x - mu) */
        for (int i = 0; i < b->n; i++)
            plane_gsums(a->dout + i * chw + c * hw, a->in + i * chw + c * hw, hw, mu, &sdy, &sdyx);
        sdyx *= is; /* sum dy * xhat */
        if (a->dgamma) a->dgamma[c] += (float)sdyx;
        if (a->dbeta) a->dbeta[c] += (float)sdy;
        if (!a->din) continue;
        float k = a->gamma[c] * is;
        if (b->training) {
            /* dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat)) */
            float am = (float)(sdy / m), bm = (float)(sdyx / m) * is;
            for (int i = 0; i < b->n; i++) {
                const float *restrict x = a->in + i * chw + c * hw, *restrict g = a->dout + i * chw + c * hw;
                float *restrict dx = a->din + i * chw + c * hw;
                for (size_t p = 0; p < hw; p++) dx[p] += k * (g[p] - am - (x[p] - mu) * bm);
            }
        } else {
            for (int i = 0; i < b->n; i++) {
                const float *restrict g = a->dout + i * chw + c * hw;
                float *restrict dx = a->din + i * chw + c * hw;
                for (size_t p = 0; p < hw; p++) dx[p] += k * g[p];
            }
        }
    }
}

void ops_bn_backward(const ops_bn *b, float *din, float *dgamma, float *dbeta,
                     const float *dout, const float *in, const float *gamma,
                     const float *scratch)
{
    bn_args a = {.b = b, .din = din, .dgamma = dgamma, .dbeta = dbeta, .dout = dout, .in = in, .gamma = gamma,
                 .scratch = (float *)scratch};
    ops_par_for(b->c, (long)b->n * b->c * b->hw > OPS_PAR_MIN, bn_backward_range, &a);
}

int ops_ln_init(const ops_ln *l, char *err, size_t errsize)
{
    if (l->n < 1 || l->c < 1 || l->hw < 1)
        return ops_fail(err, errsize, "layernorm: shape n=%d c=%d hw=%d must be positive",
                        l->n, l->c, l->hw);
    if (!(l->eps > 0.0f))
        return ops_fail(err, errsize, "layernorm: eps=%g must be positive", (double)l->eps);
    return 0;
}

size_t ops_ln_scratch(const ops_ln *l)
{
    return 2 * (size_t)l->n * l->hw + 2 * (size_t)l->hw;
}

/* Channels are strided by hw, so statistics are accumulated for a whole
 * image at once, channel by channel, keeping the inner loop contiguous. */
void ops_ln_forward(const ops_ln *l, float *out, const float *in,
                    const float *gamma, const float *beta, float *scratch)
{
    size_t hw = (size_t)l->hw, chw = (size_t)l->c * hw;
    float *mean_all = scratch, *invstd_all = scratch + (size_t)l->n * hw;
    float inv_c = 1.0f / (float)l->c;
    for (int i = 0; i < l->n; i++) {
        const float *x = in + i * chw;
        float *o = out + i * chw;
        float *mean = mean_all + i * hw, *invstd = invstd_all + i * hw;
        memset(mean, 0, sizeof(float) * hw);
        memset(invstd, 0, sizeof(float) * hw);
        for (int c = 0; c < l->c; c++)
            for (size_t p = 0; p < hw; p++) mean[p] += x[c * hw + p];
        for (size_t p = 0; p < hw; p++) mean[p] *= inv_c;
        for (int c = 0; c < l->c; c++)
            for (size_t p = 0; p < hw; p++) {
                float d = x[c * hw + p] - mean[p];
                invstd[p] += d * d;
            }
        for (size_t p = 0; p < hw; p++) invstd[p] = 1.0f / sqrtf(invstd[p] * inv_c + l->eps);
        for (int c = 0; c < l->c; c++) {
            float g = gamma[c], bt = beta[c];
            for (size_t p = 0; p < hw; p++)
                o[c * hw + p] = (x[c * hw + p] - mean[p]) * invstd[p] * g + bt;
        }
    }
}

void ops_ln_backward(const ops_ln *l, float *din, float *dgamma, float *dbeta,
                     const float *dout, const float *in, const float *gamma,
                     float *scratch)
{
    size_t hw = (size_t)l->hw, chw = (size_t)l->c * hw;
    const float *mean_all = scratch, *invstd_all = scratch + (size_t)l->n * hw;
    /* per-position sums over channels, after the saved statistics */
    float *s1 = scratch + 2 * (size_t)l->n * hw, *s2 = s1 + hw;
    float inv_c = 1.0f / (float)l->c;
    for (int i = 0; i < l->n; i++) {
        const float *x = in + i * chw, *g = dout + i * chw;
        const float *mean = mean_all + i * hw, *invstd = invstd_all + i * hw;
        memset(s1, 0, sizeof(float) * hw);
        memset(s2, 0, sizeof(float) * hw);
        for (int c = 0; c < l->c; c++) {
            float gm = gamma[c];
            double dg = 0.0, db = 0.0;
            for (size_t p = 0; p < hw; p++) {
                float xh = (x[c * hw + p] - mean[p]) * invstd[p];
                float gy = g[c * hw + p];
                dg += gy * xh;
                db += gy;
                s1[p] += gy * gm;
                s2[p] += gy * gm * xh;
            }
            if (dgamma) dgamma[c] += (float)dg;
            if (dbeta) dbeta[c] += (float)db;
        }
        if (!din) continue;
        float *dx = din + i * chw;
        for (int c = 0; c < l->c; c++) {
            float gm = gamma[c];
            for (size_t p = 0; p < hw; p++) {
                float xh = (x[c * hw + p] - mean[p]) * invstd[p];
                dx[c * hw + p] += invstd[p] *
                                  (g[c * hw + p] * gm - s1[p] * inv_c - xh * s2[p] * inv_c);
            }
        }
    }
}
