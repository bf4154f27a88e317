/* session_eval: the evaluator a session's settings choose (gevo.json
 * "evaluator": local, the default, or slurm with its "slurm.KEY"
 * settings), for every command that trains a session's individuals:
 * the loop (core/evolve.c) and gevo confirm (core/confirm.c) train on
 * the same engine with the same options.
 *
 * Errors: NULL with what and where in err (engine/base/error.h). */
#ifndef GEVO_CORE_SESSION_EVAL_H
#define GEVO_CORE_SESSION_EVAL_H

#include "core/evaluator.h"
#include "engine/base/error.h"
#include "sessions/session.h"

typedef struct session_eval_opts {
    const char *work_dir; /* the evaluator's work folder */
    const char *engine;   /* "local" or "slurm"; NULL: gevo.json "evaluator", else local */
    const char *options;  /* "key=value" lines over the session's slurm.KEY (may be NULL) */
    int slots, threads;   /* 0: EVALUATOR_DEFAULT_SLOTS, EVALUATOR_DEFAULT_THREADS */
    const char *llm;      /* the LLM options (core/llm_settings.h), whose key */
    const char *model;    /* variable the workers must never get */
    double max_memory;    /* evaluator_config's: bytes per worker, 0 = not passed */
    double memory;        /* evaluator_config's: the budget of the workers at once */
} session_eval_opts;

evaluator *session_eval_new(session *s, const session_eval_opts *o, gerr *err);

#endif
