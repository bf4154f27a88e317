/* The operators' thread pool, and the choice of OpenBLAS's kernels. */
#include "engine/ops.h"
#include "engine/ops_internal.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- OpenBLAS's kernels ------------------------------------------------
 * OpenBLAS 0.3.21 (Debian, DYNAMIC_ARCH) does not recognise some recent
 * Xeons and falls back to its Prescott (SSE3) kernels, 5x slower in sgemm
 * than the AVX-512 ones the CPU has. Its documented remedy is the
 * OPENBLAS_CORETYPE variable, which it reads when it initialises, before
 * main; these two exported entry points redo that initialisation. They
 * are weak, so a BLAS without them still links (and is left alone). */
extern void gotoblas_dynamic_init(void) __attribute__((weak));
extern void gotoblas_dynamic_quit(void) __attribute__((weak));

static void choose_core(void)
{
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || !gotoblas_dynamic_init || !gotoblas_dynamic_quit || !core ||
        strcmp(core, "Prescott") != 0)
        return;
    __builtin_cpu_init();
    const char *want = __builtin_cpu_supports("avx512f") ? "SkylakeX"
                       : __builtin_cpu_supports("avx2")  ? "Haswell"
                                                         : NULL;
    if (!want)
        return;
    setenv("OPENBLAS_CORETYPE", want, 0);
    gotoblas_dynamic_quit();
    gotoblas_dynamic_init();
}

static pthread_once_t core_once = PTHREAD_ONCE_INIT;

void ops_blas_init(void)
{
    pthread_once(&core_once, choose_core);
}

/* ---- the pool -------------------------------------------------------------
 * work packs the task's generation (high 32 bits), the next unclaimed chunk
 * and the number of chunks (16 bits each), so a claim (a CAS) is valid
 * only for the task it read: a worker waking late cannot take a chunk of
 * the next task with the previous task's function. fn and ctx change only
 * after every chunk of a task is claimed and done. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    _Atomic uint64_t work;
    atomic_long done;
    atomic_int sleepers;
    _Atomic(ops_task) fn;
    _Atomic(void *) ctx;
    atomic_int threads; /* chosen by ops_set_threads */
    int workers;        /* started so far */
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .threads = 1};

static _Thread_local bool in_task;
static _Thread_local int self; /* this thread's t: 0 but in the workers */

long ops_par_min = 32768;
long ops_par_spins = 20000;

#define MAX_CHUNKS 65535L

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static inline uint32_t work_gen(uint64_t w)
{
    return (uint32_t)(w >> 32);
}
static inline long work_next(uint64_t w)
{
    return (long)((w >> 16) & 0xffff);
}
static inline long work_count(uint64_t w)
{
    return (long)(w & 0xffff);
}

/* Claims and runs chunks of task gen until none is left. */
static void run_chunks(uint32_t gen, int t)
{
    ops_task fn = atomic_load_explicit(&pool.fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&pool.ctx, memory_order_relaxed);
    uint64_t w = atomic_load_explicit(&pool.work, memory_order_acquire);
    for (;;) {
        if (work_gen(w) != gen || work_next(w) >= work_count(w))
            return;
        if (!atomic_compare_exchange_weak_explicit(&pool.work, &w, w + (1u << 16),
                                                   memory_order_acq_rel, memory_order_acquire))
            continue;
        fn(ctx, work_next(w), t);
        atomic_fetch_add_explicit(&pool.done, 1, memory_order_release);
        w = atomic_load_explicit(&pool.work, memory_order_acquire);
    }
}

static void *worker_main(void *arg)
{
    int t = (int)(long)arg;
    uint32_t seen = work_gen(atomic_load(&pool.work));
    self = t;
    in_task = true; /* a worker never posts tasks of its own */
    for (;;) {
        uint32_t g;
        int spins = 0;
        while ((g = work_gen(atomic_load_explicit(&pool.work, memory_order_acquire))) == seen &&
               spins < ops_par_spins) {
            cpu_relax();
            spins++;
        }
        if (g == seen) {
            pthread_mutex_lock(&pool.mu);
            atomic_fetch_add(&pool.sleepers, 1);
            while ((g = work_gen(atomic_load(&pool.work))) == seen)
                pthread_cond_wait(&pool.cv, &pool.mu);
            atomic_fetch_sub(&pool.sleepers, 1);
            pthread_mutex_unlock(&pool.mu);
        }
        seen = g;
        if (t < pool.threads)
            run_chunks(g, t);
    }
    return NULL;
}

