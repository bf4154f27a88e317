/* gevo-net: elaboration. Runs the program symbolically: every block call is
 * inlined, every operator becomes a graph node with its shape, parameters
 * and FLOPs, and every limit is checked as the graph grows, so the graph
 * can never become larger than the limits allow. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "engine/net_ast.h"

/* ---- values and scopes ---------------------------------------------- */

typedef enum vkind {
    V_TENSOR,
    V_INT,
    V_FLOAT,
    V_BOOL,
    V_SYM
} vkind;

typedef struct value {
    vkind k;
    long i;        /* V_INT, V_BOOL */
    double f;      /* V_FLOAT (and V_INT as a double) */
    int node;      /* V_TENSOR */
    const char *s; /* V_SYM */
} value;

#define MAX_BINDINGS 256

typedef struct frame {
    const char *block; /* NULL at top level */
    const stmt *stmts; /* the statements of this scope, for hints */
    int n_stmts;
    int n;
    const char *names[MAX_BINDINGS];
    value vals[MAX_BINDINGS];
} frame;

typedef struct builder {
    compiler *c;
    net_graph *g;
    size_t cap; /* of g->nodes */
    int depth;
    const char *stack[64]; /* block names being called, for recursion */
    char scope[96];
} builder;

static const char *kind_name(vkind k)
{
    switch (k) {
    case V_TENSOR: return "a tensor";
    case V_INT: return "an integer";
    case V_FLOAT: return "a number";
    case V_BOOL: return "a boolean";
    case V_SYM: return "a name";
    }
    return "?";
}

static void shape_str(net_shape s, char *buf, size_t n)
{
    if (s.h == 1 && s.w == 1)
        snprintf(buf, n, "%d", s.c);
    else
        snprintf(buf, n, "%dx%dx%d", s.c, s.h, s.w);
}

static value *lookup(frame *f, const char *name)
{
    for (int i = f->n - 1; i >= 0; i--)
        if (!strcmp(f->names[i], name))
            return &f->vals[i];
    return NULL;
}

static void bind(builder *b, frame *f, const char *name, value v, int line, int col)
{
    value *old = lookup(f, name);
    if (old) {
        *old = v;
        return;
    }
    if (f->n == MAX_BINDINGS)
        compile_fail(b->c, line, col, NULL, "more than %d names in one scope", MAX_BINDINGS);
    f->names[f->n] = name;
    f->vals[f->n++] = v;
}

/* ---- graph nodes ---------------------------------------------------- */

static net_node *new_node(builder *b, net_op op, const int *in, int n_in, int line, int col)
{
    compiler *c = b->c;
    net_graph *g = b->g;
    if (g->n_nodes >= c->lim.max_nodes)
        compile_fail(
            c, line, col, "blocks that call other blocks several times multiply; expand less",
            "the network has more than %d layers after expanding blocks", c->lim.max_nodes);
    if (ALLOC_GROW(g->nodes, g->n_nodes + 1, b->cap))
        compile_fail(c, line, col, NULL, "out of memory");
    net_node *nd = &g->nodes[g->n_nodes];
    memset(nd, 0, sizeof *nd);
    if (n_in) {
        nd->in = malloc(sizeof(int) * (size_t)n_in);
        if (!nd->in)
            compile_fail(c, line, col, NULL, "out of memory");
        memcpy(nd->in, in, sizeof(int) * (size_t)n_in);
    }
    g->n_nodes++;
    nd->op = op;
    nd->n_in = n_in;
    nd->line = line;
    nd->col = col;
    nd->eps = 1e-5f;
    nd->momentum = 0.1f;
    nd->stride = 1;
    nd->dilation = 1;
    nd->groups = 1;
    snprintf(nd->scope, sizeof nd->scope, "%s", b->scope);
    return nd;
}

/* Accounts the node that was just completed against the limits. */
static void finish_node(builder *b, net_node *nd)
{
    compiler *c = b->c;
    net_graph *g = b->g;
    if (nd->shape.c > c->lim.max_dim || nd->shape.h > c->lim.max_dim ||
        nd->shape.w > c->lim.max_dim)
        compile_fail(c, nd->line, nd->col, NULL, "%s output has a dimension above the limit of %d",
                     net_op_name(nd->op), c->lim.max_dim);
    g->params += nd->params;
    g->flops += nd->flops;
    g->act_bytes += 4.0 * (double)net_shape_size(nd->shape);
    if (g->params > c->lim.max_params)
        compile_fail(c, nd->line, nd->col, "use fewer channels or smaller layers",
                     "the network has more than the limit of %ld parameters (%ld at this layer)",
                     c->lim.max_params, g->params);
    if (g->flops > c->lim.max_flops)
        compile_fail(c, nd->line, nd->col, "use fewer channels, strides or pooling",
                     "the network needs more than the limit of %.3g FLOPs per image",
                     c->lim.max_flops);
    if (g->act_bytes > c->lim.max_act_bytes)
        compile_fail(c, nd->line, nd->col, "downsample earlier or use fewer channels",
                     "the network's activations need more than the limit of %.0f MiB per image",
                     c->lim.max_act_bytes / 1048576.0);
}

/* ---- operator arguments ------------------------------------------------ */

/* The argument kinds and specs are net.h's (net_op_signature shows them to
   translators), under the short names this file uses. */
typedef net_arg_kind akind;
#define A_TENSOR  NET_ARG_TENSOR
#define A_INT     NET_ARG_INT
#define A_FLOAT   NET_ARG_FLOAT
#define A_BOOL    NET_ARG_BOOL
#define A_PAD     NET_ARG_PAD
#define A_TENSORS NET_ARG_TENSORS

typedef net_op_arg aspec;

/* Spellings that are not operators of their own: dwconv is a conv node,
 * channels(x) an integer. */
enum {
    PSEUDO_DWCONV = NET_OP_DWCONV,
    PSEUDO_CHANNELS = NET_OP_CHANNELS
};

#define MAX_ARGS 9

typedef struct bound_args {
    value v[MAX_ARGS];
    bool given[MAX_ARGS];
    int line[MAX_ARGS], col[MAX_ARGS];
    int tensors[256]; /* A_TENSORS */
    int n_tensors;
} bound_args;

typedef struct opspec opspec;
/* A family's shape inference: checks the bound arguments, adds the node
 * (or computes the value) and returns it. */
typedef value (*build_fn)(builder *b, const opspec *os, bound_args *ba, const expr *call);

struct opspec {
    const char *name;
    int op; /* net_op, or PSEUDO_* */
    int n;  /* arguments */
    const aspec *a;
    build_fn build; /* NULL: declared, never called (the input) */
};

#define T1                  \
    {                       \
        "x", A_TENSOR, NULL \
    }

/* A family's arguments in positional order, one row each: the slot that
 * names it in build_FAMILY (ba->v[slot]), then its name, kind and
 * default. DEFINE_ARGS(family, LIST) makes the enum of slots and
 * family_args[] from the one list. */
#define ARG_SLOT(slot, name, kind, def) slot,
#define ARG_SPEC(slot, name, kind, def) [slot] = {name, kind, def},
#define DEFINE_ARGS(family, LIST) \
    enum {                        \
        LIST(ARG_SLOT)            \
    };                            \
    static const aspec family##_args[] = {LIST(ARG_SPEC)}

/* ---- argument matching ---------------------------------------------- */

static value eval(builder *b, frame *f, const expr *e);

/* The slot of the argument called name (which os has). */
static int arg_slot(const opspec *os, const char *name)
{
    int j = 0;
    while (j < os->n - 1 && strcmp(os->a[j].name, name))
        j++;
    return j;
}

static value literal_default(const char *def)
{
    value v = {0};
    if (!strcmp(def, "same")) {
        v.k = V_SYM;
        v.s = "same";
    } else if (!strcmp(def, "true") || !strcmp(def, "false")) {
        v.k = V_BOOL;
        v.i = !strcmp(def, "true");
    } else if (strchr(def, '.') || strchr(def, 'e')) {
        v.k = V_FLOAT;
        v.f = strtod(def, NULL);
    } else {
        v.k = V_INT;
        v.i = strtol(def, NULL, 10);
        v.f = (double)v.i;
    }
    return v;
}

