/* gevo-net: the canonical form. Comments, blank lines, spacing and
 * line continuations are dropped, numbers are printed one way, train
 * settings are sorted; names are kept. Two programs with the same canonical
 * form train the same network, so its hash de-duplicates proposals. */
#include <stdlib.h>
#include <string.h>

#include "engine/base/strbuf.h"
#include "engine/net_ast.h"

static void put_number(strbuf *b, const expr *e)
{
    if (e->kind == EX_INT)
        strbuf_addf(b, "%ld", e->ival);
    else
        strbuf_addf(b, "%.9g", e->fval);
}

static int prec(const expr *e)
{
    if (e->kind != EX_BINOP)
        return 3;
    return (e->op == '+' || e->op == '-') ? 1 : 2;
}

static void put_expr(strbuf *b, const expr *e)
{
    switch (e->kind) {
    case EX_INT:
    case EX_FLOAT: put_number(b, e); break;
    case EX_NAME: /* True and true mean the same */
        strbuf_addstr(b, !strcmp(e->text, "True")    ? "true"
                         : !strcmp(e->text, "False") ? "false"
                                                     : e->text);
        break;
    case EX_STRING:
        strbuf_addstr(b, e->text); /* "same" and same mean the same */
        break;
    case EX_NEG:
        strbuf_addstr(b, "-");
        if (prec(e->lhs) < 3)
            strbuf_addstr(b, "(");
        put_expr(b, e->lhs);
        if (prec(e->lhs) < 3)
            strbuf_addstr(b, ")");
        break;
    case EX_CALL:
        strbuf_addstr(b, e->text);
        strbuf_addstr(b, "(");
        for (int i = 0; i < e->n_args; i++) {
            if (i)
                strbuf_addstr(b, ", ");
            if (e->args[i].name) {
                strbuf_addstr(b, e->args[i].name);
                strbuf_addstr(b, "=");
            }
            put_expr(b, e->args[i].value);
        }
        strbuf_addstr(b, ")");
        break;
    case EX_BINOP: {
        int p = prec(e);
        bool lp = prec(e->lhs) < p, rp = prec(e->rhs) <= p;
        if (lp)
            strbuf_addstr(b, "(");
        put_expr(b, e->lhs);
        if (lp)
            strbuf_addstr(b, ")");
        const char *op = e->op == '/'   ? " // "
                         : e->op == 'f' ? " / "
                         : e->op == '+' ? " + "
                         : e->op == '-' ? " - "
                         : e->op == '*' ? " * "
                                        : " % ";
        strbuf_addstr(b, op);
        if (rp)
            strbuf_addstr(b, "(");
        put_expr(b, e->rhs);
        if (rp)
            strbuf_addstr(b, ")");
        break;
    }
    }
}

static void put_stmt(strbuf *b, const stmt *s, const char *indent)
{
    strbuf_addstr(b, indent);
    if (s->kind == ST_RETURN)
        strbuf_addstr(b, "return ");
    else {
        strbuf_addstr(b, s->target);
        strbuf_addstr(b, " = ");
    }
    put_expr(b, s->value);
    strbuf_addstr(b, "\n");
}

static int cmp_kv(const void *a, const void *b)
{
    return strcmp((*(const train_kv *const *)a)->key, (*(const train_kv *const *)b)->key);
}

char *net_canonical_text(const program *p)
{
    strbuf b = STRBUF_INIT;
    strbuf_addf(&b, "input %s: %dx%dx%d\nclasses %d\n", p->input_name, p->input.c, p->input.h,
                p->input.w, p->classes);
    for (int i = 0; i < p->n_defs; i++) {
        const def_block *d = &p->defs[i];
        strbuf_addstr(&b, "def ");
        strbuf_addstr(&b, d->name);
        strbuf_addstr(&b, "(");
        for (int j = 0; j < d->n_params; j++) {
            if (j)
                strbuf_addstr(&b, ", ");
            strbuf_addstr(&b, d->params[j].name);
            if (d->params[j].def) {
                strbuf_addstr(&b, "=");
                put_expr(&b, d->params[j].def);
            }
        }
        strbuf_addstr(&b, "):\n");
        for (int j = 0; j < d->n_body; j++)
            put_stmt(&b, &d->body[j], "    ");
    }
    for (int i = 0; i < p->n_top; i++)
        put_stmt(&b, &p->top[i], "");
    if (p->n_train) {
        const train_kv **kv = malloc(sizeof *kv * (size_t)p->n_train);
        if (!kv) {
            strbuf_release(&b);
            return NULL;
        }
        for (int i = 0; i < p->n_train; i++)
            kv[i] = &p->train[i];
        qsort(kv, (size_t)p->n_train, sizeof *kv, cmp_kv);
        strbuf_addstr(&b, "train");
        for (int i = 0; i < p->n_train; i++) {
            strbuf_addstr(&b, " ");
            strbuf_addstr(&b, kv[i]->key);
            strbuf_addstr(&b, "=");
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
                    strbuf_addstr(&b, ",");
                if (t->kind == T_FLOAT || t->kind == T_INT) {
                    strbuf_addf(&b, t->kind == T_INT ? "%.0f" : "%.9g", t->fval);
                } else {
                    strbuf_addstr(&b, t->text);
                }
            }
        }
        strbuf_addstr(&b, "\n");
        free(kv);
    }
    if (b.failed) {
        strbuf_release(&b);
        return NULL;
    }
    return strbuf_detach(&b, NULL);
}
