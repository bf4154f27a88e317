/* The offline proposer: random edits of a gevo-net program's text, kept
 * only when they compile and change the network (see mutate.h).
 *
 * A light scanner (not a parser: net_compile is the judge) finds the
 * places an edit can go: number arguments of calls, activation calls,
 * `+ name` and add(a, b) terms, calls of blocks, statements (to wrap an
 * expression in add(..., skip) or an SE call) and the train section's
 * settings. An edit is a few replacements of byte ranges. */
#include "core/mutate.h"

#include <ctype.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/proposal.h"
#include "engine/base/grow.h"
#include "engine/base/num.h"
#include "engine/base/rng.h"
#include "engine/base/strbuf.h"

/* ---- scanning ---------------------------------------------------------- */

/* Where a site or statement is: a block's index (>= 0) or one of these. */
enum gene_id {
    GENE_MAIN = -1,  /* the top-level statements (MUTATE_GENE_MAIN) */
    GENE_ANY = -2,   /* as a filter: every gene */
    GENE_TRAIN = -3, /* the train section (MUTATE_GENE_TRAIN) */
    GENE_NONE = -4   /* gene_index: no such gene */
};

enum site_kind {
    SITE_NUM,
    SITE_ACT,
    SITE_PLUS,
    SITE_CALL
};

typedef struct site {
    int kind;
    size_t at, len;     /* the token; PLUS: " + name"; CALL: name( ... ) */
    size_t a_at, a_len; /* CALL: the first argument */
    int nargs;          /* CALL */
    char call[64];      /* NUM: the enclosing call ("" = parentheses); CALL/ACT: the name */
    char kw[32];        /* NUM: its keyword, "" if positional */
    int argidx;         /* NUM: argument position */
    int call_id;        /* NUM: which call instance (siblings share it) */
    int gene;           /* block index or GENE_MAIN */
    bool is_float;
    bool in_header; /* inside a def line's parameter list */
} site;

enum stmt_kind {
    ST_OTHER,
    ST_RETURN,
    ST_ASSIGN,
    ST_DEF
};

typedef struct stmt {
    int kind;
    size_t start, end; /* first character, after the last code character */
    size_t expr;       /* RETURN, ASSIGN: where the expression starts */
    char lhs[64];
    int line;
    int gene;
} stmt;

typedef struct blockinfo {
    net_block b;
    size_t line_at;  /* offset of the def line (or the comments just above it) */
    size_t end_at;   /* offset after the last line's '\n' */
    char param0[64]; /* the first parameter (the input tensor) */
    bool one_liner;
    size_t body_at; /* start of the first body line */
    char indent[32];
    int last_return; /* stmt index, -1 */
    bool se_like;
} blockinfo;

typedef struct callframe {
    char name[64];
    int argidx, id;
    char kw[32];
    size_t at, a_at, a_end;
    bool header;
    bool a_end_set;
} callframe;

typedef struct scan {
    const char *src;
    size_t len;
    site *sites;
    int n_sites;
    size_t alloc_sites;
    stmt *stmts;
    int n_stmts;
    size_t alloc_stmts;
    blockinfo blocks[256];
    int n_blocks;
    bool has_train;
    size_t train_start, train_end; /* "train" ... after its last setting */
    size_t first_def_at;           /* where a new block goes */
    bool has_first_def;
} scan;

/* Activations come from the engine's operator table (engine/net_ops.h):
 * any NET_OPF_ACT operator may be replaced, by one of the NET_OPF_ACT_PICK
 * ones. */
static bool is_act(const char *name)
{
    return net_op_flags(net_op_lookup(name)) & NET_OPF_ACT;
}

/* The k-th operator an activation may become, in table order; k <
 * n_act_picks(). */
static int n_act_picks(void)
{
    int n = 0;
    for (int op = 0; op < NET_OP_COUNT; op++)
        n += (net_op_flags((net_op)op) & NET_OPF_ACT_PICK) == NET_OPF_ACT_PICK;
    return n;
}

static const char *act_pick(int k)
{
    for (int op = 0; op < NET_OP_COUNT; op++)
        if ((net_op_flags((net_op)op) & NET_OPF_ACT_PICK) == NET_OPF_ACT_PICK && k-- == 0)
            return net_op_name((net_op)op);
    return NULL;
}

static bool ident_start(char c)
{
    return isalpha((unsigned char)c) || c == '_';
}

static bool ident_char(char c)
{
    return isalnum((unsigned char)c) || c == '_';
}

static size_t skip_blank(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r'))
        i++;
    return i;
}

static int add_site(scan *sc, const site *s)
{
    if (ALLOC_GROW(sc->sites, (size_t)sc->n_sites + 1, sc->alloc_sites) != 0)
        return -1;
    sc->sites[sc->n_sites++] = *s;
    return 0;
}

static int add_stmt(scan *sc, const stmt *s)
{
    if (ALLOC_GROW(sc->stmts, (size_t)sc->n_stmts + 1, sc->alloc_stmts) != 0)
        return -1;
    sc->stmts[sc->n_stmts++] = *s;
    return 0;
}

static void scan_release(scan *sc)
{
    free(sc->sites);
    free(sc->stmts);
    memset(sc, 0, sizeof *sc);
}

static int gene_of_line(const scan *sc, int line)
{
    for (int i = 0; i < sc->n_blocks; i++)
        if (line >= sc->blocks[i].b.first_line && line <= sc->blocks[i].b.last_line)
            return i;
    return GENE_MAIN;
}

static void copy_word(char *dst, size_t size, const char *s, size_t n)
{
    if (n >= size)
        n = size - 1;
    memcpy(dst, s, n);
    dst[n] = '\0';
}

/* Offset of the start of 1-based line `line`, len if past the end. */
static size_t line_offset(const char *s, size_t len, int line)
{
    size_t i = 0;
    for (int l = 1; l < line && i < len; i++)
        if (s[i] == '\n')
            l++;
    return i;
}

static bool word_at(const char *s, size_t i, size_t len, const char *w)
{
    size_t n = strlen(w);
    return i + n <= len && !memcmp(s + i, w, n) && (i + n == len || !ident_char(s[i + n]));
}

/* The end of the train section that starts at `at`: its following
 * indented (or blank, or comment) lines belong to it. Returns the offset
 * after its last setting character; *next is where scanning resumes. */
