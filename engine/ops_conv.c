/* conv2d and linear: im2col + sgemm, a straight sgemm for 1x1 kernels, a
 * direct kernel for depthwise convolution. */
#include "engine/ops.h"
#include "engine/ops_depthwise.h"
#include "engine/ops_internal.h"
#include "engine/ops_winograd.h"

#include <cblas.h>
#include <string.h>

/* The direct kernels' row loops are short and many; vectorised (O3) they
 * are several times faster, and AVX2 clones run where the CPU has it. */
#pragma GCC optimize("O3")

int ops_conv_init(ops_conv *c, gerr *err)
{
    if (c->n < 1 || c->cin < 1 || c->h < 1 || c->w < 1)
        return gerr_set(err, "conv: input %dx%dx%dx%d must be positive", c->n, c->cin, c->h, c->w);
    if (c->cout < 1 || c->kh < 1 || c->kw < 1)
        return gerr_set(err, "conv: %d output channels, kernel %dx%d: all must be at least 1",
                        c->cout, c->kh, c->kw);
    if (c->stride < 1 || c->dilation < 1)
        return gerr_set(err, "conv: stride %d and dilation %d must be at least 1", c->stride,
                        c->dilation);
    if (c->pad_h < 0 || c->pad_w < 0)
        return gerr_set(err, "conv: padding %dx%d must not be negative", c->pad_h, c->pad_w);
    if (c->groups < 1 || c->cin % c->groups || c->cout % c->groups)
        return gerr_set(
            err, "conv: groups=%d must divide both input channels (%d) and output channels (%d)",
            c->groups, c->cin, c->cout);
    long eh = (long)c->dilation * (c->kh - 1) + 1, ew = (long)c->dilation * (c->kw - 1) + 1;
    long ih = (long)c->h + 2L * c->pad_h, iw = (long)c->w + 2L * c->pad_w;
    if (eh > ih || ew > iw)
        return gerr_set(err,
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

/* One channel in and out is depthwise too (and so goes to a direct
 * kernel): the column path would make it an sgemm of one row. */
static bool conv_is_depthwise(const ops_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin;
}

/* 1x1 convolution of 1x1 maps: NCHW is already an [n x cin] matrix, so
 * the whole batch is one sgemm (the deep layers of small-image nets). */
static bool conv_is_dense(const ops_conv *c)
{
    return conv_is_1x1(c) && c->h == 1 && c->w == 1 && c->groups == 1;
}

/* The column path (every convolution but depthwise and the dense one)
 * multiplies the weights by the columns of a block of images laid side
 * by side, [K x nb * ohw]: maps of a few positions (4x4, 2x2 of many
 * channels, the deep 1x1 convolutions of ExquisiteNet) would otherwise
 * spend their time in one small BLAS call per image. A block holds
 * enough images for BLOCK_COLS columns, within BLOCK_FLOATS floats of
 * working memory per thread (columns, then the block's outputs or output
 * gradients); large maps keep one image per block, and a 1x1 convolution
 * of one image multiplies the image itself. */
#define BLOCK_COLS   512
#define BLOCK_FLOATS (256 * 1024)

static int conv_K(const ops_conv *c)
{
    return c->cin / c->groups * c->kh * c->kw;
}

/* Images per block, at most: fixed by the shapes, not by n. */
static int conv_block(const ops_conv *c)
{
    size_t ohw = (size_t)c->oh * c->ow, rows = (size_t)conv_K(c) + c->cout / c->groups;
    size_t b = (BLOCK_COLS + ohw - 1) / ohw, cap = BLOCK_FLOATS / (rows * ohw);
    if (b > cap)
        b = cap;
    return b < 1 ? 1 : (int)b;
}

static size_t conv_wsize(const ops_conv *c)
{
    return (size_t)c->cout * (c->cin / c->groups) * c->kh * c->kw;
}

static size_t round16(size_t f)
{
    return (f + 15) & ~(size_t)15;
}

/* Per thread: the columns of a block (none for a 1x1 convolution one
 * image at a time) and its outputs (none for one image, whose outputs
 * are written in place). */
static size_t conv_cols(const ops_conv *c)
{
    int b = conv_block(c);
    size_t ncol = (size_t)b * c->oh * c->ow;
    if (conv_is_1x1(c) && b == 1)
        return 0;
    return round16((size_t)conv_K(c) * ncol);
}

static size_t conv_ybuf(const ops_conv *c)
{
    int b = conv_block(c);
    return b == 1 ? 0 : round16((size_t)(c->cout / c->groups) * b * c->oh * c->ow);
}

/* OPS_MAX_THREADS slots of columns and outputs, then as many slots of a
 * weight gradient (one per fixed group of images); or the Winograd path's
 * working memory where it may run instead (GEVO_NO_WINOGRAD may change
 * between calls: room for either). */
static size_t blocks_scratch(const ops_conv *c)
{
    size_t s = OPS_MAX_THREADS * (conv_cols(c) + conv_ybuf(c) + round16(conv_wsize(c)));
    size_t wino = ops_wino_fits(c) ? ops_wino_scratch(c) : 0;
    return s > wino ? s : wino;
}

/* ... then, with a bias, the plane sums of its gradient (bias_sums) */
size_t ops_conv_scratch(const ops_conv *c)
{
    if (ops_dw_ok(c))
        return ops_dw_scratch(c);
    if (conv_is_depthwise(c) || conv_is_dense(c))
        return 0;
    return blocks_scratch(c) + (c->bias ? round16((size_t)c->n * c->cout) : 0);
}

/* The output rows (columns) each kernel row (column) reaches inside the
 * input, computed once per call: ops_valid_range divides, and small planes
 * (1x1, 2x2 maps of hundreds of channels) would spend their time there. */
#define GEOM_KMAX 32
typedef struct conv_geom {
    bool cached;
    int ylo[GEOM_KMAX], yhi[GEOM_KMAX], xlo[GEOM_KMAX], xhi[GEOM_KMAX];
} conv_geom;

static void geom_init(const ops_conv *c, conv_geom *g)
{
    g->cached = c->kh <= GEOM_KMAX && c->kw <= GEOM_KMAX;
    if (!g->cached)
        return;
    for (int ki = 0; ki < c->kh; ki++)
        ops_valid_range(c->oh, c->h, c->stride, ki * c->dilation - c->pad_h, &g->ylo[ki],
                        &g->yhi[ki]);
    for (int kj = 0; kj < c->kw; kj++)
        ops_valid_range(c->ow, c->w, c->stride, kj * c->dilation - c->pad_w, &g->xlo[kj],
                        &g->xhi[kj]);
}

static inline void geom_y(const ops_conv *c, const conv_geom *g, int ki, int *lo, int *hi)
{
    if (g->cached) {
        *lo = g->ylo[ki];
        *hi = g->yhi[ki];
    } else {
        ops_valid_range(c->oh, c->h, c->stride, ki * c->dilation - c->pad_h, lo, hi);
    }
}

static inline void geom_x(const ops_conv *c, const conv_geom *g, int kj, int *lo, int *hi)
{
    if (g->cached) {
        *lo = g->xlo[kj];
        *hi = g->xhi[kj];
    } else {
        ops_valid_range(c->ow, c->w, c->stride, kj * c->dilation - c->pad_w, lo, hi);
    }
}

/* One output row of a column row: zeros where the window is outside the
 * input, the input's samples inside; the common stride 1 is a contiguous
 * copy the compiler vectorises (a stride it does not know is a gather). */
static inline void col_row(float *restrict r, const float *restrict src, int lo, int hi, int ow,
                           int s)
{
    for (int ox = 0; ox < lo; ox++)
        r[ox] = 0.0f;
    if (s == 1)
        for (int ox = lo; ox < hi; ox++)
            r[ox] = src[ox];
    else
        for (int ox = lo; ox < hi; ox++)
            r[ox] = src[ox * s];
    for (int ox = hi; ox < ow; ox++)
        r[ox] = 0.0f;
}

/* Zeroes the columns outside [x_lo, x_hi) of rows [y_lo, y_hi): one or
 * two floats a row, column by column (a strided store; the compiler
 * would make memset calls of row by row loops, which cost more than the
 * copy they follow). */
static void zero_edges(float *row, int ow, int y_lo, int y_hi, int x_lo, int x_hi)
{
    for (int ox = 0; ox < x_lo; ox++)
        for (int oy = y_lo; oy < y_hi; oy++)
            row[(size_t)oy * ow + ox] = 0.0f;
    for (int ox = x_hi; ox < ow; ox++)
        for (int oy = y_lo; oy < y_hi; oy++)
            row[(size_t)oy * ow + ox] = 0.0f;
}

/* The column rows of stride 1 where output rows are as wide as input
 * rows (same padding) are the plane shifted by the tap: entry
 * oy * ow + ox is src[oy * ow + ox] inside the valid window, zero outside
 * it. The valid rows are one contiguous span (which carries neighbouring
 * rows' samples into the edge columns, zeroed after), instead of a short
 * copy per row: the 14- and 7-wide rows of small images spent their time
 * in loop ends. The span reads only inside the plane: from the first
 * valid sample to the last. */
static bool shifted_ok(const ops_conv *c, int y_lo, int y_hi, int x_lo, int x_hi)
{
    return c->stride == 1 && c->ow == c->w && y_lo < y_hi && x_lo < x_hi;
}

static inline void shifted_span(int ow, int y_lo, int y_hi, int x_lo, int x_hi, size_t *first,
                                size_t *len)
{
    *first = (size_t)y_lo * ow + x_lo;
    *len = (size_t)(y_hi - 1) * ow + x_hi - *first;
}

static void shifted_plane(float *row, const float *plane, long shift, int oh, int ow, int y_lo,
                          int y_hi, int x_lo, int x_hi)
{
    size_t first, len;
    shifted_span(ow, y_lo, y_hi, x_lo, x_hi, &first, &len);
    memset(row, 0, sizeof(float) * (size_t)y_lo * ow);
    memcpy(row + first, plane + (shift + (long)first), sizeof(float) * len);
    zero_edges(row, ow, y_lo, y_hi, x_lo, x_hi);
    memset(row + (size_t)y_hi * ow, 0, sizeof(float) * (size_t)(oh - y_hi) * ow);
}

/* Its adjoint: the edge columns' gradients (of padding) are zeroed in the
 * scratch columns, then the span adds into the plane: in the same order
 * as one row at a time, adding zeros elsewhere. */
static void shifted_plane_add(float *row, float *plane, long shift, int ow, int y_lo, int y_hi,
                              int x_lo, int x_hi)
{
    size_t first, len;
    shifted_span(ow, y_lo, y_hi, x_lo, x_hi, &first, &len);
    zero_edges(row, ow, y_lo, y_hi, x_lo, x_hi);
    const float *restrict r = row + first;
    float *restrict o = plane + (shift + (long)first);
    for (size_t j = 0; j < len; j++)
        o[j] += r[j];
}

/* Columns of one image and group: row (ci, ki, kj), column (oy, ox);
 * rows are ld floats apart (the columns of a block of images side by
 * side). */
OPS_CLONES static void im2col(const ops_conv *c, const conv_geom *gm, const float *in, float *cols,
                              int cin_g, size_t ld)
{
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation;
    for (int ci = 0; ci < cin_g; ci++) {
        const float *plane = in + (size_t)ci * c->h * c->w;
        for (int ki = 0; ki < c->kh; ki++) {
            int y_lo, y_hi;
            geom_y(c, gm, ki, &y_lo, &y_hi);
            for (int kj = 0; kj < c->kw; kj++) {
                float *row = cols + (((size_t)ci * c->kh + ki) * c->kw + kj) * ld;
                int offx = kj * d - c->pad_w, x_lo, x_hi;
                geom_x(c, gm, kj, &x_lo, &x_hi);
                if (shifted_ok(c, y_lo, y_hi, x_lo, x_hi)) {
                    shifted_plane(row, plane, (long)(ki * d - c->pad_h) * ow + offx, oh, ow, y_lo,
                                  y_hi, x_lo, x_hi);
                    continue;
                }
                for (int oy = 0; oy < oh; oy++) {
                    float *r = row + (size_t)oy * ow;
                    if (oy < y_lo || oy >= y_hi || x_lo >= x_hi) {
                        memset(r, 0, sizeof(float) * ow);
                        continue;
                    }
                    const float *src = plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                    col_row(r, src, x_lo, x_hi, ow, s);
                }
            }
        }
    }
}

/* The adjoint of im2col: adds the columns back into the image (the
 * columns are scratch: the shifted path zeroes their padding entries). */
OPS_CLONES static void col2im_add(const ops_conv *c, const conv_geom *gm, float *cols, float *din,
                                  int cin_g, size_t ld)
{
    int ow = c->ow, s = c->stride, d = c->dilation;
    for (int ci = 0; ci < cin_g; ci++) {
        float *plane = din + (size_t)ci * c->h * c->w;
        for (int ki = 0; ki < c->kh; ki++) {
            int y_lo, y_hi;
            geom_y(c, gm, ki, &y_lo, &y_hi);
            for (int kj = 0; kj < c->kw; kj++) {
                float *row = cols + (((size_t)ci * c->kh + ki) * c->kw + kj) * ld;
                int offx = kj * d - c->pad_w, x_lo, x_hi;
                geom_x(c, gm, kj, &x_lo, &x_hi);
                if (shifted_ok(c, y_lo, y_hi, x_lo, x_hi)) {
                    shifted_plane_add(row, plane, (long)(ki * d - c->pad_h) * ow + offx, ow, y_lo,
                                      y_hi, x_lo, x_hi);
                    continue;
                }
                for (int oy = y_lo; oy < y_hi; oy++) {
                    const float *r = row + (size_t)oy * ow;
                    float *dst = plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                    if (s == 1)
                        for (int ox = x_lo; ox < x_hi; ox++)
                            dst[ox] += r[ox];
                    else
                        for (int ox = x_lo; ox < x_hi; ox++)
                            dst[ox * s] += r[ox];
                }
            }
        }
    }
}

/* Depthwise rows: r[ox] (+)= kv * src[ox * s], written for the common
 * stride 1 separately so the compiler vectorises it. */
static inline void dw_row_fwd(float *restrict r, const float *restrict src, float kv, int lo,
                              int hi, int s)
{
    if (s == 1)
        for (int ox = lo; ox < hi; ox++)
            r[ox] += kv * src[ox];
    else
        for (int ox = lo; ox < hi; ox++)
            r[ox] += kv * src[ox * s];
}

static inline float dw_row_dot(const float *restrict g, const float *restrict src, int lo, int hi,
                               int s)
{
    float acc = 0.0f;
    if (s == 1)
        for (int ox = lo; ox < hi; ox++)
            acc += g[ox] * src[ox];
    else
        for (int ox = lo; ox < hi; ox++)
            acc += g[ox] * src[ox * s];
    return acc;
}

static inline void dw_row_bwd(float *restrict dst, const float *restrict g, float kv, int lo,
                              int hi, int s)
{
    if (s == 1)
        for (int ox = lo; ox < hi; ox++)
            dst[ox] += kv * g[ox];
    else
        for (int ox = lo; ox < hi; ox++)
            dst[ox * s] += kv * g[ox];
}

/* The arguments of a convolution task. */
typedef struct conv_args {
    const ops_conv *c;
    float *out, *din, *dw, *db, *scratch;
    const float *in, *w, *b, *dout;
    bool acc;         /* add to din, or store */
    float *bias_sums; /* backward: the output gradients' plane sums, or NULL */
    size_t per;       /* scratch floats per thread: columns, then outputs */
    size_t cols;
    int blk; /* images per block, at most */
    const conv_geom *gm;
} conv_args;

static bool conv_worth(const ops_conv *c)
{
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    return (long)c->n * c->cin * (long)(ihw + ohw) * c->kh * c->kw > OPS_PAR_MIN;
}

/* Images per block of a depthwise channel: the block's planes (inputs,
 * outputs, gradients) stay in L1 while every tap passes over them. */
static int dw_block(size_t ihw, size_t ohw, int arrays)
{
    size_t per = (ihw + ohw) * (size_t)arrays / 2 + 1;
    size_t b = 6144 / per;
    return b < 1 ? 1 : b > 1024 ? 1024 : (int)b;
}

/* Depthwise, parallel over channels: a channel's weights and bias belong
 * to one thread, so their gradients sum in the same order whatever the
 * threads. Taps are the outer loop and images the inner one, so the work
 * per loop setup stays large even for 1x1 and 2x2 maps. */
OPS_CLONES static void depthwise_forward_range(void *ctx, long lo, long hi)
{
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    const conv_geom *gm = a->gm;
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation, n = c->n;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)oh * ow;
    size_t istep = (size_t)c->cin * ihw, ostep = (size_t)c->cout * ohw;
    int blk = dw_block(ihw, ohw, 2);
    for (long ch = lo; ch < hi; ch++) {
        const float *k = a->w + (size_t)ch * c->kh * c->kw;
        const float *plane0 = a->in + (size_t)ch * ihw;
        float *o0 = a->out + (size_t)ch * ohw, bv = a->b ? a->b[ch] : 0.0f;
        for (int i0 = 0; i0 < n; i0 += blk) {
            int i1 = i0 + blk < n ? i0 + blk : n;
            for (int i = i0; i < i1; i++) {
                float *o = o0 + i * ostep;
                for (size_t p = 0; p < ohw; p++)
                    o[p] = bv;
            }
            for (int ki = 0; ki < c->kh; ki++) {
                int y_lo, y_hi;
                geom_y(c, gm, ki, &y_lo, &y_hi);
                for (int kj = 0; kj < c->kw; kj++) {
                    int offx = kj * d - c->pad_w, x_lo, x_hi;
                    geom_x(c, gm, kj, &x_lo, &x_hi);
                    if (y_lo >= y_hi || x_lo >= x_hi)
                        continue;
                    float kv = k[ki * c->kw + kj];
                    for (int i = i0; i < i1; i++) {
                        const float *plane = plane0 + i * istep;
                        float *o = o0 + i * ostep;
                        for (int oy = y_lo; oy < y_hi; oy++)
                            dw_row_fwd(o + (size_t)oy * ow,
                                       plane + (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx,
                                       kv, x_lo, x_hi, s);
                    }
                }
            }
        }
    }
}

OPS_CLONES static void depthwise_backward_range(void *ctx, long lo, long hi)
{
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    const conv_geom *gm = a->gm;
    int oh = c->oh, ow = c->ow, s = c->stride, d = c->dilation, n = c->n;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)oh * ow;
    size_t istep = (size_t)c->cin * ihw, ostep = (size_t)c->cout * ohw;
    int blk = dw_block(ihw, ohw, a->din ? 3 : 2);
    for (long ch = lo; ch < hi; ch++) {
        const float *k = a->w + (size_t)ch * c->kh * c->kw;
        float *dk = a->dw ? a->dw + (size_t)ch * c->kh * c->kw : NULL;
        const float *plane0 = a->in + (size_t)ch * ihw, *g0 = a->dout + (size_t)ch * ohw;
        float *dplane0 = a->din ? a->din + (size_t)ch * ihw : NULL;
        if (dplane0 && !a->acc) /* the taps add up: start from zero */
            for (int i = 0; i < n; i++)
                memset(dplane0 + i * istep, 0, sizeof(float) * ihw);
        if (a->db) {
            double sb = 0.0;
            for (int i = 0; i < n; i++) {
                const float *g = g0 + i * ostep;
                for (size_t p = 0; p < ohw; p++)
                    sb += g[p];
            }
            a->db[ch] += (float)sb;
        }
        for (int i0 = 0; i0 < n; i0 += blk) {
            int i1 = i0 + blk < n ? i0 + blk : n;
            for (int ki = 0; ki < c->kh; ki++) {
                int y_lo, y_hi;
                geom_y(c, gm, ki, &y_lo, &y_hi);
                for (int kj = 0; kj < c->kw; kj++) {
                    int offx = kj * d - c->pad_w, x_lo, x_hi;
                    geom_x(c, gm, kj, &x_lo, &x_hi);
                    if (y_lo >= y_hi || x_lo >= x_hi)
                        continue;
                    float kv = k[ki * c->kw + kj];
                    double acc = 0.0;
                    for (int i = i0; i < i1; i++) {
                        const float *plane = plane0 + i * istep, *g = g0 + i * ostep;
                        float *dplane = dplane0 ? dplane0 + i * istep : NULL;
                        for (int oy = y_lo; oy < y_hi; oy++) {
                            size_t base = (size_t)(oy * s + ki * d - c->pad_h) * c->w + offx;
                            const float *r = g + (size_t)oy * ow;
                            if (dk)
                                acc += dw_row_dot(r, plane + base, x_lo, x_hi, s);
                            if (dplane)
                                dw_row_bwd(dplane + base, r, kv, x_lo, x_hi, s);
                        }
                    }
                    if (dk)
                        dk[ki * c->kw + kj] += (float)acc;
                }
            }
        }
    }
}

/* Bias gradient, parallel over channels, images summed in order. */
static void bias_grad_range(void *ctx, long lo, long hi)
{
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    size_t hw = (size_t)c->oh * c->ow;
    for (long co = lo; co < hi; co++)
        for (int i = 0; i < c->n; i++)
            a->db[co] += (float)ops_sum(a->dout + ((size_t)i * c->cout + co) * hw, hw);
}

/* The bias gradient from the plane sums the blocks took (bias_sums):
 * per channel, in image order, as bias_grad_range adds them. */
static void bias_sums_range(void *ctx, long lo, long hi)
{
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    for (long co = lo; co < hi; co++)
        for (int i = 0; i < c->n; i++)
            a->db[co] += a->bias_sums[(size_t)i * c->cout + co];
}

/* n planes of len floats from src (planes sstride apart) to dst (dstride
 * apart): the blocks' moves between an image's planes and a block's rows.
 * Small maps make a plane a few floats (2x2: 16 bytes), where a call of
 * memcpy per plane costs more than the copy; the common sizes get copies
 * of a constant size, which the compiler makes a vector move or two. */
static inline __attribute__((always_inline)) void copy_planes_of(float *restrict dst,
                                                                 size_t dstride,
                                                                 const float *restrict src,
                                                                 size_t sstride, int n, size_t len)
{
    for (int k = 0; k < n; k++)
        memcpy(dst + k * dstride, src + k * sstride, sizeof(float) * len);
}

static void copy_planes(float *restrict dst, size_t dstride, const float *restrict src,
                        size_t sstride, int n, size_t len)
{
    switch (len) {
    case 4: copy_planes_of(dst, dstride, src, sstride, n, 4); break;
    case 16: copy_planes_of(dst, dstride, src, sstride, n, 16); break;
    default: copy_planes_of(dst, dstride, src, sstride, n, len);
    }
}

/* The columns of images [i0, i0 + nb), group g, side by side: row k,
 * column b * ohw + p. A 1x1 convolution's columns are the images' planes. */
static void block_columns(const conv_args *a, int i0, int nb, int g, float *cols)
{
    const ops_conv *c = a->c;
    int cin_g = c->cin / c->groups;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow, ld = (size_t)nb * ohw;
    for (int b = 0; b < nb; b++) {
        const float *x = a->in + ((size_t)(i0 + b) * c->cin + (size_t)g * cin_g) * ihw;
        if (conv_is_1x1(c))
            copy_planes(cols + b * ohw, ld, x, ihw, cin_g, ohw);
        else
            im2col(c, a->gm, x, cols + b * ohw, cin_g, ld);
    }
}

/* Forward of images [i0, i0 + nb): one sgemm per group. */
static void block_forward(const conv_args *a, int i0, int nb, float *cols, float *ybuf)
{
    const ops_conv *c = a->c;
    int g_n = c->groups, cin_g = c->cin / g_n, cout_g = c->cout / g_n, K = conv_K(c);
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow, ld = (size_t)nb * ohw;
    for (int g = 0; g < g_n; g++) {
        const float *src = cols;
        if (conv_is_1x1(c) && nb == 1) /* the image is its own column matrix */
            src = a->in + ((size_t)i0 * c->cin + (size_t)g * cin_g) * ihw;
        else
            block_columns(a, i0, nb, g, cols);
        float *o = a->out + ((size_t)i0 * c->cout + (size_t)g * cout_g) * ohw;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, cout_g, (int)ld, K, 1.0f,
                    a->w + (size_t)g * cout_g * K, K, src, (int)ld, 0.0f, nb == 1 ? o : ybuf,
                    (int)ld);
        if (nb > 1)
            for (int b = 0; b < nb; b++)
                copy_planes(o + (size_t)b * c->cout * ohw, ohw, ybuf + b * ohw, ld, cout_g, ohw);
    }
    if (a->b)
        for (int i = i0; i < i0 + nb; i++)
            for (int co = 0; co < c->cout; co++) {
                float *o = a->out + ((size_t)i * c->cout + co) * ohw, v = a->b[co];
                for (size_t p = 0; p < ohw; p++)
                    o[p] += v;
            }
}

