/* The PyTorch exporter's generator without PyTorch: the shape of model.py
 * (classes per block, constructor arguments, names), the state_dict names
 * of the layers, what it refuses, and the .npz container. That the module
 * computes what gevo computes is tests/sh/test_export.sh's job (torch). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "core/export_torch.h"
#include "core/npz.h"
#include "engine/base/file.h"
#include "engine/model.h"
#include "tests/harness.h"

static const net_shape mnist = {1, 28, 28};
static const float mean[3] = {0.5f, 0.5f, 0.5f}, stdv[3] = {0.25f, 0.25f, 0.25f};

/* Generates model.py for src; returns -1 with the message in err. */
static int gen(const char *src, export_torch_module *m, net_graph **gp, gerr *err)
{
    net_graph *g = NULL;
    net_syntax *syn = NULL;
    net_error ne;
    *gp = NULL;
    if (net_compile_syntax(src, strlen(src), "t.net", NULL, &mnist, &g, &syn, &ne)) {
        gerr_set(err, "compile: %s", ne.base.msg);
        return -1;
    }
    int rc = export_torch_generate(syn, g, src, strlen(src), mean, stdv, NULL, m, err);
    net_syntax_free(syn);
    if (rc)
        net_graph_free(g);
    else
        *gp = g;
    return rc;
}

static char *read_seed(const char *name)
{
    char path[512], *src = NULL;
    snprintf(path, sizeof path, "%s/engine/nets/%s", harness_root(), name);
    gerr err = GERR_INIT;
    if (file_read(path, 1 << 20, &src, NULL, &err))
        return NULL;
    return src;
}

/* Every layer with parameters or running statistics has a name, no two
 * the same, and no other layer has one. */
static void check_names(const net_graph *g, const export_torch_module *m, const char *what)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const net_node *nd = &g->nodes[i];
        bool state = nd->params > 0 || nd->op == NET_BATCHNORM;
        CHECK(!m->names[i] == !state, "%s: node %d (%s) named '%s'", what, i, net_op_name(nd->op),
              m->names[i] ? m->names[i] : "(none)");
        for (int j = 0; j < i; j++)
            if (m->names[i] && m->names[j])
                CHECK(strcmp(m->names[i], m->names[j]), "%s: '%s' twice", what, m->names[i]);
    }
}

static void test_exquisitenet_reads_like_the_genome(void)
{
    char *src = read_seed("exquisitenetv2.net");
    CHECK(src, "exquisitenetv2.net not found");
    if (!src)
        return;
    export_torch_module m;
    net_graph *g;
    gerr err = GERR_INIT;
    CHECK(gen(src, &m, &g, &err) == 0, "%s", err.msg);
    if (g) {
        const char *want[] = {
            "class SeLn(nn.Module):",
            "class Dfseb(nn.Module):",
            "    def __init__(self, x, c):",
            "        self.se_ln = SeLn(x)",
            "        self.dfseb_5 = Dfseb(x, 384)",
            "        self.minpool = MinPool2d(2, ceil_mode=True)",
            "        self.dwconv = nn.Conv2d(x, x, 4, stride=2, padding=1, groups=x, bias=False)",
            "        y = a + b + d",
            "        x = self.se_ln(self.dwconv_1(x)) + y",
            "        return self.linear(self.dropout(gap(x))).flatten(1)",
            "MEAN = [0.5]",
            "def load(weights=None):",
        };
        for (size_t i = 0; i < sizeof want / sizeof *want; i++)
            CHECK(strstr(m.py, want[i]), "model.py lacks: %s", want[i]);
        CHECK(!strstr(m.py, "?"), "a placeholder in model.py");
        CHECK(!strstr(m.py, "        s = x\n"), "a constructor line nothing reads");
        check_names(g, &m, "exquisitenetv2");
        int named = 0;
        for (int i = 0; i < g->n_nodes; i++)
            if (m.names[i] && !strcmp(m.names[i], "dfseb_3.se_ln.layernorm"))
                named++;
        CHECK(named == 1, "dfseb_3.se_ln.layernorm named %d times", named);
        export_torch_module_release(&m);
        net_graph_free(g);
    }
    free(src);
}

