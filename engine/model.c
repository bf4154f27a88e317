/* A trainable graph: memory layout, initialisation, forward, backward,
 * weights files. */
#include "engine/model.h"
#include "engine/base/file.h"
#include "engine/layers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

/* Offsets inside the arena are kept 64-byte aligned. */
static size_t align16(size_t floats)
{
    return (floats + 15) & ~(size_t)15;
}

static double prof_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The per-node times of GEVO_PROFILE, largest first (a developer's aid). */
static void prof_report(const model *m)
{
    const net_graph *g = m->g;
    double total = 0;
    for (int i = 0; i < 2 * g->n_nodes; i++)
        total += m->prof[i];
    fprintf(stderr, "profile: %.3f s in layers\n", total);
    bool *done = calloc((size_t)(2 * g->n_nodes), 1);
    if (!done)
        return;
    for (int k = 0; k < (getenv("GEVO_PROFILE_ALL") ? 2 * g->n_nodes : 25); k++) {
        int best = -1;
        for (int i = 0; i < 2 * g->n_nodes; i++)
            if (!done[i] && (best < 0 || m->prof[i] > m->prof[best]))
                best = i;
        if (best < 0 || m->prof[best] <= 0)
            break;
        done[best] = true;
        const net_node *nd = &g->nodes[best / 2];
        fprintf(stderr, "  %5.1f%%  %-9s %-8s line %3d  %dx%dx%d%s\n", 100 * m->prof[best] / total,
                net_op_name(nd->op), best % 2 ? "backward" : "forward", nd->line, nd->shape.c,
                nd->shape.h, nd->shape.w, nd->op == NET_CONV && nd->groups > 1 ? " (grouped)" : "");
    }
    free(done);
}

void model_free(model *m)
{
    if (!m)
        return;
    if (m->prof) {
        prof_report(m);
        free(m->prof);
    }
    if (m->layers)
        for (int i = 0; i < m->g->n_nodes; i++) {
            free(m->layers[i].ins);
            free(m->layers[i].dins);
            free(m->layers[i].chans);
            free(m->layers[i].accumulate);
        }
    free(m->layers);
    free(m->params);
    free(m->grads);
    free(m->buffers);
    free(m->decay);
    free(m->arena);
    free(m->labels);
    free(m->norm_mean);
    free(m->norm_std);
    free(m->zero_start);
    free(m->zero_at);
    free(m);
}

/* Sets up the kernel structs of layer i and returns its scratch size in
 * floats, or (size_t)-1 with a message. *conv_ws grows to the largest
 * convolution working memory. */
static size_t layer_setup(model *m, int i, size_t *conv_ws, gerr *err)
{
    const net_node *nd = &m->g->nodes[i];
    model_layer *L = &m->layers[i];
    if (nd->n_in > 1) {
        /* each input's activation, gradient and channels, for the kernels
           of several inputs (concat, add) */
        L->ins = calloc((size_t)nd->n_in, sizeof *L->ins);
        L->dins = calloc((size_t)nd->n_in, sizeof *L->dins);
        L->chans = calloc((size_t)nd->n_in, sizeof *L->chans);
        if (!L->ins || !L->dins || !L->chans) {
            gerr_set(err, "out of memory");
            return (size_t)-1;
        }
    }
    const layer_fns *fns = &layer_table[nd->op];
    return fns->setup ? fns->setup(m, i, conv_ws, err) : 0;
}

/* The node that owns i's gradient storage: an alias (flatten) shares its
 * input's. */
static int storage_of(const net_graph *g, int i)
{
    while (net_op_flags(g->nodes[i].op) & NET_OPF_ALIAS)
        i = g->nodes[i].in[0];
    return i;
}

static bool is_alias(const net_node *nd)
{
    return net_op_flags(nd->op) & NET_OPF_ALIAS;
}

/* Storage r's first writer in backward is its last consumer in node order,
 * first[r]. That node stores through its first input slot naming r, when
 * its operator can (layer accumulate flags); otherwise r is zeroed just
 * before it (zero_start/zero_at). Storage no backward writes (none in a
 * pruned graph but the output, which the loss writes) is zeroed before
 * backward starts. */
static int zero_schedule(model *m)
{
    const net_graph *g = m->g;
    int n = g->n_nodes;
    if (n < 1)
        return -1; /* a compiled graph has its input node at least */
    int *first = malloc(sizeof(int) * (size_t)n);
    bool *stored = calloc((size_t)(n ? n : 1), sizeof(bool));
    m->zero_start = calloc((size_t)n + 2, sizeof(int));
    m->zero_at = malloc(sizeof(int) * (size_t)(n ? n : 1));
    if (!first || !stored || !m->zero_start || !m->zero_at) {
        free(first);
        free(stored);
        return -1;
    }
    for (int i = 0; i < n; i++)
        first[i] = -1;
    for (int k = 1; k < n; k++) {
        if (is_alias(&g->nodes[k]))
            continue; /* writes nothing itself */
        for (int j = 0; j < g->nodes[k].n_in; j++) {
            int r = storage_of(g, g->nodes[k].in[j]);
            if (k > first[r])
                first[r] = k;
        }
    }
    for (int k = 1; k < n; k++) {
        const net_node *nd = &g->nodes[k];
        model_layer *L = &m->layers[k];
        L->accumulate = malloc(sizeof(bool) * (size_t)(nd->n_in ? nd->n_in : 1));
        if (!L->accumulate) {
            free(first);
            free(stored);
            return -1;
        }
        for (int j = 0; j < nd->n_in; j++) {
            int r = storage_of(g, nd->in[j]);
            L->accumulate[j] = true;
            if (!is_alias(nd) && first[r] == k && !stored[r] &&
                (net_op_flags(nd->op) & NET_OPF_STORES)) {
                L->accumulate[j] = false;
                stored[r] = true;
            }
        }
    }
    /* the node each storage left to zero is zeroed at (-1: none to zero),
       then a counting sort of the storages by it */
    int *at = first; /* reused: first[r] is read once per r, before */
    for (int r = 0; r < n; r++) {
        bool skip = r == 0 || is_alias(&g->nodes[r]) || r == g->output || stored[r];
        at[r] = skip ? -1 : first[r] < 0 ? n : first[r];
        if (at[r] >= 0)
            m->zero_start[at[r] + 1]++;
    }
    free(stored);
    for (int k = 1; k <= n + 1; k++)
        m->zero_start[k] += m->zero_start[k - 1];
    int *fill = calloc((size_t)n + 1, sizeof(int));
    if (!fill) {
        free(first);
        return -1;
    }
    for (int r = 1; r < n; r++)
        if (at[r] >= 0)
            m->zero_at[m->zero_start[at[r]] + fill[at[r]]++] = r;
    free(fill);
    free(first);
    return 0;
}

/* Zeroes the gradient storage scheduled at node k (n_nodes: before all). */
static void zero_grads_at(model *m, int k, int n)
{
    for (int q = m->zero_start[k]; q < m->zero_start[k + 1]; q++) {
        model_layer *L = &m->layers[m->zero_at[q]];
        ops_zero(L->dout, (long)n * L->size);
    }
}

model *model_new(const net_graph *g, int batch, uint64_t seed, gerr *err)
{
    model *m = calloc(1, sizeof *m);
    if (!m) {
        gerr_set(err, "out of memory");
        return NULL;
    }
    m->g = g;
    m->batch = batch;
    m->layers = calloc((size_t)g->n_nodes, sizeof *m->layers);
    m->labels = calloc((size_t)batch, sizeof *m->labels);
    m->decay = calloc((size_t)g->n_nodes * 2 + 2, sizeof *m->decay);
    m->norm_mean = calloc((size_t)g->input.c, sizeof(float));
    m->norm_std = calloc((size_t)g->input.c, sizeof(float));
    if (!m->layers || !m->labels || !m->decay || !m->norm_mean || !m->norm_std)
        goto oom;
    for (int c = 0; c < g->input.c; c++)
        m->norm_std[c] = 1.0f;

    /* parameter and buffer offsets, in node order */
    long np = 0, nbuf = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const net_node *nd = &g->nodes[i];
        model_layer *L = &m->layers[i];
        L->node = nd;
        L->w = L->b = L->stats = -1;
        L->size = net_shape_size(nd->shape);
        const layer_fns *fns = &layer_table[nd->op];
        layer_params lp = {0};
        if (fns->params)
            fns->params(g, nd, &lp);
        L->nw = lp.nw;
        L->nb = lp.nb;
        if (L->nw) {
            L->w = np;
            np += L->nw;
            if (lp.decay) {
                m->decay[2 * m->n_decay] = L->w;
                m->decay[2 * m->n_decay + 1] = L->nw;
                m->n_decay++;
            }
        }
        if (L->nb) {
            L->b = np;
            np += L->nb;
        }
        if (lp.nstats) {
            L->stats = nbuf;
            nbuf += lp.nstats;
        }
    }
    if (np != g->params) {
        gerr_set(err, "internal error: %ld parameters laid out, %ld counted", np, g->params);
        model_free(m);
        return NULL;
    }
    m->n_params = np;
    m->n_buffers = nbuf;
    m->params = calloc((size_t)(np ? np : 1), sizeof(float));
    m->grads = calloc((size_t)(np ? np : 1), sizeof(float));
    m->buffers = calloc((size_t)(nbuf ? nbuf : 1), sizeof(float));
    if (!m->params || !m->grads || !m->buffers)
        goto oom;

    /* the arena: outputs, gradients and scratch of every layer */
    size_t total = 0, conv_ws = 0;
    size_t *out_off = calloc((size_t)g->n_nodes, sizeof(size_t) * 3);
    if (!out_off)
        goto oom;
    for (int i = 0; i < g->n_nodes; i++) {
        const net_node *nd = &g->nodes[i];
        size_t act = align16((size_t)batch * (size_t)m->layers[i].size);
        size_t scr = layer_setup(m, i, &conv_ws, err);
        if (scr == (size_t)-1) {
            free(out_off);
            model_free(m);
            return NULL;
        }
        bool alias = is_alias(nd);
        out_off[3 * i] = alias ? 0 : total;
        total += alias ? 0 : act;
        out_off[3 * i + 1] = (alias || i == 0) ? 0 : total;
        total += (alias || i == 0) ? 0 : act;
        out_off[3 * i + 2] = total;
        total += align16(scr);
    }
    size_t ws_off = total;
    total += align16(conv_ws);
    m->arena_bytes = total * sizeof(float);
    m->arena = aligned_alloc(64, total ? m->arena_bytes : 64);
    if (!m->arena) {
        free(out_off);
        gerr_set(err, "out of memory: the activations of batch %d need %.0f MiB", batch,
                 (double)m->arena_bytes / 1048576.0);
        model_free(m);
        return NULL;
    }
    memset(m->arena, 0, m->arena_bytes);
    m->conv_ws = m->arena + ws_off;
    for (int i = 0; i < g->n_nodes; i++) {
        const net_node *nd = &g->nodes[i];
        model_layer *L = &m->layers[i];
        if (is_alias(nd)) {
            L->out = m->layers[nd->in[0]].out;
            L->dout = m->layers[nd->in[0]].dout;
        } else {
            L->out = m->arena + out_off[3 * i];
            L->dout = i == 0 ? NULL : m->arena + out_off[3 * i + 1];
        }
        L->scratch = m->arena + out_off[3 * i + 2];
        if (L->ins)
            for (int j = 0; j < nd->n_in; j++) {
                const model_layer *I = &m->layers[nd->in[j]];
                L->ins[j] = I->out;
                L->dins[j] = I->dout;
                L->chans[j] = I->node->shape.c;
            }
    }
    free(out_off);

    /* PyTorch's default initialisation, in node order */
    ops_blas_init();
    if (getenv("GEVO_PROFILE"))
        m->prof = calloc((size_t)(2 * g->n_nodes), sizeof(double));
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < g->n_nodes; i++) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        if (fns->init)
            fns->init(m, i, &r);
    }
    rng_seed(&m->dropout_rng, seed ^ 0xd40f0a7ULL);
    if (zero_schedule(m))
        goto oom;
    return m;