/* Backward of images [i0, i0 + nb): the weight gradient adds into dwp,
 * the input gradient goes into the images' own planes. */
static void block_backward(const conv_args *a, int i0, int nb, float *cols, float *gbuf, float *dwp)
{
    const ops_conv *c = a->c;
    int g_n = c->groups, cin_g = c->cin / g_n, cout_g = c->cout / g_n, K = conv_K(c);
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow, ld = (size_t)nb * ohw;
    bool one = conv_is_1x1(c);
    if (a->bias_sums) /* the block's gradients, into the cache for what follows */
        ops_plane_sums(a->bias_sums + (size_t)i0 * c->cout, a->dout + (size_t)i0 * c->cout * ohw,
                       nb, c->cout, ohw);
    for (int g = 0; g < g_n; g++) {
        const float *go = a->dout + ((size_t)i0 * c->cout + (size_t)g * cout_g) * ohw;
        const float *wg = a->w + (size_t)g * cout_g * K;
        float *dx = a->din ? a->din + ((size_t)i0 * c->cin + (size_t)g * cin_g) * ihw : NULL;
        if (nb > 1) {
            for (int b = 0; b < nb; b++)
                copy_planes(gbuf + b * ohw, ld, go + (size_t)b * c->cout * ohw, ohw, cout_g, ohw);
            go = gbuf;
        }
        if (dwp) {
            const float *src = cols;
            if (one && nb == 1)
                src = a->in + ((size_t)i0 * c->cin + (size_t)g * cin_g) * ihw;
            else
                block_columns(a, i0, nb, g, cols);
            /* dW_g += dout_g (cout_g x ld) * cols^T (ld x K) */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, cout_g, K, (int)ld, 1.0f, go,
                        (int)ld, src, (int)ld, 1.0f, dwp + (size_t)g * cout_g * K, K);
        }
        if (!dx)
            continue;
        if (one && nb == 1) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)ohw, cout_g, 1.0f, wg, K,
                        go, (int)ohw, a->acc ? 1.0f : 0.0f, dx, (int)ohw);
            continue;
        }
        /* the columns' gradient, then back into the images */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, (int)ld, cout_g, 1.0f, wg, K, go,
                    (int)ld, 0.0f, cols, (int)ld);
        for (int b = 0; b < nb; b++) {
            float *d = dx + (size_t)b * c->cin * ihw;
            if (!one) {
                if (!a->acc)
                    memset(d, 0, sizeof(float) * (size_t)cin_g * ihw); /* windows may skip inputs */
                col2im_add(c, a->gm, cols + b * ohw, d, cin_g, ld);
                continue;
            }
            if (!a->acc) {
                copy_planes(d, ihw, cols + b * ohw, ld, cin_g, ohw);
                continue;
            }
            for (int ci = 0; ci < cin_g; ci++) {
                float *restrict r = d + ci * ihw;
                const float *restrict s = cols + ci * ld + b * ohw;
                for (size_t p = 0; p < ohw; p++)
                    r[p] += s[p];
            }
        }
    }
}