static void test_every_seed_is_named(void)
{
    const char *seeds[] = {"quick.net", "smallcnn.net", "exquisitenetv2.net"};
    for (size_t k = 0; k < 3; k++) {
        char *src = read_seed(seeds[k]);
        CHECK(src, "%s not found", seeds[k]);
        export_torch_module m;
        net_graph *g;
        gerr err = GERR_INIT;
        if (src && gen(src, &m, &g, &err) == 0) {
            check_names(g, &m, seeds[k]);
            export_torch_module_release(&m);
            net_graph_free(g);
        } else {
            CHECK(0, "%s: %s", seeds[k], err.msg);
        }
        free(src);
    }
}

/* A parameter that is a tensor in one call and a number in another has
 * no one constructor argument: refused, naming the block and parameter. */
/* The export refuses src (what it is) with a message naming a and b. */
static void refused(const char *src, const char *what, const char *a, const char *b)
{
    export_torch_module m;
    net_graph *g;
    gerr err = GERR_INIT;
    CHECK(gen(src, &m, &g, &err) == -1, "exported %s", what);
    CHECK(strstr(err.msg, a) && strstr(err.msg, b), "message: %s", err.msg);
}

static void test_mixed_parameter_refused(void)
{
    refused("input x: 1x28x28\nclasses 10\n"
            "def f(x, y): return x\n"
            "a = f(x, x)\nb = f(conv(a, 4), 3)\n"
            "return linear(gap(b), classes)\n",
            "a block whose parameter changes kind", "block 'f'", "parameter 'y'");
}

static void test_flatten_of_two_sizes_refused(void)
{
    refused("input x: 1x28x28\nclasses 10\n"
            "def h(x): return flatten(x)\n"
            "a = h(x)\nb = h(maxpool(x))\n"
            "return linear(concat(a, b), classes)\n",
            "flatten of two sizes in one class", "flatten()", "line 3");
}

/* Dead lines make no layer; a dead block call whose channels are read is
 * instantiated only to read them; a block nothing calls (with an error
 * in it) is left out; Python's words are renamed. */
static void test_dead_lines_and_names(void)
{
    const char *src = "input lambda: 1x28x28\nclasses 10\n"
                      "def f(x): return conv(x, 8, k=1)\n"
                      "def never(x): return add(x, maxpool(x))\n"
                      "y = f(lambda)\n"
                      "unused = conv(lambda, 99, k=3)\n"
                      "z = conv(lambda, channels(y), k=1)\n"
                      "return linear(gap(z), classes)\n";
    export_torch_module m;
    net_graph *g;
    gerr err = GERR_INIT;
    CHECK(gen(src, &m, &g, &err) == 0, "%s", err.msg);
    if (!g)
        return;
    CHECK(strstr(m.py, "def forward(self, lambda_):"), "the input is not renamed");
    CHECK(strstr(m.py, "(lambda_).out_channels") || strstr(m.py, "lambda_).out_channels"),
          "the dead call's channels are not read from a thrown-away instance");
    const char *code = strstr(m.py, "\nimport os\n"); /* after the genome's docstring */
    CHECK(code && !strstr(code, "99"), "a dead layer is in model.py");
    CHECK(code && !strstr(code, "never") && !strstr(code, "Never"),
          "an uncalled block is in model.py");
    check_names(g, &m, "dead lines");
    export_torch_module_release(&m);
    net_graph_free(g);
}

