/* The offline proposer: 1,000 random mutations in a row of every seed
 * network and every good language example compile and differ from their
 * parent; a chain of mutations stays valid; the same seed gives the same
 * mutation; every kind of edit happens; genes can be targeted; the gene
 * swap crossover works. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mutate.h"
#include "engine/base/file.h"
#include "engine/net.h"
#include "tests/harness.h"

static uint64_t hash_of(const char *src, long *params)
{
    net_graph *g = NULL;
    net_error e;
    if (net_compile(src, strlen(src), "t", NULL, &g, &e))
        return 0;
    uint64_t h = g->hash;
    if (params)
        *params = g->params;
    net_graph_free(g);
    return h;
}

/* every .net of a folder */
static int list_nets(const char *dir, char paths[][512], int max)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < max) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".net"))
            snprintf(paths[n++], 512, "%s/%.200s", dir, e->d_name);
    }
    closedir(d);
    return n;
}

static int kinds_seen[16];
static const char *kind_names[] = {"width",   "kernel",     "stride",    "parameter",
                                   "dropout", "activation", "residual+", "residual-",
                                   "se+",     "se-",        "train"};

static void note_kind(const char *k)
{
    for (int i = 0; i < 11; i++)
        if (!strcmp(k, kind_names[i]))
            kinds_seen[i]++;
}

static void thousand(const char *path)
{
    char *src = harness_slurp(path, NULL);
    CHECK(src != NULL, "read %s", path);
    if (!src)
        return;
    uint64_t ph = hash_of(src, NULL);
    CHECK(ph != 0, "%s compiles", path);
    int ok = 0;
    for (uint64_t seed = 1; seed <= 1000; seed++) {
        mutate_result r;
        gerr err = GERR_INIT;
        if (mutate_random(src, NULL, seed, NULL, NULL, &r, &err)) {
            CHECK(0, "%s seed %llu: %s", path, (unsigned long long)seed, err.msg);
            break;
        }
        uint64_t h = hash_of(r.source, NULL);
        if (h == 0 || h == ph || h != r.hash) {
            CHECK(0, "%s seed %llu: invalid or unchanged (%s)", path, (unsigned long long)seed,
                  r.rationale);
            mutate_result_release(&r);
            break;
        }
        if (strncmp(r.rationale, MUTATE_LABEL ": ", strlen(MUTATE_LABEL) + 2) ||
            strchr(r.rationale, '\n') || !r.gene[0]) {
            CHECK(0, "%s: rationale '%s' gene '%s'", path, r.rationale, r.gene);
            mutate_result_release(&r);
            break;
        }
        note_kind(r.kind);
        ok++;
        mutate_result_release(&r);
    }
    CHECK_EQ_INT(ok, 1000);
    free(src);
}

/* thousand() on every program of the folder sub (at least min of them) */
static void thousand_each(const char *sub, int min)
{
    char dir[1024], paths[64][512];
    snprintf(dir, sizeof dir, "%s/%s", harness_root(), sub);
    int n = list_nets(dir, paths, 64);
    CHECK(n >= min, "programs found in %s: %d", dir, n);
    for (int i = 0; i < n; i++)
        thousand(paths[i]);
}

static void test_thousand_seeds(void)
{
    thousand_each("engine/nets", 3);
}

static void test_thousand_lang_good(void)
{
    thousand_each("tests/lang/good", 5);
}

static void test_every_kind_happens(void)
{
    for (int i = 0; i < 11; i++)
        CHECK(kinds_seen[i] > 0, "no mutation of kind %s in all those draws", kind_names[i]);
}