/* Rows per chunk of the dense path: fixed, so the sgemm calls (and their
 * numbers) are the same whatever the threads. */
#define DENSE_ROWS 16

/* Rows per chunk of the dense forward: DENSE_ROWS, or all of them on one
 * thread (ops_conv.one_group, an evaluation piece): each sgemm call packs
 * the whole weight matrix again (384 x 384 in ExquisiteNet), as much work
 * as multiplying 16 rows by it. */
static long dense_forward_rows(const ops_conv *c)
{
    return c->one_group && c->n > 0 ? c->n : DENSE_ROWS;
}

/* out [n x cout] = in [n x cin] * W^T (+ bias), a chunk of rows */
static void dense_forward_chunk(void *ctx, long chunk, int t)
{
    (void)t;
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    long rows = dense_forward_rows(c), lo = chunk * rows, hi = lo + rows < c->n ? lo + rows : c->n;
    if (a->b)
        for (long i = lo; i < hi; i++)
            memcpy(a->out + i * c->cout, a->b, sizeof(float) * c->cout);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(hi - lo), c->cout, c->cin, 1.0f,
                a->in + lo * c->cin, c->cin, a->w, c->cin, a->b ? 1.0f : 0.0f,
                a->out + lo * c->cout, c->cout);
}

/* Chunks [0, nrow): rows of din [n x cin] += dout [n x cout] * W; then
 * rows of dW [cout x cin] += dout^T * in, each summing over the whole
 * batch in one call. */
