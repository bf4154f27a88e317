/* Evaluation in pieces (engine/model_eval.c): each piece of a batch goes
 * through the whole network in a view of the model whose buffers are
 * planned by liveness (plan_view). Checked against the whole batch at
 * once (GEVO_EVAL_PIECE=0) on networks with every way evaluation reads
 * across nodes (aliases, batch norms that compute their activation, relus
 * run by the pool after them, concat, add, mul, residuals); a wrong plan
 * (two live buffers in one place) changes the logits far more than the
 * rounding allowed here. A piece's numbers are the same bits on one thread
 * and on two, and the same as its images evaluated alone. */
#include "engine/model.h"
#include "engine/net.h"
#include "engine/ops.h"
#include "tests/harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BATCH 40

static const char *nets[] = {
    "input x: 1x8x8\nclasses 4\n"
    "def block(x, c):\n    return relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))\n"
    "x = maxpool(block(x, 8), 2)\n"
    "y = x + block(x, 8)\n"
    "s = sigmoid(linear(gap(y), 8))\n"
    "return linear(dropout(flatten(y * s), 0.1), classes)\n",
    "input x: 3x17x13\nclasses 5\n"
    "def se(x):\n    s = sigmoid(linear(relu(linear(gap(x), 4)), channels(x)))\n"
    "    return x * s\n"
    "x = hswish(batchnorm(conv(x, 12, k=3, stride=2, padding=same)))\n"
    "y = dwconv(x, k=5, dilation=2)\n"
    "x = concat(x, se(y), minpool(relu(x), 3, stride=1, padding=1))\n"
    "x = avgpool(layernorm(x), 2, ceil=true)\n"
    "x = add(x, gelu(x), tanh(x))\n"
    "return linear(dropout(flatten(x), 0.3), classes)\n",
    "input x: 2x9x9\nclasses 3\n"
    "r = relu(conv(x, 4, k=3, padding=1))\n"
    "s = tanh(conv(x, 4, k=3, padding=1))\n"
    "p = maxpool(r, 2) + maxpool(s, 2)\n"
    "q = minpool(relu(conv(x, 4, k=3, padding=1)), 2)\n"
    "b = maxpool(relu(batchnorm(conv(x, 4, k=1))), 2)\n"
    "return linear(flatten(concat(p, q, b) + concat(b, p, q)), classes)\n",
};

/* A seed network of engine/nets on 1x28x28 images. */
static net_graph *compile_seed(const char *file)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/engine/nets/%s", harness_root(), file);
    net_graph *g = NULL;
    net_error ne = {0};
    net_shape in = {1, 28, 28};
    char *src = NULL;
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "%s: cannot open", path);
    if (!f)
        return NULL;
    src = malloc(1 << 16);
    size_t len = src ? fread(src, 1, 1 << 16, f) : 0;
    fclose(f);
    CHECK(src && net_compile_with_input(src, len, file, NULL, &in, &g, &ne) == 0, "%s: %s", file,
          ne.base.msg);
    free(src);
    return g;
}

static net_graph *compile(const char *src)
{
    net_graph *g = NULL;
    net_error ne = {0};
    CHECK(net_compile(src, strlen(src), "t.net", NULL, &g, &ne) == 0, "compile: %s", ne.base.msg);
    return g;
}

/* A model of g at BATCH images whose batch norms have running statistics
 * of their own (one training pass), with input images that differ. */
static model *trained_model(const net_graph *g)
{
    gerr e = GERR_INIT;
    model *m = model_new(g, BATCH, 7, &e);
    CHECK(m != NULL, "model: %s", e.msg);
    if (!m)
        return NULL;
    float *x = model_input(m);
    long size = m->layers[0].size;
    for (long i = 0; i < BATCH * size; i++)
        x[i] = (float)((i * 7919) % 31) / 15.0f - 1.0f;
    model_forward(m, BATCH, true);
    return m;
}

static int classes_of(const model *m)
{
    return (int)m->layers[m->g->output].size;
}

/* n images' logits, evaluated with GEVO_EVAL_PIECE as piece ("" unset) */
static void evaluate(model *m, int n, const char *piece, float *logits)
{
    if (*piece)
        setenv("GEVO_EVAL_PIECE", piece, 1);
    else
        unsetenv("GEVO_EVAL_PIECE");
    m->piece = 0; /* read the setting again */
    memcpy(logits, model_forward(m, n, false), sizeof(float) * (size_t)(n * classes_of(m)));
    unsetenv("GEVO_EVAL_PIECE");
}

