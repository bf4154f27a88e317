/* Depthwise convolution, vectorised two ways.
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
 * image's planes are transposed to [position][channel] (8x8 blocks in
 * registers), and every (output, input, tap) triple that the geometry
 * allows is one 16-wide multiply-add with the taps also stored
 * [tap][channel]; the triples are grouped by the sum they go to, which
 * stays in registers. (Measured on
 * ExquisiteNet: 7x7 maps of 48 channels take half the time of the flat
 * way; 14x14 maps of 12 channels are a little faster flat.)
 *
 * 3. Strides (ExquisiteNet's first layer: one channel of 28x28, 4x4 taps at
 * stride 2, which the column path did in one sgemm of one row). The padded
 * plane is split into its s x s phases, (row mod s, column mod s), each a
 * plane of ceil(hp / s) x ceil(wp / s) samples laid out flat as above: tap
 * (ki, kj) of output (y, x) reads padded (y * s + ki * d, x * s + kj * d),
 * which is phase (ki * d mod s, kj * d mod s) at (y + ki * d / s,
 * x + kj * d / s). So the flat loop runs unchanged, each tap's offset
 * pointing into its phase, at unit stride (15x15 computed for 14x14
 * outputs). The input gradient is one flat loop per phase over the taps
 * that fall in it.
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
#define SMALL_IN     256  /* ... and of at most this many inputs */
#ifndef CB
#define CB 16 /* channels per row of the small-map kernel: a multiple of 8 */
#endif

#define STRIDE_MAX 4 /* at most 16 phases */

/* Helpers of the kernels are inlined into the kernels' clones, so the
 * AVX2 clone's loops and transposes are AVX2 code */
#define OPS_INLINE __attribute__((always_inline))

typedef struct dw_geom {
    int s;         /* stride */
    int hp, wp;    /* a phase of the padded plane (the padded plane at stride 1) */
    size_t plane;  /* hp * wp */
    int blk;       /* images per block */
    size_t len;    /* floats of a block's phase, rounded up to LANES */
    size_t margin; /* largest tap offset inside a phase, rounded up to LANES */
    size_t region; /* floats of P per phase: len + margin */
    int taps;
    long off[TAPS_MAX]; /* into P: the tap's phase region, then its offset there */
    /* the taps grouped by phase, in tap order: phase q's are
       by_phase[phase_start[q]] .. by_phase[phase_start[q + 1] - 1] */
    int phase_start[STRIDE_MAX * STRIDE_MAX + 1], by_phase[TAPS_MAX];
} dw_geom;

/* Groups == cin == cout, one channel included (a plain convolution of one
 * map is the same arithmetic). Strides up to STRIDE_MAX and no larger than
 * the kernel: every phase then holds taps, so no phase is copied for
 * nothing. */
bool ops_dw_ok(const ops_conv *c)
{
    return c->groups == c->cin && c->cout == c->cin && c->kh * c->kw <= TAPS_MAX &&
           c->pad_h < c->kh * c->dilation && c->pad_w < c->kw * c->dilation &&
           (c->stride == 1 || (c->stride <= STRIDE_MAX && c->stride <= c->kh &&
                               c->stride <= c->kw && c->dilation == 1));
}

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

static void geom(const ops_conv *c, dw_geom *g)
{
    int s = c->stride, d = c->dilation, phases = s * s;
    g->s = s;
    g->hp = (c->h + 2 * c->pad_h + s - 1) / s;
    g->wp = (c->w + 2 * c->pad_w + s - 1) / s;
    g->plane = (size_t)g->hp * g->wp;
    g->blk = (int)(BLOCK_FLOATS / (g->plane * phases));
    if (g->blk < 1)
        g->blk = 1;
    g->len = round_up((size_t)g->blk * g->plane, LANES);
    g->taps = c->kh * c->kw;
    long loc[TAPS_MAX];
    int phase[TAPS_MAX];
    for (int ki = 0; ki < c->kh; ki++)
        for (int kj = 0; kj < c->kw; kj++) {
            int t = ki * c->kw + kj, ry = ki * d, rx = kj * d;
            phase[t] = ry % s * s + rx % s;
            loc[t] = (long)(ry / s) * g->wp + rx / s;
        }
    g->margin = round_up((size_t)loc[g->taps - 1], LANES); /* the last tap's is the largest */
    g->region = g->len + g->margin;
    int n = 0;
    for (int q = 0; q < phases; q++) {
        g->phase_start[q] = n;
        for (int t = 0; t < g->taps; t++)
            if (phase[t] == q)
                g->by_phase[n++] = t;
    }
    g->phase_start[phases] = n;
    for (int t = 0; t < g->taps; t++)
        g->off[t] = (long)phase[t] * (long)g->region + loc[t];
}

