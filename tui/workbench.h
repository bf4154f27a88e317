/* workbench: the terminal UI (see man/gevo.1, KEYS and THE WORKBENCH).
 *
 * One process, one poll() loop over the terminal and the evolve object's
 * descriptors (LLM streams, training workers); nothing blocks, so a key is
 * answered while answers stream and trainings run. Quitting frees the
 * evolve object only: training workers go on, and reopening the session
 * re-attaches to them.
 *
 * Test hook (as tig does it): GEVO_TUI_SCRIPT names a file of keys and
 * commands, one item per line:
 *   keys        literal characters and <Name> keys: a, <Down>, <Enter>, <C-l>
 *   :wait-idle  wait until nothing is proposing, queued or training
 *   :dump FILE  write the screen as text (trailing blanks removed)
 *   :dump-attrs FILE  each row's styled runs: {STYLE "text"}, the style
 *               the colour element and attributes ("DIFF_ADD_WORD,bold")
 *   :resize C L resize the virtual terminal to C columns, L lines
 *   :click X Y  a click at column X, row Y (from 0); :wheel-up X Y and
 *               :wheel-down X Y the wheel there (nothing with GEVO_MOUSE=off)
 *   # comment
 * The screen then goes nowhere (newterm on an unlinked temporary file),
 * its size comes from LINES and COLUMNS, and the workbench quits at the
 * end of the script. */
#ifndef GEVO_TUI_WORKBENCH_H
#define GEVO_TUI_WORKBENCH_H

#include <stdbool.h>

#include "core/evolve.h"

typedef struct workbench_opts {
    const char *preset; /* evolve preset, NULL: "quick" */
    const char *llm;    /* "none" or a base URL; NULL: the session's */
    const char *model;
    bool review_set;             /* else the preset's policy (manual) */
    evolve_review_policy review; /* as gevo open --review-policy says */
    long review_max_params;      /* EVOLVE_REVIEW_AUTO_LIMITS's limit */
    int subset;                  /* training images, 0: the preset's */
    int epochs;                  /* 0: the preset's */
    const char *rungs;           /* fidelity rungs (core/rungs.h); NULL: the session's */
    int population, offspring;   /* 0: the preset's */
    const char *max_memory;      /* --max-memory; NULL: gevo.json's, else the default */
} workbench_opts;

/* Runs the workbench on the session in dir until the researcher quits.
 * Returns the process exit status; errors are printed to stderr after the
 * terminal is restored. */
int workbench_run(const char *dir, const workbench_opts *o);

#endif
