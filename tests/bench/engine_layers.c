/* Bench: where a training step's time goes, layer by layer, robust to a
 * busy machine. A model of NET (on 1x28x28 images, as gevo trains it on
 * Fashion-MNIST) takes two real steps on random images, so every buffer
 * holds realistic numbers; then each layer's forward and backward is
 * timed on its own, the best of REPS runs (the least disturbed one), and
 * so is the whole step. Prints the operators' shares and the largest
 * layers, then one JSON line.
 * Usage: engine_layers NET [BATCH] [THREADS] [REPS] (defaults 128, 1, 20). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/base/file.h"
#include "engine/layers.h"
#include "engine/model.h"
#include "engine/net.h"
#include "engine/ops.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* CPU seconds of the process: on a busy machine a step of tens of
 * milliseconds is rarely left alone for all of it. */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct entry {
    int node;
    bool backward;
    double secs;
} entry;

static int by_time(const void *a, const void *b)
{
    double x = ((const entry *)a)->secs, y = ((const entry *)b)->secs;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* A layer's label: its operator, and dwconv for a depthwise conv. */
static const char *op_label(const net_node *nd)
{
    if (nd->op == NET_CONV && nd->groups > 1)
        return "dwconv";
    return net_op_name(nd->op);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: engine_layers NET [BATCH] [THREADS] [REPS]\n");
        return 2;
    }
    int batch = argc > 2 ? atoi(argv[2]) : 128, threads = argc > 3 ? atoi(argv[3]) : 1,
        reps = argc > 4 ? atoi(argv[4]) : 20;
    if (batch < 2 || threads < 1 || reps < 1) {
        fprintf(stderr, "usage: engine_layers NET [BATCH] [THREADS] [REPS]\n");
        return 2;
    }
    net_error ne = {0};
    size_t len;
    char *src = NULL;
    net_shape in = {1, 28, 28};
    net_graph *g = NULL;
    if (file_read(argv[1], 1 << 20, &src, &len, &ne.base) ||
        net_compile_with_input(src, len, argv[1], NULL, &in, &g, &ne)) {
        fprintf(stderr, "engine_layers: %s\n", ne.base.msg);
        free(src);
        return 1;
    }
    free(src);
    gerr err = GERR_INIT;
    model *m = model_new(g, batch, 1, &err);
    if (!m) {
        fprintf(stderr, "engine_layers: %s\n", err.msg);
        return 1;
    }
    ops_set_threads(threads);
    rng r;
    rng_seed(&r, 7);
    float *x = model_input(m);
    for (long i = 0; i < (long)batch * 28 * 28; i++)
        x[i] = rng_uniform_range(&r, -1.0f, 2.0f);
    for (int i = 0; i < batch; i++)
        m->labels[i] = (int)rng_below(&r, (uint64_t)g->classes);
    float loss;
    int correct;
    double step = 1e30, step_cpu = 1e30;
    for (int k = 0; k < 2 + reps / 4; k++) {
        double t0 = now(), c0 = cpu_now();
        model_forward(m, batch, true);
        if (model_loss(m, batch, m->labels, 0.0f, true, &loss, &correct, &err)) {
            fprintf(stderr, "engine_layers: %s\n", err.msg);
            return 1;
        }
        double t = now() - t0, c = cpu_now() - c0;
        if (k >= 2 && t < step)
            step = t;
        if (k >= 2 && c < step_cpu)
            step_cpu = c;
    }
    int n = g->n_nodes;
    entry *e = calloc((size_t)(2 * n), sizeof *e);
    if (!e)
        return 1;
    double total = 0;
    for (int i = 1; i < n; i++) {
        const layer_fns *f = &layer_table[g->nodes[i].op];
        for (int bwd = 0; bwd < 2; bwd++) {
            entry *en = &e[2 * i + bwd];
            en->node = i;
            en->backward = bwd;
            if (!(bwd ? (void *)f->backward : (void *)f->forward))
                continue;
            double best = 1e30;
            for (int k = 0; k < reps; k++) {
                double t0 = now();
                if (bwd)
                    f->backward(m, i, batch);
                else
                    f->forward(m, i, batch, true);
                double t = now() - t0;
                if (t < best)
                    best = t;
            }
            en->secs = best;
            total += best;
        }
    }
    /* shares by operator and direction */
    printf("engine_layers %s: batch %d, %d threads, best of %d; step %.2f ms (%.0f img/s), "
           "%.2f ms of CPU; layers %.2f ms\n",
           argv[1], batch, threads, reps, step * 1e3, batch / step, step_cpu * 1e3, total * 1e3);
    const char *labels[64];
    double sums[64][2] = {{0}};
    int nl = 0;
    for (int i = 1; i < n; i++) {
        const char *l = op_label(&g->nodes[i]);
        int k = 0;
        while (k < nl && strcmp(labels[k], l))
            k++;
        if (k == nl && nl < 64)
            labels[nl++] = l;
        if (k < 64) {
            sums[k][0] += e[2 * i].secs;
            sums[k][1] += e[2 * i + 1].secs;
        }
    }
    printf("  %-10s %8s %8s %6s\n", "operator", "fwd_ms", "bwd_ms", "share");
    for (int k = 0; k < nl; k++)
        printf("  %-10s %8.3f %8.3f %5.1f%%\n", labels[k], sums[k][0] * 1e3, sums[k][1] * 1e3,
               100 * (sums[k][0] + sums[k][1]) / total);
    qsort(e, (size_t)(2 * n), sizeof *e, by_time);
    printf("  largest layers:\n");
    for (int k = 0; k < 15 && e[k].secs > 0; k++) {
        const net_node *nd = &g->nodes[e[k].node];
        printf("  %5.1f%%  %-9s %-8s line %3d  in %dx%dx%d  out %dx%dx%d\n",
               100 * e[k].secs / total, op_label(nd), e[k].backward ? "backward" : "forward",
               nd->line, g->nodes[nd->in[0]].shape.c, g->nodes[nd->in[0]].shape.h,
               g->nodes[nd->in[0]].shape.w, nd->shape.c, nd->shape.h, nd->shape.w);
    }
    printf("{\"net\": \"%s\", \"batch\": %d, \"threads\": %d, \"step_ms\": %.3f, "
           "\"step_cpu_ms\": %.3f, \"layers_ms\": %.3f, \"images_per_sec\": %.1f}\n",
           argv[1], batch, threads, step * 1e3, step_cpu * 1e3, total * 1e3, batch / step);
    free(e);
    model_free(m);
    net_graph_free(g);
    return 0;
}
