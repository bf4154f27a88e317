/* report: a session's result as the seed paper's table (gevo report, the
 * workbench's report view). Rows: the seed, then the confirmed
 * individuals (those with a note under refs/notes/confirm at the seed's
 * confirmation fidelity, core/confirm.h), labelled like the paper:
 *
 *   L  the highest mean test accuracy at no more parameters than the seed
 *   M  the fewest parameters with a mean test accuracy at least the seed's
 *
 * (one individual may be both: "L,M"), then the rest by size. Each row's
 * change in test accuracy against the seed is beyond noise when Welch's
 * two-sided t-test of the two sets of test accuracies over seeds gives
 * p < REPORT_P (unequal variances: a small network's runs may spread
 * more than the seed's); with fewer than two runs on a side nothing is
 * beyond noise.
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_REPORT_H
#define GEVO_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "sessions/session.h"

#define REPORT_P    0.05
#define REPORT_TEST "Welch's t-test, two-sided, p < 0.05"

typedef struct report_row {
    char id[SESSION_ID_MAX];
    char label[8]; /* "seed", "L", "M", "L,M" or "" */
    double params, delta_params_pct, flops;
    int seeds; /* runs with a test accuracy */
    double val_mean, val_std, test_mean, test_std;
    double delta_test; /* points (percent) against the seed; 0 for the seed */
    double p;          /* Welch's p against the seed; NAN when it cannot be computed */
    bool beyond_noise;
    int generation;
    char op[32], persona[48];
} report_row;

typedef struct report {
    char seed[SESSION_ID_MAX];
    long images; /* the confirmation fidelity (0: all images) */
    int epochs;
    report_row *rows; /* the seed first */
    size_t n;
    int skipped; /* confirmed at another fidelity: left out */
} report;

int report_build(session *s, report *out, gerr *err);
/* An accuracy's mean ± sd in percent: "92.52 ±0.10", "92.52" without a
 * spread, "-" without a mean. */
void report_format_pm(char *buf, size_t size, double mean, double sd);
void report_release(report *r);

#endif
