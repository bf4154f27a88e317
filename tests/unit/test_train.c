/* The engine's trainer on real (small) data: IDX files written here, gzipped
 * and plain; learning a separable task; bit-for-bit determinism; divergence;
 * weights files; schedules; time limits. */
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/data.h"
#include "engine/model.h"
#include "engine/net.h"
#include "engine/ops.h"
#include "engine/train.h"
#include "tests/harness.h"

#if defined(__SANITIZE_ADDRESS__)
/* Declared here: GCC's libasan exports it, but Debian ships its header
 * (sanitizer/allocator_interface.h) only with clang. */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

static char dir[256];

static const char *net_src =
    "input x: 1x8x8\nclasses 4\n"
    "def block(x, c):\n    return relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))\n"
    "x = maxpool(block(x, 8), 2)\n"
    "y = x + block(x, 8)\n"
    "s = sigmoid(linear(gap(y), 8))\n"
    "return linear(dropout(flatten(y * s), 0.1), classes)\n"
    "train optimizer=sgd lr=0.05 epochs=3 batch=32 schedule=cosine augment=crop crop_pad=1\n";

static net_graph *compile(const char *src)
{
    net_graph *g = NULL;
    net_error err;
    CHECK(net_compile(src, strlen(src), "t.net", NULL, &g, &err) == 0, "compile: %s", err.base.msg);
    return g;
}

static int train_once(const char *src, const net_train *recipe_override, train_result *r,
                      float **params_out, long *n_params)
{
    data_source d;
    gerr ge = GERR_INIT;
    int rc = data_load(&d, dir, NULL, &ge);
    CHECK(rc == 0, "load: %s", ge.msg);
    if (rc)
        return -1;
    net_graph *g = compile(src);
    if (!g)
        return -1;
    net_train recipe = recipe_override ? *recipe_override : g->train;
    model *m = model_new(g, recipe.batch, (uint64_t)recipe.seed, &ge);
    CHECK(m != NULL, "model: %s", ge.msg);
    train_opts o;
    train_opts_default(&o);
    o.threads = 1;
    rc = train_run(m, &recipe, &d.train, &d.test, &o, r);
    if (params_out) {
        *params_out = malloc(sizeof(float) * (size_t)m->n_params);
        memcpy(*params_out, m->params, sizeof(float) * (size_t)m->n_params);
        *n_params = m->n_params;
    }
    model_free(m);
    net_graph_free(g);
    data_release(&d);
    return rc;
}

static void test_data_loading(void)
{
    data_source d;
    gerr ge = GERR_INIT;
    CHECK(data_load(&d, dir, NULL, &ge) == 0, "%s", ge.msg);
    const data_set tr = d.train, te = d.test;
    CHECK_EQ_INT(tr.n, 800);
    CHECK_EQ_INT(te.n, 200);
    CHECK(tr.c == 1 && tr.h == 8 && tr.w == 8 && tr.classes == 4, "shape %dx%dx%d, %d classes",
          tr.c, tr.h, tr.w, tr.classes);
    data_view tv, vv;
    CHECK(data_split(&tr, NULL, 0.1, 0, 7, &tv, &vv) == 0, "split");
    CHECK_EQ_INT(vv.n, 80);
    CHECK_EQ_INT(tv.n, 720);
    /* the split is a partition and does not depend on --subset */
    char *seen = calloc(800, 1);
    for (int i = 0; i < vv.n; i++)
        seen[vv.index[i]]++;
    for (int i = 0; i < tv.n; i++)
        seen[tv.index[i]]++;
    int once = 0;
    for (int i = 0; i < 800; i++)
        once += seen[i] == 1;
    CHECK_EQ_INT(once, 800);
    data_view tv2, vv2;
    CHECK(data_split(&tr, NULL, 0.1, 100, 7, &tv2, &vv2) == 0, "split");
    CHECK_EQ_INT(tv2.n, 100);
    CHECK(memcmp(vv.index, vv2.index, sizeof(int) * 80) == 0,
          "validation set changed with --subset");
    /* normalised batches: mean/std computed, then applied */
    float mean, std;
    data_channel_stats(&tv, &mean, &std);
    CHECK(mean > 0.1f && mean < 0.5f && std > 0.05f, "stats %f %f", mean, std);
    float x[64 * 4];
    int y[4], order[4] = {0, 1, 2, 3};
    data_batch(&tv, order, 4, &mean, &std, NULL, NULL, x, y);
    double s = 0;
    for (int i = 0; i < 256; i++)
        s += x[i];
    CHECK(fabs(s / 256) < 1.0, "batch mean %f", s / 256);
    free(seen);
    data_view_release(&tv);
    data_view_release(&vv);
    data_view_release(&tv2);
    data_view_release(&vv2);
    data_release(&d);
}