static void dense_backward_chunk(void *ctx, long chunk, int t)
{
    (void)t;
    const conv_args *a = ctx;
    const ops_conv *c = a->c;
    long nrow = a->din ? (c->n + DENSE_ROWS - 1) / DENSE_ROWS : 0;
    if (chunk < nrow) {
        long lo = chunk * DENSE_ROWS, hi = lo + DENSE_ROWS < c->n ? lo + DENSE_ROWS : c->n;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(hi - lo), c->cin, c->cout,
                    1.0f, a->dout + lo * c->cout, c->cout, a->w, c->cin, a->acc ? 1.0f : 0.0f,
                    a->din + lo * c->cin, c->cin);
        return;
    }
    long lo = (chunk - nrow) * DENSE_ROWS,
         hi = lo + DENSE_ROWS < c->cout ? lo + DENSE_ROWS : c->cout;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)(hi - lo), c->cin, c->n, 1.0f,
                a->dout + lo, c->cout, a->in, c->cin, 1.0f, a->dw + lo * c->cin, c->cin);
}

/* Chunks are OPS_MAX_THREADS fixed groups of images, each cut in as few
 * blocks as conv_block allows, of even sizes; a group's weight gradient
 * has a slot of its own, the slots are summed in group order afterwards:
 * the same numbers for any number of threads. */
