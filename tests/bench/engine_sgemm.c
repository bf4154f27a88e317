/* Bench: the sgemm rate of the linked OpenBLAS on this machine, with the
 * kernels the engine chooses (ops_blas_init), the ceiling the engine's
 * GFLOP/s is compared with. Multiplies square matrices and prints one JSON
 * line: {"sgemm_gflops": X, "threads": T, "n": N, "core": "..."}.
 * Usage: engine_sgemm [THREADS] [N] (defaults 2 and 512). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "engine/ops.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int threads = argc > 1 ? atoi(argv[1]) : 2, n = argc > 2 ? atoi(argv[2]) : 512;
    if (threads < 1 || n < 16) {
        fprintf(stderr, "usage: engine_sgemm [THREADS] [N]\n");
        return 2;
    }
    ops_blas_init();
    openblas_set_num_threads(threads);
    float *a = malloc(sizeof(float) * (size_t)n * n), *b = malloc(sizeof(float) * (size_t)n * n),
          *c = malloc(sizeof(float) * (size_t)n * n);
    if (!a || !b || !c)
        return 1;
    for (long i = 0; i < (long)n * n; i++) {
        a[i] = (float)(i % 7) * 0.1f;
        b[i] = (float)(i % 5) * 0.1f;
    }
    /* warm up, then the best of several timed rounds: the machine is shared */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double best = 0;
    for (int round = 0; round < 5; round++) {
        int reps = 0;
        double t0 = now(), t;
        do {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f,
                        c, n);
            reps++;
        } while ((t = now() - t0) < 0.2);
        double gf = 2.0 * n * n * (double)n * reps / t / 1e9;
        if (gf > best)
            best = gf;
    }
    printf("{\"sgemm_gflops\": %.1f, \"threads\": %d, \"n\": %d, \"core\": \"%s\"}\n", best,
           threads, n, openblas_get_corename());
    free(a);
    free(b);
    free(c);
    return 0;
}
