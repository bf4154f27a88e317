/* max, min and average pooling, and global average pooling. */
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "engine/ops_vec.h"

#include <stdint.h>
#include <string.h>

/* the 2x2 windows' interior loop is vectorised (O3; AVX2 clones where the
   CPU has it): comparisons and selects, exact */
#pragma GCC optimize("O3")

static const char *pool_name(ops_pool_kind k)
{
    return k == OPS_POOL_MAX ? "maxpool" : k == OPS_POOL_MIN ? "minpool" : "avgpool";
}

/* PyTorch's pooling_output_shape. */
static int pool_out(int in, int k, int pad, int stride, bool ceil)
{
    long num = (long)in + 2L * pad - k + (ceil ? stride - 1 : 0);
    if (num < 0)
        return 0;
    long o = num / stride + 1;
    if (ceil && (o - 1) * stride >= (long)in + pad)
        o--;
    return (int)o;
}

int ops_pool_init(ops_pool *p, gerr *err)
{
    const char *nm = pool_name(p->kind);
    if (p->kind != OPS_POOL_MAX && p->kind != OPS_POOL_AVG && p->kind != OPS_POOL_MIN)
        return gerr_set(err, "pool: unknown kind %d", (int)p->kind);
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1)
        return gerr_set(err, "%s: input %dx%dx%dx%d must be positive", nm, p->n, p->c, p->h, p->w);
    if (p->kh < 1 || p->kw < 1 || p->stride < 1)
        return gerr_set(err, "%s: kernel %dx%d and stride %d must be at least 1", nm, p->kh, p->kw,
                        p->stride);
    if (p->pad_h < 0 || p->pad_w < 0 || p->pad_h > p->kh / 2 || p->pad_w > p->kw / 2)
        return gerr_set(err, "%s: padding %dx%d must be between 0 and half the kernel %dx%d", nm,
                        p->pad_h, p->pad_w, p->kh, p->kw);
    p->oh = pool_out(p->h, p->kh, p->pad_h, p->stride, p->ceil);
    p->ow = pool_out(p->w, p->kw, p->pad_w, p->stride, p->ceil);
    if (p->oh < 1 || p->ow < 1)
        return gerr_set(err, "%s: kernel %dx%d is larger than the padded input %dx%d", nm, p->kh,
                        p->kw, p->h + 2 * p->pad_h, p->w + 2 * p->pad_w);
    return 0;
}

size_t ops_pool_scratch(const ops_pool *p)
{
    if (p->kind == OPS_POOL_AVG)
        return 0;
    return (size_t)p->n * p->c * p->oh * p->ow; /* one int32 index per output */
}

/* Indices are int32 stored in float-sized slots; memcpy keeps that free of
 * aliasing trouble and compiles to a plain move. */
static inline void put_idx(float *slot, int32_t v)
{
    memcpy(slot, &v, sizeof v);
}
static inline int32_t get_idx(const float *slot)
{
    int32_t v;
    memcpy(&v, slot, sizeof v);
    return v;
}

typedef struct pool_args {
    const ops_pool *p;
    float *out, *din, *idx;
    const float *in, *dout;
    int hw;
    bool relu; /* the relu of each extreme is stored (ops_pool_relu_forward) */
} pool_args;

/* One axis of output o's window: it starts at o * stride - pad and spans k;
 * [*lo, *hi) is its part inside the input of size in. Returns what
 * avgpool divides by along the axis (count_include_pad=True: the padding
 * counts, not what lies beyond it, a ceil-mode window sticking out past
 * the padded border). */
static inline int window_span(int o, int stride, int pad, int k, int in, int *lo, int *hi)
{
    int a = o * stride - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > in ? in : b;
    return (b > in + pad ? in + pad : b) - a;
}

#if defined(__clang__)
#define POOL_SHUF(a, b, ...) __builtin_shufflevector(a, b, __VA_ARGS__)
#else
#define POOL_SHUF(a, b, ...) __builtin_shuffle(a, b, (v8i){__VA_ARGS__})
#endif

/* What the fused relu stores (RELU: ops_pool_relu_forward): the relu of
 * the extreme, as OPS_RELU computes it (NaN and -0 give +0), or the
 * extreme itself. */
static inline __attribute__((always_inline)) float relu_if(float v, const bool RELU)
{
    return RELU ? (v > 0.0f ? v : 0.0f) : v;
}
static inline __attribute__((always_inline)) v8 relu8_if(v8 v, const bool RELU)
{
    /* a literal, not v8_all: an out-of-line v8_all of the default target
       returns its vector in memory, where the AVX2 clone expects ymm0 */
    const v8 zero = {0};
    return RELU ? v8_select(v > 0.0f, v, zero) : v;
}

/* The extreme of lanes b00, b01, b10, b11 in the scalar chain's order:
 * v8_max(v, best) is v > best ? v : best, lane by lane. */
static inline __attribute__((always_inline)) v8 extreme2_chain(v8 b00, v8 b01, v8 b10, v8 b11,
                                                               const bool IS_MIN)
{
    v8 best = IS_MIN ? v8_min(b01, b00) : v8_max(b01, b00);
    best = IS_MIN ? v8_min(b10, best) : v8_max(b10, best);
    return IS_MIN ? v8_min(b11, best) : v8_max(b11, best);
}

