/* export_torch: the PyTorch code generator (see export_torch.h).
 *
 * It works from the program's syntax tree (what the researcher wrote:
 * block parameters, expressions, names) and checks itself against the
 * compiled graph (what gevo trains). Four passes:
 *   1. types: every name and expression is a tensor, an integer, a number,
 *      a boolean or a padding name; block parameters take the join of
 *      what their calls pass (a fixpoint, as blocks call blocks);
 *   2. liveness: which lines, operator calls and block calls the output
 *      depends on through tensors (the engine drops the rest, so must we:
 *      a dead layer would add parameters gevo never had);
 *   3. the walk: the live operator calls in the engine's evaluation
 *      order, matched one by one against the graph's nodes (operator,
 *      line and column), which gives every node its state_dict name and
 *      proves the module computes what the graph does;
 *   4. emission of model.py. */
#include "core/export_torch.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/base/grow.h"
#include "engine/base/strbuf.h"
#include "engine/base/text.h"

/* ---- the operator table ------------------------------------------------
 * The export's column of the engine's operator registry (engine/net_ops.h):
 * one TORCH_<ID> row per operator says how forward computes it and how
 * many channels it gives. An operator added to the registry without a row
 * here does not compile. The layers themselves are made by put_layer. */

typedef enum torch_kind {
    TK_LAYER, /* a module made in __init__, called in forward */
    TK_FUNC,  /* func(x) in forward */
    TK_CAT,   /* torch.cat([...], 1) */
    TK_SUM,   /* a + b + ... */
    TK_PROD,  /* a * b: equal shapes, or a map and a per-channel vector */
    TK_NONE,  /* the input: never called */
} torch_kind;

typedef enum torch_channels {
    CH_SAME, /* the (first) input's */
    CH_OUT,  /* the `out` argument's */
    CH_SUM,  /* the inputs' together */
    CH_FLAT, /* the input's times its height and width */
} torch_channels;

typedef struct torch_op {
    torch_kind kind;
    torch_channels channels;
    const char *func; /* TK_FUNC */
    unsigned helper;  /* the model.py helper it needs (H_*) */
} torch_op;

/* The helpers model.py defines when the network needs them. */
enum {
    H_GAP = 1,
    H_FLATTEN = 2,
    H_LINEAR = 4,
    H_LAYERNORM = 8,
    H_MINPOOL = 16,
    H_PADDING = 32,
};

/* PyTorch's hardswish is x * relu6(x + 3) / 6 and its gelu the exact erf
   form, as engine/ops_act.c computes them; the pools are ops_pool.c's
   (padding never wins a max or a min; avgpool counts padding but not a
   ceil-mode overhang, count_include_pad=True). */
/* a row: {kind, channels, func, helper} */
#define TORCH_OP(kind, channels, func, helper) \
    {                                          \
        kind, channels, func, helper           \
    }
#define TORCH_INPUT     TORCH_OP(TK_NONE, CH_SAME, NULL, 0)
#define TORCH_CONV      TORCH_OP(TK_LAYER, CH_OUT, NULL, 0)
#define TORCH_LINEAR    TORCH_OP(TK_LAYER, CH_OUT, NULL, H_LINEAR)
#define TORCH_BATCHNORM TORCH_OP(TK_LAYER, CH_SAME, NULL, 0)
#define TORCH_LAYERNORM TORCH_OP(TK_LAYER, CH_SAME, NULL, H_LAYERNORM)
#define TORCH_RELU      TORCH_OP(TK_FUNC, CH_SAME, "F.relu", 0)
#define TORCH_SILU      TORCH_OP(TK_FUNC, CH_SAME, "F.silu", 0)
#define TORCH_HSWISH    TORCH_OP(TK_FUNC, CH_SAME, "F.hardswish", 0)
#define TORCH_GELU      TORCH_OP(TK_FUNC, CH_SAME, "F.gelu", 0)
#define TORCH_SIGMOID   TORCH_OP(TK_FUNC, CH_SAME, "torch.sigmoid", 0)
#define TORCH_TANH      TORCH_OP(TK_FUNC, CH_SAME, "torch.tanh", 0)
#define TORCH_MAXPOOL   TORCH_OP(TK_LAYER, CH_SAME, NULL, 0)
#define TORCH_AVGPOOL   TORCH_OP(TK_LAYER, CH_SAME, NULL, 0)
#define TORCH_MINPOOL   TORCH_OP(TK_LAYER, CH_SAME, NULL, H_MINPOOL)
#define TORCH_GAP       TORCH_OP(TK_FUNC, CH_SAME, "gap", H_GAP)
#define TORCH_CONCAT    TORCH_OP(TK_CAT, CH_SUM, NULL, 0)
#define TORCH_ADD       TORCH_OP(TK_SUM, CH_SAME, NULL, 0)
#define TORCH_MUL       TORCH_OP(TK_PROD, CH_SAME, NULL, 0)
#define TORCH_DROPOUT   TORCH_OP(TK_LAYER, CH_SAME, NULL, 0)
#define TORCH_FLATTEN   TORCH_OP(TK_FUNC, CH_FLAT, "flatten", H_FLATTEN)

#define TORCH_ROW(id, name, family, variant, flags) [NET_##id] = TORCH_##id,
static const torch_op torch_ops[NET_OP_COUNT] = {NET_OP_INFO(TORCH_ROW)};
#undef TORCH_ROW

/* ---- types ---------------------------------------------------------------- */

typedef enum ty {
    TY_NONE, /* not known yet */
    TY_INT,
    TY_FLOAT,
    TY_BOOL,
    TY_SYM, /* same or valid */
    TY_PAD, /* an integer in one call, same or valid in another */
    TY_TENSOR,
    TY_CONFLICT
} ty;

static ty join(ty a, ty b)
{
    if (a == TY_NONE || a == b)
        return b;
    if (b == TY_NONE)
        return a;
    if (a == TY_CONFLICT || b == TY_CONFLICT || a == TY_TENSOR || b == TY_TENSOR)
        return TY_CONFLICT;
    if ((a == TY_INT && b == TY_FLOAT) || (a == TY_FLOAT && b == TY_INT))
        return TY_FLOAT;
    if ((a == TY_INT && b == TY_BOOL) || (a == TY_BOOL && b == TY_INT))
        return TY_INT;
    bool pa = a == TY_SYM || a == TY_PAD || a == TY_INT,
         pb = b == TY_SYM || b == TY_PAD || b == TY_INT;
    return pa && pb ? TY_PAD : TY_CONFLICT;
}

/* ---- scopes ----------------------------------------------------------------- */

/* A live operator call or block call of a scope, in evaluation order. */
typedef struct site {
    const net_expr *e;
    int block;    /* scope index of the called block, 0 for an operator */
    char *attr;   /* the module attribute, NULL for an operator without one */
    int stmt;     /* the statement it is in */
    long flat_hw; /* flatten: height x width of its input, 0 while unseen */
} site;

typedef struct scope {
    const net_def *def; /* NULL for the top level (its one parameter: the input) */
    const net_stmt *body;
    int n_body;
    const char **pnames;
    const net_expr **pdefs;
    int n_params;
    ty *pty, *sty; /* parameters' and statements' types */
    ty ret;
    bool called, live_done;
    bool *stmt_live, *param_live;
    const char **gnames; /* genome name -> Python name: parameters and targets */
    char **pynames;
    size_t n_names, names_alloc;
    site *sites;
    size_t n_sites, sites_alloc;
    char py[96]; /* the class (tensor block) or function name */
} scope;

typedef struct gen {
    const net_syntax *syn;
    const net_graph *g;
    const char *src;
    size_t len;
    scope *scopes; /* 0: the top level, i: syn->defs[i - 1] */
    int n_scopes;
    const net_expr **live; /* live calls: an open-addressing set of pointers */
    size_t live_cap, live_n;
    unsigned helpers;
    bool unsized;  /* the line being made needs a flatten() size nobody measured */
    int next_node; /* the walk */
    char **names;
    bool failed;
    char msg[GERR_MSG_MAX];
} gen;

static int gen_fail(gen *G, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int gen_fail(gen *G, const char *fmt, ...)
{
    if (!G->failed) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(G->msg, sizeof G->msg, fmt, ap);
        va_end(ap);
        G->failed = true;
    }
    return -1;
}

static void *gen_alloc(gen *G, size_t n, size_t size)
{
    void *p = base_alloc_array(n ? n : 1, size);
    if (!p)
        gen_fail(G, "out of memory");
    return p;
}

static char *gen_strdup(gen *G, const char *s)
{
    char *d = strdup(s);
    if (!d)
        gen_fail(G, "out of memory");
    return d;
}

static bool is_true_name(const char *s)
{
    return !strcmp(s, "true") || !strcmp(s, "True");
}

static bool is_false_name(const char *s)
{
    return !strcmp(s, "false") || !strcmp(s, "False");
}

static bool is_pad_name(const char *s)
{
    return !strcmp(s, "same") || !strcmp(s, "valid");
}

/* Where a name that statement `at` of s reads is bound: the last earlier
 * assignment (>= 0), parameter k (-2 - k), or nowhere (-1: classes, true,
 * same...). s may be NULL: the empty scope of parameter defaults. */
