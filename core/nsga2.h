/* nsga2: multi-objective selection (Deb, Pratap, Agarwal, Meyarivan 2002).
 *
 * Individuals are reduced to their measured numbers (nsga2_measure); the
 * objectives are a table of (name, direction, getter), so a run can select
 * on validation accuracy vs. parameters (the default, as in LLM-GE), or
 * add FLOPs and training time. The pieces:
 *
 *   nsga2_rank()        fast non-dominated sort and crowding distance
 *   nsga2_select()      environmental selection: the best k (whole fronts,
 *                       the last front cut by crowding distance)
 *   nsga2_tournament()  binary tournament: lower rank, then larger crowding
 *   nsga2_pareto_front() the non-dominated members of a set
 *
 * Determinism: every tie is broken by the lower index, so the same inputs
 * and seed give the same choices on every machine.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * with the message there (engine/base/error.h). Ownership: an
 * nsga2_ranking owns its arrays (nsga2_ranking_release); nothing else here
 * allocates.
 *
 * Failed individuals (training error, divergence, or a non-finite value of
 * any objective) are never in a front with valid ones: they all share one
 * front after the last valid front, with crowding distance 0.
 *
 * Noise: an objective may have a tolerance (nsga2_objectives.tol): two
 * values that differ by no more than it are equal (epsilon-dominance), so
 * accuracy differences within the measured noise decide nothing and the
 * other objectives do. a dominates b when it is worse on no objective (by
 * more than its tolerance) and better on one (by more than it).
 *
 * Fidelity: an individual may be measured at several rungs (successive
 * halving, core/rungs.h): rung 0 is screening, higher rungs train on more
 * images for more epochs. Two individuals are compared on the highest rung
 * both have: the accuracy and training time of that rung; parameters and
 * FLOPs do not depend on it. Such a relation can have cycles (a beats b at
 * rung 1, b beats c and c beats a at rung 0); the sort then takes the
 * members of a cycle with the fewest dominators as the next front, so
 * every valid individual gets a front. Crowding distance in a front uses
 * the highest rung every member of it has.
 *
 * Crowding distance: within a front, for each objective whose values are
 * not all equal, the two extremes get INFINITY and the others the gap
 * between their neighbours divided by the objective's range, summed over
 * objectives. An objective with no spread in the front adds nothing (no
 * member is an extreme of it). Fronts of one or two members are all
 * INFINITY. */
#ifndef GEVO_CORE_NSGA2_H
#define GEVO_CORE_NSGA2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/base/error.h"
#include "engine/base/rng.h"

#define NSGA2_MAX_RUNGS 8

/* What selection sees of an individual. Nothing here is a test-split
 * number: the test split is for reporting only (gevo confirm, gevo report). */
typedef struct nsga2_measure {
    double val_acc; /* validation accuracy, 0..1, at rung */
    double params;  /* trainable parameters */
    double flops;   /* forward FLOPs per image */
    double seconds; /* training time, at rung */
    bool failed;    /* error or diverged: ranks after every valid one */
    /* The highest rung measured (0: screening only). When it is above 0,
       rung_acc[r] and rung_seconds[r] hold rung r's numbers for r below
       it (NAN where r was not measured); rung itself is val_acc and
       seconds. A zeroed measure is a screening one. */
    int rung;
    double rung_acc[NSGA2_MAX_RUNGS];
    double rung_seconds[NSGA2_MAX_RUNGS];
} nsga2_measure;

typedef enum nsga2_direction {
    NSGA2_MAXIMIZE,
    NSGA2_MINIMIZE
} nsga2_direction;

typedef struct nsga2_objective {
    const char *name;
    nsga2_direction dir;
    double (*get)(const nsga2_measure *m);
    const char *summary;
    /* the value at a rung, NAN when not measured there; NULL for an
       objective that does not depend on the fidelity (params, flops) */
    double (*get_at)(const nsga2_measure *m, int rung);
} nsga2_objective;

#define NSGA2_MAX_OBJECTIVES 8

/* The objectives a run selects on, in order, each with its tolerance:
 * differences of at most tol[j] are ties (0: exact comparison). */
typedef struct nsga2_objectives {
    int n;
    const nsga2_objective *o[NSGA2_MAX_OBJECTIVES];
    double tol[NSGA2_MAX_OBJECTIVES];
} nsga2_objectives;

/* The objective called name, or NULL. Known: val_acc (maximise), params,
 * flops, seconds (minimise). */