/* One window without the index, x1 == x0 for ceil mode's single last
 * column and r1 == r0 for its single last row (a repeat never wins: ties
 * keep the earlier element, and a NaN first element stays). */
static inline __attribute__((always_inline)) float
extreme2_window(const float *r0, const float *r1, int x0, int x1, const bool IS_MIN)
{
    float best = r0[x0], v;
#define TRY(val) \
    v = (val);   \
    best = (IS_MIN ? v < best : v > best) ? v : best
    TRY(r0[x1]);
    TRY(r1[x0]);
    TRY(r1[x1]);
#undef TRY
    return best;
}

/* The even and odd columns of sixteen floats a, b as shufps takes them,
 * within each 128-bit half: windows 0, 1, 4, 5 in the low half, 2, 3, 6,
 * 7 in the high one (one in-lane shuffle each instead of a cross-lane
 * pair); POOL_ORDER puts the result back in order, once. */
#define POOL_EVEN(a, b) POOL_SHUF(a, b, 0, 2, 8, 10, 4, 6, 12, 14)
#define POOL_ODD(a, b)  POOL_SHUF(a, b, 1, 3, 9, 11, 5, 7, 13, 15)
#define POOL_ORDER(r)   POOL_SHUF(r, r, 0, 1, 4, 5, 2, 3, 6, 7)

/* Eight windows of one output row from rows r0 and r1 (sixteen floats of
 * each); lanes set in last (in POOL_EVEN's order) are ceil mode's single
 * last column, whose missing right sample repeats the left one. */
static inline __attribute__((always_inline)) void extreme2_eight(float *o, const float *r0,
                                                                 const float *r1, v8i last,
                                                                 const bool IS_MIN, const bool RELU)
{
    v8 t0 = v8_load(r0), t1 = v8_load(r0 + 8), u0 = v8_load(r1), u1 = v8_load(r1 + 8);
    v8 b00 = POOL_EVEN(t0, t1), b01 = POOL_ODD(t0, t1);
    v8 b10 = POOL_EVEN(u0, u1), b11 = POOL_ODD(u0, u1);
    b01 = v8_select(last, b00, b01);
    b11 = v8_select(last, b10, b11);
    v8 r = extreme2_chain(b00, b01, b10, b11, IS_MIN);
    v8_store(o, relu8_if(POOL_ORDER(r), RELU));
}

/* One output row without the index. A row shorter than eight windows
 * takes one vector anyway: the lanes past the row (on the next rows'
 * samples) are written over the next rows' outputs, which are computed
 * after; reads stop at the input's end and writes at the end of this
 * range's output. partial: ceil mode's single last column (lane wp of a
 * short row). */
static inline __attribute__((always_inline)) void
extreme2_row(float *orow, const float *r0, const float *r1, int w, int ow, v8i partial,
             const float *in_end, const float *out_end, const bool IS_MIN, const bool RELU)
{
    int wp = w / 2, ox = 0; /* wp: windows of two columns */
    v8i none = {0};
    if (wp >= 8) {
        /* the row's pairs of columns eight at a time, the last eight
           overlapping the ones before */
        for (; ox + 8 <= wp; ox += 8)
            extreme2_eight(orow + ox, r0 + 2 * ox, r1 + 2 * ox, none, IS_MIN, RELU);
        if (ox < wp)
            extreme2_eight(orow + wp - 8, r0 + 2 * (wp - 8), r1 + 2 * (wp - 8), none, IS_MIN, RELU);
        ox = wp;
    } else if (wp > 0 && r1 + 16 <= in_end && orow + 8 <= out_end) {
        extreme2_eight(orow, r0, r1, partial, IS_MIN, RELU);
        ox = ow;
    }
    for (; ox < ow; ox++) {
        int x0 = 2 * ox;
        orow[ox] = relu_if(extreme2_window(r0, r1, x0, x0 + 1 < w ? x0 + 1 : x0, IS_MIN), RELU);
    }
}

/* Eight outputs of 2x2 planes (w == 2) whose rows all pair up: the
 * extremes of eight runs of four consecutive floats. Each 128-bit half
 * of a load is one window; the halves are transposed in place (windows
 * 0, 2, 4, 6 in the low half, 1, 3, 5, 7 in the high one) and the result
 * put in order at the end. */