static int binding(const scope *s, int at, const char *name)
{
    if (!s)
        return -1;
    for (int j = at - 1; j >= 0; j--)
        if (s->body[j].target && !strcmp(s->body[j].target, name))
            return j;
    for (int k = 0; k < s->n_params; k++)
        if (!strcmp(s->pnames[k], name))
            return -2 - k;
    return -1;
}

static int find_block(const gen *G, const char *name)
{
    if (net_op_signature(name, NULL))
        return 0; /* operators are looked up first, as the compiler does */
    for (int i = 0; i < G->syn->n_defs; i++)
        if (!strcmp(G->syn->defs[i].name, name))
            return i + 1;
    return 0;
}

/* The argument expression of each parameter of block d (NULL: its
 * default), matched as the compiler matches them. */
static void bind_block(const net_def *d, const net_expr *call, const net_expr **slot)
{
    int pos = 0;
    for (int k = 0; k < d->n_params; k++)
        slot[k] = NULL;
    for (int i = 0; i < call->n_args; i++) {
        const net_arg *a = &call->args[i];
        int k = -1;
        if (a->name) {
            for (int j = 0; j < d->n_params; j++)
                if (!strcmp(d->params[j].name, a->name))
                    k = j;
        } else {
            k = pos++;
        }
        if (k >= 0 && k < d->n_params)
            slot[k] = a->value;
    }
}

/* An operator call's arguments by slot (NULL: the default) and, for
 * concat and add, its tensors. */
typedef struct op_args {
    net_op_sig sig;
    const net_expr *slot[9];
    const net_expr *tensors[256];
    int n_tensors;
} op_args;

static void bind_op(const net_expr *call, op_args *oa)
{
    memset(oa, 0, sizeof *oa);
    net_op_signature(call->text, &oa->sig);
    const net_op_sig *sig = &oa->sig;
    int pos = 0;
    for (int i = 0; i < call->n_args; i++) {
        const net_arg *a = &call->args[i];
        if (a->name) {
            for (int j = 0; j < sig->n; j++)
                if (!strcmp(sig->a[j].name, a->name))
                    oa->slot[j] = a->value;
        } else if (pos < sig->n && sig->a[pos].kind == NET_ARG_TENSORS) {
            if (oa->n_tensors < 256)
                oa->tensors[oa->n_tensors++] = a->value;
        } else if (pos < sig->n) {
            oa->slot[pos++] = a->value;
        }
    }
}

/* The graph's node kind for a call of this operator. */
static net_op sig_node_op(const net_op_sig *sig)
{
    return sig->op == NET_OP_DWCONV ? NET_CONV : (net_op)sig->op;
}

/* ---- pass 1: types ------------------------------------------------------------ */

static ty type_of(const gen *G, const scope *s, int at, const net_expr *e);

static ty name_type(const scope *s, int at, const char *name)
{
    int b = binding(s, at, name);
    if (b >= 0)
        return s->sty[b];
    if (b <= -2)
        return s->pty[-2 - b];
    if (!strcmp(name, "classes"))
        return TY_INT;
    if (is_true_name(name) || is_false_name(name))
        return TY_BOOL;
    if (is_pad_name(name))
        return TY_SYM;
    return TY_NONE;
}

static ty type_of(const gen *G, const scope *s, int at, const net_expr *e)
{
    switch (e->kind) {
    case NET_EXPR_INT: return TY_INT;
    case NET_EXPR_FLOAT: return TY_FLOAT;
    case NET_EXPR_STRING: return TY_SYM;
    case NET_EXPR_NAME: return name_type(s, at, e->text);
    case NET_EXPR_NEG: return type_of(G, s, at, e->lhs);
    case NET_EXPR_BINOP: {
        ty l = type_of(G, s, at, e->lhs), r = type_of(G, s, at, e->rhs);
        if (l == TY_TENSOR || r == TY_TENSOR)
            return TY_TENSOR;
        if (l == TY_NONE || r == TY_NONE)
            return TY_NONE;
        if (!strcmp(e->op, "/"))
            return TY_FLOAT;
        return l == TY_INT && r == TY_INT ? TY_INT : TY_FLOAT;
    }
    case NET_EXPR_CALL: {
        net_op_sig sig;
        if (net_op_signature(e->text, &sig))
            return sig.op == NET_OP_CHANNELS ? TY_INT : TY_TENSOR;
        int b = find_block(G, e->text);
        return b ? G->scopes[b].ret : TY_NONE;
    }
    }
    return TY_NONE;
}

/* Visits every call under e, joining what block calls pass into the
 * callees' parameter types; returns whether anything changed. */
static bool analyse(gen *G, scope *s, int at, const net_expr *e)
{
    bool changed = false;
    if (!e)
        return false;
    if (e->kind == NET_EXPR_CALL) {
        for (int i = 0; i < e->n_args; i++)
            changed |= analyse(G, s, at, e->args[i].value);
        int b = find_block(G, e->text);
        if (b) {
            scope *cs = &G->scopes[b];
            const net_expr *slot[64];
            bind_block(cs->def, e, slot);
            if (!cs->called)
                changed = true;
            cs->called = true;
            for (int k = 0; k < cs->n_params; k++) {
                ty t = slot[k] ? type_of(G, s, at, slot[k]) : type_of(G, NULL, 0, cs->pdefs[k]);
                ty j = join(cs->pty[k], t);
                if (j != cs->pty[k]) {
                    cs->pty[k] = j;
                    changed = true;
                }
            }
        }
    }
    changed |= analyse(G, s, at, e->lhs);
    changed |= analyse(G, s, at, e->rhs);
    return changed;
}

static bool analyse_scope(gen *G, scope *s)
{
    bool changed = false;
    for (int i = 0; i < s->n_body; i++) {
        changed |= analyse(G, s, i, s->body[i].value);
        ty t = type_of(G, s, i, s->body[i].value);
        if (t != s->sty[i]) {
            s->sty[i] = t;
            changed = true;
        }
    }
    ty r = s->n_body ? s->sty[s->n_body - 1] : TY_NONE;
    if (r != s->ret) {
        s->ret = r;
        changed = true;
    }
    return changed;
}

static int check_types(gen *G)
{
    /* monotone joins over a lattice of height 4: a few rounds per block */
    int rounds = 0;
    bool changed = true;
    while (changed) {
        if (rounds++ > 8 * (G->n_scopes + 2))
            return gen_fail(G, "internal error: the types of the blocks do not settle");
        changed = false;
        for (int i = 0; i < G->n_scopes; i++)
            if (G->scopes[i].called)
                changed |= analyse_scope(G, &G->scopes[i]);
    }
    for (int i = 1; i < G->n_scopes; i++) {
        const scope *s = &G->scopes[i];
        if (!s->called)
            continue;
        for (int k = 0; k < s->n_params; k++)
            if (s->pty[k] == TY_CONFLICT || s->pty[k] == TY_NONE)
                return gen_fail(G,
                                "block '%s' (line %d): parameter '%s' is given a tensor in one "
                                "call and a value in another; the PyTorch export needs one kind "
                                "per parameter (use two blocks)",
                                s->def->name, s->def->line, s->pnames[k]);
    }
    return 0;
}

/* ---- pass 2: liveness ---------------------------------------------------------- */

static size_t ptr_hash(const void *p, size_t cap)
{
    uintptr_t v = (uintptr_t)p;
    v ^= v >> 17;
    v *= 0x9e3779b97f4a7c15ULL;
    return (size_t)(v >> 7) & (cap - 1);
}

static bool is_live(const gen *G, const net_expr *e)
{
    if (!G->live_cap)
        return false;
    for (size_t h = ptr_hash(e, G->live_cap);; h = (h + 1) & (G->live_cap - 1)) {
        if (!G->live[h])
            return false;
        if (G->live[h] == e)
            return true;
    }
}

static void set_live(gen *G, const net_expr *e)
{
    if (is_live(G, e))
        return;
    if ((G->live_n + 1) * 2 > G->live_cap) {
        size_t cap = G->live_cap ? G->live_cap * 2 : 256;
        const net_expr **v = gen_alloc(G, cap, sizeof *v);
        if (!v)
            return;
        for (size_t i = 0; i < G->live_cap; i++)
            if (G->live[i]) {
                size_t h = ptr_hash(G->live[i], cap);
                while (v[h])
                    h = (h + 1) & (cap - 1);
                v[h] = G->live[i];
            }
        free(G->live);
        G->live = v;
        G->live_cap = cap;
    }
    size_t h = ptr_hash(e, G->live_cap);
    while (G->live[h])
        h = (h + 1) & (G->live_cap - 1);
    G->live[h] = e;
    G->live_n++;
}

/* The names a backward pass still needs, as a small set. */
typedef struct nameset {
    const char **v;
    size_t n, alloc;
} nameset;

static bool ns_has(const nameset *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i], name))
            return true;
    return false;
}

static void ns_add(gen *G, nameset *ns, const char *name)
{
    if (ns_has(ns, name))
        return;
    if (ALLOC_GROW(ns->v, ns->n + 1, ns->alloc)) {
        gen_fail(G, "out of memory");
        return;
    }
    ns->v[ns->n++] = name;
}

static void ns_del(nameset *ns, const char *name)
{
    for (size_t i = 0; i < ns->n; i++)
        if (!strcmp(ns->v[i], name)) {
            ns->v[i] = ns->v[--ns->n];
            return;
        }
}

static void live_scope(gen *G, scope *s);