/* Per thread: P (a region per phase), G (margin + len + margin), D (len
 * per phase); none of it depends on the number of images. */
static size_t per_thread(const dw_geom *g)
{
    size_t phases = (size_t)g->s * g->s;
    return round_up(phases * g->region, 16) + round_up(2 * g->margin + g->len, 16) +
           round_up(phases * g->len, 16);
}

static float *slot_G(const dw_geom *g, float *P)
{
    return P + round_up((size_t)g->s * g->s * g->region, 16);
}

static float *slot_D(const dw_geom *g, float *P)
{
    return slot_G(g, P) + round_up(2 * g->margin + g->len, 16);
}

/* The small-map kernel is chosen by shape alone. */
static bool use_small(const ops_conv *c)
{
    return c->oh * c->ow <= SMALL_OUT && c->h * c->w <= SMALL_IN;
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

/* The sums of taps_dot for DOT_GROUP taps at once, in one pass over g
 * per half (lanes j % 16 < 8, then the rest): per vector of g one load of
 * it and DOT_GROUP of src, where a tap at a time loads g again for every
 * tap (the pass is load-bound). Each half is the accumulator a tap at a
 * time keeps for it, summed in the same order: the same bits. */
#define DOT_GROUP 9 /* a 3x3 kernel; the accumulators stay in registers */
static inline OPS_INLINE void taps_dot_group(double *d, const float *restrict g,
                                             const float *restrict src, const long *off, size_t len)
{
    v8 h[2][DOT_GROUP];
    for (int half = 0; half < 2; half++) {
        v8 a[DOT_GROUP];
        for (int t = 0; t < DOT_GROUP; t++)
            a[t] = (v8){0};
        for (size_t j = (size_t)half * 8; j < len; j += 16) {
            v8 gv = *(const v8u *)(g + j);
            for (int t = 0; t < DOT_GROUP; t++)
                a[t] += gv * *(const v8u *)(src + off[t] + j);
        }
        for (int t = 0; t < DOT_GROUP; t++)
            h[half][t] = a[t];
    }
    for (int t = 0; t < DOT_GROUP; t++) {
        v8 a0 = h[0][t] + h[1][t];
        float sum = 0.0f;
        for (int l = 0; l < 8; l++)
            sum += a0[l];
        d[t] += sum;
    }
}

/* d[t] += sum_j g[j] * src[j + off[t]] for j in [0, len) */
OPS_CLONES static void taps_dot(double *d, const float *restrict g, const float *restrict src,
                                const long *off, int taps, size_t len)
{
    int t0 = 0;
    for (; t0 + DOT_GROUP <= taps; t0 += DOT_GROUP)
        taps_dot_group(d + t0, g, src, off + t0, len);
    for (int t = t0; t < taps; t++) {
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

/* Stride 2: the even samples of a row to e, the odd ones to o, in one
 * loop (vectorised: pairs of loads shuffled apart) */
static inline void split_row2(float *restrict e, float *restrict o, const float *restrict r, int w)
{
    int k = 0;
    for (; 2 * k + 1 < w; k++) {
        e[k] = r[2 * k];
        o[k] = r[2 * k + 1];
    }
    if (2 * k < w)
        e[k] = r[2 * k];
}

/* Strides: the phases of image b's padded plane into P, zeroed first
 * (padding, and phase samples past the padded plane's edge). A row's
 * samples go out in runs of one column phase each: x, x + s, ... */
OPS_CLONES static void split_phases(const ops_conv *c, const dw_geom *g, const float *x, int b,
                                    float *P)
{
    int s = g->s;
    for (int q = 0; q < s * s; q++)
        memset(P + q * g->region + b * g->plane, 0, sizeof(float) * g->plane);
    for (int y = 0; y < c->h; y++) {
        int py = y + c->pad_h;
        const float *restrict r = x + (size_t)y * c->w;
        float *row = P + b * g->plane + (size_t)(py / s) * g->wp + (size_t)(py % s * s) * g->region;
        if (s == 2) { /* x even: padded column x + pad_w, in phase pad_w % 2 */
            int pe = c->pad_w % 2;
            split_row2(row + (size_t)pe * g->region + c->pad_w / 2,
                       row + (size_t)(1 - pe) * g->region + (c->pad_w + 1) / 2, r, c->w);
            continue;
        }
        for (int px = 0; px < s; px++) {
            int x0 = ((px - c->pad_w) % s + s) % s; /* first x with (x + pad_w) % s == px */
            float *d = row + (size_t)px * g->region + (x0 + c->pad_w) / s;
            for (int k = 0, xx = x0; xx < c->w; k++, xx += s)
                d[k] = r[xx];
        }
    }
}

/* Copies the planes of channel ch, images [i0, i0 + nb), into P padded
 * (split in phases at strides); zeroes each phase up to len + margin. */
static void pad_planes(const dw_args *a, long ch, int i0, int nb, float *P)
{
    const ops_conv *c = a->c;
    const dw_geom *g = a->g;
    size_t ihw = (size_t)c->h * c->w, top = (size_t)c->pad_h * g->wp;
    if (g->s > 1) {
        for (int b = 0; b < nb; b++)
            split_phases(c, g, a->in + ((size_t)(i0 + b) * c->cin + ch) * ihw, b, P);
        for (int q = 0; q < g->s * g->s; q++)
            memset(P + q * g->region + nb * g->plane, 0,
                   sizeof(float) * (g->region - nb * g->plane));
        return;
    }
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
    float *D = slot_D(g, P);
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
    float *Gm = slot_G(g, P); /* margin zeros, then G */
    float *G = Gm + g->margin;
    float *D = slot_D(g, P);
    size_t ohw = (size_t)c->oh * c->ow, ihw = (size_t)c->h * c->w;
    const float *k = a->w + (size_t)ch * g->taps;
    float kr[TAPS_MAX];
    long offr[TAPS_MAX];
    for (int q = 0; q < g->taps; q++) { /* the mirrored taps of dP, by phase */
        int tq = g->by_phase[q];
        kr[q] = k[tq];
        offr[q] = (long)g->margin - (long)(g->off[tq] % (long)g->region);
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
        if (a->din && g->s > 1) {
            int s = g->s;
            for (int q = 0; q < s * s; q++) {
                int t0 = g->phase_start[q];
                taps_apply(D + q * g->len, Gm, kr + t0, offr + t0, g->phase_start[q + 1] - t0, len,
                           0.0f);
            }
            for (int b = 0; b < nb; b++) {
                float *dx = a->din + ((size_t)(i0 + b) * c->cin + ch) * ihw;
                for (int y = 0; y < c->h; y++) {
                    int py = y + c->pad_h;
                    const float *src =
                        D + b * g->plane + (size_t)(py / s) * g->wp + (size_t)(py % s * s) * g->len;
                    float *row = dx + (size_t)y * c->w;
                    for (int x = 0; x < c->w; x++) {
                        int px = x + c->pad_w;
                        float v = src[(size_t)(px % s) * g->len + px / s];
                        row[x] = a->acc ? row[x] + v : v;
                    }
                }
            }
        } else if (a->din) {
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

/* One multiply-add of the small-map kernel: the offsets (multiples of CB)
 * of its two operand rows. */
typedef struct dw_pair {
    int a, b;
} dw_pair;

/* The (output q, input s, tap t) triples the geometry allows, grouped by
 * the sum they add to: by output (forward: O[q] += K[t] X[s]), by input
 * (dX[s] += K[t] G[q]) or by tap (dK[t] += G[q] X[s]). Group g's pairs
 * are p[start[g]] .. p[start[g + 1] - 1], in the order (q, t) of the
 * triples (a stable counting sort), so each sum adds its terms in the
 * same order whatever the grouping: it is kept in registers and stored
 * once, instead of a load and a store per term. */
enum {
    BY_OUT,
    BY_IN,
    BY_TAP
};
typedef struct dw_plan {
    int groups;
    int start[SMALL_IN + 1];
    dw_pair p[SMALL_OUT * TAPS_MAX];
} dw_plan;

typedef struct dw_triple {
    short q, s, t;
} dw_triple;

/* The kernel gradient of a 3x3 kernel by output position: for each q
 * the input row of each of the 9 taps (multiples of CB), the row of
 * zeros past the last input where the tap falls outside the map. */
#define FULL_TAPS 9
typedef struct dw_full {
    int src[SMALL_OUT * FULL_TAPS];
} dw_full;

typedef struct small_args {
    const ops_conv *c;
    float *out, *din, *dw, *db, *scratch;
    const float *in, *w, *b, *dout;
    const dw_plan *fwd, *dx, *dk; /* grouped by output, input, tap */
    const dw_full *dk_full;       /* or the kernel gradient by output (dk NULL) */
    bool acc;                     /* add to din, or store */
    size_t per;                   /* scratch floats per thread */
    float *partial;               /* backward: per chunk, kernel and bias gradient sums */
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

static int small_triples(const ops_conv *c, dw_triple *tr)
{
    int n = 0;
    for (int oy = 0; oy < c->oh; oy++)
        for (int ox = 0; ox < c->ow; ox++)
            for (int ki = 0; ki < c->kh; ki++)
                for (int kj = 0; kj < c->kw; kj++) {
                    int iy = oy * c->stride + ki * c->dilation - c->pad_h,
                        ix = ox * c->stride + kj * c->dilation - c->pad_w;
                    if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                        continue;
                    tr[n++] = (dw_triple){(short)(oy * c->ow + ox), (short)(iy * c->w + ix),
                                          (short)(ki * c->kw + kj)};
                }
    return n;
}

static void small_plan(const ops_conv *c, const dw_triple *tr, int n, int by, dw_plan *pl)
{
    int fill[SMALL_IN];
    pl->groups = by == BY_OUT ? c->oh * c->ow : by == BY_IN ? c->h * c->w : c->kh * c->kw;
    memset(pl->start, 0, sizeof(int) * (size_t)(pl->groups + 1));
    for (int k = 0; k < n; k++)
        pl->start[(by == BY_OUT ? tr[k].q : by == BY_IN ? tr[k].s : tr[k].t) + 1]++;
    for (int g = 0; g < pl->groups; g++) {
        pl->start[g + 1] += pl->start[g];
        fill[g] = pl->start[g];
    }
    for (int k = 0; k < n; k++) {
        int q = tr[k].q * CB, s = tr[k].s * CB, t = tr[k].t * CB;
        if (by == BY_OUT)
            pl->p[fill[tr[k].q]++] = (dw_pair){t, s};
        else if (by == BY_IN)
            pl->p[fill[tr[k].s]++] = (dw_pair){t, q};
        else
            pl->p[fill[tr[k].t]++] = (dw_pair){q, s};
    }
}

/* out[g] = init + sum of A[a] * B[b] over group g's pairs, CB lanes; init
 * is `bias` where given, else out[g] itself (acc) or zero. */
static inline void plan_sums(float *restrict out, const float *A, const float *B, const dw_plan *pl,
                             const float *bias, bool acc)
{
    for (int g = 0; g < pl->groups; g++) {
        float *o = out + (size_t)g * CB;
        const float *init = bias ? bias : acc ? o : NULL;
        v8 s[CB / 8];
        for (int v = 0; v < CB / 8; v++)
            s[v] = init ? v8_load(init + 8 * v) : (v8){0};
        for (int k = pl->start[g]; k < pl->start[g + 1]; k++) {
            const float *a = A + pl->p[k].a, *b = B + pl->p[k].b;
            for (int v = 0; v < CB / 8; v++)
                s[v] += v8_load(a + 8 * v) * v8_load(b + 8 * v);
        }
        for (int v = 0; v < CB / 8; v++)
            v8_store(o + 8 * v, s[v]);
    }
}

/* dK[t] += G[q] X[s] for the 9 taps at once, output by output: nine
 * sums in registers, each G row loaded once. By tap (plan_sums) each sum
 * is one chain of dependent adds as long as the map (49 on 7x7), which
 * waits on the adds' latency; here the nine chains interleave. A tap
 * outside the map reads the zero row and adds G[q] * 0: a zero, which
 * leaves a finite sum as it was, so each tap's sum adds the same terms in
 * the same order (q) as by tap, to the same bits (but for the sign of a
 * zero sum, and NaN where an infinite G meets a tap outside the map). */
static inline OPS_INLINE void full_dk_sums(float *restrict dK, const float *G, const float *X,
                                           const dw_full *f, size_t ohw)
{
    for (int v = 0; v < CB / 8; v++) {
        v8 acc[FULL_TAPS];
        for (int t = 0; t < FULL_TAPS; t++)
            acc[t] = v8_load(dK + t * CB + 8 * v);
        for (size_t q = 0; q < ohw; q++) {
            v8 gv = v8_load(G + q * CB + 8 * v);
            const int *src = f->src + q * FULL_TAPS;
            for (int t = 0; t < FULL_TAPS; t++)
                acc[t] += gv * v8_load(X + src[t] + 8 * v);
        }
        for (int t = 0; t < FULL_TAPS; t++)
            v8_store(dK + t * CB + 8 * v, acc[t]);
    }
}

/* Worth it where most taps fall inside the map: 7x7 and 4x4 (a fifth and
 * two fifths more multiply-adds than by tap), not 2x2 or 1x1. */
static bool use_full_dk(const ops_conv *c)
{
    return c->kh * c->kw == FULL_TAPS && c->oh * c->ow >= 16;
}

static void full_plan(const ops_conv *c, const dw_triple *tr, int n, dw_full *f)
{
    int zero = c->h * c->w * CB, ohw = c->oh * c->ow;
    for (int k = 0; k < ohw * FULL_TAPS; k++)
        f->src[k] = zero;
    for (int k = 0; k < n; k++)
        f->src[tr[k].q * FULL_TAPS + tr[k].t] = tr[k].s * CB;
}

/* X, dX: input positions (X and a row of zeros after it, backward);
 * O (also G): output positions; K, dK: taps. */
static size_t small_per_thread(const ops_conv *c)
{
    size_t ihw = (size_t)c->h * c->w, ohw = (size_t)c->oh * c->ow, taps = (size_t)c->kh * c->kw;
    return (2 * ihw + 1 + ohw + 2 * taps) * CB;
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

#ifdef __clang__
#define SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define SHUF(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

/* r[j][k] <- r[k][j]: an 8x8 block turned over in registers (unpack,
 * shuffle, then swap the 128-bit halves), instead of 64 scalar moves */
static inline void transpose8(v8 r[8])
{
    v8 t[8], u[8];
    for (int j = 0; j < 8; j += 2) {
        t[j] = SHUF(r[j], r[j + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[j + 1] = SHUF(r[j], r[j + 1], 2, 10, 3, 11, 6, 14, 7, 15);
    }
    for (int h = 0; h < 8; h += 4) {
        u[h] = SHUF(t[h], t[h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[h + 1] = SHUF(t[h], t[h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[h + 2] = SHUF(t[h + 1], t[h + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[h + 3] = SHUF(t[h + 1], t[h + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int k = 0; k < 4; k++) {
        r[k] = SHUF(u[k], u[k + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        r[k + 4] = SHUF(u[k], u[k + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

/* Between the planes of m channels (plane stride hw) and rows [pos][CB]:
 * rows <- planes (to_rows), else planes (+)= rows (acc). 8 channels by 8
 * positions at a time (2x2 maps: 8 channels by 4), the rest one by one;
 * 1x1 maps' channels already lie side by side. */
static inline OPS_INLINE void relayout(float *planes, float *rows, int m, size_t hw, bool to_rows,
                                       bool acc)
{
    if (hw == 1) {
        for (int cc = 0; cc < m; cc++)
            if (to_rows)
                rows[cc] = planes[cc];
            else
                planes[cc] = acc ? planes[cc] + rows[cc] : rows[cc];
        return;
    }
    int cv = m / 8 * 8;
    size_t pv = hw == 4 ? 4 : hw / 8 * 8;
    for (int c0 = 0; c0 < cv; c0 += 8)
        for (size_t p0 = 0; p0 < pv; p0 += 8) {
            v8 r[8];
            if (!to_rows)
                for (size_t k = 0; k < 8; k++)
                    r[k] = p0 + k < hw ? v8_load(rows + (p0 + k) * CB + c0) : (v8){0};
            else if (hw == 4) /* rows 2i, 2i + 1: the two planes of vector i */
                for (int i = 0; i < 4; i++) {
                    r[2 * i] = v8_load(planes + c0 * hw + 8 * i);
                    r[2 * i + 1] = SHUF(r[2 * i], r[2 * i], 4, 5, 6, 7, 0, 1, 2, 3);
                }
            else
                for (int j = 0; j < 8; j++)
                    r[j] = v8_load(planes + (c0 + j) * hw + p0);
            transpose8(r);
            if (to_rows)
                for (size_t k = 0; k < 8 && p0 + k < hw; k++)
                    v8_store(rows + (p0 + k) * CB + c0, r[k]);
            else if (hw == 4) /* the planes of rows 2i and 2i + 1 make vector i */
                for (int i = 0; i < 4; i++) {
                    float *d = planes + c0 * hw + 8 * i;
                    v8 v = SHUF(r[2 * i], r[2 * i + 1], 0, 1, 2, 3, 8, 9, 10, 11);
                    v8_store(d, acc ? v8_load(d) + v : v);
                }
            else
                for (int j = 0; j < 8; j++) {
                    float *d = planes + (c0 + j) * hw + p0;
                    v8_store(d, acc ? v8_load(d) + r[j] : r[j]);
                }
        }
    for (int cc = pv < hw ? 0 : cv; cc < m; cc++)
        for (size_t p = cc < cv ? pv : 0; p < hw; p++) {
            float *pl = planes + cc * hw + p, *rw = rows + p * CB + cc;
            if (to_rows)
                *rw = *pl;
            else
                *pl = acc ? *pl + *rw : *rw;
        }
}

/* [pos][CB] <- the planes of m channels starting at src */
static inline OPS_INLINE void gather(float *dst, const float *src, int m, size_t hw)
{
    relayout((float *)src, dst, m, hw, true, false);
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
        plan_sums(O, K, X, a->fwd, bias, false);
        relayout(a->out + ((size_t)i * c->cout + c0) * ohw, O, m, ohw, false, false);
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
    float *X = a->scratch + a->per * th, *dX = X + (ihw + 1) * CB, *G = dX + ihw * CB,
          *K = G + ohw * CB;
    float *dK = a->partial + small_partial(c) * chunk, *dB = dK + (size_t)taps * CB;
    memset(X + ihw * CB, 0, sizeof(float) * CB); /* the zero row of full_dk_sums */
    load_taps(a, c0, m, K);
    memset(dK, 0, sizeof(float) * small_partial(c));
    double sb[CB] = {0};
    for (int i = i0; i < i1; i++) {
        gather(G, a->dout + ((size_t)i * c->cout + c0) * ohw, m, ohw);
        if (a->db) { /* each lane sums its channel's positions in order */
            v8 s[CB / 8];
            for (int v = 0; v < CB / 8; v++)
                s[v] = (v8){0};
            for (size_t q = 0; q < ohw; q++)
                for (int v = 0; v < CB / 8; v++)
                    s[v] += v8_load(G + q * CB + 8 * v);
            for (int cc = 0; cc < m; cc++)
                sb[cc] += s[cc / 8][cc % 8];
        }
        if (a->dw) {
            gather(X, a->in + ((size_t)i * c->cin + c0) * ihw, m, ihw);
            if (a->dk_full)
                full_dk_sums(dK, G, X, a->dk_full, ohw);
            else
                plan_sums(dK, G, X, a->dk, NULL, true);
        }
        if (a->din) {
            plan_sums(dX, K, G, a->dx, NULL, false);
            relayout(a->din + ((size_t)i * c->cin + c0) * ihw, dX, m, ihw, false, a->acc);
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
    dw_triple tr[SMALL_OUT * TAPS_MAX];
    dw_plan plans[2];
    dw_full full;
    int n = small_triples(c, tr);
    if (!backward) {
        small_plan(c, tr, n, BY_OUT, &plans[0]);
        a->fwd = &plans[0];
    } else {
        if (a->din) {
            small_plan(c, tr, n, BY_IN, &plans[0]);
            a->dx = &plans[0];
        }
        if (a->dw && use_full_dk(c)) {
            full_plan(c, tr, n, &full);
            a->dk_full = &full;
        } else if (a->dw) {
            small_plan(c, tr, n, BY_TAP, &plans[1]);
            a->dk = &plans[1];
        }
    }
    a->per = small_per_thread(c);
    a->partial = a->scratch + OPS_MAX_THREADS * a->per;
    bool par = (long)c->n * c->cin * (long)n > OPS_PAR_MIN;
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
