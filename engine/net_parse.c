/* gevo-net: arena, errors, lexer and parser (source text -> syntax tree).
 *
 * The language is line-oriented: a logical line ends at a newline outside
 * parentheses; the only nesting is "indented or not" (a def body, or the
 * continuation of a train section), so indentation depth never matters. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/text.h"
#include "engine/net_ast.h"

/* ---- arena ---------------------------------------------------------- */

struct arena_block {
    arena_block *next;
    size_t used, size;
    max_align_t data[];
};

void *arena_alloc(compiler *c, size_t size)
{
    arena *a = &c->mem;
    size = (size + 15) & ~(size_t)15;
    if (a->used_total + size > a->cap_total)
        compile_fail(c, 0, 0, NULL, "program too complex: its syntax tree exceeds %zu bytes",
                     a->cap_total);
    if (!a->head || a->head->size - a->head->used < size) {
        size_t bs = size > 65536 ? size : 65536;
        arena_block *b = malloc(sizeof *b + bs);
        if (!b)
            compile_fail(c, 0, 0, NULL, "out of memory while parsing");
        b->next = a->head;
        b->used = 0;
        b->size = bs;
        a->head = b;
    }
    void *p = (char *)a->head->data + a->head->used;
    a->head->used += size;
    a->used_total += size;
    memset(p, 0, size);
    return p;
}

void *arena_grow(compiler *c, void *arr, size_t elsize, int n, int *cap, int first)
{
    if (n < *cap)
        return arr;
    int ncap = *cap ? *cap * 2 : first;
    void *na = arena_alloc(c, elsize * (size_t)ncap);
    if (n)
        memcpy(na, arr, elsize * (size_t)n);
    *cap = ncap;
    return na;
}

char *arena_strndup(compiler *c, const char *s, size_t n)
{
    char *p = arena_alloc(c, n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void arena_release(arena *a)
{
    while (a->head) {
        arena_block *n = a->head->next;
        free(a->head);
        a->head = n;
    }
    a->used_total = 0;
}

/* ---- errors --------------------------------------------------------- */

static void copy_source_line(compiler *c, int line)
{
    c->err->source[0] = 0;
    if (line <= 0)
        return;
    const char *p = c->src, *end = c->src + c->len;
    for (int l = 1; l < line && p < end; p++)
        if (*p == '\n')
            l++;
    size_t n = 0;
    while (p + n < end && p[n] != '\n' && p[n] != '\r' && n < sizeof c->err->source - 1)
        n++;
    /* shown on a terminal: every byte of an unsafe character becomes '?',
       so the caret, placed by bytes, still points where it should */
    memcpy(c->err->source, p, n);
    c->err->source[n] = 0;
    for (size_t i = text_safe_prefix(p, n, TEXT_TABS); i < n;) {
        char shown[32];
        size_t len = text_unsafe_char(p + i, n - i, TEXT_TABS, shown, sizeof shown);
        memset(c->err->source + i, '?', len);
        i += len;
        i += text_safe_prefix(p + i, n - i, TEXT_TABS);
    }
}

void compile_fail(compiler *c, int line, int col, const char *hint, const char *fmt, ...)
{
    net_error *e = c->err;
    va_list ap;
    snprintf(e->file, sizeof e->file, "%s", c->filename ? c->filename : "<input>");
    e->line = line;
    e->col = col;
    va_start(ap, fmt);
    vsnprintf(e->base.msg, sizeof e->base.msg, fmt, ap);
    va_end(ap);
    snprintf(e->hint, sizeof e->hint, "%s", hint ? hint : "");
    copy_source_line(c, line);
    longjmp(c->fail, 1);
}

int net_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int prev[64], cur[64];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = (int)j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = (int)i;
        for (size_t j = 1; j <= lb; j++) {
            int cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            cur[j] = best;
        }
        memcpy(prev, cur, sizeof(int) * (lb + 1));
    }
    return prev[lb];
}

/* ---- lexer ---------------------------------------------------------- */

typedef struct lexer {
    compiler *c;
    const char *p, *end;
    int line, col;
    int depth; /* parentheses open: newlines inside do not end a line */
    bool at_line_start;
    int cap;
} lexer;

/* The character at lx->p written twice (==, **) is an operator gevo-net
 * does not have (what: its kind, plural). */
static void refuse_doubled(const lexer *lx, const char *what)
{
    if (lx->p + 1 < lx->end && lx->p[1] == lx->p[0])
        compile_fail(lx->c, lx->line, lx->col, NULL, "unexpected '%c%c': gevo-net has no %s",
                     lx->p[0], lx->p[0], what);
}