/* mutations of mutations: the text stays something the scanner handles */
static void test_chain(void)
{
    char path[1024];
    const char *nets[] = {"engine/nets/quick.net", "engine/nets/exquisitenetv2.net",
                          "tests/lang/good/one-liners.net", "tests/lang/good/classes-eq.net"};
    for (size_t k = 0; k < sizeof nets / sizeof *nets; k++) {
        snprintf(path, sizeof path, "%s/%s", harness_root(), nets[k]);
        char *src = harness_slurp(path, NULL);
        CHECK(src != NULL, "%s", path);
        int steps = 0;
        for (uint64_t seed = 1; src && seed <= 150; seed++) {
            mutate_result r;
            gerr err = GERR_INIT;
            if (mutate_random(src, NULL, seed * 7919, NULL, NULL, &r, &err)) {
                CHECK(0, "%s step %llu: %s\n%s", nets[k], (unsigned long long)seed, err.msg, src);
                break;
            }
            free(src);
            src = r.source;
            steps++;
        }
        CHECK_EQ_INT(steps, 150);
        free(src);
    }
}

static void test_deterministic(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/engine/nets/exquisitenetv2.net", harness_root());
    char *src = harness_slurp(path, NULL);
    CHECK(src != NULL, "read");
    if (!src)
        return;
    int differ = 0;
    for (uint64_t seed = 1; seed <= 50; seed++) {
        mutate_result a, b, c;
        gerr err = GERR_INIT;
        CHECK(mutate_random(src, NULL, seed, NULL, NULL, &a, &err) == 0, "%s", err.msg);
        CHECK(mutate_random(src, NULL, seed, NULL, NULL, &b, &err) == 0, "%s", err.msg);
        CHECK(mutate_random(src, NULL, seed + 1000, NULL, NULL, &c, &err) == 0, "%s", err.msg);
        if (a.source && b.source) {
            CHECK(!strcmp(a.source, b.source), "seed %llu twice: different programs",
                  (unsigned long long)seed);
            CHECK(!strcmp(a.rationale, b.rationale), "same rationale");
        }
        if (a.source && c.source && strcmp(a.source, c.source))
            differ++;
        mutate_result_release(&a);
        mutate_result_release(&b);
        mutate_result_release(&c);
    }
    CHECK(differ > 40, "other seeds give other mutations (%d of 50)", differ);
    free(src);
}

static void test_target_gene(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/engine/nets/quick.net", harness_root());
    char *src = harness_slurp(path, NULL);
    REQUIRE(src, "read");
    net_block b[8];
    int nb = net_list_blocks(src, strlen(src), b, 8);
    for (uint64_t seed = 1; seed <= 100; seed++) {
        mutate_result r;
        gerr err = GERR_INIT;
        const char *gene = seed % 3 == 0 ? "block" : seed % 3 == 1 ? MUTATE_GENE_TRAIN : "stem";
        CHECK(mutate_random(src, gene, seed, NULL, NULL, &r, &err) == 0, "%s: %s", gene, err.msg);
        if (!r.source)
            continue;
        CHECK(!strcmp(r.gene, gene), "asked %s, touched %s", gene, r.gene);
        /* the other blocks are untouched */
        net_block nbk[16];
        int n2 = net_list_blocks(r.source, strlen(r.source), nbk, 16);
        for (int i = 0; i < nb; i++) {
            if (!strcmp(b[i].name, gene))
                continue;
            for (int j = 0; j < n2; j++) {
                if (strcmp(nbk[j].name, b[i].name))
                    continue;
                int la = b[i].last_line - b[i].first_line,
                    lb = nbk[j].last_line - nbk[j].first_line;
                CHECK(la == lb, "gene %s changed when %s was asked", b[i].name, gene);
            }
        }
        if (!strcmp(gene, MUTATE_GENE_TRAIN))
            CHECK(!strcmp(r.kind, "train"), "train gene, kind %s", r.kind);
        mutate_result_release(&r);
    }
    mutate_result r;
    gerr err = GERR_INIT;
    CHECK(mutate_random(src, "nope", 1, NULL, NULL, &r, &err) == -1, "unknown gene");
    CHECK(strstr(err.msg, "no gene `nope`") && strstr(err.msg, "stem"), "%s", err.msg);
    CHECK(mutate_random("input x: 1x2\n", NULL, 1, NULL, NULL, &r, &err) == -1, "bad parent");
    CHECK(strstr(err.msg, "does not compile") != NULL, "%s", err.msg);
    free(src);
}