/* e's tensor value is needed: mark what it is computed from. */
static void mark(gen *G, scope *s, int at, const net_expr *e, nameset *need)
{
    if (type_of(G, s, at, e) != TY_TENSOR)
        return;
    switch (e->kind) {
    case NET_EXPR_NAME: ns_add(G, need, e->text); return;
    case NET_EXPR_BINOP:
        set_live(G, e);
        mark(G, s, at, e->lhs, need);
        mark(G, s, at, e->rhs, need);
        return;
    case NET_EXPR_CALL: {
        set_live(G, e);
        int b = find_block(G, e->text);
        if (b) {
            scope *cs = &G->scopes[b];
            live_scope(G, cs);
            const net_expr *slot[64];
            bind_block(cs->def, e, slot);
            for (int k = 0; k < cs->n_params; k++)
                if (slot[k] && cs->param_live[k])
                    mark(G, s, at, slot[k], need);
            return;
        }
        op_args oa;
        bind_op(e, &oa);
        for (int j = 0; j < oa.sig.n; j++)
            if (oa.sig.a[j].kind == NET_ARG_TENSOR && oa.slot[j])
                mark(G, s, at, oa.slot[j], need);
        for (int t = 0; t < oa.n_tensors; t++)
            mark(G, s, at, oa.tensors[t], need);
        return;
    }
    case NET_EXPR_INT:
    case NET_EXPR_FLOAT:
    case NET_EXPR_STRING:
    case NET_EXPR_NEG: return;
    }
}

/* Which statements and parameters a tensor scope's result needs: the
 * same for every call (a block's only way out is its return value). */
static void live_scope(gen *G, scope *s)
{
    if (s->live_done)
        return;
    s->live_done = true;
    nameset need = {0};
    for (int i = s->n_body - 1; i >= 0; i--) {
        const net_stmt *st = &s->body[i];
        bool out = i == s->n_body - 1; /* the return, or the top level's last line */
        if (!out && !(st->target && ns_has(&need, st->target)))
            continue;
        if (st->target)
            ns_del(&need, st->target);
        s->stmt_live[i] = true;
        mark(G, s, i, st->value, &need);
    }
    for (int k = 0; k < s->n_params; k++)
        s->param_live[k] = ns_has(&need, s->pnames[k]);
    free(need.v);
}

/* ---- pass 3: sites, names, the walk ---------------------------------------------- */

/* The kind of the i-th argument as written: which slot it fills. */
static net_arg_kind written_kind(const net_op_sig *sig, const net_expr *call, int i)
{
    const net_arg *a = &call->args[i];
    if (a->name) {
        for (int j = 0; j < sig->n; j++)
            if (!strcmp(sig->a[j].name, a->name))
                return sig->a[j].kind;
        return NET_ARG_INT;
    }
    int pos = 0;
    for (int k = 0; k < i; k++)
        if (!call->args[k].name && !(pos < sig->n && sig->a[pos].kind == NET_ARG_TENSORS))
            pos++;
    return pos < sig->n ? sig->a[pos].kind : NET_ARG_INT;
}

/* The parameter the i-th argument of a block call goes to, or -1. */
static int written_param(const net_def *d, const net_expr *call, int i)
{
    const net_arg *a = &call->args[i];
    if (a->name) {
        for (int k = 0; k < d->n_params; k++)
            if (!strcmp(d->params[k].name, a->name))
                return k;
        return -1;
    }
    int pos = 0;
    for (int k = 0; k < i; k++)
        if (!call->args[k].name)
            pos++;
    return pos < d->n_params ? pos : -1;
}

static site *find_site(const scope *s, const net_expr *e)
{
    for (size_t i = 0; i < s->n_sites; i++)
        if (s->sites[i].e == e)
            return &s->sites[i];
    return NULL;
}

static void add_site(gen *G, scope *s, const net_expr *e, int block, int stmt)
{
    if (ALLOC_GROW(s->sites, s->n_sites + 1, s->sites_alloc)) {
        gen_fail(G, "out of memory");
        return;
    }
    s->sites[s->n_sites++] = (site){.e = e, .block = block, .stmt = stmt};
}

/* The live calls of a statement in evaluation order (arguments as
 * written, then the call), as the compiler made their nodes. */
static void collect(gen *G, scope *s, int at, const net_expr *e)
{
    if (G->failed || type_of(G, s, at, e) != TY_TENSOR)
        return;
    if (e->kind == NET_EXPR_BINOP) {
        collect(G, s, at, e->lhs);
        collect(G, s, at, e->rhs);
        add_site(G, s, e, 0, at);
    } else if (e->kind == NET_EXPR_CALL) {
        int b = find_block(G, e->text);
        if (b) {
            const scope *cs = &G->scopes[b];
            for (int i = 0; i < e->n_args; i++) {
                int k = written_param(cs->def, e, i);
                if (k >= 0 && cs->param_live[k])
                    collect(G, s, at, e->args[i].value);
            }
        } else {
            net_op_sig sig;
            net_op_signature(e->text, &sig);
            for (int i = 0; i < e->n_args; i++) {
                net_arg_kind k = written_kind(&sig, e, i);
                if (k == NET_ARG_TENSOR || k == NET_ARG_TENSORS)
                    collect(G, s, at, e->args[i].value);
            }
        }
        add_site(G, s, e, b, at);
    }
}

static const char *const py_keywords[] = {
    "False", "None",     "True",  "and",    "as",   "assert", "async",  "await",    "break",
    "class", "continue", "def",   "del",    "elif", "else",   "except", "finally",  "for",
    "from",  "global",   "if",    "import", "in",   "is",     "lambda", "nonlocal", "not",
    "or",    "pass",     "raise", "return", "try",  "while",  "with",   "yield",    NULL,
};

/* Names model.py uses at module level, which a local must not hide. */
static const char *const py_globals[] = {
    "self", "super",   "int",         "float",     "bool",         "print",
    "len",  "range",   "nn",          "F",         "torch",        "np",
    "os",   "classes", "gap",         "flatten",   "conv_padding", "load",
    "Net",  "Linear",  "LayerNorm2d", "MinPool2d", "INPUT_SHAPE",  "MEAN",
    "STD",  NULL,
};

/* nn.Module members an attribute must not replace. */
static const char *const module_members[] = {
    "training",
    "forward",
    "eval",
    "train",
    "to",
    "cpu",
    "cuda",
    "float",
    "double",
    "half",
    "bfloat16",
    "type",
    "apply",
    "modules",
    "children",
    "parameters",
    "buffers",
    "state_dict",
    "load_state_dict",
    "named_modules",
    "named_children",
    "named_parameters",
    "named_buffers",
    "register_buffer",
    "register_parameter",
    "register_module",
    "add_module",
    "zero_grad",
    "requires_grad_",
    "share_memory",
    "extra_repr",
    "get_submodule",
    "get_parameter",
    "get_buffer",
    "to_empty",
    "ipu",
    "xpu",
    "out_channels",
    "input_mean",
    "input_std",
    "dump_patches",
    NULL,
};

static bool in_list(const char *const *list, const char *s)
{
    for (int i = 0; list[i]; i++)
        if (!strcmp(list[i], s))
            return true;
    return false;
}

/* A block's class or function name hides a global too. */
static bool global_taken(const gen *G, const char *s)
{
    if (in_list(py_keywords, s) || in_list(py_globals, s))
        return true;
    for (int i = 1; i < G->n_scopes; i++)
        if (G->scopes[i].called && !strcmp(G->scopes[i].py, s))
            return true;
    return false;
}

static const char *py_name(const scope *s, const char *gname)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (!strcmp(s->gnames[i], gname))
            return s->pynames[i];
    return gname;
}

/* A taken name becomes free by underscores appended one at a time: -1
   when buf has no room for one more. */
static int add_underscore(char *buf, size_t size)
{
    size_t l = strlen(buf);
    if (l + 2 > size)
        return -1;
    buf[l] = '_';
    buf[l + 1] = 0;
    return 0;
}

static void add_name(gen *G, scope *s, const char *gname)
{
    for (size_t i = 0; i < s->n_names; i++)
        if (!strcmp(s->gnames[i], gname))
            return;
    if (ALLOC_GROW(s->gnames, s->n_names + 1, s->names_alloc) ||
        !(s->pynames = realloc(s->pynames, s->names_alloc * sizeof *s->pynames))) {
        gen_fail(G, "out of memory");
        return;
    }
    char buf[160];
    snprintf(buf, sizeof buf, "%s", gname);
    /* a Python keyword or a global gets underscores until it is free */
    for (;;) {
        bool taken = global_taken(G, buf);
        for (size_t i = 0; i < s->n_names && !taken; i++)
            taken = !strcmp(s->pynames[i], buf);
        for (int k = 0; k < s->n_params && !taken; k++)
            taken = strcmp(s->pnames[k], gname) && !strcmp(s->pnames[k], buf);
        for (int j = 0; j < s->n_body && !taken; j++)
            taken = s->body[j].target && strcmp(s->body[j].target, gname) &&
                    !strcmp(s->body[j].target, buf);
        if (!taken)
            break;
        if (add_underscore(buf, sizeof buf)) {
            gen_fail(G, "name '%s' cannot be made a Python name", gname);
            return;
        }
    }
    s->gnames[s->n_names] = gname;
    s->pynames[s->n_names] = gen_strdup(G, buf);
    s->n_names++;
}

