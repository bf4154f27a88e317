/* batchnorm2d and layernorm (over channels). Batch statistics are summed
 * over the images in float, position by position (N terms each), then over
 * a channel's positions in double: a single float sum over N*H*W elements
 * would lose digits on large batches. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <math.h>
#include <string.h>

/* vectorised statistics and affine loops (see ops_conv.c) */
#pragma GCC optimize("O3")

int ops_bn_init(const ops_bn *b, gerr *err)
{
    if (b->n < 1 || b->c < 1 || b->hw < 1)
        return gerr_set(err, "batchnorm: shape n=%d c=%d hw=%d must be positive", b->n, b->c,
                        b->hw);
    if (!(b->eps > 0.0f))
        return gerr_set(err, "batchnorm: eps=%g must be positive", (double)b->eps);
    if (!(b->momentum >= 0.0f && b->momentum <= 1.0f))
        return gerr_set(err, "batchnorm: momentum=%g must be in [0, 1]", (double)b->momentum);
    if (b->training && (long)b->n * b->hw < 2)
        return gerr_set(
            err,
            "batchnorm: training needs more than one value per channel (batch %d x %d positions)",
            b->n, b->hw);
    return 0;
}

/* Scratch: the mean and 1/std forward used (2c), then working memory of
 * 6 floats per channel position (c * hw each), laid out by channel so
 * that the disjoint channel ranges of the threads never share any. */
size_t ops_bn_scratch(const ops_bn *b)
{
    return 2 * (size_t)b->c + 6 * (size_t)b->c * b->hw;
}

typedef struct bn_args {
    const ops_bn *b;
    float *out, *din, *dgamma, *dbeta, *run_mean, *run_var, *scratch;
    float *dy; /* fused: the gradient of the normalised values */
    const float *in, *dout, *gamma, *beta;
    bool acc;
} bn_args;

/* Work vector v (0..5) of the channel range starting at channel lo. */
static float *bn_work(const bn_args *a, int v, long lo)
{
    const ops_bn *b = a->b;
    return a->scratch + 2 * (size_t)b->c + ((size_t)v * b->c + (size_t)lo) * b->hw;
}

/* acc[j] = sum over images i of x[i * chw + j], j in [0, len): the batch is
 * summed position by position, a long contiguous loop even where a plane
 * holds a single value (1x1 maps of hundreds of channels). */
static void column_sum(float *restrict acc, const float *restrict x, size_t len, int n, size_t chw)
{
    memcpy(acc, x, sizeof(float) * len);
    for (int i = 1; i < n; i++) {
        const float *restrict xi = x + i * chw;
        for (size_t j = 0; j < len; j++)
            acc[j] += xi[j];
    }
}

/* per channel of the range, the double sum of its hw entries of acc */
static double plane_total(const float *acc, size_t hw)
{
    double s = 0.0;
    for (size_t p = 0; p < hw; p++)
        s += acc[p];
    return s;
}

/* The fused activation works on pieces of this many floats, normalised
 * into a buffer on the stack (L1-resident) just before. */
#define BN_PIECE 512

/* y = x * scale + shift, the normalisation as forward and the fused
 * backward both compute it (one function: the same floats both times) */
static inline void normalise(float *restrict y, const float *restrict x, const float *restrict sc,
                             const float *restrict sh, size_t k)
{
    for (size_t j = 0; j < k; j++)
        y[j] = x[j] * sc[j] + sh[j];
}

/* sg += dy and sgx += dy * (x - mu) over one image's positions: summed
 * position by position over the batch, images in order */
static inline void grad_sums(float *restrict sg, float *restrict sgx, const float *restrict g,
                             const float *restrict x, const float *restrict mu, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        sg[j] += g[j];
        sgx[j] += g[j] * (x[j] - mu[j]);
    }
}

/* One thread per channel range: a channel's statistics are computed whole
 * by one thread, so the thread count does not change them. */