static bool is_true_name(const char *s)
{
    return !strcmp(s, "true") || !strcmp(s, "True");
}
static bool is_false_name(const char *s)
{
    return !strcmp(s, "false") || !strcmp(s, "False");
}

/* v as an argument of kind want (what: the kind in words), or the call
 * fails at line/col. */
static value must_be(compiler *c, const opspec *os, const aspec *as, value v, vkind want,
                     const char *what, const char *hint, int line, int col)
{
    if (v.k != want)
        compile_fail(c, line, col, hint, "%s(): argument '%s' must be %s, not %s", os->name,
                     as->name, what, kind_name(v.k));
    return v;
}

/* Converts v to what the argument spec wants, or fails at line/col. */
static value coerce(builder *b, const opspec *os, const aspec *as, value v, int line, int col)
{
    compiler *c = b->c;
    switch (as->kind) {
    case A_TENSOR:
    case A_TENSORS: return must_be(c, os, as, v, V_TENSOR, "a tensor", NULL, line, col);
    case A_INT:
        if (v.k == V_FLOAT && v.f == floor(v.f) && fabs(v.f) < 1e9) {
            v.k = V_INT;
            v.i = (long)v.f;
        }
        return must_be(c, os, as, v, V_INT, "an integer", NULL, line, col);
    case A_FLOAT:
        if (v.k == V_INT) {
            v.k = V_FLOAT;
            v.f = (double)v.i;
        }
        return must_be(c, os, as, v, V_FLOAT, "a number", NULL, line, col);
    case A_BOOL:
        if (v.k == V_INT && (v.i == 0 || v.i == 1))
            v.k = V_BOOL;
        return must_be(c, os, as, v, V_BOOL, "true or false", "write true or false", line, col);
    case A_PAD:
        if (v.k == V_SYM && (!strcmp(v.s, "same") || !strcmp(v.s, "valid")))
            return v;
        if (v.k != V_INT)
            compile_fail(c, line, col, "padding is a number, same or valid",
                         "%s(): argument '%s' must be an integer, same or valid", os->name,
                         as->name);
        return v;
    }
    return v;
}

static void match_args(builder *b, frame *f, const opspec *os, const expr *call, bound_args *ba)
{
    compiler *c = b->c;
    memset(ba->given, 0, sizeof ba->given);
    ba->n_tensors = 0;
    int pos = 0;
    for (int i = 0; i < call->n_args; i++) {
        const arg *a = &call->args[i];
        int slot;
        if (a->name) {
            slot = -1;
            for (int j = 0; j < os->n; j++)
                if (!strcmp(os->a[j].name, a->name))
                    slot = j;
            /* PyTorch spellings an LLM is likely to use */
            if (slot < 0 && !strcmp(a->name, "kernel_size"))
                slot = -2;
            if (slot < 0 && (!strcmp(a->name, "out_channels") || !strcmp(a->name, "out_features")))
                slot = -3;
            if (slot < 0) {
                char hint[200] = "", *h = hint;
                size_t left = sizeof hint;
                int w = snprintf(h, left, "%s() takes:", os->name);
                for (int j = 0; j < os->n && w > 0 && (size_t)w < left; j++) {
                    h += w;
                    left -= (size_t)w;
                    w = snprintf(h, left, " %s", os->a[j].name);
                }
                if (slot == -2)
                    snprintf(hint, sizeof hint, "write k=%s", "...");
                if (slot == -3)
                    snprintf(hint, sizeof hint,
                             "the output size is the second positional argument");
                compile_fail(c, a->line, a->col, hint, "%s() has no argument '%s'", os->name,
                             a->name);
            }
            if (os->a[slot].kind == A_TENSORS)
                compile_fail(c, a->line, a->col, NULL,
                             "%s() takes its tensors as positional arguments", os->name);
        } else {
            if (pos < os->n && os->a[pos].kind == A_TENSORS) {
                value v = eval(b, f, a->value);
                v = coerce(b, os, &os->a[pos], v, a->line, a->col);
                if (ba->n_tensors == 256)
                    compile_fail(c, a->line, a->col, NULL, "%s(): more than 256 tensors", os->name);
                ba->tensors[ba->n_tensors++] = v.node;
                ba->given[pos] = true;
                continue;
            }
            if (pos >= os->n)
                compile_fail(c, a->line, a->col, NULL,
                             "%s() takes at most %d positional argument%s", os->name, os->n,
                             os->n == 1 ? "" : "s");
            slot = pos++;
        }
        if (ba->given[slot])
            compile_fail(c, a->line, a->col, NULL, "%s(): argument '%s' given twice", os->name,
                         os->a[slot].name);
        value v = eval(b, f, a->value);
        ba->v[slot] = coerce(b, os, &os->a[slot], v, a->line, a->col);
        ba->given[slot] = true;
        ba->line[slot] = a->line;
        ba->col[slot] = a->col;
    }
    for (int j = 0; j < os->n; j++) {
        if (ba->given[j])
            continue;
        if (!os->a[j].def) {
            char hint[128];
            snprintf(hint, sizeof hint, "e.g. %s(x%s)", os->name,
                     os->a[j].kind == A_TENSORS ? ", y"
                     : j == 1                   ? ", 32"
                                                : ", ...");
            compile_fail(c, call->line, call->col, hint, "%s(): missing argument '%s'", os->name,
                         os->a[j].name);
        }
        ba->line[j] = call->line;
        ba->col[j] = call->col;
        if (!strcmp(os->a[j].def, "k"))
            ba->v[j] = ba->v[arg_slot(os, "k")]; /* pools: stride defaults to k */
        else
            ba->v[j] = literal_default(os->a[j].def);
    }
    if (os->a[0].kind == A_TENSORS && ba->n_tensors < 2)
        compile_fail(c, call->line, call->col, NULL, "%s() needs at least two tensors", os->name);
}

static long int_arg(builder *b, const opspec *os, bound_args *ba, int j, long lo, long hi)
{
    long v = ba->v[j].i;
    if (v < lo || v > hi)
        compile_fail(b->c, ba->line[j], ba->col[j], NULL, "%s(): %s=%ld is outside %ld..%ld",
                     os->name, os->a[j].name, v, lo, hi);
    return v;
}

static net_shape in_shape(builder *b, int node)
{
    return b->g->nodes[node].shape;
}

/* Output size of a sliding window, as PyTorch computes it. */
static int window_out(builder *b, const expr *call, const char *what, int size, int k, int stride,
                      int pad, int dil, bool ceil_mode)
{
    /* PyTorch's pooling_output_shape: floor division of a numerator that
       ceil mode rounds up, then the last window must start inside the
       input or the left padding */
    long num = size + 2L * pad - (long)dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    long out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
    if (ceil_mode && out > 0 && (out - 1) * stride >= size + pad)
        out--;
    if (out < 1)
        compile_fail(b->c, call->line, call->col,
                     "the input is too small for this kernel; remove a downsampling step",
                     "%s(): kernel %d%s does not fit the input of size %d (padding %d)", what, k,
                     dil > 1 ? " (dilated)" : "", size, pad);
    return (int)out;
}

/* The node of a square sliding window over x (conv, the pools): kernel
 * k, stride, padding; its output has c channels and the size window_out
 * gives (dilation dil; the caller sets the node's dilation). */
static net_node *window_node(builder *b, const opspec *os, const expr *call, net_op op, int x,
                             int c, long k, long stride, long pad, long dil, bool ceil_mode)
{
    net_shape s = in_shape(b, x);
    int ho = window_out(b, call, os->name, s.h, (int)k, (int)stride, (int)pad, (int)dil, ceil_mode);
    int wo = window_out(b, call, os->name, s.w, (int)k, (int)stride, (int)pad, (int)dil, ceil_mode);
    net_node *nd = new_node(b, op, &x, 1, call->line, call->col);
    nd->kh = nd->kw = (int)k;
    nd->stride = (int)stride;
    nd->pad_h = nd->pad_w = (int)pad;
    nd->ceil = ceil_mode;
    nd->shape = (net_shape){c, ho, wo};
    return nd;
}