static long image_groups(const ops_conv *c)
{
    return c->one_group ? 1 : OPS_MAX_THREADS;
}

static void group_blocks(const conv_args *a, long chunk, long *lo, long *hi, long *nblk)
{
    ops_share(a->c->n, chunk, image_groups(a->c), lo, hi);
    long b = a->blk;
    *nblk = (*hi - *lo + b - 1) / b;
}

static float *slot_cols(const conv_args *a, int t)
{
    return a->scratch + a->per * t;
}

static float *slot_dw(const conv_args *a, long chunk)
{
    return a->scratch + a->per * OPS_MAX_THREADS + round16(conv_wsize(a->c)) * chunk;
}

static void groups_forward_chunk(void *ctx, long chunk, int t)
{
    const conv_args *a = ctx;
    long lo, hi, nblk;
    group_blocks(a, chunk, &lo, &hi, &nblk);
    float *cols = slot_cols(a, t);
    for (long k = 0; k < nblk; k++) {
        long i0 = lo + (hi - lo) * k / nblk, i1 = lo + (hi - lo) * (k + 1) / nblk;
        block_forward(a, (int)i0, (int)(i1 - i0), cols, cols + a->cols);
    }
}

static void groups_backward_chunk(void *ctx, long chunk, int t)
{
    const conv_args *a = ctx;
    long lo, hi, nblk;
    group_blocks(a, chunk, &lo, &hi, &nblk);
    float *cols = slot_cols(a, t), *dwp = NULL;
    if (a->dw) {
        dwp = slot_dw(a, chunk);
        memset(dwp, 0, sizeof(float) * conv_wsize(a->c));
    }
    for (long k = 0; k < nblk; k++) {
        long i0 = lo + (hi - lo) * k / nblk, i1 = lo + (hi - lo) * (k + 1) / nblk;
        block_backward(a, (int)i0, (int)(i1 - i0), cols, cols + a->cols, dwp);
    }
}