OPS_CLONES static void bn_forward_range(void *ctx, long lo, long hi)
{
    const bn_args *a = ctx;
    const ops_bn *b = a->b;
    float *mean = a->scratch, *invstd = a->scratch + b->c;
    size_t hw = (size_t)b->hw, chw = (size_t)b->c * hw, len = (size_t)(hi - lo) * hw;
    const float *x0 = a->in + lo * hw;
    float *acc = bn_work(a, 0, lo), *scv = bn_work(a, 1, lo), *shv = bn_work(a, 2, lo);
    double m = (double)b->n * hw;
    if (b->training) {
        column_sum(acc, x0, len, b->n, chw);
        for (long c = lo; c < hi; c++)
            mean[c] = (float)(plane_total(acc + (c - lo) * hw, hw) / m);
        /* the squared deviations, with the mean spread over positions */
        for (long c = lo; c < hi; c++)
            for (size_t p = 0; p < hw; p++)
                shv[(c - lo) * hw + p] = mean[c];
        memset(acc, 0, sizeof(float) * len);
        for (int i = 0; i < b->n; i++) {
            const float *restrict xi = x0 + i * chw;
            for (size_t j = 0; j < len; j++) {
                float d = xi[j] - shv[j];
                acc[j] += d * d;
            }
        }
    }
    for (long c = lo; c < hi; c++) {
        double var;
        if (b->training) {
            double ss = plane_total(acc + (c - lo) * hw, hw);
            var = ss / m;
            if (a->run_mean && a->run_var) {
                double mo = b->momentum;
                a->run_mean[c] = (float)((1.0 - mo) * a->run_mean[c] + mo * mean[c]);
                a->run_var[c] = (float)((1.0 - mo) * a->run_var[c] + mo * ss / (m - 1.0));
            }
        } else {
            mean[c] = a->run_mean[c];
            var = a->run_var[c];
        }
        invstd[c] = (float)(1.0 / sqrt(var + b->eps));
        float sc = invstd[c] * a->gamma[c], sh = a->beta[c] - mean[c] * sc;
        for (size_t p = 0; p < hw; p++) {
            scv[(c - lo) * hw + p] = sc;
            shv[(c - lo) * hw + p] = sh;
        }
    }
    for (int i = 0; i < b->n; i++) {
        const float *restrict xi = x0 + i * chw;
        float *restrict o = a->out + lo * hw + i * chw;
        if (!b->fuse_act) {
            normalise(o, xi, scv, shv, len);
            continue;
        }
        /* normalised a cache-sized piece at a time, then activated */
        for (size_t j0 = 0; j0 < len; j0 += BN_PIECE) {
            size_t k = len - j0 < BN_PIECE ? len - j0 : BN_PIECE;
            float y[BN_PIECE];
            normalise(y, xi + j0, scv + j0, shv + j0, k);
            ops_act_span_forward(b->act, o + j0, y, (long)k);
        }
    }
}

void ops_bn_forward(const ops_bn *b, float *out, const float *in, const float *gamma,
                    const float *beta, float *run_mean, float *run_var, float *scratch)
{
    bn_args a = {.b = b,
                 .out = out,
                 .in = in,
                 .gamma = gamma,
                 .beta = beta,
                 .run_mean = run_mean,
                 .run_var = run_var,
                 .scratch = scratch};
    ops_par_split(b->c, (long)b->n * b->c * b->hw > OPS_PAR_MIN, bn_forward_range, &a);
}