oom:
    gerr_set(err, "out of memory");
    model_free(m);
    return NULL;
}

float *model_input(model *m)
{
    return m->layers[0].out;
}

const float *model_forward(model *m, int n, bool training)
{
    const net_graph *g = m->g;
    for (int i = 1; i < g->n_nodes; i++) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        double t0 = m->prof ? prof_now() : 0;
        if (fns->forward)
            fns->forward(m, i, n, training);
        if (m->prof)
            m->prof[2 * i] += prof_now() - t0;
    }
    return m->layers[g->output].out;
}

static void model_backward(model *m, int n)
{
    const net_graph *g = m->g;
    for (int i = g->n_nodes - 1; i >= 1; i--) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        double t0 = m->prof ? prof_now() : 0;
        zero_grads_at(m, i, n);
        if (fns->backward)
            fns->backward(m, i, n);
        if (m->prof)
            m->prof[2 * i + 1] += prof_now() - t0;
    }
}

int model_loss(model *m, int n, const int *labels, float smoothing, bool backward, float *loss,
               int *correct, gerr *err)
{
    const net_graph *g = m->g;
    model_layer *out = &m->layers[g->output];
    if (backward) {
        /* activation gradients are zeroed just before their first use
           (zero_schedule); the output's is written by the loss */
        zero_grads_at(m, g->n_nodes, n);
        ops_zero(m->grads, m->n_params);
    }
    if (ops_xent(loss, correct, backward ? out->dout : NULL, out->out, labels, n, g->classes,
                 smoothing, err))
        return -1;
    if (backward)
        model_backward(m, n);
    return 0;
}