static void test_specific_edits(void)
{
    /* residual and SE on a shape-preserving block; the texts show up */
    const char *src = "input x: 1x28x28\nclasses 10\n\n"
                      "def body(x, c):\n"
                      "    y = relu(batchnorm(conv(x, c, k=3, padding=1, bias=false)))\n"
                      "    return batchnorm(conv(y, c, k=3, padding=1, bias=false))\n\n"
                      "x = relu(conv(x, 8, k=3, padding=1))\n"
                      "x = body(x, 8)\n"
                      "return linear(gap(x), classes)\n";
    int res = 0, se = 0, kern = 0;
    for (uint64_t seed = 1; seed <= 300; seed++) {
        mutate_result r;
        gerr err = GERR_INIT;
        if (mutate_random(src, "body", seed, NULL, NULL, &r, &err)) {
            CHECK(0, "%s", err.msg);
            break;
        }
        if (!strcmp(r.kind, "residual+")) {
            res++;
            CHECK(strstr(r.source, "    skip = x\n") && strstr(r.source, ", skip)"), "%s",
                  r.source);
        }
        if (!strcmp(r.kind, "se+")) {
            se++;
            CHECK(strstr(r.source, "return se_gevo(batchnorm") ||
                      strstr(r.source, "return se_ln_gevo(batchnorm"),
                  "%s", r.source);
        }
        if (!strcmp(r.kind, "kernel")) {
            kern++;
            /* padding follows the kernel, so the shapes still agree */
            CHECK(strstr(r.source, "k=1, padding=0") || strstr(r.source, "k=5, padding=2") ||
                      strstr(r.source, "k=7, padding=3"),
                  "%s", r.source);
        }
        mutate_result_release(&r);
    }
    CHECK(res > 0 && se > 0 && kern > 0, "residual %d, se %d, kernel %d", res, se, kern);
}

static void test_crossover(void)
{
    const char *a = "input x: 1x28x28\nclasses 10\n"
                    "def blk(x, c):\n    return relu(conv(x, c, k=3, padding=1))\n"
                    "x = blk(x, 8)\nreturn linear(gap(x), classes)\n"
                    "train lr=0.1\n";
    const char *b = "input x: 1x28x28\nclasses 10\n"
                    "def blk(x, c):\n    return gelu(batchnorm(conv(x, c, k=5, padding=2)))\n"
                    "x = blk(x, 16)\nreturn linear(gap(x), classes)\n"
                    "train lr=0.01 weight_decay=0\n";
    mutate_result r;
    gerr err = GERR_INIT;
    CHECK(mutate_crossover(a, b, "g1-2", "blk", 1, NULL, NULL, &r, &err) == 0, "%s", err.msg);
    if (r.source) {
        CHECK(strstr(r.source, "gelu(batchnorm(conv(x, c, k=5") != NULL, "%s", r.source);
        CHECK(strstr(r.source, "x = blk(x, 8)") != NULL, "a's calls kept");
        CHECK(strstr(r.rationale, "g1-2") && strstr(r.rationale, "no LLM"), "%s", r.rationale);
        mutate_result_release(&r);
    }
    CHECK(mutate_crossover(a, b, "g1-2", MUTATE_GENE_TRAIN, 1, NULL, NULL, &r, &err) == 0, "%s",
          err.msg);
    if (r.source) {
        CHECK(strstr(r.source, "train lr=0.01 weight_decay=0") && !strstr(r.source, "lr=0.1"), "%s",
              r.source);
        mutate_result_release(&r);
    }
    CHECK(mutate_crossover(a, a, "g1-1", NULL, 1, NULL, NULL, &r, &err) == -1, "same");
    CHECK(strstr(err.msg, "no gene") != NULL, "%s", err.msg);
    CHECK(mutate_crossover(a, b, "g1-2", "nope", 1, NULL, NULL, &r, &err) == -1, "nope");
}

int main(void)
{
    RUN(test_thousand_seeds);
    RUN(test_thousand_lang_good);
    RUN(test_every_kind_happens);
    RUN(test_chain);
    RUN(test_deterministic);
    RUN(test_target_gene);
    RUN(test_specific_edits);
    RUN(test_crossover);
    return harness_done();
}
