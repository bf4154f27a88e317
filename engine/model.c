/* A trainable graph: memory layout, initialisation, forward, backward,
 * weights files. */
#include "engine/model.h"
#include "engine/base/clock.h"
#include "engine/base/file.h"
#include "engine/base/grow.h"
#include "engine/layers.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

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
    if (m->prof)
        prof_report(m);
    for (int t = 0; t < MODEL_VIEWS; t++)
        model_free(m->views[t]);
    if (m->view)
        munmap(m, m->bytes);
    else
        free(m); /* the model struct starts its one block */
}

static bool is_alias(const net_node *nd)
{
    return net_op_flags(nd->op) & NET_OPF_ALIAS;
}

/* home[i]: the node whose gradient storage holds node i's gradient. An
 * alias (flatten) shares its input's. So does an input of an add whose
 * last consumer the add is: y = a + b hands each input its own gradient
 * unchanged, and that input's gradient starts as the add's (the add runs
 * first in backward), so it lives in the add's storage instead of being
 * copied out of it, and the input's earlier consumers, which run after
 * the add in backward, add to it there (the residual adds of
 * ExquisiteNetV2: a copy of a full map each, 3% of its instructions).
 * One input per add, the first such: two inputs in one storage would get
 * the gradient once. Not an input that an alias reads (the alias's
 * readers may come after the add), not an add that is the output (the
 * loss writes that storage). last (n ints) is working memory.
 * GEVO_NO_SHARE=1 in the environment turns the sharing off (to measure it,
 * and to check that it changes no number). */
static void gradient_homes(const net_graph *g, int *home, int *last)
{
    int n = g->n_nodes;
    for (int i = 0; i < n; i++)
        home[i] = i, last[i] = 0;
    for (int k = 1; k < n; k++)
        for (int j = 0; j < g->nodes[k].n_in; j++)
            last[g->nodes[k].in[j]] = k;
    for (int k = 1; k < n; k++)
        if (is_alias(&g->nodes[k]))
            last[g->nodes[k].in[0]] = -1;
    const char *off = getenv("GEVO_NO_SHARE");
    bool share = !off || !strcmp(off, "0");
    for (int k = 1; share && k < n; k++) {
        const net_node *nd = &g->nodes[k];
        if (nd->op != NET_ADD || k == g->output)
            continue;
        for (int j = 0; j < nd->n_in; j++) {
            int r = nd->in[j], uses = 0;
            for (int q = 0; q < nd->n_in; q++)
                uses += nd->in[q] == r;
            if (r > 0 && last[r] == k && uses == 1 && !is_alias(&g->nodes[r])) {
                home[r] = k;
                break;
            }
        }
    }
    /* chains: an add's storage may itself live in a later add's; an
       alias's input is never moved (its readers rule it out) */
    for (int i = n - 1; i > 0; i--)
        if (home[i] != i)
            home[i] = home[home[i]];
    for (int i = 1; i < n; i++)
        if (is_alias(&g->nodes[i]))
            home[i] = home[g->nodes[i].in[0]];
}

/* Storage r's first writer in backward is its last consumer in node order,
 * first[r]. That node stores through its first input slot naming r, when
 * its operator can (layer accumulate flags); otherwise r is zeroed just
 * before it (zero_start/zero_at). Storage no backward writes (none in a
 * pruned graph but the output, which the loss writes) is zeroed before
 * backward starts. first (n ints), fill (n + 1 ints, zeroed) and stored
 * (n bools, false) are working memory from the model's block. */