static inline __attribute__((always_inline)) void extreme2_fours(float *o, const float *x,
                                                                 const bool IS_MIN, const bool RELU)
{
    v8 t0 = v8_load(x), t1 = v8_load(x + 8), t2 = v8_load(x + 16), t3 = v8_load(x + 24);
    v8 u0 = POOL_SHUF(t0, t1, 0, 8, 1, 9, 4, 12, 5, 13);
    v8 u1 = POOL_SHUF(t0, t1, 2, 10, 3, 11, 6, 14, 7, 15);
    v8 u2 = POOL_SHUF(t2, t3, 0, 8, 1, 9, 4, 12, 5, 13);
    v8 u3 = POOL_SHUF(t2, t3, 2, 10, 3, 11, 6, 14, 7, 15);
    v8 b00 = POOL_SHUF(u0, u2, 0, 1, 8, 9, 4, 5, 12, 13);
    v8 b01 = POOL_SHUF(u0, u2, 2, 3, 10, 11, 6, 7, 14, 15);
    v8 b10 = POOL_SHUF(u1, u3, 0, 1, 8, 9, 4, 5, 12, 13);
    v8 b11 = POOL_SHUF(u1, u3, 2, 3, 10, 11, 6, 7, 14, 15);
    v8 r = extreme2_chain(b00, b01, b10, b11, IS_MIN);
    v8_store(o, relu8_if(POOL_SHUF(r, r, 0, 4, 1, 5, 2, 6, 3, 7), RELU));
}

/* Eight outputs of 4x4-wide planes (w == 4) whose rows all pair up: four
 * pairs of rows, one load each (the top row in the low half, the bottom
 * in the high one), two windows per pair. */
static inline __attribute__((always_inline)) void
extreme2_pairs4(float *o, const float *x, const bool IS_MIN, const bool RELU)
{
    v8 t0 = v8_load(x), t1 = v8_load(x + 8), t2 = v8_load(x + 16), t3 = v8_load(x + 24);
    /* even and odd columns: top rows in the low halves, bottom in the high */
    v8 e01 = POOL_SHUF(t0, t1, 0, 2, 8, 10, 4, 6, 12, 14);
    v8 o01 = POOL_SHUF(t0, t1, 1, 3, 9, 11, 5, 7, 13, 15);
    v8 e23 = POOL_SHUF(t2, t3, 0, 2, 8, 10, 4, 6, 12, 14);
    v8 o23 = POOL_SHUF(t2, t3, 1, 3, 9, 11, 5, 7, 13, 15);
    v8 b00 = POOL_SHUF(e01, e23, 0, 1, 2, 3, 8, 9, 10, 11);
    v8 b10 = POOL_SHUF(e01, e23, 4, 5, 6, 7, 12, 13, 14, 15);
    v8 b01 = POOL_SHUF(o01, o23, 0, 1, 2, 3, 8, 9, 10, 11);
    v8 b11 = POOL_SHUF(o01, o23, 4, 5, 6, 7, 12, 13, 14, 15);
    v8_store(o, relu8_if(extreme2_chain(b00, b01, b10, b11, IS_MIN), RELU));
}

/* Two output rows of four windows (ow == 4: w 8, 9 floor or 7 ceil, whose
 * last window is one column, PARTIAL) in one vector: rows a0, a1 give the
 * low half, c0, c1 the high (eight floats read from each). In POOL_EVEN's
 * order the last windows are lanes 5 and 7, whose left samples are the
 * even columns' lanes. */
static inline __attribute__((always_inline)) void
extreme2_rows4(float *o, const float *a0, const float *a1, const float *c0, const float *c1,
               const bool PARTIAL, const bool IS_MIN, const bool RELU)
{
    v8 l0 = v8_load(a0), l1 = v8_load(a1), l2 = v8_load(c0), l3 = v8_load(c1);
    v8 b00 = POOL_EVEN(l0, l2), b01 = POOL_ODD(l0, l2);
    v8 b10 = POOL_EVEN(l1, l3), b11 = POOL_ODD(l1, l3);
    if (PARTIAL) {
        b01 = POOL_SHUF(b01, b00, 0, 1, 2, 3, 4, 13, 6, 15);
        b11 = POOL_SHUF(b11, b10, 0, 1, 2, 3, 4, 13, 6, 15);
    }
    v8 r = extreme2_chain(b00, b01, b10, b11, IS_MIN);
    v8_store(o, relu8_if(POOL_ORDER(r), RELU));
}

/* 2x2 windows at stride 2 without padding and without the index
 * (evaluation), in the indexed path's order of comparison, so the values
 * are the same bit for bit. The range's output planes are one run of
 * output rows, each from two input rows of its plane (one for ceil
 * mode's last row of an odd height); small planes are where the time
 * went, so the rows are not walked plane by plane: a 2x2 or 4-wide plane
 * whose rows all pair up is a run of floats taken eight windows at a
 * time, four-window rows go two to a vector, across planes, and the rest
 * row by row. */
