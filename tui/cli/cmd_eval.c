/* `gevo eval NET WEIGHTS`: saved weights of a program on the test set,
 * printed as JSON built here from what the engine measured. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/file.h"
#include "engine/data.h"
#include "engine/model.h"
#include "engine/net.h"
#include "engine/ops.h"
#include "engine/train.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const char help[] =
    "Evaluates saved weights (from gevo train --weights) of the program NET\n"
    "on the test set and prints accuracy and loss as JSON.\n"
    "\n"
    "options:\n"
    "  --data DIR          data directory (default " DATA_DEFAULT_DIR ")\n"
    "  --resize HxW        resample every image to H x W (as for train)\n"
    "  --input CxHxW       evaluate the program at this input shape (as for train)\n"
    "  --threads N         OpenBLAS threads (default 2)\n"
    "  --batch N           images per pass (default 256)\n"
    "  -h, --help          this text\n";

int cmd_eval(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, 0, 'd'},
        {"resize", required_argument, 0, 'R'},
        {"input", required_argument, 0, 'i'},
        {"threads", required_argument, 0, 't'},
        {"batch", required_argument, 0, 'b'},
        CLI_HELP_OPTION,
        {0, 0, 0, 0},
    };
    cli_data_args da = {.dir = DATA_DEFAULT_DIR};
    long threads = 2, batch = 256;
    int opt;
    cli_getopt_start();
    while ((opt = cli_getopt(argc, argv, "", longopts)) != -1) {
        switch (opt) {
        case 'd': da.dir = optarg; break;
        case 'R':
        case 'i':
            if (cli_data_option("eval", opt, optarg, &da))
                return CLI_USAGE;
            break;
        case 't':
            if (cli_long("eval", "--threads", optarg, 1, 256, &threads))
                return CLI_USAGE;
            break;
        case 'b':
            if (cli_long("eval", "--batch", optarg, 1, 65536, &batch))
                return CLI_USAGE;
            break;
        case 'h': return cli_help("eval", help);
        default: return cli_bad_option("eval", argc, argv, opt);
        }
    }
    char **arg = cli_operands("eval", argc, argv, 2, "NET and WEIGHTS are needed");
    if (!arg)
        return CLI_USAGE;
    const char *net_path = arg[0], *wpath = arg[1];
    char msg[1024];
    data_source data;
    memset(&data, 0, sizeof data);
    cli_progress ctx = {.bar = isatty(2)};
    net_graph *g = NULL;
    model *m = NULL;
    data_view tv = {0};
    int status = CLI_FAIL;
    net_error err = {0};
    size_t len;
    char *src = NULL;
    gerr ge = GERR_INIT;
    if (file_read(net_path, 1 << 20, &src, &len, &err.base)) {
        net_error_string(&err, msg, sizeof msg);
        goto out;
    }
    int rc = cli_data_load(&data, &da, &ctx, &ge) ||
             cli_compile_for_data(src, len, net_path, NULL, &da, &data, &g, &ge);
    free(src);
    if (rc) {
        snprintf(msg, sizeof msg, "%s", ge.msg);
        goto out;
    }
    m = model_new(g, (int)batch, 1, &ge);
    if (!m || model_load(m, wpath, &ge)) {
        snprintf(msg, sizeof msg, "%s", ge.msg);
        goto out;
    }
    ops_set_threads((int)threads);
    double acc, loss;
    if (data_view_all(&data.test, &tv) ||
        train_evaluate(m, &tv, m->norm_mean, m->norm_std, (int)batch, &acc, &loss, &ge)) {
        snprintf(msg, sizeof msg, "%s", ge.msg[0] ? ge.msg : "out of memory");
        goto out;
    }
    json_t *o = json_object();
    json_object_set_new(o, "net", json_string(net_path));
    json_object_set_new(o, "weights", json_string(wpath));
    json_object_set_new(o, "test_acc", cli_json_num(acc));
    json_object_set_new(o, "test_loss", cli_json_num(loss));
    json_object_set_new(o, "images", json_integer(data.test.n));
    char *s = json_dumps(o, CLI_JSON_FLAGS);
    if (s)
        printf("%s\n", s);
    free(s);
    json_decref(o);
    status = CLI_OK;
out:
    if (status)
        cli_error("eval", "%s", msg);
    data_view_release(&tv);
    model_free(m);
    net_graph_free(g);
    data_release(&data);
    return status;
}