static void test_bad_data_files(void)
{
    char bad[300];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    mkdir(bad, 0700);
    data_source d;
    gerr ge = GERR_INIT;
    const char *err = ge.msg;
    CHECK(data_load(&d, bad, NULL, &ge) != 0, "empty dir loaded");
    CHECK(strstr(err, "no data set found") != NULL, "%s", err);
    char p[400];
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", bad);
    FILE *f = fopen(p, "wb");
    fputs("not an idx file at all", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", bad);
    f = fopen(p, "wb");
    fputs("x", f);
    fclose(f);
    CHECK(data_load(&d, bad, NULL, &ge) != 0, "garbage loaded");
    CHECK(strstr(err, "train-images-idx3-ubyte") && strstr(err, "not an IDX file"), "%s", err);
    /* a truncated image file names itself */
    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", bad);
    f = fopen(p, "wb");
    uint8_t h[16];
    harness_put_be32(h, 0x803);
    harness_put_be32(h + 4, 100);
    harness_put_be32(h + 8, 8);
    harness_put_be32(h + 12, 8);
    fwrite(h, 1, 16, f);
    fwrite(h, 1, 16, f);
    fclose(f);
    CHECK(data_load(&d, bad, NULL, &ge) != 0, "truncated loaded");
    CHECK(strstr(err, "truncated") != NULL, "%s", err);
    CHECK(data_load(&d, "/nonexistent/dir", NULL, &ge) != 0 &&
              strstr(err, "no such data directory"),
          "%s", err);
}

static void test_learns_and_is_deterministic(void)
{
    train_result a, b;
    float *pa = NULL, *pb = NULL;
    long na = 0, nb = 0;
    CHECK(train_once(net_src, NULL, &a, &pa, &na) == 0, "train: %s", a.message);
    CHECK(train_once(net_src, NULL, &b, &pb, &nb) == 0, "train: %s", b.message);
    CHECK(a.status == TRAIN_OK, "status %s: %s", train_status_name(a.status), a.message);
    /* a separable task: far above the 25% of guessing */
    CHECK(a.val_acc >= 0.9, "validation accuracy %.3f", a.val_acc);
    CHECK(a.test_acc >= 0.9, "test accuracy %.3f", a.test_acc);
    CHECK_EQ_INT(a.n_epochs, 3);
    CHECK(a.epochs[2].train_loss < a.epochs[0].train_loss, "loss did not fall: %f -> %f",
          a.epochs[0].train_loss, a.epochs[2].train_loss);
    CHECK(na == nb && pa && pb && memcmp(pa, pb, sizeof(float) * (size_t)na) == 0,
          "same seed and threads gave different weights");
    CHECK(a.val_acc == b.val_acc && a.test_acc == b.test_acc, "results differ");
    /* another seed, other weights */
    net_graph *g = compile(net_src);
    net_train t = g->train;
    t.seed = 99;
    train_result c;
    float *pc = NULL;
    long nc = 0;
    CHECK(train_once(net_src, &t, &c, &pc, &nc) == 0, "train");
    CHECK(pc && memcmp(pa, pc, sizeof(float) * (size_t)na) != 0, "seed had no effect");
    free(pa);
    free(pb);
    free(pc);
    train_result_release(&a);
    train_result_release(&b);
    train_result_release(&c);
    net_graph_free(g);
}

static void test_divergence(void)
{
    net_graph *g = compile(net_src);
    net_train t = g->train;
    t.lr = 1e6;
    t.schedule = NET_SCHED_CONSTANT;
    train_result r;
    CHECK(train_once(net_src, &t, &r, NULL, NULL) == 0, "train");
    CHECK(r.status == TRAIN_DIVERGED, "status %s", train_status_name(r.status));
    CHECK(strstr(r.message, "NaN") || strstr(r.message, "infinite"), "message: %s", r.message);
    CHECK(r.val_acc == 0, "diverged run reports accuracy %f", r.val_acc);
    train_result_release(&r);
    /* adamw trains too */
    t = g->train;
    t.optimizer = NET_OPT_ADAMW;
    t.lr = 0.01;
    t.weight_decay = 0.01;
    CHECK(train_once(net_src, &t, &r, NULL, NULL) == 0, "train");
    CHECK(r.status == TRAIN_OK && r.val_acc >= 0.9, "adamw: %s %.3f", train_status_name(r.status),
          r.val_acc);
    train_result_release(&r);
    net_graph_free(g);
}

static void test_time_limit_and_stop(void)
{
    net_graph *g = compile(net_src);
    data_source d;
    gerr ge = GERR_INIT;
    CHECK(data_load(&d, dir, NULL, &ge) == 0, "%s", ge.msg);
    net_train t = g->train;
    t.epochs = 1000; /* far more than a 1 ms limit allows */
    model *m = model_new(g, t.batch, 1, NULL);
    train_opts o;
    train_opts_default(&o);
    o.threads = 1;
    o.time_limit = 0.001;
    train_result r;
    CHECK(train_run(m, &t, &d.train, &d.test, &o, &r) == 0, "run: %s", r.message);
    CHECK(r.status == TRAIN_TIMEOUT, "status %s", train_status_name(r.status));
    CHECK(r.steps < 1000L * 23, "ran all steps");
    CHECK(r.val_acc >= 0 && r.val_acc <= 1, "partial accuracy %f", r.val_acc);
    train_result_release(&r);
    volatile sig_atomic_t stop = 1;
    o.time_limit = 0;
    o.stop = &stop;
    CHECK(train_run(m, &t, &d.train, &d.test, &o, &r) == 0, "run");
    CHECK(r.status == TRAIN_STOPPED && r.steps == 0, "status %s after %ld steps",
          train_status_name(r.status), r.steps);
    train_result_release(&r);
    model_free(m);
    net_graph_free(g);
    data_release(&d);
}

static void test_weights_roundtrip(void)
{
    net_graph *g = compile(net_src);
    gerr err = GERR_INIT;
    char path[400];
    snprintf(path, sizeof path, "%s/w.bin", dir);
    model *a = model_new(g, 8, 5, &err), *b = model_new(g, 8, 6, &err);
    a->norm_mean[0] = 0.25f;
    a->buffers[0] = 3.5f;
    CHECK(model_save(a, path, &err) == 0, "save: %s", err.msg);
    CHECK(memcmp(a->params, b->params, sizeof(float) * (size_t)a->n_params) != 0, "seeds equal");
    CHECK(model_load(b, path, &err) == 0, "load: %s", err.msg);
    CHECK(memcmp(a->params, b->params, sizeof(float) * (size_t)a->n_params) == 0, "params differ");
    CHECK(b->norm_mean[0] == 0.25f && b->buffers[0] == 3.5f, "buffers or normalisation lost");
    /* a flipped byte is caught */
    FILE *f = fopen(path, "r+b");
    fseek(f, 100, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(ch ^ 0x40, f);
    fclose(f);
    CHECK(model_load(b, path, &err) != 0 && strstr(err.msg, "checksum"), "corruption: %s", err.msg);
    /* weights of another program are refused */
    CHECK(model_save(a, path, &err) == 0, "save");
    const char *other =
        "input x: 1x8x8\nclasses 4\nx = relu(x)\nreturn linear(flatten(x), classes)\n";
    net_graph *g2 = compile(other);
    model *c = model_new(g2, 8, 1, &err);
    CHECK(model_load(c, path, &err) != 0 && strstr(err.msg, "parameters"), "other program: %s",
          err.msg);
    /* values a model cannot start from are refused whatever the checksum */
    struct {
        float *at, v;
        const char *says;
    } broken[] = {
        {&a->params[3], NAN, "the weight of conv at line 4 holds NaN (parameter 3)"},
        {&a->params[a->n_params - 1], INFINITY, "the bias of linear at line 8 holds +Inf"},
        {&a->buffers[1], -INFINITY, "the running mean of batchnorm at line 4 is -Inf"},
        {&a->buffers[9], -0.5f, "the running variance of batchnorm at line 4 is negative"},
        {&a->norm_mean[0], NAN, "normalisation's mean of channel 0 is NaN"},
        {&a->norm_std[0], 0.0f, "standard deviation of channel 0 is not positive"},
    };
    for (size_t i = 0; i < sizeof broken / sizeof *broken; i++) {
        float keep = *broken[i].at;
        *broken[i].at = broken[i].v;
        CHECK(model_save(a, path, &err) == 0, "save: %s", err.msg);
        float before = b->params[3];
        CHECK(model_load(b, path, &err) != 0 && strstr(err.msg, broken[i].says) &&
                  strstr(err.msg, path) == err.msg,
              "%s: %s", broken[i].says, err.msg);
        CHECK(b->params[3] == before, "a refused file changed the model");
        *broken[i].at = keep;
    }
    f = fopen(path, "wb");
    fputs("GEVOWTS", f);
    fclose(f);
    CHECK(model_load(b, path, &err) != 0 && strstr(err.msg, "magic"), "short file: %s", err.msg);
    model_free(a);
    model_free(b);
    model_free(c);
    net_graph_free(g);
    net_graph_free(g2);
}

static void test_schedules(void)
{
    net_train t;
    net_train_default(&t);
    t.lr = 0.1;
    t.schedule = NET_SCHED_COSINE;
    CHECK(fabs(train_lr_at(&t, 0, 100, 0, 1) - 0.1) < 1e-12, "cosine start");
    CHECK(fabs(train_lr_at(&t, 50, 100, 0, 1) - 0.05) < 1e-12, "cosine middle");
    CHECK(fabs(train_lr_at(&t, 100, 100, 0, 1)) < 1e-12, "cosine end");
    t.warmup = 10;
    CHECK(fabs(train_lr_at(&t, 0, 100, 0, 1) - 0.01) < 1e-12, "warmup start %g",
          train_lr_at(&t, 0, 100, 0, 1));
    /* step 4 of a 10-step warm-up: half of the cosine value there */
    CHECK(fabs(train_lr_at(&t, 4, 100, 0, 1) - 0.1 * 0.5 * (1 + cos(M_PI * 0.04)) * 0.5) < 1e-12,
          "warmup middle %g", train_lr_at(&t, 4, 100, 0, 1));
    t.warmup = 0;
    t.schedule = NET_SCHED_STEP;
    t.step_size = 2;
    t.gamma = 0.5;
    CHECK(fabs(train_lr_at(&t, 0, 100, 1, 1) - 0.1) < 1e-12, "step epoch 1");
    CHECK(fabs(train_lr_at(&t, 0, 100, 2, 1) - 0.05) < 1e-12, "step epoch 2");
    CHECK(fabs(train_lr_at(&t, 0, 100, 5, 1) - 0.025) < 1e-12, "step epoch 5");
    t.schedule = NET_SCHED_PLATEAU;
    t.min_lr = 0.02;
    CHECK(fabs(train_lr_at(&t, 0, 100, 0, 0.1) - 0.02) < 1e-12, "plateau floor");
    t.schedule = NET_SCHED_CONSTANT;
    CHECK(train_lr_at(&t, 77, 100, 3, 1) == 0.1, "constant");
    /* --set goes through the train section's parser */
    net_error err;
    CHECK(net_train_set(&t, "schedule=cosine lr=0.2 augment=flip", &err) == 0, "%s", err.base.msg);
    CHECK(t.schedule == NET_SCHED_COSINE && t.lr == 0.2 && t.flip && !t.crop, "set not applied");
    CHECK(net_train_set(&t, "lr=oops", &err) != 0 && t.lr == 0.2, "bad set applied");
    CHECK(net_train_set(&t, "momentun=0.5", &err) != 0 && strstr(err.hint, "momentum"), "hint: %s",
          err.hint);
}

/* Every operator of the registry (engine/net_ops.h): its name finds it,
 * a program calling it compiles to its node, and a model of that program
 * computes it forward (a non-zero output) and backward (non-zero
 * gradients of its parameters, or of its input). An operator added to the
 * table without a usage here fails. */
static void test_every_operator(void)
{
    /* x is a 4x6x6 map, v = gap(x) a 4-vector */
    static const struct {
        const char *name, *expr;
    } uses[] = {
        {"conv", "conv(x, 4, k=3, padding=1)"},
        {"linear", "linear(v, 4)"},
        {"batchnorm", "batchnorm(x)"},
        {"layernorm", "layernorm(x)"},
        {"relu", "relu(x)"},
        {"silu", "silu(x)"},
        {"hswish", "hswish(x)"},
        {"gelu", "gelu(x)"},
        {"sigmoid", "sigmoid(x)"},
        {"tanh", "tanh(x)"},
        {"maxpool", "maxpool(x, 2)"},
        {"avgpool", "avgpool(x, 2)"},
        {"minpool", "minpool(x, 2)"},
        {"gap", "gap(x)"},
        {"concat", "concat(x, x)"},
        {"add", "add(x, relu(x))"},
        {"mul", "mul(x, v)"},
        {"dropout", "dropout(x, 0.25)"},
        {"flatten", "flatten(x)"},
    };
    for (int op = 0; op < NET_OP_COUNT; op++) {
        const char *name = net_op_name((net_op)op);
        CHECK(net_op_lookup(name) == (net_op)op, "%s: lookup gives %d", name,
              (int)net_op_lookup(name));
        if (op == NET_INPUT)
            continue;
        const char *expr = NULL;
        for (size_t i = 0; i < sizeof uses / sizeof *uses; i++)
            if (!strcmp(uses[i].name, name))
                expr = uses[i].expr;
        CHECK(expr != NULL, "operator %s has no usage in test_every_operator", name);
        if (!expr)
            continue;
        char src[512];
        snprintf(src, sizeof src,
                 "input x: 4x6x6\nclasses 3\nx = conv(x, 4, k=1)\nv = gap(x)\ny = %s\n"
                 "return linear(flatten(y), classes)\n",
                 expr);
        net_graph *g = compile(src);
        if (!g)
            continue;
        int at = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (g->nodes[i].op == (net_op)op && at < 0)
                at = i;
        CHECK(at > 0, "%s: no %s node in the graph", expr, name);
        gerr err = GERR_INIT;
        model *m = model_new(g, 3, 5, &err);
        CHECK(m != NULL, "%s: model: %s", expr, err.msg);
        if (m && at > 0) {
            float *x = model_input(m);
            for (long i = 0; i < 3L * 4 * 6 * 6; i++)
                x[i] = (float)((i * 7919) % 23) / 11.0f - 1.0f;
            int labels[3] = {0, 1, 2}, correct;
            float loss;
            model_forward(m, 3, true);
            CHECK(model_loss(m, 3, labels, 0, true, &loss, &correct, &err) == 0, "%s", err.msg);
            CHECK(isfinite(loss), "%s: loss %g", expr, loss);
            const model_layer *L = &m->layers[at];
            double out = 0, grad = 0;
            for (long i = 0; i < 3 * L->size; i++)
                out += fabs(L->out[i]);
            CHECK(out > 0, "%s: forward wrote nothing", expr);
            if (L->nw)
                for (long i = 0; i < L->nw + L->nb; i++)
                    grad += fabs(m->grads[L->w + i]);
            else
                for (long i = 0; i < 3 * m->layers[g->nodes[at].in[0]].size; i++)
                    grad += fabs(m->layers[g->nodes[at].in[0]].dout[i]);
            CHECK(grad > 0, "%s: backward wrote no gradient", expr);
        }
        model_free(m);
        net_graph_free(g);
    }
}

/* Two models of g at batch 5: m[0] with the environment variable off set
 * to 1, m[1] without it, and their planned bytes. False if either failed. */
static bool model_pair(const net_graph *g, const char *off, model *m[2], size_t bytes[2])
{
    gerr err = GERR_INIT;
    for (int f = 0; f < 2; f++) {
        if (f)
            unsetenv(off);
        else
            setenv(off, "1", 1);
        CHECK_EQ_INT(model_plan_bytes(g, 5, &bytes[f], &err), 0);
        m[f] = model_new(g, 5, 9, &err);
        CHECK(m[f] != NULL, "%s: %s", off, err.msg);
    }
    return m[0] && m[1];
}

/* Three training steps of plain SGD on both models of a pair: the same
 * losses, gradients and running statistics, bit for bit. */
static void pair_steps_agree(const net_graph *g, model *m[2], const char *what)
{
    gerr err = GERR_INIT;
    int labels[5] = {0, 1, 2, 1, 0};
    long in = (long)g->input.c * g->input.h * g->input.w;
    for (int step = 0; step < 3; step++) {
        float loss[2];
        int correct;
        for (int f = 0; f < 2; f++) {
            float *x = model_input(m[f]);
            for (long i = 0; i < 5 * in; i++)
                x[i] = (float)(((i + 13 * step) * 7919) % 23) / 11.0f - 1.0f;
            model_forward(m[f], 5, true);
            CHECK_EQ_INT(model_loss(m[f], 5, labels, 0, true, &loss[f], &correct, &err), 0);
            /* a step of plain SGD, so later steps start elsewhere */
            for (long i = 0; i < m[f]->n_params; i++)
                m[f]->params[i] -= 0.1f * m[f]->grads[i];
        }
        CHECK(loss[0] == loss[1], "%s, step %d: loss %.9g, %.9g with it off", what, step, loss[1],
              loss[0]);
        CHECK(!memcmp(m[0]->grads, m[1]->grads, sizeof(float) * (size_t)m[0]->n_params) &&
                  !memcmp(m[0]->buffers, m[1]->buffers, sizeof(float) * (size_t)m[0]->n_buffers),
              "%s, step %d: gradients or running statistics differ", what, step);
    }
}

/* A batchnorm whose only consumer is an activation computes it too
 * (layer_fused_act): the model stores no output for it, and training and
 * evaluation give the numbers of the two operators run one after the
 * other (GEVO_NO_FUSE=1), bit for bit. A batchnorm read twice is left
 * alone. */
static void test_bn_act_fusion(void)
{
    net_graph *g = compile("input x: 2x6x6\nclasses 3\n"
                           "y = silu(batchnorm(conv(x, 4, k=3, padding=1)))\n"
                           "z = batchnorm(conv(y, 4, k=1))\n"
                           "w = relu(z) + z\n"
                           "return linear(flatten(hswish(batchnorm(w))), classes)\n");
    if (!g)
        return;
    model *m[2];
    size_t bytes[2];
    if (!model_pair(g, "GEVO_NO_FUSE", m, bytes))
        goto out;
    int fused = 0, plain = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        CHECK(m[0]->layers[i].fuse_act == 0, "node %d fused under GEVO_NO_FUSE", i);
        if (g->nodes[i].op != NET_BATCHNORM)
            continue;
        const model_layer *L = &m[1]->layers[i];
        if (L->fuse_act) {
            fused++;
            CHECK(L->out == NULL && m[1]->layers[L->fuse_act].fused, "node %d", i);
        } else
            plain++;
    }
    CHECK(fused == 2 && plain == 1, "%d batchnorms fused, %d not (want 2, 1)", fused, plain);
    CHECK(bytes[1] + 2 * 5 * 4 * 36 * sizeof(float) <= bytes[0],
          "the fused model takes %zu bytes, the plain one %zu", bytes[1], bytes[0]);
    pair_steps_agree(g, m, "fusion");
    /* evaluation's views are laid out on first use, as the environment
       says then: m[0]'s without the fusion too */
    setenv("GEVO_NO_FUSE", "1", 1);
    const float *e0 = model_forward(m[0], 5, false);
    unsetenv("GEVO_NO_FUSE");
    const float *e1 = model_forward(m[1], 5, false);
    int bn = 1;
    while (g->nodes[bn].op != NET_BATCHNORM)
        bn++;
    CHECK(m[0]->views[0] && m[1]->views[0] && m[0]->views[0]->layers[bn].fuse_act == 0 &&
              m[1]->views[0]->layers[bn].fuse_act > 0,
          "the views do not follow their models' fusion");
    CHECK(!memcmp(e0, e1, sizeof(float) * 15), "evaluation differs");
out:
    model_free(m[0]);
    model_free(m[1]);
    net_graph_free(g);
}

/* An add's input whose last consumer the add is keeps its gradient in the
 * add's storage (model.c's gradient_homes): the same losses, parameter
 * gradients and running statistics as with every gradient in a storage of
 * its own (GEVO_NO_SHARE=1), bit for bit, over residual blocks, chains of
 * adds, an add that is the output, an input read twice by one add, an
 * input a flatten reads too, and the network's input; and less memory. */
static void test_grad_share(void)
{
    static const struct {
        const char *src;
        int shared; /* nodes whose gradient lives in a later add's storage */
    } nets[] = {
        {"input x: 2x6x6\nclasses 3\ny = conv(x, 4, k=1)\n"
         "x = silu(batchnorm(conv(y, 4, k=1)))\n"
         "x = x * sigmoid(layernorm(gap(x))) + y\n"
         "x = dwconv(x, k=3, padding=1) + y\n"
         "return linear(flatten(gap(x)), classes)\n",
         2},
        {"input x: 4x6x6\nclasses 3\na = conv(x, 4, k=1)\nb = a + x\nc = b + x\n"
         "d = relu(c) + b\ne = d + c\nf = e + e\nreturn linear(flatten(gap(f + a)), classes)\n",
         3},
        {"input x: 4x6x6\nclasses 3\na = conv(x, 4, k=1)\nf = linear(flatten(a), classes)\n"
         "b = relu(a) + a\nreturn linear(flatten(gap(b)), classes) + f\n",
         1},
    };
    for (size_t t = 0; t < sizeof nets / sizeof *nets; t++) {
        net_graph *g = compile(nets[t].src);
        if (!g)
            continue;
        model *m[2];
        size_t bytes[2];
        if (!model_pair(g, "GEVO_NO_SHARE", m, bytes)) {
            model_free(m[0]);
            model_free(m[1]);
            net_graph_free(g);
            continue;
        }
        int shared = 0;
        for (int i = 1; i < g->n_nodes; i++) {
            bool alias = g->nodes[i].op == NET_FLATTEN;
            CHECK(alias || m[0]->grad_home[i] == i, "net %zu: node %d shared under GEVO_NO_SHARE",
                  t, i);
            if (!alias && m[1]->grad_home[i] != i) {
                shared++;
                CHECK(g->nodes[m[1]->grad_home[i]].op == NET_ADD, "net %zu: node %d", t, i);
                CHECK(m[1]->layers[i].dout == m[1]->layers[m[1]->grad_home[i]].dout,
                      "net %zu: node %d's gradient is not its home's", t, i);
            }
        }
        CHECK(shared == nets[t].shared, "net %zu: %d gradients shared, want %d", t, shared,
              nets[t].shared);
        CHECK(bytes[1] < bytes[0], "net %zu: %zu bytes shared, %zu not", t, bytes[1], bytes[0]);
        char what[32];
        snprintf(what, sizeof what, "net %zu", t);
        pair_steps_agree(g, m, what);
        model_free(m[0]);
        model_free(m[1]);
        net_graph_free(g);
    }
}

/* In evaluation a relu read only by a max or min pool runs after it
 * (layer_pool_relu): the same numbers as in the graph's order, bit for bit.
 * A relu read twice, one a batchnorm computes, one before an average or
 * before a pool larger than its input keeps its place. */
static void test_pool_relu(void)
{
    net_graph *g = compile("input x: 2x9x9\nclasses 3\n"
                           "p = maxpool(relu(conv(x, 4, k=3, padding=1)), 2)\n"
                           "q = minpool(relu(conv(x, 4, k=3, padding=1)), 2, ceil=true)\n"
                           "y = relu(conv(x, 4, k=3, padding=1))\n"
                           "u = maxpool(y, 2) + avgpool(y, 2)\n"
                           "v = maxpool(relu(conv(x, 4, k=3, padding=1)), 3, stride=1, padding=1)\n"
                           "w = maxpool(relu(conv(x, 4, k=1)), 2, stride=1, padding=1)\n"
                           "b = maxpool(relu(batchnorm(conv(x, 4, k=1))), 2)\n"
                           "a = avgpool(relu(conv(x, 4, k=3, padding=1)), 2)\n"
                           "z = concat(gap(p), gap(q), gap(u), gap(v), gap(w), gap(b), gap(a))\n"
                           "return linear(flatten(z), classes)\n");
    if (!g)
        return;
    gerr err = GERR_INIT;
    model *m = model_new(g, 5, 3, &err);
    CHECK(m != NULL, "%s", err.msg);
    if (!m)
        goto out;
    /* whole batches (no views), whose layers this test switches */
    setenv("GEVO_EVAL_PIECE", "0", 1);
    int swapped = 0, kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const model_layer *L = &m->layers[i];
        if (g->nodes[i].op != NET_RELU)
            continue;
        if (L->pool_relu) {
            swapped++;
            CHECK(m->layers[L->pool_relu].relu_in == i, "node %d", i);
        } else
            kept++;
    }
    CHECK(swapped == 3 && kept == 4, "%d relus after their pool, %d kept (want 3, 4)", swapped,
          kept);
    float *x = model_input(m);
    for (long i = 0; i < 5L * 162; i++)
        x[i] = (float)((i * 7919) % 23) / 11.0f - 1.0f;
    float swap[15]; /* 5 images x 3 classes */
    memcpy(swap, model_forward(m, 5, false), sizeof swap);
    /* the reference: the same model without the swap */
    for (int i = 0; i < g->n_nodes; i++)
        m->layers[i].pool_relu = m->layers[i].relu_in = 0;
    const float *plain = model_forward(m, 5, false);
    CHECK(!memcmp(swap, plain, sizeof swap), "evaluation differs from the relu before its pool");
    CHECK(m->views[0] == NULL, "whole batches made a view");
    unsetenv("GEVO_EVAL_PIECE");
out:
    model_free(m);
    net_graph_free(g);
}