static inline __attribute__((always_inline)) void
extreme2_values(const pool_args *a, long lo, long hi, const bool IS_MIN, const bool RELU)
{
    const ops_pool *p = a->p;
    int h = p->h, w = p->w, oh = p->oh, ow = p->ow;
    size_t ihw = (size_t)h * w, ohw = (size_t)oh * ow;
    const float *in_end = a->in + (size_t)p->n * p->c * ihw;
    const float *x = a->in + lo * ihw;
    float *o = a->out + lo * ohw, *out_end = a->out + hi * ohw;
    long rows = (hi - lo) * oh, r = 0; /* output rows */
    if (2 * oh == h && (w == 2 || w == 4)) {
        /* output i's window starts at input 4 * i in both */
        long n = rows * ow, i = 0;
        for (; i + 8 <= n; i += 8) {
            if (w == 2)
                extreme2_fours(o + i, x + 4 * i, IS_MIN, RELU);
            else
                extreme2_pairs4(o + i, x + 4 * i, IS_MIN, RELU);
        }
        r = i / ow;
    }
    /* the plane and row in it of output row r, and its input rows */
    long pl = r / oh;
    int oy = (int)(r % oh);
    const float *base = x + pl * ihw;
#define ROWS(r0, r1)                                                                 \
    const float *r0 = base + (size_t)2 * oy * w, *r1 = 2 * oy + 1 < h ? r0 + w : r0; \
    if (++oy == oh) {                                                                \
        oy = 0;                                                                      \
        base += ihw;                                                                 \
    }
    if (ow == 4) {
        bool partial = w == 7;
        for (; r + 2 <= rows; r += 2) {
            /* the second row's last read is the furthest; a miss at the
               input's end leaves the rows to the row-by-row loop */
            int oy0 = oy;
            const float *base0 = base;
            ROWS(a0, a1);
            ROWS(c0, c1);
            if (c1 + 8 > in_end) {
                oy = oy0, base = base0;
                break;
            }
            if (partial)
                extreme2_rows4(o + r * 4, a0, a1, c0, c1, true, IS_MIN, RELU);
            else
                extreme2_rows4(o + r * 4, a0, a1, c0, c1, false, IS_MIN, RELU);
        }
    }
    v8i lane = {0, 1, 4, 5, 2, 3, 6, 7}; /* the windows in POOL_EVEN's order */
    v8i partial = lane == (ow > w / 2 ? w / 2 : -1);
    for (; r < rows; r++) {
        ROWS(r0, r1);
        extreme2_row(o + r * ow, r0, r1, w, ow, partial, in_end, out_end, IS_MIN, RELU);
    }
#undef ROWS
}

/* ---- 2x2 windows with their indices (training's forward) ----
 * The same order of comparison as the general loop (row by row, first
 * extreme wins) and so the same values as extreme2_values; the argmax
 * rides along as the window's offset (0, 1, w or w + 1), moved by the
 * same masks that move the best value. */

/* One window and its index, x1 == x0 for ceil mode's single last column
 * and dw == 0 for its single last row (r1 == r0): a repeat never wins,
 * so its index is never taken. rb: the index of the window's row. */
static inline __attribute__((always_inline)) float
extreme2_window_indexed(const float *r0, const float *r1, int x0, int x1, int32_t rb, int32_t dw,
                        int32_t *bi_out, const bool IS_MIN)
{
    float best = r0[x0], v;
    int32_t bi = rb + x0;
    bool better;
#define TRY(val, idx)                      \
    v = (val);                             \
    better = IS_MIN ? v < best : v > best; \
    best = better ? v : best;              \
    bi = better ? (idx) : bi
    TRY(r0[x1], rb + x1);
    TRY(r1[x0], rb + dw + x0);
    TRY(r1[x1], rb + dw + x1);
#undef TRY
    *bi_out = bi;
    return best;
}

/* Eight windows of one output row with their indices, as extreme2_eight
 * (lanes set in last: ceil mode's single last column). i0 is the index
 * of the first window's top left sample; w the plane's width. With r1 ==
 * r0 (ceil mode's single last row) the bottom samples repeat the top
 * ones and never win, so offsets w and w + 1 are never taken. */
static inline __attribute__((always_inline)) void
extreme2_eight_indexed(float *o, float *ix, const float *r0, const float *r1, v8i last, int32_t i0,
                       int32_t w, const bool IS_MIN, const bool RELU)
{
    v8 t0 = v8_load(r0), t1 = v8_load(r0 + 8), u0 = v8_load(r1), u1 = v8_load(r1 + 8);
    v8 b00 = POOL_EVEN(t0, t1), b01 = POOL_ODD(t0, t1);
    v8 b10 = POOL_EVEN(u0, u1), b11 = POOL_ODD(u0, u1);
    b01 = v8_select(last, b00, b01);
    b11 = v8_select(last, b10, b11);
    v8 best = b00;
    v8i off = {0}, better;
#define TRY(val, k)                                \
    better = IS_MIN ? (val) < best : (val) > best; \
    best = v8_select(better, val, best);           \
    off = (better & (k)) | (~better & off)
    TRY(b01, 1);
    TRY(b10, w);
    TRY(b11, w + 1);
#undef TRY
    v8_store(o, relu8_if(POOL_ORDER(best), RELU));
    const v8i cols = {0, 2, 4, 6, 8, 10, 12, 14};
    v8i at = (v8i)POOL_ORDER((v8)off) + cols + i0;
    v8_store(ix, (v8)at);
}

/* One output row with its indices, as extreme2_row: a row shorter than
 * eight windows takes one vector, whose lanes past the row (values and
 * indices) are written over the next rows', computed after. rb: the index
 * of the row's first sample (y0 * w); dw: w, or 0 for a single row. */