/* se_ln -> SeLn; a name that would not be a Python class gets "Block". */
static void camel(const char *name, char *out, size_t size)
{
    size_t o = 0;
    bool up = true;
    for (const char *p = name; *p && o + 1 < size; p++) {
        if (*p == '_') {
            up = true;
            continue;
        }
        out[o++] = up && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        up = false;
    }
    out[o] = 0;
    if (!o || (out[0] >= '0' && out[0] <= '9')) {
        char tmp[96];
        snprintf(tmp, sizeof tmp, "Block%s", out);
        snprintf(out, size, "%s", tmp);
    }
}

static void name_blocks(gen *G)
{
    for (int i = 1; i < G->n_scopes; i++) {
        scope *s = &G->scopes[i];
        if (!s->called)
            continue;
        char base[96];
        if (s->ret == TY_TENSOR)
            camel(s->def->name, base, sizeof base);
        else
            snprintf(base, sizeof base, "%s", s->def->name);
        char cand[96];
        snprintf(cand, sizeof cand, "%s", base);
        /* F (block f) would hide torch.nn.functional: FBlock, FBlock2... */
        for (int n = 1; global_taken(G, cand); n++)
            snprintf(cand, sizeof cand, n == 1 ? "%s%s" : "%s%s%d", base,
                     s->ret == TY_TENSOR ? "Block" : "_", n);
        snprintf(s->py, sizeof s->py, "%s", cand);
    }
}

static const char *site_base(const gen *G, const site *st)
{
    return st->block ? G->scopes[st->block].def->name : st->e->text;
}

static bool site_has_module(const site *st)
{
    if (st->block)
        return true;
    if (st->e->kind != NET_EXPR_CALL)
        return false;
    net_op_sig sig;
    return net_op_signature(st->e->text, &sig) && torch_ops[sig_node_op(&sig)].kind == TK_LAYER;
}

/* conv, conv_2... in the order the layers are made; a single one keeps
 * the bare name unless that is an nn.Module member. */
static void name_sites(gen *G, scope *s)
{
    for (size_t i = 0; i < s->n_sites; i++) {
        site *st = &s->sites[i];
        if (!site_has_module(st))
            continue;
        const char *base = site_base(G, st);
        int count = 0, nth = 0;
        for (size_t j = 0; j < s->n_sites; j++)
            if (site_has_module(&s->sites[j]) && !strcmp(site_base(G, &s->sites[j]), base)) {
                count++;
                if (j <= i)
                    nth++;
            }
        char cand[128];
        bool bare_ok = !in_list(module_members, base) && !in_list(py_keywords, base);
        if (count == 1 && bare_ok)
            snprintf(cand, sizeof cand, "%s", base);
        else
            snprintf(cand, sizeof cand, "%s_%d", base, nth);
        for (;;) {
            bool taken = false;
            for (size_t j = 0; j < i && !taken; j++)
                taken = s->sites[j].attr && !strcmp(s->sites[j].attr, cand);
            if (!taken)
                break;
            if (add_underscore(cand, sizeof cand)) {
                gen_fail(G, "no attribute name for '%s'", base);
                return;
            }
        }
        st->attr = gen_strdup(G, cand);
    }
}

static void walk_scope(gen *G, scope *s, strbuf *prefix);

/* The next graph node must be the one this call made. */
static void consume(gen *G, const net_expr *e, net_op want, site *st, const strbuf *prefix)
{
    const net_graph *g = G->g;
    int i = G->next_node++;
    if (i >= g->n_nodes)
        return (void)gen_fail(G, "internal error: line %d: more layers than the graph has",
                              e->line);
    const net_node *nd = &g->nodes[i];
    if (nd->op != want || nd->line != e->line || nd->col != e->col)
        return (void)gen_fail(G,
                              "internal error: line %d:%d: %s does not match the graph's layer "
                              "%d (%s at %d:%d)",
                              e->line, e->col, net_op_name(want), i, net_op_name(nd->op), nd->line,
                              nd->col);
    if (nd->op == NET_FLATTEN && st) {
        net_shape in = g->nodes[nd->in[0]].shape;
        long hw = (long)in.h * in.w;
        if (st->flat_hw && st->flat_hw != hw)
            return (void)gen_fail(G,
                                  "line %d: flatten() of maps of different sizes in different "
                                  "calls of the same block; the PyTorch export needs one size",
                                  e->line);
        st->flat_hw = hw;
    }
    if (st && st->attr && (nd->params > 0 || nd->op == NET_BATCHNORM)) {
        strbuf sb = STRBUF_INIT;
        strbuf_add(&sb, prefix->buf, prefix->len);
        strbuf_addstr(&sb, st->attr);
        G->names[i] = strbuf_detach(&sb, NULL);
        if (!G->names[i])
            gen_fail(G, "out of memory");
    }
}

static void walk_expr(gen *G, scope *s, int at, const net_expr *e, strbuf *prefix)
{
    if (G->failed || type_of(G, s, at, e) != TY_TENSOR)
        return;
    site *st = find_site(s, e);
    if (e->kind == NET_EXPR_BINOP) {
        walk_expr(G, s, at, e->lhs, prefix);
        walk_expr(G, s, at, e->rhs, prefix);
        consume(G, e, !strcmp(e->op, "+") ? NET_ADD : NET_MUL, st, prefix);
        return;
    }
    if (e->kind != NET_EXPR_CALL)
        return;
    int b = find_block(G, e->text);
    if (b) {
        scope *cs = &G->scopes[b];
        for (int i = 0; i < e->n_args; i++) {
            int k = written_param(cs->def, e, i);
            if (k >= 0 && cs->param_live[k])
                walk_expr(G, s, at, e->args[i].value, prefix);
        }
        if (!st || !st->attr)
            return (void)gen_fail(G, "internal error: line %d: block call without a site", e->line);
        size_t keep = prefix->len;
        strbuf_addstr(prefix, st->attr);
        strbuf_addch(prefix, '.');
        walk_scope(G, cs, prefix);
        strbuf_setlen(prefix, keep);
        return;
    }
    net_op_sig sig;
    net_op_signature(e->text, &sig);
    for (int i = 0; i < e->n_args; i++) {
        net_arg_kind k = written_kind(&sig, e, i);
        if (k == NET_ARG_TENSOR || k == NET_ARG_TENSORS)
            walk_expr(G, s, at, e->args[i].value, prefix);
    }
    consume(G, e, sig_node_op(&sig), st, prefix);
}

static void walk_scope(gen *G, scope *s, strbuf *prefix)
{
    for (int i = 0; i < s->n_body && !G->failed; i++)
        if (s->stmt_live[i])
            walk_expr(G, s, i, s->body[i].value, prefix);
}

/* ---- pass 4: emission ----------------------------------------------------------
 * Expressions are built in strbufs; each builder returns the precedence of
 * what it wrote (3: an atom or a call, 2: * / // %, 1: + -) so that its
 * caller adds parentheses only where Python needs them. gevo-net's
 * arithmetic is Python's (floor division and remainder included), so
 * numbers are written as the genome writes them. */

enum {
    P_ADD = 1,
    P_MUL = 2,
    P_ATOM = 3
};

static int emit_init(gen *G, scope *s, int at, const net_expr *e, strbuf *o);
static int emit_channels(gen *G, scope *s, int at, const net_expr *e, strbuf *o);

/* Appends what a builder makes, in parentheses when its precedence is
 * below min. */
static void put_operand(gen *G, scope *s, int at, const net_expr *e, int min, strbuf *o,
                        int (*build)(gen *, scope *, int, const net_expr *, strbuf *))
{
    strbuf t = STRBUF_INIT;
    int p = build(G, s, at, e, &t);
    if (p < min)
        strbuf_addf(o, "(%s)", t.buf);
    else
        strbuf_addstr(o, t.buf);
    strbuf_release(&t);
}

static int binop_prec(const char *op)
{
    return !strcmp(op, "+") || !strcmp(op, "-") ? P_ADD : P_MUL;
}

static void put_float(strbuf *o, const net_expr *e)
{
    /* the shortest text that reads back as the same double */
    char buf[64];
    for (int d = 6; d <= 17; d++) {
        snprintf(buf, sizeof buf, "%.*g", d, e->fval);
        if (strtod(buf, NULL) == e->fval)
            break;
    }
    strbuf_addstr(o, buf);
    if (!strpbrk(buf, ".e"))
        strbuf_addstr(o, ".0");
}

/* A block call's arguments as written: positional, then keyword. */
static void put_block_args(gen *G, scope *s, int at, const net_expr *e, strbuf *o)
{
    const scope *cs = &G->scopes[find_block(G, e->text)];
    for (int i = 0; i < e->n_args; i++) {
        if (i)
            strbuf_addstr(o, ", ");
        if (e->args[i].name)
            strbuf_addf(o, "%s=", py_name(cs, e->args[i].name));
        emit_init(G, s, at, e->args[i].value, o);
    }
}

/* The value of e in a constructor or a function: numbers as themselves,
 * tensors as their channels. */
