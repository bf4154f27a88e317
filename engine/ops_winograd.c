/* Winograd F(2x2, 3x3): a 3x3 cross-correlation computed on 4x4 input
 * tiles that overlap by two, each giving a 2x2 block of outputs
 * (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks").
 * With B, G, A the F(2, 3) matrices, an output block is
 *     Y = A^T [ sum over input channels (G g G^T) .* (B^T d B) ] A,
 * so the 36 multiplications per block and channel pair of the direct
 * convolution become 16: one [cout x cin] x [cin x tiles] sgemm for each
 * of the 16 tile positions, over the tiles of a block of images. The
 * transforms are additions (and halvings of the weights): their rounding
 * differs from the direct sum's, within 4e-7 of the outputs' largest
 * magnitude on random data (tests/unit/test_winograd.c).
 *
 * The input gradient of a stride-1 3x3 convolution is the same kind of
 * cross-correlation of the output gradient, padded by 2 - pad, with the
 * kernel turned by 180 degrees and in and out channels swapped: the same
 * code runs it (a "plan" names the operand's shapes either way).
 *
 * The weight gradient is the adjoint of the forward pass: the output
 * gradients' 2x2 tiles go to the Winograd domain by A (dM = A g A^T), and
 * dU[pos] = sum over tiles dM[pos] V[pos]^T (16 sgemm calls again, long
 * sums over the tiles), then dW = G^T dU G. The bias gradient stays the
 * column path's.
 *
 * Layout. A plane is copied into a zero-padded plane; a row of tiles is
 * read as vectors of eight tiles, the even and odd columns of sixteen
 * floats split by shuffles, so the transforms run on unit-stride loads.
 * The transformed tiles V[pos][ci][t] and the products M[pos][co][t] keep
 * the tiles of a block's images side by side, t = image * tiles +
 * ty * tw + tx, the form the sgemm calls take.
 *
 * Chunks are OPS_MAX_THREADS fixed groups of images, each cut in blocks
 * of at most blk images (fixed by the shapes), as the column path does:
 * every output comes from the same sgemm calls whatever the threads. */
#include "engine/ops_winograd.h"
#include "engine/ops_internal.h"
#include "engine/ops_vec.h"

#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#pragma GCC optimize("O3")

/* Channels in and out, at least. Measured (128 images of 14x14, forward
 * and both gradients, 1 thread): 8 -> 8 0.55 ms against 0.76 for the
 * column path, 8 -> 16 0.98 against 1.20, 16 -> 16 1.5 against 3.0;
 * 4 -> 16 0.68 against 0.62. */
#define WINO_MIN_CHANNELS 8
#define WINO_MAX_TILES    1024 /* per image: maps up to 64x64 */
#define POS               16   /* positions of a 4x4 tile */
#define LANES             8
#define WINO_BLOCK_TILES  256          /* tiles per block, at least ... */
#define WINO_BLOCK_FLOATS (384 * 1024) /* ... within this working memory per thread */

/* One cross-correlation: ci planes of h x w in, padded by pt rows and pl
 * columns, co planes of oh x ow out. */
typedef struct wino_plan {
    int n, ci, h, w, co, oh, ow, pt, pl;
    int th, tw, tiles;   /* tile rows, columns, tiles per image */
    int blk;             /* images per block, at most */
    size_t ldv, ldm;     /* row strides of V and M: a block's tiles and a vector */
    size_t vstep, mstep; /* position strides of V and M */
    size_t pp, yp;       /* floats of a padded input plane, of a plane's tile outputs */
    size_t slot;         /* floats of a thread's working memory */
} wino_plan;

bool ops_wino_fits(const ops_conv *c)
{
    long tiles = (long)((c->oh + 1) / 2) * ((c->ow + 1) / 2);
    long gtiles = (long)((c->h + 1) / 2) * ((c->w + 1) / 2);
    return c->kh == 3 && c->kw == 3 && c->stride == 1 && c->dilation == 1 && c->groups == 1 &&
           c->pad_h <= 2 && c->pad_w <= 2 && c->cin >= WINO_MIN_CHANNELS &&
           c->cout >= WINO_MIN_CHANNELS && tiles <= WINO_MAX_TILES && gtiles <= WINO_MAX_TILES;
}