static inline __attribute__((always_inline)) void
extreme2_row_indexed(float *orow, float *irow, const float *r0, const float *r1, int w, int ow,
                     int32_t rb, int32_t dw, v8i partial, const float *in_end, const float *out_end,
                     const bool IS_MIN, const bool RELU)
{
    int wp = w / 2, ox = 0;
    v8i none = {0};
    if (wp >= 8) {
        for (; ox + 8 <= wp; ox += 8)
            extreme2_eight_indexed(orow + ox, irow + ox, r0 + 2 * ox, r1 + 2 * ox, none,
                                   rb + 2 * ox, w, IS_MIN, RELU);
        if (ox < wp) {
            ox = wp - 8;
            extreme2_eight_indexed(orow + ox, irow + ox, r0 + 2 * ox, r1 + 2 * ox, none,
                                   rb + 2 * ox, w, IS_MIN, RELU);
        }
        ox = wp;
    } else if (wp > 0 && r1 + 16 <= in_end && orow + 8 <= out_end) {
        extreme2_eight_indexed(orow, irow, r0, r1, partial, rb, w, IS_MIN, RELU);
        ox = ow;
    }
    for (; ox < ow; ox++) {
        int x0 = 2 * ox;
        int32_t bi;
        float best =
            extreme2_window_indexed(r0, r1, x0, x0 + 1 < w ? x0 + 1 : x0, rb, dw, &bi, IS_MIN);
        orow[ox] = relu_if(best, RELU);
        put_idx(&irow[ox], bi);
    }
}

/* The range's planes row by row (all of them in one run, as
 * extreme2_values: a short row's spilled lanes land on the next row, in
 * this plane or the next). */
static inline __attribute__((always_inline)) void
extreme2_indexed(const pool_args *a, long lo, long hi, const bool IS_MIN, const bool RELU)
{
    const ops_pool *p = a->p;
    int h = p->h, w = p->w, oh = p->oh, ow = p->ow;
    size_t ihw = (size_t)h * w, ohw = (size_t)oh * ow;
    const float *in_end = a->in + (size_t)p->n * p->c * ihw;
    const float *out_end = a->out + hi * ohw;
    v8i lane = {0, 1, 4, 5, 2, 3, 6, 7}; /* the windows in POOL_EVEN's order */
    v8i partial = lane == (ow > w / 2 ? w / 2 : -1);
    for (long pl = lo; pl < hi; pl++) {
        const float *x = a->in + pl * ihw;
        float *o = a->out + pl * ohw, *ix = a->idx + pl * ohw;
        for (int oy = 0; oy < oh; oy++) {
            int y0 = 2 * oy;
            bool two_rows = y0 + 1 < h;
            const float *r0 = x + (size_t)y0 * w, *r1 = two_rows ? r0 + w : r0;
            extreme2_row_indexed(o + oy * ow, ix + oy * ow, r0, r1, w, ow, y0 * w, two_rows ? w : 0,
                                 partial, in_end, out_end, IS_MIN, RELU);
        }
    }
}

/* All pools run over planes, each plane whole on one thread. */
OPS_CLONES static void extreme_forward(void *ctx, long lo, long hi)
{
    const pool_args *a = ctx;
    const ops_pool *p = a->p;
    bool is_min = p->kind == OPS_POOL_MIN;
    if (p->kh == 2 && p->kw == 2 && p->stride == 2 && p->pad_h == 0 && p->pad_w == 0) {
        /* one copy for each constant IS_MIN and RELU */
#define EXTREME2(fn)                     \
    do {                                 \
        if (is_min && a->relu)           \
            fn(a, lo, hi, true, true);   \
        else if (is_min)                 \
            fn(a, lo, hi, true, false);  \
        else if (a->relu)                \
            fn(a, lo, hi, false, true);  \
        else                             \
            fn(a, lo, hi, false, false); \
    } while (0)
        if (a->idx)
            EXTREME2(extreme2_indexed);
        else
            EXTREME2(extreme2_values);
#undef EXTREME2
        return;
    }
    float *out = a->out, *idx = a->idx;
    const float *in = a->in;
    size_t ihw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    for (long pl = lo; pl < hi; pl++) {
        const float *x = in + pl * ihw;
        float *o = out + pl * ohw, *ix = idx ? idx + pl * ohw : NULL;
        for (int oy = 0; oy < p->oh; oy++) {
            int y0, y1, x0, x1;
            window_span(oy, p->stride, p->pad_h, p->kh, p->h, &y0, &y1);
            for (int ox = 0; ox < p->ow; ox++) {
                window_span(ox, p->stride, p->pad_w, p->kw, p->w, &x0, &x1);
                int32_t best_i = y0 * p->w + x0;
                float best = x[best_i];
                for (int y = y0; y < y1; y++)
                    for (int xx = x0; xx < x1; xx++) {
                        float v = x[y * p->w + xx];
                        if (is_min ? v < best : v > best) {
                            best = v;
                            best_i = y * p->w + xx;
                        }
                    }
                o[oy * p->ow + ox] = relu_if(best, a->relu);
                if (ix)
                    put_idx(&ix[oy * p->ow + ox], best_i);
            }
        }
    }
}

