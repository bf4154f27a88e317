/* The operators' thread pool (engine/ops_par.c): every chunk runs once,
 * a sleeping worker wakes for a task, the caller returns only after the
 * last chunk (also when it sleeps waiting for it), nested tasks and one
 * thread run inline; with spins (the default), without (ops_par_spins =
 * 0: every wait sleeps on its futex) and with busy threads competing for
 * the CPUs (the waits' preempted path). */
#include "engine/ops.h"
#include "engine/ops_internal.h"
#include "tests/harness.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXC 64

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static long now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000000L + ts.tv_nsec / 1000;
}

typedef struct {
    atomic_int runs[MAXC];
    atomic_int bad_thread;
} counts;

static void count_chunk(void *ctx, long chunk, int t)
{
    counts *c = ctx;
    atomic_fetch_add(&c->runs[chunk], 1);
    if (t < 0 || t >= 2)
        atomic_store(&c->bad_thread, 1);
}

/* Tasks of 2 to 41 chunks, with pauses between some (the workers fall
 * asleep): every chunk runs once, on thread 0 or 1. */
static void tasks_run_every_chunk_once(long spin)
{
    long saved = ops_par_spins;
    ops_par_spins = spin;
    ops_set_threads(2);
    counts c;
    int wrong = 0;
    for (int r = 0; r < 600; r++) {
        long n = 2 + r % 40;
        memset(&c, 0, sizeof c);
        ops_par_run(count_chunk, &c, n, true);
        for (long k = 0; k < n; k++)
            wrong += atomic_load(&c.runs[k]) != 1;
        for (long k = n; k < MAXC; k++)
            wrong += atomic_load(&c.runs[k]) != 0;
        wrong += atomic_load(&c.bad_thread);
        if (r % 50 == 49)
            sleep_us(3000);
    }
    CHECK(wrong == 0, "spin %ld: %d chunks ran other than once, or on no pool thread", spin, wrong);
    ops_set_threads(1);
    ops_par_spins = saved;
}

static void test_chunks_once(void)
{
    tasks_run_every_chunk_once(ops_par_spins);
    tasks_run_every_chunk_once(0);
}

static atomic_int hog_stop;

static void *hog(void *arg)
{
    (void)arg;
    volatile double x = 1.0;
    while (!atomic_load(&hog_stop))
        x = x * 1.0000001 + 1e-9;
    return NULL;
}

/* Two more busy threads than CPUs: the pool's threads get preempted, and
 * every chunk still runs once. */