bool ops_wino_on(const ops_conv *c)
{
    const char *off = getenv("GEVO_NO_WINOGRAD");
    return ops_wino_fits(c) && (!off || !strcmp(off, "0"));
}

static size_t round_up(size_t v, size_t m)
{
    return (v + m - 1) / m * m;
}

/* The strides and working memory of blocks of blk images. */
static void plan_block(wino_plan *p, int blk)
{
    p->blk = blk;
    p->ldv = p->ldm = round_up((size_t)blk * p->tiles, LANES) + LANES;
    /* a cache line more than the matrices: the 16 positions' streams of a
     * transform would otherwise fall in one set of L1 when the matrices
     * are a multiple of 4 KiB (32 channels of 256 floats: 3x slower) */
    p->vstep = (size_t)p->ci * p->ldv + 16;
    p->mstep = (size_t)p->co * p->ldm + 16;
    p->slot = round_up(POS * (p->vstep + p->mstep) + p->pp + p->yp, 16);
}

/* The forward pass (grad false) or the input gradient (grad true) of c. */
static void plan_init(wino_plan *p, const ops_conv *c, bool grad)
{
    bool g = grad;
    *p = (wino_plan){.n = c->n,
                     .ci = g ? c->cout : c->cin,
                     .h = g ? c->oh : c->h,
                     .w = g ? c->ow : c->w,
                     .co = g ? c->cin : c->cout,
                     .oh = g ? c->h : c->oh,
                     .ow = g ? c->w : c->ow,
                     .pt = g ? 2 - c->pad_h : c->pad_h,
                     .pl = g ? 2 - c->pad_w : c->pad_w};
    p->th = (p->oh + 1) / 2;
    p->tw = (p->ow + 1) / 2;
    p->tiles = p->th * p->tw;
    p->pp = (size_t)4 * (p->th + 1) * (p->tw + 1) + 2 * LANES;
    p->yp = (size_t)4 * p->th * p->tw + 2 * LANES;
    plan_block(p, (WINO_BLOCK_TILES + p->tiles - 1) / p->tiles);
    while (p->blk > 1 && p->slot > WINO_BLOCK_FLOATS)
        plan_block(p, p->blk - 1);
}

/* Transformed kernels first (or their gradients: one set per group of
 * images), then OPS_MAX_THREADS slots of the larger plan (the gradient's
 * swaps the channel counts and the map sizes). */
static size_t kernels_size(const ops_conv *c)
{
    return round_up((size_t)POS * c->cin * c->cout, 16);
}

static size_t slot_size(const ops_conv *c)
{
    wino_plan f, g;
    plan_init(&f, c, false);
    plan_init(&g, c, true);
    return f.slot > g.slot ? f.slot : g.slot;
}

size_t ops_wino_scratch(const ops_conv *c)
{
    return OPS_MAX_THREADS * (kernels_size(c) + slot_size(c));
}

/* ---- kernels: U[pos][o][i] = (G g G^T)[pos] ---------------------------- */

typedef struct wino_args {
    const wino_plan *p;
    const ops_conv *c;
    const float *in, *w, *b, *dout;
    float *out, *U, *slots, *dw;
    float *bias_sums; /* weight gradient: the output gradients' plane sums, or NULL */
    bool rot, acc;
    long groups; /* fixed groups of images: the chunks */
} wino_args;

/* G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1], applied to the columns,
 * then to the rows; g0 + g2 once, so the middle rows round alike. */