static size_t train_extent(const char *s, size_t len, size_t at, size_t *next)
{
    size_t last = at + 5, i = at;
    for (;;) {
        /* the rest of this line, up to a comment */
        while (i < len && s[i] != '\n') {
            if (s[i] == '#') {
                while (i < len && s[i] != '\n')
                    i++;
                break;
            }
            if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
                last = i + 1;
            i++;
        }
        if (i >= len)
            break;
        size_t ls = i + 1, j = skip_blank(s, ls, len);
        bool blank = j >= len || s[j] == '\n' || s[j] == '#';
        if (!blank && j == ls) { /* a top-level line: the section is over */
            i = ls;
            break;
        }
        i = ls;
        if (blank && j >= len)
            break;
    }
    *next = i;
    return last;
}

static int scan_source(scan *sc, const char *src, size_t len)
{
    memset(sc, 0, sizeof *sc);
    sc->src = src;
    sc->len = len;
    net_block tmp[256];
    int nb = net_list_blocks(src, len, tmp, 256);
    if (nb < 0)
        return -1;
    sc->n_blocks = nb;
    for (int k = 0; k < nb; k++) {
        blockinfo *bi = &sc->blocks[k];
        memset(bi, 0, sizeof *bi);
        bi->b = tmp[k];
        bi->last_return = -1;
        size_t at = line_offset(src, len, bi->b.first_line);
        /* comment lines right above the def go with it */
        while (at > 0) {
            size_t p = at - 1, q = p;
            while (q > 0 && src[q - 1] != '\n')
                q--;
            size_t j = skip_blank(src, q, len);
            if (j < p && src[j] == '#')
                at = q;
            else
                break;
        }
        bi->line_at = at;
        bi->end_at = line_offset(src, len, bi->b.last_line + 1);
        size_t a = line_offset(src, len, bi->b.first_line);
        size_t e = bi->end_at;
        char *txt = malloc(e - a + 1);
        if (!txt)
            return -1;
        memcpy(txt, src + a, e - a);
        txt[e - a] = '\0';
        bi->se_like = strstr(txt, "gap(") && strstr(txt, "sigmoid(") &&
                      (strchr(txt, '*') || strstr(txt, "mul("));
        free(txt);
        if (k == 0 || at < sc->first_def_at)
            sc->first_def_at = at;
        sc->has_first_def = true;
    }

    callframe stack[128];
    int depth = 0, call_ids = 0, line = 1;
    bool in_stmt = false, prev_plus = false;
    size_t plus_at = 0, last_code = 0;
    stmt cur;
    memset(&cur, 0, sizeof cur);
    size_t i = 0;
    while (i < len) {
        char ch = src[i];
        if (ch == '\n') {
            if (in_stmt && depth == 0) {
                cur.end = last_code;
                if (add_stmt(sc, &cur))
                    return -1;
                in_stmt = false;
                prev_plus = false;
            }
            line++;
            i++;
            continue;
        }
        if (ch == '#') {
            while (i < len && src[i] != '\n')
                i++;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\r') {
            i++;
            continue;
        }
        if (!in_stmt) {
            bool col0 = i == 0 || src[i - 1] == '\n';
            if (col0 && (word_at(src, i, len, "input") || word_at(src, i, len, "classes"))) {
                while (i < len && src[i] != '\n')
                    i++;
                continue;
            }
            if (col0 && word_at(src, i, len, "train")) {
                size_t next;
                sc->has_train = true;
                sc->train_start = i;
                sc->train_end = train_extent(src, len, i, &next);
                for (size_t k = i; k < next; k++)
                    if (src[k] == '\n')
                        line++;
                i = next;
                continue;
            }
            memset(&cur, 0, sizeof cur);
            cur.start = i;
            cur.line = line;
            cur.gene = gene_of_line(sc, line);
            cur.kind = ST_OTHER;
            if (word_at(src, i, len, "def")) {
                cur.kind = ST_DEF;
            } else if (word_at(src, i, len, "return")) {
                cur.kind = ST_RETURN;
                cur.expr = skip_blank(src, i + 6, len);
            } else if (ident_start(ch)) {
                size_t j = i;
                while (j < len && ident_char(src[j]))
                    j++;
                size_t k = skip_blank(src, j, len);
                if (k < len && src[k] == '=' && (k + 1 >= len || src[k + 1] != '=')) {
                    cur.kind = ST_ASSIGN;
                    copy_word(cur.lhs, sizeof cur.lhs, src + i, j - i);
                    cur.expr = skip_blank(src, k + 1, len);
                }
            }
            in_stmt = true;
            prev_plus = false;
        }
        size_t end = 0; /* where a name or a number ends */
        if (ident_start(ch)) {
            size_t j = i;
            while (j < len && ident_char(src[j]))
                j++;
            char name[64];
            copy_word(name, sizeof name, src + i, j - i);
            size_t k = skip_blank(src, j, len);
            bool call = k < len && src[k] == '(';
            bool kw = !call && depth > 0 && k < len && src[k] == '=' &&
                      (k + 1 >= len || src[k + 1] != '=');
            if (kw) {
                copy_word(stack[depth - 1].kw, sizeof stack[depth - 1].kw, src + i, j - i);
            } else if (depth > 0 && stack[depth - 1].header && stack[depth - 1].argidx == 0) {
                int g = cur.gene;
                if (g >= 0 && !sc->blocks[g].param0[0])
                    copy_word(sc->blocks[g].param0, sizeof sc->blocks[g].param0, src + i, j - i);
            }
            if (call) {
                if (depth >= 128)
                    return -1;
                callframe *f = &stack[depth++];
                memset(f, 0, sizeof *f);
                snprintf(f->name, sizeof f->name, "%s", name);
                f->id = ++call_ids;
                f->at = i;
                f->header = cur.kind == ST_DEF && depth == 1;
                f->a_at = skip_blank(src, k + 1, len);
                if (is_act(name) && !f->header) {
                    site s = {.kind = SITE_ACT, .at = i, .len = j - i, .gene = cur.gene};
                    snprintf(s.call, sizeof s.call, "%s", name);
                    if (add_site(sc, &s))
                        return -1;
                }
                last_code = k + 1;
                i = k + 1;
                prev_plus = false;
                continue;
            }
            if (prev_plus && !kw) {
                /* "+ name" followed by the end of an argument or statement */
                size_t n = skip_blank(src, j, len);
                if (n >= len || src[n] == ')' || src[n] == ',' || src[n] == '\n' || src[n] == '#') {
                    site s = {
                        .kind = SITE_PLUS, .at = plus_at, .len = j - plus_at, .gene = cur.gene};
                    if (add_site(sc, &s))
                        return -1;
                }
            }
            end = j;
        } else if (isdigit((unsigned char)ch) ||
                   (ch == '.' && i + 1 < len && isdigit((unsigned char)src[i + 1]))) {
            size_t j = i;
            bool fl = false;
            while (j < len && isdigit((unsigned char)src[j]))
                j++;
            if (j < len && src[j] == '.') {
                fl = true;
                j++;
                while (j < len && isdigit((unsigned char)src[j]))
                    j++;
            }
            if (j < len && (src[j] == 'e' || src[j] == 'E')) {
                size_t k = j + 1;
                if (k < len && (src[k] == '+' || src[k] == '-'))
                    k++;
                if (k < len && isdigit((unsigned char)src[k])) {
                    fl = true;
                    j = k;
                    while (j < len && isdigit((unsigned char)src[j]))
                        j++;
                }
            }
            if (depth > 0 && !(j < len && ident_char(src[j]))) {
                callframe *f = &stack[depth - 1];
                site s = {.kind = SITE_NUM,
                          .at = i,
                          .len = j - i,
                          .argidx = f->argidx,
                          .call_id = f->id,
                          .gene = cur.gene,
                          .is_float = fl,
                          .in_header = f->header};
                snprintf(s.call, sizeof s.call, "%s", f->name);
                snprintf(s.kw, sizeof s.kw, "%s", f->kw);
                if (add_site(sc, &s))
                    return -1;
            }
            end = j;
        }
        if (end) {
            prev_plus = false;
            last_code = end;
            i = end;
            continue;
        }
        last_code = i + 1;
        if (ch == '(') {
            if (depth >= 128)
                return -1;
            callframe *f = &stack[depth++];
            memset(f, 0, sizeof *f);
            f->id = ++call_ids;
            f->at = i;
            f->a_at = skip_blank(src, i + 1, len);
        } else if (ch == ')') {
            if (depth > 0) {
                callframe *f = &stack[--depth];
                if (f->name[0] && !f->header) {
                    site s = {.kind = SITE_CALL,
                              .at = f->at,
                              .len = i + 1 - f->at,
                              .a_at = f->a_at,
                              .nargs = f->argidx + 1,
                              .gene = cur.gene};
                    size_t aend = f->a_end_set ? f->a_end : i;
                    while (aend > f->a_at && isspace((unsigned char)src[aend - 1]))
                        aend--;
                    s.a_len = aend - f->a_at;
                    snprintf(s.call, sizeof s.call, "%s", f->name);
                    if (add_site(sc, &s))
                        return -1;
                }
            }
        } else if (ch == ',') {
            if (depth > 0) {
                callframe *f = &stack[depth - 1];
                if (!f->a_end_set) {
                    f->a_end = i;
                    f->a_end_set = true;
                }
                f->argidx++;
                f->kw[0] = '\0';
            }
        } else if (ch == ':' && cur.kind == ST_DEF && depth == 0) {
            /* the header ends; a one-line body may follow on this line */
            cur.end = i + 1;
            if (add_stmt(sc, &cur))
                return -1;
            in_stmt = false;
        }
        if (ch == '+') {
            size_t p = i;
            while (p > 0 && (src[p - 1] == ' ' || src[p - 1] == '\t'))
                p--;
            plus_at = p;
            prev_plus = true;
        } else {
            prev_plus = false;
        }
        i++;
    }
    if (in_stmt) {
        cur.end = last_code;
        if (add_stmt(sc, &cur))
            return -1;
    }
    /* per block: its body's layout and last return */
    for (int s = 0; s < sc->n_stmts; s++) {
        stmt *st = &sc->stmts[s];
        if (st->gene < 0 || st->kind == ST_DEF)
            continue;
        blockinfo *bi = &sc->blocks[st->gene];
        if (!bi->body_at) {
            bi->one_liner = st->line == bi->b.first_line;
            size_t ls = st->start;
            while (ls > 0 && src[ls - 1] != '\n')
                ls--;
            bi->body_at = ls;
            if (!bi->one_liner)
                copy_word(bi->indent, sizeof bi->indent, src + ls, st->start - ls);
        }
        if (st->kind == ST_RETURN)
            bi->last_return = s;
    }
    return 0;
}

