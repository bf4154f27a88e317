/* proposal: from an LLM's answer to a checked candidate program.
 *
 * Three steps, each usable alone, and proposal_check() for all of them:
 *
 *   parse     the answer into reasoning (the prose, <think> text) and code:
 *             fenced blocks (``` or ~~~, with or without a language tag,
 *             indented, unclosed), SEARCH/REPLACE edits, or, without any
 *             fence, a bare `def` block; CRLF is read as LF;
 *   apply     the code to the parent's source: a rewritten gene replaces
 *             the parent's def block of the same name (new helper blocks
 *             go just before it; a whole program replaces the parent), or
 *             the SEARCH/REPLACE edits are applied in order, matching
 *             exactly or else line by line with whitespace ignored;
 *   validate  the result with net_compile() (parse, shapes, limits), refuse
 *             a program whose training would need more memory than the
 *             limit (core/memlimit.h) and one that is the parent again.
 *
 * Every failure leaves a message meant for two readers: the researcher,
 * and the LLM in the repair prompt (prompt_args.error), so it says what is
 * wrong and what a correct answer looks like.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: a proposal and an outcome own their strings (release them). */
#ifndef GEVO_CORE_PROPOSAL_H
#define GEVO_CORE_PROPOSAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/memlimit.h"
#include "engine/base/error.h"
#include "engine/net.h"

typedef struct proposal_code {
    char lang[32]; /* the fence's tag ("gevo", "python", "" none) */
    char *text;    /* the code, dedented, LF line ends, ends in '\n' */
    bool closed;   /* false: the fence was never closed */
    bool fenced;   /* false: bare code found in the prose */
    int line;      /* 1-based line in the answer where it starts */
} proposal_code;

typedef struct proposal_edit {
    char *search; /* LF line ends, ends in '\n' */
    char *replace;
} proposal_edit;

typedef struct proposal {
    char *reasoning; /* the answer without its code, trimmed */
    proposal_code *blocks;
    int n_blocks;
    proposal_edit *edits;
    int n_edits;
    bool edit_unclosed; /* a SEARCH/REPLACE block never ended */
    size_t alloc_blocks, alloc_edits;
} proposal;

/* Splits answer (len bytes). Returns 0, or -1 only when out of memory.
 * An answer without any code parses fine: apply reports it. */
int proposal_parse(proposal *p, const char *answer, size_t len);
void proposal_release(proposal *p);

/* Applies p to parent for the gene gene_name. truncated: the answer was
 * cut off (finish_reason "length"); an unclosed block is then an error.
 * Returns 0 with *out (malloc'd) set, or -1 with err filled.
 * *whole is set when the answer was a whole program (may be NULL). */
int proposal_apply(const proposal *p, const char *parent, const char *gene_name, bool truncated,
                   char **out, bool *whole, gerr *err);

/* Applies SEARCH/REPLACE edits to src. Returns 0 with *out, or -1 with
 * err naming the edit that did not match (or matched several places). */
int proposal_apply_edits(const char *src, const proposal_edit *edits, int n, char **out, gerr *err);

/* Replaces the def block `name` of src by gene (a def block of the same
 * name, optionally preceded by helper defs). Returns 0 with *out, or -1. */
int proposal_replace_gene(const char *src, const char *name, const char *gene, char **out,
                          gerr *err);

typedef enum proposal_stage {
    PROPOSAL_OK,
    PROPOSAL_ERR_PARSE,     /* no usable code in the answer, or cut off */
    PROPOSAL_ERR_APPLY,     /* the code does not fit the parent */
    PROPOSAL_ERR_INVALID,   /* the program does not compile */
    PROPOSAL_ERR_UNCHANGED, /* the program is the parent again */
    PROPOSAL_ERR_MEMORY,    /* valid, but its training needs more memory than the limit */
    PROPOSAL_ERR_NOMEM
} proposal_stage;

const char *proposal_stage_name(proposal_stage s);

typedef struct proposal_outcome {
    proposal_stage stage;
    char *reasoning;    /* for display; "" if none */
    char *program;      /* the candidate (NULL if it did not apply) */
    bool whole_program; /* the answer replaced the whole program */
    int n_edits;        /* SEARCH/REPLACE edits applied */
    /* The exact error for the researcher and the repair prompt, "" when
     * ok: the compiler's message with the source line and a caret. */
    char error[2048];
    long params; /* of the valid candidate */
    double flops;
    uint64_t hash; /* canonical hash, for de-duplication */
} proposal_outcome;

/* parse + apply + validate. lim may be NULL (defaults); mem NULL: no
 * memory check, else a program whose training does not fit mem's limit
 * is PROPOSAL_ERR_MEMORY (memlimit_check's message). Returns 0 when
 * out->stage is PROPOSAL_OK, else -1. Release out in both cases. */
int proposal_check(const char *answer, size_t len, bool truncated, const char *parent,
                   const char *gene_name, const net_limits *lim, const memlimit *mem,
                   proposal_outcome *out);
void proposal_outcome_release(proposal_outcome *o);

/* Compiles src as a proposal and checks its training's memory against mem
 * (NULL: not checked); on failure writes the full error (with source line
 * and caret) into err. Fills params/flops/hash when given. */
int proposal_validate(const char *src, const net_limits *lim, const memlimit *mem, long *params,
                      double *flops, uint64_t *hash, gerr *err);

#endif