static token *push_token(lexer *lx, tok_kind k, int line, int col)
{
    compiler *c = lx->c;
    ARENA_GROW(c, c->toks, c->n_toks, lx->cap, 256);
    token *t = &c->toks[c->n_toks++];
    memset(t, 0, sizeof *t);
    t->kind = k;
    t->line = line;
    t->col = col;
    return t;
}

static void lex_number(lexer *lx, token *t)
{
    compiler *c = lx->c;
    const char *s = lx->p;
    const char *q = s;
    while (q < lx->end && isdigit((unsigned char)*q))
        q++;
    /* 1x28x28: a shape, for the input declaration */
    if (q < lx->end && (*q == 'x' || *q == 'X') && q + 1 < lx->end &&
        isdigit((unsigned char)q[1]) && !memchr(s, '.', (size_t)(q - s))) {
        while (q < lx->end && (isdigit((unsigned char)*q) || *q == 'x' || *q == 'X'))
            q++;
        t->kind = T_DIMS;
    } else {
        bool is_float = false;
        if (q < lx->end && *q == '.') {
            is_float = true;
            q++;
            while (q < lx->end && isdigit((unsigned char)*q))
                q++;
        }
        if (q < lx->end && (*q == 'e' || *q == 'E')) {
            const char *r = q + 1;
            if (r < lx->end && (*r == '+' || *r == '-'))
                r++;
            if (r < lx->end && isdigit((unsigned char)*r)) {
                is_float = true;
                q = r;
                while (q < lx->end && isdigit((unsigned char)*q))
                    q++;
            }
        }
        t->kind = is_float ? T_FLOAT : T_INT;
    }
    while (q < lx->end && (isalnum((unsigned char)*q) || *q == '_' || *q == '.'))
        q++;
    size_t n = (size_t)(q - s);
    if ((int)n > c->lim.max_number)
        compile_fail(c, t->line, t->col, NULL,
                     "number literal of %zu characters is longer than the limit of %d", n,
                     c->lim.max_number);
    t->text = arena_strndup(c, s, n);
    if (t->kind == T_INT) {
        char *endp;
        errno = 0;
        long v = strtol(t->text, &endp, 10);
        if (*endp)
            compile_fail(c, t->line, t->col, NULL, "malformed number '%s'", t->text);
        if (errno == ERANGE || v > 1000000000000L)
            compile_fail(c, t->line, t->col, NULL, "number %s is too large", t->text);
        t->ival = v;
        t->fval = (double)v;
    } else if (t->kind == T_FLOAT) {
        char *endp;
        errno = 0;
        double v = strtod(t->text, &endp);
        if (*endp)
            compile_fail(c, t->line, t->col, NULL, "malformed number '%s'", t->text);
        if (!isfinite(v) || errno == ERANGE)
            compile_fail(c, t->line, t->col, NULL, "number %s is out of range (not a finite float)",
                         t->text);
        t->fval = v;
    }
    lx->col += (int)n;
    lx->p = q;
}

static void lex_name(lexer *lx, token *t)
{
    compiler *c = lx->c;
    const char *s = lx->p, *q = s;
    while (q < lx->end && (isalnum((unsigned char)*q) || *q == '_'))
        q++;
    size_t n = (size_t)(q - s);
    if ((int)n > c->lim.max_ident)
        compile_fail(c, t->line, t->col, NULL,
                     "name of %zu characters is longer than the limit of %d", n, c->lim.max_ident);
    t->kind = T_NAME;
    t->text = arena_strndup(c, s, n);
    lx->col += (int)n;
    lx->p = q;
}

/* Comments and strings reach terminals (gevo show, an LLM's proposal in
 * the workbench, error messages), so they hold only what a terminal shows
 * as written: no control character, no bidirectional override, only
 * UTF-8 (engine/base/text.h decides, as it does for every output). */
static void check_text(lexer *lx, const char *s, size_t n, const char *what)
{
    size_t at = text_safe_prefix(s, n, TEXT_TABS);
    if (at == n)
        return;
    compiler *c = lx->c;
    int col = lx->col + (int)at;
    unsigned char b = (unsigned char)s[at];
    char shown[32];
    size_t len = text_unsafe_char(s + at, n - at, TEXT_TABS, shown, sizeof shown);
    if (b == 0)
        compile_fail(c, lx->line, col, "is this a binary file?", "NUL byte in the source");
    if (len == 1 && b < 0x80)
        compile_fail(c, lx->line, col, "remove it: control characters can act on a terminal",
                     "control character %s (0x%02x) in %s", shown, b, what);
    if (len == 1)
        compile_fail(c, lx->line, col, "save the file as UTF-8", "byte 0x%02x in %s is not UTF-8",
                     b, what);
    if (b == 0xc2)
        compile_fail(c, lx->line, col, "remove it: control characters can act on a terminal",
                     "control character %s in %s", shown, what);
    compile_fail(c, lx->line, col, "remove it: it shows the text in another order than it is read",
                 "bidirectional override %s in %s", shown, what);
}

