/* `gevo eval NET WEIGHTS`: saved weights of a program on the test set,
 * printed as JSON built here from what the engine measured. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/clock.h"
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
    "on the test set and prints accuracy, loss and the evaluation's speed as\n"
    "JSON.\n",
    NULL,
    2,
    "NET and WEIGHTS are needed",
};

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    cli_data_args da;
    long threads, batch;
} options;

static const cli_opt opts[] = {
    CLI_STR("data", options, da.dir, "DIR", "data directory (default " DATA_DEFAULT_DIR ")"),
    CLI_CALL("resize", cli_opt_resize, options, da, "HxW",
             "resample every image to H x W (as for train)"),
    CLI_CALL("input", cli_opt_input, options, da.input, "CxHxW",
             "evaluate the program at this input shape (as for train)"),
    CLI_LONG("threads", options, threads, 1, 256, "N", "OpenBLAS threads (default 2)"),
    CLI_LONG("batch", options, batch, 1, 65536, "N", "images per pass (default 256)"),
    CLI_END,
};

static void init(void *vo)
{
    *(options *)vo = (options){.da = {.dir = DATA_DEFAULT_DIR}, .threads = 2, .batch = 256};
}

static int run(void *vo, const cli_args *args)
{
    const options *a = vo;
    const cli_data_args *da = &a->da;
    int batch = (int)a->batch;
    const char *net_path = args->v[0], *wpath = args->v[1];
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
    int rc = cli_data_load(&data, da, &ctx, &ge) ||
             cli_compile_for_data(src, len, net_path, NULL, da, &data, &g, &ge);
    free(src);
    if (rc) {
        snprintf(msg, sizeof msg, "%s", ge.msg);
        goto out;
    }
    m = model_new(g, batch, 1, &ge);
    if (!m || model_load(m, wpath, &ge)) {
        snprintf(msg, sizeof msg, "%s", ge.msg);
        goto out;
    }
    ops_set_threads((int)a->threads);
    double acc, loss, t0 = clock_seconds();
    if (data_view_all(&data.test, &tv) ||
        train_evaluate(m, &tv, m->norm_mean, m->norm_std, batch, &acc, &loss, &ge)) {
        snprintf(msg, sizeof msg, "%s", ge.msg[0] ? ge.msg : "out of memory");
        goto out;
    }
    /* the evaluation's own time, as train's timing.test: not the loading */
    double secs = clock_seconds() - t0;
    json_t *o = json_object();
    json_object_set_new(o, "net", json_string(net_path));
    json_object_set_new(o, "weights", json_string(wpath));
    json_object_set_new(o, "test_acc", cli_json_num(acc));
    json_object_set_new(o, "test_loss", cli_json_num(loss));
    json_object_set_new(o, "images", json_integer(data.test.n));
    json_object_set_new(o, "seconds", cli_json_num(secs));
    json_object_set_new(o, "images_per_sec", cli_json_num(secs > 0 ? data.test.n / secs : 0));
    cli_json_print(o);
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

const cli_def cmd_eval = {&spec, opts, sizeof(options), init, run};
