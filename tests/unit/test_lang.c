/* The gevo-net compiler: seed networks, the malformed corpus in
 * tests/lang/bad (each file's first line says "# expect: LINE: fragment"),
 * the good corpus in tests/lang/good, generated hostile inputs, the
 * canonical form, and the block scanner. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/base/text.h"
#include "engine/net.h"
#include "tests/harness.h"

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int compile_str(const char *src, net_graph **g, net_error *err)
{
    return net_compile(src, strlen(src), "test.net", NULL, g, err);
}

static void check_seed(const char *name, const char *input, long want)
{
    char rel[128];
    snprintf(rel, sizeof rel, "engine/nets/%s", name);
    char *path = path_join(harness_root(), rel);
    net_error err = {0};
    size_t len;
    char *src = NULL;
    CHECK(file_read(path, 1 << 20, &src, &len, &err.base) == 0, "%s", err.base.msg);
    if (src) {
        net_shape in, *inp = NULL;
        if (input && sscanf(input, "%dx%dx%d", &in.c, &in.h, &in.w) == 3)
            inp = &in;
        net_graph *g = NULL;
        int rc = net_compile_with_input(src, len, path, NULL, inp, &g, &err);
        CHECK(rc == 0, "%s: %s (line %d)", name, err.base.msg, err.line);
        if (g) {
            CHECK(g->params == want, "%s with input %s: %ld parameters, want %ld", name,
                  input ? input : "-", g->params, want);
            CHECK(g->nodes[g->output].shape.c == 10, "%s: output has %d classes", name,
                  g->nodes[g->output].shape.c);
        }
        net_graph_free(g);
    }
    free(src);
    free(path);
}

static void test_seed_parameter_counts(void)
{
    /* the PyTorch reference counts (../shared/reference/models.py) */
    check_seed("exquisitenetv2.net", NULL, 518230);
    check_seed("exquisitenetv2.net", "3x32x32", 518230);
    check_seed("exquisitenetv2.net", "1x28x28", 518126);
    check_seed("smallcnn.net", NULL, 421642);
    check_seed("quick.net", NULL, 14634);
}

static void run_corpus(const char *dirname, bool expect_ok, int *count)
{
    char *dir = path_join(harness_root(), dirname);
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    if (!d) {
        free(dir);
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l < 5 || strcmp(de->d_name + l - 4, ".net"))
            continue;
        char *path = path_join(dir, de->d_name);
        net_error err = {0};
        size_t len;
        char *src = NULL;
        CHECK(file_read(path, 1 << 20, &src, &len, &err.base) == 0, "%s", err.base.msg);
        if (!src) {
            free(path);
            continue;
        }
        (*count)++;
        net_graph *g = NULL;
        int rc = net_compile(src, len, de->d_name, NULL, &g, &err);
        if (expect_ok) {
            CHECK(rc == 0, "%s should compile: %s:%d: %s", de->d_name, err.file, err.line,
                  err.base.msg);
            long want;
            const char *pp = strstr(src, "# params: ");
            if (rc == 0 && pp && sscanf(pp, "# params: %ld", &want) == 1)
                CHECK(g->params == want, "%s: %ld parameters, want %ld", de->d_name, g->params,
                      want);
        } else {
            int line = 0, col = 0;
            char frag[200] = "";
            /* # expect: LINE: fragment, or LINE:COL: fragment */
            if (sscanf(src, "# expect: %d:%d: %199[^\n]", &line, &col, frag) != 3 &&
                sscanf(src, "# expect: %d: %199[^\n]", &line, frag) != 2) {
                CHECK(0, "%s: first line must be '# expect: LINE[:COL]: fragment'", de->d_name);
            } else {
                CHECK(rc != 0, "%s should fail with '%s'", de->d_name, frag);
                if (rc) {
                    CHECK(err.line == line, "%s: error on line %d, expected %d (%s)", de->d_name,
                          err.line, line, err.base.msg);
                    CHECK(!col || err.col == col, "%s: error at column %d, expected %d (%s)",
                          de->d_name, err.col, col, err.base.msg);
                    CHECK(strstr(err.base.msg, frag) != NULL, "%s: message '%s' lacks '%s'",
                          de->d_name, err.base.msg, frag);
                    CHECK(strcmp(err.file, de->d_name) == 0, "%s: error names file '%s'",
                          de->d_name, err.file);
                    /* the source line is shown on a terminal */
                    CHECK(text_is_safe(err.source, strlen(err.source), TEXT_TABS),
                          "%s: the error's source line is not safe to print", de->d_name);
                }
            }
        }
        net_graph_free(g);
        free(src);
        free(path);
    }
    closedir(d);
    free(dir);
}