/* ---- weights files -------------------------------------------------
 * Little-endian:
 *   8 bytes  magic "GEVOWTS\0"
 *   u32      version (1)
 *   u32      reserved (0)
 *   u64      canonical hash of the program the weights belong to
 *   u64      number of parameters P
 *   u64      number of buffer floats B (batch-norm running statistics)
 *   P floats parameters, in node order (weight then bias)
 *   B floats buffers (per batch norm: running mean, then running var)
 *   u32      input channels C
 *   C floats input normalisation mean, C floats standard deviation
 *   u32      CRC-32 (zlib) of everything before it                       */

static const char weights_magic[8] = {'G', 'E', 'V', 'O', 'W', 'T', 'S', 0};

int model_save(const model *m, const char *path, gerr *err)
{
    out_file out;
    if (out_file_open(&out, path, err))
        return -1;
    FILE *f = out.f;
    uint32_t ver = 1, res = 0;
    uint64_t h = m->g->hash, np = (uint64_t)m->n_params, nb = (uint64_t)m->n_buffers;
    uLong crc = crc32(0L, Z_NULL, 0);
#define PUT(p, sz)                                        \
    do {                                                  \
        fwrite((p), 1, (sz), f);                          \
        crc = crc32(crc, (const Bytef *)(p), (uInt)(sz)); \
    } while (0)
    PUT(weights_magic, 8);
    PUT(&ver, 4);
    PUT(&res, 4);
    PUT(&h, 8);
    PUT(&np, 8);
    PUT(&nb, 8);
    PUT(m->params, sizeof(float) * np);
    PUT(m->buffers, sizeof(float) * nb);
    uint32_t nc = (uint32_t)m->g->input.c;
    PUT(&nc, 4);
    PUT(m->norm_mean, sizeof(float) * nc);
    PUT(m->norm_std, sizeof(float) * nc);
#undef PUT
    uint32_t c32 = (uint32_t)crc;
    fwrite(&c32, 4, 1, f);
    return out_file_commit(&out, err);
}

