/* gevo-net: the canonical form. Comments, blank lines, spacing and
 * line continuations are dropped, numbers are printed one way, train
 * settings are sorted; names are kept. Two programs with the same canonical
 * form train the same network, so its hash de-duplicates proposals. */
#include <stdlib.h>
#include <string.h>

#include "engine/net_ast.h"

typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;

static void put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 1024;
        while (nc < b->n + n + 1)
            nc *= 2;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = true;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void puts_(sbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

static void put_number(sbuf *b, const expr *e)
{
    char tmp[64];
    if (e->kind == EX_INT)
        snprintf(tmp, sizeof tmp, "%ld", e->ival);
    else
        snprintf(tmp, sizeof tmp, "%.9g", e->fval);
    puts_(b, tmp);
}

static int prec(const expr *e)
{
    if (e->kind != EX_BINOP)
        return 3;
    return (e->op == '+' || e->op == '-') ? 1 : 2;
}

static void put_expr(sbuf *b, const expr *e)
{
    switch (e->kind) {
    case EX_INT:
    case EX_FLOAT: put_number(b, e); break;
    case EX_NAME: /* True and true mean the same */
        puts_(b, !strcmp(e->text, "True") ? "true" : !strcmp(e->text, "False") ? "false" : e->text);
        break;
    case EX_STRING:
        puts_(b, e->text); /* "same" and same mean the same */
        break;
    case EX_NEG:
        puts_(b, "-");
        if (prec(e->lhs) < 3)
            puts_(b, "(");
        put_expr(b, e->lhs);
        if (prec(e->lhs) < 3)
            puts_(b, ")");
        break;
    case EX_CALL:
        puts_(b, e->text);
        puts_(b, "(");
        for (int i = 0; i < e->n_args; i++) {
            if (i)
                puts_(b, ", ");
            if (e->args[i].name) {
                puts_(b, e->args[i].name);
                puts_(b, "=");
            }
            put_expr(b, e->args[i].value);
        }
        puts_(b, ")");
        break;
    case EX_BINOP: {
        int p = prec(e);
        bool lp = prec(e->lhs) < p, rp = prec(e->rhs) <= p;
        if (lp)
            puts_(b, "(");
        put_expr(b, e->lhs);
        if (lp)
            puts_(b, ")");
        const char *op = e->op == '/'   ? " // "
                         : e->op == 'f' ? " / "
                         : e->op == '+' ? " + "
                         : e->op == '-' ? " - "
                         : e->op == '*' ? " * "
                                        : " % ";
        puts_(b, op);
        if (rp)
            puts_(b, "(");
        put_expr(b, e->rhs);
        if (rp)
            puts_(b, ")");
        break;
    }
    }
}

static void put_stmt(sbuf *b, const stmt *s, const char *indent)
{
    puts_(b, indent);
    if (s->kind == ST_RETURN)
        puts_(b, "return ");
    else {
        puts_(b, s->target);
        puts_(b, " = ");
    }
    put_expr(b, s->value);
    puts_(b, "\n");
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp((*(const train_kv *const *)a)->key, (*(const train_kv *const *)b)->key);
}

char *net_canonical_text(const program *p)
{
    sbuf b = {0};
    char tmp[128];
    snprintf(tmp, sizeof tmp, "input %s: %dx%dx%d\nclasses %d\n", p->input_name, p->input.c,
             p->input.h, p->input.w, p->classes);
    puts_(&b, tmp);
    for (int i = 0; i < p->n_defs; i++) {
        const def_block *d = &p->defs[i];
        puts_(&b, "def ");
        puts_(&b, d->name);
        puts_(&b, "(");
        for (int j = 0; j < d->n_params; j++) {
            if (j)
                puts_(&b, ", ");
            puts_(&b, d->params[j].name);
            if (d->params[j].def) {
                puts_(&b, "=");
                put_expr(&b, d->params[j].def);
            }
        }
        puts_(&b, "):\n");
        for (int j = 0; j < d->n_body; j++)
            put_stmt(&b, &d->body[j], "    ");
    }
    for (int i = 0; i < p->n_top; i++)
        put_stmt(&b, &p->top[i], "");
    if (p->n_train) {
        const train_kv **kv = malloc(sizeof *kv * (size_t)p->n_train);
        if (!kv) {
            free(b.s);
            return NULL;
        }
        for (int i = 0; i < p->n_train; i++)
            kv[i] = &p->train[i];
        qsort(kv, (size_t)p->n_train, sizeof *kv, cmp_kv);
        puts_(&b, "train");
        for (int i = 0; i < p->n_train; i++) {
            puts_(&b, " ");
            puts_(&b, kv[i]->key);
            puts_(&b, "=");
            /* list values are sets (augment=crop,flip == flip,crop) */
            const token *vals[16];
            int nv = kv[i]->n_values < 16 ? kv[i]->n_values : 16;
            for (int j = 0; j < nv; j++)
                vals[j] = &kv[i]->values[j];
            for (int j = 1; j < nv; j++)
                for (int k = j; k > 0 && vals[k - 1]->text && vals[k]->text &&
                                strcmp(vals[k - 1]->text, vals[k]->text) > 0;
                     k--) {
                    const token *sw = vals[k];
                    vals[k] = vals[k - 1];
                    vals[k - 1] = sw;
                }
            for (int j = 0; j < nv; j++) {
                const token *t = vals[j];
                if (j)
                    puts_(&b, ",");
                if (t->kind == T_FLOAT || t->kind == T_INT) {
                    snprintf(tmp, sizeof tmp, t->kind == T_INT ? "%.0f" : "%.9g", t->fval);
                    puts_(&b, tmp);
                } else {
                    puts_(&b, t->text);
                }
            }
        }
        puts_(&b, "\n");
        free(kv);
    }
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