static void kernel_transform(const float g[9], float u[POS])
{
    float t[4][3];
    for (int c = 0; c < 3; c++) {
        float s = g[c] + g[6 + c];
        t[0][c] = g[c];
        t[1][c] = 0.5f * (s + g[3 + c]);
        t[2][c] = 0.5f * (s - g[3 + c]);
        t[3][c] = g[6 + c];
    }
    for (int r = 0; r < 4; r++) {
        float s = t[r][0] + t[r][2];
        u[4 * r] = t[r][0];
        u[4 * r + 1] = 0.5f * (s + t[r][1]);
        u[4 * r + 2] = 0.5f * (s - t[r][1]);
        u[4 * r + 3] = t[r][2];
    }
}

/* Output channels [lo, hi) of c's weights w[o][i][3][3]; for the gradient
 * (rot) the kernel turned by 180 degrees goes to U[pos][i][o]. */
static void kernels_range(void *ctx, long lo, long hi)
{
    const wino_args *a = ctx;
    int ci = a->c->cin, co = a->c->cout;
    size_t pstep = (size_t)ci * co;
    for (long o = lo; o < hi; o++)
        for (int i = 0; i < ci; i++) {
            const float *k = a->w + ((size_t)o * ci + i) * 9;
            float g[9], u[POS];
            for (int j = 0; j < 9; j++)
                g[j] = a->rot ? k[8 - j] : k[j];
            kernel_transform(g, u);
            size_t at = a->rot ? (size_t)i * co + o : (size_t)o * ci + i;
            for (int q = 0; q < POS; q++)
                a->U[q * pstep + at] = u[q];
        }
}

/* ---- input: V[pos][ci][t] = (B^T d B)[pos] ----------------------------- */

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* n floats (vectors, the last overlapping; a library call costs more
 * than the short rows it would copy) */
ALWAYS_INLINE void copy_row(float *restrict d, const float *restrict s, int n)
{
    if (n < LANES) {
        for (int i = 0; i < n; i++)
            d[i] = s[i];
        return;
    }
    for (int i = 0; i < n; i += LANES) {
        int i0 = i + LANES > n ? n - LANES : i;
        v8_store(d + i0, v8_load(s + i0));
    }
}

/* Plane x into the padded plane P: rows of wp = 2 (tw + 1) floats,
 * 2 (th + 1) of them (those the tiles read), then 2 * LANES floats. Only
 * the samples are written: the padding stays the zeros P was given once. */
ALWAYS_INLINE void padded_plane(const wino_plan *p, const float *x, float *P)
{
    int wp = 2 * (p->tw + 1), w = p->w, rows = 2 * (p->th + 1) - p->pt;
    if (rows > p->h)
        rows = p->h;
    for (int y = 0; y < rows; y++)
        copy_row(P + (size_t)(y + p->pt) * wp + p->pl, x + (size_t)y * w, w);
}

/* Columns 2k, 2k + 1, 2k + 2, 2k + 3 of a padded row for eight k. */
ALWAYS_INLINE void row_cols(const float *r, v8 c[4])
{
    const v8i even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = even + 1;
    v8 lo = v8_load(r), hi = v8_load(r + LANES), lo2 = v8_load(r + 2), hi2 = v8_load(r + 2 + LANES);
    c[0] = __builtin_shuffle(lo, hi, even);
    c[1] = __builtin_shuffle(lo, hi, odd);
    c[2] = __builtin_shuffle(lo2, hi2, even);
    c[3] = __builtin_shuffle(lo2, hi2, odd);
}

/* Eight tiles whose top left corner is padded row r, column 2k (rows wp
 * apart): B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] down the columns,
 * then along the rows; position q goes to v + q * vstep. */
ALWAYS_INLINE void tiles_in(const float *r, int wp, float *v, size_t vstep)
{
    v8 d[4][4], t[4][4];
    for (int i = 0; i < 4; i++)
        row_cols(r + (size_t)i * wp, d[i]);
    for (int c = 0; c < 4; c++) {
        t[0][c] = d[0][c] - d[2][c];
        t[1][c] = d[1][c] + d[2][c];
        t[2][c] = d[2][c] - d[1][c];
        t[3][c] = d[1][c] - d[3][c];
    }
    for (int i = 0; i < 4; i++) {
        v8_store(v + (size_t)(4 * i) * vstep, t[i][0] - t[i][2]);
        v8_store(v + (size_t)(4 * i + 1) * vstep, t[i][1] + t[i][2]);
        v8_store(v + (size_t)(4 * i + 2) * vstep, t[i][2] - t[i][1]);
        v8_store(v + (size_t)(4 * i + 3) * vstep, t[i][1] - t[i][3]);
    }
}