/* ---- edits ------------------------------------------------------------- */

typedef struct edit {
    size_t at, cut;
    char *ins;
} edit;

typedef struct editlist {
    edit e[8];
    int n;
} editlist;

static int ed_add(editlist *l, size_t at, size_t cut, const char *ins)
{
    if (l->n >= 8)
        return -1;
    char *d = strdup(ins);
    if (!d)
        return -1;
    l->e[l->n++] = (edit){at, cut, d};
    return 0;
}

static int ed_addn(editlist *l, size_t at, size_t cut, const char *ins, size_t n)
{
    char *d = malloc(n + 1);
    if (!d)
        return -1;
    memcpy(d, ins, n);
    d[n] = '\0';
    int rc = ed_add(l, at, cut, d);
    free(d);
    return rc;
}

static void ed_clear(editlist *l)
{
    for (int i = 0; i < l->n; i++)
        free(l->e[i].ins);
    l->n = 0;
}

static int cmp_edit(const void *a, const void *b)
{
    const edit *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at ? 1 : 0;
}

/* The source with the edits applied (they must not overlap); ends in '\n'. */
static char *ed_apply(const char *src, size_t len, editlist *l)
{
    if (l->n > 1)
        qsort(l->e, (size_t)l->n, sizeof l->e[0], cmp_edit);
    strbuf out = STRBUF_INIT;
    size_t pos = 0;
    for (int i = 0; i < l->n; i++) {
        const edit *e = &l->e[i];
        if (e->at < pos || e->at + e->cut > len) {
            strbuf_release(&out);
            return NULL;
        }
        strbuf_add(&out, src + pos, e->at - pos);
        strbuf_addstr(&out, e->ins);
        pos = e->at + e->cut;
    }
    strbuf_add(&out, src + pos, len - pos);
    if (out.len == 0 || out.buf[out.len - 1] != '\n')
        strbuf_addch(&out, '\n');
    return strbuf_detach(&out, NULL);
}

/* ---- drawing moves ----------------------------------------------------- */

typedef struct rnd {
    rng r;
} rnd;

static int below(rnd *r, int n)
{
    return n <= 0 ? 0 : (int)rng_below(&r->r, (uint64_t)n);
}

static double pickd(rnd *r, const double *v, int n)
{
    return v[below(r, n)];
}

static bool name_used(const char *src, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(src, name); p; p = strstr(p + 1, name)) {
        bool before = p == src || !ident_char(p[-1]);
        if (before && !ident_char(p[n]))
            return true;
    }
    return false;
}

static void fresh_name(const char *src, const char *base, char *out, size_t size)
{
    snprintf(out, size, "%s", base);
    for (int k = 2; name_used(src, out) && k < 1000; k++)
        snprintf(out, size, "%s%d", base, k);
}