static void zero_schedule(model *m, int *first, int *fill, bool *stored)
{
    const net_graph *g = m->g;
    int n = g->n_nodes;
    for (int i = 0; i < n; i++)
        first[i] = -1;
    const int *home = m->grad_home;
    for (int k = 1; k < n; k++) {
        if (is_alias(&g->nodes[k]))
            continue; /* writes nothing itself */
        for (int j = 0; j < g->nodes[k].n_in; j++) {
            int r = home[g->nodes[k].in[j]];
            if (r != home[k] && k > first[r]) /* an add's own storage: nothing written */
                first[r] = k;
        }
    }
    for (int k = 1; k < n; k++) {
        const net_node *nd = &g->nodes[k];
        model_layer *L = &m->layers[k];
        for (int j = 0; j < nd->n_in; j++) {
            int r = home[nd->in[j]];
            L->accumulate[j] = true;
            if (!is_alias(nd) && r != home[k] && first[r] == k && !stored[r] &&
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
        bool skip = r == 0 || home[r] != r || r == g->output || stored[r] || !m->layers[r].dout;
        at[r] = skip ? -1 : first[r] < 0 ? n : first[r];
        if (at[r] >= 0)
            m->zero_start[at[r] + 1]++;
    }
    for (int k = 1; k <= n + 1; k++)
        m->zero_start[k] += m->zero_start[k - 1];
    for (int r = 1; r < n; r++)
        if (at[r] >= 0)
            m->zero_at[m->zero_start[at[r]] + fill[at[r]]++] = r;
}

/* Zeroes the gradient storage scheduled at node k (n_nodes: before all). */
static void zero_grads_at(model *m, int k, int n)
{
    for (int q = m->zero_start[k]; q < m->zero_start[k + 1]; q++) {
        model_layer *L = &m->layers[m->zero_at[q]];
        ops_zero(L->dout, (long)n * L->size);
    }
}

/* ---- the one block -----------------------------------------------------
 * A model is one allocation: the model struct, its layers, the parameter,
 * gradient and statistics slabs, the small per-layer tables, the working
 * memory of zero_schedule and the arena of activations, activation
 * gradients and kernel scratch, each region 64-byte aligned. layout()
 * walks the graph once to size the block (m NULL: there is no model yet)
 * and once more, by the same code, to fill the model it sized; so
 * model_plan_bytes is what model_new allocates, exactly. */

typedef struct layout {
    size_t bytes;  /* the block so far; at the end its size, a multiple of 64 */
    bool overflow; /* a size did not fit in size_t */
    /* byte offsets of the regions */
    size_t layers, params, grads, buffers, decay, labels, norm, links, zero, home, temp, prof,
        arena;
    bool profile;
    /* an evaluation view (model_new_view): it borrows parameters and
       statistics and has no gradients, zeroing schedule or profile */
    bool view;
    long n_params, n_buffers;
    int n_decay;
    size_t ws_at; /* floats into the arena: the convolutions' working memory */
} layout;

/* Reserves n elements of size bytes at the next 64-byte boundary and
 * returns their offset. */
static size_t region(layout *p, size_t n, size_t size)
{
    size_t bytes, at;
    if (!size_mul(n, size, &bytes) || !size_add(p->bytes, 63, &at) ||
        !size_add(at & ~(size_t)63, bytes, &p->bytes)) {
        p->overflow = true;
        return 0;
    }
    return at & ~(size_t)63;
}

/* Offsets inside the arena are kept 64-byte aligned. */
static size_t align16(size_t floats)
{
    return (floats + 15) & ~(size_t)15;
}

/* ---- a view's arena: buffers by liveness ---------------------------------
 * A view only evaluates, so an activation's storage is free once the last
 * node that reads it has run, and a kernel's scratch is needed during its
 * own node only: each is an interval of node times, and storage is given
 * first-fit among the intervals alive at the same time. Besides smaller
 * views, a piece then keeps reusing the same few buffers, which stay in
 * the cache. A node's buffer is written from its producer's time: its
 * own, or for an activation a batch norm computes (layer_fused_act), the
 * batch norm's. Evaluation reads across nodes in two more ways: an alias
 * is its input's storage, and a relu before a pool (layer_pool_relu) is
 * run by the pool, which reads the relu's input then. */

typedef struct span {
    int start, end; /* node times, inclusive */
    size_t at, len; /* floats into the arena */
} span;

/* The node whose storage node i's output is (itself but for aliases). */
static int storage_of(const net_graph *g, int i)
{
    while (is_alias(&g->nodes[i]))
        i = g->nodes[i].in[0];
    return i;
}

/* Places s first-fit among the live spans (sorted by offset), keeping them
 * sorted; returns the arena's floats up to s's end. */
static size_t place_span(span *s, span **live, int *n_live)
{
    size_t at = 0;
    int k = 0;
    for (; k < *n_live; k++) {
        if (live[k]->at >= at + s->len)
            break;
        if (live[k]->at + live[k]->len > at)
            at = live[k]->at + live[k]->len;
    }
    s->at = at;
    memmove(live + k + 1, live + k, sizeof(span *) * (size_t)(*n_live - k));
    live[k] = s;
    (*n_live)++;
    return at + s->len;
}

/* len[i]: floats of node i's output storage (0 for none: aliases, fused
 * batch norms), scr[i]: of its scratch. Sets at[i] and scr_at[i] and
 * returns the arena's floats, or (size_t)-1 when out of memory. */
static size_t plan_view(const net_graph *g, const size_t *len, const size_t *scr, size_t *at,
                        size_t *scr_at)
{
    int n = g->n_nodes;
    span *sp = malloc(sizeof(span) * 2 * (size_t)n);
    span **live = malloc(sizeof(span *) * 2 * (size_t)n);
    int *fused = malloc(sizeof(int) * (size_t)n);
    if (!sp || !live || !fused) {
        free(sp);
        free(live);
        free(fused);
        return (size_t)-1;
    }
    for (int i = 0; i < n; i++) {
        sp[i] = (span){.start = i, .end = i, .len = len[i]};
        sp[n + i] = (span){.start = i, .end = i, .len = scr[i]};
    }
    for (int i = 0; i < n; i++) {
        fused[i] = layer_fused_act(g, i);
        if (fused[i])
            sp[fused[i]].start = i;
        for (int j = 0; j < g->nodes[i].n_in; j++) {
            span *in = &sp[storage_of(g, g->nodes[i].in[j])];
            in->end = in->end > i ? in->end : i;
        }
        int pool = layer_pool_relu(g, i);
        if (pool) {
            span *in = &sp[storage_of(g, g->nodes[i].in[0])];
            in->end = in->end > pool ? in->end : pool;
        }
    }
    sp[storage_of(g, g->output)].end = n;
    size_t floats = 0;
    int n_live = 0;
    for (int t = 0; t < n; t++) {
        int kept = 0;
        for (int k = 0; k < n_live; k++)
            if (live[k]->end >= t)
                live[kept++] = live[k];
        n_live = kept;
        /* the outputs produced now (a fused activation's at its batch
           norm), then node t's scratch */
        span *now[3] = {sp[t].start == t ? &sp[t] : NULL, fused[t] ? &sp[fused[t]] : NULL,
                        &sp[n + t]};
        for (int k = 0; k < 3; k++)
            if (now[k] && now[k]->len) {
                size_t top = place_span(now[k], live, &n_live);
                floats = top > floats ? top : floats;
            }
    }
    for (int i = 0; i < n; i++) {
        at[i] = sp[i].at;
        scr_at[i] = sp[n + i].at;
    }
    free(sp);
    free(live);
    free(fused);
    return floats;
}

/* Sizes (m NULL) or fills (m, a block of the size found before) the model
 * of g at `batch` images. */
static int layout_model(const net_graph *g, int batch, bool view, model *m, layout *p, gerr *err)
{
    int n = g->n_nodes;
    memset(p, 0, sizeof *p);
    p->view = view;
    if (n < 1 || batch < 1)
        return gerr_set(err, "internal error: a model of %d nodes at batch %d", n, batch);
    char *block = (char *)m;
    region(p, 1, sizeof(model));
    p->layers = region(p, (size_t)n, sizeof(model_layer));

    /* parameter and buffer offsets, in node order; L is a scratch layer
       while there is no model */
    model_layer scratch;
    long np = 0, nbuf = 0;
    size_t links = 0; /* bytes of the per-input tables */
    for (int i = 0; i < n; i++) {
        const net_node *nd = &g->nodes[i];
        model_layer *L = m ? &m->layers[i] : &scratch;
        memset(L, 0, sizeof *L);
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
            if (lp.decay && !view) {
                if (m) {
                    m->decay[2 * p->n_decay] = L->w;
                    m->decay[2 * p->n_decay + 1] = L->nw;
                }
                p->n_decay++;
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
        /* each input's activation, gradient and channels for the kernels of
           several inputs (concat, add), and whether backward adds to it */
        size_t k = (size_t)nd->n_in;
        links += nd->n_in > 1 ? (k * (2 * sizeof(float *) + sizeof(int)) + 7) & ~(size_t)7 : 0;
        links += i > 0 ? (k * sizeof(bool) + 7) & ~(size_t)7 : 0;
    }
    if (np != g->params)
        return gerr_set(err, "internal error: %ld parameters laid out, %ld counted", np, g->params);
    p->n_params = np;
    p->n_buffers = nbuf;
    size_t owned = view ? 0 : 1; /* a view's parameters and statistics are its model's */
    p->params = region(p, owned * (size_t)np, sizeof(float));
    p->grads = region(p, owned * (size_t)np, sizeof(float));
    p->buffers = region(p, owned * (size_t)nbuf, sizeof(float));
    p->decay = region(p, 2 * (size_t)p->n_decay, sizeof(long));
    p->labels = region(p, owned * (size_t)batch, sizeof(int));
    p->norm = region(p, owned * 2 * (size_t)g->input.c, sizeof(float));
    p->links = region(p, links, 1);
    p->zero = region(p, owned * (2 * (size_t)n + 2), sizeof(int)); /* zero_start, zero_at */
    p->home = region(p, 2 * (size_t)n, sizeof(int));               /* grad_home, working */
    p->temp = region(p, owned * (2 * (size_t)n + 1),
                     sizeof(int) + sizeof(bool)); /* first, fill, stored */
    p->profile = !view && getenv("GEVO_PROFILE") != NULL;
    if (p->profile)
        p->prof = region(p, 2 * (size_t)n, sizeof(double));

    /* the arena: outputs, gradients and scratch of every layer */
    p->arena = region(p, 0, 1);
    float *arena = m ? (float *)(block + p->arena) : NULL;
    int *home = m ? (int *)(block + p->home) : malloc(2 * sizeof(int) * (size_t)n);
    if (!home)
        return gerr_set(err, "out of memory laying out a model of %d nodes", n);
    gradient_homes(g, home, home + n);
    /* a view's storage is planned after the walk (plan_view) */
    size_t *vlen = view ? malloc(sizeof(size_t) * 4 * (size_t)n) : NULL;
    if (view && !vlen) {
        if (!m)
            free(home);
        return gerr_set(err, "out of memory laying out a model of %d nodes", n);
    }
    char *link = m ? block + p->links : NULL;
    size_t total = 0, conv_ws = 0, act, both, scr;
    for (int i = 0; i < n; i++) {
        const net_node *nd = &g->nodes[i];
        model_layer *L = m ? &m->layers[i] : &scratch;
        if (!m) {
            memset(L, 0, sizeof *L);
            L->node = nd;
            L->size = net_shape_size(nd->shape);
        }
        const layer_fns *fns = &layer_table[nd->op];
        scr = fns->setup ? fns->setup(g, i, batch, L, &conv_ws, err) : 0;
        if (scr == (size_t)-1) {
            if (!m)
                free(home);
            free(vlen);
            return -1;
        }
        if (!size_mul((size_t)batch, (size_t)L->size, &act))
            p->overflow = true;
        act = align16(act);
        bool alias = is_alias(nd);
        /* a batchnorm computing its activation stores no output */
        int fuse = layer_fused_act(g, i);
        size_t out_at = total, dout_at = total + (fuse ? 0 : act);
        /* the input has no gradient, a shared one lives elsewhere (home),
           a view has none */
        /* a relu its pool runs in training has none either */
        bool pool_trains =
            !view && (layer_pool_relu_trains(g, i) || (i > 0 && layer_pool_relu_trains(g, i - 1)));
        bool own_grad =
            i > 0 && home[i] == i && !view && !(pool_trains && g->nodes[i].op == NET_RELU);
        both = alias ? 0 : !own_grad || fuse ? act : 2 * act;
        if (view) {
            vlen[i] = alias || fuse ? 0 : act;
            vlen[n + i] = align16(scr);
        } else if (!size_add(total, both, &total) || !size_add(total, align16(scr), &total))
            p->overflow = true;
        if (!m || p->overflow)
            continue;
        /* an alias's gradient, and a shared one, are set below (home); a
           view's storage after the walk */
        L->out = alias ? m->layers[nd->in[0]].out : fuse || view ? NULL : arena + out_at;
        L->dout = own_grad && !alias ? arena + dout_at : NULL;
        L->fuse_act = fuse;
        if (fuse)
            m->layers[fuse].fused = true;
        L->pool_relu = layer_pool_relu(g, i);
        if (L->pool_relu)
            m->layers[L->pool_relu].relu_in = i;
        L->pool_trains = pool_trains;
        L->scratch = arena + out_at + both;
        size_t k = (size_t)nd->n_in;
        if (nd->n_in > 1) {
            L->ins = (const float **)link;
            L->dins = (float **)(link + k * sizeof(float *));
            L->chans = (int *)(link + 2 * k * sizeof(float *));
            /* rounded up so that the next table's pointers stay aligned */
            link += (k * (2 * sizeof(float *) + sizeof(int)) + 7) & ~(size_t)7;
            for (int j = 0; j < nd->n_in; j++) {
                const model_layer *I = &m->layers[nd->in[j]];
                L->ins[j] = I->out;
                L->chans[j] = I->node->shape.c;
            }
        }
        if (i > 0) {
            L->accumulate = (bool *)link;
            link += (k * sizeof(bool) + 7) & ~(size_t)7;
        }
    }
    if (!m)
        free(home);
    if (view && !p->overflow) {
        total = plan_view(g, vlen, vlen + n, vlen + 2 * n, vlen + 3 * n);
        if (total == (size_t)-1) {
            free(vlen);
            return gerr_set(err, "out of memory laying out a model of %d nodes", n);
        }
        for (int i = 0; m && i < n; i++) {
            model_layer *L = &m->layers[i];
            const net_node *nd = L->node;
            if (is_alias(nd))
                L->out = m->layers[nd->in[0]].out;
            else if (vlen[i])
                L->out = arena + vlen[2 * n + i];
            L->scratch = arena + vlen[3 * n + i];
            for (int j = 0; nd->n_in > 1 && j < nd->n_in; j++)
                L->ins[j] = m->layers[nd->in[j]].out;
        }
    }
    free(vlen);
    /* the gradients' final places, now that every storage has one; an
       add's input whose gradient is the add's own has nothing to receive */
    for (int i = 1; m && !p->overflow && i < n; i++) {
        model_layer *L = &m->layers[i];
        const net_node *nd = L->node;
        L->dout = m->layers[home[i]].dout;
        for (int j = 0; nd->n_in > 1 && j < nd->n_in; j++)
            L->dins[j] = home[nd->in[j]] == home[i] ? NULL : m->layers[home[nd->in[j]]].dout;
    }
    p->ws_at = total;
    if (!size_add(total, align16(conv_ws), &total))
        p->overflow = true;
    region(p, total, sizeof(float));
    region(p, 0, 1); /* a whole number of 64-byte lines */
    if (p->overflow)
        return gerr_set(err, "the model of batch %d is too large to lay out", batch);
    return 0;
}

int model_plan_bytes(const net_graph *g, int batch, size_t *bytes, gerr *err)
{
    layout p;
    *bytes = 0;
    if (layout_model(g, batch, false, NULL, &p, err))
        return -1;
    *bytes = p.bytes;
    return 0;
}

/* The model's block, zeroed. A block of megabytes asks for 2 MiB pages
 * (transparent huge pages on request, madvise) over the whole pages it
 * spans: on this kind of virtual machine each first touch of a 4 KiB
 * page costs tens of microseconds, so zeroing the 34 MiB of quick.net at
 * batch 128 took about 0.3 s of a candidate's start-up. The kernel backs
 * the 2 MiB-aligned stretches inside the block with huge pages, the ends
 * stay small: the block keeps its planned size (model_plan_bytes). The
 * request is advice: refused, the block is on small pages as before. */
#define HUGE_PAGE ((size_t)2 << 20)

static char *block_alloc(size_t bytes, bool view)
{
    if (view) {
        /* fresh zero pages, touched as they are used: a view for thread t
           only ever touches slot t of the kernels' per-thread memory */
        void *v = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        return v == MAP_FAILED ? NULL : v;
    }
    char *block = aligned_alloc(64, bytes);
    if (!block)
        return NULL;
    long page = sysconf(_SC_PAGESIZE);
    if (bytes >= 2 * HUGE_PAGE && page > 0) {
        uintptr_t mask = (uintptr_t)page - 1, lo = ((uintptr_t)block + mask) & ~mask,
                  hi = ((uintptr_t)block + bytes) & ~mask;
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
    }
    memset(block, 0, bytes);
    return block;
}

/* The block of a model (or view) of g at batch images, laid out: the
 * layers, their buffers and working memory; the caller sets the rest. */
static model *model_block(const net_graph *g, int batch, bool view, layout *p, gerr *err)
{
    layout q;
    if (layout_model(g, batch, view, NULL, p, err))
        return NULL;
    char *block = block_alloc(p->bytes, view);
    if (!block) {
        gerr_set(err, "out of memory: the model of batch %d needs %.1f MiB", batch,
                 (double)p->bytes / 1048576.0);
        return NULL;
    }
    model *m = (model *)block;
    m->g = g;
    m->batch = batch;
    m->bytes = p->bytes;
    m->view = view;
    m->layers = (model_layer *)(block + p->layers);
    m->decay = (long *)(block + p->decay);
    if (layout_model(g, batch, view, m, &q, err) || q.bytes != p->bytes) {
        if (q.bytes != p->bytes)
            gerr_set(err, "internal error: the model's layout changed between two passes");
        if (view)
            munmap(block, p->bytes);
        else
            free(block);
        return NULL;
    }
    m->n_params = p->n_params;
    m->n_buffers = p->n_buffers;
    m->n_decay = p->n_decay;
    m->grad_home = (int *)(block + p->home);
    m->arena = (float *)(block + p->arena);
    m->conv_ws = m->arena + p->ws_at;
    return m;
}

model *model_new(const net_graph *g, int batch, uint64_t seed, gerr *err)
{
    layout p;
    model *m = model_block(g, batch, false, &p, err);
    if (!m)
        return NULL;
    char *block = (char *)m;
    m->params = (float *)(block + p.params);
    m->grads = (float *)(block + p.grads);
    m->buffers = (float *)(block + p.buffers);
    m->labels = (int *)(block + p.labels);
    m->norm_mean = (float *)(block + p.norm);
    m->norm_std = m->norm_mean + g->input.c;
    for (int c = 0; c < g->input.c; c++)
        m->norm_std[c] = 1.0f;
    m->zero_start = (int *)(block + p.zero);
    m->zero_at = m->zero_start + g->n_nodes + 2;
    m->prof = p.profile ? (double *)(block + p.prof) : NULL;

    /* PyTorch's default initialisation, in node order */
    ops_blas_init();
    rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < g->n_nodes; i++) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        if (fns->init)
            fns->init(m, i, &r);
    }
    rng_seed(&m->dropout_rng, seed ^ 0xd40f0a7ULL);
    int *first = (int *)(block + p.temp), *fill = first + g->n_nodes;
    zero_schedule(m, first, fill, (bool *)(fill + g->n_nodes + 1));
    return m;
}

int model_plan_view_bytes(const net_graph *g, int batch, size_t *bytes, gerr *err)
{
    layout p;
    *bytes = 0;
    if (layout_model(g, batch, true, NULL, &p, err))
        return -1;
    *bytes = p.bytes;
    return 0;
}

model *model_new_view(const model *m, int batch, gerr *err)
{
    layout p;
    model *v = model_block(m->g, batch, true, &p, err);
    if (!v)
        return NULL;
    v->params = m->params;
    v->buffers = m->buffers;
    v->norm_mean = m->norm_mean;
    v->norm_std = m->norm_std;
    /* one thread runs a view's whole pass: its convolutions take their
       images as one group (the same blocks as a whole batch's group) */
    for (int i = 0; i < m->g->n_nodes; i++)
        v->layers[i].conv.one_group = true;
    return v;
}

float *model_input(model *m)
{
    return m->layers[0].out;
}

const float *model_forward(model *m, int n, bool training)
{
    const net_graph *g = m->g;
    if (!training && !m->view && model_eval_pieces(m, n))
        return m->layers[g->output].out;
    for (int i = 1; i < g->n_nodes; i++) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        double t0 = m->prof ? clock_seconds() : 0;
        if (fns->forward)
            fns->forward(m, i, n, training);
        if (m->prof)
            m->prof[2 * i] += clock_seconds() - t0;
    }
    return m->layers[g->output].out;
}

