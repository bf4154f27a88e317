/* `gevo check FILE`: validate a gevo-net program and print a table of its
 * layers like torchsummary, or the errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/net.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const cli_spec spec = {
    "check",
    "Validates a gevo-net program (see gevo-net(5)): parses it, infers every\n"
    "shape, counts parameters and FLOPs, and checks the limits. Prints one row\n"
    "per layer and the totals; on an error prints file:line:col, the line,\n"
    "a caret and a hint, and exits with status 1.\n",
    NULL,
    1,
    "the FILE to check is missing",
};

static void group_digits(long v, char *buf, size_t n)
{
    char raw[32];
    snprintf(raw, sizeof raw, "%ld", v < 0 ? -v : v);
    size_t l = strlen(raw), o = 0;
    if (v < 0 && o + 1 < n)
        buf[o++] = '-';
    for (size_t i = 0; i < l && o + 2 < n; i++) {
        if (i && (l - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = 0;
}

/* FLOPs for people: 1.23G, 45.60M, 7.8K, 512. */
static void human_flops(double f, char *buf, size_t n)
{
    static const struct {
        double unit;
        int decimals;
        const char *suffix;
    } scale[] = {{1e9, 2, "G"}, {1e6, 2, "M"}, {1e3, 1, "K"}, {1, 0, ""}};
    size_t i = 0;
    while (f < scale[i].unit && scale[i].unit > 1)
        i++;
    snprintf(buf, n, "%.*f%s", scale[i].decimals, f / scale[i].unit, scale[i].suffix);
}

static void shape_text(net_shape s, char *buf, size_t n)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, n, "%d", s.c);
    else
        snprintf(buf, n, "%dx%dx%d", s.c, s.h, s.w);
}

/* Depthwise convolutions are conv nodes; the table names them as the
 * program does. */
static const char *display_op(const net_node *nd)
{
    if (nd->op == NET_CONV && nd->depthwise)
        return "dwconv";
    return net_op_name(nd->op);
}

static void print_table(const char *path, const net_graph *g)
{
    char a[48], b[48], c[48];
    cli_line(stdout, "%s", path);
    putchar('\n');
    printf("%5s %5s  %-22s %-10s %12s %12s %10s\n", "#", "line", "block", "operator", "output",
           "params", "FLOPs");
    for (int i = 0; i < g->n_nodes; i++) {
        const net_node *nd = &g->nodes[i];
        shape_text(nd->shape, a, sizeof a);
        group_digits(nd->params, b, sizeof b);
        human_flops(nd->flops, c, sizeof c);
        printf("%5d %5d  %-22.22s %-10s %12s %12s %10s\n", i, nd->line,
               nd->scope[0] ? nd->scope : "-", display_op(nd), a, b, c);
    }
    group_digits(g->params, a, sizeof a);
    human_flops(g->flops, b, sizeof b);
    printf("\ninput %dx%dx%d, %d classes, %d layers\n", g->input.c, g->input.h, g->input.w,
           g->classes, g->n_nodes - 1);
    printf("parameters: %s\n", a);
    printf("FLOPs per image (forward): %s\n", b);
    printf("activations per image: %.2f MiB\n", g->act_bytes / 1048576.0);
    printf("canonical hash: %016llx\n", (unsigned long long)g->hash);
}

static json_t *shape_json(net_shape s)
{
    json_t *a = json_array();
    json_array_append_new(a, json_integer(s.c));
    json_array_append_new(a, json_integer(s.h));
    json_array_append_new(a, json_integer(s.w));
    return a;
}

static json_t *layer_json(const net_node *nd)
{
    return json_pack("{s:i, s:s, s:s, s:o, s:I, s:f}", "line", nd->line, "block", nd->scope, "op",
                     display_op(nd), "shape", shape_json(nd->shape), "params",
                     (json_int_t)nd->params, "flops", nd->flops);
}

/* file:line:col, the message and the hint of a program that failed */
static json_t *error_json(const net_error *err)
{
    json_t *e = json_pack("{s:i, s:i, s:o*}", "line", err->line, "col", err->col, "message",
                          json_string(err->base.msg));
    if (e && err->hint[0])
        json_object_set_new(e, "hint", json_string(err->hint));
    return e;
}