static const char *gene_label(const scan *sc, int g)
{
    return g >= 0 ? sc->blocks[g].b.name : MUTATE_GENE_MAIN;
}

static void where(const scan *sc, int g, char *out, size_t size)
{
    if (g >= 0)
        snprintf(out, size, "in `%s`", sc->blocks[g].b.name);
    else
        snprintf(out, size, "at the top level");
}

enum move_kind {
    MV_WIDTH,
    MV_KERNEL,
    MV_STRIDE,
    MV_PARAM,
    MV_DROPOUT,
    MV_ACT,
    MV_RES_ADD,
    MV_RES_DEL,
    MV_SE_ADD,
    MV_SE_DEL,
    MV_TRAIN,
    MV_COUNT
};

static const char *const move_names[MV_COUNT] = {"width",   "kernel",     "stride",    "parameter",
                                                 "dropout", "activation", "residual+", "residual-",
                                                 "se+",     "se-",        "train"};
static const int move_weight[MV_COUNT] = {6, 4, 1, 1, 2, 4, 2, 2, 2, 1, 5};

typedef struct cands {
    int *v[MV_COUNT];
    int n[MV_COUNT];
    size_t alloc[MV_COUNT];
} cands;

static int cand_add(cands *c, int kind, int idx)
{
    if (ALLOC_GROW(c->v[kind], (size_t)c->n[kind] + 1, c->alloc[kind]) != 0)
        return -1;
    c->v[kind][c->n[kind]++] = idx;
    return 0;
}

static void cands_release(cands *c)
{
    for (int k = 0; k < MV_COUNT; k++)
        free(c->v[k]);
    memset(c, 0, sizeof *c);
}

static bool is_pool(const char *n)
{
    return !strcmp(n, "maxpool") || !strcmp(n, "avgpool") || !strcmp(n, "minpool");
}

static bool is_block(const scan *sc, const char *n)
{
    for (int i = 0; i < sc->n_blocks; i++)
        if (!strcmp(sc->blocks[i].b.name, n))
            return true;
    return false;
}

/* The expression text of a statement contains name( */
static bool expr_has(const scan *sc, const stmt *st, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = st->expr; i + n <= st->end; i++)
        if (!memcmp(sc->src + i, what, n))
            return true;
    return false;
}

static bool se_target_ok(const scan *sc, const stmt *st)
{
    return !expr_has(sc, st, "linear(") && !expr_has(sc, st, "gap(") &&
           !expr_has(sc, st, "flatten(") && st->end > st->expr;
}

/* want: a block, GENE_MAIN, GENE_TRAIN or GENE_ANY */
static int build_cands(const scan *sc, int want, cands *c)
{
    memset(c, 0, sizeof *c);
    bool code = want != GENE_TRAIN;
    for (int i = 0; code && i < sc->n_sites; i++) {
        const site *s = &sc->sites[i];
        if (want != GENE_ANY && s->gene != want)
            continue;
        int kind = -1;
        if (s->kind == SITE_NUM) {
            if (!strcmp(s->call, "dropout") && s->is_float &&
                (s->argidx == 1 || !strcmp(s->kw, "p")))
                kind = MV_DROPOUT;
            else if (s->is_float)
                kind = -1;
            else if (!s->kw[0] && s->argidx == 1 &&
                     (!strcmp(s->call, "conv") || !strcmp(s->call, "linear") ||
                      (is_block(sc, s->call) && !s->in_header)))
                kind = MV_WIDTH;
            else if ((!strcmp(s->kw, "k") && !s->in_header) ||
                     (is_pool(s->call) && !s->kw[0] && s->argidx == 1))
                kind = MV_KERNEL;
            else if (!strcmp(s->kw, "stride"))
                kind = MV_STRIDE;
            else if (s->kw[0] && strcmp(s->kw, "padding") && strcmp(s->kw, "groups") &&
                     strcmp(s->kw, "dilation"))
                kind = MV_PARAM; /* expand=, r=, block keyword numbers */
        } else if (s->kind == SITE_ACT) {
            kind = MV_ACT;
        } else if (s->kind == SITE_PLUS) {
            kind = MV_RES_DEL;
        } else if (s->kind == SITE_CALL) {
            if (!strcmp(s->call, "add") && s->nargs == 2)
                kind = MV_RES_DEL;
            else if (s->nargs >= 1)
                for (int b = 0; b < sc->n_blocks; b++)
                    if (sc->blocks[b].se_like && !strcmp(sc->blocks[b].b.name, s->call))
                        kind = MV_SE_DEL;
        }
        if (kind >= 0 && cand_add(c, kind, i))
            return -1;
    }
    for (int i = 0; code && i < sc->n_stmts; i++) {
        const stmt *st = &sc->stmts[i];
        if (want != GENE_ANY && st->gene != want)
            continue;
        if (st->gene >= 0) {
            const blockinfo *bi = &sc->blocks[st->gene];
            if (st->kind == ST_RETURN && bi->last_return == i && bi->param0[0]) {
                if (cand_add(c, MV_RES_ADD, i))
                    return -1;
                if (!bi->se_like && se_target_ok(sc, st) && cand_add(c, MV_SE_ADD, i))
                    return -1;
            }
        } else if (st->kind == ST_ASSIGN) {
            if (cand_add(c, MV_RES_ADD, i))
                return -1;
            if (se_target_ok(sc, st) && cand_add(c, MV_SE_ADD, i))
                return -1;
        }
    }
    if (want == GENE_ANY || want == GENE_TRAIN)
        for (int k = 0; k < 6; k++)
            if (cand_add(c, MV_TRAIN, k))
                return -1;
    return 0;
}

/* A number's value; 0 for what is not one (an optimizer's name). The
 * program compiled, so its numbers are in range. */
static double token_number(const char *s)
{
    double v = 0;
    num_double(s, -DBL_MAX, DBL_MAX, &v, "number", NULL);
    return v;
}

static long num_value(const scan *sc, const site *s)
{
    char buf[40];
    long v = 0;
    copy_word(buf, sizeof buf, sc->src + s->at, s->len);
    num_long(buf, LONG_MIN, LONG_MAX, &v, "number", NULL);
    return v;
}

static double fnum_value(const scan *sc, const site *s)
{
    char buf[40];
    copy_word(buf, sizeof buf, sc->src + s->at, s->len);
    return token_number(buf);
}