static void dw_reduce_range(void *ctx, long lo, long hi)
{
    const conv_args *a = ctx;
    for (long j = lo; j < hi; j++) {
        float s = 0.0f;
        for (int k = 0; k < OPS_MAX_THREADS; k++)
            s += slot_dw(a, k)[j];
        a->dw[j] += s;
    }
}

void ops_conv_forward(const ops_conv *c, float *out, const float *in, const float *w,
                      const float *b, float *scratch)
{
    conv_args a = {.c = c,
                   .out = out,
                   .in = in,
                   .w = w,
                   .b = c->bias ? b : NULL,
                   .scratch = scratch,
                   .cols = conv_cols(c),
                   .blk = conv_block(c)};
    a.per = a.cols + conv_ybuf(c);
    conv_geom gm;
    geom_init(c, &gm);
    a.gm = &gm;
    if (ops_dw_ok(c))
        ops_dw_forward(c, out, in, w, b, scratch);
    else if (conv_is_depthwise(c))
        ops_par_for(c->cin, conv_worth(c), depthwise_forward_range, &a);
    else if (conv_is_dense(c))
        ops_par_run(dense_forward_chunk, &a,
                    (c->n + dense_forward_rows(c) - 1) / dense_forward_rows(c),
                    (long)c->n * c->cin * c->cout > OPS_PAR_MIN * 4);
    else if (ops_wino_on(c))
        ops_wino_forward(c, out, in, w, b, scratch);
    else
        ops_par_run(groups_forward_chunk, &a, image_groups(c), conv_worth(c));
}