static void test_chunks_once_contended(void)
{
    pthread_t th[2];
    atomic_store(&hog_stop, 0);
    int started = 0;
    for (int i = 0; i < 2; i++)
        started += pthread_create(&th[i], NULL, hog, NULL) == 0;
    tasks_run_every_chunk_once(ops_par_spins);
    atomic_store(&hog_stop, 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

/* Two chunks that each wait for the other to start: they meet only if
 * the worker runs one while the caller runs the other. */
typedef struct {
    atomic_int arrived;
    atomic_int met;
    atomic_int threads_seen;
    long worker_us; /* how long the worker's chunk takes after the meeting */
    atomic_int worker_done;
} meeting;

/* Thread t arrives at a meeting of two and waits (2 s at most) for the
 * other chunk to arrive too; true if it did. */
static bool meet(atomic_int *seen, atomic_int *arrived, int t)
{
    atomic_fetch_or(seen, 1 << t);
    atomic_fetch_add(arrived, 1);
    long until = now_us() + 2000000;
    while (atomic_load(arrived) < 2 && now_us() < until)
        ;
    return atomic_load(arrived) >= 2;
}

static void meet_chunk(void *ctx, long chunk, int t)
{
    (void)chunk;
    meeting *m = ctx;
    if (meet(&m->threads_seen, &m->arrived, t))
        atomic_fetch_add(&m->met, 1);
    if (t == 1 && m->worker_us) {
        sleep_us(m->worker_us);
        atomic_store(&m->worker_done, 1);
    }
}

static void meetings(long spin, long gap_us, long worker_us)
{
    long saved = ops_par_spins;
    ops_par_spins = spin;
    ops_set_threads(2);
    int missed = 0, early = 0;
    for (int r = 0; r < 10; r++) {
        sleep_us(gap_us); /* 5 ms: longer than the spin, the worker sleeps */
        meeting m;
        memset(&m, 0, sizeof m);
        m.worker_us = worker_us;
        ops_par_run(meet_chunk, &m, 2, true);
        missed += atomic_load(&m.met) != 2 || atomic_load(&m.threads_seen) != 3;
        early += worker_us && !atomic_load(&m.worker_done);
        if (missed || early)
            break;
    }
    CHECK(missed == 0, "spin %ld, gap %ld us: %d tasks ran without the worker", spin, gap_us,
          missed);
    CHECK(early == 0, "spin %ld, worker %ld us: %d tasks returned before their last chunk", spin,
          worker_us, early);
    ops_set_threads(1);
    ops_par_spins = saved;
}

/* A sleeping worker wakes for a task, a spinning one takes it; the caller
 * waits for a worker's long chunk. */
static void test_worker_wakes(void)
{
    meetings(ops_par_spins, 0, 0);
    meetings(ops_par_spins, 5000, 0);
    meetings(0, 2000, 0);
    meetings(0, 0, 0);
    meetings(ops_par_spins, 0, 100);
    meetings(ops_par_spins, 0, 3000); /* past the caller's spin: it yields */
    meetings(0, 0, 2000);
}

typedef struct {
    atomic_int wrong;
    atomic_int inner_runs;
    atomic_int arrived;
    atomic_int threads_seen;
} nest;

typedef struct {
    nest *n;
    int t;
} inner_ctx;

static void inner_check(void *ctx, long chunk, int t)
{
    (void)chunk;
    inner_ctx *ic = ctx;
    atomic_fetch_add(&ic->n->inner_runs, 1);
    if (t != ic->t)
        atomic_store(&ic->n->wrong, 1);
}

/* the two outer chunks meet first (as meet_chunk): one is the worker's */
static void outer_chunk(void *ctx, long chunk, int t)
{
    (void)chunk;
    nest *n = ctx;
    (void)meet(&n->threads_seen, &n->arrived, t);
    inner_ctx ic = {n, t};
    ops_par_run(inner_check, &ic, 5, true);
}

/* A task posted from inside a task runs inline, with its thread's t. */
static void test_nested_inline(void)
{
    ops_set_threads(2);
    nest n;
    memset(&n, 0, sizeof n);
    ops_par_run(outer_chunk, &n, 2, true);
    CHECK_EQ_INT(atomic_load(&n.threads_seen), 3);
    CHECK(!atomic_load(&n.wrong), "a nested task ran with another thread's t");
    CHECK_EQ_INT(atomic_load(&n.inner_runs), 10);
    ops_set_threads(1);
}

typedef struct {
    long next;
    int wrong;
} in_order;

static void order_chunk(void *ctx, long chunk, int t)
{
    in_order *o = ctx;
    if (chunk != o->next++ || t != 0)
        o->wrong = 1;
}

/* One thread (or a task not worth splitting): the chunks in order, here. */
static void test_one_thread_inline(void)
{
    ops_set_threads(1);
    in_order o = {0, 0};
    ops_par_run(order_chunk, &o, 17, true);
    CHECK(!o.wrong && o.next == 17, "one thread: chunks out of order or elsewhere");
    ops_set_threads(2);
    o = (in_order){0, 0};
    ops_par_run(order_chunk, &o, 17, false);
    CHECK(!o.wrong && o.next == 17, "not parallel: chunks out of order or elsewhere");
    ops_set_threads(1);
}

int main(void)
{
    alarm(60); /* a lost wake-up hangs: end the test instead */
    RUN(test_chunks_once);
    RUN(test_chunks_once_contended);
    RUN(test_worker_wakes);
    RUN(test_nested_inline);
    RUN(test_one_thread_inline);
    return harness_done();
}