void ops_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > OPS_MAX_THREADS)
        n = OPS_MAX_THREADS;
    ops_blas_init();
    /* the kernels split their work (sgemm calls included) over the pool,
       so OpenBLAS runs on the calling thread: two pools on two cores
       would fight over them */
    openblas_set_num_threads(1);
    pthread_mutex_lock(&pool.mu);
    while (pool.workers < n - 1) {
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        int rc = pthread_create(&th, &at, worker_main, (void *)(long)(pool.workers + 1));
        pthread_attr_destroy(&at);
        if (rc != 0)
            break; /* fewer threads: the same numbers, slower */
        pool.workers++;
    }
    pool.threads = pool.workers + 1 < n ? pool.workers + 1 : n;
    pthread_mutex_unlock(&pool.mu);
}

int ops_par_threads(void)
{
    return pool.threads > 1 ? pool.threads : 1;
}

void ops_par_run(ops_task fn, void *ctx, long nchunks, bool parallel)
{
    if (nchunks <= 0)
        return;
    if (!parallel || pool.threads < 2 || in_task || nchunks < 2 || nchunks > MAX_CHUNKS) {
        for (long c = 0; c < nchunks; c++)
            fn(ctx, c, self); /* inside a task: its thread's memory */
        return;
    }
    atomic_store_explicit(&pool.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&pool.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&pool.done, 0, memory_order_relaxed);
    uint32_t gen = work_gen(atomic_load(&pool.work)) + 1;
    atomic_store(&pool.work,
                 ((uint64_t)gen << 32) | (uint64_t)nchunks); /* seq_cst: pairs with sleepers */
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.mu);
        pthread_cond_broadcast(&pool.cv);
        pthread_mutex_unlock(&pool.mu);
    }
    in_task = true;
    run_chunks(gen, 0);
    in_task = false;
    /* every chunk is claimed; wait for the ones still running elsewhere */
    int spins = 0;
    while (atomic_load_explicit(&pool.done, memory_order_acquire) < nchunks) {
        if (++spins < 4000)
            cpu_relax();
        else
            sched_yield();
    }
}

struct range_task {
    ops_range fn;
    void *ctx;
    long n, parts;
};

static void range_chunk(void *ctx, long chunk, int t)
{
    (void)t;
    const struct range_task *r = ctx;
    long lo, hi;
    ops_share(r->n, chunk, r->parts, &lo, &hi);
    if (hi > lo)
        r->fn(r->ctx, lo, hi);
}

static void par_ranges(long n, long parts, bool parallel, ops_range fn, void *ctx)
{
    if (n <= 0)
        return;
    if (!parallel || pool.threads < 2 || in_task) {
        fn(ctx, 0, n);
        return;
    }
    if (parts > n)
        parts = n;
    struct range_task r = {fn, ctx, n, parts};
    ops_par_run(range_chunk, &r, parts, true);
}

void ops_par_for(long n, bool parallel, ops_range fn, void *ctx)
{
    /* a few chunks per thread: a late thread leaves little behind */
    par_ranges(n, 4L * pool.threads, parallel, fn, ctx);
}

void ops_par_split(long n, bool parallel, ops_range fn, void *ctx)
{
    par_ranges(n, pool.threads, parallel, fn, ctx);
}

static void zero_range(void *ctx, long lo, long hi)
{
    memset((float *)ctx + lo, 0, sizeof(float) * (size_t)(hi - lo));
}

void ops_zero(float *x, long n)
{
    ops_par_for(n, n > 4 * OPS_PAR_MIN, zero_range, x);
}
