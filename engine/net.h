/* gevo-net: the network language (see man/gevo-net.5).
 *
 * A program is compiled in one step into a flat graph: every block call is
 * inlined, every node has its output shape, parameter count and FLOPs, and
 * the nodes are in topological order (a node's inputs come before it).
 * Compilation enforces the limits in net_limits, so a hostile or careless
 * program becomes an error, never a crash or a runaway allocation.
 *
 * Ownership: net_compile() allocates the graph; net_graph_free() frees it
 * and everything it points to. Errors are returned in a caller-owned
 * net_error; nothing is printed by the library. */
#ifndef GEVO_ENGINE_NET_H
#define GEVO_ENGINE_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/base/error.h"
#include "engine/net_ops.h"

typedef struct net_limits {
    long max_params;      /* parameters in the whole network (20M) */
    double max_flops;     /* forward FLOPs per image (20 G) */
    double max_act_bytes; /* activation memory per image, float32 (256 MiB) */
    int max_depth;        /* nesting of block calls (32) */
    long max_file_bytes;  /* size of the source (256 KiB) */
    int max_ident;        /* characters in a name (64) */
    int max_number;       /* characters in a number literal (32) */
    int max_nodes;        /* operator nodes after inlining (20,000) */
    int max_dim;          /* channels, features, kernel, height, width (65,536) */
} net_limits;

void net_limits_default(net_limits *lim);

/* A compile error: a gerr (engine/base/error.h) that also says where. */
typedef struct net_error {
    gerr base; /* base.msg: what is wrong, without the position */
    char file[256];
    int line, col;    /* 1-based; 0 when the error is about the whole file */
    char hint[256];   /* "" when there is none */
    char source[256]; /* the offending source line, truncated, "" if none */
} net_error;

/* "file:line:col: error: msg", the source line, a caret, and the hint. */
void net_error_print(const net_error *err, FILE *out);
/* The first line of the above, into buf (always terminated). */
void net_error_string(const net_error *err, char *buf, size_t size);

typedef enum net_op {
#define NET_OP_ENUM(id, name, family, variant, flags) NET_##id,
    NET_OP_INFO(NET_OP_ENUM)
#undef NET_OP_ENUM
    NET_OP_COUNT
} net_op;

/* The operator's name ("?" for a value outside the enum). */
const char *net_op_name(net_op op);
/* Its NET_OPF_* flags (engine/net_ops.h); 0 outside the enum. */
unsigned net_op_flags(net_op op);
/* The operator a program calls `name`, or NET_OP_COUNT when there is none
 * (dwconv, a spelling of conv, is not an operator of its own). */
net_op net_op_lookup(const char *name);

/* Per-image shape, channels x height x width. A vector of n features is
 * n x 1 x 1 (gap, flatten and linear produce vectors). */
typedef struct net_shape {
    int c, h, w;
} net_shape;

static inline long net_shape_size(net_shape s)
{
    return (long)s.c * s.h * s.w;
}

typedef struct net_node {
    net_op op;
    int n_in;
    int *in;         /* indices of the input nodes, all < this node's */
    net_shape shape; /* output shape */
    /* Attributes; which ones matter depends on op (see man/gevo-net.5). */
    int kh, kw;       /* conv, pools: kernel */
    int stride;       /* conv, pools */
    int pad_h, pad_w; /* conv, pools: zero (or -inf for max) padding */
    int dilation;     /* conv */
    int groups;       /* conv: in and out channels both divisible */
    bool depthwise;   /* conv written as dwconv (groups == channels) */
    bool bias;        /* conv, linear */
    bool ceil;        /* pools: ceil mode as in PyTorch */
    float p;          /* dropout probability */
    float eps;        /* batchnorm, layernorm */
    float momentum;   /* batchnorm running statistics (PyTorch meaning) */
    long params;      /* trainable parameters of this node */
    double flops;     /* forward FLOPs per image (a multiply-add is 2) */
    int line, col;    /* source position of the operator call */
    char scope[96];   /* block call path, e.g. "dfseb>se_ln", "" at top */
} net_node;

typedef enum net_schedule {
    NET_SCHED_CONSTANT,
    NET_SCHED_STEP,
    NET_SCHED_COSINE,
    NET_SCHED_PLATEAU
} net_schedule;

typedef enum net_optimizer {
    NET_OPT_SGD,
    NET_OPT_ADAMW
} net_optimizer;

/* The `train` section; every field has a default (see net_train_default). */
typedef struct net_train {
    net_optimizer optimizer;       /* sgd */
    double lr;                     /* 0.05 */
    double momentum;               /* 0.9 */
    bool nesterov;                 /* true */
    double weight_decay;           /* 1e-4 (never on norm weights and biases) */
    double beta1, beta2, adam_eps; /* adamw: 0.9, 0.999, 1e-8 */
    net_schedule schedule;         /* cosine */
    int step_size;                 /* step: epochs between decays (1) */
    double gamma;                  /* step, plateau: decay factor (0.1) */
    int patience;                  /* plateau: epochs without improvement (2) */
    int warmup;                    /* linear warm-up, in steps (0) */
    double min_lr;                 /* floor of cosine and plateau (0) */
    int epochs;                    /* 1 */
    int batch;                     /* 128 */
    bool flip;                     /* augment=flip */
    bool crop;                     /* augment=crop */
    int crop_pad;                  /* padding of the random crop (4) */
    double label_smoothing;        /* 0 */
    double clip;                   /* gradient-norm clipping, 0 = none */
    long seed;                     /* 1: initialisation, shuffling, dropout */
} net_train;

void net_train_default(net_train *t);
/* Applies "key=value [key=value...]" (the syntax of the train section) over
 * *t, e.g. from the command line. Returns 0, or -1 with err filled and *t
 * unchanged. */