static void lex_string(lexer *lx, token *t)
{
    compiler *c = lx->c;
    char quote = *lx->p;
    const char *s = lx->p + 1, *q = s;
    while (q < lx->end && *q != quote && *q != '\n')
        q++;
    if (q >= lx->end || *q != quote)
        compile_fail(c, t->line, t->col, NULL, "unterminated string");
    lx->col++; /* the string's text starts after the quote */
    check_text(lx, s, (size_t)(q - s), "a string");
    lx->col--;
    size_t n = (size_t)(q - s);
    if ((int)n > c->lim.max_ident)
        compile_fail(c, t->line, t->col, NULL,
                     "string of %zu characters is longer than the limit of %d", n,
                     c->lim.max_ident);
    t->kind = T_STRING;
    t->text = arena_strndup(c, s, n);
    lx->col += (int)n + 2;
    lx->p = q + 1;
}

void net_lex(compiler *c)
{
    lexer lx = {
        .c = c, .p = c->src, .end = c->src + c->len, .line = 1, .col = 1, .at_line_start = true};
    int indent = 0;
    int paren_line = 0, paren_col = 0;
    while (lx.p < lx.end) {
        unsigned char ch = (unsigned char)*lx.p;
        if (lx.at_line_start && lx.depth == 0) {
            /* measure indentation of a new logical line */
            indent = 0;
            while (lx.p < lx.end && (*lx.p == ' ' || *lx.p == '\t')) {
                indent += *lx.p == '\t' ? 8 - indent % 8 : 1;
                lx.p++;
                lx.col++;
            }
            lx.at_line_start = false;
            continue;
        }
        if (ch == '\n' || ch == '\r') {
            if (ch == '\r' && lx.p + 1 < lx.end && lx.p[1] == '\n')
                lx.p++;
            if (lx.depth == 0 && c->n_toks && c->toks[c->n_toks - 1].kind != T_NEWLINE)
                push_token(&lx, T_NEWLINE, lx.line, lx.col);
            lx.p++;
            lx.line++;
            lx.col = 1;
            if (lx.depth == 0)
                lx.at_line_start = true;
            continue;
        }
        if (ch == ' ' || ch == '\t' || ch == '\f' || ch == '\v') {
            lx.p++;
            lx.col++;
            continue;
        }
        if (ch == '#') {
            const char *eol = lx.p;
            while (eol < lx.end && *eol != '\n' && *eol != '\r')
                eol++;
            check_text(&lx, lx.p, (size_t)(eol - lx.p), "a comment");
            lx.p = eol;
            continue;
        }
        if (ch == '\\' && lx.p + 1 < lx.end && (lx.p[1] == '\n' || lx.p[1] == '\r')) {
            /* explicit line continuation, as in Python */
            lx.p++;
            if (*lx.p == '\r' && lx.p + 1 < lx.end && lx.p[1] == '\n')
                lx.p++;
            lx.p++;
            lx.line++;
            lx.col = 1;
            continue;
        }
        bool first = c->n_toks == 0 || c->toks[c->n_toks - 1].kind == T_NEWLINE;
        token *t = push_token(&lx, T_EOF, lx.line, lx.col);
        t->line_start = first;
        t->indent = first ? indent : 0;
        if (isdigit(ch) || (ch == '.' && lx.p + 1 < lx.end && isdigit((unsigned char)lx.p[1]))) {
            if (ch == '.') { /* .5 -> 0.5 */
                const char *s = lx.p;
                const char *q = s + 1;
                while (q < lx.end && isdigit((unsigned char)*q))
                    q++;
                char buf[64];
                size_t n = (size_t)(q - s);
                if ((int)n > c->lim.max_number || n + 2 > sizeof buf)
                    compile_fail(c, t->line, t->col, NULL, "number literal is too long");
                buf[0] = '0';
                memcpy(buf + 1, s, n);
                buf[n + 1] = 0;
                t->kind = T_FLOAT;
                t->text = arena_strndup(c, buf, n + 1);
                t->fval = strtod(buf, NULL);
                lx.col += (int)n;
                lx.p = q;
            } else {
                lex_number(&lx, t);
            }
            continue;
        }
        if (isalpha(ch) || ch == '_') {
            lex_name(&lx, t);
            continue;
        }
        if (ch == '"' || ch == '\'') {
            lex_string(&lx, t);
            continue;
        }
        tok_kind k;
        int w = 1;
        switch (ch) {
        case '(':
        case '[':
            if (ch == '[')
                compile_fail(c, lx.line, lx.col,
                             "gevo-net has no lists; pass several arguments, e.g. concat(a, b)",
                             "unexpected '['");
            k = T_LP;
            if (lx.depth++ == 0) {
                paren_line = lx.line;
                paren_col = lx.col;
            }
            if (lx.depth > 64)
                compile_fail(c, lx.line, lx.col, NULL, "parentheses nested more than 64 deep");
            break;
        case ')':
            k = T_RP;
            if (lx.depth == 0)
                compile_fail(c, lx.line, lx.col, NULL, "unmatched ')'");
            lx.depth--;
            break;
        case ',': k = T_COMMA; break;
        case '=':
            k = T_EQ;
            refuse_doubled(&lx, "comparisons");
            break;
        case ':': k = T_COLON; break;
        case '+': k = T_PLUS; break;
        case '-': k = T_MINUS; break;
        case '*':
            k = T_STAR;
            refuse_doubled(&lx, "power operator");
            break;
        case '/':
            k = T_SLASH;
            if (lx.p + 1 < lx.end && lx.p[1] == '/') {
                k = T_DSLASH;
                w = 2;
            }
            break;
        case '%': k = T_PERCENT; break;
        case 0:
            compile_fail(c, lx.line, lx.col, "is this a binary file?", "NUL byte in the source");
        case '.':
            compile_fail(c, lx.line, lx.col,
                         "gevo-net has no attributes or methods; call operators by name, e.g. "
                         "conv(x, 32, k=3)",
                         "unexpected '.'");
        default:
            if (ch >= 0x80)
                compile_fail(c, lx.line, lx.col, "only ASCII is allowed outside comments",
                             "unexpected byte 0x%02x", ch);
            if (ch < 32 || ch == 127)
                compile_fail(c, lx.line, lx.col, "is this a binary file?",
                             "unexpected control character 0x%02x", ch);
            compile_fail(c, lx.line, lx.col, NULL, "unexpected character '%c'", ch);
        }
        t->kind = k;
        lx.p += w;
        lx.col += w;
    }
    if (lx.depth > 0)
        compile_fail(c, paren_line, paren_col, "close it with ')'", "'(' is never closed");
    if (c->n_toks && c->toks[c->n_toks - 1].kind != T_NEWLINE)
        push_token(&lx, T_NEWLINE, lx.line, lx.col);
    push_token(&lx, T_EOF, lx.line, 1);
}