/* In training too, a relu right before a max or min pool of windows that
 * do not overlap runs after it (layer_pool_relu_trains): the same losses,
 * gradients and running statistics as the relu before its pool
 * (GEVO_NO_FUSE=1), bit for bit, the relu's input gradient stored (its
 * only reader) or added (read again later), on odd maps in ceil mode and
 * on the network's input; the relu keeps no gradient of its own. A pool
 * of overlapping windows keeps the order in training. */
static void test_pool_relu_training(void)
{
    net_graph *g = compile("input x: 2x9x9\nclasses 3\n"
                           "p = maxpool(relu(conv(x, 4, k=3, padding=1)), 2)\n"
                           "q = minpool(relu(conv(x, 4, k=3, padding=1)), 2, ceil=true)\n"
                           "c = conv(x, 4, k=1)\n"
                           "r = maxpool(relu(c), 2, ceil=true)\n"
                           "v = maxpool(relu(conv(x, 4, k=3, padding=1)), 3, stride=1, padding=1)\n"
                           "i = maxpool(relu(x), 3)\n"
                           "z = concat(gap(p), gap(q), gap(r), gap(c), gap(v), gap(i))\n"
                           "return linear(flatten(z), classes)\n");
    if (!g)
        return;
    model *m[2];
    size_t bytes[2];
    if (!model_pair(g, "GEVO_NO_FUSE", m, bytes))
        goto out;
    int trains = 0, plain = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].op != NET_RELU)
            continue;
        CHECK(!m[0]->layers[i].pool_trains, "node %d swapped in training under GEVO_NO_FUSE", i);
        const model_layer *L = &m[1]->layers[i];
        if (L->pool_trains) {
            trains++;
            CHECK(L->dout == NULL && m[1]->layers[L->pool_relu].pool_trains, "node %d", i);
        } else
            plain++;
    }
    CHECK(trains == 4 && plain == 1, "%d relus swapped in training, %d not (want 4, 1)", trains,
          plain);
    CHECK(bytes[1] + 5 * 4 * 81 * sizeof(float) <= bytes[0],
          "the swapped model takes %zu bytes, the plain one %zu", bytes[1], bytes[0]);
    pair_steps_agree(g, m, "relu after its pool");
