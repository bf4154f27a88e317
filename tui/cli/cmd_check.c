/* `gevo check FILE`: validate a gevo-net program and print a table of its
 * layers like torchsummary, or the errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/net.h"
#include "tui/cli/cli.h"

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

static void human_flops(double f, char *buf, size_t n)
{
    if (f >= 1e9)
        snprintf(buf, n, "%.2fG", f / 1e9);
    else if (f >= 1e6)
        snprintf(buf, n, "%.2fM", f / 1e6);
    else if (f >= 1e3)
        snprintf(buf, n, "%.1fK", f / 1e3);
    else
        snprintf(buf, n, "%.0f", f);
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

static int print_json(const char *path, const net_graph *g, const net_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "file", json_string(path));
    if (err) {
        json_object_set_new(o, "ok", json_false());
        json_t *e = json_object();
        json_object_set_new(e, "line", json_integer(err->line));
        json_object_set_new(e, "col", json_integer(err->col));
        json_object_set_new(e, "message", json_string(err->base.msg));
        if (err->hint[0])
            json_object_set_new(e, "hint", json_string(err->hint));
        json_t *arr = json_array();
        json_array_append_new(arr, e);
        json_object_set_new(o, "errors", arr);
    } else {
        json_object_set_new(o, "ok", json_true());
        json_object_set_new(o, "input", shape_json(g->input));
        json_object_set_new(o, "classes", json_integer(g->classes));
        json_object_set_new(o, "params", json_integer(g->params));
        json_object_set_new(o, "flops", json_real(g->flops));
        json_object_set_new(o, "activation_bytes", json_real(g->act_bytes));
        char h[32];
        snprintf(h, sizeof h, "%016llx", (unsigned long long)g->hash);
        json_object_set_new(o, "hash", json_string(h));
        json_t *layers = json_array();
        for (int i = 0; i < g->n_nodes; i++) {
            const net_node *nd = &g->nodes[i];
            json_t *l = json_object();
            json_object_set_new(l, "line", json_integer(nd->line));
            json_object_set_new(l, "block", json_string(nd->scope));
            json_object_set_new(l, "op", json_string(display_op(nd)));
            json_object_set_new(l, "shape", shape_json(nd->shape));
            json_object_set_new(l, "params", json_integer(nd->params));
            json_object_set_new(l, "flops", json_real(nd->flops));
            json_array_append_new(layers, l);
        }
        json_object_set_new(o, "layers", layers);
    }
    char *txt = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII);
    int rc = txt ? 0 : -1;
    if (txt)
        printf("%s\n", txt);
    free(txt);
    json_decref(o);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    net_limits lim;
    net_limits_default(&lim);
    cli_shape input = {0};
    bool json = false, quiet = false;
    double params = (double)lim.max_params, flops = lim.max_flops,
           act_mb = lim.max_act_bytes / 1048576, depth = lim.max_depth,
           file_bytes = (double)lim.max_file_bytes;
    const cli_opt opts[] = {
        CLI_CALL("input", cli_opt_input, &input, "CxHxW",
                 "check for another input shape (e.g. 1x28x28)"),
        CLI_FLAG("json", 0, &json, "machine-readable output"),
        CLI_FLAG("quiet", 'q', &quiet, "print only the totals line"),
        CLI_DOUBLE("max-params", &params, 1, 1e10, "N", "parameter limit (default 20000000)"),
        CLI_DOUBLE("max-flops", &flops, 1, 1e15, "N", "forward FLOPs per image (default 2e10)"),
        CLI_DOUBLE("max-act-mb", &act_mb, 1, 1e6, "N",
                   "activation memory per image in MiB (default 256)"),
        CLI_DOUBLE("max-depth", &depth, 1, 60, "N", "block call depth (default 32)"),
        CLI_DOUBLE("max-file-bytes", &file_bytes, 1, 1 << 30, "N", "source size (default 262144)"),
        CLI_END,
    };
    cli_args args;
    if (cli_parse(&spec, opts, argc, argv, &args))
        return args.status;
    lim.max_params = (long)params;
    lim.max_flops = flops;
    lim.max_act_bytes = act_mb * 1048576;
    lim.max_depth = (int)depth;
    lim.max_file_bytes = (long)file_bytes;
    const char *path = args.v[0];
    net_error err = {0};
    size_t len;
    char *src = NULL;
    net_graph *g = NULL;
    int rc = -1;
    if (file_read(path, (size_t)lim.max_file_bytes, &src, &len, &err.base) == 0)
        rc = net_compile_with_input(src, len, path, &lim, input.given ? &input.shape : NULL, &g,
                                    &err);
    free(src);
    if (json) {
        print_json(path, g, rc ? &err : NULL);
    } else if (rc) {
        cli_net_error(&err, stderr);
    } else if (quiet) {
        char a[48];
        group_digits(g->params, a, sizeof a);
        cli_line(stdout, "%s: ok, %s parameters, %.4g FLOPs per image", path, a, g->flops);
    } else {
        print_table(path, g);
    }
    net_graph_free(g);
    return rc ? CLI_FAIL : CLI_OK;
}