static value tensor_value(int node)
{
    value v = {.k = V_TENSOR, .node = node};
    return v;
}

/* add() and concat() of n tensors, and the infix +. */
static value make_join(builder *b, net_op op, const int *in, int n, int line, int col)
{
    compiler *c = b->c;
    char s1[48], s2[48];
    net_shape s0 = in_shape(b, in[0]);
    long csum = 0;
    for (int i = 0; i < n; i++) {
        net_shape si = in_shape(b, in[i]);
        bool ok = op == NET_ADD ? (si.c == s0.c && si.h == s0.h && si.w == s0.w)
                                : (si.h == s0.h && si.w == s0.w);
        if (!ok) {
            shape_str(s0, s1, sizeof s1);
            shape_str(si, s2, sizeof s2);
            compile_fail(c, line, col,
                         op == NET_ADD ? "both sides of a residual need the same channels and size"
                                       : "concatenated tensors need the same height and width",
                         "%s(): shapes %s and %s differ", net_op_name(op), s1, s2);
        }
        csum += si.c;
    }
    if (op == NET_CONCAT && csum > c->lim.max_dim)
        compile_fail(c, line, col, NULL, "concat(): %ld channels is above the limit of %d", csum,
                     c->lim.max_dim);
    net_node *nd = new_node(b, op, in, n, line, col);
    nd->shape = s0;
    if (op == NET_CONCAT)
        nd->shape.c = (int)csum;
    else
        nd->flops = (double)(n - 1) * (double)net_shape_size(s0);
    finish_node(b, nd);
    return tensor_value(b->g->n_nodes - 1);
}

/* mul(a, b) and the infix *: equal shapes, or a map times a per-channel
 * vector (either order; the vector becomes the second input). */
static value make_mul(builder *b, int x, int y, int line, int col)
{
    char s1[48], s2[48];
    net_shape s = in_shape(b, x), t = in_shape(b, y);
    bool same = s.c == t.c && s.h == t.h && s.w == t.w;
    if (!same && s.c == t.c && s.h == 1 && s.w == 1) {
        int tmp = x;
        x = y;
        y = tmp;
        net_shape ts = s;
        s = t;
        t = ts;
    }
    if (!same && !(t.c == s.c && t.h == 1 && t.w == 1)) {
        shape_str(s, s1, sizeof s1);
        shape_str(t, s2, sizeof s2);
        compile_fail(b->c, line, col,
                     "multiply equal shapes, or a map by a per-channel vector of the same channels",
                     "mul(): shapes %s and %s differ", s1, s2);
    }
    int in2[2] = {x, y};
    net_node *nd = new_node(b, NET_MUL, in2, 2, line, col);
    nd->shape = s;
    nd->flops = (double)net_shape_size(s);
    finish_node(b, nd);
    return tensor_value(b->g->n_nodes - 1);
}

/* ---- the operator families: arguments and shape inference -------------
 * Each family names its argument slots, lists its arguments in that
 * order (FAMILY_args) and infers its node (build_FAMILY); the table below
 * joins them to the operators of engine/net_ops.h. */

static value finish(builder *b, net_node *nd)
{
    finish_node(b, nd);
    return tensor_value(b->g->n_nodes - 1);
}

/* Reads a padding argument (a number, same or valid) for a kernel k with
 * dilation dil. */
static long padding_arg(builder *b, const opspec *os, bound_args *ba, int slot, long k, long dil)
{
    if (ba->v[slot].k != V_SYM)
        return int_arg(b, os, ba, slot, 0, 64);
    if (!strcmp(ba->v[slot].s, "valid"))
        return 0;
    long eff = dil * (k - 1);
    if (eff % 2)
        compile_fail(b->c, ba->line[slot], ba->col[slot],
                     "use an odd kernel size, or give the padding as a number",
                     "%s(): padding=same needs an odd kernel (k=%ld)", os->name, k);
    return eff / 2;
}

/* conv's and dwconv's window, from slot F_K on: k, stride, padding,
 * dilation (the defaults of k and padding differ) */