/* ---- parser --------------------------------------------------------- */

typedef struct parser {
    compiler *c;
    int i;
} parser;

static token *peek(parser *ps)
{
    return &ps->c->toks[ps->i];
}
static token *peek_at(parser *ps, int k)
{
    int j = ps->i + k;
    if (j >= ps->c->n_toks)
        j = ps->c->n_toks - 1;
    return &ps->c->toks[j];
}
static token *next(parser *ps)
{
    token *t = &ps->c->toks[ps->i];
    if (t->kind != T_EOF)
        ps->i++;
    return t;
}

static const char *tok_desc(const token *t)
{
    switch (t->kind) {
    case T_EOF: return "end of file";
    case T_NEWLINE: return "end of line";
    case T_NAME: return "a name";
    case T_INT:
    case T_FLOAT: return "a number";
    case T_STRING: return "a string";
    case T_DIMS: return "a shape";
    case T_LP: return "'('";
    case T_RP: return "')'";
    case T_COMMA: return "','";
    case T_EQ: return "'='";
    case T_COLON: return "':'";
    case T_PLUS: return "'+'";
    case T_MINUS: return "'-'";
    case T_STAR: return "'*'";
    case T_SLASH: return "'/'";
    case T_DSLASH: return "'//'";
    case T_PERCENT: return "'%'";
    }
    return "a token";
}

static _Noreturn void unexpected(parser *ps, token *t, const char *wanted, const char *hint)
{
    if (t->kind == T_NAME)
        compile_fail(ps->c, t->line, t->col, hint, "expected %s, found '%s'", wanted, t->text);
    compile_fail(ps->c, t->line, t->col, hint, "expected %s, found %s", wanted, tok_desc(t));
}

static token *expect(parser *ps, tok_kind k, const char *wanted)
{
    token *t = peek(ps);
    if (t->kind != k)
        unexpected(ps, t, wanted, NULL);
    return next(ps);
}

/* Names with a fixed meaning that a program may not rebind. */
static bool is_reserved_literal(const char *s)
{
    return !strcmp(s, "true") || !strcmp(s, "false") || !strcmp(s, "True") || !strcmp(s, "False") ||
           !strcmp(s, "same") || !strcmp(s, "valid");
}

static bool is_keyword(const char *s)
{
    return !strcmp(s, "def") || !strcmp(s, "return") || !strcmp(s, "input") ||
           !strcmp(s, "train") || !strcmp(s, "classes");
}

static expr *new_expr(parser *ps, expr_kind k, token *at)
{
    expr *e = arena_alloc(ps->c, sizeof *e);
    e->kind = k;
    e->line = at->line;
    e->col = at->col;
    return e;
}