static long scaled(rnd *r, long old)
{
    static const double f[] = {0.5, 0.75, 1.25, 1.5, 2.0};
    double x = pickd(r, f, 5);
    long v = lround((double)old * x);
    if (old >= 8)
        v = (v + 2) / 4 * 4;
    if (v < 1)
        v = 1;
    if (v == old)
        v = x > 1 ? old + (old >= 8 ? 4 : 1) : old - (old >= 8 ? 4 : 1);
    if (v < 1)
        v = old + 1;
    return v;
}

/* ---- the moves ---------------------------------------------------------- */

typedef struct train_key {
    const char *key;
    const char *dflt;
} train_key;

// clang-format off
static const train_key train_keys[6] = {
    {"lr", "0.05"},          {"weight_decay", "1e-4"}, {"label_smoothing", "0"},
    {"augment", "none"},     {"optimizer", "sgd"},     {"momentum", "0.9"},
};
// clang-format on

/* Finds key=value in the train section: *vat, *vlen (the value). */
static bool train_find(const scan *sc, const char *key, size_t *vat, size_t *vlen)
{
    if (!sc->has_train)
        return false;
    size_t n = strlen(key);
    const char *s = sc->src;
    for (size_t i = sc->train_start + 5; i + n < sc->train_end; i++) {
        if (s[i] == '#') {
            while (i < sc->train_end && s[i] != '\n')
                i++;
            continue;
        }
        bool before = s[i - 1] == ' ' || s[i - 1] == '\t' || s[i - 1] == ',' || s[i - 1] == '\n';
        if (!before || memcmp(s + i, key, n) || s[i + n] != '=')
            continue;
        size_t a = i + n + 1, e = a;
        while (e < sc->train_end && !isspace((unsigned char)s[e]) && s[e] != '#') {
            if (s[e] == ',' && strcmp(key, "augment"))
                break;
            if (s[e] == ',') { /* augment's list ends where a key= follows */
                size_t k = e + 1;
                while (k < sc->train_end && ident_char(s[k]))
                    k++;
                if (k < sc->train_end && s[k] == '=')
                    break;
            }
            e++;
        }
        *vat = a;
        *vlen = e - a;
        return true;
    }
    return false;
}

static int mv_train(const scan *sc, rnd *r, int which, editlist *ed, char *why, size_t wsz)
{
    const train_key *tk = &train_keys[which];
    size_t vat = 0, vlen = 0;
    bool have = train_find(sc, tk->key, &vat, &vlen);
    char old[64], nv[64];
    if (have)
        copy_word(old, sizeof old, sc->src + vat, vlen);
    else
        snprintf(old, sizeof old, "%s", tk->dflt);
    double ov = token_number(old);
    const char *extra_key = NULL;
    char extra_val[32] = "";
    switch (which) {
    case 0: {
        static const double f[] = {0.3, 0.5, 2.0, 3.0};
        snprintf(nv, sizeof nv, "%.3g", ov > 0 ? ov * pickd(r, f, 4) : 0.05);
        break;
    }
    case 1: {
        static const double f[] = {0.1, 0.3, 3.0, 10.0};
        snprintf(nv, sizeof nv, "%.3g", ov > 0 ? ov * pickd(r, f, 4) : 1e-4);
        break;
    }
    case 2: {
        static const char *const v[] = {"0", "0.05", "0.1", "0.2"};
        snprintf(nv, sizeof nv, "%s", v[below(r, 4)]);
        break;
    }
    case 3: {
        static const char *const v[] = {"none", "flip", "crop", "flip,crop"};
        snprintf(nv, sizeof nv, "%s", v[below(r, 4)]);
        break;
    }
    case 4:
        /* a new optimizer gets a learning rate in its usual range */
        snprintf(nv, sizeof nv, "%s", strcmp(old, "adamw") ? "adamw" : "sgd");
        extra_key = "lr";
        snprintf(extra_val, sizeof extra_val, "%s", strcmp(old, "adamw") ? "0.002" : "0.05");
        break;
    default: {
        static const char *const v[] = {"0.8", "0.9", "0.95"};
        snprintf(nv, sizeof nv, "%s", v[below(r, 3)]);
        break;
    }
    }
    if (!strcmp(nv, old) || (which != 3 && which != 4 && token_number(nv) == ov))
        return 1;
    char ins[128];
    if (have) {
        if (ed_add(ed, vat, vlen, nv))
            return -1;
    } else if (sc->has_train) {
        snprintf(ins, sizeof ins, " %s=%s", tk->key, nv);
        if (ed_add(ed, sc->train_end, 0, ins))
            return -1;
    } else {
        const char *nl = sc->len && sc->src[sc->len - 1] != '\n' ? "\n" : "";
        snprintf(ins, sizeof ins, "%s\ntrain %s=%s%s%s%s\n", nl, tk->key, nv, extra_key ? " " : "",
                 extra_key ? extra_key : "", extra_key ? "=" : "");
        if (extra_key) {
            size_t l = strlen(ins) - 1;
            snprintf(ins + l, sizeof ins - l, "%s\n", extra_val);
        }
        if (ed_add(ed, sc->len, 0, ins))
            return -1;
        extra_key = NULL; /* written above */
        snprintf(why, wsz, "train: %s %s -> %s (a train section added)", tk->key, old, nv);
        return 0;
    }
    if (extra_key) {
        size_t eat, elen;
        if (train_find(sc, extra_key, &eat, &elen)) {
            if (ed_add(ed, eat, elen, extra_val))
                return -1;
        } else {
            snprintf(ins, sizeof ins, " %s=%s", extra_key, extra_val);
            if (ed_add(ed, sc->train_end, 0, ins))
                return -1;
        }
        snprintf(why, wsz, "train: optimizer %s -> %s with lr=%s", old, nv, extra_val);
        return 0;
    }
    snprintf(why, wsz, "train: %s %s -> %s", tk->key, old, nv);
    return 0;
}

static const char se_fc[] = "# squeeze-excitation, added by a random mutation\n"
                            "def %s(x, r=4):\n"
                            "    s = gap(x)\n"
                            "    s = relu(linear(s, channels(x) // r))\n"
                            "    s = sigmoid(linear(s, channels(x)))\n"
                            "    return x * s\n\n";
static const char se_ln[] = "# squeeze-excitation with a layer norm, added by a random mutation\n"
                            "def %s(x):\n"
                            "    s = sigmoid(layernorm(gap(x)))\n"
                            "    return x * s\n\n";

/* Draws one move of kind k on candidate idx. Returns 0 with edits and a
 * description, 1 when the draw gave nothing new (try again), -1 on OOM. */
