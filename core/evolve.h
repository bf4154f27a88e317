/* evolve: the generation loop that ties proposals, review, training and
 * selection together. The headless `gevo run` and the workbench drive the
 * same object through this API; neither holds evolution logic of its own.
 *
 * Life of an individual (one generation):
 *   proposing -> pending review -> approved -> training -> trained
 *                     |                            |-> failed (crash, error,
 *                     |-> rejected (reason)        |   divergence, timeout)
 *   A proposal that fails validation after its repair attempts is failed
 *   too. The review policy may approve automatically.
 *
 * Everything that must survive is written to the session as it happens
 * (individuals, reviews, results, the journal), so an evolve object can be
 * dropped at any moment and a new one on the same session resumes: trained
 * results are kept, training workers still running are re-attached or
 * restarted, pending reviews stay pending.
 *
 * The object is single-threaded and event driven: the caller polls the
 * descriptors from evolve_pollfds() (with its own, e.g. the terminal) and
 * calls evolve_dispatch(); nothing blocks.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * (or NULL) with what and where in it (engine/base/error.h). */
#ifndef GEVO_CORE_EVOLVE_H
#define GEVO_CORE_EVOLVE_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/memlimit.h"
#include "core/noise.h"
#include "core/rungs.h"
#include "engine/base/error.h"
#include "sessions/session.h"

typedef struct evolve evolve;

typedef enum evolve_review_policy {
    EVOLVE_REVIEW_MANUAL,     /* every proposal waits for a decision */
    EVOLVE_REVIEW_AUTO,       /* approve everything valid */
    EVOLVE_REVIEW_AUTO_LIMITS /* approve when params <= auto_max_params, else wait */
} evolve_review_policy;

typedef struct evolve_config {
    const char *preset; /* "quick" (default) or "paper": fills the rest */
    int population;     /* survivors per generation */
    int offspring;      /* proposals per generation */
    double p_crossover, p_mutation, p_eot;
    int elitism; /* best individuals always kept */
    evolve_review_policy review;
    long auto_max_params;
    /* training of each candidate: screening, rung 0 of the rungs */
    int train_subset;        /* images, 0 = all; -1: the rungs' first */
    int train_epochs;        /* epochs; -1: the rungs' first (0 there: the program's) */
    const char *rungs;       /* fidelity rungs (core/rungs.h); NULL: gevo.json "rungs",
                          else the preset's */
    int eta;                 /* promote the best 1/eta of a rung; 0: gevo.json "eta", else 3 */
    double train_time_limit; /* seconds per candidate, 0 = none */
    int slots;               /* candidates trained at once */
    int threads;             /* BLAS threads per candidate */
    const char *max_memory;  /* bytes one candidate's training may allocate
                                ("512M", "2G", "0": no limit); NULL:
                                gevo.json "max_memory", else half of the
                                machine's memory over the slots
                                (core/memlimit.h) */
    const char *data_dir;    /* NULL: the session's */
    /* proposals */
    const char *llm; /* "none" (offline proposer) or a base URL; NULL: session/env */
    const char *model;
    int repair_attempts;           /* 2 */
    int max_empty_generations;     /* generations in a row without a valid
                                      proposal before the loop says it is
                                      stuck (evolve_status.stop_cause); 0:
                                      gevo.json "max_empty_generations", else
                                      EVOLVE_DEFAULT_MAX_EMPTY */
    const char *evaluator;         /* "local" or "slurm"; NULL: the session's
                                  "evaluator" setting, else local */
    const char *evaluator_options; /* "key=value" lines for the evaluator,
                                  over the session's "slurm.KEY" settings
                                  (Slurm: see eval_slurm_new); may be NULL */
    unsigned long seed;
} evolve_config;

#define EVOLVE_DEFAULT_MAX_EMPTY 2

/* The memory limit of cfg's trainings on s (core/memlimit.h): what the
 * loop checks proposals and edits against and gives the evaluator, and
 * what gevo propose checks its proposal against. */
int evolve_memlimit(session *s, const evolve_config *cfg, memlimit *ml, gerr *err);

/* Fills cfg with a preset ("quick" when NULL). Returns -1 for an unknown
 * preset. */
int evolve_config_preset(evolve_config *cfg, const char *preset);

typedef enum evolve_state {
    EVOLVE_PROPOSING,
    EVOLVE_PENDING,  /* waiting for review */
    EVOLVE_APPROVED, /* queued for training */
    EVOLVE_TRAINING,
    EVOLVE_TRAINED,
    EVOLVE_REJECTED,
    EVOLVE_FAILED /* keep last: EVOLVE_NSTATES counts the states */
} evolve_state;
#define EVOLVE_NSTATES (EVOLVE_FAILED + 1)

const char *evolve_state_name(evolve_state s);

/* One individual as the loop sees it. Strings are owned by the evolve
 * object and valid until the next evolve_dispatch() or action. */
