/* Depthwise convolution at stride 1, vectorised two ways.
 *
 * 1. Flat (maps of more than 64 outputs, e.g. 14x14).
 * ExquisiteNet's depthwise 3x3 runs on 14x14, 7x7, 4x4, 2x2 and 1x1 maps:
 * row by row, a vector unit is mostly idle (a row of 7 is less than one
 * AVX2 vector). Here the planes of one channel for a block of images are
 * copied, zero-padded, one after the other into a flat buffer P. With Wp
 * the padded width, output (y, x) of an image is
 *     sum over taps t of k[t] * P[base + y * Wp + x + off[t]],
 * off[t] = ki * d * Wp + kj * d, so the whole block is ONE loop over the
 * flat index j with a fixed offset per tap: long, unit-stride, vectorised.
 * Positions past an image's output width or height are computed and thrown
 * away (16x16 computed for 14x14 outputs with a 3x3 kernel).
 *
 * Backward uses the same buffers: the output gradient is laid out in the
 * same flat form G (zero where there is no output); the kernel gradient is
 * dk[t] = sum_j G[j] * P[j + off[t]] and the padded input gradient is
 * dP[q] = sum_t k[t] * G[q - off[t]], the forward loop again with offsets
 * mirrored, read off where the real input sits.
 *
 * 2. Across channels (maps of at most 64 outputs: 7x7 down to 1x1, where
 * padding would multiply the work). For a block of 16 channels, each
 * image's planes are transposed to [position][channel], and every
 * (output, input, tap) triple that the geometry allows is one 16-wide
 * multiply-add with the taps also stored [tap][channel]. (Measured on
 * ExquisiteNet: 7x7 maps of 48 channels take half the time of the flat
 * way; 14x14 maps of 12 channels are a little faster flat.)
 *
 * Neither way's numbers depend on the thread count: the flat way's chunks
 * are channels, whose kernel and bias gradients one thread sums in image
 * order; the other's are (channel block, image group) with a fixed number
 * of groups, their sums added in group order afterwards. */
#include "engine/ops_depthwise.h"
#include "engine/ops_internal.h"
#include "engine/ops_vec.h"

#include <string.h>

#pragma GCC optimize("O3")

#define TAPS_MAX     49   /* up to 7x7 kernels */
#define LANES        32   /* j is walked in runs of this many, kept in registers */
#define BLOCK_FLOATS 8192 /* floats of padded planes per block: the buffers stay in L1/L2 */
#define SMALL_OUT    64   /* maps of at most this many outputs go across channels */
#ifndef CB
#define CB 16 /* channels per row of the small-map kernel: a multiple of 8 */
#endif

typedef struct dw_geom {
    int hp, wp;    /* padded plane */
    size_t plane;  /* hp * wp */
    int blk;       /* images per block */
    size_t len;    /* floats of a block, rounded up to LANES */
    size_t margin; /* largest tap offset, rounded up to LANES */
    int taps;
    long off[TAPS_MAX];
} dw_geom;

bool ops_dw_ok(const ops_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->groups > 1 && c->stride == 1 &&
           c->kh * c->kw <= TAPS_MAX && c->pad_h < c->kh * c->dilation &&
           c->pad_w < c->kw * c->dilation;
}

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void geom(const ops_conv *c, dw_geom *g)
{
    g->hp = c->h + 2 * c->pad_h;
    g->wp = c->w + 2 * c->pad_w;
    g->plane = (size_t)g->hp * g->wp;
    g->blk = (int)(BLOCK_FLOATS / g->plane);
    if (g->blk < 1)
        g->blk = 1;
    g->len = round_up((size_t)g->blk * g->plane, LANES);
    g->taps = c->kh * c->kw;
    for (int ki = 0; ki < c->kh; ki++)
        for (int kj = 0; kj < c->kw; kj++)
            g->off[ki * c->kw + kj] = (long)ki * c->dilation * g->wp + (long)kj * c->dilation;
    g->margin = round_up((size_t)g->off[g->taps - 1], LANES);
}

