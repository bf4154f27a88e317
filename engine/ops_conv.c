/* conv2d and linear: im2col + sgemm, a straight sgemm for 1x1 kernels, a
 * direct kernel for depthwise convolution. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <cblas.h>
#include <string.h>

int ops_conv_init(ops_conv *c, char *err, size_t errsize)
{
    if (c->n < 1 || c->cin < 1 || c->h < 1 || c->w < 1)
        return ops_fail(err, errsize, "conv: input %dx%dx%dx%d must be positive",
                        c->n, c->cin, c->h, c->w);
    if (c->cout < 1 || c->kh < 1 || c->kw < 1)
        return ops_fail(err, errsize, "conv: %d output channels, kernel %dx%d: all must be at least 1",
                        c->cout, c->kh, c->kw);
    if (c->stride < 1 || c->dilation < 1)
        return ops_fail(err, errsize, "conv: stride %d and dilation %d must be at least 1",
                        c->stride, c->dilation);
    if (c->pad_h < 0 || c->pad_w < 0)
        return ops_fail(err, errsize, "conv: padding %dx%d must not be negative",
                        c->pad_h, c->pad_w);
    if (c->groups < 1 || c->cin % c->groups || c->cout % c->groups)
        return ops_fail(err, errsize,
                        "conv: groups=%d must divide both input channels (%d) and output channels (%d)",
                        c->groups, c->cin, c->cout);
    long eh = (long)c->dilation * (c->kh - 1) + 1, ew = (long)c->dilation * (c->kw - 1) + 1;
    long ih = (long)c->h + 2L * c->pad_h, iw = (long)c->w + 2L * c->pad_w;
    if (eh > ih || ew > iw)
        return ops_fail(err, errsize,
                        "conv: kernel %dx%d (dilation %d) does not fit the padded input %ldx%ld",
                        c->kh, c->kw, c->dilation, ih, iw);
    c->oh = (int)((ih - eh) / c->stride + 1);
    c->ow = (int)((iw - ew) / c->stride + 1);
    return 0;
}

static bool conv_is_1x1(const ops_conv *c)
{
    return c->kh == 1 && c->kw == 1 && c->stride == 1 && c->pad_h == 0 && c->pad_w == 0;
}

static bool conv_is_depthwise(const ops_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->groups > 1;
}

size_t ops_conv_scratch(const ops_conv *c)
{
    if (conv_is_1x1(c) || conv_is_depthwise(c)) return 0;
    return (size_t)(c->cin / c->groups) * c->kh * c->kw * c->oh * c->ow;
}

/* Columns of one image and group: row (ci, ki, kj), column (oy, ox). */
static void im2col(const ops_conv *c, const float *in, float *cols, int cin_g)
{
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation;
    for (int ci = 0; ci < cin_g; ci++) {
        const float *plane = in + (size_t)ci * c->h * c->w;
        for (int ki = 0; ki < c->kh; ki++) {
            int y_lo, y_hi;
            ops_valid_range(oh, c->h, s, ki * d - c->pad_h, &y_lo, &y_hi);
            for (int kj = 0; kj < c->kw; kj++) {
                float *row = cols + (((size_t)ci * c->kh + ki) * c->kw + kj) * oh * ow;
                int offx = kj * d - c->pad_w, x_lo, x_hi;
                ops_valid_range(ow, c->w, s, offx, &x_lo, &x_hi);
                for (int oy = 0; oy < oh; oy++) {
                    float *r = row + (size_t)oy * ow;
                    if (oy < y_lo || oy >= y_hi || x_lo >= x_hi) {
                        memset(r, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *src = plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                    for (int ox = 0; ox < x_lo; ox++) r[ox] = 0.0f;
                    for (int ox = x_lo; ox < x_hi; ox++) r[ox] = src[ox * s];
                    for (int ox = x_hi; ox < ow; ox++) r[ox] = 0.0f;
                }
            }
        }
    }
}

/* The adjoint of im2col: adds the columns back into the image. */
static void col2im_add(const ops_conv *c, const float *cols, float *din, int cin_g)
{
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation;
    for (int ci = 0; ci < cin_g; ci++) {
        float *plane = din + (size_t)ci * c->h * c->w;
        for (int ki = 0; ki < c->kh; ki++) {
            int y_lo, y_hi;
            ops_valid_range(oh, c->h, s, ki * d - c->pad_h, &y_lo, &y_hi);
            for (int kj = 0; kj < c->kw; kj++) {
                const float *row = cols + (((size_t)ci * c->kh + ki) * c->kw + kj) * oh * ow;
                int offx = kj * d - c->pad_w, x_lo, x_hi;
                ops_valid_range(ow, c->w, s, offx, &x_lo, &x_hi);
                for (int oy = y_lo; oy < y_hi; oy++) {
                    const float *r = row + (size_t)oy * ow;
                    float *dst = plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                    for (int ox = x_lo; ox < x_hi; ox++) dst[ox * s] += r[ox];
                }
            }
        }
    }
}

static void add_bias(float *out, const float *b, int n, int cout, size_t hw)
{
    for (int i = 0; i < n; i++)
        for (int co = 0; co < cout; co++) {
            float *o = out + ((size_t)i * cout + co) * hw, v = b[co];
            for (size_t p = 0; p < hw; p++) o[p] += v;
        }
}

static void bias_grad(float *db, const float *dout, int n, int cout, size_t hw)
{
    for (int i = 0; i < n; i++)
        for (int co = 0; co < cout; co++) {
            const float *g = dout + ((size_t)i * cout + co) * hw;
            double s = 0.0;
            for (size_t p = 0; p < hw; p++) s += g[p];
            db[co] += (float)s;
        }
}

static void depthwise_forward(const ops_conv *c, float *out, const float *in, const float *w)
{
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)oh * ow;
    for (int i = 0; i < c->n; i++)
        for (int ch = 0; ch < c->cin; ch++) {
            const float *plane = in + ((size_t)i * c->cin + ch) * ihw;
            float *o = out + ((size_t)i * c->cout + ch) * ohw;
            const float *k = w + (size_t)ch * c->kh * c->kw;
            memset(o, 0, sizeof(float) * ohw);
            for (int ki = 0; ki < c->kh; ki++) {
                int y_lo, y_hi;
                ops_valid_range(oh, c->h, s, ki * d - c->pad_h, &y_lo, &y_hi);
                for (int kj = 0; kj < c->kw; kj++) {
                    int offx = kj * d - c->pad_w, x_lo, x_hi;
                    ops_valid_range(ow, c->w, s, offx, &x_lo, &x_hi);
                    float kv = k[ki * c->kw + kj];
                    for (int oy = y_lo; oy < y_hi; oy++) {
                        const float *src = plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                        float *r = o + (size_t)oy * ow;
                        for (int ox = x_lo; ox < x_hi; ox++) r[ox] += kv * src[ox * s];
                    }
                }
            }
        }
}

static void depthwise_backward(const ops_conv *c, float *din, float *dw,
                               const float *dout, const float *in, const float *w)
{
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)oh * ow;
    for (int i = 0; i < c->n; i++)
        for (int ch = 0; ch < c->cin; ch++) {
            const float *plane = in + ((size_t)i * c->cin + ch) * ihw;
            float *dplane = din ? din + ((size_t)i * c->cin + ch) * ihw : NULL;
            const float *g = dout + ((size_t)i * c->cout + ch) * ohw;
            const float *k = w + (size_t)ch * c->kh * c->kw;
            float *dk = dw ? dw + (size_t)ch * c->kh * c->kw : NULL;
            for (int ki = 0; ki < c->kh; ki++) {
                int y_lo, y_hi;
                ops_valid_range(oh, c->h, s, ki * d - c->pad_h, &y_lo, &y_hi);
                for (int kj = 0; kj < c->kw; kj++) {
                    int offx = kj * d - c->pad_w, x_lo, x_hi;
                    ops_valid_range(ow, c->w, s, offx, &x_lo, &x_hi);
                    float kv = k[ki * c->kw + kj];
                    double acc = 0.0;
                    for (int oy = y_lo; oy < y_hi; oy++) {
                        size_t base = (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                        const float *r = g + (size_t)oy * ow;
                        const float *src = plane + base;
                        float rowacc = 0.0f;
                        for (int ox = x_lo; ox < x_hi; ox++) rowacc += r[ox] * src[ox * s];
                        acc += rowacc;
                        if (dplane) {
                            float *dst = dplane + base;
                            for (int ox = x_lo; ox < x_hi; ox++) dst[ox * s] += kv * r[ox];
                        }
                    }
                    if (dk) dk[ki * c->kw + kj] += (float)acc;
                }
            }
        }
}

void ops_conv_forward(const ops_conv *c, float *out, const float *in,
                      const float *w, const float *b, float *scratch)
{
    int g_n = c->groups, cin_g = c->cin / g_n, cout_g = c->cout / g_n;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    int K = cin_g * c->kh * c->kw;
    if (conv_is_depthwise(c)) {
        depthwise_forward(c, out, in, w);
    } else {
        for (int i = 0; i < c->n; i++)
            for (int g = 0; g < g_n; g++) {
                const float *x = in + ((size_t)i * c->cin + (size_t)g * cin_g) * ihw;
                float *o = out + ((size_t)i * c->cout + (size_t)g * cout_g) * ohw;
                const float *wg = w + (size_t)g * cout_g * K;
                const float *cols = x; /* 1x1: the image already is the column matrix */
                if (!conv_is_1x1(c)) {
                    im2col(c, x, scratch, cin_g);
                    cols = scratch;
                }
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, (int)ohw, K,
                            1.0f, wg, K, cols, (int)ohw, 0.0f, o, (int)ohw);
            }
    }
    if (c->bias && b) add_bias(out, b, c->n, c->cout, ohw);
}