/* The program's totals and layers, or (err) why it failed. A string that
   is not UTF-8 (a file name) leaves its key out (o*). */
static int print_json(const char *path, const net_graph *g, const net_error *err)
{
    json_t *o;
    if (err) {
        o = json_pack("{s:o*, s:b, s:[o]}", "file", json_string(path), "ok", 0, "errors",
                      error_json(err));
    } else {
        json_t *layers = json_array();
        for (int i = 0; i < g->n_nodes; i++)
            json_array_append_new(layers, layer_json(&g->nodes[i]));
        o = json_pack("{s:o*, s:b, s:o, s:i, s:I, s:f, s:f, s:o, s:o}", "file", json_string(path),
                      "ok", 1, "input", shape_json(g->input), "classes", g->classes, "params",
                      (json_int_t)g->params, "flops", g->flops, "activation_bytes", g->act_bytes,
                      "hash", cli_json_hash(g->hash), "layers", layers);
    }
    int rc = cli_json_print(o);
    json_decref(o);
    return rc;
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    net_limits lim;
    cli_shape input;
    bool json, quiet;
    double params, flops, act_mb, depth, file_bytes; /* the limits, as given */
} options;

static const cli_opt opts[] = {
    CLI_CALL("input", cli_opt_input, options, input, "CxHxW",
             "check for another input shape (e.g. 1x28x28)"),
    CLI_FLAG("json", 0, options, json, "machine-readable output"),
    CLI_FLAG("quiet", 'q', options, quiet, "print only the totals line"),
    CLI_DOUBLE("max-params", options, params, 1, 1e10, "N", "parameter limit (default 20000000)"),
    CLI_DOUBLE("max-flops", options, flops, 1, 1e15, "N", "forward FLOPs per image (default 2e10)"),
    CLI_DOUBLE("max-act-mb", options, act_mb, 1, 1e6, "N",
               "activation memory per image in MiB (default 256)"),
    CLI_DOUBLE("max-depth", options, depth, 1, 60, "N", "block call depth (default 32)"),
    CLI_DOUBLE("max-file-bytes", options, file_bytes, 1, 1 << 30, "N",
               "source size (default 262144)"),
    CLI_END,
};

static void init(void *vo)
{
    options *a = vo;
    net_limits_default(&a->lim);
    a->params = (double)a->lim.max_params;
    a->flops = a->lim.max_flops;
    a->act_mb = a->lim.max_act_bytes / 1048576;
    a->depth = a->lim.max_depth;
    a->file_bytes = (double)a->lim.max_file_bytes;
}

static int run(void *vo, const cli_args *args)
{
    options *a = vo;
    net_limits lim = a->lim;
    lim.max_params = (long)a->params;
    lim.max_flops = a->flops;
    lim.max_act_bytes = a->act_mb * 1048576;
    lim.max_depth = (int)a->depth;
    lim.max_file_bytes = (long)a->file_bytes;
    const char *path = args->v[0];
    net_error err = {0};
    size_t len;
    char *src = NULL;
    net_graph *g = NULL;
    int rc = -1;
    if (file_read(path, (size_t)lim.max_file_bytes, &src, &len, &err.base) == 0)
        rc = net_compile_with_input(src, len, path, &lim, a->input.given ? &a->input.shape : NULL,
                                    &g, &err);
    free(src);
    if (a->json) {
        print_json(path, g, rc ? &err : NULL);
    } else if (rc) {
        cli_net_error(&err, stderr);
    } else if (a->quiet) {
        char params[48];
        group_digits(g->params, params, sizeof params);
        cli_line(stdout, "%s: ok, %s parameters, %.4g FLOPs per image", path, params, g->flops);
    } else {
        print_table(path, g);
    }
    net_graph_free(g);
    return rc ? CLI_FAIL : CLI_OK;
}

const cli_def cmd_check = {&spec, opts, sizeof(options), init, run};