const nsga2_objective *nsga2_objective_find(const char *name);
/* val_acc and params. */
void nsga2_objectives_default(nsga2_objectives *objs);
/* Parses a comma-separated list ("val_acc,params,flops"), as gevo.json's
 * "objectives" holds it. Returns 0, or -1 with a message in err (unknown
 * or repeated name, empty list, too many); objs is unchanged on error. */
int nsga2_objectives_parse(nsga2_objectives *objs, const char *spec, gerr *err);
/* Sets the tolerance of the objective called name (>= 0, finite). Returns
 * 0, or 1 when objs does not select on it (nothing changes), -1 for a bad
 * value. */
int nsga2_objectives_tolerance(nsga2_objectives *objs, const char *name, double tol);

/* Fills m from the text of a `gevo train` result JSON: status "ok" is
 * valid; "error" and "diverged" are failed; "timeout" and "stopped" are
 * valid when a finite val_acc was measured (training was cut short, the
 * network was still evaluated), failed otherwise. Returns 0, or -1 with a
 * message in err when the text is not such a result (m is then failed). */
int nsga2_measure_from_result(nsga2_measure *m, const char *json, gerr *err);
/* The same from a parsed result (a jansson object): its "rung" (default
 * 0) and, for promoted results, "rungs" (gevo-session(5)) fill rung,
 * rung_acc and rung_seconds. Never reads a test-split field. */
struct json_t;
int nsga2_measure_from_json(nsga2_measure *m, struct json_t *result, gerr *err);

/* m's numbers at rung r as a screening measure (rung 0): failed when r
 * was not measured. */
nsga2_measure nsga2_measure_at(const nsga2_measure *m, int r);
/* The highest rung a and b both have a finite accuracy at, or -1. */
int nsga2_common_rung(const nsga2_measure *a, const nsga2_measure *b);
/* The sign of a's validation accuracy minus b's on their common rung (on
 * their own highest rungs when they have none in common); failed ones
 * are below every valid one. No tolerance: for the elitism of the loop. */
int nsga2_compare_acc(const nsga2_measure *a, const nsga2_measure *b);

/* True when a is no worse than b on every objective and better on one
 * (within the objectives' tolerances, on the highest rung both have).
 * Failed individuals dominate nobody and are dominated by every valid one. */
bool nsga2_dominates(const nsga2_measure *a, const nsga2_measure *b, const nsga2_objectives *objs);

/* The result of ranking a set of n individuals.
 * Ownership: the arrays belong to the ranking, all four in one block that
 * starts at crowding; nsga2_ranking_release. */
typedef struct nsga2_ranking {
    int n;
    int n_fronts;     /* including the failed front, if any */
    int *rank;        /* rank[i]: 0 for the first front */
    double *crowding; /* crowding[i], within its front */
    int *order;       /* all indices by rank, then crowding (largest first), then index */
    int *front_start; /* front f is order[front_start[f] .. front_start[f+1]-1] */
} nsga2_ranking;

/* Ranks m[0..n-1] on objs. Returns 0, or -1 with a message in err (bad
 * arguments, out of memory). n may be 0. */
int nsga2_rank(nsga2_ranking *r, const nsga2_measure *m, int n, const nsga2_objectives *objs,
               gerr *err);
/* Frees the arrays and leaves r empty (r itself is the caller's). */
void nsga2_ranking_release(nsga2_ranking *r);

/* Environmental selection: the indices of the best min(k, n) individuals
 * into chosen (fill by fronts, the last front by crowding distance, ties
 * by index), in that order. Returns how many were written. */
int nsga2_select(const nsga2_ranking *r, int k, int *chosen);

/* The crowded-comparison winner of a and b: lower rank, then larger
 * crowding distance, then lower index. */
int nsga2_better(const nsga2_ranking *r, int a, int b);

/* Binary tournament among pool[0..n_pool-1] (indices into the ranked set):
 * two distinct members drawn with g (one when n_pool == 1), the better one
 * by nsga2_better wins. Returns the winner's index, or -1 if the pool is
 * empty. pool may be NULL to mean every index 0..r->n-1. */
int nsga2_tournament(const nsga2_ranking *r, const int *pool, int n_pool, rng *g);

/* The non-dominated valid members of m[0..n-1]: their indices into front,
 * in index order. Individuals with equal objective values are all in the
 * front when none dominates them. Returns the count (0 when every
 * individual failed), or -1 with a message in err. */
int nsga2_pareto_front(const nsga2_measure *m, int n, const nsga2_objectives *objs, int *front,
                       gerr *err);

#endif