static expr *parse_expr(parser *ps, int nest);

static expr *parse_call(parser *ps, token *name, int nest)
{
    expr *e = new_expr(ps, EX_CALL, name);
    e->text = name->text;
    next(ps); /* the name */
    next(ps); /* ( */
    int cap = 0;
    bool seen_kw = false;
    while (peek(ps)->kind != T_RP) {
        token *at = peek(ps);
        arg a = {.line = at->line, .col = at->col};
        if (at->kind == T_NAME && peek_at(ps, 1)->kind == T_EQ) {
            a.name = at->text;
            next(ps);
            next(ps);
            seen_kw = true;
            for (int j = 0; j < e->n_args; j++)
                if (e->args[j].name && !strcmp(e->args[j].name, a.name))
                    compile_fail(ps->c, at->line, at->col, NULL,
                                 "keyword argument '%s' given twice", a.name);
        } else if (seen_kw) {
            compile_fail(ps->c, at->line, at->col,
                         "put positional arguments before keyword arguments",
                         "positional argument after a keyword argument");
        }
        a.value = parse_expr(ps, nest + 1);
        ARENA_GROW(ps->c, e->args, e->n_args, cap, 4);
        e->args[e->n_args++] = a;
        if (e->n_args > 256)
            compile_fail(ps->c, at->line, at->col, NULL, "more than 256 arguments in one call");
        if (peek(ps)->kind == T_COMMA) {
            next(ps);
            continue;
        }
        if (peek(ps)->kind != T_RP)
            unexpected(ps, peek(ps), "',' or ')'", NULL);
    }
    next(ps); /* ) */
    return e;
}

/* A literal or a name: the token's value and its text as written. */
static expr *parse_leaf(parser *ps, expr_kind k)
{
    token *t = next(ps);
    expr *e = new_expr(ps, k, t);
    e->ival = t->ival;
    e->fval = t->fval;
    e->text = t->text;
    return e;
}

static expr *parse_primary(parser *ps, int nest)
{
    token *t = peek(ps);
    if (nest > 48)
        compile_fail(ps->c, t->line, t->col, NULL, "expression nested more than 48 deep");
    switch (t->kind) {
    case T_INT: return parse_leaf(ps, EX_INT);
    case T_FLOAT: return parse_leaf(ps, EX_FLOAT);
    case T_STRING: return parse_leaf(ps, EX_STRING);
    case T_NAME: {
        if (is_keyword(t->text) && strcmp(t->text, "classes"))
            compile_fail(ps->c, t->line, t->col, NULL, "'%s' is a keyword and cannot be used here",
                         t->text);
        if (peek_at(ps, 1)->kind == T_LP)
            return parse_call(ps, t, nest);
        return parse_leaf(ps, EX_NAME);
    }
    case T_LP: {
        next(ps);
        if (peek(ps)->kind == T_RP)
            compile_fail(ps->c, t->line, t->col, NULL, "empty parentheses");
        expr *e = parse_expr(ps, nest + 1);
        if (peek(ps)->kind == T_COMMA)
            compile_fail(ps->c, peek(ps)->line, peek(ps)->col, "gevo-net has no tuples",
                         "unexpected ','");
        expect(ps, T_RP, "')'");
        return e;
    }
    case T_MINUS: {
        next(ps);
        expr *e = new_expr(ps, EX_NEG, t);
        e->lhs = parse_primary(ps, nest + 1);
        return e;
    }
    case T_DIMS:
        compile_fail(ps->c, t->line, t->col, NULL,
                     "a shape like '%s' is only allowed in the input declaration", t->text);
    default: unexpected(ps, t, "an expression", NULL);
    }
}

/* The operator a token stands for at one precedence level ('f' is /),
 * or 0 when it ends the level. */
static char product_op(tok_kind k)
{
    switch (k) {
    case T_STAR: return '*';
    case T_DSLASH: return '/';
    case T_SLASH: return 'f';
    case T_PERCENT: return '%';
    default: return 0;
    }
}

static char sum_op(tok_kind k)
{
    return k == T_PLUS ? '+' : k == T_MINUS ? '-' : 0;
}

static expr *parse_term(parser *ps, int nest);

/* A left-associative chain of sums (of terms) or products (of primaries). */
static expr *parse_chain(parser *ps, int nest, bool sums)
{
    expr *(*operand)(parser *, int) = sums ? parse_term : parse_primary;
    expr *l = operand(ps, nest);
    for (;;) {
        token *t = peek(ps);
        char op = sums ? sum_op(t->kind) : product_op(t->kind);
        if (!op)
            return l;
        next(ps);
        expr *e = new_expr(ps, EX_BINOP, t);
        e->op = op;
        e->lhs = l;
        e->rhs = operand(ps, nest + 1);
        l = e;
    }
}