static int emit_init(gen *G, scope *s, int at, const net_expr *e, strbuf *o)
{
    switch (e->kind) {
    case NET_EXPR_INT: strbuf_addf(o, "%ld", e->ival); return P_ATOM;
    case NET_EXPR_FLOAT: put_float(o, e); return P_ATOM;
    case NET_EXPR_STRING: strbuf_addf(o, "\"%s\"", e->text); return P_ATOM;
    case NET_EXPR_NAME:
        if (binding(s, at, e->text) != -1)
            strbuf_addstr(o, py_name(s, e->text));
        else if (is_true_name(e->text))
            strbuf_addstr(o, "True");
        else if (is_false_name(e->text))
            strbuf_addstr(o, "False");
        else if (is_pad_name(e->text))
            strbuf_addf(o, "\"%s\"", e->text);
        else
            strbuf_addstr(o, e->text); /* classes */
        return P_ATOM;
    case NET_EXPR_NEG:
        strbuf_addch(o, '-');
        put_operand(G, s, at, e->lhs, P_ATOM, o, emit_init);
        return P_ATOM;
    case NET_EXPR_BINOP: {
        if (type_of(G, s, at, e) == TY_TENSOR)
            return emit_channels(G, s, at, e, o);
        int p = binop_prec(e->op);
        put_operand(G, s, at, e->lhs, p, o, emit_init);
        strbuf_addf(o, " %s ", e->op);
        put_operand(G, s, at, e->rhs, p + 1, o, emit_init);
        return p;
    }
    case NET_EXPR_CALL: {
        net_op_sig sig;
        if (net_op_signature(e->text, &sig) && sig.op == NET_OP_CHANNELS) {
            op_args oa;
            bind_op(e, &oa);
            return emit_channels(G, s, at, oa.slot[0], o);
        }
        if (type_of(G, s, at, e) == TY_TENSOR)
            return emit_channels(G, s, at, e, o);
        strbuf_addf(o, "%s(", G->scopes[find_block(G, e->text)].py);
        put_block_args(G, s, at, e, o);
        strbuf_addch(o, ')');
        return P_ATOM;
    }
    }
    return P_ATOM;
}

/* An integer argument: a number with an integral value is accepted where
 * gevo wants an integer, so Python gets int() of it. */
static void put_int_arg(gen *G, scope *s, int at, const net_expr *e, const char *def, strbuf *o)
{
    if (!e) {
        strbuf_addstr(o, def);
        return;
    }
    if (type_of(G, s, at, e) == TY_FLOAT) {
        strbuf_addstr(o, "int(");
        emit_init(G, s, at, e, o);
        strbuf_addch(o, ')');
    } else {
        emit_init(G, s, at, e, o);
    }
}

/* The channels of tensor e, as an expression of the constructor's names. */
static int emit_channels(gen *G, scope *s, int at, const net_expr *e, strbuf *o)
{
    switch (e->kind) {
    case NET_EXPR_NAME: strbuf_addstr(o, py_name(s, e->text)); return P_ATOM;
    case NET_EXPR_BINOP: return emit_channels(G, s, at, e->lhs, o); /* add and mul keep them */
    case NET_EXPR_CALL: break;
    case NET_EXPR_INT:
    case NET_EXPR_FLOAT:
    case NET_EXPR_STRING:
    case NET_EXPR_NEG: return emit_init(G, s, at, e, o);
    }
    int b = find_block(G, e->text);
    if (b) {
        const site *st = find_site(s, e);
        if (st && st->attr && is_live(G, e)) {
            strbuf_addf(o, "self.%s.out_channels", st->attr);
        } else {
            /* a call whose layers the network does not use: only its
               channels are wanted, from an instance thrown away */
            strbuf_addf(o, "%s(", G->scopes[b].py);
            put_block_args(G, s, at, e, o);
            strbuf_addstr(o, ").out_channels");
        }
        return P_ATOM;
    }
    op_args oa;
    bind_op(e, &oa);
    switch (torch_ops[sig_node_op(&oa.sig)].channels) {
    case CH_SAME: break;
    case CH_OUT:
        if (oa.sig.op == NET_OP_DWCONV)
            break;
        put_int_arg(G, s, at, oa.slot[1], "?", o);
        return P_ATOM;
    case CH_SUM:
        for (int t = 0; t < oa.n_tensors; t++) {
            if (t)
                strbuf_addstr(o, " + ");
            put_operand(G, s, at, oa.tensors[t], P_ADD, o, emit_channels);
        }
        return P_ADD;
    case CH_FLAT: {
        const site *st = find_site(s, e);
        if (!st || !st->flat_hw) {
            G->unsized = true; /* fails if the line that needs it is kept */
            strbuf_addstr(o, "None");
            return P_ATOM;
        }
        if (st->flat_hw == 1)
            break;
        put_operand(G, s, at, oa.slot[0], P_MUL, o, emit_channels);
        strbuf_addf(o, " * %ld", st->flat_hw);
        return P_MUL;
    }
    }
    return emit_channels(G, s, at, oa.n_tensors ? oa.tensors[0] : oa.slot[0], o);
}

/* A keyword argument of a layer: written when the genome gave it, or when
 * gevo's default is not PyTorch's (given by def_py). */
static void put_kw(gen *G, scope *s, int at, const char *kw, const net_expr *e, bool as_int,
                   const char *def_py, strbuf *o)
{
    if (!e && !def_py)
        return;
    strbuf_addf(o, ", %s=", kw);
    if (!e)
        strbuf_addstr(o, def_py);
    else if (as_int)
        put_int_arg(G, s, at, e, "", o);
    else
        emit_init(G, s, at, e, o);
}

/* conv's padding: a number, or same (dilation * (k - 1) / 2) or valid. */
static void put_padding(gen *G, scope *s, int at, const net_expr *e, const net_expr *k,
                        const char *kdef, const net_expr *dil, strbuf *o)
{
    strbuf ks = STRBUF_INIT, ds = STRBUF_INIT;
    put_int_arg(G, s, at, k, kdef, &ks);
    put_int_arg(G, s, at, dil, "1", &ds);
    ty t = e ? type_of(G, s, at, e) : TY_SYM;
    bool literal = !e || ((e->kind == NET_EXPR_NAME || e->kind == NET_EXPR_STRING) &&
                          binding(s, at, e->text) == -1);
    if (t == TY_INT) {
        put_int_arg(G, s, at, e, "0", o);
    } else if (literal) {
        const char *mode = e ? e->text : "same";
        char *end1, *end2;
        long kv = strtol(ks.buf, &end1, 10), dv = strtol(ds.buf, &end2, 10);
        if (!strcmp(mode, "valid"))
            strbuf_addstr(o, "0");
        else if (!*end1 && !*end2 && ks.len && ds.len)
            strbuf_addf(o, "%ld", dv * (kv - 1) / 2);
        else if (!strcmp(ds.buf, "1"))
            strbuf_addf(o, "(%s - 1) // 2", ks.buf);
        else
            strbuf_addf(o, "(%s) * (%s - 1) // 2", ds.buf, ks.buf);
    } else {
        G->helpers |= H_PADDING;
        strbuf_addstr(o, "conv_padding(");
        emit_init(G, s, at, e, o);
        strbuf_addf(o, ", %s, %s)", ks.buf, ds.buf);
    }
    strbuf_release(&ks);
    strbuf_release(&ds);
}

/* The constructor of a layer site. */
static void put_layer(gen *G, scope *s, int at, const net_expr *e, strbuf *o)
{
    op_args oa;
    bind_op(e, &oa);
    const net_expr *const *a = oa.slot;
    bool dw = oa.sig.op == NET_OP_DWCONV;
    net_op op = sig_node_op(&oa.sig);
    G->helpers |= torch_ops[op].helper;
    switch (op) {
    case NET_CONV: {
        /* conv(x, out, k, stride, padding, dilation, groups, bias);
           dwconv(x, k, stride, padding, dilation, bias) */
        int j = dw ? 0 : 1;
        strbuf in = STRBUF_INIT;
        emit_channels(G, s, at, a[0], &in);
        strbuf_addf(o, "nn.Conv2d(%s, ", in.buf);
        if (dw)
            strbuf_addstr(o, in.buf);
        else
            put_int_arg(G, s, at, a[1], "?", o);
        strbuf_addstr(o, ", ");
        put_int_arg(G, s, at, a[1 + j], oa.sig.a[1 + j].def, o);
        put_kw(G, s, at, "stride", a[2 + j], true, NULL, o);
        if (a[3 + j] || strcmp(oa.sig.a[3 + j].def, "0")) {
            strbuf_addstr(o, ", padding=");
            put_padding(G, s, at, a[3 + j], a[1 + j], oa.sig.a[1 + j].def, a[4 + j], o);
        }
        put_kw(G, s, at, "dilation", a[4 + j], true, NULL, o);
        if (dw)
            strbuf_addf(o, ", groups=%s", in.buf);
        else
            put_kw(G, s, at, "groups", a[6], true, NULL, o);
        put_kw(G, s, at, "bias", a[dw ? 5 : 7], false, NULL, o);
        strbuf_addch(o, ')');
        strbuf_release(&in);
        return;
    }
    case NET_LINEAR:
        strbuf_addstr(o, "Linear(");
        emit_channels(G, s, at, a[0], o);
        strbuf_addstr(o, ", ");
        put_int_arg(G, s, at, a[1], "?", o);
        put_kw(G, s, at, "bias", a[2], false, NULL, o);
        strbuf_addch(o, ')');
        return;
    case NET_BATCHNORM:
    case NET_LAYERNORM:
        strbuf_addstr(o, op == NET_BATCHNORM ? "nn.BatchNorm2d(" : "LayerNorm2d(");
        emit_channels(G, s, at, a[0], o);
        put_kw(G, s, at, "eps", a[1], false, NULL, o);
        if (op == NET_BATCHNORM)
            put_kw(G, s, at, "momentum", a[2], false, NULL, o);
        strbuf_addch(o, ')');
        return;
    case NET_MAXPOOL:
    case NET_AVGPOOL:
    case NET_MINPOOL:
        /* stride defaults to k in both; avgpool's count_include_pad=True
           is PyTorch's default and the engine's */
        strbuf_addstr(o, op == NET_MAXPOOL   ? "nn.MaxPool2d("
                         : op == NET_AVGPOOL ? "nn.AvgPool2d("
                                             : "MinPool2d(");
        put_int_arg(G, s, at, a[1], oa.sig.a[1].def, o);
        put_kw(G, s, at, "stride", a[2], true, NULL, o);
        put_kw(G, s, at, "padding", a[3], true, NULL, o);
        put_kw(G, s, at, "ceil_mode", a[4], false, NULL, o);
        strbuf_addch(o, ')');
        return;
    case NET_DROPOUT:
        strbuf_addstr(o, "nn.Dropout(");
        if (a[1])
            emit_init(G, s, at, a[1], o);
        else
            strbuf_addstr(o, oa.sig.a[1].def);
        strbuf_addch(o, ')');
        return;
    default: break; /* not a TK_LAYER of torch_ops */
    }
    gen_fail(G, "internal error: %s has no layer", e->text);
}