static void check_close(const float *a, const float *b, long n, const char *what)
{
    double scale = 0, worst = 0;
    for (long i = 0; i < n; i++)
        scale = fmax(scale, fabs(a[i]));
    for (long i = 0; i < n; i++)
        worst = fmax(worst, fabs(a[i] - b[i]));
    CHECK(scale > 0, "%s: the logits are all zero", what);
    CHECK(worst <= 1e-5 * (1 + scale), "%s: pieces differ from the whole batch by %g (scale %g)",
          what, worst, scale);
}

static void pieces_match_whole(const net_graph *g, const char *what)
{
    model *m = trained_model(g);
    if (!m)
        return;
    int k = classes_of(m);
    float *whole = malloc(sizeof(float) * BATCH * (size_t)k),
          *piece = malloc(sizeof(float) * BATCH * (size_t)k);
    const int counts[] = {BATCH, 37, 16, 3};
    const char *pieces[] = {"", "2", "5", "64"};
    for (size_t c = 0; c < sizeof counts / sizeof *counts; c++) {
        evaluate(m, counts[c], "0", whole);
        CHECK(c > 0 || m->views[0] == NULL, "%s: GEVO_EVAL_PIECE=0 made a view", what);
        for (size_t p = 0; p < sizeof pieces / sizeof *pieces; p++) {
            char label[160];
            snprintf(label, sizeof label, "%.40s, %d images, piece '%s'", what, counts[c],
                     pieces[p]);
            for (int t = 0; t < MODEL_VIEWS; t++) { /* views of this piece size */
                model_free(m->views[t]);
                m->views[t] = NULL;
            }
            evaluate(m, counts[c], pieces[p], piece);
            CHECK(m->views[0] != NULL, "%s: no view", label);
            check_close(whole, piece, (long)counts[c] * k, label);
        }
    }
    const model *v = m->views[0];
    CHECK(v && v->params == m->params && v->buffers == m->buffers && v->bytes < m->bytes,
          "%s: the view does not borrow the parameters or is as large as its model", what);
    free(whole);
    free(piece);
    model_free(m);
}

static void test_pieces_match_whole(void)
{
    for (size_t i = 0; i < sizeof nets / sizeof *nets; i++) {
        net_graph *g = compile(nets[i]);
        if (g)
            pieces_match_whole(g, nets[i]);
        net_graph_free(g);
    }
    const char *seeds[] = {"exquisitenetv2.net", "smallcnn.net", "quick.net"};
    for (size_t i = 0; i < sizeof seeds / sizeof *seeds; i++) {
        net_graph *g = compile_seed(seeds[i]);
        if (g)
            pieces_match_whole(g, seeds[i]);
        net_graph_free(g);
    }
}

/* The pieces of 37 images (16, 16, 5) give the same bits on one and two
 * threads, and the last piece the same bits as its 5 images alone. */
static void test_pieces_are_fixed(void)
{
    net_graph *g = compile_seed("exquisitenetv2.net");
    model *m = g ? trained_model(g) : NULL;
    if (!m) {
        net_graph_free(g);
        return;
    }
    int k = classes_of(m);
    long size = m->layers[0].size;
    float one[37 * 10], two[37 * 10], alone[5 * 10];
    CHECK_EQ_INT(k, 10);
    ops_set_threads(1);
    evaluate(m, 37, "16", one);
    ops_set_threads(2);
    evaluate(m, 37, "16", two);
    CHECK(!memcmp(one, two, sizeof(float) * 37 * 10), "one thread and two give other numbers");
    float *x = model_input(m);
    memmove(x, x + 32 * size, sizeof(float) * 5 * (size_t)size);
    evaluate(m, 5, "16", alone);
    CHECK(!memcmp(alone, one + 32 * 10, sizeof alone),
          "the last piece's images alone give other numbers");
    ops_set_threads(1);
    model_free(m);
    net_graph_free(g);
}

int main(void)
{
    RUN(test_pieces_match_whole);
    RUN(test_pieces_are_fixed);
    return harness_done();
}