OPS_CLONES static void bn_backward_range(void *ctx, long lo, long hi)
{
    const bn_args *a = ctx;
    const ops_bn *b = a->b;
    const float *mean = a->scratch, *invstd = a->scratch + b->c;
    size_t hw = (size_t)b->hw, chw = (size_t)b->c * hw, len = (size_t)(hi - lo) * hw;
    const float *x0 = a->in + lo * hw, *g0 = a->dout + lo * hw;
    float *sg = bn_work(a, 0, lo), *sgx = bn_work(a, 1, lo), *muv = bn_work(a, 2, lo);
    float *kg = bn_work(a, 3, lo), *kx = bn_work(a, 4, lo), *k0 = bn_work(a, 5, lo);
    double m = (double)b->n * hw;
    for (long c = lo; c < hi; c++)
        for (size_t p = 0; p < hw; p++)
            muv[(c - lo) * hw + p] = mean[c];
    memset(sg, 0, sizeof(float) * len);
    memset(sgx, 0, sizeof(float) * len);
    if (a->dy) {
        /* the activation's gradient first, into dy: the normalised values
           recomputed with forward's scale and shift (kg and kx until they
           are needed for their own); each piece of dy goes into the sums
           below while it is in L1, not in a pass of its own over dy and x */
        for (long c = lo; c < hi; c++) {
            float sc = invstd[c] * a->gamma[c], sh = a->beta[c] - mean[c] * sc;
            for (size_t p = 0; p < hw; p++) {
                kg[(c - lo) * hw + p] = sc;
                kx[(c - lo) * hw + p] = sh;
            }
        }
        for (int i = 0; i < b->n; i++) {
            const float *restrict xi = x0 + i * chw, *restrict gi = g0 + i * chw;
            float *restrict dyi = a->dy + lo * hw + i * chw;
            for (size_t j0 = 0; j0 < len; j0 += BN_PIECE) {
                size_t k = len - j0 < BN_PIECE ? len - j0 : BN_PIECE;
                float y[BN_PIECE];
                normalise(y, xi + j0, kg + j0, kx + j0, k);
                ops_act_span_backward(b->act, dyi + j0, gi + j0, y, (long)k, false);
                grad_sums(sg + j0, sgx + j0, dyi + j0, xi + j0, muv + j0, k);
            }
        }
        g0 = a->dy + lo * hw;
    } else {
        for (int i = 0; i < b->n; i++)
            grad_sums(sg, sgx, g0 + i * chw, x0 + i * chw, muv, len);
    }
    for (long c = lo; c < hi; c++) {
        float is = invstd[c];
        double sdy = plane_total(sg + (c - lo) * hw, hw);
        double sdyx = plane_total(sgx + (c - lo) * hw, hw) * is; /* sum dy * xhat */
        if (a->dgamma)
            a->dgamma[c] += (float)sdyx;
        if (a->dbeta)
            a->dbeta[c] += (float)sdy;
        /* dx = k * (dy - mean(dy) - xhat * mean(dy * xhat)), k = gamma / std,
           as dx = kg * dy + kx * x + k0; eval: dx = k * dy */
        float k = a->gamma[c] * is, am = 0.0f, bm = 0.0f;
        if (b->training) {
            am = (float)(sdy / m);
            bm = (float)(sdyx / m) * is;
        }
        for (size_t p = 0; p < hw; p++) {
            kg[(c - lo) * hw + p] = k;
            kx[(c - lo) * hw + p] = -k * bm;
            k0[(c - lo) * hw + p] = k * (mean[c] * bm - am);
        }
    }
    if (!a->din)
        return;
    for (int i = 0; i < b->n; i++) {
        const float *restrict xi = x0 + i * chw, *restrict gi = g0 + i * chw;
        float *restrict dx = a->din + lo * hw + i * chw;
        if (a->acc)
            for (size_t j = 0; j < len; j++)
                dx[j] += kg[j] * gi[j] + kx[j] * xi[j] + k0[j];
        else
            for (size_t j = 0; j < len; j++)
                dx[j] = kg[j] * gi[j] + kx[j] * xi[j] + k0[j];
    }
}

void ops_bn_backward(const ops_bn *b, float *din, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *gamma, float *scratch, bool accumulate)
{
    /* no dy: the normalised values' gradient is dout itself */
    ops_bn_act_backward(b, din, dgamma, dbeta, NULL, dout, in, gamma, NULL, scratch, accumulate);
}

