/* rungs: the fidelities of a session, from screening up to confirmation,
 * and which individual successive halving promotes next (as ASHA and
 * Hyperband do: Li et al. 2018, 2020).
 *
 * A rung is a training budget: images of the training split and epochs.
 * Rung 0 is screening, what every candidate gets (the quick preset: 10,000
 * images, 1 epoch); the top rung is confirmation (the quick preset: the
 * whole training split, 3 epochs), also gevo confirm's default. Written
 * as gevo.json "rungs" and --rungs hold them: IMAGES:EPOCHS, comma
 * separated, lowest first; IMAGES "all" is the whole training split, a
 * rung without :EPOCHS trains the program's own epochs:
 *
 *     10000:1,30000:1,all:3
 *
 * A single number N keeps the first N rungs of the preset's list; one rung
 * turns promotion off.
 *
 * Promotion: among the individuals measured at rung r, the best
 * floor(n / eta) in NSGA-II's order at rung r, and every member of the
 * Pareto front, are retrained at rung r + 1 (each at most once); the
 * highest rung is served first. Selection then compares two individuals on
 * the highest rung both have (core/nsga2.h).
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_RUNGS_H
#define GEVO_CORE_RUNGS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/nsga2.h"
#include "engine/base/error.h"
#include "sessions/session.h"

#define RUNGS_MAX         (SESSION_RUNG_MAX + 1)
#define RUNGS_DEFAULT_ETA 3
/* What IMAGES "all" counts as where a budget must be a number (the time
 * limit of a promotion): the size of Fashion-MNIST's and CIFAR-10's
 * training splits, near enough. */
#define RUNGS_ALL_IMAGES  60000

typedef struct rungs_fidelity {
    long images; /* 0: the whole training split */
    int epochs;  /* 0: the program's own */
} rungs_fidelity;

typedef struct rungs {
    int n; /* 1..RUNGS_MAX */
    rungs_fidelity r[RUNGS_MAX];
} rungs;

/* The rungs of a preset ("quick" or NULL, "paper"); -1 for another. */
int rungs_preset(rungs *out, const char *preset);
/* Parses spec (see above) into out; a single number takes that many of
 * base. out is unchanged on error. */
int rungs_parse(rungs *out, const char *spec, const rungs *base, gerr *err);
/* A session's rungs: gevo.json "rungs" over its "preset"'s (the quick
 * preset's for another preset); what gevo confirm defaults to. */
int rungs_session(session *s, rungs *out, gerr *err);
/* "10000:1,30000:1,all:3", as rungs_parse reads it. */
void rungs_format(const rungs *rs, char *buf, size_t size);
/* "10,000 images, 1 epoch" / "all images, the program's epochs". */
void rungs_describe(const rungs_fidelity *r, char *buf, size_t size);
/* How many times screening's budget (images x epochs) rung r is; "all"
 * counts as RUNGS_ALL_IMAGES, the program's epochs as screening's. */
double rungs_cost_ratio(const rungs *rs, int r);

/* The highest rung a result note was trained at or tried at (its "rung"
 * and every "rungs" entry, failed promotions too); 0 for a screening one. */
struct json_t;
int rungs_result_tried(struct json_t *result);
/* The result note of a promotion to rung: old is the note before (a
 * screening result, or one promoted already), now the promotion's own
 * result (NULL when its worker left none; why then says what happened).
 * An ok result replaces the numbers and gets "rung": rung; any other
 * keeps old's and its rung. Either way "rungs" lists every rung's
 * summary (rung, status, val_acc, seconds, images, epochs, message), so
 * the rung is tried once. Malloc'd text, NULL with err. */
char *rungs_promoted_note(const char *old, const char *now, int rung, const char *why, gerr *err);

/* One individual as promotion sees it. */
typedef struct rungs_ind {
    nsga2_measure m; /* its measures, rung-aware */
    int tried;       /* the highest rung trained at or tried (a failed
                        promotion too), or in flight: >= m.rung */
    bool on_front;   /* in the Pareto front (promoted whatever its rank) */
} rungs_ind;

/* The next promotion: the index of the individual to retrain, its new
 * rung in *to_rung; -1 when there is none. The highest rung below the top
 * first; within it the best 1/eta in NSGA-II's order (objs, with their
 * tolerances, at that rung), then the front members not among them. */
int rungs_next_promotion(const rungs *rs, int eta, const rungs_ind *v, int n,
                         const nsga2_objectives *objs, int *to_rung, gerr *err);

#endif
