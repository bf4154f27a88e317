/* evolve_propose: where the generation loop's proposals come from. One
 * small interface over the two proposers: the offline one (random
 * structural mutation, core/mutate.h) and the LLM (core/propose.h). Each
 * proposal is a job: started, then reported done (a new individual in the
 * session, or a failure) from a later dispatch, with the LLM's reasoning
 * streamed in between. Internal to core/evolve.c.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h).
 * Ownership: evolve_proposer_new's result is freed by evolve_proposer_free;
 * the session, configuration and memory limit are borrowed. */
#ifndef GEVO_CORE_EVOLVE_PROPOSE_H
#define GEVO_CORE_EVOLVE_PROPOSE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/evolve.h"
#include "core/memlimit.h"
#include "engine/base/error.h"
#include "sessions/session.h"

typedef struct evolve_proposal_req {
    int generation;
    unsigned long seed;
    const char *op; /* "mutation", "crossover" or "eot" */
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    const char *steering; /* the researcher's note for a regeneration */
    const char *retry_of; /* the failed proposal asked again for, or NULL */
} evolve_proposal_req;

typedef struct evolve_proposal_done {
    int job;
    bool ok;
    char id[SESSION_ID_MAX]; /* the new individual when ok */
    char summary[320];
    char error[1024];               /* why not, when !ok */
    char failed_id[SESSION_ID_MAX]; /* when !ok: the recorded failed proposal, "" if none */
    char persona[48];               /* when !ok: the persona it was asked of, "" if none */
} evolve_proposal_done;

typedef struct evolve_proposal_event {
    int job;
    const evolve_proposal_done *done; /* set when the job ended */
    const char *stream_text;          /* else: reasoning as it arrives */
} evolve_proposal_event;

typedef struct evolve_proposer evolve_proposer;

/* mem: the memory limit every proposal is checked against (borrowed; may
 * be NULL: none). */
evolve_proposer *evolve_proposer_new(session *s, const evolve_config *cfg, const memlimit *mem,
                                     gerr *err);
void evolve_proposer_free(evolve_proposer *p);
/* Returns the job number (>= 0) or -1 with err. */
int evolve_proposer_start(evolve_proposer *p, const evolve_proposal_req *req, gerr *err);
int evolve_proposer_pollfds(evolve_proposer *p, struct pollfd *fds, int max);
int evolve_proposer_timeout_ms(evolve_proposer *p);
void evolve_proposer_dispatch(evolve_proposer *p, const struct pollfd *fds, int n,
                              void (*cb)(void *ctx, const evolve_proposal_event *ev), void *ctx);
/* Why no proposal can be made now (the LLM client refuses: key refused,
 * budget spent, server unreachable; see llm_client_blocked), or NULL. */
const char *evolve_proposer_blocked(evolve_proposer *p);
/* The session's LLM totals (every process's, through the session, and
 * this one's requests still in flight), and what proposes ("no LLM:
 * random mutation"). */
void evolve_proposer_usage(evolve_proposer *p, session_totals *t, char *who, size_t who_size);

#endif