int model_load(model *m, const char *path, gerr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gerr_errno(err, "%s: cannot open", path);
        return -1;
    }
    char magic[8];
    uint32_t ver, res, stored, nc = 0;
    uint64_t h, np, nb;
    int rc = -1;
    float *p = NULL, *b = NULL, *nm = NULL, *ns = NULL;
    if (fread(magic, 1, 8, f) != 8 || memcmp(magic, weights_magic, 8)) {
        gerr_set(err, "%s: not a gevo weights file (bad magic)", path);
        goto out;
    }
    if (fread(&ver, 4, 1, f) != 1 || ver != 1) {
        gerr_set(err, "%s: weights format version %u, this gevo reads version 1", path, ver);
        goto out;
    }
    if (fread(&res, 4, 1, f) != 1 || fread(&h, 8, 1, f) != 1 || fread(&np, 8, 1, f) != 1 ||
        fread(&nb, 8, 1, f) != 1) {
        gerr_set(err, "%s: truncated header", path);
        goto out;
    }
    if (np != (uint64_t)m->n_params || nb != (uint64_t)m->n_buffers) {
        gerr_set(err, "%s: holds %llu parameters and %llu buffers; this network has %ld and %ld",
                 path, (unsigned long long)np, (unsigned long long)nb, m->n_params, m->n_buffers);
        goto out;
    }
    p = malloc(sizeof(float) * (np ? np : 1));
    b = malloc(sizeof(float) * (nb ? nb : 1));
    if (!p || !b) {
        gerr_set(err, "out of memory");
        goto out;
    }
    if (fread(p, sizeof(float), np, f) != np || fread(b, sizeof(float), nb, f) != nb ||
        fread(&nc, 4, 1, f) != 1) {
        gerr_set(err, "%s: truncated", path);
        goto out;
    }
    if (nc != (uint32_t)m->g->input.c) {
        gerr_set(err, "%s: weights are for %u input channels, this network has %d", path, nc,
                 m->g->input.c);
        goto out;
    }
    nm = malloc(sizeof(float) * nc);
    ns = malloc(sizeof(float) * nc);
    if (!nm || !ns) {
        gerr_set(err, "out of memory");
        goto out;
    }
    if (fread(nm, sizeof(float), nc, f) != nc || fread(ns, sizeof(float), nc, f) != nc ||
        fread(&stored, 4, 1, f) != 1) {
        gerr_set(err, "%s: truncated", path);
        goto out;
    }
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, (const Bytef *)magic, 8);
    crc = crc32(crc, (const Bytef *)&ver, 4);
    crc = crc32(crc, (const Bytef *)&res, 4);
    crc = crc32(crc, (const Bytef *)&h, 8);
    crc = crc32(crc, (const Bytef *)&np, 8);
    crc = crc32(crc, (const Bytef *)&nb, 8);
    crc = crc32(crc, (const Bytef *)p, (uInt)(sizeof(float) * np));
    crc = crc32(crc, (const Bytef *)b, (uInt)(sizeof(float) * nb));
    crc = crc32(crc, (const Bytef *)&nc, 4);
    crc = crc32(crc, (const Bytef *)nm, (uInt)(sizeof(float) * nc));
    crc = crc32(crc, (const Bytef *)ns, (uInt)(sizeof(float) * nc));
    if ((uint32_t)crc != stored) {
        gerr_set(err, "%s: checksum mismatch (corrupt file)", path);
        goto out;
    }
    if (h != m->g->hash) {
        /* same sizes but another program (e.g. different kernels): refuse,
           the weights would mean nothing */
        gerr_set(err, "%s: weights belong to another program (hash %016llx, this one %016llx)",
                 path, (unsigned long long)h, (unsigned long long)m->g->hash);
        goto out;
    }
    memcpy(m->params, p, sizeof(float) * np);
    memcpy(m->buffers, b, sizeof(float) * nb);
    memcpy(m->norm_mean, nm, sizeof(float) * nc);
    memcpy(m->norm_std, ns, sizeof(float) * nc);
    rc = 0;
out:
    free(p);
    free(b);
    free(nm);
    free(ns);
    fclose(f);
    return rc;
}