/* The weights of another program are refused, and nothing is written. */
static void test_foreign_weights_refused(void)
{
    char dir[] = "/tmp/gevo-export-XXXXXX";
    CHECK(mkdtemp(dir), "mkdtemp");
    char wpath[600], out[600];
    snprintf(wpath, sizeof wpath, "%s/w.bin", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    const char *a = "input x: 1x28x28\nclasses 10\nreturn linear(flatten(x), classes)\n";
    const char *b = "input x: 1x28x28\nclasses 10\nreturn linear(flatten(x), classes, bias=false)\n"
                    "# same sizes, another program\n";
    net_graph *g = NULL;
    net_error ne;
    gerr merr = GERR_INIT;
    CHECK(net_compile_with_input(a, strlen(a), "a", NULL, &mnist, &g, &ne) == 0, "%s", ne.base.msg);
    model *m = g ? model_new(g, 2, 1, &merr) : NULL;
    CHECK(m && model_save(m, wpath, &merr) == 0, "%s", merr.msg);
    model_free(m);
    net_graph_free(g);
    gerr err = GERR_INIT;
    CHECK(export_torch_write(out, b, strlen(b), wpath, NULL, &err) == -1,
          "exported with another program's weights");
    CHECK(strstr(err.msg, "w.bin"), "message: %s", err.msg);
    char probe[700];
    snprintf(probe, sizeof probe, "%s/model.py", out);
    FILE *f = fopen(probe, "r");
    CHECK(!f, "model.py written after a failure");
    if (f)
        fclose(f);
    CHECK(export_torch_write(out, a, strlen(a), wpath, NULL, &err) == 0, "%s", err.msg);
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    CHECK(system(cmd) == 0, "cleanup");
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static unsigned le16(const unsigned char *p)
{
    return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* A zip that numpy reads: the directory where the end record says, each
 * member where the directory says, with its CRC, and .npy headers whose
 * data start on a 64-byte boundary. */
static void test_npz_container(void)
{
    char path[] = "/tmp/gevo-npz-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    close(fd);
    float w[6] = {1, 2, 3, 4, 5, 6};
    long shape[2] = {2, 3};
    npz_writer z;
    gerr err = GERR_INIT;
    CHECK(npz_open(&z, path, &err) == 0, "%s", err.msg);
    npz_add_f32(&z, "conv.weight", shape, 2, w);
    npz_add_i64(&z, "bn.num_batches_tracked", 7);
    CHECK(npz_close(&z, &err) == 0, "%s", err.msg);
    char *buf = NULL;
    size_t n = 0;
    CHECK(file_read(path, 1 << 20, &buf, &n, &err) == 0, "%s", err.msg);
    unlink(path);
    if (!buf || n < 22)
        return;
    const unsigned char *d = (const unsigned char *)buf, *end = d + n - 22;
    CHECK(le32(end) == 0x06054b50, "no end record at the end");
    CHECK(le16(end + 10) == 2, "%u entries", le16(end + 10));
    uint32_t cd_size = le32(end + 12), cd_off = le32(end + 16);
    CHECK(cd_off + cd_size == n - 22, "directory %u+%u, end record at %zu", cd_off, cd_size,
          n - 22);
    const unsigned char *c = d + cd_off;
    for (int k = 0; k < 2 && c < end; k++) {
        CHECK(le32(c) == 0x02014b50, "entry %d: not a directory entry", k);
        uint32_t crc = le32(c + 16), size = le32(c + 20), off = le32(c + 42);
        unsigned nlen = le16(c + 28);
        const unsigned char *l = d + off;
        CHECK(le32(l) == 0x04034b50, "entry %d: no local header at %u", k, off);
        const unsigned char *data = l + 30 + le16(l + 26) + le16(l + 28);
        CHECK(crc32(0, data, size) == crc, "entry %d: CRC", k);
        CHECK(!memcmp(data, "\x93NUMPY\x01\x00", 8), "entry %d: not .npy", k);
        unsigned hlen = le16(data + 8);
        CHECK((10 + hlen) % 64 == 0, "entry %d: data at %u", k, 10 + hlen);
        if (k == 0) {
            CHECK(!memcmp(c + 46, "conv.weight.npy", nlen), "entry name");
            CHECK(strstr((const char *)data + 10, "'descr': '<f4'") &&
                      strstr((const char *)data + 10, "'shape': (2, 3), }"),
                  "header: %.60s", data + 10);
            CHECK(!memcmp(data + 10 + hlen, w, sizeof w), "data");
        } else {
            CHECK(strstr((const char *)data + 10, "'<i8'") &&
                      strstr((const char *)data + 10, "'shape': ()"),
                  "scalar header: %.60s", data + 10);
        }
        c += 46 + nlen;
    }
    free(buf);
}

int main(void)
{
    RUN(test_exquisitenet_reads_like_the_genome);
    RUN(test_every_seed_is_named);
    RUN(test_mixed_parameter_refused);
    RUN(test_flatten_of_two_sizes_refused);
    RUN(test_dead_lines_and_names);
    RUN(test_foreign_weights_refused);
    RUN(test_npz_container);
    return harness_done();
}