out:
    model_free(m[0]);
    model_free(m[1]);
    net_graph_free(g);
}

/* What the heap holds now, as the allocator counts it: the usable size of
 * every live allocation of the process. Under AddressSanitizer, its
 * allocator's count; otherwise this test program replaces malloc and its
 * kin by counting wrappers around glibc's own (the replacement glibc's
 * manual describes), so every allocation of every library is seen. */
#if defined(__SANITIZE_ADDRESS__)
static size_t heap_in_use(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_memalign(size_t align, size_t n);
extern void __libc_free(void *p);

static _Atomic size_t heap_bytes;

static void *counted(void *p)
{
    if (p)
        heap_bytes += malloc_usable_size(p);
    return p;
}

void *malloc(size_t n)
{
    return counted(__libc_malloc(n));
}

void *calloc(size_t n, size_t size)
{
    return counted(__libc_calloc(n, size));
}

void *realloc(void *p, size_t n)
{
    size_t old = p ? malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q || n == 0)
        heap_bytes -= old;
    return counted(q);
}

void free(void *p)
{
    if (p)
        heap_bytes -= malloc_usable_size(p);
    __libc_free(p);
}

void *aligned_alloc(size_t align, size_t n)
{
    return counted(__libc_memalign(align, n));
}

void *memalign(size_t align, size_t n)
{
    return counted(__libc_memalign(align, n));
}

