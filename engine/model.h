/* A trainable instance of a compiled gevo-net graph.
 *
 * Memory is laid out once, before training, in one block: all parameters
 * in one slab, all gradients in one slab, the running statistics of batch
 * norms in a third, and every activation, activation gradient and kernel
 * scratch buffer in one arena sized for `batch` images from shape
 * inference. Its size is known before it is allocated (model_plan_bytes).
 * A forward or backward pass allocates nothing.
 *
 * Ownership: the model borrows its graph (which must outlive it) and owns
 * everything else; model_free() releases it. */
#ifndef GEVO_ENGINE_MODEL_H
#define GEVO_ENGINE_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/init.h"
#include "engine/net.h"
#include "engine/ops.h"

typedef struct model_layer {
    const net_node *node;
    long w, b; /* offsets of weight (or gamma) and bias (or beta) in params, -1 if none */
    long nw, nb;
    long stats;        /* batchnorm: offset of running mean (then var) in buffers */
    long size;         /* output floats per image */
    float *out, *dout; /* batch * size each; dout is NULL for the input */
    float *scratch;    /* this layer's kernel scratch (kept from forward to backward) */
    /* batchnorm: the activation node it computes too (layer_fused_act),
       0 if none; then out is NULL (the activation's out holds the result)
       and dout receives the gradient of the normalised values */
    int fuse_act;
    bool fused; /* an activation computed by the batchnorm before it */
    /* evaluation only (layer_pool_relu): a relu whose one consumer is a max
       or min pool is applied after that pool, on a quarter of the values
       (pool_relu: the pool, in the relu's layer; relu_in: the relu, in the
       pool's), 0 if none */
    int pool_relu, relu_in;
    bool pool_trains; /* in both layers: the pair swaps in training too
                         (layer_pool_relu_trains); then the relu has no dout */
    ops_conv conv;
    ops_pool pool;
    ops_bn bn;
    ops_ln ln;
    const float **ins; /* concat/add: input activations */
    float **dins;      /* concat/add: input gradients (NULL entries for the input) */
    int *chans;        /* concat: channels of each input */
    bool broadcast;    /* mul: second input is per channel */
    /* per input: backward adds to the input's gradient (true), or stores
       it (false: this node is the gradient's first writer, see zero_at) */
    bool *accumulate;
} model_layer;

/* Evaluation views per model: one per thread, at most OPS_MAX_THREADS. */
#define MODEL_VIEWS 8

typedef struct model {
    const net_graph *g;
    int batch; /* capacity: images per pass */
    long n_params, n_buffers;
    float *params, *grads, *buffers;
    /* [offset, length) pairs of the parameters that take weight decay:
       conv and linear weights, never biases or norm weights */
    long *decay;
    int n_decay;
    model_layer *layers; /* one per graph node */
    float *arena;
    size_t bytes;   /* the one block model_new allocated (model_plan_bytes) */
    float *conv_ws; /* working memory shared by all convolutions */
    int *labels;    /* batch labels */
    rng dropout_rng;
    /* input normalisation (per channel, in [0, 1] pixel units), measured on
       the training split and saved with the weights so evaluation
       normalises the same way; mean 0 and std 1 until set */
    float *norm_mean, *norm_std;
    /* GEVO_PROFILE=1 in the environment: seconds spent per node, forward
       then backward (2 per node), printed to stderr by model_free.
       GEVO_NO_FUSE=1: no batchnorm computes the activation after it (to
       measure what the fusion brings); GEVO_NO_SHARE=1: no add's input
       keeps its gradient in the add's storage (grad_home) */
    double *prof;
    /* Activation gradients are accumulated into. The first consumer to
       run backward (the last in node order) stores instead, where its
       operator can (conv, batchnorm, activations, add); otherwise the
       storage must be zeroed first: zero_at[zero_start[k] ..
       zero_start[k + 1]) lists the nodes whose gradient is zeroed just
       before node k's backward runs, while it is still about to be used
       (k = n_nodes: before backward starts). */
    int *zero_start, *zero_at;
    /* grad_home[i]: the node whose gradient storage holds node i's (i, its
       input's for an alias, a later add's for that add's input: see
       gradient_homes in model.c) */
    int *grad_home;
    /* evaluation in pieces (engine/model_eval.c): views[t] is thread t's
       view, made on first use; view is true in a view */
    struct model *views[MODEL_VIEWS];
    int piece; /* images per piece, 0 before the first evaluation */
    bool view;
} model;

/* The bytes model_new(g, batch, ...) allocates: one block holding the
 * model, its parameters, gradients and running statistics, every
 * activation and activation gradient at `batch` images and the kernels'
 * working memory, sized by the same code that lays it out. Allocates
 * nothing. Returns 0, or -1 with a message (an operator's kernel refuses
 * its shape, or the sizes overflow). */
int model_plan_bytes(const net_graph *g, int batch, size_t *bytes, gerr *err);

/* Lays out and initialises a model (PyTorch's default initialisation,
 * drawn from seed) in one block of model_plan_bytes. Returns NULL with a
 * message on failure. */
model *model_new(const net_graph *g, int batch, uint64_t seed, gerr *err);
void model_free(model *m);

/* The buffer the next batch's images go into: batch * input floats. */
float *model_input(model *m);

/* Forward pass over n <= batch images of model_input(); training selects
 * batch statistics and dropout. Returns the logits, n x classes.
 * Evaluation (training false) runs in pieces of a few images, each through
 * the whole network on one thread (model_eval_pieces): the first one
 * allocates the views it needs (model_new_view). */
const float *model_forward(model *m, int n, bool training);

/* A view of m for evaluation at batch images: its own activations and
 * working memory, m's parameters and statistics (borrowed: m must outlive
 * it), no gradients. Released with model_free. NULL with a message when
 * out of memory. */
model *model_new_view(const model *m, int batch, gerr *err);
/* The bytes model_new_view of a model of g allocates at batch images. */
int model_plan_view_bytes(const net_graph *g, int batch, size_t *bytes, gerr *err);

/* Evaluates n images of model_input(m) into m's output in pieces of
 * m->piece images (engine/model_eval.c); false when it cannot (views out
 * of memory, or GEVO_EVAL_PIECE=0): then the caller evaluates the whole
 * batch at once. */
bool model_eval_pieces(model *m, int n);

/* The bytes the views of model_eval_pieces take for a model of g at
 * batch images evaluated on `threads` threads (a view per thread, made
 * at the first evaluation). Allocates nothing. */
int model_eval_plan_bytes(const net_graph *g, int batch, int threads, size_t *bytes, gerr *err);

/* Softmax cross-entropy of the last forward against labels; when
 * backward is true, also runs the backward pass, leaving the gradients in
 * m->grads (zeroed first). Sets *loss and *correct. Returns 0 or -1 with a
 * message. */
int model_loss(model *m, int n, const int *labels, float smoothing, bool backward, float *loss,
               int *correct, gerr *err);

/* Weights file: see engine/model.c for the format. Save writes to a
 * temporary file and renames it, so a crash never leaves half a file. */
int model_save(const model *m, const char *path, gerr *err);
int model_load(model *m, const char *path, gerr *err);

#endif