static int emit_forward(gen *G, scope *s, int at, const net_expr *e, strbuf *o);

/* The tensor value of e in forward. */
static int emit_forward(gen *G, scope *s, int at, const net_expr *e, strbuf *o)
{
    if (e->kind == NET_EXPR_NAME) {
        strbuf_addstr(o, py_name(s, e->text));
        return P_ATOM;
    }
    if (e->kind == NET_EXPR_BINOP) {
        int p = binop_prec(e->op);
        put_operand(G, s, at, e->lhs, p, o, emit_forward);
        strbuf_addf(o, " %s ", e->op);
        put_operand(G, s, at, e->rhs, p + 1, o, emit_forward);
        return p;
    }
    if (e->kind != NET_EXPR_CALL)
        return gen_fail(G, "internal error: line %d: not a tensor", e->line), P_ATOM;
    const site *st = find_site(s, e);
    int b = find_block(G, e->text);
    if (b) {
        const scope *cs = &G->scopes[b];
        const net_expr *slot[64];
        bind_block(cs->def, e, slot);
        strbuf_addf(o, "self.%s(", st && st->attr ? st->attr : "?");
        bool first = true;
        for (int k = 0; k < cs->n_params; k++)
            if (cs->param_live[k]) {
                if (!first)
                    strbuf_addstr(o, ", ");
                first = false;
                emit_forward(G, s, at, slot[k], o);
            }
        strbuf_addch(o, ')');
        return P_ATOM;
    }
    op_args oa;
    bind_op(e, &oa);
    const torch_op *t = &torch_ops[sig_node_op(&oa.sig)];
    G->helpers |= t->helper;
    switch (t->kind) {
    case TK_LAYER:
        strbuf_addf(o, "self.%s(", st && st->attr ? st->attr : "?");
        emit_forward(G, s, at, oa.slot[0], o);
        strbuf_addch(o, ')');
        return P_ATOM;
    case TK_FUNC:
        strbuf_addf(o, "%s(", t->func);
        emit_forward(G, s, at, oa.slot[0], o);
        strbuf_addch(o, ')');
        return P_ATOM;
    case TK_CAT:
        strbuf_addstr(o, "torch.cat([");
        for (int k = 0; k < oa.n_tensors; k++) {
            if (k)
                strbuf_addstr(o, ", ");
            emit_forward(G, s, at, oa.tensors[k], o);
        }
        strbuf_addstr(o, "], 1)");
        return P_ATOM;
    case TK_SUM:
        for (int k = 0; k < oa.n_tensors; k++) {
            if (k)
                strbuf_addstr(o, " + ");
            put_operand(G, s, at, oa.tensors[k], k ? P_MUL : P_ADD, o, emit_forward);
        }
        return P_ADD;
    case TK_PROD:
        put_operand(G, s, at, oa.slot[0], P_MUL, o, emit_forward);
        strbuf_addstr(o, " * ");
        put_operand(G, s, at, oa.slot[1], P_ATOM, o, emit_forward);
        return P_MUL;
    case TK_NONE: break;
    }
    return gen_fail(G, "internal error: line %d: %s in forward", e->line, e->text), P_ATOM;
}

/* ---- model.py -------------------------------------------------------------------- */

/* Text the researcher did not write for Python (comments, the genome) in a
 * raw docstring: sanitised, with no closing quotes inside. */
static void put_doc_text(strbuf *o, const char *s, size_t n, const char *indent)
{
    strbuf t = STRBUF_INIT;
    text_sanitize(&t, s, n, TEXT_MULTILINE);
    strbuf_addstr(o, indent);
    for (size_t i = 0; i < t.len; i++) {
        if (t.buf[i] == '"' && i + 2 < t.len && t.buf[i + 1] == '"' && t.buf[i + 2] == '"') {
            strbuf_addstr(o, "\"\"\\\"");
            i += 2;
        } else if (t.buf[i] == '\n') {
            strbuf_addch(o, '\n');
            if (i + 1 < t.len && t.buf[i + 1] != '\n')
                strbuf_addstr(o, indent);
        } else {
            strbuf_addch(o, t.buf[i]);
        }
    }
    if (t.len && t.buf[t.len - 1] != '\n')
        strbuf_addch(o, '\n');
    strbuf_release(&t);
}

/* The lines first..last (1-based) of the source. */
static void put_source_lines(const gen *G, int first, int last, const char *indent, strbuf *o)
{
    const char *p = G->src, *end = G->src + G->len;
    int line = 1;
    while (p < end && line < first) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
        line++;
    }
    const char *q = p;
    while (q < end && line <= last) {
        const char *nl = memchr(q, '\n', (size_t)(end - q));
        q = nl ? nl + 1 : end;
        line++;
    }
    put_doc_text(o, p, (size_t)(q - p), indent);
}

static void put_params(gen *G, scope *s, strbuf *o)
{
    for (int k = 0; k < s->n_params; k++) {
        strbuf_addf(o, ", %s", py_name(s, s->pnames[k]));
        if (s->pdefs[k]) {
            strbuf_addch(o, '=');
            emit_init(G, NULL, 0, s->pdefs[k], o);
        }
    }
}

/* One line of a constructor, kept only if it makes a layer or is read. */
typedef struct init_line {
    char *text;
    const char *target; /* the Python name it assigns, or NULL */
    bool unsized;       /* it needs a size the graph does not have */
} init_line;

/* Is the identifier `name` in Python text t (outside strings and after no '.')? */
static bool reads_name(const char *t, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = t; *p; p++) {
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            if (!q)
                return false;
            p = q;
            continue;
        }
        bool start = p == t || !(p[-1] == '_' || p[-1] == '.' || (p[-1] >= '0' && p[-1] <= '9') ||
                                 (p[-1] >= 'a' && p[-1] <= 'z') || (p[-1] >= 'A' && p[-1] <= 'Z'));
        if (!start || strncmp(p, name, n))
            continue;
        /* p[n] only once p[0..n) matched: nearer the end it lies past the text */
        char c = p[n];
        if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return true;
    }
    return false;
}

static void add_line(gen *G, init_line **v, size_t *n, size_t *alloc, strbuf *text,
                     const char *target, bool unsized)
{
    if (ALLOC_GROW(*v, *n + 1, *alloc)) {
        strbuf_release(text);
        gen_fail(G, "out of memory");
        return;
    }
    (*v)[(*n)++] = (init_line){strbuf_detach(text, NULL), target, unsized};
}

/* A constructor's body (or a function's): the statements on channels and
 * numbers, and a layer for every live call in the order gevo makes them.
 * An assignment that nothing after it reads is left out (the genome's
 * lines that only matter to forward, and its dead lines). */
