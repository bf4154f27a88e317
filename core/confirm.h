/* confirm: what a session's result rests on. The given individuals
 * (default: the current Pareto front and the seed) are retrained K times
 * with different seeds (1..K) at the confirmation fidelity (default: the
 * session's top rung, core/rungs.h) on the session's evaluator, and each
 * run is evaluated on the test split, which nothing else reads: selection
 * and promotion see validation accuracy only (core/nsga2.h).
 *
 * Every run, as it ends, goes into the individual's note under
 * refs/notes/confirm (gevo-session(5)):
 *
 *   {"fidelity": {"images": 30000, "epochs": 3}, "seeds": [1, 2, 3],
 *    "runs": [{"seed": 1, "status": "ok", "val_acc": 0.87, "test_acc": 0.86,
 *              "params": 14410, "flops": 2.1e6, "seconds": 41.0,
 *              "weights": ".gevo/weights/g3-2.confirm-1.weights"}, ...],
 *    "n": 3, "val_mean": ..., "val_std": ..., "test_mean": ...,
 *    "test_std": ..., "complete": true}
 *
 * and its trained weights into SESSION/.gevo/weights/ID.confirm-S.weights
 * (gevo's weights format; .gevo/.gitignore keeps them out of git), for
 * export. The runs train in their own work folder, SESSION/.gevo/confirm,
 * so a kill loses nothing: the workers go on, and the next gevo confirm
 * re-attaches them, collects what ended meanwhile and starts only the runs
 * the notes lack (a failed run is tried again).
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_CONFIRM_H
#define GEVO_CORE_CONFIRM_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "sessions/session.h"

#define CONFIRM_NOTE          "confirm"
#define CONFIRM_DEFAULT_SEEDS 3
#define CONFIRM_MAX_SEEDS     32

typedef struct confirm_opts {
    int seeds;                     /* K (0: CONFIRM_DEFAULT_SEEDS) */
    long images;                   /* training images; -1: the top rung's; 0: all */
    int epochs;                    /* -1: the top rung's; 0: the program's */
    int slots, threads;            /* 0: the evaluator's defaults */
    double time_limit;             /* seconds per run; 0: none */
    const char *data_dir;          /* NULL: the session's */
    const char *evaluator;         /* NULL: the session's (gevo.json "evaluator") */
    const char *evaluator_options; /* "key=value" lines (Slurm), may be NULL */
} confirm_opts;

typedef enum confirm_event_kind {
    CONFIRM_EV_PLAN,     /* before anything trains: total runs, done already */
    CONFIRM_EV_QUEUED,   /* a run was submitted: it trains when a slot is free */
    CONFIRM_EV_STARTED,  /* a run's worker began (or was re-attached) */
    CONFIRM_EV_PROGRESS, /* a run's training progress */
    CONFIRM_EV_ENDED,    /* a run ended and is saved */
    CONFIRM_EV_COMPLETE  /* every run of an individual is saved */
} confirm_event_kind;

typedef struct confirm_event {
    confirm_event_kind kind;
    const char *id; /* the individual ("" for PLAN) */
    unsigned long seed;
    bool reattached;           /* STARTED: a worker of an earlier gevo confirm */
    double progress;           /* PROGRESS: 0..1 */
    bool ok;                   /* ENDED: it has a test accuracy */
    double val_acc, test_acc;  /* ENDED; COMPLETE: the means */
    double val_std, test_std;  /* COMPLETE */
    const char *message;       /* ENDED and not ok: why (a worker's words: untrusted) */
    int runs_done, runs_total; /* over every individual, after this event */
} confirm_event;

typedef void (*confirm_listener)(void *ctx, const confirm_event *ev);

/* The default individuals: the Pareto front of everything measured
 * (as selection compares: rung-aware, within the noise) and the seed,
 * the seed first. *ids is malloc'd. */
int confirm_default_ids(session *s, char (**ids)[SESSION_ID_MAX], size_t *n, gerr *err);

/* Confirms ids[0..n-1] (a writer session): returns 0 when every run is
 * saved, 1 when *stop became non-zero first (the workers go on; a later
 * call resumes), -1 with err. Runs that end without a test accuracy are
 * saved as failed and leave the individual incomplete (0 is still
 * returned; the listener said why). */
int confirm_run(session *s, const char (*ids)[SESSION_ID_MAX], size_t n, const confirm_opts *o,
                confirm_listener fn, void *ctx, volatile sig_atomic_t *stop, gerr *err);

/* Where the weights of id's confirm run with seed are kept:
 * SESSION/.gevo/weights/ID.confirm-S.weights, beside the individual's own
 * (core/weights_store.h, which never prunes these). */
int confirm_weights_path(session *s, const char *id, unsigned long seed, char *buf, size_t size,
                         gerr *err);
/* The note of id, parsed: what gevo report reads. */
typedef struct confirm_info {
    bool present;
    long images;
    int epochs;
    int n_seeds; /* planned */
    int n;       /* ok runs */
    double val[CONFIRM_MAX_SEEDS], test[CONFIRM_MAX_SEEDS];
    double val_mean, val_std, test_mean, test_std; /* NAN below 1 (mean) or 2 (std) runs */
    double params, flops;                          /* from the runs, NAN when none */
    bool complete;
} confirm_info;

int confirm_read(session *s, const char *id, confirm_info *out, gerr *err);

#endif
