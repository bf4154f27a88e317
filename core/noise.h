/* noise: how much a session's screening accuracy moves by chance alone,
 * measured, stored, and turned into selection's tolerance.
 *
 * Before the first selection the seed is trained K times (gevo.json
 * "noise_seeds", default 3; 0 turns it off) at screening fidelity with
 * seeds that differ from the selection's (selection seed + 1 .. + K), so
 * initialisation, the validation split, the batch order and dropout all
 * vary. Each run, as it ends, goes into a note on the seed under
 * refs/notes/noise (gevo-session(5)):
 *
 *   {"noise_seeds": 3, "fidelity": {"images": 10000, "epochs": 1},
 *    "runs": [{"seed": 2, "status": "ok", "val_acc": 0.749, "seconds": 3.1}, ...],
 *    "n": 3, "mean": 0.751, "std": 0.0045, "complete": true}
 *
 * so a kill during the measurement loses at most the runs in flight (their
 * workers are re-attached by the next open).
 *
 * Epsilon (gevo.json "epsilon"): "auto" (the default) is 2 standard
 * deviations. Two single runs of equally good networks differ by noise
 * with a standard deviation of sqrt(2) sd; 2 sd is 1.41 of that, so about
 * 84% of such differences are ties and decide nothing, while a network
 * better by 3 sd or more is still told apart in most draws. "Nsd" sets
 * another multiple, a plain number an absolute accuracy (0.01: one
 * point); 0 turns it off.
 *
 * Errors: -1 with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_NOISE_H
#define GEVO_CORE_NOISE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"
#include "sessions/session.h"

#define NOISE_DEFAULT_SEEDS 3
#define NOISE_MAX_SEEDS     32
#define NOISE_DEFAULT_SD    2.0
#define NOISE_NOTE          "noise"

typedef struct noise_run {
    unsigned long seed;
    bool ok;        /* it measured a validation accuracy */
    double val_acc; /* NAN unless ok */
    double seconds;
} noise_run;

typedef struct noise_info {
    char seed_id[SESSION_ID_MAX]; /* the individual measured (the seed) */
    int k;                        /* runs asked for; 0: no measurement */
    long images;                  /* the fidelity measured at (0: all) */
    int epochs;                   /* 0: the program's */
    noise_run runs[NOISE_MAX_SEEDS];
    int n_runs;  /* runs ended */
    int n_ok;    /* of them, with an accuracy */
    double mean; /* over the ok runs; NAN below one */
    double std;  /* sample standard deviation; NAN below two */
    bool complete;
} noise_info;

/* gevo.json "noise_seeds": 0 (off), or 2..NOISE_MAX_SEEDS; default 3. */
int noise_seeds_setting(session *s, int *k, gerr *err);
/* The session's seed individual (generation 0's first) into id. */
int noise_seed_id(session *s, char *id, gerr *err);
/* The measurement stored in the session; out->k == 0 when there is none. */
int noise_read(session *s, noise_info *out, gerr *err);
/* A fresh measurement of k runs at a fidelity, seeds first_seed.. */
void noise_plan(noise_info *ni, const char *seed_id, int k, long images, int epochs,
                unsigned long first_seed);
/* The seed of run i of the plan (first_seed + i) and whether it ended. */
unsigned long noise_run_seed(const noise_info *ni, int i);
bool noise_run_done(const noise_info *ni, unsigned long seed);
/* Writes the measurement as the seed's note. */
int noise_save(session *s, const noise_info *ni, gerr *err);
/* Adds the outcome of the run with seed (a gevo train result, or NULL for
 * a run that left none) and writes the note. */
int noise_record(session *s, noise_info *ni, unsigned long seed, const char *result_json,
                 gerr *err);

/* Selection's tolerance from gevo.json "epsilon" and the measurement:
 * *eps (0: off) and how it was chosen ("2 sd of 3 runs", "gevo.json
 * epsilon 0.01", "no noise measured"). */
int noise_epsilon(session *s, const noise_info *ni, double *eps, char *how, size_t size, gerr *err);
/* Parses an "epsilon" value: *sd_multiple for "auto"/"Nsd", else the
 * absolute *abs (then *sd_multiple is -1). */
int noise_epsilon_parse(const char *spec, double *sd_multiple, double *abs, gerr *err);
/* The session's gevo.json "epsilon" (a string, or a number: an absolute
 * accuracy) parsed as noise_epsilon_parse does. */
int noise_epsilon_setting(session *s, double *sd_multiple, double *abs, gerr *err);
/* How far an accuracy must rise to be beyond the session's noise (gevo
 * stats' "improved"): selection's epsilon when it is on; 0 when gevo.json
 * turns it off; unmeasured (auto before the measurement, or noise_seeds
 * 0), fallback. how says which. */
int noise_tolerance(session *s, double fallback, double *tol, char *how, size_t size, gerr *err);

/* An accuracy as people read it: "74.9% ±0.7" at screening with a
 * measured spread, "81.2% r2" at a higher rung, "74.9%" otherwise, "-"
 * for an unknown one (acc < 0 or not finite). */
void noise_format_acc(char *buf, size_t size, double acc, int rung, const noise_info *ni);

/* One line on the measurement for people: "noise: g0-1 trained 3 times
 * (10000 images, 1 epoch): val 74.9% ±0.7 (runs 74.1 75.3 75.2);
 * selection's tolerance 1.4 points (2 sd of 3 runs)", or that it is
 * still running, or off. */
void noise_describe(const noise_info *ni, double eps, const char *how, char *buf, size_t size);

#endif