static void put_init_body(gen *G, scope *s, const char *in, bool module, strbuf *o)
{
    init_line *lines = NULL;
    size_t n = 0, alloc = 0;
    for (int i = 0; i < s->n_body && !G->failed; i++) {
        const net_stmt *st = &s->body[i];
        bool tensor = s->sty[i] == TY_TENSOR;
        if (module && tensor && s->stmt_live[i])
            for (size_t k = 0; k < s->n_sites; k++) {
                const site *si = &s->sites[k];
                if (si->stmt != i || !si->attr)
                    continue;
                strbuf t = STRBUF_INIT;
                strbuf_addf(&t, "self.%s = ", si->attr);
                G->unsized = false;
                if (si->block) {
                    strbuf_addf(&t, "%s(", G->scopes[si->block].py);
                    put_block_args(G, s, i, si->e, &t);
                    strbuf_addch(&t, ')');
                } else {
                    put_layer(G, s, i, si->e, &t);
                }
                add_line(G, &lines, &n, &alloc, &t, NULL, G->unsized);
            }
        strbuf v = STRBUF_INIT, t = STRBUF_INIT;
        G->unsized = false;
        if (tensor)
            emit_channels(G, s, i, st->value, &v);
        else
            emit_init(G, s, i, st->value, &v);
        if (!st->target) {
            if (!module)
                strbuf_addf(&t, "return %s", v.buf);
            else if (s->def)
                strbuf_addf(&t, "self.out_channels = %s", v.buf);
            /* Net's output: nothing is made of its channels */
            if (t.len)
                add_line(G, &lines, &n, &alloc, &t, NULL, G->unsized);
        } else if (strcmp(v.buf, py_name(s, st->target))) {
            strbuf_addf(&t, "%s = %s", py_name(s, st->target), v.buf);
            add_line(G, &lines, &n, &alloc, &t, py_name(s, st->target), G->unsized);
        }
        strbuf_release(&t);
        strbuf_release(&v);
    }
    /* backwards: an assignment stays if a kept line after it reads it
       before it is assigned again */
    bool *keep = gen_alloc(G, n, sizeof *keep);
    for (size_t k = n; keep && k-- > 0;) {
        if (!lines[k].target) {
            keep[k] = true;
            continue;
        }
        for (size_t j = k + 1; j < n && !keep[k]; j++) {
            if (!keep[j])
                continue;
            const char *rhs = lines[j].target ? strstr(lines[j].text, " = ") + 3 : lines[j].text;
            if (reads_name(rhs, lines[k].target))
                keep[k] = true;
            else if (lines[j].target && !strcmp(lines[j].target, lines[k].target))
                break;
        }
    }
    for (size_t k = 0; k < n; k++) {
        if (keep && keep[k]) {
            if (lines[k].unsized)
                gen_fail(G,
                         "%s: flatten() of a tensor the network does not use: the PyTorch "
                         "export cannot size it",
                         s->def ? s->def->name : "the top level");
            strbuf_addf(o, "%s%s\n", in, lines[k].text);
        }
        free(lines[k].text);
    }
    free(keep);
    free(lines);
}

/* forward's body: the live tensor statements. */
static void put_forward_body(gen *G, scope *s, const char *in, strbuf *o)
{
    for (int i = 0; i < s->n_body; i++) {
        const net_stmt *st = &s->body[i];
        if (!s->stmt_live[i] || s->sty[i] != TY_TENSOR)
            continue;
        strbuf v = STRBUF_INIT;
        emit_forward(G, s, i, st->value, &v);
        bool last = i == s->n_body - 1;
        if (!st->target)
            strbuf_addf(o, "%sreturn %s%s\n", in, v.buf, s->def ? "" : ".flatten(1)");
        else if (strcmp(v.buf, py_name(s, st->target)))
            strbuf_addf(o, "%s%s = %s\n", in, py_name(s, st->target), v.buf);
        if (last && st->target && !s->def)
            strbuf_addf(o, "%sreturn %s.flatten(1)\n", in, py_name(s, st->target));
        strbuf_release(&v);
    }
}

static void put_block(gen *G, scope *s, const net_block *src_block, strbuf *o)
{
    if (s->ret != TY_TENSOR) {
        strbuf_addf(o, "\n\ndef %s(", s->py);
        strbuf params = STRBUF_INIT;
        put_params(G, s, &params);
        strbuf_addstr(o, params.len > 2 ? params.buf + 2 : "");
        strbuf_release(&params);
        strbuf_addstr(o,
                      "):\n    r\"\"\"The genome's block (tensors are their channels here):\n\n");
        if (src_block)
            put_source_lines(G, src_block->first_line, src_block->last_line, "    ", o);
        strbuf_addstr(o, "    \"\"\"\n");
        put_init_body(G, s, "    ", false, o);
        return;
    }
    strbuf_addf(o, "\n\nclass %s(nn.Module):\n    r\"\"\"The genome's block:\n\n", s->py);
    if (src_block)
        put_source_lines(G, src_block->first_line, src_block->last_line, "    ", o);
    strbuf_addstr(o, "    \"\"\"\n\n    def __init__(self");
    put_params(G, s, o);
    strbuf_addstr(o, "):\n        super().__init__()\n");
    put_init_body(G, s, "        ", true, o);
    strbuf_addstr(o, "\n    def forward(self");
    for (int k = 0; k < s->n_params; k++)
        if (s->param_live[k])
            strbuf_addf(o, ", %s", py_name(s, s->pnames[k]));
    strbuf_addstr(o, "):\n");
    put_forward_body(G, s, "        ", o);
}

static const char helper_gap[] =
    "\n\ndef gap(x):\n"
    "    \"\"\"gevo's gap: the mean of each channel, as an N x C x 1 x 1 vector.\"\"\"\n"
    "    return x.mean((2, 3), keepdim=True)\n";
static const char helper_flatten[] =
    "\n\ndef flatten(x):\n"
    "    \"\"\"gevo's flatten: each image's C x H x W values in that order, as a vector\n"
    "    (N x CHW x 1 x 1).\"\"\"\n"
    "    return x.reshape(x.shape[0], -1, 1, 1)\n";
static const char helper_padding[] =
    "\n\ndef conv_padding(padding, k, dilation):\n"
    "    \"\"\"gevo's conv padding: a number, \"same\" (dilation * (k - 1) // 2) or \"valid\" "
    "(0).\"\"\"\n"
    "    if padding == \"same\":\n"
    "        return dilation * (k - 1) // 2\n"
    "    return 0 if padding == \"valid\" else padding\n";
static const char helper_linear[] =
    "\n\nclass Linear(nn.Linear):\n"
    "    \"\"\"nn.Linear on gevo's vectors: N x C x 1 x 1 in, N x out x 1 x 1 out.\"\"\"\n\n"
    "    def forward(self, x):\n"
    "        return super().forward(x.flatten(1))[:, :, None, None]\n";
static const char helper_layernorm[] =
    "\n\nclass LayerNorm2d(nn.LayerNorm):\n"
    "    \"\"\"gevo's layernorm: over the channels at every position (as timm's\n"
    "    LayerNorm2d), with a scale and a shift per channel.\"\"\"\n\n"
    "    def forward(self, x):\n"
    "        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)\n";
static const char helper_minpool[] =
    "\n\nclass MinPool2d(nn.MaxPool2d):\n"
    "    \"\"\"gevo's minpool: the minimum of each window, -maxpool(-x) (padding never\n"
    "    wins, as in gevo).\"\"\"\n\n"
    "    def forward(self, x):\n"
    "        return -super().forward(-x)\n";

static void put_floats(strbuf *o, const float *v, int n)
{
    strbuf_addch(o, '[');
    for (int i = 0; i < n; i++)
        strbuf_addf(o, "%s%.9g", i ? ", " : "", (double)v[i]);
    strbuf_addch(o, ']');
}

/* "validation accuracy 0.8123, test accuracy 0.80, ..." from the note. */
static void put_result(strbuf *o, const char *result);

static void put_header(gen *G, const export_torch_meta *meta, strbuf *o)
{
    const net_graph *g = G->g;
    strbuf_addstr(o,
                  "r\"\"\"A gevo-net network as a PyTorch module, written by `gevo export`.\n\n");
    if (meta && (meta->id || meta->session)) {
        strbuf who = STRBUF_INIT;
        strbuf_addf(&who, "gevo individual %s%s%s.\n", meta->id ? meta->id : "?",
                    meta->session ? " of the session " : "", meta->session ? meta->session : "");
        put_doc_text(o, who.buf, who.len, "");
        strbuf_release(&who);
    }
    if (meta && meta->result)
        put_result(o, meta->result);
    strbuf_addf(o, "Parameters: %ld (as gevo counts them, and PyTorch). FLOPs: %.4g per image.\n\n",
                g->params, g->flops);
    if (meta && meta->resize) {
        strbuf rs = STRBUF_INIT;
        strbuf_addf(&rs,
                    "gevo resampled the data's images to %s (gevo.json \"resize\", bilinear)\n"
                    "before they reached the network: give it images of that size.\n\n",
                    meta->resize);
        put_doc_text(o, rs.buf, rs.len, "");
        strbuf_release(&rs);
    }
    strbuf_addf(o,
                "Usage:\n\n"
                "    from model import load\n"
                "    net = load()          # Net with the trained weights, in eval mode\n"
                "    logits = net(images)  # float32 N x %d x %d x %d in [0, 1] -> N x %d\n\n",
                g->input.c, g->input.h, g->input.w, g->classes);
    strbuf_addstr(o, "How to read it: each `def` block of the genome is a class named after it\n"
                     "in CamelCase (se_ln is SeLn), constructed with the block's parameters;\n"
                     "a block that returns a number is a function. In a constructor a tensor\n"
                     "stands for its number of channels, so the block's lines run there on\n"
                     "channels and in forward on tensors. gevo's vectors (n features) are\n"
                     "N x n x 1 x 1 tensors. Net normalises its input as gevo did in training.\n\n"
                     "The genome (gevo-net, see gevo-net(5)):\n\n");
    put_doc_text(o, G->src, G->len, "    ");
    strbuf_addstr(o, "\"\"\"\n"
                     "import os\n\n"
                     "import numpy as np\n"
                     "import torch\n"
                     "import torch.nn.functional as F\n"
                     "from torch import nn\n\n");
    strbuf_addf(o, "INPUT_SHAPE = (%d, %d, %d)  # channels, height, width of an image\n",
                g->input.c, g->input.h, g->input.w);
    strbuf_addf(o, "classes = %d  # the genome's classes\n", g->classes);
}