static int draw(const scan *sc, rnd *r, int k, int idx, editlist *ed, int *gene, char *why,
                size_t wsz)
{
    const char *src = sc->src;
    char loc[96], buf[640];
    if (k == MV_TRAIN) {
        *gene = GENE_TRAIN;
        return mv_train(sc, r, idx, ed, why, wsz);
    }
    if (k == MV_RES_ADD || k == MV_SE_ADD) {
        const stmt *st = &sc->stmts[idx];
        *gene = st->gene;
        where(sc, st->gene, loc, sizeof loc);
        if (k == MV_RES_ADD) {
            if (st->gene >= 0) {
                const blockinfo *bi = &sc->blocks[st->gene];
                char skip[64];
                if (bi->one_liner) {
                    snprintf(skip, sizeof skip, "%s", bi->param0);
                } else {
                    fresh_name(src, "skip", skip, sizeof skip);
                    snprintf(buf, sizeof buf, "%s%s = %s\n", bi->indent, skip, bi->param0);
                    if (ed_add(ed, bi->body_at, 0, buf))
                        return -1;
                }
                snprintf(buf, sizeof buf, ", %s)", skip);
                if (ed_add(ed, st->expr, 0, "add(") || ed_add(ed, st->end, 0, buf))
                    return -1;
                snprintf(why, wsz, "residual connection added around the body of `%s`", bi->b.name);
            } else {
                snprintf(buf, sizeof buf, ", %s)", st->lhs);
                if (ed_add(ed, st->expr, 0, "add(") || ed_add(ed, st->end, 0, buf))
                    return -1;
                snprintf(why, wsz, "residual connection added to `%s = ...` (line %d)", st->lhs,
                         st->line);
            }
            return 0;
        }
        char name[64];
        bool fc = below(r, 2) == 0;
        fresh_name(src, fc ? "se_gevo" : "se_ln_gevo", name, sizeof name);
        snprintf(buf, sizeof buf, fc ? se_fc : se_ln, name);
        size_t at = sc->has_first_def ? sc->first_def_at
                    : sc->has_train   ? sc->train_start
                                      : sc->len;
        if (at == sc->len && sc->len && src[sc->len - 1] != '\n') {
            char b2[660];
            snprintf(b2, sizeof b2, "\n%s", buf);
            if (ed_add(ed, at, 0, b2))
                return -1;
        } else if (ed_add(ed, at, 0, buf)) {
            return -1;
        }
        char call[80];
        snprintf(call, sizeof call, "%s(", name);
        if (ed_add(ed, st->expr, 0, call) || ed_add(ed, st->end, 0, ")"))
            return -1;
        snprintf(why, wsz, "squeeze-excitation (%s) added %s, line %d",
                 fc ? "bottleneck r=4" : "layer norm", loc, st->line);
        return 0;
    }
    const site *s = &sc->sites[idx];
    *gene = s->gene;
    where(sc, s->gene, loc, sizeof loc);
    char nv[64];
    switch (k) {
    case MV_WIDTH: {
        long old = num_value(sc, s), v = scaled(r, old);
        snprintf(nv, sizeof nv, "%ld", v);
        if (ed_add(ed, s->at, s->len, nv))
            return -1;
        snprintf(why, wsz, "%s %s %ld -> %ld %s", s->call,
                 is_block(sc, s->call) ? "argument" : "width", old, v, loc);
        return 0;
    }
    case MV_KERNEL: {
        long old = num_value(sc, s), v;
        if (is_pool(s->call)) {
            static const long p[] = {2, 3};
            v = p[below(r, 2)];
        } else {
            static const long kk[] = {1, 3, 5, 7};
            v = kk[below(r, 4)];
        }
        if (v == old)
            return 1;
        snprintf(nv, sizeof nv, "%ld", v);
        if (ed_add(ed, s->at, s->len, nv))
            return -1;
        /* keep the size: padding=(k-1)/2 follows the kernel */
        for (int i = 0; i < sc->n_sites; i++) {
            const site *p = &sc->sites[i];
            if (p->kind == SITE_NUM && p->call_id == s->call_id && !strcmp(p->kw, "padding") &&
                num_value(sc, p) == (old - 1) / 2) {
                snprintf(nv, sizeof nv, "%ld", (v - 1) / 2);
                if (ed_add(ed, p->at, p->len, nv))
                    return -1;
            }
        }
        snprintf(why, wsz, "%s %s %ld -> %ld %s", s->call, is_pool(s->call) ? "size" : "kernel",
                 old, v, loc);
        return 0;
    }
    case MV_STRIDE: {
        long old = num_value(sc, s), v = old == 1 ? 2 : 1;
        snprintf(nv, sizeof nv, "%ld", v);
        if (ed_add(ed, s->at, s->len, nv))
            return -1;
        snprintf(why, wsz, "%s stride %ld -> %ld %s", s->call, old, v, loc);
        return 0;
    }
    case MV_PARAM: {
        long old = num_value(sc, s), v = below(r, 2) ? old * 2 : old / 2;
        if (v < 1 || v == old)
            v = old + 1;
        snprintf(nv, sizeof nv, "%ld", v);
        if (ed_add(ed, s->at, s->len, nv))
            return -1;
        snprintf(why, wsz, "%s %s=%ld -> %ld %s", s->in_header ? "default of" : s->call, s->kw, old,
                 v, loc);
        return 0;
    }
    case MV_DROPOUT: {
        static const char *const p[] = {"0.1", "0.2", "0.3", "0.4", "0.5"};
        double old = fnum_value(sc, s);
        const char *v = p[below(r, 5)];
        if (token_number(v) == old)
            return 1;
        if (ed_add(ed, s->at, s->len, v))
            return -1;
        snprintf(why, wsz, "dropout %g -> %s %s", old, v, loc);
        return 0;
    }
    case MV_ACT: {
        const char *v = act_pick(below(r, n_act_picks()));
        if (!strcmp(v, s->call))
            return 1;
        if (ed_add(ed, s->at, s->len, v))
            return -1;
        snprintf(why, wsz, "activation %s -> %s %s", s->call, v, loc);
        return 0;
    }
    case MV_RES_DEL:
        if (s->kind == SITE_PLUS) {
            if (ed_add(ed, s->at, s->len, ""))
                return -1;
            char term[64];
            size_t a = s->at;
            while (a < s->at + s->len && (src[a] == ' ' || src[a] == '+'))
                a++;
            copy_word(term, sizeof term, src + a, s->at + s->len - a);
            snprintf(why, wsz, "residual `+ %s` removed %s", term, loc);
        } else {
            if (ed_addn(ed, s->at, s->len, src + s->a_at, s->a_len))
                return -1;
            snprintf(why, wsz, "residual add(...) reduced to its first term %s", loc);
        }
        return 0;
    case MV_SE_DEL: {
        if (ed_addn(ed, s->at, s->len, src + s->a_at, s->a_len))
            return -1;
        int calls = 0, b = -1;
        for (int i = 0; i < sc->n_sites; i++)
            if (sc->sites[i].kind == SITE_CALL && !strcmp(sc->sites[i].call, s->call))
                calls++;
        for (int i = 0; i < sc->n_blocks; i++)
            if (!strcmp(sc->blocks[i].b.name, s->call))
                b = i;
        bool gone = calls == 1 && b >= 0;
        /* the last call gone: the block goes too (an uncalled block is an error) */
        if (gone && (s->at < sc->blocks[b].line_at || s->at >= sc->blocks[b].end_at)) {
            const blockinfo *bi = &sc->blocks[b];
            size_t end = bi->end_at;
            /* one blank line after it goes with it */
            size_t j = skip_blank(src, end, sc->len);
            if (j < sc->len && src[j] == '\n')
                end = j + 1;
            if (ed_add(ed, bi->line_at, end - bi->line_at, ""))
                return -1;
        }
        snprintf(why, wsz, "squeeze-excitation `%s` removed %s%s", s->call, loc,
                 gone ? " (and its block)" : "");
        return 0;
    }
    default: return 1;
    }
}