static void test_malformed_corpus(void)
{
    int n = 0;
    run_corpus("tests/lang/bad", false, &n);
    CHECK(n >= 50, "only %d malformed programs", n);
}

static void test_good_corpus(void)
{
    int n = 0;
    run_corpus("tests/lang/good", true, &n);
    CHECK(n >= 5, "only %d good programs", n);
}

static const char *small =
    "input x: 1x28x28\nclasses 10\nx = relu(conv(x, 8, k=3))\nreturn linear(gap(x), classes)\n";

static void expect_error(const char *what, const char *src, size_t len, int line, const char *frag)
{
    net_graph *g = NULL;
    net_error err;
    int rc = net_compile(src, len, "gen.net", NULL, &g, &err);
    CHECK(rc != 0, "%s: compiled", what);
    if (rc) {
        CHECK(err.line == line, "%s: line %d, want %d (%s)", what, err.line, line, err.base.msg);
        CHECK(strstr(err.base.msg, frag) != NULL, "%s: '%s' lacks '%s'", what, err.base.msg, frag);
    }
    net_graph_free(g);
}

static void test_generated_hostile_inputs(void)
{
    expect_error("empty", "", 0, 0, "empty program");
    /* a 10 MB line: refused by size before anything is parsed */
    size_t big = 10u << 20;
    char *s = malloc(big);
    memset(s, 'a', big);
    memcpy(s, "x = ", 4);
    expect_error("10 MB line", s, big, 0, "more than the limit");
    free(s);
    /* binary garbage: every byte value, reported where it first appears */
    char garbage[600];
    int n = snprintf(garbage, sizeof garbage, "input x: 1x28x28\nclasses 10\n");
    for (int i = 0; i < 256; i++)
        garbage[n + i] = (char)(255 - i);
    expect_error("binary garbage", garbage, (size_t)n + 256, 3, "unexpected byte 0xff");
    char nul[] = "input x: 1x28x28\nclasses 10\nx = relu(x)\0\nreturn linear(gap(x), classes)\n";
    expect_error("NUL byte", nul, sizeof nul - 1, 3, "NUL byte");
    /* deep parentheses */
    char deep[1000];
    n = snprintf(deep, sizeof deep, "input x: 1x28x28\nclasses 10\nx = ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    deep[n++] = 'x';
    for (int i = 0; i < 100; i++)
        deep[n++] = ')';
    deep[n++] = '\n';
    expect_error("deep parentheses", deep, (size_t)n, 3, "nested more than");
    /* limits are configurable */
    net_limits lim;
    net_limits_default(&lim);
    lim.max_params = 100;
    net_graph *g = NULL;
    net_error err;
    CHECK(net_compile(small, strlen(small), "s", &lim, &g, &err) != 0,
          "params limit of 100 not enforced");
    CHECK(strstr(err.base.msg, "limit of 100 parameters") != NULL, "message: %s", err.base.msg);
    net_graph_free(g);
    g = NULL;
    lim.max_params = 20000000;
    lim.max_file_bytes = 10;
    CHECK(net_compile(small, strlen(small), "s", &lim, &g, &err) != 0,
          "file size limit not enforced");
    net_graph_free(g);
}

static void test_error_format(void)
{
    const char *src = "input x: 1x28x28\nclasses 10\nx = rleu(x)\nreturn linear(gap(x), classes)\n";
    net_graph *g = NULL;
    net_error err;
    CHECK(compile_str(src, &g, &err) != 0, "compiled");
    char buf[600];
    net_error_string(&err, buf, sizeof buf);
    CHECK(strcmp(buf, "test.net:3:5: unknown operator or block 'rleu'") == 0, "got '%s'", buf);
    CHECK(strcmp(err.hint, "did you mean relu()?") == 0, "hint '%s'", err.hint);
    CHECK(strcmp(err.source, "x = rleu(x)") == 0, "source '%s'", err.source);
    FILE *f = tmpfile();
    net_error_print(&err, f);
    rewind(f);
    char all[1000] = "";
    size_t r = fread(all, 1, sizeof all - 1, f);
    all[r] = 0;
    fclose(f);
    CHECK(strstr(all, "\n  x = rleu(x)\n      ^\n  hint: did you mean relu()?\n") != NULL,
          "printed:\n%s", all);
    /* a shape mismatch names both shapes */
    const char *bad = "input x: 1x28x28\nclasses 10\ny = maxpool(x, 2)\nx = add(x, y)\nreturn "
                      "linear(gap(x), classes)\n";
    CHECK(compile_str(bad, &g, &err) != 0, "compiled");
    CHECK(strstr(err.base.msg, "1x28x28") && strstr(err.base.msg, "1x14x14"), "msg '%s'",
          err.base.msg);
}

static void test_canonical_form(void)
{
    const char *a =
        "input x: 1x28x28\nclasses 10\n# a comment\ndef f(x, c=8):\n    return relu(conv(x, c, "
        "k=3))\n"
        "x = f(x)\nreturn linear(gap(x), classes)\ntrain lr=0.1 epochs=2 augment=flip,crop\n";
    const char *b = "input   x :1x28x28\r\n\r\nclasses 10\r\ndef f( x,c = 8 ) :\r\n\treturn relu( "
                    "conv(x,c,k=3) )  # why\r\n"
                    "x=f(x)\r\nreturn linear(gap(x),\r\n   classes)\r\ntrain epochs=2 "
                    "augment=crop,flip\r\n   lr=0.10\r\n";
    const char *c =
        "input x: 1x28x28\nclasses 10\ndef f(x, c=8):\n    return relu(conv(x, c, k=5))\n"
        "x = f(x)\nreturn linear(gap(x), classes)\ntrain lr=0.1 epochs=2\n";
    net_graph *ga = NULL, *gb = NULL, *gc = NULL;
    net_error err;
    CHECK(compile_str(a, &ga, &err) == 0, "a: %s", err.base.msg);
    CHECK(compile_str(b, &gb, &err) == 0, "b: line %d %s", err.line, err.base.msg);
    CHECK(compile_str(c, &gc, &err) == 0, "c: %s", err.base.msg);
    if (ga && gb && gc) {
        CHECK(ga->hash == gb->hash, "layout changed the hash:\n%s---\n%s", ga->canonical,
              gb->canonical);
        CHECK(ga->hash != gc->hash, "a different kernel kept the hash");
        CHECK(strstr(ga->canonical, "#") == NULL, "comment in canonical form");
        CHECK(strstr(ga->canonical, "train augment=crop,flip epochs=2 lr=0.1\n") != NULL,
              "train not sorted:\n%s", ga->canonical);
        /* the canonical form is itself a program with the same canonical form */
        net_graph *gr = NULL;
        CHECK(compile_str(ga->canonical, &gr, &err) == 0, "canonical does not compile: %s",
              err.base.msg);
        if (gr)
            CHECK(gr->hash == ga->hash, "canonical is not a fixed point");
        net_graph_free(gr);
        CHECK(ga->train.lr == 0.1 && ga->train.epochs == 2, "train section lost");
    }
    net_graph_free(ga);
    net_graph_free(gb);
    net_graph_free(gc);
}

static void test_language_features(void)
{
    const char *src =
        "input img: 3x32x32\n"
        "classes 100\n"
        "def se(x, r=4):\n"
        "    s = gap(x)\n"
        "    s = relu(linear(s, channels(s) // r))\n"
        "    s = sigmoid(linear(s, channels(x)))\n"
        "    return s * x\n"
        "def block(x, c): return se(relu(batchnorm(conv(x, c, k=3, padding=same, bias=False))))\n"
        "x = block(img, 32)\n"
        "y = conv(x, 32, 1, 1, 0)\n"
        "x = x + y + block(x, 32)\n"
        "x = concat(avgpool(x, 3, stride=2, padding=1), minpool(x, 3, 2, 1))\n"
        "x = conv(x, (32 + 32) * 2, k=3, stride=2, padding=1, dilation=1, groups=4)\n"
        "x = gelu(layernorm(x)) * tanh(hswish(silu(x)))\n"
        "x = dropout(flatten(gap(x)), p=0.2)\n"
        "return linear(x, classes, bias=true)\n"
        "train optimizer=adamw lr=3e-4 weight_decay=0.05 schedule=step step_size=2 gamma=0.5\n"
        "      warmup=100 epochs=4 batch=64 augment=flip,crop label_smoothing=0.1 clip=1.0 "
        "seed=7\n";
    net_graph *g = NULL;
    net_error err;
    int rc = compile_str(src, &g, &err);
    CHECK(rc == 0, "line %d col %d: %s", err.line, err.col, err.base.msg);
    if (!g)
        return;
    CHECK(g->classes == 100, "classes %d", g->classes);
    CHECK_EQ_INT(g->nodes[g->output].shape.c, 100);
    const net_train *t = &g->train;
    CHECK(t->optimizer == NET_OPT_ADAMW && t->schedule == NET_SCHED_STEP && t->step_size == 2,
          "train enums");
    CHECK(t->warmup == 100 && t->epochs == 4 && t->batch == 64 && t->flip && t->crop &&
              t->seed == 7,
          "train ints");
    CHECK(t->label_smoothing == 0.1 && t->clip == 1.0 && t->lr == 3e-4, "train floats");
    /* every node's inputs come before it */
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_in; j++)
            CHECK(g->nodes[i].in[j] < i, "node %d not topological", i);
    /* concat of two 32x16x16 pools -> 64 channels; grouped conv -> 128x8x8 */
    int found = 0;
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].op == NET_CONV && g->nodes[i].groups == 4) {
            found = 1;
            CHECK(g->nodes[i].shape.c == 128 && g->nodes[i].shape.h == 8,
                  "grouped conv shape %dx%dx%d", g->nodes[i].shape.c, g->nodes[i].shape.h,
                  g->nodes[i].shape.w);
            CHECK_EQ_INT(g->nodes[i].params, 128 * 16 * 9 + 128);
        }
    CHECK(found, "grouped conv missing");
    net_graph_free(g);
}