static void model_backward(model *m, int n)
{
    const net_graph *g = m->g;
    for (int i = g->n_nodes - 1; i >= 1; i--) {
        const layer_fns *fns = &layer_table[g->nodes[i].op];
        double t0 = m->prof ? clock_seconds() : 0;
        zero_grads_at(m, i, n);
        if (fns->backward)
            fns->backward(m, i, n);
        if (m->prof)
            m->prof[2 * i + 1] += clock_seconds() - t0;
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

static const char *not_finite(float v)
{
    return isnan(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
}

/* Refuses values a model cannot start from, whatever the checksum says (a
 * training that diverged and saved, a file written by something else):
 * NaN or infinite parameters, running statistics or normalisation, a
 * negative running variance, a standard deviation that is not positive.
 * The message names the layer the value belongs to. */
static int check_values(const model *m, const float *p, const float *b, const float *mean,
                        const float *std, const char *path, gerr *err)
{
    const net_graph *g = m->g;
    for (int i = 0; i < g->n_nodes; i++) {
        const model_layer *L = &m->layers[i];
        const char *op = net_op_name(g->nodes[i].op);
        int line = g->nodes[i].line;
        for (long k = 0; k < L->nw + L->nb; k++)
            if (!isfinite(p[L->w + k]))
                return gerr_set(err,
                                "%s: the %s of %s at line %d holds %s (parameter %ld): the "
                                "weights are not finite",
                                path, k < L->nw ? "weight" : "bias", op, line,
                                not_finite(p[L->w + k]), L->w + k);
        for (long k = 0; L->stats >= 0 && k < 2 * L->nw; k++) {
            float v = b[L->stats + k];
            bool var = k >= L->nw;
            if (!isfinite(v) || (var && v < 0))
                return gerr_set(err, "%s: the running %s of %s at line %d is %s", path,
                                var ? "variance" : "mean", op, line,
                                isfinite(v) ? "negative" : not_finite(v));
        }
    }
    for (int c = 0; c < g->input.c; c++) {
        if (!isfinite(mean[c]))
            return gerr_set(err, "%s: the input normalisation's mean of channel %d is %s", path, c,
                            not_finite(mean[c]));
        if (!isfinite(std[c]) || !(std[c] > 0))
            return gerr_set(err,
                            "%s: the input normalisation's standard deviation of channel %d is "
                            "%s",
                            path, c, isfinite(std[c]) ? "not positive" : not_finite(std[c]));
    }
    return 0;
}

/* The reading side of model_save's PUT: bytes in order, each added to the
 * checksum. */
typedef struct weights_reader {
    FILE *f;
    uLong crc;
} weights_reader;

static bool get_bytes(weights_reader *r, void *p, size_t sz)
{
    if (fread(p, 1, sz, r->f) != sz)
        return false;
    r->crc = crc32(r->crc, (const Bytef *)p, (uInt)sz);
    return true;
}

/* n floats into a new array *out (the caller frees it, also on failure). */
static int get_floats(weights_reader *r, float **out, uint64_t n, const char *path, gerr *err)
{
    *out = malloc(sizeof(float) * (n ? n : 1));
    if (!*out)
        return gerr_set(err, "out of memory");
    if (!get_bytes(r, *out, sizeof(float) * n))
        return gerr_set(err, "%s: truncated", path);
    return 0;
}

int model_load(model *m, const char *path, gerr *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        gerr_errno(err, "%s: cannot open", path);
        return -1;
    }
    weights_reader r = {f, crc32(0L, Z_NULL, 0)};
    char magic[8];
    uint32_t ver, res, stored, nc = 0;
    uint64_t h, np, nb;
    int rc = -1;
    float *p = NULL, *b = NULL, *nm = NULL, *ns = NULL;
    if (!get_bytes(&r, magic, 8) || memcmp(magic, weights_magic, 8)) {
        gerr_set(err, "%s: not a gevo weights file (bad magic)", path);
        goto out;
    }
    if (!get_bytes(&r, &ver, 4) || ver != 1) {
        gerr_set(err, "%s: weights format version %u, this gevo reads version 1", path, ver);
        goto out;
    }
    if (!get_bytes(&r, &res, 4) || !get_bytes(&r, &h, 8) || !get_bytes(&r, &np, 8) ||
        !get_bytes(&r, &nb, 8)) {
        gerr_set(err, "%s: truncated header", path);
        goto out;
    }
    if (np != (uint64_t)m->n_params || nb != (uint64_t)m->n_buffers) {
        gerr_set(err, "%s: holds %llu parameters and %llu buffers; this network has %ld and %ld",
                 path, (unsigned long long)np, (unsigned long long)nb, m->n_params, m->n_buffers);
        goto out;
    }
    if (get_floats(&r, &p, np, path, err) || get_floats(&r, &b, nb, path, err))
        goto out;
    if (!get_bytes(&r, &nc, 4)) {
        gerr_set(err, "%s: truncated", path);
        goto out;
    }
    if (nc != (uint32_t)m->g->input.c) {
        gerr_set(err, "%s: weights are for %u input channels, this network has %d", path, nc,
                 m->g->input.c);
        goto out;
    }
    if (get_floats(&r, &nm, nc, path, err) || get_floats(&r, &ns, nc, path, err))
        goto out;
    if (fread(&stored, 4, 1, f) != 1) {
        gerr_set(err, "%s: truncated", path);
        goto out;
    }
    if ((uint32_t)r.crc != stored) {
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
    if (check_values(m, p, b, nm, ns, path, err))
        goto out;
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