/* ---- public ------------------------------------------------------------- */

void mutate_result_release(mutate_result *r)
{
    if (!r)
        return;
    free(r->source);
    r->source = NULL;
}

/* Compiles src (and, with mem, checks its training's memory). */
static int compile_hash(const char *src, const net_limits *lim, const memlimit *mem, uint64_t *hash,
                        long *params, double *flops, gerr *err)
{
    net_graph *g = NULL;
    net_error e;
    memset(&e, 0, sizeof e);
    if (net_compile(src, strlen(src), "mutation", lim, &g, &e)) {
        char line[GERR_MSG_MAX];
        net_error_string(&e, line, sizeof line);
        return gerr_set(err, "%s", line);
    }
    if (memlimit_check(mem, g, err)) {
        net_graph_free(g);
        return -1;
    }
    *hash = g->hash;
    if (params)
        *params = g->params;
    if (flops)
        *flops = g->flops;
    net_graph_free(g);
    return 0;
}

static int gene_index(const scan *sc, const char *gene, gerr *err)
{
    if (!gene || !gene[0])
        return GENE_ANY;
    if (!strcmp(gene, MUTATE_GENE_MAIN))
        return GENE_MAIN;
    if (!strcmp(gene, MUTATE_GENE_TRAIN))
        return GENE_TRAIN;
    for (int i = 0; i < sc->n_blocks; i++)
        if (!strcmp(sc->blocks[i].b.name, gene))
            return i;
    char names[512] = "";
    size_t o = 0;
    for (int i = 0; i < sc->n_blocks && o < sizeof names - 70; i++)
        o += (size_t)snprintf(names + o, sizeof names - o, "%s, ", sc->blocks[i].b.name);
    gerr_set(err, "no gene `%s` in the program (genes: %s%s, %s)", gene, names, MUTATE_GENE_MAIN,
             MUTATE_GENE_TRAIN);
    return GENE_NONE;
}

int mutate_random(const char *parent, const char *gene, uint64_t seed, const net_limits *lim,
                  const memlimit *mem, mutate_result *out, gerr *err)
{
    memset(out, 0, sizeof *out);
    if (!parent) {
        gerr_set(err, "mutation: no parent program");
        return -1;
    }
    uint64_t ph;
    gerr ce = GERR_INIT;
    if (compile_hash(parent, lim, NULL, &ph, NULL, NULL, &ce)) {
        gerr_set(err, "mutation: the parent does not compile: %s", ce.msg);
        return -1;
    }
    scan sc;
    cands c;
    memset(&c, 0, sizeof c);
    int rc = -1;
    if (scan_source(&sc, parent, strlen(parent))) {
        gerr_set(err, "mutation: out of memory (or a program nested too deeply to scan)");
        scan_release(&sc);
        return -1;
    }
    int want = gene_index(&sc, gene, err);
    if (want == GENE_NONE)
        goto done;
    if (build_cands(&sc, want, &c)) {
        gerr_set(err, "mutation: out of memory");
        goto done;
    }
    int total = 0;
    for (int k = 0; k < MV_COUNT; k++)
        if (c.n[k])
            total += move_weight[k];
    if (!total) {
        gerr_set(err, "mutation: nothing in gene `%s` can be mutated", gene ? gene : "");
        goto done;
    }
    rnd r;
    rng_seed(&r.r, seed ^ 0x6d7574617465ULL);
    char last[900] = "every edit drawn left the network unchanged";
    for (int t = 1; t <= MUTATE_MAX_TRIES; t++) {
        int x = below(&r, total), k = 0;
        for (; k < MV_COUNT; k++) {
            if (!c.n[k])
                continue;
            if (x < move_weight[k])
                break;
            x -= move_weight[k];
        }
        int idx = c.v[k][below(&r, c.n[k])];
        editlist ed = {.n = 0};
        char why[256] = "";
        int g = GENE_ANY;
        int d = draw(&sc, &r, k, idx, &ed, &g, why, sizeof why);
        if (d < 0) {
            ed_clear(&ed);
            gerr_set(err, "mutation: out of memory");
            goto done;
        }
        if (d > 0) {
            ed_clear(&ed);
            continue;
        }
        char *src = ed_apply(parent, sc.len, &ed);
        ed_clear(&ed);
        if (!src)
            continue;
        uint64_t h;
        long params;
        double flops;
        if (compile_hash(src, lim, mem, &h, &params, &flops, &ce)) {
            snprintf(last, sizeof last, "%s: %s", why, ce.msg);
            free(src);
            continue;
        }
        if (h == ph) {
            free(src);
            continue;
        }
        out->source = src;
        snprintf(out->rationale, sizeof out->rationale, MUTATE_LABEL ": %s", why);
        snprintf(out->gene, sizeof out->gene, "%s",
                 g == GENE_TRAIN ? MUTATE_GENE_TRAIN : gene_label(&sc, g));
        snprintf(out->kind, sizeof out->kind, "%s", move_names[k]);
        out->params = params;
        out->flops = flops;
        out->hash = h;
        out->tries = t;
        rc = 0;
        goto done;
    }
    gerr_set(err, "mutation: no valid edit found in %d tries (last: %s)", MUTATE_MAX_TRIES, last);
done:
    cands_release(&c);
    scan_release(&sc);
    return rc;
}