#define WINDOW_ARGS(X, F, k, padding)         \
    X(F##_K, "k", A_INT, k)                   \
    X(F##_STRIDE, "stride", A_INT, "1")       \
    X(F##_PADDING, "padding", A_PAD, padding) \
    X(F##_DILATION, "dilation", A_INT, "1")
enum { /* slots after F_K, in WINDOW_ARGS' order */
    WIN_STRIDE = 1,
    WIN_PADDING = 2,
    WIN_DILATION = 3
};

typedef struct conv_window {
    long k, stride, pad, dil;
} conv_window;

/* k, stride and dilation; the caller reads the padding (it depends on k and
 * dilation) after what it reads first: conv its groups, so that of two bad
 * arguments the one named stays the same. */
static conv_window window_args(builder *b, const opspec *os, bound_args *ba, int k_slot)
{
    conv_window w;
    w.k = int_arg(b, os, ba, k_slot, 1, 64);
    w.stride = int_arg(b, os, ba, k_slot + WIN_STRIDE, 1, 64);
    w.dil = int_arg(b, os, ba, k_slot + WIN_DILATION, 1, 64);
    w.pad = 0;
    return w;
}

#define CONV_ARGS(X)                     \
    X(CONV_X, "x", A_TENSOR, NULL)       \
    X(CONV_OUT, "out", A_INT, NULL)      \
    WINDOW_ARGS(X, CONV, "1", "0")       \
    X(CONV_GROUPS, "groups", A_INT, "1") \
    X(CONV_BIAS, "bias", A_BOOL, "true")
DEFINE_ARGS(conv, CONV_ARGS);

/* unlike conv, dwconv keeps the size by default: it is gevo's own
   shorthand, and an LLM expects dwconv(x) to be a drop-in layer */
#define DWCONV_ARGS(X)              \
    X(DW_X, "x", A_TENSOR, NULL)    \
    WINDOW_ARGS(X, DW, "3", "same") \
    X(DW_BIAS, "bias", A_BOOL, "true")
DEFINE_ARGS(dwconv, DWCONV_ARGS);

/* conv and dwconv once their arguments are read (dwconv: out and groups
 * are the input's channels) */
static value conv_node(builder *b, const opspec *os, const expr *call, int x, long out,
                       conv_window w, long groups, bool bias)
{
    net_shape s = in_shape(b, x);
    if (s.c % groups || out % groups)
        compile_fail(b->c, call->line, call->col,
                     "groups must divide both the input and output channels",
                     "%s(): groups=%ld does not divide %d input and %ld output channels", os->name,
                     groups, s.c, out);
    long k = w.k;
    net_node *nd =
        window_node(b, os, call, NET_CONV, x, (int)out, k, w.stride, w.pad, w.dil, false);
    nd->depthwise = os->op == PSEUDO_DWCONV;
    nd->dilation = (int)w.dil;
    nd->groups = (int)groups;
    nd->bias = bias;
    double macs_per_out = (double)(s.c / groups) * k * k;
    nd->params = out * (s.c / groups) * k * k + (bias ? out : 0);
    nd->flops = (double)net_shape_size(nd->shape) * (2.0 * macs_per_out + (bias ? 1 : 0));
    return finish(b, nd);
}

static value build_conv(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    long max_dim = b->c->lim.max_dim;
    long out = int_arg(b, os, ba, CONV_OUT, 1, max_dim);
    conv_window w = window_args(b, os, ba, CONV_K);
    long groups = int_arg(b, os, ba, CONV_GROUPS, 1, max_dim);
    w.pad = padding_arg(b, os, ba, CONV_K + WIN_PADDING, w.k, w.dil);
    return conv_node(b, os, call, ba->v[CONV_X].node, out, w, groups, ba->v[CONV_BIAS].i != 0);
}

static value build_dwconv(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[DW_X].node;
    long c = in_shape(b, x).c;
    conv_window w = window_args(b, os, ba, DW_K);
    w.pad = padding_arg(b, os, ba, DW_K + WIN_PADDING, w.k, w.dil);
    return conv_node(b, os, call, x, c, w, c, ba->v[DW_BIAS].i != 0);
}

#define LINEAR_ARGS(X)                \
    X(LINEAR_X, "x", A_TENSOR, NULL)  \
    X(LINEAR_OUT, "out", A_INT, NULL) \
    X(LINEAR_BIAS, "bias", A_BOOL, "true")
DEFINE_ARGS(linear, LINEAR_ARGS);

static value build_linear(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[LINEAR_X].node;
    net_shape s = in_shape(b, x);
    long out = int_arg(b, os, ba, LINEAR_OUT, 1, b->c->lim.max_dim);
    if (s.h != 1 || s.w != 1) {
        char s1[48];
        shape_str(s, s1, sizeof s1);
        compile_fail(b->c, call->line, call->col, "use flatten(x) or gap(x) first",
                     "linear(): input %s is not a vector", s1);
    }
    net_node *nd = new_node(b, NET_LINEAR, &x, 1, call->line, call->col);
    nd->bias = ba->v[LINEAR_BIAS].i != 0;
    nd->shape = (net_shape){(int)out, 1, 1};
    nd->params = (long)s.c * out + (nd->bias ? out : 0);
    nd->flops = (double)out * (2.0 * s.c + (nd->bias ? 1 : 0));
    return finish(b, nd);
}

/* batchnorm and layernorm: eps, per-channel weight and bias */
static net_node *norm_node(builder *b, const opspec *os, bound_args *ba, int eps_slot,
                           double flops_per_value, const expr *call)
{
    int x = ba->v[0].node;
    net_shape s = in_shape(b, x);
    double eps = ba->v[eps_slot].f;
    if (!(eps > 0 && eps < 1))
        compile_fail(b->c, ba->line[eps_slot], ba->col[eps_slot], NULL,
                     "%s(): eps=%g is outside (0, 1)", os->name, eps);
    net_node *nd = new_node(b, (net_op)os->op, &x, 1, call->line, call->col);
    nd->eps = (float)eps;
    nd->shape = s;
    nd->params = 2L * s.c;
    nd->flops = flops_per_value * (double)net_shape_size(s);
    return nd;
}

#define BATCHNORM_ARGS(X)             \
    X(BN_X, "x", A_TENSOR, NULL)      \
    X(BN_EPS, "eps", A_FLOAT, "1e-5") \
    X(BN_MOMENTUM, "momentum", A_FLOAT, "0.1")
DEFINE_ARGS(batchnorm, BATCHNORM_ARGS);

static value build_batchnorm(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    net_node *nd = norm_node(b, os, ba, BN_EPS, 2.0, call);
    double m = ba->v[BN_MOMENTUM].f;
    if (!(m >= 0 && m <= 1))
        compile_fail(b->c, ba->line[BN_MOMENTUM], ba->col[BN_MOMENTUM], NULL,
                     "batchnorm(): momentum=%g is outside [0, 1]", m);
    nd->momentum = (float)m;
    return finish(b, nd);
}

#define LAYERNORM_ARGS(X)        \
    X(LN_X, "x", A_TENSOR, NULL) \
    X(LN_EPS, "eps", A_FLOAT, "1e-5")
DEFINE_ARGS(layernorm, LAYERNORM_ARGS);

static value build_layernorm(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    return finish(b, norm_node(b, os, ba, LN_EPS, 5.0, call));
}

/* the operators of one tensor argument: activations, gap, flatten,
   channels */
static const aspec unary_args[] = {T1};
#define act_args      unary_args
#define gap_args      unary_args
#define flatten_args  unary_args
#define channels_args unary_args

static value build_act(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[0].node;
    net_node *nd = new_node(b, (net_op)os->op, &x, 1, call->line, call->col);
    nd->shape = in_shape(b, x);
    nd->flops = (double)net_shape_size(nd->shape);
    return finish(b, nd);
}

static value build_gap(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[0].node;
    net_shape s = in_shape(b, x);
    net_node *nd = new_node(b, NET_GAP, &x, 1, call->line, call->col);
    nd->shape = (net_shape){s.c, 1, 1};
    nd->flops = (double)net_shape_size(s);
    return finish(b, nd);
}

static value build_flatten(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[0].node;
    long n = net_shape_size(in_shape(b, x)), max = b->c->lim.max_dim * 16L;
    if (n > max)
        compile_fail(b->c, call->line, call->col, "pool or downsample first",
                     "flatten(): %ld features is above the limit of %ld", n, max);
    net_node *nd = new_node(b, NET_FLATTEN, &x, 1, call->line, call->col);
    nd->shape = (net_shape){(int)n, 1, 1};
    return finish(b, nd);
}

static value build_channels(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    value v = {.k = V_INT, .i = in_shape(b, ba->v[0].node).c};
    v.f = (double)v.i;
    return v;
}

#define POOL_ARGS(X)                       \
    X(POOL_X, "x", A_TENSOR, NULL)         \
    X(POOL_K, "k", A_INT, "2")             \
    X(POOL_STRIDE, "stride", A_INT, "k")   \
    X(POOL_PADDING, "padding", A_INT, "0") \
    X(POOL_CEIL, "ceil", A_BOOL, "false")
DEFINE_ARGS(pool, POOL_ARGS);

static value build_pool(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[POOL_X].node;
    net_shape s = in_shape(b, x);
    long k = int_arg(b, os, ba, POOL_K, 1, 64);
    long stride = int_arg(b, os, ba, POOL_STRIDE, 1, 64);
    long pad = int_arg(b, os, ba, POOL_PADDING, 0, 64);
    if (pad * 2 > k)
        compile_fail(b->c, ba->line[POOL_PADDING], ba->col[POOL_PADDING],
                     "padding may be at most half the kernel, as in PyTorch",
                     "%s(): padding=%ld is more than half of k=%ld", os->name, pad, k);
    bool ceil_mode = ba->v[POOL_CEIL].i != 0;
    net_node *nd = window_node(b, os, call, (net_op)os->op, x, s.c, k, stride, pad, 1, ceil_mode);
    nd->flops = (double)net_shape_size(nd->shape) * k * k;
    return finish(b, nd);
}

/* concat and add take their tensors as positional arguments */
static const aspec tensors_args[] = {{"x", A_TENSORS, NULL}};
#define concat_args tensors_args
#define add_args    tensors_args

static value build_concat(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    return make_join(b, NET_CONCAT, ba->tensors, ba->n_tensors, call->line, call->col);
}

static value build_add(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    return make_join(b, NET_ADD, ba->tensors, ba->n_tensors, call->line, call->col);
}

#define MUL_ARGS(X)               \
    X(MUL_X, "x", A_TENSOR, NULL) \
    X(MUL_Y, "y", A_TENSOR, NULL)
DEFINE_ARGS(mul, MUL_ARGS);

static value build_mul(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    return make_mul(b, ba->v[MUL_X].node, ba->v[MUL_Y].node, call->line, call->col);
}

#define DROPOUT_ARGS(X)               \
    X(DROPOUT_X, "x", A_TENSOR, NULL) \
    X(DROPOUT_P, "p", A_FLOAT, "0.5")
DEFINE_ARGS(dropout, DROPOUT_ARGS);

static value build_dropout(builder *b, const opspec *os, bound_args *ba, const expr *call)
{
    int x = ba->v[DROPOUT_X].node;
    double p = ba->v[DROPOUT_P].f;
    if (!(p >= 0 && p < 1))
        compile_fail(b->c, ba->line[DROPOUT_P], ba->col[DROPOUT_P], NULL,
                     "dropout(): p=%g is outside [0, 1)", p);
    net_node *nd = new_node(b, NET_DROPOUT, &x, 1, call->line, call->col);
    nd->p = (float)p;
    nd->shape = in_shape(b, x);
    return finish(b, nd);
}

/* the input is declared (input x: 1x28x28), never called */
#define input_args  unary_args
#define build_input NULL

/* ---- the operator table -------------------------------------------------
 * Every operator of engine/net_ops.h, then the spellings that are not
 * operators of their own. */

#define N_ARGS(a) ((int)(sizeof(a) / sizeof *(a)))
#define OP_ARGS_FIT(id, name, family, variant, flags) \
    _Static_assert(N_ARGS(family##_args) <= MAX_ARGS, \
                   name ": more arguments than bound_args holds");
NET_OP_INFO(OP_ARGS_FIT)
#undef OP_ARGS_FIT
#define OP_SPEC(id, name, family, variant, flags) \
    {name, NET_##id, N_ARGS(family##_args), family##_args, build_##family},
static const opspec ops[] = {
    NET_OP_INFO(OP_SPEC){"dwconv", PSEUDO_DWCONV, N_ARGS(dwconv_args), dwconv_args, build_dwconv},
    {"channels", PSEUDO_CHANNELS, N_ARGS(channels_args), channels_args, build_channels},
};
#undef OP_SPEC
#define N_OPS ((int)(sizeof ops / sizeof *ops))

static value build_op(builder *b, frame *f, const opspec *os, const expr *call)
{
    bound_args ba;
    match_args(b, f, os, call, &ba);
    return os->build(b, os, &ba, call);
}

/* ---- blocks, names, expressions ------------------------------------- */

static const def_block *find_def(compiler *c, const char *name)
{
    for (int i = 0; i < c->prog.n_defs; i++)
        if (!strcmp(c->prog.defs[i].name, name))
            return &c->prog.defs[i];
    return NULL;
}

static const opspec *find_op(const char *name)
{
    for (int i = 0; i < N_OPS; i++)
        if (ops[i].build && !strcmp(ops[i].name, name))
            return &ops[i];
    return NULL;
}

bool net_op_signature(const char *name, net_op_sig *sig)
{
    const opspec *os = find_op(name);
    if (os && sig)
        *sig = (net_op_sig){.name = os->name, .op = os->op, .n = os->n, .a = os->a};
    return os != NULL;
}

/* The known name nearest to a misspelt one, for hints. */
static const char *nearest_name(builder *b, frame *f, const char *name, bool callable)
{
    const char *best = NULL;
    int bestd = 3;
    if (callable) {
        for (int i = 0; i < N_OPS; i++) {
            if (!ops[i].build)
                continue;
            int d = net_edit_distance(name, ops[i].name);
            if (d < bestd)
                bestd = d, best = ops[i].name;
        }
        for (int i = 0; i < b->c->prog.n_defs; i++) {
            int d = net_edit_distance(name, b->c->prog.defs[i].name);
            if (d < bestd)
                bestd = d, best = b->c->prog.defs[i].name;
        }
    } else {
        for (int i = 0; i < f->n; i++) {
            int d = net_edit_distance(name, f->names[i]);
            if (d < bestd)
                bestd = d, best = f->names[i];
        }
    }
    return best;
}

/* Common PyTorch names, mapped to gevo-net's. */
static const char *pytorch_alias(const char *name)
{
    // clang-format off
    static const char *const map[][2] = {
        {"Conv2d", "conv"},         {"conv2d", "conv"},           {"Linear", "linear"},
        {"BatchNorm2d", "batchnorm"}, {"batch_norm", "batchnorm"}, {"bn", "batchnorm"},
        {"LayerNorm", "layernorm"}, {"layer_norm", "layernorm"},  {"ReLU", "relu"},
        {"SiLU", "silu"},           {"swish", "silu"},            {"hardswish", "hswish"},
        {"Hardswish", "hswish"},    {"hard_swish", "hswish"},     {"GELU", "gelu"},
        {"MaxPool2d", "maxpool"},   {"max_pool2d", "maxpool"},    {"AvgPool2d", "avgpool"},
        {"avg_pool2d", "avgpool"},  {"AdaptiveAvgPool2d", "gap"}, {"adaptive_avg_pool2d", "gap"},
        {"mean", "gap"},            {"cat", "concat"},            {"Dropout", "dropout"},
        {"Flatten", "flatten"},     {"Sigmoid", "sigmoid"},       {"Tanh", "tanh"},
        {"depthwise", "dwconv"},    {"dwconv2d", "dwconv"},       {"multiply", "mul"},
    };
    // clang-format on
    for (size_t i = 0; i < sizeof map / sizeof *map; i++)
        if (!strcmp(map[i][0], name))
            return map[i][1];
    return NULL;
}

/* The parameter of block d that argument a binds to: the one it names, or
 * else the next one by position (*pos, the positional arguments so far). */
static int block_slot(compiler *c, const def_block *d, const arg *a, int *pos)
{
    if (!a->name) {
        if (*pos >= d->n_params)
            compile_fail(c, a->line, a->col, NULL,
                         "block '%s' takes %d argument%s, more were given", d->name, d->n_params,
                         d->n_params == 1 ? "" : "s");
        return (*pos)++;
    }
    for (int j = 0; j < d->n_params; j++)
        if (!strcmp(d->params[j].name, a->name))
            return j;
    compile_fail(c, a->line, a->col, NULL, "block '%s' has no parameter '%s'", d->name, a->name);
}

static value call_block(builder *b, frame *f, const def_block *d, const expr *call);

static value eval_call(builder *b, frame *f, const expr *e)
{
    compiler *c = b->c;
    const opspec *os = find_op(e->text);
    if (os)
        return build_op(b, f, os, e);
    const def_block *d = find_def(c, e->text);
    if (d)
        return call_block(b, f, d, e);
    char hint[160] = "";
    const char *alias = pytorch_alias(e->text);
    const char *near = alias ? alias : nearest_name(b, f, e->text, true);
    if (near)
        snprintf(hint, sizeof hint, "did you mean %s()?", near);
    compile_fail(c, e->line, e->col, hint[0] ? hint : "see gevo-net(5) for the operators",
                 "unknown operator or block '%s'", e->text);
}

static value eval_name(builder *b, frame *f, const expr *e)
{
    compiler *c = b->c;
    value *v = lookup(f, e->text);
    if (v)
        return *v;
    value r = {0};
    if (!strcmp(e->text, "classes")) {
        r.k = V_INT;
        r.i = c->prog.classes;
        r.f = (double)r.i;
        return r;
    }
    if (is_true_name(e->text) || is_false_name(e->text)) {
        r.k = V_BOOL;
        r.i = is_true_name(e->text);
        return r;
    }
    if (!strcmp(e->text, "same") || !strcmp(e->text, "valid")) {
        r.k = V_SYM;
        r.s = e->text;
        return r;
    }
    /* assigned later in this scope? */
    for (int i = 0; i < f->n_stmts; i++) {
        const stmt *s = &f->stmts[i];
        if (s->kind == ST_ASSIGN && !strcmp(s->target, e->text) && s->line >= e->line) {
            char hint[96];
            if (s->line == e->line)
                snprintf(hint, sizeof hint,
                         "a name must be assigned on an earlier line before it is used");
            else
                snprintf(hint, sizeof hint, "it is assigned later, on line %d", s->line);
            compile_fail(c, e->line, e->col, hint, "'%s' is used before it is assigned", e->text);
        }
    }
    if (f->block) {
        for (int i = 0; i < c->prog.n_top; i++)
            if (c->prog.top[i].kind == ST_ASSIGN && !strcmp(c->prog.top[i].target, e->text)) {
                char hint[128];
                snprintf(hint, sizeof hint, "pass it to the block as a parameter: def %s(..., %s)",
                         f->block, e->text);
                compile_fail(c, e->line, e->col, hint, "'%s' is not defined inside block '%s'",
                             e->text, f->block);
            }
    }
    if (find_op(e->text) || find_def(c, e->text))
        compile_fail(c, e->line, e->col, NULL, "'%s' is an operator or block; call it: %s(...)",
                     e->text, e->text);
    const char *near = nearest_name(b, f, e->text, false);
    char hint[96] = "";
    if (near)
        snprintf(hint, sizeof hint, "did you mean '%s'?", near);
    compile_fail(c, e->line, e->col, hint[0] ? hint : NULL, "'%s' is not defined", e->text);
}

static value arith(builder *b, const expr *e, value l, value r)
{
    compiler *c = b->c;
    if (l.k == V_TENSOR || r.k == V_TENSOR) {
        if (l.k != V_TENSOR || r.k != V_TENSOR)
            compile_fail(c, e->line, e->col, "gevo-net has no scalar-tensor arithmetic",
                         "cannot combine a tensor and %s with '%c'",
                         kind_name(l.k == V_TENSOR ? r.k : l.k), e->op == 'f' ? '/' : e->op);
        if (e->op != '+' && e->op != '*')
            compile_fail(c, e->line, e->col, "tensors combine with + (add) and * (mul)",
                         "operator '%s' is not defined on tensors",
                         e->op == '-'   ? "-"
                         : e->op == '%' ? "%"
                                        : "/");
        if (e->op == '*')
            return make_mul(b, l.node, r.node, e->line, e->col);
        int in2[2] = {l.node, r.node};
        return make_join(b, NET_ADD, in2, 2, e->line, e->col);
    }
    if ((l.k != V_INT && l.k != V_FLOAT) || (r.k != V_INT && r.k != V_FLOAT))
        compile_fail(c, e->line, e->col, NULL, "arithmetic needs numbers, not %s and %s",
                     kind_name(l.k), kind_name(r.k));
    value v = {0};
    if (l.k == V_INT && r.k == V_INT && e->op != 'f') {
        long x = l.i, y = r.i, z = 0;
        if ((e->op == '/' || e->op == '%') && y == 0)
            compile_fail(c, e->line, e->col, NULL, "division by zero");
        switch (e->op) {
        case '+': z = x + y; break;
        case '-': z = x - y; break;
        case '*':
            if (x && (labs(y) > 2000000000000L / (labs(x) + 1)))
                compile_fail(c, e->line, e->col, NULL, "integer overflow");
            z = x * y;
            break;
        case '/': z = x / y - ((x % y != 0) && ((x < 0) != (y < 0))); break; /* floor, as Python */
        case '%': z = x - y * (x / y - ((x % y != 0) && ((x < 0) != (y < 0)))); break;
        }
        if (labs(z) > 1000000000000L)
            compile_fail(c, e->line, e->col, NULL, "integer overflow");
        v.k = V_INT;
        v.i = z;
        v.f = (double)z;
        return v;
    }
    double x = l.k == V_INT ? (double)l.i : l.f, y = r.k == V_INT ? (double)r.i : r.f, z = 0;
    if ((e->op == '/' || e->op == '%' || e->op == 'f') && y == 0)
        compile_fail(c, e->line, e->col, NULL, "division by zero");
    switch (e->op) {
    case '+': z = x + y; break;
    case '-': z = x - y; break;
    case '*': z = x * y; break;
    case 'f': z = x / y; break;
    case '/': z = floor(x / y); break;
    case '%': z = x - y * floor(x / y); break;
    }
    if (!isfinite(z))
        compile_fail(c, e->line, e->col, NULL, "arithmetic result is not finite");
    v.k = V_FLOAT;
    v.f = z;
    return v;
}

static value eval(builder *b, frame *f, const expr *e)
{
    value v = {0};
    switch (e->kind) {
    case EX_INT:
        v.k = V_INT;
        v.i = e->ival;
        v.f = (double)e->ival;
        return v;
    case EX_FLOAT:
        v.k = V_FLOAT;
        v.f = e->fval;
        return v;
    case EX_STRING:
        v.k = V_SYM;
        v.s = e->text;
        if (strcmp(v.s, "same") && strcmp(v.s, "valid"))
            compile_fail(b->c, e->line, e->col, NULL, "unexpected string \"%s\"", e->text);
        return v;
    case EX_NAME: return eval_name(b, f, e);
    case EX_CALL: return eval_call(b, f, e);
    case EX_NEG:
        v = eval(b, f, e->lhs);
        if (v.k == V_INT)
            v.i = -v.i, v.f = -v.f;
        else if (v.k == V_FLOAT)
            v.f = -v.f;
        else
            compile_fail(b->c, e->line, e->col, NULL, "cannot negate %s", kind_name(v.k));
        return v;
    case EX_BINOP: {
        value l = eval(b, f, e->lhs);
        value r = eval(b, f, e->rhs);
        return arith(b, e, l, r);
    }
    }
    return v;
}

/* Runs a scope's statements; returns the value of its return statement (or
 * of the last assignment, at top level), *ret_line set to its line. */
static value run_body(builder *b, frame *f, const stmt *body, int n, int *ret_line, bool *has_value)
{
    value last = {0};
    *has_value = false;
    for (int i = 0; i < n; i++) {
        const stmt *s = &body[i];
        value v = eval(b, f, s->value);
        if (s->kind == ST_RETURN) {
            *ret_line = s->line;
            *has_value = true;
            return v;
        }
        bind(b, f, s->target, v, s->line, s->col);
        last = v;
        *ret_line = s->line;
        *has_value = true;
    }
    return last;
}

static value call_block(builder *b, frame *f, const def_block *d, const expr *call)
{
    compiler *c = b->c;
    for (int i = 0; i < b->depth; i++)
        if (!strcmp(b->stack[i], d->name))
            compile_fail(
                c, call->line, call->col, "blocks cannot call themselves; write the layers out",
                "recursion: block '%s' calls itself (through %s)", d->name, b->stack[b->depth - 1]);
    if (b->depth >= c->lim.max_depth)
        compile_fail(c, call->line, call->col, NULL, "blocks nested more than %d deep",
                     c->lim.max_depth);
    /* arguments are evaluated in the caller's scope */
    value vals[64];
    bool given[64] = {0};
    int pos = 0;
    for (int i = 0; i < call->n_args; i++) {
        const arg *a = &call->args[i];
        int slot = block_slot(c, d, a, &pos);
        if (given[slot]) {
            compile_fail(c, a->line, a->col, NULL, "argument '%s' of block '%s' given twice",
                         d->params[slot].name, d->name);
        }
        vals[slot] = eval(b, f, a->value);
        given[slot] = true;
    }
    for (int j = 0; j < d->n_params; j++) {
        if (given[j])
            continue;
        if (!d->params[j].def) {
            compile_fail(c, call->line, call->col, NULL, "block '%s': missing argument '%s'",
                         d->name, d->params[j].name);
        }
        frame empty = {.block = d->name};
        vals[j] = eval(b, &empty, d->params[j].def);
    }
    /* frames come from a pool owned by the compiler, so an error (a
       longjmp) leaks nothing; taken only after the arguments, whose
       evaluation may call blocks at this same depth */
    frame *nf = &((frame *)c->frames)[b->depth + 1];
    memset(nf, 0, sizeof *nf);
    nf->block = d->name;
    nf->stmts = d->body;
    nf->n_stmts = d->n_body;
    for (int j = 0; j < d->n_params; j++)
        bind(b, nf, d->params[j].name, vals[j], d->line, d->col);

    char saved_scope[96];
    memcpy(saved_scope, b->scope, sizeof saved_scope);
    size_t sl = strlen(b->scope);
    snprintf(b->scope + sl, sizeof b->scope - sl, "%s%s", sl ? ">" : "", d->name);
    b->stack[b->depth++] = d->name;
    int ret_line = 0;
    bool has;
    value v = run_body(b, nf, d->body, d->n_body, &ret_line, &has);
    b->depth--;
    memcpy(b->scope, saved_scope, sizeof saved_scope);
    return v;
}

/* ---- the train section ---------------------------------------------- */

/* One row per setting, in gevo-net(5)'s order: its key, the range of a
 * number or an integer, its default, and for a choice its names. How a
 * value is read and stored follows the field's type (double: a number,
 * int and long: an integer, bool: true or false, an enum: one of the
 * names); augment (flip and crop) is read on its own. */
typedef enum field_type {
    F_DOUBLE,
    F_INT,
    F_LONG,
    F_BOOL,
    F_ENUM,
    F_AUGMENT
} field_type;

typedef struct train_setting {
    const char *key;
    field_type type;
    size_t off; /* in net_train */
    double lo, hi, def;
    const char *const *names; /* F_ENUM */
    int n_names;
} train_setting;

static const char *const optimizers[] = {"sgd", "adamw"};
static const char *const schedules[] = {"constant", "step", "cosine", "plateau"};
_Static_assert(sizeof(net_optimizer) == sizeof(int) && sizeof(net_schedule) == sizeof(int),
               "choices are stored as int");

#define FIELD_TYPE(f) \
    _Generic(((net_train *)0)->f, double : F_DOUBLE, int : F_INT, long : F_LONG, bool : F_BOOL)
#define SETTING(f, lo, hi, def)                                         \
    {                                                                   \
#f, FIELD_TYPE(f), offsetof(net_train, f), lo, hi, def, NULL, 0 \
    }
#define CHOICE(f, names, def)                                                                     \
    {                                                                                             \
#f, F_ENUM, offsetof(net_train, f), 0, 0, def, names, (int)(sizeof names / sizeof *names) \
    }
// clang-format off
static const train_setting train_settings[] = {
    CHOICE(optimizer, optimizers, NET_OPT_SGD),
    SETTING(lr,              1e-12, 1e12,     0.05),
    SETTING(momentum,        0,     0.9999,   0.9),
    SETTING(nesterov,        0,     1,        true),
    SETTING(weight_decay,    0,     1,        1e-4),
    SETTING(beta1,           0,     0.9999,   0.9),
    SETTING(beta2,           0,     0.999999, 0.999),
    SETTING(adam_eps,        1e-12, 1,        1e-8),
    CHOICE(schedule, schedules, NET_SCHED_COSINE),
    SETTING(step_size,       1,     10000,    1),
    SETTING(gamma,           1e-6,  1,        0.1),
    SETTING(patience,        0,     10000,    2),
    SETTING(warmup,          0,     1e7,      0),
    SETTING(min_lr,          0,     1e12,     0),
    SETTING(epochs,          1,     10000,    1),
    SETTING(batch,           1,     65536,    128),
    {"augment", F_AUGMENT, 0, 0, 0, 0, NULL, 0},
    SETTING(crop_pad,        0,     64,       4),
    SETTING(label_smoothing, 0,     0.99,     0),
    SETTING(clip,            0,     1e12,     0),
    SETTING(seed,            0,     1e12,     1),
};
// clang-format on
#undef CHOICE
#undef SETTING
#undef FIELD_TYPE
#define N_SETTINGS ((int)(sizeof train_settings / sizeof *train_settings))

/* Stores v (a whole number unless the field is a double) in the field. */
static void store_setting(net_train *tr, const train_setting *ts, double v)
{
    char *f = (char *)tr + ts->off;
    switch (ts->type) {
    case F_DOUBLE: *(double *)f = v; break;
    case F_INT:
    case F_ENUM: *(int *)f = (int)v; break;
    case F_LONG: *(long *)f = (long)v; break;
    case F_BOOL: *(bool *)f = v != 0; break;
    case F_AUGMENT: break;
    }
}

void net_train_default(net_train *t)
{
    memset(t, 0, sizeof *t); /* augment: none */
    for (int i = 0; i < N_SETTINGS; i++)
        store_setting(t, &train_settings[i], train_settings[i].def);
}

static double kv_number(compiler *c, const train_kv *kv, double lo, double hi)
{
    const token *t = &kv->values[0];
    if (kv->n_values != 1 || (t->kind != T_INT && t->kind != T_FLOAT))
        compile_fail(c, kv->line, kv->col, NULL, "train: %s needs one number", kv->key);
    if (!(t->fval >= lo && t->fval <= hi))
        compile_fail(c, t->line, t->col, NULL, "train: %s=%s is outside %g..%g", kv->key, t->text,
                     lo, hi);
    return t->fval;
}

static long kv_int(compiler *c, const train_kv *kv, long lo, long hi)
{
    const token *t = &kv->values[0];
    /* 1e2 is an integer too */
    bool integral = t->kind == T_INT ||
                    (t->kind == T_FLOAT && t->fval == floor(t->fval) && fabs(t->fval) < 1e15);
    if (kv->n_values != 1 || !integral)
        compile_fail(c, kv->line, kv->col, NULL, "train: %s needs one integer", kv->key);
    long v = (long)t->fval;
    if (v < lo || v > hi)
        compile_fail(c, t->line, t->col, NULL, "train: %s=%s is outside %ld..%ld", kv->key, t->text,
                     lo, hi);
    return v;
}

static bool kv_bool(compiler *c, const train_kv *kv)
{
    const token *t = &kv->values[0];
    if (kv->n_values == 1 && t->kind == T_NAME && (is_true_name(t->text) || is_false_name(t->text)))
        return is_true_name(t->text);
    if (kv->n_values == 1 && t->kind == T_INT && (t->ival == 0 || t->ival == 1))
        return t->ival == 1;
    compile_fail(c, kv->line, kv->col, NULL, "train: %s needs true or false", kv->key);
}

static int kv_choice(compiler *c, const train_kv *kv, const char *const *names, int n)
{
    const token *t = &kv->values[0];
    if (kv->n_values == 1 && (t->kind == T_NAME || t->kind == T_STRING))
        for (int i = 0; i < n; i++)
            if (!strcmp(t->text, names[i]))
                return i;
    char hint[128] = "one of:";
    for (int i = 0; i < n; i++) {
        size_t l = strlen(hint);
        snprintf(hint + l, sizeof hint - l, " %s", names[i]);
    }
    compile_fail(c, kv->line, kv->col, hint, "train: unknown %s '%s'", kv->key,
                 t->text ? t->text : "?");
}

static void augment_setting(compiler *c, const train_kv *kv, net_train *tr)
{
    tr->flip = tr->crop = false;
    for (int j = 0; j < kv->n_values; j++) {
        const token *t = &kv->values[j];
        const char *v = t->text ? t->text : "";
        if (t->kind == T_NAME && !strcmp(v, "flip"))
            tr->flip = true;
        else if (t->kind == T_NAME && !strcmp(v, "crop"))
            tr->crop = true;
        else if (t->kind == T_NAME && (!strcmp(v, "none") || !strcmp(v, "None")) &&
                 kv->n_values == 1)
            ;
        else
            compile_fail(c, t->line, t->col, "augment is none, flip, crop or flip,crop",
                         "train: unknown augmentation '%s'", v);
    }
}

/* Reads kv's value as ts says and stores it. */
static void apply_setting(compiler *c, const train_kv *kv, const train_setting *ts, net_train *tr)
{
    switch (ts->type) {
    case F_DOUBLE: store_setting(tr, ts, kv_number(c, kv, ts->lo, ts->hi)); break;
    case F_INT:
    case F_LONG: store_setting(tr, ts, (double)kv_int(c, kv, (long)ts->lo, (long)ts->hi)); break;
    case F_BOOL: store_setting(tr, ts, kv_bool(c, kv)); break;
    case F_ENUM: store_setting(tr, ts, kv_choice(c, kv, ts->names, ts->n_names)); break;
    case F_AUGMENT: augment_setting(c, kv, tr); break;
    }
}

/* A key no setting has: the error, with the setting meant where a known
 * alias or a near spelling tells. */
static _Noreturn void unknown_setting(compiler *c, const train_kv *kv)
{
    // clang-format off
    static const char *const aliases[][2] = {
        {"learning_rate", "lr"}, {"lerning_rate", "lr"}, {"wd", "weight_decay"},
        {"optim", "optimizer"}, {"scheduler", "schedule"}, {"batch_size", "batch"},
        {"warmup_steps", "warmup"}, {"max_epochs", "epochs"}, {"augmentation", "augment"},
        {"grad_clip", "clip"}, {"dropout_seed", "seed"},
    };
    // clang-format on
    const char *k = kv->key, *best = NULL;
    int bestd = 4;
    for (size_t j = 0; j < sizeof aliases / sizeof *aliases; j++)
        if (!strcmp(k, aliases[j][0]))
            best = aliases[j][1], bestd = 0;
    for (int j = 0; j < N_SETTINGS; j++) {
        int d = net_edit_distance(k, train_settings[j].key);
        if (d < bestd)
            bestd = d, best = train_settings[j].key;
    }
    char hint[96] = "see the train section in gevo-net(5)";
    if (best)
        snprintf(hint, sizeof hint, "did you mean %s?", best);
    compile_fail(c, kv->line, kv->col, hint, "train: unknown setting '%s'", k);
}

/* Applies the parsed train settings over *tr. */
void net_apply_train(compiler *c, net_train *tr)
{
    const program *p = &c->prog;
    for (int i = 0; i < p->n_train; i++) {
        const train_kv *kv = &p->train[i];
        const train_setting *ts = NULL;
        for (int j = 0; j < N_SETTINGS && !ts; j++)
            if (!strcmp(kv->key, train_settings[j].key))
                ts = &train_settings[j];
        if (!ts)
            unknown_setting(c, kv);
        apply_setting(c, kv, ts, tr);
    }
}

/* ---- blocks nothing calls ---------------------------------------------
 * Elaboration checks a block when it is called; a block that nothing
 * calls (an LLM's new helper, a gene left behind) gets the checks that need
 * no shapes: every name it uses is defined before use, and every call is to
 * an operator or a block. */

static void mark_calls(compiler *c, const expr *e, char *called);

static void mark_block(compiler *c, const def_block *d, char *called)
{
    int idx = (int)(d - c->prog.defs);
    if (called[idx])
        return;
    called[idx] = 1;
    for (int i = 0; i < d->n_body; i++)
        mark_calls(c, d->body[i].value, called);
    for (int i = 0; i < d->n_params; i++)
        if (d->params[i].def)
            mark_calls(c, d->params[i].def, called);
}

static void mark_calls(compiler *c, const expr *e, char *called)
{
    if (!e)
        return;
    if (e->kind == EX_CALL) {
        const def_block *d = find_op(e->text) ? NULL : find_def(c, e->text);
        if (d)
            mark_block(c, d, called);
        for (int i = 0; i < e->n_args; i++)
            mark_calls(c, e->args[i].value, called);
    }
    mark_calls(c, e->lhs, called);
    mark_calls(c, e->rhs, called);
}

static void static_check_expr(compiler *c, const def_block *d, const expr *e, const char **names,
                              int n)
{
    if (!e)
        return;
    if (e->kind == EX_NAME) {
        const char *t = e->text;
        bool ok = !strcmp(t, "classes") || is_true_name(t) || is_false_name(t) ||
                  !strcmp(t, "same") || !strcmp(t, "valid");
        for (int i = 0; i < n && !ok; i++)
            ok = !strcmp(names[i], t);
        if (!ok)
            compile_fail(c, e->line, e->col, NULL, "'%s' is not defined inside block '%s'", t,
                         d->name);
    }
    if (e->kind == EX_CALL && !find_op(e->text) && !find_def(c, e->text)) {
        const char *alias = pytorch_alias(e->text);
        char hint[96] = "";
        if (alias)
            snprintf(hint, sizeof hint, "did you mean %s()?", alias);
        compile_fail(c, e->line, e->col, hint[0] ? hint : "see gevo-net(5) for the operators",
                     "unknown operator or block '%s'", e->text);
    }
    for (int i = 0; i < e->n_args; i++)
        static_check_expr(c, d, e->args[i].value, names, n);
    static_check_expr(c, d, e->lhs, names, n);
    static_check_expr(c, d, e->rhs, names, n);
}

static void check_blocks(compiler *c)
{
    program *p = &c->prog;
    for (int i = 0; i < p->n_defs; i++)
        if (find_op(p->defs[i].name))
            compile_fail(c, p->defs[i].line, p->defs[i].col, "give the block a name of its own",
                         "block '%s' has the name of an operator", p->defs[i].name);
    /* from the compiler's arena, so an error (a longjmp) leaks nothing */
    char *called = arena_alloc(c, (size_t)p->n_defs + 1);
    const char **names = arena_alloc(c, sizeof *names * (MAX_BINDINGS + 64));
    for (int i = 0; i < p->n_top; i++)
        mark_calls(c, p->top[i].value, called);
    for (int i = 0; i < p->n_defs; i++) {
        if (called[i])
            continue;
        const def_block *d = &p->defs[i];
        int n = 0;
        for (int j = 0; j < d->n_params; j++)
            names[n++] = d->params[j].name;
        for (int j = 0; j < d->n_body; j++) {
            /* names[] has room for every parameter and assignment */
            static_check_expr(c, d, d->body[j].value, names, n);
            if (d->body[j].kind == ST_ASSIGN && n < MAX_BINDINGS + 64)
                names[n++] = d->body[j].target;
        }
    }
}

/* ---- the whole program ---------------------------------------------- */

/* Drops nodes the output does not depend on (dead lines), renumbering the
 * rest; the input node always stays first. */
static void prune(net_graph *g)
{
    char *live = calloc((size_t)g->n_nodes, 1);
    int *map = malloc(sizeof(int) * (size_t)g->n_nodes);
    if (!live || !map) {
        free(live);
        free(map);
        return; /* keeping dead nodes is harmless */
    }
    live[g->output] = 1;
    live[0] = 1;
    for (int i = g->n_nodes - 1; i >= 0; i--)
        if (live[i])
            for (int j = 0; j < g->nodes[i].n_in; j++)
                live[g->nodes[i].in[j]] = 1;
    int n = 0;
    g->params = 0;
    g->flops = 0;
    g->act_bytes = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!live[i]) {
            free(g->nodes[i].in);
            continue;
        }
        map[i] = n;
        net_node nd = g->nodes[i];
        for (int j = 0; j < nd.n_in; j++)
            nd.in[j] = map[nd.in[j]];
        g->nodes[n++] = nd;
        g->params += nd.params;
        g->flops += nd.flops;
        g->act_bytes += 4.0 * (double)net_shape_size(nd.shape);
    }
    g->output = map[g->output];
    g->n_nodes = n;
    free(live);
    free(map);
}

void net_build_graph(compiler *c, net_graph *g)
{
    program *p = &c->prog;
    if (!p->input_line)
        compile_fail(c, 1, 1, "start with: input x: 1x28x28", "no input declaration");
    if (!p->classes_line)
        compile_fail(c, p->input_line, 1, "add a line: classes 10", "no classes declaration");
    if (p->n_top == 0)
        compile_fail(c, p->input_line, 1, "add the network's layers after the declarations",
                     "the program has no layers at top level");
    check_blocks(c);
    c->frames = calloc((size_t)c->lim.max_depth + 2, sizeof(frame));
    if (!c->frames)
        compile_fail(c, 0, 0, NULL, "out of memory");
    builder b = {.c = c, .g = g};
    g->input = p->input;
    g->classes = p->classes;
    net_node *in = new_node(&b, NET_INPUT, NULL, 0, p->input_line, 1);
    in->shape = p->input;
    finish_node(&b, in);
    frame *top = &((frame *)c->frames)[0];
    top->stmts = p->top;
    top->n_stmts = p->n_top;
    for (int i = 0; i < p->n_defs; i++)
        if (!strcmp(p->defs[i].name, p->input_name) || !strcmp(p->defs[i].name, "classes"))
            compile_fail(c, p->defs[i].line, p->defs[i].col, NULL,
                         "block name '%s' is already taken", p->defs[i].name);
    bind(&b, top, p->input_name, tensor_value(0), p->input_line, 1);
    int ret_line = 0;
    bool has;
    for (int i = 0; i < p->n_top; i++)
        if (p->top[i].kind == ST_RETURN && i != p->n_top - 1)
            compile_fail(c, p->top[i + 1].line, p->top[i + 1].col, NULL,
                         "line after the network's 'return'");
    value out = run_body(&b, top, p->top, p->n_top, &ret_line, &has);
    if (out.k != V_TENSOR)
        compile_fail(c, ret_line, 1, "end with a tensor, e.g. return linear(gap(x), classes)",
                     "the network's output is %s, not a tensor", kind_name(out.k));
    net_shape os = g->nodes[out.node].shape;
    if (os.c != p->classes || os.h != 1 || os.w != 1) {
        char s1[48];
        shape_str(os, s1, sizeof s1);
        compile_fail(
            c, ret_line, 1, "end with linear(..., classes) on a vector (gap or flatten first)",
            "the network's output is %s; it must be a vector of %d classes", s1, p->classes);
    }
    if (out.node == 0)
        compile_fail(c, ret_line, 1, NULL, "the network's output is its input");
    g->output = out.node;
    prune(g);
    net_train_default(&g->train);
    net_apply_train(c, &g->train);
}
