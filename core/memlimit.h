/* memlimit: how much memory one candidate's training may allocate, and
 * whether a program's training fits, decided before anything is trained.
 *
 * The limit of one training is gevo.json "max_memory" or a front end's
 * --max-memory ("512M", "2G"; "0": no limit), else half of the machine's
 * memory (MemTotal) divided by the evaluator's slots. What a training
 * needs is the engine's own plan (train_plan, engine/train.h): the bytes
 * `gevo train` will allocate, at the program's batch capped at the
 * training images as training caps it. A proposal, an offline mutation
 * and a researcher's edit that do not fit are refused with a message
 * naming both numbers, which also goes to the LLM in the repair prompt.
 * The evaluator passes the limit to every worker (gevo train
 * --max-memory) and keeps the plans of the workers running at once
 * within the budget.
 *
 * Errors: a function that can fail takes a gerr *err (last) and returns -1
 * with what and where in it (engine/base/error.h). */
#ifndef GEVO_CORE_MEMLIMIT_H
#define GEVO_CORE_MEMLIMIT_H

#include "engine/base/error.h"
#include "engine/net.h"
#include "sessions/session.h"

struct train_memory; /* engine/train.h */

typedef struct memlimit {
    double limit;   /* bytes one training may allocate; 0: no limit */
    double budget;  /* bytes the trainings running at once may plan in all; 0: no budget */
    char what[160]; /* where limit comes from, named in messages */
    long images;    /* training images, the batch's cap; 0: not known (no cap) */
    int epochs;     /* epochs each candidate is trained; 0: the program's */
    int threads;    /* threads each candidate is trained on */
} memlimit;

typedef struct memlimit_opts {
    const char *max_memory; /* a front end's --max-memory; NULL: gevo.json
                               "max_memory", else the default */
    int slots;              /* trainings at once; 0: EVALUATOR_DEFAULT_SLOTS */
    const char *data_dir;   /* the training data; NULL: gevo.json "data" */
    int subset;             /* training images per candidate; 0: all */
    int epochs;             /* 0: the program's */
    int threads;            /* per training; 0: EVALUATOR_DEFAULT_THREADS */
} memlimit_opts;

/* The limit and budget of a session's trainings, and the training images
 * (counted in the data, whose cache a worker maps too; when the data
 * cannot be loaded, the subset, else unknown). -1 with a message for a
 * max_memory that is not a size. */
int memlimit_for_session(memlimit *ml, session *s, const memlimit_opts *o, gerr *err);

/* The plan of training g as a candidate: its recipe with ml's epochs, on
 * ml's training images. Allocates nothing. */
int memlimit_plan(const memlimit *ml, const net_graph *g, struct train_memory *mem, gerr *err);

/* 0 when g's training fits ml->limit (always, without a limit), else -1
 * with "its training needs 16.4 GiB at batch 65536, more than the limit
 * of 3.0 GiB (WHAT); ..." and what to change. ml may be NULL (no check). */
int memlimit_check(const memlimit *ml, const net_graph *g, gerr *err);

#endif
