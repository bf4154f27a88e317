/* The operators of gevo-net: one row each, the only list there is.
 *
 * The net_op enum, every table of names, the compiler's table (argument
 * list and shape inference, engine/net_build.c) and the model's table
 * (parameters, setup, forward, backward, engine/layers.c) are generated
 * from NET_OP_INFO, so adding an operator of an existing family is one
 * row here plus its kernel; a new family also writes its functions in
 * those two files. Rows are in enum order.
 *
 *   X(ID, name, family, variant, flags)
 *
 *   ID       the enum constant is NET_ID
 *   name     as a program calls it and as every table shows it
 *   family   the functions that implement it, named after the family:
 *            FAMILY_args and build_FAMILY in net_build.c, layer_FAMILY in
 *            layers.c; operators of one family share their code
 *   variant  the family's kernel variant (an ops_act or ops_pool_kind of
 *            engine/ops.h), 0 where there is one kernel
 *   flags    NET_OPF_* below
 *
 * The input node is an operator too (it holds the images); it cannot be
 * called. */
#ifndef GEVO_ENGINE_NET_OPS_H
#define GEVO_ENGINE_NET_OPS_H

// clang-format off
#define NET_OP_INFO(X)                                                                    \
    X(INPUT,     "input",     input,     0,            0)                                 \
    X(CONV,      "conv",      conv,      0,            NET_OPF_STORES)                    \
    X(LINEAR,    "linear",    linear,    0,            NET_OPF_STORES)                    \
    X(BATCHNORM, "batchnorm", batchnorm, 0,            NET_OPF_STORES)                    \
    X(LAYERNORM, "layernorm", layernorm, 0,            0)                                 \
    X(RELU,      "relu",      act,       OPS_RELU,     NET_OPF_STORES | NET_OPF_ACT_PICK) \
    X(SILU,      "silu",      act,       OPS_SILU,     NET_OPF_STORES | NET_OPF_ACT_PICK) \
    X(HSWISH,    "hswish",    act,       OPS_HSWISH,   NET_OPF_STORES | NET_OPF_ACT_PICK) \
    X(GELU,      "gelu",      act,       OPS_GELU,     NET_OPF_STORES | NET_OPF_ACT_PICK) \
    X(SIGMOID,   "sigmoid",   act,       OPS_SIGMOID,  NET_OPF_STORES)                    \
    X(TANH,      "tanh",      act,       OPS_TANH,     NET_OPF_STORES | NET_OPF_ACT)      \
    X(MAXPOOL,   "maxpool",   pool,      OPS_POOL_MAX, 0)                                 \
    X(AVGPOOL,   "avgpool",   pool,      OPS_POOL_AVG, 0)                                 \
    X(MINPOOL,   "minpool",   pool,      OPS_POOL_MIN, 0)                                 \
    X(GAP,       "gap",       gap,       0,            0)                                 \
    X(CONCAT,    "concat",    concat,    0,            NET_OPF_STORES)                    \
    X(ADD,       "add",       add,       0,            NET_OPF_STORES)                    \
    X(MUL,       "mul",       mul,       0,            NET_OPF_STORES)                    \
    X(DROPOUT,   "dropout",   dropout,   0,            NET_OPF_STORES)                    \
    X(FLATTEN,   "flatten",   flatten,   0,            NET_OPF_ALIAS)
// clang-format on

enum {
    /* backward can store its input gradient instead of adding to it
       (the accumulate argument of engine/ops.h), sparing a zeroing */
    NET_OPF_STORES = 1,
    /* the output is the input's memory, seen with another shape: the
       operator computes nothing, forward or backward */
    NET_OPF_ALIAS = 2,
    /* an activation that random mutation may replace by another */
    NET_OPF_ACT = 4,
    /* ... and may choose as the replacement (tanh saturates: never chosen;
       sigmoid is a gate, not an activation to swap) */
    NET_OPF_ACT_PICK = 8 | NET_OPF_ACT,
};

#endif
