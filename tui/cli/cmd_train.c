/* `gevo train NET`: the engine's trainer from the command line, also what
 * the workbench's training workers run (core/eval_local.c reads the
 * --progress lines; their names and the result's are an interface).
 * The JSON is built here from the engine's result structs. Whatever happens
 * after the arguments are read, training ends with a result JSON (status
 * ok, diverged, timeout, stopped or error with a message), on stdout and
 * in --out FILE, so a worker's caller always learns the outcome. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/base/clock.h"
#include "engine/base/file.h"
#include "engine/base/num.h"
#include "engine/data.h"
#include "engine/model.h"
#include "engine/net.h"
#include "engine/train.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const cli_spec spec = {
    "train",
    "Trains the gevo-net program NET with its train section as the recipe\n"
    "(options override it) and prints a JSON result: validation and test\n"
    "accuracy, parameters, FLOPs, seconds, images/s, peak memory, the\n"
    "per-epoch curve and a status (ok, diverged, timeout, stopped, error).\n",
    "exit status: 0 ok; 1 error; 3 diverged, timeout or stopped (result written)\n",
    1,
    "the NET to train is missing",
};

/* ---- progress display ------------------------------------------------ */

/* The progress display, and the batch the recipe asked for: a batch larger
 * than the training set is capped, and the start event says so. */
typedef struct train_ctx {
    cli_progress p;
    int batch_asked;
} train_ctx;

static void batch_note(const train_ctx *tc, const train_event *ev, char *buf, size_t n)
{
    buf[0] = 0;
    if (tc->batch_asked > ev->batch)
        snprintf(buf, n, "batch %d is more than the %ld training images: trained at batch %d",
                 tc->batch_asked, ev->images, ev->batch);
}

