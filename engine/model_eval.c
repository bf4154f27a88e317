/* Evaluation in pieces (model_eval_pieces, engine/model.h).
 *
 * Training needs the whole batch at every layer (batch statistics), so
 * each layer's kernel splits its batch over the threads and all threads
 * meet after every layer: ExquisiteNetV2 has about a hundred layers, most
 * of them on maps of 7x7 and smaller, and on two threads evaluation spent
 * a fifth of its time waiting at those meetings. In evaluation every
 * image is independent of the others (batch norm uses its running
 * statistics), so here the batch is cut in pieces of a few images and
 * each piece goes through the whole network on one thread, in a view of
 * the model of its own (model_new_view: the parameters are shared, the
 * activations are not). The threads meet once per batch, and a piece's
 * activations stay in the cache from one layer to the next.
 *
 * A piece's numbers are the same whichever thread computes it and however
 * many threads there are: the pieces are fixed by the batch (piece_images),
 * and inside a view every kernel runs on one thread in fixed chunks. They
 * can differ in the last bits from a whole batch's, whose convolutions
 * group the images otherwise (OpenBLAS rounds differently for different
 * matrix shapes). */
#include "engine/model.h"
#include "engine/ops_internal.h"

#include <stdlib.h>
#include <string.h>

_Static_assert(OPS_MAX_THREADS <= MODEL_VIEWS, "a view per thread");

/* Images per piece: GEVO_EVAL_PIECE when set (0: evaluate whole batches
 * at once, as training does), else the default. Never more than the
 * model's batch, never 1 (a view is laid out by the same setup as a
 * training model, and a batch norm of 1x1 maps refuses a batch of 1; the
 * pieces themselves may be of one image). */
#define PIECE_DEFAULT 32

static int piece_images(int batch)
{
    int piece = PIECE_DEFAULT;
    const char *env = getenv("GEVO_EVAL_PIECE");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == '\0' && v >= 0 && v <= 1 << 20)
            piece = (int)v;
    }
    if (piece == 1)
        piece = 2;
    return piece < batch ? piece : batch;
}

/* Thread t's view, made when first needed (again if the piece changed). */
static bool views_ready(model *m, int threads)
{
    for (int t = 0; t < threads; t++) {
        if (m->views[t] && m->views[t]->batch == m->piece)
            continue;
        model_free(m->views[t]);
        gerr e = {0};
        m->views[t] = model_new_view(m, m->piece, &e);
        if (!m->views[t])
            return false;
    }
    return true;
}

typedef struct piece_task {
    model *m;
    int n;
} piece_task;

static void piece_chunk(void *ctx, long chunk, int t)
{
    const piece_task *a = ctx;
    model *m = a->m, *v = m->views[t];
    const model_layer *in = &m->layers[0], *out = &m->layers[m->g->output];
    long lo = chunk * m->piece;
    int k = a->n - lo < m->piece ? (int)(a->n - lo) : m->piece;
    memcpy(model_input(v), in->out + lo * in->size, sizeof(float) * (size_t)(k * in->size));
    const float *y = model_forward(v, k, false);
    memcpy(out->out + lo * out->size, y, sizeof(float) * (size_t)(k * out->size));
}

int model_eval_plan_bytes(const net_graph *g, int batch, int threads, size_t *bytes, gerr *err)
{
    int piece = piece_images(batch);
    size_t one = 0;
    *bytes = 0;
    if (piece < 1)
        return 0;
    if (model_plan_view_bytes(g, piece, &one, err))
        return -1;
    threads = threads < 1 ? 1 : threads > OPS_MAX_THREADS ? OPS_MAX_THREADS : threads;
    *bytes = one * (size_t)threads; /* cannot overflow: one block fitted, times 8 at most */
    return 0;
}

bool model_eval_pieces(model *m, int n)
{
    if (m->piece == 0)
        m->piece = piece_images(m->batch);
    int threads = ops_par_threads();
    if (m->piece < 1 || n < 1 || !views_ready(m, threads))
        return false;
    piece_task a = {m, n};
    ops_par_run(piece_chunk, &a, (n + m->piece - 1) / m->piece, true);
    return true;
}