/* Average pooling's windows (divisors: window_span), forward (sums
 * divided) or backward (each gradient divided and spread over its
 * window); BACKWARD is a constant in each of the two copies. */
static inline __attribute__((always_inline)) void avg_windows(const pool_args *a, long lo, long hi,
                                                              const bool BACKWARD)
{
    const ops_pool *p = a->p;
    size_t ihw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    for (long pl = lo; pl < hi; pl++) {
        const float *x = BACKWARD ? NULL : a->in + pl * ihw;
        float *dx = BACKWARD ? a->din + pl * ihw : NULL;
        const float *g = BACKWARD ? a->dout + pl * ohw : NULL;
        float *o = BACKWARD ? NULL : a->out + pl * ohw;
        for (int oy = 0; oy < p->oh; oy++) {
            int y0, y1, x0, x1;
            int ny = window_span(oy, p->stride, p->pad_h, p->kh, p->h, &y0, &y1);
            for (int ox = 0; ox < p->ow; ox++) {
                int nx = window_span(ox, p->stride, p->pad_w, p->kw, p->w, &x0, &x1);
                float div = (float)(ny * nx);
                if (BACKWARD) {
                    float v = g[oy * p->ow + ox] / div;
                    for (int y = y0; y < y1; y++)
                        for (int xx = x0; xx < x1; xx++)
                            dx[y * p->w + xx] += v;
                } else {
                    float s = 0.0f;
                    for (int y = y0; y < y1; y++)
                        for (int xx = x0; xx < x1; xx++)
                            s += x[y * p->w + xx];
                    o[oy * p->ow + ox] = s / div;
                }
            }
        }
    }
}

static void avg_forward(void *ctx, long lo, long hi)
{
    avg_windows(ctx, lo, hi, false);
}

static bool pool_worth(const ops_pool *p)
{
    return (long)p->n * p->c * ((long)p->h * p->w + (long)p->oh * p->ow) > OPS_PAR_MIN;
}

void ops_pool_forward(const ops_pool *p, float *out, const float *in, float *scratch)
{
    pool_args a = {.p = p, .out = out, .in = in, .idx = scratch};
    ops_par_for((long)p->n * p->c, pool_worth(p),
                p->kind == OPS_POOL_AVG ? avg_forward : extreme_forward, &a);
}

void ops_pool_relu_forward(const ops_pool *p, float *out, const float *in, float *scratch)
{
    pool_args a = {.p = p, .out = out, .in = in, .idx = scratch, .relu = true};
    ops_par_for((long)p->n * p->c, pool_worth(p), extreme_forward, &a);
}

static void extreme_backward(void *ctx, long lo, long hi)
{
    const pool_args *a = ctx;
    const ops_pool *p = a->p;
    size_t ihw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    for (long pl = lo; pl < hi; pl++) {
        float *dx = a->din + pl * ihw;
        const float *g = a->dout + pl * ohw, *ix = a->idx + pl * ohw;
        for (size_t o = 0; o < ohw; o++)
            dx[get_idx(&ix[o])] += g[o];
    }
}

static void avg_backward(void *ctx, long lo, long hi)
{
    avg_windows(ctx, lo, hi, true);
}

void ops_pool_backward(const ops_pool *p, float *din, const float *dout, const float *scratch)
{
    if (!din)
        return;
    pool_args a = {.p = p, .din = din, .dout = dout, .idx = (float *)scratch};
    ops_par_for((long)p->n * p->c, pool_worth(p),
                p->kind == OPS_POOL_AVG ? avg_backward : extreme_backward, &a);
}

typedef struct pool_relu_args {
    const ops_pool *p;
    float *din;
    const float *dout, *out, *idx;
    bool acc;
} pool_relu_args;

/* What the pair's backward gives an input element no window routes a
 * gradient to: the relu's din (or 0) plus its +0 (so an accumulated -0
 * becomes +0, as in the pair). */
static inline __attribute__((always_inline)) void relu_zero(float *dx, long n, const bool ACC)
{
    for (long i = 0; i < n; i++)
        dx[i] = ACC ? dx[i] + 0.0f : 0.0f;
}

/* The gradients of eight 2x2 windows' samples, rows top (a: columns 0-7,
 * b: 8-15) and bottom: the output's gradient plus 0 (the pool's zeroed
 * gradient plus g, in the pair) where the sample is the argmax and the
 * output positive, else +0. i0: the index of the first window's top left
 * sample; the argmax's offset in its window says which sample it is. */
static inline __attribute__((always_inline)) void relu_back8(v8 *ta, v8 *tb, v8 *ua, v8 *ub, v8 gv,
                                                             v8 yv, v8i iv, int32_t i0, int32_t w)
{
    const v8i cols = {0, 2, 4, 6, 8, 10, 12, 14};
    const v8 zero = {0};
    v8i off = iv - (cols + i0), pos = yv > 0.0f;
    v8 t00 = v8_select(pos & (off == 0), gv, zero) + 0.0f;
    v8 t01 = v8_select(pos & (off == 1), gv, zero) + 0.0f;
    v8 t10 = v8_select(pos & (off == w), gv, zero) + 0.0f;
    v8 t11 = v8_select(pos & (off == w + 1), gv, zero) + 0.0f;
    *ta = POOL_SHUF(t00, t01, 0, 8, 1, 9, 2, 10, 3, 11);
    *tb = POOL_SHUF(t00, t01, 4, 12, 5, 13, 6, 14, 7, 15);
    *ua = POOL_SHUF(t10, t11, 0, 8, 1, 9, 2, 10, 3, 11);
    *ub = POOL_SHUF(t10, t11, 4, 12, 5, 13, 6, 14, 7, 15);
}