/* The first tile of the vector of eight at k of a row of tw: the last
 * vector overlaps the one before; a row shorter than a vector computes
 * the next row's first tiles too (junk, overwritten after). */
static inline int vec_at(int k, int tw)
{
    return k + LANES > tw && tw >= LANES ? tw - LANES : k;
}

/* The tiles of images [0, nb) of x. A row's junk lanes land on the next
 * rows' tiles (written after them) and at the end on the LANES floats
 * past the block's tiles. */
OPS_CLONES static void block_input(const wino_plan *p, const float *x, int nb, float *V, float *P)
{
    size_t plane = (size_t)p->h * p->w, vstep = p->vstep;
    int wp = 2 * (p->tw + 1), tw = p->tw;
    for (int b = 0; b < nb; b++)
        for (int ci = 0; ci < p->ci; ci++) {
            padded_plane(p, x + ((size_t)b * p->ci + ci) * plane, P);
            float *v = V + (size_t)ci * p->ldv + (size_t)b * p->tiles;
            for (int ty = 0; ty < p->th; ty++)
                for (int k = 0; k < tw; k += LANES) {
                    int k0 = vec_at(k, tw);
                    tiles_in(P + (size_t)2 * ty * wp + 2 * k0, wp, v + (size_t)ty * tw + k0, vstep);
                }
        }
}

/* ---- output: Y = A^T m A, A^T = [1 1 1 0; 0 1 -1 -1] ------------------- */

/* Eight tiles of a row of M from m (positions mstep apart) into their two
 * output rows, interleaved: y and y + ld. */
ALWAYS_INLINE void tiles_out(const float *m, size_t mstep, float *y, int ld)
{
    const v8i lo = {0, 8, 1, 9, 2, 10, 3, 11}, hi = lo + 4;
    v8 s[2][4];
    for (int c = 0; c < 4; c++) {
        v8 m0 = v8_load(m + (size_t)c * mstep), m1 = v8_load(m + (size_t)(4 + c) * mstep);
        v8 m2 = v8_load(m + (size_t)(8 + c) * mstep), m3 = v8_load(m + (size_t)(12 + c) * mstep);
        s[0][c] = m0 + m1 + m2;
        s[1][c] = m1 - m2 - m3;
    }
    for (int a = 0; a < 2; a++) {
        v8 e = s[a][0] + s[a][1] + s[a][2], o = s[a][1] - s[a][2] - s[a][3];
        v8_store(y + (size_t)a * ld, __builtin_shuffle(e, o, lo));
        v8_store(y + (size_t)a * ld + LANES, __builtin_shuffle(e, o, hi));
    }
}

/* The tiles' outputs of a plane (rows of 2 tw) into it: stored plus bias,
 * or added. */
ALWAYS_INLINE void plane_out(const wino_plan *p, const float *Y, float *y, float bias, bool acc)
{
    int ld = 2 * p->tw, ow = p->ow;
    bool flat = ow == ld; /* the rows are the plane's: one loop */
    int rows = flat ? 1 : p->oh, len = flat ? p->oh * ow : ow;
    for (int r = 0; r < rows; r++) {
        const float *restrict s = Y + (size_t)r * ld;
        float *restrict d = y + (size_t)r * ow;
        if (acc)
            for (int i = 0; i < len; i++)
                d[i] += s[i];
        else
            for (int i = 0; i < len; i++)
                d[i] = s[i] + bias;
    }
}

/* The block's products into images [0, nb) of y. A row's vector reads
 * on into the next row's tiles, the next image's or the zeroed floats
 * past the block's, and writes on into rows written after it (or the
 * 2 * LANES floats past Y's). */