static expr *parse_term(parser *ps, int nest)
{
    return parse_chain(ps, nest, false);
}

static expr *parse_expr(parser *ps, int nest)
{
    return parse_chain(ps, nest, true);
}

static void end_of_line(parser *ps)
{
    token *t = peek(ps);
    if (t->kind == T_NEWLINE) {
        next(ps);
        return;
    }
    if (t->kind == T_EOF)
        return;
    unexpected(ps, t, "end of line", NULL);
}

/* NAME = expr   |   return expr */
static stmt parse_stmt(parser *ps)
{
    token *t = peek(ps);
    stmt s = {.line = t->line, .col = t->col};
    if (t->kind == T_NAME && !strcmp(t->text, "return")) {
        next(ps);
        s.kind = ST_RETURN;
        s.value = parse_expr(ps, 0);
        end_of_line(ps);
        return s;
    }
    if (t->kind != T_NAME)
        unexpected(ps, t, "an assignment 'name = ...' or 'return ...'", NULL);
    if (peek_at(ps, 1)->kind != T_EQ) {
        token *n = peek_at(ps, 1);
        if (n->kind == T_LP)
            compile_fail(ps->c, t->line, t->col, "assign the result: y = ...",
                         "a call on its own does nothing; gevo-net has no side effects");
        if (n->kind == T_COMMA)
            compile_fail(ps->c, n->line, n->col, "assign one name per line",
                         "gevo-net has no tuple assignment");
        if (n->kind == T_PLUS || n->kind == T_STAR || n->kind == T_MINUS)
            compile_fail(ps->c, n->line, n->col, "write x = x + y",
                         "augmented assignment (+= etc.) is not supported");
        unexpected(ps, n, "'='", NULL);
    }
    if (is_keyword(t->text) || is_reserved_literal(t->text))
        compile_fail(ps->c, t->line, t->col, NULL, "'%s' is a keyword and cannot be assigned",
                     t->text);
    next(ps);
    next(ps);
    s.kind = ST_ASSIGN;
    s.target = t->text;
    s.value = parse_expr(ps, 0);
    end_of_line(ps);
    return s;
}

static void parse_def(parser *ps)
{
    compiler *c = ps->c;
    program *p = &c->prog;
    token *kw = next(ps);
    token *name = expect(ps, T_NAME, "a block name after 'def'");
    if (is_keyword(name->text) || is_reserved_literal(name->text))
        compile_fail(c, name->line, name->col, NULL, "'%s' is a keyword and cannot name a block",
                     name->text);
    for (int i = 0; i < p->n_defs; i++)
        if (!strcmp(p->defs[i].name, name->text))
            compile_fail(c, name->line, name->col, NULL,
                         "block '%s' is defined twice (first on line %d)", name->text,
                         p->defs[i].line);
    def_block d = {.name = name->text, .line = kw->line, .col = kw->col};
    expect(ps, T_LP, "'(' after the block name");
    int pcap = 0;
    bool seen_default = false;
    while (peek(ps)->kind != T_RP) {
        token *pn = expect(ps, T_NAME, "a parameter name");
        if (is_keyword(pn->text) || is_reserved_literal(pn->text))
            compile_fail(c, pn->line, pn->col, NULL, "'%s' is a keyword and cannot be a parameter",
                         pn->text);
        for (int i = 0; i < d.n_params; i++)
            if (!strcmp(d.params[i].name, pn->text))
                compile_fail(c, pn->line, pn->col, NULL, "parameter '%s' appears twice", pn->text);
        param pa = {.name = pn->text, .line = pn->line, .col = pn->col};
        if (peek(ps)->kind == T_COLON)
            compile_fail(c, peek(ps)->line, peek(ps)->col, "write def f(x, c): without types",
                         "type annotations are not supported");
        if (peek(ps)->kind == T_EQ) {
            next(ps);
            pa.def = parse_expr(ps, 0);
            seen_default = true;
        } else if (seen_default) {
            compile_fail(c, pn->line, pn->col, NULL,
                         "parameter '%s' without a default follows one with a default", pn->text);
        }
        ARENA_GROW(c, d.params, d.n_params, pcap, 8);
        d.params[d.n_params++] = pa;
        if (d.n_params > 64)
            compile_fail(c, pn->line, pn->col, NULL, "more than 64 parameters");
        if (peek(ps)->kind == T_COMMA)
            next(ps);
        else if (peek(ps)->kind != T_RP)
            unexpected(ps, peek(ps), "',' or ')'", NULL);
    }
    next(ps);
    if (peek(ps)->kind == T_MINUS)
        compile_fail(c, peek(ps)->line, peek(ps)->col,
                     "write def f(x):", "return annotations are not supported");
    expect(ps, T_COLON, "':' after the parameters");
    int bcap = 0;
    if (peek(ps)->kind != T_NEWLINE && peek(ps)->kind != T_EOF) {
        /* def f(x): return relu(x) */
        ARENA_GROW(c, d.body, d.n_body, bcap, 8);
        d.body[d.n_body++] = parse_stmt(ps);
    } else {
        end_of_line(ps);
        while (peek(ps)->kind != T_EOF && peek(ps)->indent > 0) {
            ARENA_GROW(c, d.body, d.n_body, bcap, 8);
            d.body[d.n_body++] = parse_stmt(ps);
        }
    }
    if (d.n_body == 0)
        compile_fail(c, kw->line, kw->col, "indent the block's lines under the def",
                     "block '%s' has no body", d.name);
    for (int i = 0; i < d.n_body; i++) {
        if (d.body[i].kind == ST_RETURN && i != d.n_body - 1)
            compile_fail(c, d.body[i + 1].line, d.body[i + 1].col, NULL,
                         "line after 'return' in block '%s'", d.name);
    }
    if (d.body[d.n_body - 1].kind != ST_RETURN)
        compile_fail(c, d.body[d.n_body - 1].line, d.body[d.n_body - 1].col,
                     "end the block with 'return y'", "block '%s' does not end with 'return'",
                     d.name);
    ARENA_GROW(c, p->defs, p->n_defs, p->cap_defs, 4);
    p->defs[p->n_defs++] = d;
}