static void test_dead_lines_are_pruned(void)
{
    const char *src =
        "input x: 1x28x28\nclasses 10\nunused = conv(x, 64, k=3)\nreturn linear(gap(x), classes)\n";
    net_graph *g = NULL;
    net_error err;
    CHECK(compile_str(src, &g, &err) == 0, "%s", err.base.msg);
    if (g) {
        CHECK_EQ_INT(g->params, 1 * 10 + 10);
        CHECK_EQ_INT(g->n_nodes, 3);
    }
    net_graph_free(g);
}

static void test_pool_ceil_sizes(void)
{
    /* PyTorch: MaxPool2d(2, ceil_mode=True) on 7 -> 4; on 1 -> 1;
       MaxPool2d(3, 2, padding=1, ceil_mode=True) on 8 -> 5; MaxPool2d(2, 2,
       padding=1, ceil_mode=True) on 5 -> 3, as its 4th window would start in
       the right padding (all checked with PyTorch 1.13). */
    struct {
        const char *in, *call;
        int want;
    } cases[] = {
        {"1x7x7", "maxpool(x, 2, ceil=true)", 4},
        {"1x1x1", "maxpool(x, 2, ceil=true)", 1},
        {"1x8x8", "maxpool(x, 3, stride=2, padding=1, ceil=true)", 5},
        {"1x5x5", "maxpool(x, 2, stride=2, padding=1, ceil=true)", 3},
        {"1x32x32", "avgpool(x, 3, stride=2, padding=1, ceil=true)", 17},
        {"1x7x7", "maxpool(x, 2)", 3},
        {"1x9x9", "avgpool(x, 3, stride=2, padding=1, ceil=true)", 5},
        {"1x10x10", "conv(x, 1, k=3, stride=3, dilation=2)", 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char src[300];
        snprintf(src, sizeof src,
                 "input x: %s\nclasses 10\ny = %s\nreturn linear(flatten(y), classes)\n",
                 cases[i].in, cases[i].call);
        net_graph *g = NULL;
        net_error err;
        CHECK(compile_str(src, &g, &err) == 0, "%s: %s", cases[i].call, err.base.msg);
        if (g)
            CHECK(g->nodes[1].shape.h == cases[i].want, "%s on %s: %d, want %d", cases[i].call,
                  cases[i].in, g->nodes[1].shape.h, cases[i].want);
        net_graph_free(g);
    }
}

static void test_list_blocks(void)
{
    const char *src = "input x: 1x28x28\nclasses 10\n\ndef a(x):\n    y = relu(x)\n\n    return y\n"
                      "# between\ndef   bee(x, c): return conv(x, c)\nx = a(x)\n";
    net_block b[4];
    int n = net_list_blocks(src, strlen(src), b, 4);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK(!strcmp(b[0].name, "a") && b[0].first_line == 4 && b[0].last_line == 7, "a: %s %d-%d",
              b[0].name, b[0].first_line, b[0].last_line);
        CHECK(!strcmp(b[1].name, "bee") && b[1].first_line == 9 && b[1].last_line == 9,
              "bee: %s %d-%d", b[1].name, b[1].first_line, b[1].last_line);
    }
}

/* Every input the fuzzer ever crashed on must now give a graph or an
 * error with a message. */
static void test_fuzz_regressions(void)
{
    char *dir = path_join(harness_root(), "tests/lang/regress");
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot open %s", dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || !strcmp(de->d_name, "README"))
            continue;
        char *path = path_join(dir, de->d_name);
        net_graph *g = NULL;
        net_error err;
        if (net_compile_file(path, NULL, &g, &err) != 0)
            CHECK(err.base.msg[0] != 0, "%s: failed without a message", de->d_name);
        net_graph_free(g);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
}

int main(void)
{
    RUN(test_seed_parameter_counts);
    RUN(test_malformed_corpus);
    RUN(test_good_corpus);
    RUN(test_generated_hostile_inputs);
    RUN(test_error_format);
    RUN(test_canonical_form);
    RUN(test_language_features);
    RUN(test_dead_lines_are_pruned);
    RUN(test_pool_ceil_sizes);
    RUN(test_list_blocks);
    RUN(test_fuzz_regressions);
    return harness_done();
}
