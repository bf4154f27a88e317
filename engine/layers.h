/* The model's side of every operator (kann's per-operator functions): how
 * many parameters a node has, how they start, how its kernels are set up,
 * and its forward and backward pass, in one table indexed by net_op and
 * generated from engine/net_ops.h. Internal to the engine: model.c walks
 * the graph and calls these; engine/ops.h holds the kernels they call. */
#ifndef GEVO_ENGINE_LAYERS_H
#define GEVO_ENGINE_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/model.h"

typedef struct layer_params {
    long nw, nb; /* floats of the weight (or gamma) and the bias (or beta) */
    long nstats; /* floats of running statistics (batch norm: mean, then var) */
    bool decay;  /* the weight takes weight decay (conv, linear) */
} layer_params;

typedef struct layer_fns {
    int variant; /* the row's variant (an ops_act, an ops_pool_kind) */
    /* Parameters of node nd of g; NULL: none. */
    void (*params)(const net_graph *g, const net_node *nd, layer_params *p);
    /* PyTorch's default initialisation of node i's parameters and
       statistics, drawing from r (nodes are initialised in order); NULL:
       nothing to set. */
    void (*init)(model *m, int i, rng *r);
    /* Fills L's kernel structs for node i of g at `batch` images (L->node
       and L->size are set) and returns its scratch floats (kept from
       forward to backward), or (size_t)-1 with a message. Grows *conv_ws
       to the convolution working memory it needs. Allocates nothing, and
       needs no model: model_plan_bytes sizes a model with it before one
       exists. NULL: no kernel struct, no scratch. */
    size_t (*setup)(const net_graph *g, int i, int batch, model_layer *L, size_t *conv_ws,
                    gerr *err);
    /* n images of the batch; NULL: nothing to compute (the input, flatten) */
    void (*forward)(model *m, int i, int n, bool training);
    void (*backward)(model *m, int i, int n);
} layer_fns;

extern const layer_fns layer_table[NET_OP_COUNT];

/* The activation node that batchnorm node i of g computes as well (the
 * activation is its only consumer: ops_bn.fuse_act), or 0: none, i is no
 * batchnorm, or GEVO_NO_FUSE=1 is in the environment. */
int layer_fused_act(const net_graph *g, int i);

/* The max or min pool that relu node i of g feeds alone, or 0: i is no
 * unfused relu, not the output, or feeds anything else. In evaluation the
 * pool then reads the relu's input and the relu runs on the pooled values:
 * max(relu(x)) = relu(max(x)) exactly, relu being non-decreasing (and
 * min alike), so the numbers are the same with a fraction of the relu's
 * work. Training keeps the order unless layer_pool_relu_trains. */
int layer_pool_relu(const net_graph *g, int i);

/* Whether relu node i and its pool (layer_pool_relu) swap in training too:
 * the pool takes the relu's input, keeps its argmax there and runs the
 * relu on the pooled values; its backward sends each output's gradient to
 * its argmax where the pooled value is positive, into the relu's input
 * gradient, and the relu stores no output gradient of its own. The same
 * numbers as the pair in the graph's order (the argmax of a window is the
 * same wherever its extreme is positive; elsewhere the relu passes no
 * gradient), when the pool comes right after the relu (no other node's
 * backward runs between theirs, where the relu's input gradient may be
 * written) and its windows do not overlap (one gradient per input). Not
 * under GEVO_NO_FUSE=1. */
bool layer_pool_relu_trains(const net_graph *g, int i);

#endif
