/* gevo-net: the public entry points (compile, free, errors, blocks) and the
 * canonical form used to recognise a program seen before. */
#include <stdlib.h>
#include <string.h>

#include "engine/base/file.h"
#include "engine/net_ast.h"

void net_limits_default(net_limits *lim)
{
    lim->max_params = 20000000;
    lim->max_flops = 20e9;
    lim->max_act_bytes = 256.0 * 1048576;
    lim->max_depth = 32;
    lim->max_file_bytes = 256 * 1024;
    lim->max_ident = 64;
    lim->max_number = 32;
    lim->max_nodes = 20000;
    lim->max_dim = 65536;
}

/* ---- the operators ---------------------------------------------------- */

static const struct {
    const char *name;
    unsigned flags;
} op_info[NET_OP_COUNT] = {
#define OP_ROW(id, name, family, variant, flags) [NET_##id] = {name, flags},
    NET_OP_INFO(OP_ROW)
#undef OP_ROW
};

const char *net_op_name(net_op op)
{
    return (unsigned)op < NET_OP_COUNT ? op_info[op].name : "?";
}

unsigned net_op_flags(net_op op)
{
    return (unsigned)op < NET_OP_COUNT ? op_info[op].flags : 0;
}

net_op net_op_lookup(const char *name)
{
    for (int i = 0; i < NET_OP_COUNT; i++)
        if (!strcmp(op_info[i].name, name))
            return (net_op)i;
    return NET_OP_COUNT;
}

void net_error_string(const net_error *err, char *buf, size_t size)
{
    if (err->line > 0)
        snprintf(buf, size, "%s:%d:%d: %s", err->file, err->line, err->col, err->base.msg);
    else if (err->file[0])
        snprintf(buf, size, "%s: %s", err->file, err->base.msg);
    else
        snprintf(buf, size, "%s", err->base.msg);
}

void net_error_print(const net_error *err, FILE *out)
{
    char head[1024];
    net_error_string(err, head, sizeof head);
    fprintf(out, "%s\n", head);
    if (err->source[0]) {
        fprintf(out, "  %s\n  ", err->source);
        /* the caret under the column, keeping tabs so it lines up */
        for (int i = 0; i < err->col - 1 && err->source[i]; i++)
            fputc(err->source[i] == '\t' ? '\t' : ' ', out);
        fprintf(out, "^\n");
    }
    if (err->hint[0])
        fprintf(out, "  hint: %s\n", err->hint);
}

void net_graph_free(net_graph *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_nodes; i++)
        free(g->nodes[i].in);
    free(g->nodes);
    free(g->canonical);
    free(g);
}