/* The text of lines [first, last] of src (malloc'd). */
static char *lines_text(const char *src, size_t len, int first, int last)
{
    size_t a = line_offset(src, len, first), e = line_offset(src, len, last + 1);
    char *t = malloc(e - a + 1);
    if (!t)
        return NULL;
    memcpy(t, src + a, e - a);
    t[e - a] = '\0';
    return t;
}

static bool uses_word(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = strstr(text, name); p; p = strstr(p + 1, name))
        if ((p == text || !ident_char(p[-1])) && !ident_char(p[n]))
            return true;
    return false;
}

char *mutate_gene_with_helpers(const char *src, const char *gene, const char *other)
{
    net_block bs[256], bo[256];
    size_t ls = strlen(src);
    int ns = net_list_blocks(src, ls, bs, 256);
    int no = other ? net_list_blocks(other, strlen(other), bo, 256) : 0;
    if (ns < 0)
        return NULL;
    int gi = -1;
    for (int i = 0; i < ns; i++)
        if (!strcmp(bs[i].name, gene))
            gi = i;
    if (gi < 0)
        return NULL;
    char *texts[256] = {NULL};
    bool need[256] = {false}, changed = true;
    need[gi] = true;
    int rc = 0;
    for (int i = 0; i < ns && !rc; i++)
        if (!(texts[i] = lines_text(src, ls, bs[i].first_line, bs[i].last_line)))
            rc = -1;
    while (changed && !rc) { /* helpers of helpers, until nothing new */
        changed = false;
        for (int i = 0; i < ns; i++) {
            if (need[i])
                continue;
            bool in_other = false;
            for (int j = 0; j < no; j++)
                if (!strcmp(bo[j].name, bs[i].name))
                    in_other = true;
            if (in_other)
                continue;
            for (int k = 0; k < ns && !need[i]; k++)
                if (need[k] && uses_word(texts[k], bs[i].name))
                    need[i] = changed = true;
        }
    }
    char *out = NULL;
    if (!rc) {
        strbuf sb = STRBUF_INIT;
        for (int i = 0; i < ns; i++)
            if (need[i] && i != gi)
                strbuf_addf(&sb, "%s\n", texts[i]);
        strbuf_addstr(&sb, texts[gi]);
        out = strbuf_detach(&sb, NULL);
    }
    for (int i = 0; i < ns; i++)
        free(texts[i]);
    return out;
}

static char *swap_train(const char *a, const char *b)
{
    scan sa, sb;
    char *out = NULL;
    if (scan_source(&sa, a, strlen(a)) == 0 && scan_source(&sb, b, strlen(b)) == 0 &&
        sb.has_train) {
        editlist ed = {.n = 0};
        const char *bt = b + sb.train_start;
        size_t bl = sb.train_end - sb.train_start;
        int rc = sa.has_train ? ed_addn(&ed, sa.train_start, sa.train_end - sa.train_start, bt, bl)
                              : ed_addn(&ed, sa.len, 0, bt, bl);
        if (rc == 0)
            out = ed_apply(a, sa.len, &ed);
        ed_clear(&ed);
    }
    scan_release(&sa);
    scan_release(&sb);
    return out;
}

int mutate_crossover(const char *a, const char *b, const char *b_name, const char *gene,
                     uint64_t seed, const net_limits *lim, const memlimit *mem, mutate_result *out,
                     gerr *err)
{
    memset(out, 0, sizeof *out);
    uint64_t ha, hb;
    gerr ce = GERR_INIT;
    if (!a || !b) {
        gerr_set(err, "crossover: two parent programs are needed");
        return -1;
    }
    if (compile_hash(a, lim, NULL, &ha, NULL, NULL, &ce) ||
        compile_hash(b, lim, NULL, &hb, NULL, NULL, &ce)) {
        gerr_set(err, "crossover: a parent does not compile: %s", ce.msg);
        return -1;
    }
    net_block ba[256], bb[256];
    size_t la = strlen(a), lb = strlen(b);
    int na = net_list_blocks(a, la, ba, 256), nb = net_list_blocks(b, lb, bb, 256);
    if (na < 0 || nb < 0) {
        gerr_set(err, "crossover: a parent is too large to scan");
        return -1;
    }
    /* candidates: genes of a that b has too (by name), and the train section */
    char names[257][64];
    int n = 0;
    for (int i = 0; i < na; i++)
        for (int j = 0; j < nb; j++)
            if (!strcmp(ba[i].name, bb[j].name))
                copy_word(names[n++], 64, ba[i].name, strlen(ba[i].name));
    snprintf(names[n++], 64, "%s", MUTATE_GENE_TRAIN);
    if (gene && gene[0]) {
        bool found = false;
        for (int i = 0; i < n; i++)
            if (!strcmp(names[i], gene))
                found = true;
        if (!found) {
            gerr_set(err, "crossover: gene `%s` is not in both parents", gene);
            return -1;
        }
        copy_word(names[0], 64, gene, strlen(gene));
        n = 1;
    }
    rng r;
    rng_seed(&r, seed ^ 0x63726f7373ULL);
    for (int i = n - 1; i > 0; i--) { /* shuffle: a random gene first */
        int j = (int)rng_below(&r, (uint64_t)i + 1);
        char t[64];
        memcpy(t, names[i], 64);
        memcpy(names[i], names[j], 64);
        memcpy(names[j], t, 64);
    }
    gerr_set(&ce, "the parents' genes are the same");
    for (int i = 0; i < n; i++) {
        char *src = NULL;
        if (!strcmp(names[i], MUTATE_GENE_TRAIN)) {
            src = swap_train(a, b);
        } else {
            char *g = mutate_gene_with_helpers(b, names[i], a);
            if (g && proposal_replace_gene(a, names[i], g, &src, NULL))
                src = NULL;
            free(g);
        }
        if (!src)
            continue;
        uint64_t h;
        long params;
        double flops;
        if (compile_hash(src, lim, mem, &h, &params, &flops, &ce) || h == ha) {
            free(src);
            continue;
        }
        out->source = src;
        snprintf(out->rationale, sizeof out->rationale,
                 "random crossover (no LLM): %s `%s` taken from %s",
                 strcmp(names[i], MUTATE_GENE_TRAIN) ? "block" : "section", names[i],
                 b_name && b_name[0] ? b_name : "the second parent");
        snprintf(out->gene, sizeof out->gene, "%s", names[i]);
        snprintf(out->kind, sizeof out->kind, "crossover");
        out->params = params;
        out->flops = flops;
        out->hash = h;
        out->tries = i + 1;
        return 0;
    }
    gerr_set(err,
             "crossover: no gene of %s can replace the first parent's and give a new "
             "valid network (last: %s)",
             b_name && b_name[0] ? b_name : "the second parent", ce.msg);
    return -1;
}