void ops_bn_act_backward(const ops_bn *b, float *din, float *dgamma, float *dbeta, float *dy,
                         const float *dout, const float *in, const float *gamma, const float *beta,
                         float *scratch, bool accumulate)
{
    bn_args a = {.b = b,
                 .din = din,
                 .dgamma = dgamma,
                 .dbeta = dbeta,
                 .dy = dy,
                 .dout = dout,
                 .in = in,
                 .gamma = gamma,
                 .beta = beta,
                 .scratch = scratch,
                 .acc = accumulate};
    ops_par_split(b->c, (long)b->n * b->c * b->hw > OPS_PAR_MIN, bn_backward_range, &a);
}

int ops_ln_init(const ops_ln *l, gerr *err)
{
    if (l->n < 1 || l->c < 1 || l->hw < 1)
        return gerr_set(err, "layernorm: shape n=%d c=%d hw=%d must be positive", l->n, l->c,
                        l->hw);
    if (!(l->eps > 0.0f))
        return gerr_set(err, "layernorm: eps=%g must be positive", (double)l->eps);
    return 0;
}

/* Scratch: the mean and 1/std of every image and position (forward's,
 * for backward), two sums per position; for 1x1 maps (hw == 1) also the
 * batch transposed to [channel][image] (the input and the output
 * gradient) and the two sums per image. */
size_t ops_ln_scratch(const ops_ln *l)
{
    size_t s = 2 * (size_t)l->n * l->hw + 2 * (size_t)l->hw;
    return l->hw == 1 ? s + 2 * (size_t)l->n * l->c + 2 * (size_t)l->n : s;
}

/* One group of np positions, channel c's value at x[c * xs + p]: statistics
 * over the channels for every position (each one's sum runs over c in
 * order), then, unless o is NULL, the output at o[c * xs + p]. The
 * positions are an image's (xs = np = hw), or, for 1x1 maps, the images
 * of the batch transposed (xs = np = images): the same sums either way,
 * and a vector loop over positions instead of loops of one. */
static inline void ln_forward_group(const ops_ln *l, float *restrict o, const float *restrict x,
                                    size_t xs, size_t np, float *restrict mean,
                                    float *restrict invstd, const float *gamma, const float *beta)
{
    float inv_c = 1.0f / (float)l->c;
    memset(mean, 0, sizeof(float) * np);
    memset(invstd, 0, sizeof(float) * np);
    for (int c = 0; c < l->c; c++)
        for (size_t p = 0; p < np; p++)
            mean[p] += x[c * xs + p];
    for (size_t p = 0; p < np; p++)
        mean[p] *= inv_c;
    for (int c = 0; c < l->c; c++)
        for (size_t p = 0; p < np; p++) {
            float d = x[c * xs + p] - mean[p];
            invstd[p] += d * d;
        }
    for (size_t p = 0; p < np; p++)
        invstd[p] = 1.0f / sqrtf(invstd[p] * inv_c + l->eps);
    if (!o)
        return;
    for (int c = 0; c < l->c; c++) {
        float g = gamma[c], bt = beta[c];
        for (size_t p = 0; p < np; p++)
            o[c * xs + p] = (x[c * xs + p] - mean[p]) * invstd[p] * g + bt;
    }
}

/* dst[c * n + i] = src[i * c_n + c]: an [n x c_n] matrix transposed */
static void ln_transpose(float *restrict dst, const float *restrict src, int n, int c_n)
{
    for (int i = 0; i < n; i++)
        for (int c = 0; c < c_n; c++)
            dst[(size_t)c * n + i] = src[(size_t)i * c_n + c];
}

/* 1x1 maps: where image lo's channels start in the batch transposed to
 * [channel][image], after the saved statistics and the two sums
 * (ops_ln_scratch); the transposed gradient follows the input's. */
static float *ln_transposed(const ops_ln *l, float *scratch, long lo)
{
    return scratch + 2 * (size_t)l->n + 2 + (size_t)lo * l->c;
}

typedef struct ln_args {
    const ops_ln *l;
    float *out, *scratch;
    const float *in, *gamma, *beta;
} ln_args;

