/* Internal to the gevo-net compiler: tokens, the syntax tree, and the
 * shared error/arena machinery of net_parse.c, net_build.c, net_canon.c.
 *
 * All syntax-tree memory comes from one arena owned by the compile call, so
 * an error anywhere (reported with longjmp to net_compile) frees it all. */
#ifndef GEVO_ENGINE_NET_AST_H
#define GEVO_ENGINE_NET_AST_H

#include <setjmp.h>

#include "engine/net.h"

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
    size_t used_total;
    size_t cap_total; /* a hard ceiling: the AST cannot outgrow the source */
} arena;

typedef enum tok_kind {
    T_EOF,
    T_NEWLINE,
    T_NAME,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_DIMS, /* 1x28x28 */
    T_LP,
    T_RP,
    T_COMMA,
    T_EQ,
    T_COLON,
    T_PLUS,
    T_MINUS,
    T_STAR,
    T_SLASH,
    T_DSLASH,
    T_PERCENT
} tok_kind;

typedef struct token {
    tok_kind kind;
    int line, col;
    int indent;       /* first token of a logical line: leading whitespace */
    bool line_start;  /* first token of a logical line */
    const char *text; /* arena copy of the token's text */
    long ival;
    double fval;
} token;

typedef enum expr_kind {
    EX_INT,
    EX_FLOAT,
    EX_NAME,
    EX_STRING,
    EX_CALL,
    EX_BINOP,
    EX_NEG
} expr_kind;

typedef struct expr expr;
typedef struct arg {
    const char *name; /* NULL for a positional argument */
    expr *value;
    int line, col;
} arg;

struct expr {
    expr_kind kind;
    int line, col;
    long ival;
    double fval;
    const char *text; /* name, string, callee, or the literal as written */
    char op;          /* EX_BINOP: + - * / (floor division) f (true division) % */
    expr *lhs, *rhs;  /* EX_BINOP; EX_NEG uses lhs */
    arg *args;
    int n_args;
};

typedef enum stmt_kind {
    ST_ASSIGN,
    ST_RETURN
} stmt_kind;

typedef struct stmt {
    stmt_kind kind;
    const char *target; /* ST_ASSIGN */
    expr *value;
    int line, col;
} stmt;

typedef struct param {
    const char *name;
    expr *def; /* default value or NULL */
    int line, col;
} param;

typedef struct def_block {
    const char *name;
    param *params;
    int n_params;
    stmt *body;
    int n_body;
    int line, col;
} def_block;

/* One key=value of the train section; values is a comma list of atoms. */
typedef struct train_kv {
    const char *key;
    token *values;
    int n_values;
    int line, col;
} train_kv;

typedef struct program {
    const char *input_name;
    net_shape input;
    int input_line;
    int classes;
    int classes_line;
    def_block *defs;
    int n_defs, cap_defs;
    stmt *top;
    int n_top;
    train_kv *train;
    int n_train;
    int train_line;
} program;

/* The state of one compilation, shared by the phases. */
typedef struct compiler {
    const char *src;
    size_t len;
    const char *filename;
    net_limits lim;
    net_error *err;
    jmp_buf fail;
    arena mem;
    token *toks;
    int n_toks;
    program prog;
    void *frames; /* net_build.c's scope frames, max_depth + 2 of them */
} compiler;

void *arena_alloc(compiler *c, size_t size);
/* Room for one more element in an arena array of n elements whose
 * capacity is *cap (doubling, from `first`): returns the array, moved when
 * it grew (the old copy stays in the arena until the compile ends). */
void *arena_grow(compiler *c, void *arr, size_t elsize, int n, int *cap, int first);
#define ARENA_GROW(c, arr, n, cap, first) \
    ((arr) = arena_grow((c), (arr), sizeof *(arr), (n), &(cap), (first)))
char *arena_strndup(compiler *c, const char *s, size_t n);
void arena_release(arena *a);

/* Records the error at line/col (0 = none) and longjmps out of the compile.
 * The hint may be NULL. */
_Noreturn void compile_fail(compiler *c, int line, int col, const char *hint, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Phases. */
void net_lex(compiler *c);
void net_parse_program(compiler *c);
/* Builds the graph; the graph is owned by the caller, partial graphs are
 * freed by the caller on failure (g is filled progressively). */
void net_build_graph(compiler *c, net_graph *g);
/* Applies the program's train section over *tr (defaults not reset). */
void net_apply_train(compiler *c, net_train *tr);
/* Canonical text of the program (malloc'd). */
char *net_canonical_text(const program *p);
uint64_t net_fnv1a64(const char *s, size_t n);

/* The public copy of the syntax tree (net_syntax.c); NULL when out of
 * memory. */
net_syntax *net_syntax_copy(const program *p);

/* Edit distance, for "did you mean" hints. */
int net_edit_distance(const char *a, const char *b);

#endif
