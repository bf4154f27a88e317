/* Training a compiled network on a data set: the loop, the optimisers
 * (SGD with momentum/Nesterov, AdamW), learning-rate schedules, warm-up,
 * gradient clipping, validation and test evaluation.
 *
 * Fitness is validation accuracy on a seeded split held out of the
 * training set; the test set is evaluated for reporting only. */
#ifndef GEVO_ENGINE_TRAIN_H
#define GEVO_ENGINE_TRAIN_H

#include <signal.h>
#include <stdbool.h>

#include "engine/data.h"
#include "engine/model.h"
#include "engine/net.h"

typedef enum train_status {
    TRAIN_OK,
    TRAIN_DIVERGED, /* the loss became NaN or infinite */
    TRAIN_TIMEOUT,  /* the time limit ended training early */
    TRAIN_STOPPED,  /* a signal (SIGTERM, SIGINT) ended training early */
    TRAIN_ERROR
} train_status;

const char *train_status_name(train_status s);

typedef struct train_epoch {
    int epoch;         /* 1-based */
    double train_loss; /* mean over the epoch's batches */
    double train_acc;
    double val_loss, val_acc;
    double lr;      /* at the end of the epoch */
    double seconds; /* since training started */
} train_epoch;

typedef enum train_event_kind {
    TRAIN_EV_START,
    TRAIN_EV_STEP,
    TRAIN_EV_EPOCH,
    TRAIN_EV_EVAL
} train_event_kind;

typedef struct train_event {
    train_event_kind kind;
    int epoch, epochs;
    long step, steps; /* global step and total steps */
    double loss, acc; /* running mean over the epoch so far */
    double lr;
    double images_per_sec;
    double elapsed, eta;             /* seconds */
    const train_epoch *epoch_result; /* TRAIN_EV_EPOCH */
    const char *what;                /* TRAIN_EV_EVAL: "validation" or "test" */
    int batch;                       /* TRAIN_EV_START: images per step */
    long images;                     /* TRAIN_EV_START: training images */
} train_event;

typedef struct train_opts {
    double val_frac;             /* held out of the training set (0.1) */
    const data_set *val;         /* the data's own validation split, or NULL: val_frac */
    int subset;                  /* training images used, 0 = all */
    int threads;                 /* OpenBLAS threads (2) */
    double time_limit;           /* seconds, 0 = none */
    int eval_batch;              /* images per evaluation pass, 0 = the training batch */
    bool skip_test;              /* do not evaluate the test set */
    double progress_every;       /* seconds between step events (0.5) */
    volatile sig_atomic_t *stop; /* set by a signal handler to stop early */
    void (*on_event)(void *ctx, const train_event *ev);
    void *ctx;
    /* bytes a training may allocate (train_model_new checks, before it
       allocates anything), 0: no limit; max_memory_what names the limit
       in the error ("--max-memory") */
    double max_memory;
    const char *max_memory_what;
} train_opts;

void train_opts_default(train_opts *o);

typedef struct train_result {
    train_status status;
    char message[512];
    double val_acc, val_loss;
    double test_acc, test_loss; /* -1 when not evaluated */
    long params;
    double flops;          /* forward FLOPs per image */
    double seconds;        /* wall time of the training loop */
    double images_per_sec; /* training images per second */
    long images;           /* training images processed */
    int batch;             /* images per step: the recipe's, capped at the training images */
    long steps;
    double peak_rss_mb;
    int n_epochs;
    train_epoch *epochs; /* malloc'd; train_result_release() */
    /* where train_run's wall time went, in seconds: setting up (the
       split, the input statistics, the optimiser's state), assembling
       training batches, the training steps (forward, backward, optimiser),
       evaluating the validation split and the test set */
    double setup_seconds, batch_seconds, step_seconds, val_seconds, test_seconds;
} train_result;

void train_result_release(train_result *r);

/* Trains m (whose graph's train section is the recipe) on the training
 * view and evaluates on the validation view and the test set. Fills r;
 * returns 0 when training ran (whatever its status), -1 on an error that
 * prevented it (r->status == TRAIN_ERROR, r->message says why). */
int train_run(model *m, const net_train *recipe, const data_set *train, const data_set *test,
              const train_opts *o, train_result *r);

/* ---- memory -------------------------------------------------------------
 * What a training allocates is known before anything is: the model's one
 * block (model_plan_bytes), the trainer's buffers, sized by the code
 * that allocates them, and evaluation's views (model_eval_plan_bytes,
 * made at the first evaluation). Not counted: the data (mapped from its
 * cache) and the data's views (4 bytes per image). */
typedef struct train_memory {
    int batch;            /* images per step: the recipe's, capped at the training images */
    int model_batch;      /* the model's capacity: batch, or the evaluation batch if larger */
    size_t model_bytes;   /* model_new's block at model_batch */
    size_t trainer_bytes; /* the optimiser's state, the shuffle order, the per-epoch results */
    size_t eval_bytes;    /* evaluation's views, one per thread */
    size_t bytes;         /* all three */
} train_memory;

/* The memory of training g with recipe t on `images` training images
 * (0: not known, the batch is not capped) with evaluation passes of
 * eval_batch images (0: the batch), on `threads` threads. Allocates
 * nothing. Returns 0, or -1 with a message. */
int train_plan(const net_graph *g, const net_train *t, long images, int eval_batch, int threads,
               train_memory *mem, gerr *err);
/* 0 when mem fits in limit bytes; else -1 with an error that names both
 * numbers and `what` (the option or setting that set the limit): "needs
 * 16.4 GiB at batch 65536, more than the limit of 4.0 GiB (--max-memory)". */
int train_check_memory(const train_memory *mem, double limit, const char *what, gerr *err);
/* The limit when none is given: half of the machine's memory (MemTotal). */
double train_default_memory_limit(void);
/* Plans the training of g on the training view o will split from train
 * (o->val, o->val_frac, o->subset), refuses it when it needs more than
 * o->max_memory, caps t->batch at the training images and allocates the
 * model for it (seeded by t->seed). *mem gets the plan. NULL with a
 * message on failure; nothing is allocated then. */
model *train_model_new(const net_graph *g, net_train *t, const data_set *train, const train_opts *o,
                       train_memory *mem, gerr *err);

/* Accuracy and mean loss of m on a view, in evaluation mode. */
int train_evaluate(model *m, const data_view *v, const float *mean, const float *std,
                   int eval_batch, double *acc, double *loss, gerr *err);

/* The learning rate at a global step (0-based), for a recipe with total
 * steps; plateau_scale is the product of plateau decays so far. */
double train_lr_at(const net_train *t, long step, long total, int epoch, double plateau_scale);

#endif