/* Eight windows' sixteen columns of rows d0 and (two) d1, stored or
 * added to. */
static inline __attribute__((always_inline)) void relu_back_eight(float *d0, float *d1, bool two,
                                                                  const float *g, const float *y,
                                                                  const float *ix, int32_t i0,
                                                                  int32_t w, const bool ACC)
{
    v8 ta, tb, ua, ub;
    relu_back8(&ta, &tb, &ua, &ub, v8_load(g), v8_load(y), (v8i)v8_load(ix), i0, w);
    if (ACC) {
        ta += v8_load(d0), tb += v8_load(d0 + 8);
        if (two)
            ua += v8_load(d1), ub += v8_load(d1 + 8);
    }
    v8_store(d0, ta), v8_store(d0 + 8, tb);
    if (two)
        v8_store(d1, ua), v8_store(d1 + 8, ub);
}

/* Fewer than eight windows (n) through zero-padded copies: a padded lane's
 * output is 0, not positive, and its gradients are not written. */
static inline __attribute__((always_inline)) void relu_back_tail(float *d0, float *d1, bool two,
                                                                 const float *g, const float *y,
                                                                 const float *ix, int n, int32_t i0,
                                                                 int32_t w, const bool ACC)
{
    float gb[8] = {0}, yb[8] = {0}, ib[8] = {0}, r0[16], r1[16];
    memcpy(gb, g, sizeof(float) * n);
    memcpy(yb, y, sizeof(float) * n);
    memcpy(ib, ix, sizeof(float) * n);
    v8 ta, tb, ua, ub;
    relu_back8(&ta, &tb, &ua, &ub, v8_load(gb), v8_load(yb), (v8i)v8_load(ib), i0, w);
    v8_store(r0, ta), v8_store(r0 + 8, tb), v8_store(r1, ua), v8_store(r1 + 8, ub);
    for (int j = 0; j < 2 * n; j++)
        d0[j] = ACC ? d0[j] + r0[j] : r0[j];
    if (two)
        for (int j = 0; j < 2 * n; j++)
            d1[j] = ACC ? d1[j] + r1[j] : r1[j];
}

/* 2x2 windows at stride 2 without padding: every input gradient written
 * once, window row by window row, instead of zeroing the plane and
 * scattering. Stored, a row shorter than eight windows takes one vector
 * whose lanes past the row write over the next rows' gradients, written
 * after (the range's last rows excepted), and a longer row's last eight
 * overlap the ones before; added, the remainder goes through
 * relu_back_tail. */
static inline __attribute__((always_inline)) void
pool2_relu_backward(const pool_relu_args *a, long lo, long hi, const bool ACC)
{
    const ops_pool *p = a->p;
    int h = p->h, w = p->w, oh = p->oh, ow = p->ow, wp = w / 2;
    size_t ihw = (size_t)h * w, ohw = (size_t)oh * ow;
    const float *din_end = a->din + hi * ihw, *dout_end = a->dout + hi * ohw;
    for (long pl = lo; pl < hi; pl++) {
        float *dx = a->din + pl * ihw;
        size_t po = pl * ohw;
        const float *g = a->dout + po, *y = a->out + po, *ix = a->idx + po;
        for (int oy = 0; oy < oh; oy++) {
            int y0 = 2 * oy;
            bool two = y0 + 1 < h;
            float *d0 = dx + (size_t)y0 * w, *d1 = d0 + w;
            const float *gr = g + oy * ow, *yr = y + oy * ow, *ir = ix + oy * ow;
            int32_t rb = y0 * w;
            int ox = 0;
            for (; ox + 8 <= wp; ox += 8)
                relu_back_eight(d0 + 2 * ox, d1 + 2 * ox, two, gr + ox, yr + ox, ir + ox,
                                rb + 2 * ox, w, ACC);
            if (ox < wp) {
                if (!ACC && wp >= 8)
                    ox = wp - 8;
                if (!ACC &&
                    (wp >= 8 || ((two ? d1 : d0) + 16 <= din_end && gr + ox + 8 <= dout_end)))
                    relu_back_eight(d0 + 2 * ox, d1 + 2 * ox, two, gr + ox, yr + ox, ir + ox,
                                    rb + 2 * ox, w, ACC);
                else
                    relu_back_tail(d0 + 2 * ox, d1 + 2 * ox, two, gr + ox, yr + ox, ir + ox,
                                   wp - ox, rb + 2 * ox, w, ACC);
            }
            if (ow > wp) {
                /* ceil mode's single last column: offsets 0 and w */
                int x0 = w - 1;
                int32_t off = get_idx(&ir[wp]) - (rb + x0);
                bool pos = yr[wp] > 0.0f;
                float t0 = (pos && off == 0 ? gr[wp] : 0.0f) + 0.0f;
                d0[x0] = ACC ? d0[x0] + t0 : t0;
                if (two) {
                    float t1 = (pos && off == w ? gr[wp] : 0.0f) + 0.0f;
                    d1[x0] = ACC ? d1[x0] + t1 : t1;
                }
            } else if (w & 1) {
                /* floor mode's column no window takes */
                relu_zero(d0 + w - 1, 1, ACC);
                if (two)
                    relu_zero(d1 + w - 1, 1, ACC);
            }
        }
        if (2 * oh < h) /* floor mode's row no window takes */
            relu_zero(dx + (size_t)(h - 1) * w, w, ACC);
    }
}