/* One atom of a train value: a number, a name, a string, or -number. */
static token parse_train_atom(parser *ps)
{
    token *t = peek(ps);
    if (t->kind == T_MINUS) {
        next(ps);
        token *n = peek(ps);
        if (n->kind != T_INT && n->kind != T_FLOAT)
            unexpected(ps, n, "a number after '-'", NULL);
        next(ps);
        token neg = *n;
        neg.ival = -n->ival;
        neg.fval = -n->fval;
        size_t l = strlen(n->text);
        char *txt = arena_alloc(ps->c, l + 2);
        txt[0] = '-';
        memcpy(txt + 1, n->text, l + 1);
        neg.text = txt;
        neg.line = t->line;
        neg.col = t->col;
        return neg;
    }
    if (t->kind != T_INT && t->kind != T_FLOAT && t->kind != T_NAME && t->kind != T_STRING)
        unexpected(ps, t, "a value (number or name)", NULL);
    next(ps);
    return *t;
}

static void parse_train(parser *ps)
{
    compiler *c = ps->c;
    program *p = &c->prog;
    token *kw = next(ps);
    if (p->train_line)
        compile_fail(c, kw->line, kw->col, "put every setting in one train section",
                     "second train section (the first is on line %d)", p->train_line);
    p->train_line = kw->line;
    int cap = 0;
    for (;;) {
        token *t = peek(ps);
        if (t->kind == T_NEWLINE) {
            next(ps);
            /* continuation lines are indented */
            if (peek(ps)->kind != T_EOF && peek(ps)->indent > 0 && peek(ps)->line_start)
                continue;
            break;
        }
        if (t->kind == T_EOF)
            break;
        if (t->kind == T_COMMA) { /* train lr=0.1, epochs=2 */
            next(ps);
            continue;
        }
        if (t->kind != T_NAME)
            unexpected(ps, t, "a setting 'key=value'", NULL);
        next(ps);
        if (peek(ps)->kind != T_EQ)
            unexpected(ps, peek(ps), "'=' after the setting's name", NULL);
        next(ps);
        for (int i = 0; i < p->n_train; i++)
            if (!strcmp(p->train[i].key, t->text))
                compile_fail(c, t->line, t->col, NULL, "train setting '%s' given twice", t->text);
        train_kv kv = {.key = t->text, .line = t->line, .col = t->col};
        int vcap = 0;
        for (;;) {
            ARENA_GROW(c, kv.values, kv.n_values, vcap, 8);
            kv.values[kv.n_values++] = parse_train_atom(ps);
            if (kv.n_values > 16)
                compile_fail(c, t->line, t->col, NULL, "too many values for '%s'", t->text);
            /* a comma continues the list unless a new key=value follows */
            if (peek(ps)->kind == T_COMMA &&
                !(peek_at(ps, 1)->kind == T_NAME && peek_at(ps, 2)->kind == T_EQ) &&
                peek_at(ps, 1)->kind != T_NEWLINE) {
                next(ps);
                continue;
            }
            break;
        }
        ARENA_GROW(c, p->train, p->n_train, cap, 8);
        p->train[p->n_train++] = kv;
        if (p->n_train > 64)
            compile_fail(c, t->line, t->col, NULL, "more than 64 train settings");
    }
}

