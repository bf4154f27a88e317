/* Helpers shared by the ops_*.c files; not part of the public API. */
#ifndef GEVO_ENGINE_OPS_INTERNAL_H
#define GEVO_ENGINE_OPS_INTERNAL_H

#include <stdbool.h>

#include "engine/ops.h"

/* The operators' thread pool (engine/ops_par.c): ops_set_threads(n) makes
 * n - 1 workers; the calling thread is thread 0. A task is cut in chunks
 * that fixed rules define (never the thread count or timing), and threads
 * claim chunks until none is left, so a late worker (the machine is
 * shared) delays nothing and every chunk's numbers are the same whoever
 * computes it. Workers spin briefly between tasks, then sleep. */
#define OPS_MAX_THREADS 8

/* Work (floats touched) above which a task is worth splitting: one costs
 * a few microseconds. A variable so tests can split every task. */
extern long ops_par_min;
#define OPS_PAR_MIN ops_par_min

/* How many pauses an idle worker spins before it sleeps. A variable so
 * tests can make the workers sleep between every two tasks. */
extern long ops_par_spins;

/* Runs fn(ctx, chunk, t) for every chunk in [0, nchunks) and returns when
 * all are done; t < OPS_MAX_THREADS names the thread (for per-thread
 * working memory). Runs all chunks here when parallel is false, the pool
 * has one thread, or the caller already is inside a task (then with the
 * caller's t: its thread's working memory is free, the others' are not). */
typedef void (*ops_task)(void *ctx, long chunk, int t);
void ops_par_run(ops_task fn, void *ctx, long nchunks, bool parallel);

/* The pool's threads (ops_set_threads), at least 1: the t of a chunk is
 * below it. */
int ops_par_threads(void);

/* Splits [0, n) in contiguous ranges: fn(ctx, lo, hi). For kernels whose
 * items do not depend on each other (channels, planes, elements): the
 * range boundaries may depend on the thread count. */
typedef void (*ops_range)(void *ctx, long lo, long hi);
void ops_par_for(long n, bool parallel, ops_range fn, void *ctx);
/* As ops_par_for, in one range per thread: for kernels whose items are
 * strided across the batch (a channel of every image), where a thread's
 * range read image by image is a run of memory as long as the range, and
 * ops_par_for's shorter ranges (a few per thread) would make it short
 * runs far apart. */
void ops_par_split(long n, bool parallel, ops_range fn, void *ctx);

/* The share [*lo, *hi) of n items that part t of parts takes. */
static inline void ops_share(long n, long t, long parts, long *lo, long *hi)
{
    *lo = n * t / parts;
    *hi = n * (t + 1) / parts;
}

/* Hot loops get an AVX2 clone chosen at load time (ifunc), where the
 * compiler supports it; other CPUs run the default build. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
    !defined(__SANITIZE_ADDRESS__)
#define OPS_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define OPS_CLONES
#endif

/* One thread's span of an activation, forward and backward (acc: add to
 * din instead of storing); engine/ops_act.c. Batch norm calls them on the
 * values it has just normalised (ops_bn.fuse_act). */
void ops_act_span_forward(ops_act a, float *restrict out, const float *restrict in, long size);
void ops_act_span_backward(ops_act a, float *restrict din, const float *restrict dout,
                           const float *restrict in, long size, bool acc);

/* Sum of n floats in 8 float lanes (vectorisable), chunks of 1024 added
 * in double: fast, and exact enough for statistics over a batch. */
static inline double ops_sum(const float *restrict x, size_t n)
{
    double total = 0.0;
    for (size_t c0 = 0; c0 < n; c0 += 1024) {
        size_t c1 = c0 + 1024 < n ? c0 + 1024 : n, p = c0;
        float lane[8] = {0};
        for (; p + 8 <= c1; p += 8)
            for (int j = 0; j < 8; j++)
                lane[j] += x[p + j];
        float t = 0.0f;
        for (; p < c1; p++)
            t += x[p];
        for (int j = 0; j < 8; j++)
            t += lane[j];
        total += t;
    }
    return total;
}

/* sums[b * c + k] = (float)ops_sum of plane k of image b, for nb images
 * of c planes of hw floats: a convolution's bias gradient in pieces,
 * taken where a block's output gradient is read anyway (it is then in the
 * cache) and added per channel in image order afterwards, which gives
 * the bits of one pass summing every plane in that order. */
static inline void ops_plane_sums(float *sums, const float *x, int nb, int c, size_t hw)
{
    for (long q = 0; q < (long)nb * c; q++)
        sums[q] = (float)ops_sum(x + (size_t)q * hw, hw);
}

/* Output positions o in [*lo, *hi) for which o * stride + off lies in
 * [0, in): lets inner loops run without a bounds test per element. */
static inline void ops_valid_range(int out, int in, int stride, int off, int *lo, int *hi)
{
    int l = off >= 0 ? 0 : (-off + stride - 1) / stride;
    int h = in - 1 - off < 0 ? 0 : (in - 1 - off) / stride + 1;
    if (h > out)
        h = out;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

#endif