/* Per thread: P (len + margin), G (margin + len + margin), D (len); none
 * of it depends on the number of images. */
static size_t per_thread(const dw_geom *g)
{
    return round_up(g->len + g->margin, 16) + round_up(2 * g->margin + g->len, 16) +
           round_up(g->len, 16);
}

/* The small-map kernel is chosen by shape alone. */
static bool use_small(const ops_conv *c)
{
    return c->oh * c->ow <= SMALL_OUT;
}

/* o[0..CB) += a[0..CB) * b[0..CB): one row of the small-map kernel */
static inline void fma_row(float *o, const float *a, const float *b)
{
    for (int v = 0; v < CB; v += 8)
        *(v8u *)(o + v) += *(const v8u *)(a + v) * *(const v8u *)(b + v);
}

/* out[j] = bias + sum_t k[t] * src[j + off[t]] for j in [0, len) */
OPS_CLONES static void taps_apply(float *restrict out, const float *restrict src, const float *k,
                                  const long *off, int taps, size_t len, float bias)
{
    for (size_t j0 = 0; j0 < len; j0 += LANES) {
        v8 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        a0 += bias, a1 += bias, a2 += bias, a3 += bias;
        for (int t = 0; t < taps; t++) {
            const float *p = src + j0 + off[t];
            float kv = k[t];
            a0 += kv * *(const v8u *)(p);
            a1 += kv * *(const v8u *)(p + 8);
            a2 += kv * *(const v8u *)(p + 16);
            a3 += kv * *(const v8u *)(p + 24);
        }
        *(v8u *)(out + j0) = a0;
        *(v8u *)(out + j0 + 8) = a1;
        *(v8u *)(out + j0 + 16) = a2;
        *(v8u *)(out + j0 + 24) = a3;
    }
}

/* d[t] += sum_j g[j] * src[j + off[t]] for j in [0, len) */
OPS_CLONES static void taps_dot(double *d, const float *restrict g, const float *restrict src,
                                const long *off, int taps, size_t len)
{
    for (int t = 0; t < taps; t++) {
        const float *s = src + off[t];
        v8 a0 = {0}, a1 = {0};
        for (size_t j = 0; j < len; j += 16) {
            a0 += *(const v8u *)(g + j) * *(const v8u *)(s + j);
            a1 += *(const v8u *)(g + j + 8) * *(const v8u *)(s + j + 8);
        }
        a0 += a1;
        float sum = 0.0f;
        for (int l = 0; l < 8; l++)
            sum += a0[l];
        d[t] += sum;
    }
}

typedef struct dw_args {
    const ops_conv *c;
    const dw_geom *g;
    float *out, *din, *dw, *db, *scratch;
    const float *in, *w, *b, *dout;
    bool acc; /* add to din, or store */
} dw_args;

/* Lays rows of `cols` floats from src (row stride `stride`) into dst
 * (row stride wp) at column `left`, zeroing the rest of each row; then
 * zeroes rows up to `rows_total`. Loops, not memcpy: rows are 1 to 14
 * floats and a library call per row costs more than the copy. */
static void lay_rows(float *restrict dst, const float *restrict src, int rows, int cols, int stride,
                     int left, int wp, int rows_total)
{
    for (int y = 0; y < rows; y++) {
        float *d = dst + (size_t)y * wp;
        const float *r = src + (size_t)y * stride;
        for (int x = 0; x < left; x++)
            d[x] = 0.0f;
        for (int x = 0; x < cols; x++)
            d[left + x] = r[x];
        for (int x = left + cols; x < wp; x++)
            d[x] = 0.0f;
    }
    for (size_t q = (size_t)rows * wp; q < (size_t)rows_total * wp; q++)
        dst[q] = 0.0f;
}

/* Copies the planes of channel ch, images [i0, i0 + nb), into P padded;
 * zeroes P up to len + margin. */
