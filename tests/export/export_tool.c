/* A test-only front end to the PyTorch exporter and to gevo's forward
 * pass, for tests/sh/test_export.sh (linked to libgevo.a, not installed):
 *
 *   export_tool export NET WEIGHTS DATA DIR   export NET as gevo export does
 *   export_tool logits NET WEIGHTS DATA N OUT the logits of the first N test
 *                                             images (eval mode), float32
 *
 * NET is compiled as its input line declares, which must be DATA's shape
 * (as gevo train and gevo eval want it). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/export_torch.h"
#include "engine/base/file.h"
#include "engine/data.h"
#include "engine/model.h"

static int die(const char *what, const char *msg)
{
    fprintf(stderr, "export_tool: %s: %s\n", what, msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 6 || (strcmp(argv[1], "export") && strcmp(argv[1], "logits")) ||
        (!strcmp(argv[1], "logits") && argc != 7) || (!strcmp(argv[1], "export") && argc != 6)) {
        fprintf(stderr, "usage: export_tool export NET WEIGHTS DATA DIR\n"
                        "       export_tool logits NET WEIGHTS DATA N OUT\n");
        return 2;
    }
    const char *net = argv[2], *weights = argv[3], *data = argv[4];
    char msg[1024];
    data_source ds;
    data_opts dopts = DATA_OPTS_INIT;
    gerr err = GERR_INIT;
    if (data_load(&ds, data, &dopts, &err))
        return die(data, err.msg);
    const data_set test = ds.test;
    char *src = NULL;
    size_t len = 0;
    if (file_read(net, 1 << 20, &src, &len, &err))
        return die(net, err.msg);
    int rc = 0;
    if (!strcmp(argv[1], "export")) {
        export_torch_meta meta = {.id = "test", .session = NULL, .result = NULL};
        if (export_torch_write(argv[5], src, len, weights, &meta, &err))
            rc = die(net, err.msg);
    } else {
        int n = atoi(argv[5]);
        if (n < 1 || n > test.n)
            n = test.n;
        net_graph *g = NULL;
        net_error ne;
        model *m = NULL;
        if (net_compile(src, len, net, NULL, &g, &ne)) {
            net_error_string(&ne, msg, sizeof msg);
            rc = die(net, msg);
        } else if (!(m = model_new(g, n, 1, &err)) || model_load(m, weights, &err)) {
            rc = die(weights, err.msg);
        } else {
            data_view v;
            int *order = malloc(sizeof(int) * (size_t)n), *labels = malloc(sizeof(int) * (size_t)n);
            if (!order || !labels || data_view_all(&test, &v)) {
                rc = die("logits", "out of memory");
            } else {
                for (int i = 0; i < n; i++)
                    order[i] = i;
                data_batch(&v, order, n, m->norm_mean, m->norm_std, NULL, NULL, model_input(m),
                           labels);
                const float *logits = model_forward(m, n, false);
                if (file_write(argv[6], logits, sizeof(float) * (size_t)n * (size_t)g->classes,
                               &err))
                    rc = die(argv[6], err.msg);
                data_view_release(&v);
            }
            free(order);
            free(labels);
        }
        model_free(m);
        net_graph_free(g);
    }
    free(src);
    data_release(&ds);
    return rc;
}
