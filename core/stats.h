/* stats: what each persona, model, operator and (model, persona) pair has
 * produced in a session, counted from the session itself (individuals,
 * their results and reviews, failed proposals, the journal's last front),
 * so the numbers are the same after any resume and add up to what was
 * asked of the LLMs: proposals = valid (first answer or repaired) + failed.
 *
 * Improvement "beyond noise": a proposal improved when its validation
 * accuracy exceeds its (better) parent's by more than the session's noise
 * tolerance, the one selection uses (core/noise.h noise_tolerance: the
 * measured noise's epsilon, or gevo.json "epsilon"), else 0.01 (one point
 * of accuracy) while no noise is measured.
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_STATS_H
#define GEVO_CORE_STATS_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "sessions/session.h"

#define STATS_DEFAULT_NOISE 0.01

/* One proposal as counted. */
typedef struct stats_record {
    int generation;
    char op[32], persona[48], model[256];
    bool valid;    /* an individual (else a failed proposal) */
    int attempts;  /* LLM rounds; 1 = valid at the first answer */
    bool approved; /* approved or approved after an edit */
    bool edited, rejected, trained;
    bool has_delta; /* trained, and so is a parent */
    double delta;   /* val_acc minus the best parent's */
    bool improved;  /* delta > the noise tolerance */
    bool front;     /* on the journal's last front */
    long tokens_in, tokens_out;
    double cost_usd, latency_s;
} stats_record;

typedef struct stats_row {
    long proposals, valid_first, repaired, failed, approved, edited, rejected, trained;
    long with_delta, improved, front;
    double delta_sum; /* mean: delta_sum / with_delta */
    long tokens_in, tokens_out;
    double cost_usd, latency_sum; /* mean latency: latency_sum / proposals */
} stats_row;

typedef struct stats_group {
    char name[256];
    stats_row row;
} stats_group;

typedef struct stats_pair {
    char model[256], persona[48];
    stats_row row;
} stats_pair;

typedef struct stats {
    stats_record *records; /* every proposal, the seed left out */
    size_t n_records;
    stats_group *personas, *models, *operators; /* sorted by name */
    size_t n_personas, n_models, n_operators;
    stats_pair *pairs; /* sorted by model, then persona */
    size_t n_pairs;
    stats_row total;
    double noise; /* the improvement tolerance */
    char noise_how[96];
} stats;

/* Counts every proposal of the session. Returns 0 or -1 with err. */
int stats_collect(session *s, stats *st, gerr *err);
void stats_release(stats *st);

/* Adds one record to a row. */
void stats_row_add(stats_row *row, const stats_record *r);

/* The counts as a text table (sections per persona, model, operator,
 * pair, then the total; names cut to fit), appended to sb. Returns 0, or
 * -1 when out of memory. The names are untrusted: show them safely. */
struct strbuf;
int stats_format(const stats *st, struct strbuf *sb);

/* The bandit's reward of one proposal in [0, 1]: 0 failed, 0.25 valid,
 * 0.5 trained, 1 improved beyond noise. */
double stats_reward(const stats_record *r);

#endif
