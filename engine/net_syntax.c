/* gevo-net: the public, read-only copy of a compiled program's syntax tree
 * (net.h's net_syntax), for tools that translate programs. The compiler's
 * own tree lives in its arena and dies with the compilation, so the copy
 * owns its memory: every node and string is one allocation recorded in a
 * list that net_syntax_free walks. */
#include <stdlib.h>
#include <string.h>

#include "engine/base/grow.h"
#include "engine/net_ast.h"

typedef struct syntax_owner {
    net_syntax pub; /* first: a net_syntax * is a syntax_owner * */
    void **blocks;
    size_t n_blocks, alloc;
    bool oom;
} syntax_owner;

static void *own(syntax_owner *o, size_t n, size_t size)
{
    size_t bytes;
    if (o->oom || !size_mul(n ? n : 1, size, &bytes) ||
        ALLOC_GROW(o->blocks, o->n_blocks + 1, o->alloc)) {
        o->oom = true;
        return NULL;
    }
    void *p = calloc(1, bytes);
    if (!p) {
        o->oom = true;
        return NULL;
    }
    o->blocks[o->n_blocks++] = p;
    return p;
}

static const char *own_str(syntax_owner *o, const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s) + 1;
    char *d = own(o, n, 1);
    if (d)
        memcpy(d, s, n);
    return d;
}

static const char *op_text(char op)
{
    switch (op) {
    case '+': return "+";
    case '-': return "-";
    case '*': return "*";
    case 'f': return "/";  /* the compiler's true division */
    case '/': return "//"; /* and its floor division */
    default: return "%";
    }
}

static const net_expr *copy_expr(syntax_owner *o, const expr *e)
{
    if (!e)
        return NULL;
    net_expr *x = own(o, 1, sizeof *x);
    if (!x)
        return NULL;
    static const net_expr_kind kinds[] = {
        [EX_INT] = NET_EXPR_INT,       [EX_FLOAT] = NET_EXPR_FLOAT, [EX_NAME] = NET_EXPR_NAME,
        [EX_STRING] = NET_EXPR_STRING, [EX_CALL] = NET_EXPR_CALL,   [EX_BINOP] = NET_EXPR_BINOP,
        [EX_NEG] = NET_EXPR_NEG,
    };
    x->kind = kinds[e->kind];
    x->line = e->line;
    x->col = e->col;
    x->ival = e->ival;
    x->fval = e->kind == EX_INT ? (double)e->ival : e->fval;
    x->text = own_str(o, e->text);
    x->op = e->kind == EX_BINOP ? op_text(e->op) : NULL;
    x->lhs = copy_expr(o, e->lhs);
    x->rhs = copy_expr(o, e->rhs);
    if (e->kind == EX_CALL) {
        net_arg *a = own(o, (size_t)e->n_args, sizeof *a);
        for (int i = 0; a && i < e->n_args; i++) {
            a[i].name = own_str(o, e->args[i].name);
            a[i].value = copy_expr(o, e->args[i].value);
        }
        x->args = a;
        x->n_args = e->n_args;
    }
    return x;
}

static const net_stmt *copy_stmts(syntax_owner *o, const stmt *s, int n)
{
    net_stmt *v = own(o, (size_t)n, sizeof *v);
    for (int i = 0; v && i < n; i++) {
        v[i].target = s[i].kind == ST_ASSIGN ? own_str(o, s[i].target) : NULL;
        v[i].value = copy_expr(o, s[i].value);
        v[i].line = s[i].line;
    }
    return v;
}

net_syntax *net_syntax_copy(const program *p)
{
    syntax_owner *o = calloc(1, sizeof *o);
    if (!o)
        return NULL;
    net_syntax *s = &o->pub;
    s->input_name = own_str(o, p->input_name);
    s->classes = p->classes;
    net_def *defs = own(o, (size_t)p->n_defs, sizeof *defs);
    for (int i = 0; defs && i < p->n_defs; i++) {
        const def_block *d = &p->defs[i];
        defs[i].name = own_str(o, d->name);
        defs[i].line = d->line;
        net_param *pa = own(o, (size_t)d->n_params, sizeof *pa);
        for (int j = 0; pa && j < d->n_params; j++) {
            pa[j].name = own_str(o, d->params[j].name);
            pa[j].def = copy_expr(o, d->params[j].def);
        }
        defs[i].params = pa;
        defs[i].n_params = d->n_params;
        defs[i].body = copy_stmts(o, d->body, d->n_body);
        defs[i].n_body = d->n_body;
    }
    s->defs = defs;
    s->n_defs = p->n_defs;
    s->top = copy_stmts(o, p->top, p->n_top);
    s->n_top = p->n_top;
    if (o->oom) {
        net_syntax_free(s);
        return NULL;
    }
    return s;
}

void net_syntax_free(net_syntax *s)
{
    if (!s)
        return;
    syntax_owner *o = (syntax_owner *)s;
    for (size_t i = 0; i < o->n_blocks; i++)
        free(o->blocks[i]);
    free(o->blocks);
    free(o);
}