OPS_CLONES static void block_output(const wino_plan *p, const float *M, int nb, float *y,
                                    const float *bias, bool acc, float *Y)
{
    size_t plane = (size_t)p->oh * p->ow, mstep = p->mstep;
    int tiles = p->tiles, tw = p->tw, ld = 2 * tw;
    for (int b = 0; b < nb; b++)
        for (int co = 0; co < p->co; co++) {
            const float *m = M + (size_t)co * p->ldm + (size_t)b * tiles;
            for (int ty = 0; ty < p->th; ty++)
                for (int k = 0; k < tw; k += LANES) {
                    int k0 = vec_at(k, tw);
                    tiles_out(m + (size_t)ty * tw + k0, mstep, Y + (size_t)2 * ty * ld + 2 * k0,
                              ld);
                }
            plane_out(p, Y, y + ((size_t)b * p->co + co) * plane, bias ? bias[co] : 0.0f, acc);
        }
}

/* ---- output gradients: dM = A g A^T, the adjoint of the output's ------ */

/* Eight 2x2 tiles of output gradients (rows y and y + ld, columns
 * interleaved) into the 16 positions of dM: A = [1 0; 1 1; 1 -1; 0 -1]
 * down the columns, then along the rows. */
ALWAYS_INLINE void tiles_gout(const float *y, int ld, float *m, size_t mstep)
{
    const v8i even = {0, 2, 4, 6, 8, 10, 12, 14}, odd = even + 1;
    v8 g[2][2], r[4][2];
    for (int a = 0; a < 2; a++) {
        v8 lo = v8_load(y + (size_t)a * ld), hi = v8_load(y + (size_t)a * ld + LANES);
        g[a][0] = __builtin_shuffle(lo, hi, even);
        g[a][1] = __builtin_shuffle(lo, hi, odd);
    }
    for (int c = 0; c < 2; c++) {
        r[0][c] = g[0][c];
        r[1][c] = g[0][c] + g[1][c];
        r[2][c] = g[0][c] - g[1][c];
        r[3][c] = -g[1][c];
    }
    for (int i = 0; i < 4; i++) {
        v8_store(m + (size_t)(4 * i) * mstep, r[i][0]);
        v8_store(m + (size_t)(4 * i + 1) * mstep, r[i][0] + r[i][1]);
        v8_store(m + (size_t)(4 * i + 2) * mstep, r[i][0] - r[i][1]);
        v8_store(m + (size_t)(4 * i + 3) * mstep, -r[i][1]);
    }
}

/* The output gradients of images [0, nb) of g as dM. A plane is copied
 * into Y (rows of 2 tw: the rows and columns past the map's are zeros
 * that stay); vectors run on as block_input's do. */
OPS_CLONES static void block_gout(const wino_plan *p, const float *g, int nb, float *M, float *Y)
{
    size_t plane = (size_t)p->oh * p->ow;
    int tw = p->tw, ld = 2 * tw;
    for (int b = 0; b < nb; b++)
        for (int co = 0; co < p->co; co++) {
            const float *src = g + ((size_t)b * p->co + co) * plane;
            for (int r = 0; r < p->oh; r++)
                copy_row(Y + (size_t)r * ld, src + (size_t)r * p->ow, p->ow);
            float *m = M + (size_t)co * p->ldm + (size_t)b * p->tiles;
            for (int ty = 0; ty < p->th; ty++)
                for (int k = 0; k < tw; k += LANES) {
                    int k0 = vec_at(k, tw);
                    tiles_gout(Y + (size_t)2 * ty * ld + 2 * k0, ld, m + (size_t)ty * tw + k0,
                               p->mstep);
                }
        }
}

/* ---- blocks and chunks ------------------------------------------------- */

/* A thread's working memory: transformed tiles, products, a padded
 * input plane, a plane's tile outputs (or output gradients). */
typedef struct wino_slot {
    float *V, *M, *P, *Y;
} wino_slot;