int posix_memalign(void **out, size_t align, size_t n)
{
    void *p = counted(__libc_memalign(align, n));
    if (!p)
        return ENOMEM;
    *out = p;
    return 0;
}

static size_t heap_in_use(void)
{
    return heap_bytes;
}
#endif

/* model_plan_bytes is what model_new allocates: equal to the block it
 * reports, and what the heap grows by (measured by the allocator, so an
 * allocation the plan forgets shows), on the seed networks and on
 * programs that use every kind of layer, at several batches. */
static void test_memory_plan_is_exact(void)
{
    const char *generated[] = {
        net_src,
        "input x: 3x17x13\nclasses 5\n"
        "def se(x):\n    s = sigmoid(linear(relu(linear(gap(x), 4)), channels(x)))\n"
        "    return x * s\n"
        "x = hswish(batchnorm(conv(x, 12, k=3, stride=2, padding=same)))\n"
        "y = dwconv(x, k=5, dilation=2)\n"
        "x = concat(x, se(y), minpool(x, 3, stride=1, padding=1))\n"
        "x = avgpool(layernorm(x), 2, ceil=true)\n"
        "x = add(x, gelu(x), tanh(x))\n"
        "return linear(dropout(flatten(x), 0.3), classes)\n",
        "input x: 1x28x28\nclasses 10\nx = maxpool(silu(conv(x, 7, k=1, groups=1)), 4)\n"
        "return linear(flatten(x), classes, bias=false)\n",
    };
    const char *seeds[] = {"exquisitenetv2.net", "smallcnn.net", "quick.net"};
    const int batches[] = {2, 7, 64};
    ops_blas_init(); /* once per process: not the model's */
    int checked = 0;
    for (int k = 0; k < (int)(sizeof seeds / sizeof *seeds + sizeof generated / sizeof *generated);
         k++) {
        net_graph *g = NULL;
        net_error ne = {0};
        const char *what;
        if (k < 3) {
            char path[1024];
            snprintf(path, sizeof path, "%s/engine/nets/%s", harness_root(), seeds[k]);
            what = seeds[k];
            CHECK(net_compile_file(path, NULL, &g, &ne) == 0, "%s: %s", what, ne.base.msg);
        } else {
            what = generated[k - 3];
            g = compile(what);
        }
        if (!g)
            continue;
        for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
            gerr e = GERR_INIT;
            size_t plan = 0;
            CHECK(model_plan_bytes(g, batches[b], &plan, &e) == 0, "%.20s: %s", what, e.msg);
            size_t before = heap_in_use();
            model *m = model_new(g, batches[b], 1, &e);
            size_t after = heap_in_use();
            CHECK(m != NULL, "%.20s: %s", what, e.msg);
            if (!m)
                continue;
            CHECK(m->bytes == plan, "%.20s at batch %d: planned %zu bytes, the block has %zu", what,
                  batches[b], plan, m->bytes);
            /* the usable size rounds up a little (a mapping: to pages) */
            CHECK(after >= before + plan && after - before - plan <= 8192,
                  "%.20s at batch %d: planned %zu bytes, the heap grew by %zu", what, batches[b],
                  plan, after - before);
            checked++;
            model_free(m);
        }
        net_graph_free(g);
    }
    CHECK_EQ_INT(checked, 18);
}