static void pad_planes(const dw_args *a, long ch, int i0, int nb, float *P)
{
    const ops_conv *c = a->c;
    const dw_geom *g = a->g;
    size_t ihw = (size_t)c->h * c->w, top = (size_t)c->pad_h * g->wp;
    for (int b = 0; b < nb; b++) {
        float *dst = P + b * g->plane;
        for (size_t q = 0; q < top; q++)
            dst[q] = 0.0f;
        lay_rows(dst + top, a->in + ((size_t)(i0 + b) * c->cin + ch) * ihw, c->h, c->w, c->w,
                 c->pad_w, g->wp, g->hp - c->pad_h);
    }
    memset(P + nb * g->plane, 0, sizeof(float) * (g->len + g->margin - nb * g->plane));
}

static void forward_chunk(void *ctx, long ch, int t)
{
    const dw_args *a = ctx;
    const ops_conv *c = a->c;
    const dw_geom *g = a->g;
    float *P = a->scratch + per_thread(g) * t;
    float *D = P + round_up(g->len + g->margin, 16) + round_up(2 * g->margin + g->len, 16);
    size_t ohw = (size_t)c->oh * c->ow;
    const float *k = a->w + (size_t)ch * g->taps;
    float bias = a->b ? a->b[ch] : 0.0f;
    for (int i0 = 0; i0 < c->n; i0 += g->blk) {
        int nb = c->n - i0 < g->blk ? c->n - i0 : g->blk;
        pad_planes(a, ch, i0, nb, P);
        taps_apply(D, P, k, g->off, g->taps, round_up((size_t)nb * g->plane, LANES), bias);
        for (int b = 0; b < nb; b++) {
            float *o = a->out + ((size_t)(i0 + b) * c->cout + ch) * ohw;
            const float *src = D + b * g->plane;
            for (int y = 0; y < c->oh; y++)
                for (int x = 0; x < c->ow; x++)
                    o[(size_t)y * c->ow + x] = src[(size_t)y * g->wp + x];
        }
    }
}

static void backward_chunk(void *ctx, long ch, int t)
{
    const dw_args *a = ctx;
    const ops_conv *c = a->c;
    const dw_geom *g = a->g;
    float *P = a->scratch + per_thread(g) * t;
    float *Gm = P + round_up(g->len + g->margin, 16); /* margin zeros, then G */
    float *G = Gm + g->margin;
    float *D = Gm + round_up(2 * g->margin + g->len, 16);
    size_t ohw = (size_t)c->oh * c->ow, ihw = (size_t)c->h * c->w;
    const float *k = a->w + (size_t)ch * g->taps;
    float kr[TAPS_MAX];
    long offr[TAPS_MAX];
    for (int q = 0; q < g->taps; q++) { /* the mirrored taps of dP */
        kr[q] = k[q];
        offr[q] = (long)g->margin - g->off[q];
    }
    double dk[TAPS_MAX] = {0}, sb = 0.0;
    for (int i0 = 0; i0 < c->n; i0 += g->blk) {
        int nb = c->n - i0 < g->blk ? c->n - i0 : g->blk;
        size_t len = round_up((size_t)nb * g->plane, LANES);
        memset(Gm, 0, sizeof(float) * g->margin);
        for (int b = 0; b < nb; b++) {
            const float *src = a->dout + ((size_t)(i0 + b) * c->cout + ch) * ohw;
            lay_rows(G + b * g->plane, src, c->oh, c->ow, c->ow, 0, g->wp, g->hp);
            if (a->db)
                sb += ops_sum(src, ohw);
        }
        memset(G + nb * g->plane, 0, sizeof(float) * (g->margin + g->len - nb * g->plane));
        if (a->dw) {
            pad_planes(a, ch, i0, nb, P);
            taps_dot(dk, G, P, g->off, g->taps, len);
        }
        if (a->din) {
            taps_apply(D, Gm, kr, offr, g->taps, len, 0.0f);
            for (int b = 0; b < nb; b++) {
                float *dx = a->din + ((size_t)(i0 + b) * c->cin + ch) * ihw;
                const float *src = D + b * g->plane + (size_t)c->pad_h * g->wp + c->pad_w;
                for (int y = 0; y < c->h; y++) {
                    float *row = dx + (size_t)y * c->w;
                    const float *s = src + (size_t)y * g->wp;
                    if (a->acc)
                        for (int x = 0; x < c->w; x++)
                            row[x] += s[x];
                    else
                        for (int x = 0; x < c->w; x++)
                            row[x] = s[x];
                }
            }
        }
    }
    if (a->db)
        a->db[ch] += (float)sb;
    if (a->dw)
        for (int q = 0; q < g->taps; q++)
            a->dw[(size_t)ch * g->taps + q] += (float)dk[q];
}