typedef struct evolve_ind {
    char id[SESSION_ID_MAX]; /* "" while still proposing */
    int slot;                /* stable index while proposing */
    int generation;
    evolve_state state;
    const char *op, *persona;
    char parents[2][SESSION_ID_MAX];
    int n_parents;
    double progress; /* training: 0..1 */
    double val_acc;  /* -1 unknown; at rung */
    int rung;        /* the fidelity rung of val_acc (0: screening) */
    long params;     /* -1 unknown */
    double flops, seconds;
    bool on_front;              /* in the current Pareto front */
    bool survivor;              /* selected into the current population */
    const char *reasoning_live; /* streamed so far while proposing */
    const char *message;        /* failure or rejection reason */
    /* A failed proposal's record (gN-fK, session_add_failed), "" when the
     * failure was not recorded or this is no failed proposal. */
    char failed[SESSION_ID_MAX];
} evolve_ind;

typedef struct evolve_status {
    int generation; /* the generation being built */
    int proposing, pending, approved, training, trained, rejected, failed;
    /* LLM usage: the session's totals, across processes and reopenings
     * (session_totals_get), with this process's requests in flight */
    long tokens_in, tokens_out, requests;
    double cost;
    char llm[384];        /* "no LLM: random mutation" or model @ URL */
    bool generation_done; /* nothing left to propose, review or train */
    /* Why evolution cannot go on by itself, "" while it can: the LLM
     * refuses the key, the budget is spent, the server cannot be reached
     * after every retry, or max_empty_generations generations in a row got
     * no valid proposal. The headless loop stops on it; the workbench
     * shows it and lets the researcher decide. */
    char stop_cause[1200];
    /* The noise measurement (core/noise.h): runs asked for and ended (0
       and 0 when off), their spread (NAN until measured), and selection's
       accuracy tolerance from it (0: off). Generation 1 is not done
       before the measurement is. */
    int noise_seeds, noise_runs;
    double noise_mean, noise_std;
    double epsilon;
    char epsilon_how[96];
    /* Promotion (core/rungs.h): fidelity rungs, promotions training. */
    int n_rungs, promoting;
} evolve_status;

/* Opens the loop on a session (a writer, or read-only for browsing). */
int evolve_open(evolve **out, session *s, const evolve_config *cfg, gerr *err);
void evolve_free(evolve *e); /* workers keep running; a later open re-attaches */

/* Event loop integration. */
int evolve_pollfds(evolve *e, struct pollfd *fds, int max);
int evolve_timeout_ms(evolve *e); /* -1: no deadline */
void evolve_dispatch(evolve *e, const struct pollfd *fds, int n);

void evolve_status_get(evolve *e, evolve_status *st);
/* Whether promotions may start (the default); off, those training go on
 * and end (gevo run waits for them once its generations are done). */
void evolve_set_promotion(evolve *e, bool on);
/* The noise measurement and the rungs of the loop (owned by e). */
const noise_info *evolve_noise(const evolve *e);
const rungs *evolve_rungs(const evolve *e);
/* Every individual of a generation (< 0: the current one), in order. */
const evolve_ind *evolve_list(evolve *e, int generation, size_t *n);
const evolve_ind *evolve_find(evolve *e, const char *id);

/* Actions of the researcher (also what the review policy does). */
int evolve_approve(evolve *e, const char *id, gerr *err);
/* Returns how many were approved, or -1. */
int evolve_approve_all(evolve *e, gerr *err);
int evolve_reject(evolve *e, const char *id, const char *reason, gerr *err);
/* Replaces the proposal's genome with the researcher's edit. Validates it
 * first (the compiler, and the memory its training needs): on an error
 * returns -1 with the message (the compiler's with its line) in err;
 * nothing is saved. */
int evolve_edit(evolve *e, const char *id, const char *genome, gerr *err);
int evolve_annotate(evolve *e, const char *id, int line, const char *text, gerr *err);
/* A note on a line the proposal removed: line old_line of its first
 * parent's genome (the review note's "old_line"). */
int evolve_annotate_old(evolve *e, const char *id, int old_line, const char *text, gerr *err);
/* Asks for a new proposal in place of id (rejected with the note), with the
 * note passed to the LLM as steering. */
int evolve_regenerate(evolve *e, const char *id, const char *note, gerr *err);
int evolve_cancel_training(evolve *e, const char *id, gerr *err);
/* Selects survivors of the current generation (NSGA-II), records the
 * journal entry, and starts the next generation's proposals. Refused while
 * the generation is not done unless force (then unfinished candidates are
 * dropped as failed "skipped"). */
int evolve_next_generation(evolve *e, bool force, gerr *err);

/* A log of what happened, for the event pane: "g1-3 trained: val 0.842". */
typedef struct evolve_event {
    double time;    /* seconds since evolve_open */
    const char *id; /* may be "" */
    const char *text;
} evolve_event;
void evolve_set_listener(evolve *e, void (*fn)(void *ctx, const evolve_event *ev), void *ctx);

#endif