int net_train_set(net_train *t, const char *setting, net_error *err);

typedef struct net_graph {
    net_node *nodes;
    int n_nodes;
    int output; /* index of the output node (shape classes x1x1) */
    net_shape input;
    int classes;
    long params;
    double flops;     /* forward, per image */
    double act_bytes; /* sum of every node's output, per image, float32 */
    net_train train;
    char *canonical; /* canonical form: no comments, one spacing */
    uint64_t hash;   /* FNV-1a 64 of canonical */
} net_graph;

/* Compiles src (len bytes, need not be terminated); filename is used in
 * errors only. lim may be NULL for the defaults. Returns 0 and sets *out,
 * or -1 and fills *err. */
int net_compile(const char *src, size_t len, const char *filename, const net_limits *lim,
                net_graph **out, net_error *err);
/* The same, with the input declaration's shape replaced by *input (when
 * not NULL): the shape of the data the program is trained on. */
int net_compile_with_input(const char *src, size_t len, const char *filename, const net_limits *lim,
                           const net_shape *input, net_graph **out, net_error *err);
/* Reads path (at most lim->max_file_bytes) and compiles it. */
int net_compile_file(const char *path, const net_limits *lim, net_graph **out, net_error *err);
void net_graph_free(net_graph *g);

/* The `def` blocks (genes) of a source text, by line range, for the code
 * that rewrites one gene at a time. Lines are 1-based and inclusive; the
 * range covers the def line and its indented body. */
typedef struct net_block {
    char name[64];
    int first_line, last_line;
} net_block;

/* Returns the number of blocks found (at most max) or -1 on a source that
 * is too large to scan; blocks[] is filled in source order. */
int net_list_blocks(const char *src, size_t len, net_block *blocks, int max);

/* ---- the syntax tree -------------------------------------------------
 * The program as written, read-only, for tools that translate it into
 * another language (core/export_torch.c writes PyTorch from it). It comes
 * from the same compilation as the graph: an operator call of the tree
 * and the nodes it made share its (line, col), and the nodes are in the
 * order the calls were evaluated (arguments left to right, a block's
 * arguments before its body, both sides of an operator before it).
 *
 * Ownership: net_compile_syntax() allocates it; net_syntax_free() frees
 * it and every string and node it points to. */
typedef enum net_expr_kind {
    NET_EXPR_INT,
    NET_EXPR_FLOAT,
    NET_EXPR_NAME,   /* a variable, or classes, true, false, same, valid */
    NET_EXPR_STRING, /* "same" or "valid" */
    NET_EXPR_CALL,   /* an operator or a block */
    NET_EXPR_BINOP,
    NET_EXPR_NEG
} net_expr_kind;

typedef struct net_expr net_expr;

typedef struct net_arg {
    const char *name; /* NULL for a positional argument */
    const net_expr *value;
} net_arg;

struct net_expr {
    net_expr_kind kind;
    int line, col;       /* a call's name, an operator's symbol */
    long ival;           /* INT */
    double fval;         /* FLOAT (and INT) */
    const char *text;    /* NAME, STRING, the callee of a CALL */
    const char *op;      /* BINOP: "+", "-", "*", "/", "//" or "%" */
    const net_expr *lhs; /* BINOP, NEG */
    const net_expr *rhs; /* BINOP */
    const net_arg *args; /* CALL, in the order written */
    int n_args;
};

typedef struct net_stmt {
    const char *target; /* NULL for a return */
    const net_expr *value;
    int line;
} net_stmt;

typedef struct net_param {
    const char *name;
    const net_expr *def; /* default, or NULL */
} net_param;

typedef struct net_def {
    const char *name;
    const net_param *params;
    int n_params;
    const net_stmt *body;
    int n_body;
    int line;
} net_def;

typedef struct net_syntax {
    const char *input_name;
    int classes;
    const net_def *defs; /* in source order */
    int n_defs;
    const net_stmt *top;
    int n_top;
} net_syntax;

/* net_compile_with_input(), also returning the syntax tree in *syntax. */
int net_compile_syntax(const char *src, size_t len, const char *filename, const net_limits *lim,
                       const net_shape *input, net_graph **out, net_syntax **syntax,
                       net_error *err);
void net_syntax_free(net_syntax *s);

/* An operator's arguments in positional order, as gevo-net(5) lists them,
 * for tools that translate calls (binding positional and keyword
 * arguments, filling defaults). def is the default as the manual writes
 * it ("1", "same", "true", "1e-5"; "k": the value of k), NULL when the
 * argument is required. */
typedef enum net_arg_kind {
    NET_ARG_TENSOR,
    NET_ARG_INT,
    NET_ARG_FLOAT,
    NET_ARG_BOOL,
    NET_ARG_PAD,    /* an integer, same or valid */
    NET_ARG_TENSORS /* two or more tensors, by position (concat, add) */
} net_arg_kind;

typedef struct net_op_arg {
    const char *name;
    net_arg_kind kind;
    const char *def;
} net_op_arg;

/* Operators that make no node of their own kind: dwconv makes a NET_CONV
 * node, channels none. */
#define NET_OP_DWCONV   ((int)NET_OP_COUNT)
#define NET_OP_CHANNELS ((int)NET_OP_COUNT + 1)

typedef struct net_op_sig {
    const char *name;
    int op; /* a net_op, NET_OP_DWCONV or NET_OP_CHANNELS */
    int n;  /* arguments in a[] */
    const net_op_arg *a;
} net_op_sig;

/* Fills *sig (when not NULL) with the signature of the operator called
 * name; false when no operator has that name (it may be a block). */
bool net_op_signature(const char *name, net_op_sig *sig);

#endif