static void run_block(const wino_args *a, long i0, int nb, const wino_slot *s)
{
    const wino_plan *p = a->p;
    size_t T = (size_t)nb * p->tiles;
    block_input(p, a->in + (size_t)i0 * p->ci * p->h * p->w, nb, s->V, s->P);
    for (int q = 0; q < POS; q++) {
        float *mq = s->M + (size_t)q * p->mstep;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, p->co, (int)T, p->ci, 1.0f,
                    a->U + (size_t)q * p->co * p->ci, p->ci, s->V + (size_t)q * p->vstep,
                    (int)p->ldv, 0.0f, mq, (int)p->ldm);
        for (int co = 0; co < p->co; co++) /* what a short plane's last vector reads */
            memset(mq + (size_t)co * p->ldm + T, 0, sizeof(float) * LANES);
    }
    block_output(p, s->M, nb, a->out + (size_t)i0 * p->co * p->oh * p->ow, a->b, a->acc, s->Y);
}

/* dU += the weight gradient of images [i0, i0 + nb) */
static void wgrad_block(const wino_args *a, long i0, int nb, const wino_slot *s, float *dU)
{
    const wino_plan *p = a->p;
    int T = nb * p->tiles;
    const float *g = a->dout + (size_t)i0 * p->co * p->oh * p->ow;
    if (a->bias_sums) /* the block's gradients, into the cache for block_gout */
        ops_plane_sums(a->bias_sums + (size_t)i0 * p->co, g, nb, p->co, (size_t)p->oh * p->ow);
    block_input(p, a->in + (size_t)i0 * p->ci * p->h * p->w, nb, s->V, s->P);
    block_gout(p, g, nb, s->M, s->Y);
    for (int q = 0; q < POS; q++)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, p->co, p->ci, T, 1.0f,
                    s->M + (size_t)q * p->mstep, (int)p->ldm, s->V + (size_t)q * p->vstep,
                    (int)p->ldv, 1.0f, dU + (size_t)q * p->co * p->ci, p->ci);
}

/* A group of images, block by block: the outputs, or (a->dw) the group's
 * weight gradient dU, in the group's own set of kernels. */
static void wino_chunk(void *ctx, long chunk, int t)
{
    const wino_args *a = ctx;
    const wino_plan *p = a->p;
    long lo, hi;
    ops_share(p->n, chunk, a->groups, &lo, &hi);
    long nblk = (hi - lo + p->blk - 1) / p->blk;
    wino_slot s = {.V = a->slots + p->slot * t};
    s.M = s.V + POS * p->vstep;
    s.P = s.M + POS * p->mstep;
    s.Y = s.P + p->pp;
    /* the padding of the padded plane (and the floats after it, read by
     * junk lanes) and of the output gradients' rows: zeros for good */
    memset(s.P, 0, sizeof(float) * (p->pp + p->yp));
    float *dU = a->dw ? a->U + kernels_size(a->c) * chunk : NULL;
    if (dU)
        memset(dU, 0, sizeof(float) * POS * p->co * p->ci);
    for (long k = 0; k < nblk; k++) {
        long i0 = lo + (hi - lo) * k / nblk, i1 = lo + (hi - lo) * (k + 1) / nblk;
        if (dU)
            wgrad_block(a, i0, (int)(i1 - i0), &s, dU);
        else
            run_block(a, i0, (int)(i1 - i0), &s);
    }
}

static void wino_run(const ops_conv *c, bool grad, float *out, const float *in, const float *w,
                     const float *b, float *scratch, bool acc)
{
    wino_plan p;
    plan_init(&p, c, grad);
    wino_args a = {.p = &p,
                   .c = c,
                   .in = in,
                   .w = w,
                   .b = b,
                   .out = out,
                   .U = scratch,
                   .slots = scratch + OPS_MAX_THREADS * kernels_size(c),
                   .rot = grad,
                   .acc = acc,
                   /* a forward on one thread (ops_conv.one_group): one
                      group, whose blocks are as large as the images allow */
                   .groups = c->one_group && !grad ? 1 : OPS_MAX_THREADS};
    p.slot = slot_size(c);
    long work = (long)c->cin * c->cout * POS;
    ops_par_for(c->cout, work > OPS_PAR_MIN, kernels_range, &a);
    long flops = (long)p.n * p.tiles * p.ci * p.co;
    ops_par_run(wino_chunk, &a, a.groups, flops > OPS_PAR_MIN);
}