static void put_result(strbuf *o, const char *result)
{
    /* a few fields of gevo train's result; a note without them still
       exports */
    json_t *r = json_loads(result, 0, NULL);
    if (!json_is_object(r)) {
        json_decref(r);
        return;
    }
    strbuf line = STRBUF_INIT;
    const char *status = json_string_value(json_object_get(r, "status"));
    strbuf_addf(&line, "Its result%s%s%s:", status ? " (" : "", status ? status : "",
                status ? ")" : "");
    json_t *v;
    if (json_is_number(v = json_object_get(r, "val_acc")))
        strbuf_addf(&line, " validation accuracy %.4f", json_number_value(v));
    if (json_is_number(v = json_object_get(r, "test_acc")))
        strbuf_addf(&line, ", test accuracy %.4f", json_number_value(v));
    if (json_is_number(v = json_object_get(r, "images")))
        strbuf_addf(&line, "; trained on %.0f images", json_number_value(v));
    size_t epochs = json_array_size(json_object_get(r, "epochs"));
    if (epochs)
        strbuf_addf(&line, " in %zu epoch%s", epochs, epochs == 1 ? "" : "s");
    if (json_is_integer(v = json_object_get(r, "seed")))
        strbuf_addf(&line, ", seed %lld", (long long)json_integer_value(v));
    strbuf_addstr(&line, ".\n\n");
    json_decref(r);
    put_doc_text(o, line.buf, line.len, "");
    strbuf_release(&line);
}

static void scopes_free(gen *G)
{
    for (int i = 0; i < G->n_scopes; i++) {
        scope *s = &G->scopes[i];
        free(s->pnames);
        free(s->pdefs);
        free(s->pty);
        free(s->sty);
        free(s->stmt_live);
        free(s->param_live);
        for (size_t k = 0; k < s->n_names; k++)
            free(s->pynames[k]);
        free(s->gnames);
        free(s->pynames);
        for (size_t k = 0; k < s->n_sites; k++)
            free(s->sites[k].attr);
        free(s->sites);
    }
    free(G->scopes);
    free(G->live);
}

static int scopes_init(gen *G)
{
    const net_syntax *syn = G->syn;
    G->n_scopes = syn->n_defs + 1;
    G->scopes = gen_alloc(G, (size_t)G->n_scopes, sizeof *G->scopes);
    if (!G->scopes)
        return -1;
    for (int i = 0; i < G->n_scopes; i++) {
        scope *s = &G->scopes[i];
        const net_def *d = i ? &syn->defs[i - 1] : NULL;
        s->def = d;
        s->body = d ? d->body : syn->top;
        s->n_body = d ? d->n_body : syn->n_top;
        s->n_params = d ? d->n_params : 1;
        s->pnames = gen_alloc(G, (size_t)s->n_params, sizeof *s->pnames);
        s->pdefs = gen_alloc(G, (size_t)s->n_params, sizeof *s->pdefs);
        s->pty = gen_alloc(G, (size_t)s->n_params, sizeof *s->pty);
        s->param_live = gen_alloc(G, (size_t)s->n_params, sizeof *s->param_live);
        s->sty = gen_alloc(G, (size_t)s->n_body, sizeof *s->sty);
        s->stmt_live = gen_alloc(G, (size_t)s->n_body, sizeof *s->stmt_live);
        if (G->failed)
            return -1;
        for (int k = 0; k < s->n_params; k++) {
            s->pnames[k] = d ? d->params[k].name : syn->input_name;
            s->pdefs[k] = d ? d->params[k].def : NULL;
        }
    }
    G->scopes[0].pty[0] = TY_TENSOR;
    G->scopes[0].called = true;
    return 0;
}

int export_torch_generate(const net_syntax *syn, const net_graph *g, const char *src, size_t len,
                          const float *mean, const float *std, const export_torch_meta *meta,
                          export_torch_module *out, gerr *err)
{
    memset(out, 0, sizeof *out);
    gen G = {.syn = syn, .g = g, .src = src, .len = len};
    G.names = gen_alloc(&G, (size_t)g->n_nodes, sizeof *G.names);
    if (G.names && scopes_init(&G) == 0 && check_types(&G) == 0) {
        live_scope(&G, &G.scopes[0]);
        name_blocks(&G);
        for (int i = 0; i < G.n_scopes && !G.failed; i++) {
            scope *s = &G.scopes[i];
            if (!s->called)
                continue;
            for (int k = 0; k < s->n_params; k++)
                add_name(&G, s, s->pnames[k]);
            for (int j = 0; j < s->n_body; j++)
                if (s->body[j].target)
                    add_name(&G, s, s->body[j].target);
            live_scope(&G, s); /* blocks called only where nothing is used */
            if (s->ret == TY_TENSOR)
                for (int j = 0; j < s->n_body; j++)
                    if (s->stmt_live[j])
                        collect(&G, s, j, s->body[j].value);
            name_sites(&G, s);
        }
        strbuf prefix = STRBUF_INIT;
        G.next_node = 1;
        if (!G.failed)
            walk_scope(&G, &G.scopes[0], &prefix);
        strbuf_release(&prefix);
        if (!G.failed && G.next_node != g->n_nodes)
            gen_fail(&G, "internal error: the module has %d layers, the graph %d", G.next_node - 1,
                     g->n_nodes - 1);
    }
    strbuf o = STRBUF_INIT, body = STRBUF_INIT;
    if (!G.failed) {
        /* blocks in source order, the way the genome reads */
        net_block blocks[256];
        int nb = net_list_blocks(src, len, blocks, 256);
        for (int i = 1; i < G.n_scopes; i++) {
            scope *s = &G.scopes[i];
            if (!s->called)
                continue;
            const net_block *sb = NULL;
            for (int k = 0; k < nb; k++)
                if (!strcmp(blocks[k].name, s->def->name))
                    sb = &blocks[k];
            put_block(&G, s, sb, &body);
        }
        scope *top = &G.scopes[0];
        const char *x = py_name(top, syn->input_name);
        strbuf_addf(&body,
                    "\n\nclass Net(nn.Module):\n"
                    "    \"\"\"The genome's top level: float32 N x %d x %d x %d images in [0, 1] "
                    "->\n    N x %d logits.\"\"\"\n\n"
                    "    def __init__(self):\n"
                    "        super().__init__()\n"
                    "        # gevo's input normalisation, measured on its training split\n"
                    "        self.register_buffer(\"input_mean\", "
                    "torch.tensor(MEAN).view(1, -1, 1, 1))\n"
                    "        self.register_buffer(\"input_std\", "
                    "torch.tensor(STD).view(1, -1, 1, 1))\n"
                    "        %s = INPUT_SHAPE[0]\n",
                    g->input.c, g->input.h, g->input.w, g->classes, x);
        put_init_body(&G, top, "        ", true, &body);
        strbuf_addf(&body,
                    "\n    def forward(self, %s):\n        %s = (%s - self.input_mean) / "
                    "self.input_std\n",
                    x, x, x);
        put_forward_body(&G, top, "        ", &body);
        strbuf_addstr(&body,
                      "\n\ndef load(weights=None):\n"
                      "    \"\"\"Net with the trained weights, in eval mode. weights: an .npz of\n"
                      "    Net().state_dict(), by default weights.npz beside this file.\"\"\"\n"
                      "    if weights is None:\n"
                      "        weights = os.path.join(os.path.dirname(os.path.abspath(__file__)), "
                      "\"weights.npz\")\n"
                      "    net = Net()\n"
                      "    with np.load(weights) as w:\n"
                      "        net.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files})\n"
                      "    return net.eval()\n");
        put_header(&G, meta, &o);
        strbuf_addstr(&o, "MEAN = ");
        put_floats(&o, mean, g->input.c);
        strbuf_addstr(&o, "  # per input channel, in [0, 1] units\nSTD = ");
        put_floats(&o, std, g->input.c);
        strbuf_addch(&o, '\n');
        /* the helpers the network needs, in this order */
        static const struct {
            unsigned flag;
            const char *text;
        } helpers[] = {{H_GAP, helper_gap},
                       {H_FLATTEN, helper_flatten},
                       {H_PADDING, helper_padding},
                       {H_LINEAR, helper_linear},
                       {H_LAYERNORM, helper_layernorm},
                       {H_MINPOOL, helper_minpool}};
        for (size_t i = 0; i < sizeof helpers / sizeof *helpers; i++)
            if (G.helpers & helpers[i].flag)
                strbuf_addstr(&o, helpers[i].text);
        strbuf_add(&o, body.buf, body.len);
        if (o.failed || body.failed)
            gen_fail(&G, "out of memory");
    }
    strbuf_release(&body);
    scopes_free(&G);
    if (G.failed) {
        strbuf_release(&o);
        if (G.names)
            for (int i = 0; i < g->n_nodes; i++)
                free(G.names[i]);
        free(G.names);
        return gerr_set(err, "%s", G.msg);
    }
    out->py = strbuf_detach(&o, NULL);
    out->names = G.names;
    out->n_nodes = g->n_nodes;
    return 0;
}

void export_torch_module_release(export_torch_module *m)
{
    if (m->names)
        for (int i = 0; i < m->n_nodes; i++)
            free(m->names[i]);
    free(m->names);
    free(m->py);
    memset(m, 0, sizeof *m);
}