static bool worth(const ops_conv *c, const dw_geom *g)
{
    return (long)c->n * c->cin * (long)g->plane * g->taps > OPS_PAR_MIN;
}

/* ---- across channels, for small maps ---------------------------------- */

typedef struct dw_pair {
    short q, s, t; /* output position, input position, tap */
} dw_pair;

typedef struct small_args {
    const ops_conv *c;
    float *out, *din, *dw, *db, *scratch;
    const float *in, *w, *b, *dout;
    const dw_pair *pairs;
    int npairs;
    bool acc;       /* add to din, or store */
    size_t per;     /* scratch floats per thread */
    float *partial; /* backward: per chunk, kernel and bias gradient sums */
} small_args;

/* Chunks are (block of CB channels, group of images): a fixed number of
 * image groups keeps both threads busy when there are few channel blocks
 * (48 channels are 3 blocks), and each group's kernel and bias gradient
 * sums are kept apart, then added in group order: the same numbers for
 * any number of threads. */
#define IMAGE_GROUPS 4

static void chunk_images(const ops_conv *c, long chunk, long *c0, int *m, int *i0, int *i1)
{
    long blk = chunk / IMAGE_GROUPS, grp = chunk % IMAGE_GROUPS;
    *c0 = blk * CB;
    *m = c->cin - *c0 < CB ? (int)(c->cin - *c0) : CB;
    *i0 = (int)((long)c->n * grp / IMAGE_GROUPS);
    *i1 = (int)((long)c->n * (grp + 1) / IMAGE_GROUPS);
}

static int small_pairs(const ops_conv *c, dw_pair *pr)
{
    int n = 0;
    for (int oy = 0; oy < c->oh; oy++)
        for (int ox = 0; ox < c->ow; ox++)
            for (int ki = 0; ki < c->kh; ki++)
                for (int kj = 0; kj < c->kw; kj++) {
                    int iy = oy + ki * c->dilation - c->pad_h,
                        ix = ox + kj * c->dilation - c->pad_w;
                    if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                        continue;
                    pr[n++] = (dw_pair){(short)(oy * c->ow + ox), (short)(iy * c->w + ix),
                                        (short)(ki * c->kw + kj)};
                }
    return n;
}

/* X, dX: input positions; O (also G): output positions; K, dK: taps. */
static size_t small_per_thread(const ops_conv *c)
{
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow, taps = (size_t)c->kh * c->kw;
    return (2 * ihw + ohw + 2 * taps) * CB;
}

/* kernel gradient (taps rows) then bias gradient (one row) of a chunk */
static size_t small_partial(const ops_conv *c)
{
    return ((size_t)c->kh * c->kw + 1) * CB;
}

static long small_chunks(const ops_conv *c)
{
    return (c->cin + CB - 1) / CB * IMAGE_GROUPS;
}