void ops_wino_forward(const ops_conv *c, float *out, const float *in, const float *w,
                      const float *b, float *scratch)
{
    wino_run(c, false, out, in, w, c->bias ? b : NULL, scratch, false);
}

void ops_wino_input_grad(const ops_conv *c, float *din, const float *dout, const float *w,
                         float *scratch, bool accumulate)
{
    wino_run(c, true, din, dout, w, NULL, scratch, accumulate);
}

/* ---- the weight gradient: dU[pos] = sum over tiles dM[pos] V[pos]^T ---- */

/* G^T u G, the adjoint of kernel_transform (the same halvings) */
static void kernel_adjoint(const float u[POS], float g[9])
{
    float t[3][4];
    for (int c = 0; c < 4; c++) {
        float s = u[4 + c] + u[8 + c];
        t[0][c] = u[c] + 0.5f * s;
        t[1][c] = 0.5f * (u[4 + c] - u[8 + c]);
        t[2][c] = 0.5f * s + u[12 + c];
    }
    for (int r = 0; r < 3; r++) {
        float s = t[r][1] + t[r][2];
        g[3 * r] = t[r][0] + 0.5f * s;
        g[3 * r + 1] = 0.5f * (t[r][1] - t[r][2]);
        g[3 * r + 2] = 0.5f * s + t[r][3];
    }
}

/* Kernels [lo, hi) (o * cin + i): the groups' dU summed in group order
 * (runs of RED kernels, so the sums are vectors), back to 3x3, added to
 * dw. */
#define RED 64
OPS_CLONES static void wgrad_reduce(void *ctx, long lo, long hi)
{
    const wino_args *a = ctx;
    size_t pos = (size_t)a->c->cout * a->c->cin, gstep = kernels_size(a->c);
    for (long e0 = lo; e0 < hi; e0 += RED) {
        int m = hi - e0 < RED ? (int)(hi - e0) : RED;
        float u[POS][RED];
        for (int q = 0; q < POS; q++) {
            const float *s = a->U + q * pos + e0;
            for (int j = 0; j < m; j++)
                u[q][j] = s[j];
            for (int k = 1; k < OPS_MAX_THREADS; k++) {
                s += gstep;
                for (int j = 0; j < m; j++)
                    u[q][j] += s[j];
            }
        }
        for (int j = 0; j < m; j++) {
            float uj[POS], g[9];
            for (int q = 0; q < POS; q++)
                uj[q] = u[q][j];
            kernel_adjoint(uj, g);
            float *d = a->dw + (e0 + j) * 9;
            for (int t = 0; t < 9; t++)
                d[t] += g[t];
        }
    }
}

void ops_wino_weight_grad(const ops_conv *c, float *dw, const float *dout, const float *in,
                          float *scratch, float *bias_sums)
{
    wino_plan p;
    plan_init(&p, c, false);
    p.slot = slot_size(c);
    wino_args a = {.p = &p,
                   .c = c,
                   .in = in,
                   .dout = dout,
                   .dw = dw,
                   .bias_sums = bias_sums,
                   .U = scratch,
                   .slots = scratch + OPS_MAX_THREADS * kernels_size(c),
                   .groups = OPS_MAX_THREADS};
    long flops = (long)p.n * p.tiles * p.ci * p.co;
    ops_par_run(wino_chunk, &a, OPS_MAX_THREADS, flops > OPS_PAR_MIN);
    long kernels = (long)c->cout * c->cin;
    ops_par_for(kernels, kernels * POS * OPS_MAX_THREADS > OPS_PAR_MIN, wgrad_reduce, &a);
}
