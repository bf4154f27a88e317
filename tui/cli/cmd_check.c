/* `gevo check FILE`: validate a gevo-net program and print a table of its
 * layers like torchsummary, or the errors. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/net.h"
#include "tui/cli/cli.h"

static const char help[] =
    "Validates a gevo-net program (see gevo-net(5)): parses it, infers every\n"
    "shape, counts parameters and FLOPs, and checks the limits. Prints one row\n"
    "per layer and the totals; on an error prints file:line:col, the line,\n"
    "a caret and a hint, and exits with status 1.\n"
    "\n"
    "options:\n"
    "  --input CxHxW        check for another input shape (e.g. 1x28x28)\n"
    "  --json               machine-readable output\n"
    "  --quiet              print only the totals line\n"
    "  --max-params N       parameter limit (default 20000000)\n"
    "  --max-flops N        forward FLOPs per image (default 2e10)\n"
    "  --max-act-mb N       activation memory per image in MiB (default 256)\n"
    "  --max-depth N        block call depth (default 32)\n"
    "  --max-file-bytes N   source size (default 262144)\n"
    "  -h, --help           this text\n";

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
    static const struct option longopts[] = {
        {"input", required_argument, 0, 'i'},
        {"json", no_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},
        {"max-params", required_argument, 0, 'P'},
        {"max-flops", required_argument, 0, 'F'},
        {"max-act-mb", required_argument, 0, 'A'},
        {"max-depth", required_argument, 0, 'D'},
        {"max-file-bytes", required_argument, 0, 'B'},
        CLI_HELP_OPTION,
        {0, 0, 0, 0},
    };
    net_limits lim;
    net_limits_default(&lim);
    net_shape input;
    bool have_input = false, json = false, quiet = false;
    double v;
    int opt;
    cli_getopt_start();
    while ((opt = cli_getopt(argc, argv, "q", longopts)) != -1) {
        switch (opt) {
        case 'i':
            if (cli_parse_shape(optarg, &input)) {
                return cli_usage_error("check", "--input needs CxHxW, e.g. 1x28x28, not '%s'",
                                       optarg);
            }
            have_input = true;
            break;
        case 'j': json = true; break;
        case 'q': quiet = true; break;
        case 'P':
            if (cli_double("check", "--max-params", optarg, 1, 1e10, &v))
                return CLI_USAGE;
            lim.max_params = (long)v;
            break;
        case 'F':
            if (cli_double("check", "--max-flops", optarg, 1, 1e15, &v))
                return CLI_USAGE;
            lim.max_flops = v;
            break;
        case 'A':
            if (cli_double("check", "--max-act-mb", optarg, 1, 1e6, &v))
                return CLI_USAGE;
            lim.max_act_bytes = v * 1048576;
            break;
        case 'D':
            if (cli_double("check", "--max-depth", optarg, 1, 60, &v))
                return CLI_USAGE;
            lim.max_depth = (int)v;
            break;
        case 'B':
            if (cli_double("check", "--max-file-bytes", optarg, 1, 1 << 30, &v))
                return CLI_USAGE;
            lim.max_file_bytes = (long)v;
            break;
        case 'h': return cli_help("check", help);
        default: return cli_bad_option("check", argc, argv, opt);
        }
    }
    char **arg = cli_operands("check", argc, argv, 1, "the FILE to check is missing");
    if (!arg)
        return CLI_USAGE;
    const char *path = arg[0];
    net_error err = {0};
    size_t len;
    char *src = NULL;
    net_graph *g = NULL;
    int rc = -1;
    if (file_read(path, (size_t)lim.max_file_bytes, &src, &len, &err.base) == 0)
        rc = net_compile_with_input(src, len, path, &lim, have_input ? &input : NULL, &g, &err);
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
