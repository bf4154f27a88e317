/* propose: one proposal end to end, from parents in the session to a new,
 * validated individual recorded in it.
 *
 *   LLM:      context from the session (parents' genomes and results, the
 *             researcher's notes and rejection reasons on the lineage, for
 *             EoT an elite's change next to the seed's block) -> prompt ->
 *             answer -> proposal_check(); on failure the repair prompt with
 *             the exact error, up to max_repairs more rounds -> session_add
 *   offline:  (llm == NULL) mutate_random() or the gene swap of
 *             mutate_crossover(), labelled MUTATE_LABEL -> session_add
 *
 * What is recorded (the individual's tree, see gevo-session(5)):
 * prompt.txt holds every attempt's exact system and user messages,
 * response.txt every attempt's raw answer, each under a "===== attempt
 * K of N =====" header; reasoning.md the final reasoning and, per failed
 * attempt, what gevo's check reported; meta.json the model, the tokens and
 * latency summed over attempts. The summary line says how many attempts it
 * took.
 *
 * A proposal that fails (the LLM request fails after the client's own
 * retries, or every round's answer is unusable) is not an individual: a
 * session's individuals are valid ones. It is recorded as a failed
 * proposal (session_add_failed: its prompts, every raw answer, every
 * check error, tokens and cost), and the outcome keeps the whole
 * transcript and the last error for the caller to show. A request that
 * could not even start (bad request, nothing asked) is not recorded.
 *
 * Driving several proposals at once from a poll() loop:
 *
 *   propose *p = propose_start(&env, &req, &err);
 *   loop: poll on llm_client_pollfds(), llm_client_dispatch(), then for
 *         every p with propose_ready(p): propose_advance(p) (validates, and
 *         either submits a repair request or writes the individual);
 *         propose_finished(p) -> propose_get(p) -> propose_free(p)
 *
 * propose_run() is the blocking wrapper. Everything runs on the caller's
 * thread: callbacks only record the answer; the session is written in
 * propose_advance().
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: a propose owns its outcome until propose_free (or
 * propose_take_outcome); env's session, client and prompts are borrowed
 * and must outlive it. */
#ifndef GEVO_CORE_PROPOSE_H
#define GEVO_CORE_PROPOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/llm.h"
#include "core/memlimit.h"
#include "core/prompt.h"
#include "engine/base/error.h"
#include "engine/net.h"
#include "sessions/session.h"

typedef enum propose_op {
    PROPOSE_MUTATE,
    PROPOSE_CROSSOVER,
    PROPOSE_EOT
} propose_op;

/* The operator as recorded in meta.json: "mutation", "crossover", "eot". */
const char *propose_op_name(propose_op op);
/* Accepts "mutate", "mutation", "crossover", "eot". Returns 0 or -1. */
int propose_op_parse(const char *s, propose_op *op);

#define PROPOSE_DEFAULT_REPAIRS 2

typedef struct propose_env {
    session *s;                /* opened for writing */
    llm_client *llm;           /* NULL: the offline proposer */
    const prompt_set *prompts; /* needed with llm */
} propose_env;

typedef struct propose_request {
    propose_op op;
    int generation;        /* of the new individual (>= every parent's) */
    const char *parent;    /* id; required */
    const char *other;     /* crossover: the second parent; required */
    const char *gene;      /* block to rewrite; NULL = drawn at random */
    const char *persona;   /* NULL = drawn by the prompt set's weights */
    const char *elite;     /* EoT: NULL = the best measured individual
                                   with a block that differs from the seed's */
    const char *seed_id;   /* EoT: NULL = "g0-1" */
    const char *note;      /* the researcher's steering for this one
                                   proposal, put first among the notes; NULL = none */
    int max_repairs;       /* repair rounds after the first answer; < 0 = default 2 */
    const char *retry_of;  /* the failed proposal (gN-fK) this one asks again for, recorded
                              in meta.json "retry_of"; NULL = none */
    uint64_t seed;         /* draws of gene, persona, mutation */
    const net_limits *lim; /* NULL = defaults */
    /* the memory a candidate's training may allocate (core/memlimit.h):
       an answer (or an offline mutation) that does not fit is refused,
       and the repair prompt says why; NULL = not checked */
    const memlimit *mem;
    /* Optional: on_delta and on_retry are forwarded (streamed text for a
     * display); on_done is not used. */
    const llm_callbacks *watch;
} propose_request;

typedef struct propose_outcome {
    bool ok;
    char id[SESSION_ID_MAX];        /* the new individual when ok */
    char failed_id[SESSION_ID_MAX]; /* when !ok after asking the LLM: the
                                       failed proposal recorded ("g2-f1") */
    char error[2048];               /* when !ok: what failed, after how many attempts */
    char op[16];
    char persona[48]; /* persona name, or MUTATE_LABEL offline */
    char gene[64];    /* the block proposed for */
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    char model[256];            /* "" offline */
    char served_model[256];     /* the server's `model` field (sanitised), "" if none */
    int attempts;               /* LLM rounds: 1 + repairs (offline: 1) */
    long tokens_in, tokens_out; /* summed over attempts */
    double latency_s;           /* summed over attempts */
    double cost_usd;
    long params; /* of the new genome */
    double flops;
    char summary[256];
    char *program;           /* the new genome; on failure the last candidate or NULL */
    char *reasoning;         /* reasoning.md */
    char *prompt, *response; /* the transcripts (prompt.txt, response.txt) */
} propose_outcome;

void propose_outcome_release(propose_outcome *o);

typedef struct propose propose;

/* Gathers the context and submits the first request (or, offline, makes
 * the mutation). Returns NULL with err filled on a bad request (unknown
 * id, no such gene, read-only session, EoT without a usable elite...);
 * nothing is written then. */
propose *propose_start(const propose_env *env, const propose_request *req, gerr *err);
/* An answer (or the offline candidate) is waiting for propose_advance. */
bool propose_ready(const propose *p);
bool propose_finished(const propose *p);
/* Checks the waiting answer: submits a repair request, or finishes (writes
 * the individual, or fails). Returns 0 while the proposal goes on or has
 * finished well, -1 when it has finished with an error. */
int propose_advance(propose *p);
const propose_outcome *propose_get(const propose *p);
/* Moves the outcome to *out (the caller releases it). */
void propose_take_outcome(propose *p, propose_outcome *out);
/* Cancels a request in flight (no individual is written) and frees p. */
void propose_free(propose *p);

/* Blocking: start, the poll loop, advance until finished. Returns 0 when
 * out->ok, else -1 (out->error says why). Release out in both cases. */
int propose_run(const propose_env *env, const propose_request *req, propose_outcome *out);

/* Default parents for a command line: the individual with the highest
 * val_acc, else the newest; for crossover also the next best (or newest)
 * other one. Returns the number found (n <= 2), or -1 with err. */
int propose_pick_parents(session *s, propose_op op, char ids[2][SESSION_ID_MAX], gerr *err);

#endif