/* [pos][CB] <- the planes of m channels starting at src, plane stride hw */
static void gather(float *restrict dst, const float *restrict src, int m, size_t hw)
{
    if (hw == 1) { /* 1x1 maps: the channels already lie side by side */
        memcpy(dst, src, sizeof(float) * (size_t)m);
        return;
    }
    for (int cc = 0; cc < m; cc++)
        for (size_t p = 0; p < hw; p++)
            dst[p * CB + cc] = src[cc * hw + p];
}

static void load_taps(const small_args *a, long c0, int m, float *K)
{
    int taps = a->c->kh * a->c->kw;
    memset(K, 0, sizeof(float) * (size_t)taps * CB);
    for (int cc = 0; cc < m; cc++)
        for (int t = 0; t < taps; t++)
            K[t * CB + cc] = a->w[(size_t)(c0 + cc) * taps + t];
}

OPS_CLONES static void small_forward_chunk(void *ctx, long chunk, int th)
{
    const small_args *a = ctx;
    const ops_conv *c = a->c;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    long c0;
    int m, i0, i1;
    chunk_images(c, chunk, &c0, &m, &i0, &i1);
    float *X = a->scratch + a->per * th, *O = X + 2 * ihw * CB, *K = O + ohw * CB;
    load_taps(a, c0, m, K);
    float bias[CB] = {0};
    if (a->b)
        for (int cc = 0; cc < m; cc++)
            bias[cc] = a->b[c0 + cc];
    for (int i = i0; i < i1; i++) {
        gather(X, a->in + ((size_t)i * c->cin + c0) * ihw, m, ihw);
        for (size_t q = 0; q < ohw; q++)
            for (int cc = 0; cc < CB; cc++)
                O[q * CB + cc] = bias[cc];
        for (int p = 0; p < a->npairs; p++)
            fma_row(O + a->pairs[p].q * CB, K + a->pairs[p].t * CB, X + a->pairs[p].s * CB);
        float *dst = a->out + ((size_t)i * c->cout + c0) * ohw;
        for (int cc = 0; cc < m; cc++)
            for (size_t q = 0; q < ohw; q++)
                dst[cc * ohw + q] = O[q * CB + cc];
    }
}

OPS_CLONES static void small_backward_chunk(void *ctx, long chunk, int th)
{
    const small_args *a = ctx;
    const ops_conv *c = a->c;
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow;
    int taps = c->kh * c->kw;
    long c0;
    int m, i0, i1;
    chunk_images(c, chunk, &c0, &m, &i0, &i1);
    float *X = a->scratch + a->per * th, *dX = X + ihw * CB, *G = dX + ihw * CB, *K = G + ohw * CB;
    float *dK = a->partial + small_partial(c) * chunk, *dB = dK + (size_t)taps * CB;
    load_taps(a, c0, m, K);
    memset(dK, 0, sizeof(float) * small_partial(c));
    double sb[CB] = {0};
    for (int i = i0; i < i1; i++) {
        gather(G, a->dout + ((size_t)i * c->cout + c0) * ohw, m, ohw);
        if (a->db)
            for (int cc = 0; cc < m; cc++) {
                float s = 0.0f;
                for (size_t q = 0; q < ohw; q++)
                    s += G[q * CB + cc];
                sb[cc] += s;
            }
        if (a->dw)
            gather(X, a->in + ((size_t)i * c->cin + c0) * ihw, m, ihw);
        if (a->din)
            memset(dX, 0, sizeof(float) * ihw * CB);
        if (a->dw)
            for (int p = 0; p < a->npairs; p++)
                fma_row(dK + a->pairs[p].t * CB, G + a->pairs[p].q * CB, X + a->pairs[p].s * CB);
        if (a->din)
            for (int p = 0; p < a->npairs; p++)
                fma_row(dX + a->pairs[p].s * CB, K + a->pairs[p].t * CB, G + a->pairs[p].q * CB);
        if (a->din) {
            float *dst = a->din + ((size_t)i * c->cin + c0) * ihw;
            for (int cc = 0; cc < m; cc++)
                if (a->acc)
                    for (size_t p = 0; p < ihw; p++)
                        dst[cc * ihw + p] += dX[p * CB + cc];
                else
                    for (size_t p = 0; p < ihw; p++)
                        dst[cc * ihw + p] = dX[p * CB + cc];
        }
    }
    for (int cc = 0; cc < CB; cc++)
        dB[cc] = (float)sb[cc];
}