void ops_conv_backward(const ops_conv *c, float *din, float *dw, float *db, const float *dout,
                       const float *in, const float *w, float *scratch, bool accumulate)
{
    conv_args a = {.c = c,
                   .din = din,
                   .dw = dw,
                   .db = c->bias ? db : NULL,
                   .dout = dout,
                   .in = in,
                   .w = w,
                   .scratch = scratch,
                   .cols = conv_cols(c),
                   .blk = conv_block(c),
                   .acc = accumulate};
    a.per = a.cols + conv_ybuf(c);
    conv_geom gm;
    geom_init(c, &gm);
    a.gm = &gm;
    if (ops_dw_ok(c)) {
        ops_dw_backward(c, din, dw, db, dout, in, w, scratch, accumulate);
        return;
    }
    if (conv_is_depthwise(c)) {
        ops_par_for(c->cin, conv_worth(c), depthwise_backward_range, &a);
        return;
    }
    /* with a weight gradient, the blocks (or Winograd's) sum the bias
       gradient's planes as they read them; else a pass of its own */
    bool sums = a.db && dw && !conv_is_dense(c);
    a.bias_sums = sums ? scratch + blocks_scratch(c) : NULL;
    if (a.db && !sums)
        ops_par_for(c->cout, (long)c->n * c->cout * c->oh * c->ow > OPS_PAR_MIN, bias_grad_range,
                    &a);
    if (conv_is_dense(c)) {
        long nrow = din ? (c->n + DENSE_ROWS - 1) / DENSE_ROWS : 0;
        long ncol = dw ? (c->cout + DENSE_ROWS - 1) / DENSE_ROWS : 0;
        ops_par_run(dense_backward_chunk, &a, nrow + ncol,
                    (long)c->n * c->cin * c->cout > OPS_PAR_MIN * 4);
        return;
    }
    if (ops_wino_on(c)) {
        if (din)
            ops_wino_input_grad(c, din, dout, w, scratch, accumulate);
        if (dw)
            ops_wino_weight_grad(c, dw, dout, in, scratch, a.bias_sums);
    } else {
        ops_par_run(groups_backward_chunk, &a, OPS_MAX_THREADS, conv_worth(c));
        if (dw) {
            long wsz = (long)conv_wsize(c);
            ops_par_for(wsz, wsz * OPS_MAX_THREADS > OPS_PAR_MIN, dw_reduce_range, &a);
        }
    }
    if (sums)
        ops_par_for(c->cout, (long)c->n * c->cout > OPS_PAR_MIN, bias_sums_range, &a);
}

/* The linear layers split over the pool by rows of the row-major result:
 * batch rows for the output and the input gradient, output features for
 * the weight gradient. Each element's sum stays whole in one sgemm call,
 * and the rows are cut in groups of LIN_ROWS, so the chunks' bounds (and
 * their numbers) depend only on the shapes, never on the threads. Why 12:
 * OpenBLAS's Haswell sgemm kernel takes those rows 12 at a time, and an
 * element's bits depend on the kernel that computes it; cut at multiples
 * of 12 every element meets the kernel that one call over the whole
 * matrix gives it, so the numbers are also those of the unsplit call
 * (with other kernels they may not be, but stay the same for any threads).
 * Every chunk packs the whole of the other operand (the weights, or the
 * input) again, a cost of about 1/rows of its multiply: chunks hold at
 * least LIN_MIN_ROWS rows (0.55 ms instead of 0.95 for smallcnn's first
 * linear forward on 2 threads; 0.60 in chunks of 36 rows, 0.81 of 12). */