/* Takes the keyword of a declaration made once (input, classes);
 * first_line: where it was made already, 0 if not yet. */
static token *declaration(parser *ps, const char *what, int first_line)
{
    token *kw = next(ps);
    if (first_line)
        compile_fail(ps->c, kw->line, kw->col, NULL,
                     "second %s declaration (the first is on line %d)", what, first_line);
    return kw;
}

static void parse_input(parser *ps)
{
    compiler *c = ps->c;
    program *p = &c->prog;
    token *kw = declaration(ps, "input", p->input_line);
    token *name = peek(ps);
    if (name->kind != T_NAME)
        unexpected(ps, name, "the input's name", "write: input x: 1x28x28");
    next(ps);
    if (is_keyword(name->text))
        compile_fail(c, name->line, name->col, NULL, "'%s' is a keyword and cannot name the input",
                     name->text);
    if (peek(ps)->kind != T_COLON)
        unexpected(ps, peek(ps), "':' after the input's name", "write: input x: 1x28x28");
    next(ps);
    token *d = peek(ps);
    if (d->kind != T_DIMS)
        unexpected(ps, d, "a shape CxHxW", "write: input x: 1x28x28 (channels x height x width)");
    next(ps);
    long dims[4];
    int nd = 0;
    const char *s = d->text;
    while (*s) {
        if (nd == 3)
            compile_fail(c, d->line, d->col, "write CxHxW, e.g. 3x32x32",
                         "input shape '%s' has more than 3 dimensions", d->text);
        char *e;
        dims[nd] = strtol(s, &e, 10);
        if (e == s)
            compile_fail(c, d->line, d->col, NULL, "malformed shape '%s'", d->text);
        nd++;
        s = e;
        if (*s == 'x' || *s == 'X')
            s++;
    }
    if (nd != 3)
        compile_fail(c, d->line, d->col, "write CxHxW, e.g. 3x32x32",
                     "input shape '%s' needs 3 dimensions", d->text);
    for (int i = 0; i < 3; i++)
        if (dims[i] < 1 || dims[i] > c->lim.max_dim)
            compile_fail(c, d->line, d->col, NULL, "input dimension %ld is outside 1..%d", dims[i],
                         c->lim.max_dim);
    p->input_name = name->text;
    p->input = (net_shape){(int)dims[0], (int)dims[1], (int)dims[2]};
    p->input_line = kw->line;
    end_of_line(ps);
}

static void parse_classes(parser *ps)
{
    compiler *c = ps->c;
    program *p = &c->prog;
    token *kw = declaration(ps, "classes", p->classes_line);
    if (peek(ps)->kind == T_EQ)
        next(ps); /* classes = 10 is fine too */
    token *n = peek(ps);
    if (n->kind != T_INT)
        unexpected(ps, n, "the number of classes", "write: classes 10");
    next(ps);
    if (n->ival < 2 || n->ival > 100000)
        compile_fail(c, n->line, n->col, NULL, "number of classes %ld is outside 2..100000",
                     n->ival);
    p->classes = (int)n->ival;
    p->classes_line = kw->line;
    end_of_line(ps);
}

void net_parse_program(compiler *c)
{
    parser ps = {.c = c};
    program *p = &c->prog;
    int tcap = 0;
    while (peek(&ps)->kind != T_EOF) {
        token *t = peek(&ps);
        if (t->kind == T_NEWLINE) {
            next(&ps);
            continue;
        }
        if (t->indent > 0)
            compile_fail(c, t->line, t->col,
                         "only the lines of a def block or a train section are indented",
                         "unexpected indentation");
        if (t->kind == T_NAME && !strcmp(t->text, "classes")) {
            parse_classes(&ps);
            continue;
        }
        if (t->kind == T_NAME && peek_at(&ps, 1)->kind != T_EQ) {
            if (!strcmp(t->text, "def")) {
                parse_def(&ps);
                continue;
            }
            if (!strcmp(t->text, "input")) {
                parse_input(&ps);
                continue;
            }
            if (!strcmp(t->text, "train")) {
                parse_train(&ps);
                continue;
            }
            if (!strcmp(t->text, "import") || !strcmp(t->text, "class") || !strcmp(t->text, "from"))
                compile_fail(c, t->line, t->col, "gevo-net is not Python: see gevo-net(5)",
                             "'%s' is not part of gevo-net", t->text);
            if (!strcmp(t->text, "for") || !strcmp(t->text, "if") || !strcmp(t->text, "while"))
                compile_fail(c, t->line, t->col,
                             "write each layer on its own line, or use a def block",
                             "gevo-net has no '%s' statement", t->text);
        }
        ARENA_GROW(c, p->top, p->n_top, tcap, 8);
        p->top[p->n_top++] = parse_stmt(&ps);
    }
}