static size_t heap_at_start;

static void note_heap_at_start(void *ctx, const train_event *ev)
{
    if (ev->kind == TRAIN_EV_START)
        heap_at_start = heap_in_use();
}

/* train_model_new refuses a training that needs more than the limit
 * before it allocates anything, naming both numbers; a batch larger than
 * the training set is capped at it; and what train_run allocates before
 * its first step is the plan's trainer_bytes (plus the data's views). */
static void test_training_memory(void)
{
    data_source d;
    gerr e = GERR_INIT;
    CHECK(data_load(&d, dir, NULL, &e) == 0, "%s", e.msg);
    net_graph *g = compile(net_src);
    if (!g)
        return;
    train_opts o;
    train_opts_default(&o);
    o.threads = 1;
    o.val = &d.val;
    net_train t = g->train; /* batch 32 */
    train_memory mem;
    o.max_memory = 100000;
    o.max_memory_what = "--max-memory";
    size_t before = heap_in_use();
    model *m = train_model_new(g, &t, &d.train, &o, &mem, &e);
    CHECK(m == NULL && heap_in_use() == before, "a model past the limit was allocated");
    CHECK(strstr(e.msg, "at batch 32, more than the limit of 98 KiB (--max-memory)") &&
              strstr(e.msg, "needs "),
          "message: %s", e.msg);
    model_free(m);

    /* 800 training images, 80 held out: a batch of 5000 is 720 */
    o.max_memory = 0;
    t.batch = 5000;
    m = train_model_new(g, &t, &d.train, &o, &mem, &e);
    CHECK(m != NULL, "%s", e.msg);
    if (m) {
        CHECK(t.batch == 720 && mem.batch == 720 && mem.model_batch == 720 && m->batch == 720,
              "batch %d, planned %d, model %d", t.batch, mem.batch, m->batch);
        CHECK(m->bytes == mem.model_bytes, "model %zu bytes, planned %zu", m->bytes,
              mem.model_bytes);
        CHECK(mem.bytes == mem.model_bytes + mem.trainer_bytes + mem.eval_bytes, "the sum");
        o.on_event = note_heap_at_start;
        train_result r;
        ops_set_threads(o.threads); /* OpenBLAS's own buffers are not the trainer's */
        before = heap_in_use();
        CHECK(train_run(m, &t, &d.train, &d.test, &o, &r) == 0, "%s", r.message);
        CHECK(r.batch == 720 && r.steps == t.epochs, "batch %d in %ld steps", r.batch, r.steps);
        size_t views = sizeof(int) * (720 + 80), grew = heap_at_start - before;
        CHECK(grew >= mem.trainer_bytes + views && grew - mem.trainer_bytes - views <= 8192,
              "trainer planned %zu bytes (+%zu of views), the heap grew by %zu", mem.trainer_bytes,
              views, grew);
        /* evaluation made a view per thread, as planned */
        size_t made = 0;
        for (int v = 0; v < MODEL_VIEWS; v++)
            made += m->views[v] ? m->views[v]->bytes : 0;
        CHECK(made == mem.eval_bytes && made > 0, "evaluation's views: planned %zu bytes, made %zu",
              mem.eval_bytes, made);
        train_result_release(&r);
    }
    model_free(m);
    CHECK(train_default_memory_limit() > 1e6, "default limit %g", train_default_memory_limit());
    net_graph_free(g);
    data_release(&d);
}

int main(void)
{
    if (harness_scratch(dir, sizeof dir, "train-test"))
        return SETUP_FAILED("no scratch folder in /tmp");
    harness_write_quadrants(dir, "train", 800, true, 1);
    harness_write_quadrants(dir, "t10k", 200, false, 2);
    RUN(test_data_loading);
    RUN(test_bad_data_files);
    RUN(test_learns_and_is_deterministic);
    RUN(test_divergence);
    RUN(test_time_limit_and_stop);
    RUN(test_weights_roundtrip);
    RUN(test_schedules);
    RUN(test_every_operator);
    RUN(test_bn_act_fusion);
    RUN(test_pool_relu);
    RUN(test_pool_relu_training);
    RUN(test_grad_share);
    RUN(test_memory_plan_is_exact);
    RUN(test_training_memory);
    harness_rmtree(dir);
    return harness_done();
}