uint64_t net_fnv1a64(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

int net_compile(const char *src, size_t len, const char *filename, const net_limits *lim,
                net_graph **out, net_error *err)
{
    return net_compile_with_input(src, len, filename, lim, NULL, out, err);
}

int net_compile_with_input(const char *src, size_t len, const char *filename, const net_limits *lim,
                           const net_shape *input, net_graph **out, net_error *err)
{
    return net_compile_syntax(src, len, filename, lim, input, out, NULL, err);
}

int net_compile_syntax(const char *src, size_t len, const char *filename, const net_limits *lim,
                       const net_shape *input, net_graph **out, net_syntax **syntax, net_error *err)
{
    /* volatile: these are read after a longjmp back into this frame */
    compiler *volatile c = calloc(1, sizeof *c);
    net_graph *volatile g = NULL;
    net_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    *out = NULL;
    if (syntax)
        *syntax = NULL;
    if (!c) {
        gerr_set(&err->base, "out of memory");
        return -1;
    }
    c->src = src;
    c->len = len;
    c->filename = filename ? filename : "<input>";
    c->err = err;
    if (lim)
        c->lim = *lim;
    else
        net_limits_default(&c->lim);
    if (c->lim.max_depth > 60)
        c->lim.max_depth = 60; /* the builder's call stack */
    /* the syntax tree is bounded by a multiple of the (bounded) source */
    c->mem.cap_total = 64 * (size_t)len + (1u << 20);
    int rc = 0;
    if (setjmp(c->fail)) {
        rc = -1;
        goto done;
    }
    if ((long)len > c->lim.max_file_bytes)
        compile_fail(c, 0, 0, "raise the limit with --max-file-bytes if this is intended",
                     "file is %zu bytes, more than the limit of %ld", len, c->lim.max_file_bytes);
    if (len == 0)
        compile_fail(c, 0, 0, "start with: input x: 1x28x28", "empty program");
    net_lex(c);
    net_parse_program(c);
    if (input) {
        if (input->c < 1 || input->h < 1 || input->w < 1 || input->c > c->lim.max_dim ||
            input->h > c->lim.max_dim || input->w > c->lim.max_dim)
            compile_fail(c, 0, 0, NULL, "input shape %dx%dx%d is out of range", input->c, input->h,
                         input->w);
        c->prog.input = *input;
    }
    g = calloc(1, sizeof *g);
    if (!g)
        compile_fail(c, 0, 0, NULL, "out of memory");
    net_build_graph(c, g);
    g->canonical = net_canonical_text(&c->prog);
    if (!g->canonical)
        compile_fail(c, 0, 0, NULL, "out of memory");
    g->hash = net_fnv1a64(g->canonical, strlen(g->canonical));
    if (syntax && !(*syntax = net_syntax_copy(&c->prog)))
        compile_fail(c, 0, 0, NULL, "out of memory");
done:
    if (rc) {
        net_graph_free(g);
    } else {
        *out = g;
    }
    free(c->frames);
    arena_release(&c->mem);
    free(c);
    return rc;
}

int net_train_set(net_train *t, const char *setting, net_error *err)
{
    net_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    size_t n = strlen(setting);
    if (n > 4096 || strchr(setting, '\n')) {
        snprintf(err->file, sizeof err->file, "--set");
        gerr_set(&err->base, "setting is too long or has a newline");
        return -1;
    }
    char *src = malloc(n + 8);
    compiler *volatile c = calloc(1, sizeof *c);
    if (!src || !c) {
        free(src);
        free(c);
        gerr_set(&err->base, "out of memory");
        return -1;
    }
    /* a one-line train section, compiled by the same code as programs */
    memcpy(src, "train ", 6);
    memcpy(src + 6, setting, n + 1);
    c->src = src;
    c->len = n + 6;
    c->filename = "--set";
    c->err = err;
    net_limits_default(&c->lim);
    c->mem.cap_total = 1u << 20;
    int rc = 0;
    net_train copy = *t;
    if (setjmp(c->fail)) {
        rc = -1;
    } else {
        net_lex(c);
        net_parse_program(c);
        if (c->prog.n_top || c->prog.n_defs || c->prog.input_line)
            compile_fail(c, 1, 1, NULL, "expected key=value settings only");
        net_apply_train(c, &copy);
        *t = copy;
    }
    arena_release(&c->mem);
    free(c);
    free(src);
    return rc;
}

int net_compile_file(const char *path, const net_limits *lim, net_graph **out, net_error *err)
{
    net_limits dl;
    if (!lim) {
        net_limits_default(&dl);
        lim = &dl;
    }
    *out = NULL;
    char *src;
    size_t len;
    net_error scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (file_read(path, (size_t)lim->max_file_bytes, &src, &len, &err->base))
        return -1; /* the message names the file */
    int rc = net_compile(src, len, path, lim, out, err);
    free(src);
    return rc;
}

/* ---- blocks --------------------------------------------------------- */

static bool isalnum_ascii(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

int net_list_blocks(const char *src, size_t len, net_block *blocks, int max)
{
    if (len > 64u << 20)
        return -1;
    int n = 0, line = 1;
    const char *p = src, *end = src + len;
    int cur = -1; /* index of the block whose body we are in */
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        const char *q = p;
        while (q < eol && (*q == ' ' || *q == '\t'))
            q++;
        bool blank = q == eol || *q == '#' || *q == '\r';
        bool indented = q > p;
        if (!blank && !indented) {
            cur = -1;
            if (eol - p > 4 && !strncmp(p, "def", 3) && (p[3] == ' ' || p[3] == '\t')) {
                const char *s = p + 4;
                while (s < eol && (*s == ' ' || *s == '\t'))
                    s++;
                const char *e = s;
                while (e < eol && (isalnum_ascii(*e) || *e == '_'))
                    e++;
                if (e > s) {
                    if (n < max) {
                        size_t l = (size_t)(e - s);
                        if (l >= sizeof blocks[n].name)
                            l = sizeof blocks[n].name - 1;
                        memcpy(blocks[n].name, s, l);
                        blocks[n].name[l] = 0;
                        blocks[n].first_line = blocks[n].last_line = line;
                        cur = n;
                    }
                    n++;
                }
            }
        } else if (!blank && indented && cur >= 0) {
            blocks[cur].last_line = line;
        }
        p = eol + 1;
        line++;
    }
    return n < max ? n : max;
}