static void on_train_event(void *vctx, const train_event *ev)
{
    const train_ctx *tc = vctx;
    const cli_progress *ctx = &tc->p;
    char note[160];
    if (ctx->json) {
        json_t *o = json_object();
        static const char *const names[] = {"start", "step", "epoch", "eval"};
        json_object_set_new(o, "event", json_string(names[ev->kind]));
        if (ev->kind == TRAIN_EV_EVAL) {
            json_object_set_new(o, "what", json_string(ev->what));
        } else {
            json_object_set_new(o, "epoch", json_integer(ev->epoch));
            json_object_set_new(o, "epochs", json_integer(ev->epochs));
            json_object_set_new(o, "step", json_integer(ev->step));
            json_object_set_new(o, "steps", json_integer(ev->steps));
            if (ev->kind == TRAIN_EV_START) {
                json_object_set_new(o, "batch", json_integer(ev->batch));
                batch_note(tc, ev, note, sizeof note);
                if (note[0])
                    json_object_set_new(o, "note", json_string(note));
            } else {
                json_object_set_new(o, "loss", cli_json_num(ev->loss));
                json_object_set_new(o, "acc", cli_json_num(ev->acc));
            }
            json_object_set_new(o, "lr", cli_json_num(ev->lr));
            if (ev->kind == TRAIN_EV_STEP) {
                json_object_set_new(o, "images_per_sec", cli_json_num(ev->images_per_sec));
                json_object_set_new(o, "eta", cli_json_num(ev->eta));
            }
            if (ev->kind == TRAIN_EV_EPOCH) {
                json_object_set_new(o, "val_acc", cli_json_num(ev->epoch_result->val_acc));
                json_object_set_new(o, "val_loss", cli_json_num(ev->epoch_result->val_loss));
            }
        }
        json_object_set_new(o, "elapsed", cli_json_num(ev->elapsed));
        cli_json_line(o);
        json_decref(o);
        return;
    }
    if (!ctx->bar)
        return;
    if (ev->kind == TRAIN_EV_START) {
        batch_note(tc, ev, note, sizeof note);
        if (note[0])
            fprintf(stderr, "  %s\n", note);
    } else if (ev->kind == TRAIN_EV_STEP) {
        int width = 30;
        double frac = ev->steps ? (double)ev->step / ev->steps : 0;
        int fill = (int)(frac * width + 0.5);
        char bar[64];
        for (int i = 0; i < width; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[width] = 0;
        int eta = (int)(ev->eta + 0.5);
        fprintf(stderr,
                "\r  epoch %d/%d [%s] %3.0f%%  loss %.4f  acc %5.1f%%  %6.0f img/s  ETA %d:%02d ",
                ev->epoch, ev->epochs, bar, frac * 100, ev->loss, ev->acc * 100, ev->images_per_sec,
                eta / 60, eta % 60);
    } else if (ev->kind == TRAIN_EV_EPOCH) {
        fprintf(
            stderr,
            "\r\033[K  epoch %d/%d  loss %.4f  train acc %.2f%%  val acc %.2f%%  lr %.4g  %.1f s\n",
            ev->epoch, ev->epochs, ev->loss, ev->acc * 100, ev->epoch_result->val_acc * 100, ev->lr,
            ev->elapsed);
    } else if (ev->kind == TRAIN_EV_EVAL) {
        fprintf(stderr, "\r\033[K  evaluating the %s set...", ev->what);
    }
    fflush(stderr);
}

/* ---- the result -------------------------------------------------------- */

/* Where the command's time went (gevo(1), "timing"): start-up is all
   before the first training step but the data's loading. */
static void add_timing_json(json_t *o, const train_result *r, double startup, double load)
{
    json_t *t = json_object();
    json_object_set_new(t, "startup", cli_json_num(startup + r->setup_seconds));
    json_object_set_new(t, "data_load", cli_json_num(load));
    json_object_set_new(t, "data_batches", cli_json_num(r->batch_seconds));
    json_object_set_new(t, "train_steps", cli_json_num(r->step_seconds));
    json_object_set_new(t, "validation", cli_json_num(r->val_seconds));
    json_object_set_new(t, "test", cli_json_num(r->test_seconds));
    json_object_set_new(o, "timing", t);
}

/* What the data was: its format, class names (when it has them) and the
   cache it came from. */
static void add_data_json(json_t *o, const data_source *d)
{
    json_object_set_new(o, "data_format", json_string(data_format_name(d->format)));
    if (d->class_names) {
        json_t *a = json_array();
        for (int i = 0; i < d->classes; i++)
            json_array_append_new(a, json_string(d->class_names[i]));
        json_object_set_new(o, "classes", a);
    }
    json_t *c = json_object();
    json_object_set_new(c, "path", d->cache_path[0] ? json_string(d->cache_path) : json_null());
    json_object_set_new(c, "decoded", json_boolean(d->decoded));
    json_object_set_new(c, "decode_seconds", cli_json_num(d->decode_seconds));
    if (!d->cache_path[0] && d->cache_err.msg[0])
        json_object_set_new(c, "note", json_string(d->cache_err.msg));
    json_object_set_new(o, "data_cache", c);
}

static json_t *recipe_json(const net_train *t)
{
    static const char *const sch[] = {"constant", "step", "cosine", "plateau"};
    return json_pack("{s:s, s:o, s:i, s:i, s:s, s:o}", "optimizer",
                     t->optimizer == NET_OPT_SGD ? "sgd" : "adamw", "lr", cli_json_num(t->lr),
                     "batch", t->batch, "epochs", t->epochs, "schedule", sch[t->schedule],
                     "weight_decay", cli_json_num(t->weight_decay));
}

static json_t *epoch_json(const train_epoch *e)
{
    return json_pack("{s:i, s:o, s:o, s:o, s:o, s:o, s:o}", "epoch", e->epoch, "train_loss",
                     cli_json_num(e->train_loss), "train_acc", cli_json_num(e->train_acc),
                     "val_loss", cli_json_num(e->val_loss), "val_acc", cli_json_num(e->val_acc),
                     "lr", cli_json_num(e->lr), "seconds", cli_json_num(e->seconds));
}

/* The result (its names are an interface: gevo(1), core/eval_local.c).
   The hash and the recipe are left out when the program did not compile,
   the message when there is none, a string that is not UTF-8 (a path, a
   message) as well (o*). */
static json_t *result_json(const char *net, const char *data, const net_graph *g,
                           const net_train *t, const train_result *r, long seed, int threads)
{
    json_t *curve = json_array();
    for (int i = 0; i < r->n_epochs; i++)
        json_array_append_new(curve, epoch_json(&r->epochs[i]));
    bool tested = r->test_acc >= 0;
    return json_pack(
        "{s:s, s:o*, s:o*, s:o*, s:o*, s:o, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:I, s:I, s:o, s:I, "
        "s:i, s:o*, s:o}",
        "status", train_status_name(r->status), "message",
        r->message[0] ? json_string(r->message) : NULL, "net", json_string(net), "data",
        json_string(data), "hash", g ? cli_json_hash(g->hash) : NULL, "val_acc",
        cli_json_num(r->val_acc), "val_loss", cli_json_num(r->val_loss), "test_acc",
        tested ? cli_json_num(r->test_acc) : json_null(), "test_loss",
        tested ? cli_json_num(r->test_loss) : json_null(), "params", (json_int_t)r->params, "flops",
        cli_json_num(r->flops), "seconds", cli_json_num(r->seconds), "images_per_sec",
        cli_json_num(r->images_per_sec), "images", (json_int_t)r->images, "steps",
        (json_int_t)r->steps, "peak_rss_mb", cli_json_num(r->peak_rss_mb), "seed", (json_int_t)seed,
        "threads", threads, "recipe", t ? recipe_json(t) : NULL, "epochs", curve);
}

static int emit_result(json_t *o, const char *out_path, bool progress)
{
    int rc = 0;
    if (progress) {
        json_t *ev = json_object();
        json_object_set_new(ev, "event", json_string("result"));
        json_object_set(ev, "result", o);
        cli_json_line(ev);
        json_decref(ev);
    } else {
        cli_json_print(o);
    }
    if (out_path) {
        /* written whole, then renamed: a reader never sees half a result */
        out_file out;
        gerr err = GERR_INIT;
        if (out_file_open(&out, out_path, &err) == 0) {
            if (json_dumpf(o, out.f, CLI_JSON_FLAGS) || fputc('\n', out.f) == EOF) {
                out_file_abort(&out);
                gerr_set(&err, "%s: cannot write", out_path);
                rc = -1;
            } else if (out_file_commit(&out, &err)) {
                rc = -1;
            }
        } else {
            rc = -1;
        }
        if (rc)
            cli_error("train", "%s", err.msg);
    }
    return rc;
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    const char *out_path, *weights, *max_memory;
    cli_data_args da;
    long epochs, batch, seed, eval_batch;
    double lr;
    bool progress, quiet;
    const char *set_v[64];
    cli_list sets;
    train_opts o;
} options;

static const cli_opt opts[] = {
    CLI_STR("data", options, da.dir, "DIR",
            "IDX, CIFAR-10, NumPy (x_train.npy ...) or image folders\n"
            "(train/CLASS/*.png|jpg) (default " DATA_DEFAULT_DIR ")"),
    CLI_CALL("resize", cli_opt_resize, options, da, "HxW",
             "resample every image to H x W (bilinear), e.g. 32x32"),
    CLI_CALL("input", cli_opt_input, options, da.input, "CxHxW",
             "train the program at this input shape instead of its\n"
             "input line's (which must otherwise match the data)"),
    CLI_LONG("epochs", options, epochs, 1, 10000, "N", "epochs (default: the program's)"),
    CLI_LONG("batch", options, batch, 1, 65536, "N", "batch size (default: the program's)"),
    CLI_DOUBLE("lr", options, lr, 1e-12, 1e12, "X", "learning rate (default: the program's)"),
    CLI_LIST("set", options, sets, "KEY=VALUE",
             "any train-section setting, e.g. --set schedule=constant"),
    CLI_INT("subset", options, o.subset, 1, 100000000, "N",
            "train on N images of the training split"),
    CLI_DOUBLE("val-split", options, o.val_frac, 0, 0.9, "F",
               "fraction of the training set held out (default 0.1)"),
    CLI_LONG("seed", options, seed, 0, 1000000000000L, "N",
             "seed of initialisation, split, shuffling, dropout"),
    CLI_INT("threads", options, o.threads, 1, 256, "N", "OpenBLAS threads (default 2)"),
    CLI_DOUBLE("time-limit", options, o.time_limit, 0.001, 1e9, "S",
               "stop after S seconds (status timeout)"),
    CLI_LONG("eval-batch", options, eval_batch, 1, 65536, "N",
             "images per evaluation pass (default: the batch)"),
    CLI_SIZE("max-memory", options, max_memory, "BYTES",
             "refuse a training that would allocate more, e.g. 512M, 2G;\n"
             "0: no limit (default: half of the machine's memory)"),
    CLI_FLAG("no-test", 0, options, o.skip_test, "do not evaluate the test set"),
    CLI_STR("weights", options, weights, "FILE", "save the trained weights to FILE"),
    CLI_STR("out", options, out_path, "FILE", "also write the result JSON to FILE"),
    CLI_FLAG("progress", 0, options, progress,
             "one JSON line per event on stdout (for the workbench)"),
    CLI_FLAG("quiet", 'q', options, quiet, "no progress bar"),
    CLI_END,
};

static void init(void *vo)
{
    options *a = vo;
    a->da.dir = DATA_DEFAULT_DIR;
    a->seed = -1;
    a->sets = (cli_list){a->set_v, 0, 64, "too many --set options (64 at most)"};
    train_opts_default(&a->o);
}

static int run(void *vo, const cli_args *args)
{
    options *a = vo;
    train_opts *o = &a->o;
    /* checked by cli_parse already */
    if (a->max_memory && num_bytes(a->max_memory, 0, 1e18, &o->max_memory, "--max-memory", NULL))
        return CLI_USAGE;
    const char *net_path = args->v[0];

    train_result r;
    memset(&r, 0, sizeof r);
    r.test_acc = -1;
    r.status = TRAIN_ERROR;
    net_graph *g = NULL;
    model *m = NULL;
    data_source data;
    memset(&data, 0, sizeof data);
    net_train recipe;
    bool have_recipe = false;
    net_error err;
    char *src = NULL;
    size_t len;
    net_limits lim;
    net_limits_default(&lim);

    o->stop = cli_catch_stop();

    double t_start = clock_seconds(), t_load = 0, t_train = 0;
    gerr ge = GERR_INIT;
    if (file_read(net_path, (size_t)lim.max_file_bytes, &src, &len, &ge)) {
        snprintf(r.message, sizeof r.message, "%s", ge.msg);
        goto finish;
    }
    train_memory mem = {0};
    train_ctx tc = {.p = {.json = a->progress, .bar = !a->progress && !a->quiet && isatty(2)}};
    cli_progress *ctx = &tc.p;
    /* the network's input line (or --input) and the data's images must
       have one shape */
    double t0 = clock_seconds();
    gerr derr = GERR_INIT;
    int loaded = cli_data_load(&data, &a->da, ctx, &derr);
    t_load = clock_seconds() - t0;
    if (loaded || cli_compile_for_data(src, len, net_path, &lim, &a->da, &data, &g, &derr)) {
        snprintf(r.message, sizeof r.message, "%s", derr.msg);
        goto finish;
    }
    r.params = g->params;
    r.flops = g->flops;
    recipe = g->train;
    for (int i = 0; i < a->sets.n; i++)
        if (net_train_set(&recipe, a->sets.v[i], &err)) {
            if (snprintf(r.message, sizeof r.message, "--set %s: %s", a->sets.v[i], err.base.msg) <
                0)
                r.message[0] = 0;
            goto finish;
        }
    if (a->epochs)
        recipe.epochs = (int)a->epochs;
    if (a->batch)
        recipe.batch = (int)a->batch;
    if (a->lr > 0)
        recipe.lr = a->lr;
    if (a->seed >= 0)
        recipe.seed = a->seed;
    have_recipe = true;
    o->eval_batch = (int)a->eval_batch;
    o->val = &data.val;
    if (!a->max_memory)
        o->max_memory = train_default_memory_limit();
    o->max_memory_what = a->max_memory ? "--max-memory" : "half of the machine's memory";
    tc.batch_asked = recipe.batch;
    m = train_model_new(g, &recipe, &data.train, o, &mem, &ge);
    if (!m) {
        snprintf(r.message, sizeof r.message, "%s", ge.msg);
        goto finish;
    }
    o->on_event = on_train_event;
    o->ctx = &tc;
    t_train = clock_seconds();
    train_run(m, &recipe, &data.train, &data.test, o, &r);
    if (ctx->bar)
        fprintf(stderr, "\r\033[K");
    if (a->weights && r.status != TRAIN_ERROR && r.status != TRAIN_DIVERGED) {
        if (model_save(m, a->weights, &ge)) {
            r.status = TRAIN_ERROR;
            snprintf(r.message, sizeof r.message, "%s", ge.msg);
        }
    }
finish:;
    json_t *res = result_json(net_path, a->da.dir, g, have_recipe ? &recipe : NULL, &r,
                              have_recipe ? recipe.seed : a->seed, o->threads);
    if (data.train.n)
        add_data_json(res, &data);
    if (have_recipe && tc.batch_asked > recipe.batch) {
        train_event start = {.batch = recipe.batch, .images = mem.batch};
        char note[160];
        batch_note(&tc, &start, note, sizeof note);
        json_object_set_new(json_object_get(res, "recipe"), "batch_asked",
                            json_integer(tc.batch_asked));
        json_object_set_new(res, "note", json_string(note));
    }
    if (t_train > 0)
        add_timing_json(res, &r, t_train - t_start - t_load, t_load);
    int werr = emit_result(res, a->out_path, a->progress);
    json_decref(res);
    if (r.status == TRAIN_ERROR)
        cli_error("train", "%s", r.message);
    int status = r.status == TRAIN_OK      ? CLI_OK
                 : r.status == TRAIN_ERROR ? CLI_FAIL
                                           : CLI_INCOMPLETE;
    if (werr && status == CLI_OK)
        status = CLI_FAIL;
    train_result_release(&r);
    model_free(m);
    net_graph_free(g);
    data_release(&data);
    free(src);
    return status;
}
const cli_def cmd_train = {&spec, opts, sizeof(options), init, run};
