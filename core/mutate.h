/* mutate: the offline proposer ("--llm none"), random structural variation
 * of a gevo-net program's text. It is also the traditional-evolution
 * baseline the LLM operators are measured against.
 *
 * Generate and validate: a random edit of the source (a channel width, a
 * kernel size, an activation, a residual or a squeeze-excitation added or
 * removed, a dropout rate, a train setting such as lr or weight_decay...)
 * is compiled with net_compile(); an edit that does not compile, or that
 * leaves the canonical form (and so the hash) of the parent unchanged, is
 * thrown away and another is drawn, a bounded number of times. The text
 * is edited in place, so comments and layout survive and a diff shows
 * exactly the change.
 *
 * Deterministic: the same parent, gene and seed give the same result.
 *
 * Genes are the program's def blocks (net_list_blocks), plus two pseudo
 * genes: MUTATE_GENE_MAIN (top-level statements) and MUTATE_GENE_TRAIN
 * (the train section). Neither is a valid block name, so they never clash.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: a mutate_result owns its source (mutate_result_release). */
#ifndef GEVO_CORE_MUTATE_H
#define GEVO_CORE_MUTATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/memlimit.h"
#include "engine/base/error.h"
#include "engine/net.h"

/* The persona recorded for an offline proposal, and the head of every
 * rationale, so a human never mistakes one for an LLM's work. */
#define MUTATE_LABEL      "random mutation (no LLM)"
#define MUTATE_GENE_MAIN  "(main)"
#define MUTATE_GENE_TRAIN "(train)"

/* Candidate edits tried before giving up. */
#define MUTATE_MAX_TRIES 200

typedef struct mutate_result {
    char *source;        /* the new program (malloc'd), ends in '\n' */
    char rationale[320]; /* one line: MUTATE_LABEL ": conv width 24 -> 32 in `block`" */
    char gene[64];       /* the block touched, or a MUTATE_GENE_* name */
    char kind[32];       /* "width", "kernel", "activation", "residual+", ... */
    long params;         /* of the new program */
    double flops;
    uint64_t hash; /* canonical hash, differs from the parent's */
    int tries;     /* candidates drawn, this one included */
} mutate_result;

void mutate_result_release(mutate_result *r);

/* One random mutation of parent. gene: restrict the edit to this block or
 * pseudo gene (NULL or "" = anywhere). lim may be NULL (defaults); mem
 * NULL: no memory check, else an edit whose training does not fit its
 * limit is drawn again, as an invalid one is. Returns 0 with *out
 * filled, or -1 with err saying why (the parent does not compile, no such
 * gene, no valid edit found in MUTATE_MAX_TRIES). */
int mutate_random(const char *parent, const char *gene, uint64_t seed, const net_limits *lim,
                  const memlimit *mem, mutate_result *out, gerr *err);

/* Traditional crossover: one gene of parent a replaced by parent b's
 * version of the block of the same name (or b's train section for
 * MUTATE_GENE_TRAIN). gene NULL = a random gene where the two differ and
 * the result compiles (and fits mem, as for mutate_random). b_name names
 * b in the rationale (e.g. "g1-4"). Returns 0 with *out, or -1 with err. */
int mutate_crossover(const char *a, const char *b, const char *b_name, const char *gene,
                     uint64_t seed, const net_limits *lim, const memlimit *mem, mutate_result *out,
                     gerr *err);

/* The text of block `gene` of src, preceded by the blocks of src it calls
 * (directly or through each other) that `other` has no block of that
 * name for: what carries the gene over to another program. NULL when src
 * has no such block (or out of memory); malloc'd. */
char *mutate_gene_with_helpers(const char *src, const char *gene, const char *other);

#endif