void ops_conv_backward(const ops_conv *c, float *din, float *dw, float *db,
                       const float *dout, const float *in, const float *w,
                       float *scratch)
{
    int g_n = c->groups, cin_g = c->cin / g_n, cout_g = c->cout / g_n;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    int K = cin_g * c->kh * c->kw;
    if (c->bias && db) bias_grad(db, dout, c->n, c->cout, ohw);
    if (conv_is_depthwise(c)) {
        depthwise_backward(c, din, dw, dout, in, w);
        return;
    }
    bool one = conv_is_1x1(c);
    for (int i = 0; i < c->n; i++)
        for (int g = 0; g < g_n; g++) {
            const float *x = in + ((size_t)i * c->cin + (size_t)g * cin_g) * ihw;
            const float *go = dout + ((size_t)i * c->cout + (size_t)g * cout_g) * ohw;
            const float *wg = w + (size_t)g * cout_g * K;
            if (dw) {
                const float *cols = x;
                if (!one) {
                    im2col(c, x, scratch, cin_g);
                    cols = scratch;
                }
                /* dW_g += dout_g (cout_g x ohw) * cols^T (ohw x K) */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, K, (int)ohw,
                            1.0f, go, (int)ohw, cols, (int)ohw, 1.0f,
                            dw + (size_t)g * cout_g * K, K);
            }
            if (!din) continue;
            float *dx = din + ((size_t)i * c->cin + (size_t)g * cin_g) * ihw;
            if (one) {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)ohw, cout_g,
                            1.0f, wg, K, go, (int)ohw, 1.0f, dx, (int)ohw);
            } else {
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)ohw, cout_g,
                            1.0f, wg, K, go, (int)ohw, 0.0f, scratch, (int)ohw);
                col2im_add(c, scratch, dx, cin_g);
            }
        }
}

void ops_linear_forward(float *out, const float *in, const float *w,
                        const float *b, int n, int in_f, int out_f)
{
    if (b) {
        for (int i = 0; i < n; i++) memcpy(out + (size_t)i * out_f, b, sizeof(float) * out_f);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out_f, in_f, 1.0f, in, in_f,
                w, in_f, b ? 1.0f : 0.0f, out, out_f);
}

void ops_linear_backward(float *din, float *dw, float *db, const float *dout,
                         const float *in, const float *w, int n, int in_f,
                         int out_f)
{
    if (din)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in_f, out_f, 1.0f, dout,
                    out_f, w, in_f, 1.0f, din, in_f);
    if (dw)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out_f, in_f, n, 1.0f, dout,
                    out_f, in, in_f, 1.0f, dw, in_f);
    if (db)
        for (int o = 0; o < out_f; o++) {
            double s = 0.0;
            for (int i = 0; i < n; i++) s += dout[(size_t)i * out_f + o];
            db[o] += (float)s;
        }
}
