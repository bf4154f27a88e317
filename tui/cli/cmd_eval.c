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

static const cli_spec spec = {
    "eval",
    "Evaluates saved weights (from gevo train --weights) of the program NET\n"
    "on the test set and prints accuracy and loss as JSON.\n",
    NULL,
    2,
    "NET and WEIGHTS are needed",
};

int cmd_eval(int argc, char **argv)
{
    cli_data_args da = {.dir = DATA_DEFAULT_DIR};
    long threads = 2, batch = 256;
    const cli_opt opts[] = {
        CLI_STR("data", &da.dir, "DIR", "data directory (default " DATA_DEFAULT_DIR ")"),
        CLI_CALL("resize", cli_opt_resize, &da, "HxW",
                 "resample every image to H x W (as for train)"),
        CLI_CALL("input", cli_opt_input, &da.input, "CxHxW",
                 "evaluate the program at this input shape (as for train)"),
        CLI_LONG("threads", &threads, 1, 256, "N", "OpenBLAS threads (default 2)"),
        CLI_LONG("batch", &batch, 1, 65536, "N", "images per pass (default 256)"),
        CLI_END,
    };
    cli_args args;
    if (cli_parse(&spec, opts, argc, argv, &args))
        return args.status;
    const char *net_path = args.v[0], *wpath = args.v[1];
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