/* Images [lo, hi): every image's statistics are its own, so the threads
 * split the batch by images. Channels are strided by hw, so statistics
 * are accumulated for a whole image at once, channel by channel, keeping
 * the inner loop contiguous; 1x1 maps: the range's images transposed
 * (into the range's own part of the scratch), all of them at once. */
OPS_CLONES static void ln_forward_range(void *ctx, long lo, long hi)
{
    const ln_args *a = ctx;
    const ops_ln *l = a->l;
    size_t hw = (size_t)l->hw, chw = (size_t)l->c * hw;
    float *mean_all = a->scratch, *invstd_all = a->scratch + (size_t)l->n * hw;
    if (hw == 1) {
        /* the statistics from the transposed images, the output (the
           same formula) image by image, channels contiguous */
        size_t m = (size_t)(hi - lo), c_n = (size_t)l->c;
        float *xt = ln_transposed(l, a->scratch, lo);
        ln_transpose(xt, a->in + (size_t)lo * chw, (int)m, l->c);
        ln_forward_group(l, NULL, xt, m, m, mean_all + lo, invstd_all + lo, a->gamma, a->beta);
        for (long i = lo; i < hi; i++) {
            const float *restrict x = a->in + i * c_n;
            float *restrict o = a->out + i * c_n;
            float mu = mean_all[i], is = invstd_all[i];
            for (size_t c = 0; c < c_n; c++)
                o[c] = (x[c] - mu) * is * a->gamma[c] + a->beta[c];
        }
        return;
    }
    for (long i = lo; i < hi; i++)
        ln_forward_group(l, a->out + i * chw, a->in + i * chw, hw, hw, mean_all + i * hw,
                         invstd_all + i * hw, a->gamma, a->beta);
}

void ops_ln_forward(const ops_ln *l, float *out, const float *in, const float *gamma,
                    const float *beta, float *scratch)
{
    ln_args a = {.l = l, .out = out, .scratch = scratch, .in = in, .gamma = gamma, .beta = beta};
    ops_par_for(l->n, (long)l->n * l->c * l->hw > OPS_PAR_MIN, ln_forward_range, &a);
}

/* Backward of one group of positions (as ln_forward_group): dx at
 * dx[c * dc + p * dp] is added to. Per channel, dgamma and dbeta (where
 * not NULL) add the group's positions summed in double; without them the
 * sums over channels are a vector loop over the positions. */
static inline void ln_backward_group(const ops_ln *l, float *restrict dx, size_t dc, size_t dp,
                                     float *dgamma, float *dbeta, const float *restrict g,
                                     const float *restrict x, size_t xs, size_t np,
                                     const float *restrict mean, const float *restrict invstd,
                                     float *restrict s1, float *restrict s2, const float *gamma)
{
    float inv_c = 1.0f / (float)l->c;
    memset(s1, 0, sizeof(float) * np);
    memset(s2, 0, sizeof(float) * np);
    for (int c = 0; c < l->c; c++) {
        float gm = gamma[c];
        if (!dgamma && !dbeta) {
            for (size_t p = 0; p < np; p++) {
                float xh = (x[c * xs + p] - mean[p]) * invstd[p];
                float gy = g[c * xs + p];
                s1[p] += gy * gm;
                s2[p] += gy * gm * xh;
            }
            continue;
        }
        double dg = 0.0, db = 0.0;
        for (size_t p = 0; p < np; p++) {
            float xh = (x[c * xs + p] - mean[p]) * invstd[p];
            float gy = g[c * xs + p];
            dg += gy * xh;
            db += gy;
            s1[p] += gy * gm;
            s2[p] += gy * gm * xh;
        }
        if (dgamma)
            dgamma[c] += (float)dg;
        if (dbeta)
            dbeta[c] += (float)db;
    }
    if (!dx)
        return;
    for (int c = 0; c < l->c; c++) {
        float gm = gamma[c];
        for (size_t p = 0; p < np; p++) {
            float xh = (x[c * xs + p] - mean[p]) * invstd[p];
            dx[c * dc + p * dp] +=
                invstd[p] * (g[c * xs + p] * gm - s1[p] * inv_c - xh * s2[p] * inv_c);
        }
    }
}