#define LIN_ROWS     12
#define LIN_MIN_ROWS 60

typedef struct linear_args {
    float *out, *din, *dw;
    const float *in, *w, *b, *dout;
    int n, in_f, out_f;
    long din_parts; /* backward: chunks [0, din_parts) cut din, the rest dw */
    bool acc;       /* backward: add to din, or store */
} linear_args;

static bool linear_worth(int n, int in_f, int out_f)
{
    return (long)n * in_f * out_f > 4 * OPS_PAR_MIN;
}

/* Chunks of rows rows: whole groups of LIN_ROWS, LIN_MIN_ROWS or more. */
static long linear_parts(int rows)
{
    long parts = ((rows + LIN_ROWS - 1) / LIN_ROWS) / (LIN_MIN_ROWS / LIN_ROWS);
    return parts > 1 ? parts : 1;
}

/* Rows [*lo, *hi) of chunk c of parts over rows rows. */
static void linear_rows(int rows, long c, long parts, int *lo, int *hi)
{
    long groups = (rows + LIN_ROWS - 1) / LIN_ROWS, g0, g1;
    ops_share(groups, c, parts, &g0, &g1);
    *lo = (int)(g0 * LIN_ROWS);
    *hi = g1 * LIN_ROWS < rows ? (int)(g1 * LIN_ROWS) : rows;
}

/* out[lo:hi] = in[lo:hi] * W^T (+ b) */
static void linear_forward_chunk(void *ctx, long chunk, int t)
{
    (void)t;
    const linear_args *a = ctx;
    int lo, hi;
    linear_rows(a->n, chunk, linear_parts(a->n), &lo, &hi);
    float *out = a->out + (size_t)lo * a->out_f;
    if (a->b)
        for (int i = lo; i < hi; i++)
            memcpy(a->out + (size_t)i * a->out_f, a->b, sizeof(float) * (size_t)a->out_f);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, hi - lo, a->out_f, a->in_f, 1.0f,
                a->in + (size_t)lo * a->in_f, a->in_f, a->w, a->in_f, a->b ? 1.0f : 0.0f, out,
                a->out_f);
}

void ops_linear_forward(float *out, const float *in, const float *w, const float *b, int n,
                        int in_f, int out_f)
{
    linear_args a = {.out = out, .in = in, .w = w, .b = b, .n = n, .in_f = in_f, .out_f = out_f};
    ops_par_run(linear_forward_chunk, &a, linear_parts(n), linear_worth(n, in_f, out_f));
}

/* din[lo:hi] += dout[lo:hi] * W, or dW[lo:hi] += dout[:, lo:hi]^T * in */
static void linear_backward_chunk(void *ctx, long chunk, int t)
{
    (void)t;
    const linear_args *a = ctx;
    int lo, hi;
    if (chunk < a->din_parts) {
        linear_rows(a->n, chunk, a->din_parts, &lo, &hi);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, hi - lo, a->in_f, a->out_f, 1.0f,
                    a->dout + (size_t)lo * a->out_f, a->out_f, a->w, a->in_f, a->acc ? 1.0f : 0.0f,
                    a->din + (size_t)lo * a->in_f, a->in_f);
        return;
    }
    linear_rows(a->out_f, chunk - a->din_parts, linear_parts(a->out_f), &lo, &hi);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, hi - lo, a->in_f, a->n, 1.0f, a->dout + lo,
                a->out_f, a->in, a->in_f, 1.0f, a->dw + (size_t)lo * a->in_f, a->in_f);
}

/* db[o] += sum over the batch of dout[i][o], in batch order (in double),
 * a block of outputs at a time so the inner loop runs along a row */
static void linear_bias_grad(float *db, const float *dout, int n, int out_f)
{
    enum {
        BLOCK = 256
    };
    for (int o0 = 0; o0 < out_f; o0 += BLOCK) {
        int m = out_f - o0 < BLOCK ? out_f - o0 : BLOCK;
        double s[BLOCK] = {0};
        for (int i = 0; i < n; i++) {
            const float *row = dout + (size_t)i * out_f + o0;
            for (int o = 0; o < m; o++)
                s[o] += row[o];
        }
        for (int o = 0; o < m; o++)
            db[o0 + o] += (float)s[o];
    }
}

void ops_linear_backward(float *din, float *dw, float *db, const float *dout, const float *in,
                         const float *w, int n, int in_f, int out_f, bool accumulate)
{
    linear_args a = {.din = din,
                     .dw = dw,
                     .dout = dout,
                     .in = in,
                     .w = w,
                     .n = n,
                     .in_f = in_f,
                     .out_f = out_f,
                     .acc = accumulate};
    a.din_parts = din ? linear_parts(n) : 0;
    long parts = a.din_parts + (dw ? linear_parts(out_f) : 0);
    ops_par_run(linear_backward_chunk, &a, parts, linear_worth(n, in_f, out_f));
    if (db)
        linear_bias_grad(db, dout, n, out_f);
}