/* Adds the chunks' kernel and bias gradient sums, image groups in order. */
static void small_reduce(const small_args *a)
{
    const ops_conv *c = a->c;
    int taps = c->kh * c->kw;
    size_t part = small_partial(c);
    for (long blk = 0; blk < small_chunks(c) / IMAGE_GROUPS; blk++) {
        long c0 = blk * CB;
        int m = c->cin - c0 < CB ? (int)(c->cin - c0) : CB;
        const float *p0 = a->partial + part * (size_t)(blk * IMAGE_GROUPS);
        for (int cc = 0; cc < m; cc++) {
            for (int t = 0; t <= taps; t++) {
                float s = 0.0f;
                for (int grp = 0; grp < IMAGE_GROUPS; grp++)
                    s += p0[part * grp + (size_t)t * CB + cc];
                if (t < taps && a->dw)
                    a->dw[(size_t)(c0 + cc) * taps + t] += s;
                if (t == taps && a->db)
                    a->db[c0 + cc] += s;
            }
        }
    }
}

static void small_run(small_args *a, bool backward)
{
    const ops_conv *c = a->c;
    dw_pair pairs[SMALL_OUT * TAPS_MAX];
    a->pairs = pairs;
    a->npairs = small_pairs(c, pairs);
    a->per = small_per_thread(c);
    a->partial = a->scratch + OPS_MAX_THREADS * a->per;
    bool par = (long)c->n * c->cin * (long)a->npairs > OPS_PAR_MIN;
    ops_par_run(backward ? small_backward_chunk : small_forward_chunk, a, small_chunks(c), par);
    if (backward && (a->dw || a->db))
        small_reduce(a);
}

/* ---- the API ------------------------------------------------------------ */

size_t ops_dw_scratch(const ops_conv *c)
{
    if (use_small(c))
        return OPS_MAX_THREADS * small_per_thread(c) + (size_t)small_chunks(c) * small_partial(c);
    dw_geom g;
    geom(c, &g);
    return OPS_MAX_THREADS * per_thread(&g);
}

void ops_dw_forward(const ops_conv *c, float *out, const float *in, const float *w, const float *b,
                    float *scratch)
{
    if (use_small(c)) {
        small_args a = {
            .c = c, .out = out, .in = in, .w = w, .b = c->bias ? b : NULL, .scratch = scratch};
        small_run(&a, false);
        return;
    }
    dw_geom g;
    geom(c, &g);
    dw_args a = {
        .c = c, .g = &g, .out = out, .in = in, .w = w, .b = c->bias ? b : NULL, .scratch = scratch};
    ops_par_run(forward_chunk, &a, c->cin, worth(c, &g));
}

void ops_dw_backward(const ops_conv *c, float *din, float *dw, float *db, const float *dout,
                     const float *in, const float *w, float *scratch, bool accumulate)
{
    if (use_small(c)) {
        small_args a = {.c = c,
                        .din = din,
                        .dw = dw,
                        .db = c->bias ? db : NULL,
                        .dout = dout,
                        .in = in,
                        .w = w,
                        .scratch = scratch,
                        .acc = accumulate};
        small_run(&a, true);
        return;
    }
    dw_geom g;
    geom(c, &g);
    dw_args a = {.c = c,
                 .g = &g,
                 .din = din,
                 .dw = dw,
                 .db = c->bias ? db : NULL,
                 .dout = dout,
                 .in = in,
                 .w = w,
                 .scratch = scratch,
                 .acc = accumulate};
    ops_par_run(backward_chunk, &a, c->cin, worth(c, &g));
}