typedef struct ln_back_args {
    const ops_ln *l;
    float *din, *dgamma, *dbeta, *scratch;
    const float *dout, *in, *gamma;
} ln_back_args;

/* 1x1 maps, images [lo, hi): the range's input and gradient transposed
 * into its own part of the scratch (as forward's), then its input
 * gradient. The parameters' gradients are ln_param_grads'. */
OPS_CLONES static void ln_dx_range(void *ctx, long lo, long hi)
{
    const ln_back_args *a = ctx;
    const ops_ln *l = a->l;
    size_t n = (size_t)l->n, c_n = (size_t)l->c, m = (size_t)(hi - lo);
    const float *mean_all = a->scratch, *invstd_all = a->scratch + n;
    float *xt = ln_transposed(l, a->scratch, lo), *gt = xt + n * c_n;
    float *t = ln_transposed(l, a->scratch, 0) + 2 * n * c_n + 2 * (size_t)lo;
    ln_transpose(xt, a->in + (size_t)lo * c_n, (int)m, l->c);
    ln_transpose(gt, a->dout + (size_t)lo * c_n, (int)m, l->c);
    ln_backward_group(l, a->din + (size_t)lo * c_n, 1, c_n, NULL, NULL, gt, xt, m, m, mean_all + lo,
                      invstd_all + lo, t, t + m, a->gamma);
}

/* 1x1 maps, channels [lo, hi): dgamma and dbeta add every image's term in
 * float, images in order (each image's sum over its one position is the
 * term itself), the channels the vector loop: the bits of the pass over
 * the transposed batch this replaces, for any number of threads. */
OPS_CLONES static void ln_param_grads(void *ctx, long lo, long hi)
{
    const ln_back_args *a = ctx;
    const ops_ln *l = a->l;
    size_t c_n = (size_t)l->c;
    const float *mean_all = a->scratch, *invstd_all = a->scratch + l->n;
    for (int i = 0; i < l->n; i++) {
        const float *restrict x = a->in + i * c_n, *restrict g = a->dout + i * c_n;
        float mu = mean_all[i], is = invstd_all[i];
        if (a->dgamma) {
            float *restrict dg = a->dgamma;
            for (long c = lo; c < hi; c++)
                dg[c] += g[c] * ((x[c] - mu) * is);
        }
        if (a->dbeta) {
            float *restrict db = a->dbeta;
            for (long c = lo; c < hi; c++)
                db[c] += g[c];
        }
    }
}

void ops_ln_backward(const ops_ln *l, float *din, float *dgamma, float *dbeta, const float *dout,
                     const float *in, const float *gamma, float *scratch)
{
    size_t hw = (size_t)l->hw, chw = (size_t)l->c * hw;
    const float *mean_all = scratch, *invstd_all = scratch + (size_t)l->n * hw;
    /* per-position sums over channels, after the saved statistics */
    float *s1 = scratch + 2 * (size_t)l->n * hw, *s2 = s1 + hw;
    if (hw == 1) { /* images split for the input gradient, channels for the parameters' */
        ln_back_args a = {.l = l,
                          .din = din,
                          .dgamma = dgamma,
                          .dbeta = dbeta,
                          .scratch = scratch,
                          .dout = dout,
                          .in = in,
                          .gamma = gamma};
        bool par = (long)l->n * l->c > OPS_PAR_MIN;
        if (din)
            ops_par_for(l->n, par, ln_dx_range, &a);
        if (dgamma || dbeta)
            ops_par_split(l->c, par, ln_param_grads, &a);
        return;
    }
    for (int i = 0; i < l->n; i++)
        ln_backward_group(l, din ? din + i * chw : NULL, hw, 1, dgamma, dbeta, dout + i * chw,
                          in + i * chw, hw, hw, mean_all + i * hw, invstd_all + i * hw, s1, s2,
                          gamma);
}
