/* Bench: a session of 10,000 individuals (each with a result note, every
 * fourth with a review, a journal commit every 100) is opened and its whole
 * population listed; prints one line with the time that takes.
 * Usage: session_bench [N] (default 10000). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sessions/session.h"

/* The message of the last failing session call. */
static gerr serr = GERR_INIT;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    int total = argc > 1 ? atoi(argv[1]) : 10000;
    if (total < 1) {
        fprintf(stderr, "usage: session_bench [N]\n");
        return 2;
    }
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s/gevo-bench-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(tmp))
        return 1;
    char seed[300], dir[300];
    snprintf(seed, sizeof seed, "%s/seed.net", tmp);
    snprintf(dir, sizeof dir, "%s/session", tmp);
    FILE *f = fopen(seed, "w");
    if (!f)
        return 1;
    fputs("input x: 1x28x28\nclasses 10\nx = relu(conv(x, 8, k=3))\n"
          "return linear(gap(x), classes)\n",
          f);
    fclose(f);
    session *s = NULL;
    session_create_opts o = {.seed_path = seed, .data_dir = ""};
    double t0 = now();
    if (session_create(&s, dir, &o, &serr) != 0) {
        fprintf(stderr, "session_bench: %s\n", serr.msg);
        return 1;
    }
    const int per_gen = 100;
    char prev[SESSION_ID_MAX] = "g0-1";
    const char *pop[100];
    char ids[100][SESSION_ID_MAX];
    for (int i = 1; i < total; i++) { /* the seed is the first */
        int gen = 1 + (i - 1) / per_gen;
        char genome[256], id[SESSION_ID_MAX], res[160];
        snprintf(genome, sizeof genome,
                 "input x: 1x28x28\nclasses 10\nx = relu(conv(x, %d, k=3))\n"
                 "return linear(gap(x), classes)\n",
                 8 + i % 64);
        session_new in = {.generation = gen,
                          .op = "mutation",
                          .persona = "expert",
                          .parents = {prev},
                          .n_parents = 1,
                          .model = "bench",
                          .tokens_in = 1000,
                          .tokens_out = 200,
                          .latency_s = 1.5,
                          .summary = "bench",
                          .genome = genome,
                          .reasoning = "r",
                          .prompt = "p",
                          .response = "q"};
        if (session_add(s, &in, id, &serr) != 0)
            goto fail;
        snprintf(res, sizeof res,
                 "{\"status\": \"ok\", \"val_acc\": %.4f, \"params\": %d, "
                 "\"flops\": 1e6, \"seconds\": 3}",
                 (i % 1000) / 1000.0, 1000 + i);
        if (session_set_result(s, id, res, &serr) != 0)
            goto fail;
        if (i % 4 == 0) {
            session_review r = {.decision = "approved", .reason = "ok", .author = "bench"};
            if (session_set_review(s, id, &r, &serr) != 0)
                goto fail;
        }
        int k = (i - 1) % per_gen;
        snprintf(ids[k], SESSION_ID_MAX, "%s", id);
        pop[k] = ids[k];
        if (k == per_gen - 1 || i == total - 1) {
            if (session_journal_add(s, gen, pop, (size_t)k + 1, pop, 1, &serr) != 0)
                goto fail;
            snprintf(prev, sizeof prev, "%s", id);
        }
    }
    session_close(s);
    s = NULL;
    double built = now() - t0;

    double best = 1e9;
    size_t n = 0;
    for (int rep = 0; rep < 3; rep++) {
        double t1 = now();
        session_info *v = NULL;
        if (session_open(&s, dir, SESSION_READ, &serr) != 0 ||
            session_list(s, -1, &v, &n, &serr) != 0)
            goto fail;
        session_close(s);
        s = NULL;
        double dt = now() - t1;
        free(v);
        if (dt < best)
            best = dt;
    }
    if ((int)n != total) {
        fprintf(stderr, "session_bench: listed %zu individuals, expected %d\n", n, total);
        return 1;
    }
    printf("session: open + list %zu individuals: %.3f s (best of 3; building took %.1f s)\n", n,
           best, built);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    return system(cmd) == 0 ? 0 : 1;
fail:
    fprintf(stderr, "session_bench: %s\n", serr.msg);
    session_close(s);
    return 1;
}