OPS_CLONES static void pool_relu_backward_range(void *ctx, long lo, long hi)
{
    const pool_relu_args *a = ctx;
    const ops_pool *p = a->p;
    if (p->kh == 2 && p->kw == 2 && p->stride == 2 && p->pad_h == 0 && p->pad_w == 0) {
        if (a->acc)
            pool2_relu_backward(a, lo, hi, true);
        else
            pool2_relu_backward(a, lo, hi, false);
        return;
    }
    size_t ihw = (size_t)p->h * p->w, ohw = (size_t)p->oh * p->ow;
    for (long pl = lo; pl < hi; pl++) {
        float *dx = a->din + pl * ihw;
        const float *g = a->dout + pl * ohw, *y = a->out + pl * ohw, *ix = a->idx + pl * ohw;
        /* every element gets the relu's +0 (stored: 0; added: -0 becomes
           +0), then each positive output's gradient is added at its
           argmax: (d + 0) + g has the bits of the pair's d + (0 + g) */
        if (a->acc)
            relu_zero(dx, (long)ihw, true);
        else
            memset(dx, 0, sizeof(float) * ihw);
        /* without a branch (the sign of a relu's input is a coin toss):
           where the relu passes nothing, +0 is added, as the relu's own
           backward adds its +0 */
        for (size_t o = 0; o < ohw; o++)
            dx[get_idx(&ix[o])] += y[o] > 0.0f ? g[o] : 0.0f;
    }
}

void ops_pool_relu_backward(const ops_pool *p, float *din, const float *dout, const float *out,
                            const float *scratch, bool accumulate)
{
    pool_relu_args a = {
        .p = p, .din = din, .dout = dout, .out = out, .idx = scratch, .acc = accumulate};
    ops_par_for((long)p->n * p->c, pool_worth(p), pool_relu_backward_range, &a);
}

/* Each plane's mean: its floats summed in order in double, from 0.0, then
 * divided by hw. The sum of a plane is one chain of dependent additions,
 * so GAP_WAYS planes are summed side by side, each in its own order: the
 * same numbers, without waiting on one addition after another. A 1x1
 * plane's mean is the value plus 0.0 (-0 becomes +0, as 0.0 + -0.0). */
#define GAP_WAYS 8
OPS_CLONES static void gap_forward_range(void *ctx, long lo, long hi)
{
    const pool_args *a = ctx;
    float *out = a->out;
    const float *in = a->in;
    int hw = a->hw;
    long pl = lo;
    if (hw == 1) {
        for (; pl < hi; pl++)
            out[pl] = in[pl] + 0.0f;
        return;
    }
    for (; pl + GAP_WAYS <= hi; pl += GAP_WAYS) {
        const float *x = in + (size_t)pl * hw;
        double s[GAP_WAYS] = {0.0};
        for (int i = 0; i < hw; i++)
            for (int k = 0; k < GAP_WAYS; k++)
                s[k] += x[(size_t)k * hw + i];
        for (int k = 0; k < GAP_WAYS; k++)
            out[pl + k] = (float)(s[k] / hw);
    }
    for (; pl < hi; pl++) {
        const float *x = in + (size_t)pl * hw;
        double s = 0.0;
        for (int i = 0; i < hw; i++)
            s += x[i];
        out[pl] = (float)(s / hw);
    }
}

void ops_gap_forward(float *out, const float *in, long planes, int hw)
{
    pool_args a = {.out = out, .in = in, .hw = hw};
    ops_par_for(planes, planes * hw > OPS_PAR_MIN, gap_forward_range, &a);
}

static void gap_backward_range(void *ctx, long lo, long hi)
{
    const pool_args *a = ctx;
    float *din = a->din;
    const float *dout = a->dout;
    int hw = a->hw;
    float inv = 1.0f / (float)hw;
    for (long pl = lo; pl < hi; pl++) {
        float *dx = din + (size_t)pl * hw, v = dout[pl] * inv;
        for (int i = 0; i < hw; i++)
            dx[i] += v;
    }
}

void ops_gap_backward(float *din, const float *dout, long planes, int hw)
{
    pool_args a = {.din = din, .dout = dout, .hw = hw};
    ops_par_for(planes, planes * hw > OPS_PAR_MIN, gap_backward_range, &a);
}
