/* evaluator: trains candidates somewhere and reports what happens. One
 * interface (a table of functions, like tig's view_ops) over engines: the
 * local process pool (eval_local.c) and Slurm (eval_slurm.c); another
 * engine (Kubernetes Jobs, HTCondor) is one new file with its own ops and
 * a constructor declared below, built on the shared parts at the end of
 * this header (evaluator.c).
 *
 * Every engine runs the same worker, `gevo train GENOME --progress --out
 * result.json ...`, and keeps one folder per candidate under its work
 * folder (normally <session>/.gevo/work), shared with the workers:
 *
 *   <work>/<id>/genome.net      a copy of the submitted program
 *   <work>/<id>/progress.jsonl  the worker's stdout: one JSON line per event
 *   <work>/<id>/stderr.log      the worker's stderr
 *   <work>/<id>/result.json     the result, written whole by the worker
 *   <work>/<id>/job.json        how it was started: argv, limits, pids
 *   <work>/<id>/pid             the worker's process id (local engine)
 *   <work>/<id>/train.sh        the worker's command line (Slurm engine)
 *   <work>/<id>/exit            "exit N" or "signal N", when it ended
 *   <work>/<id>/collected       present once the caller saved its outcome
 *                               (evaluator_collected)
 *
 * so a worker outlives the process that started it, and evaluator_reattach
 * in a later process (a reopened session) collects it. An outcome the
 * caller did not get to save (killed in between) is reported again by the
 * next process's reattach, from the files the worker left.
 *
 * The loop, in the caller (non-blocking throughout):
 *
 *   struct pollfd pfd[16];
 *   int n = evaluator_pollfds(ev, pfd, 16);        // plus the caller's own
 *   poll(pfd, n, evaluator_timeout_ms(ev));
 *   evaluator_event e[8];
 *   int k = evaluator_poll(ev, e, 8);               // 0..8 events
 *   ... use them ...; evaluator_event_clear(&e[i]) for each
 *   ... once a FINISHED or FAILED outcome is saved: evaluator_collected()
 *
 * Outcomes: each submitted or reattached candidate ends with exactly one
 * FINISHED or FAILED event. FINISHED: the worker wrote a result whose
 * status is ok, diverged, timeout or stopped (selection decides what that
 * means). FAILED: no usable result, with a reason a person can act on: the
 * compile error of an invalid program, "killed by signal 9", "exited with
 * status 1: <last stderr line>", "time limit of 60 s exceeded",
 * "cancelled". */
#ifndef GEVO_CORE_EVALUATOR_H
#define GEVO_CORE_EVALUATOR_H

#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>

#include "engine/base/error.h"

/* The defaults of slots and threads per slot, set here so every caller
 * agrees. Measured by make bench's pair test on the reference machine
 * (2 cores, exquisitenetv2): two candidates at once with one thread each
 * train 1.08-1.21x the images/s of one at a time with two threads (the
 * engine's own threads scale 1.6x, not 2x, on two cores), and a
 * generation has several candidates to train. */
#ifndef EVALUATOR_DEFAULT_SLOTS
#define EVALUATOR_DEFAULT_SLOTS 2
#endif
#ifndef EVALUATOR_DEFAULT_THREADS
#define EVALUATOR_DEFAULT_THREADS 1
#endif
#define EVALUATOR_ID_MAX 64

typedef struct evaluator_config {
    char dir[2048]; /* the work folder; created if missing */
    int slots;      /* workers at once; more wait in a queue */
    int threads;    /* OpenBLAS threads per worker (gevo train --threads) */
    double grace;   /* seconds between SIGTERM and SIGKILL; also the slack
                        after a job's time limit before it is stopped */
    char exe[2048]; /* the gevo binary; "" = this program (/proc/self/exe) */
    /* the variable holding the LLM's API key ("" = none): workers never
       get it, nor any GEVO_LLM_API_KEY* (see evaluator_worker_env) */
    char key_env[64];
    /* bytes one worker may allocate, passed as gevo train --max-memory
       (0: no limit); < 0: not passed (the worker's own default) */
    double max_memory;
    /* bytes the planned memory of the workers running at once may add up
       to (core/memlimit.h), 0: no budget. A candidate waits until its
       plan fits beside the running ones; one larger than the whole
       budget fails. Local engine only: Slurm places jobs itself. */
    double memory;
} evaluator_config;

/* slots EVALUATOR_DEFAULT_SLOTS, threads EVALUATOR_DEFAULT_THREADS,
 * grace 10 s, max_memory not passed, no memory budget, dir, exe and
 * key_env empty. */
void evaluator_config_default(evaluator_config *cfg);
/* Sets "slots", "threads", "grace" (seconds), "max_memory", "memory"
 * (sizes such as 512M or 2G), "dir" or "exe" from text. */
int evaluator_config_set(evaluator_config *cfg, const char *key, const char *value, gerr *err);

/* One candidate to train. */
typedef struct evaluator_job {
    const char *id;          /* [A-Za-z0-9._-], 1..63 characters, not starting
                           with '.'; unique within the work folder */
    const char *genome;      /* path of the gevo-net program; copied */
    const char *const *args; /* more gevo train options, NULL-terminated
                           (may be NULL): --data DIR, --subset N, --epochs N,
                           --seed N, --set K=V ...; --out, --progress,
                           --threads and --time-limit are the evaluator's */
    double time_limit;       /* seconds of training (gevo train --time-limit);
                           0 = none. The worker is stopped after
                           time_limit + grace, killed grace later. */
    int threads;             /* 0 = the configuration's */
    double memory;           /* bytes its training plans to allocate
                                (memlimit_plan), counted against the
                                configuration's memory budget; 0 = not
                                known: counted as its max_memory */
} evaluator_job;

typedef enum evaluator_event_kind {
    EVALUATOR_STARTED,  /* a worker began (or was found by reattach) */
    EVALUATOR_PROGRESS, /* a progress line of the worker */
    EVALUATOR_FINISHED, /* a result: see status */
    EVALUATOR_FAILED,   /* no usable result: see reason */
} evaluator_event_kind;

/* Ownership: result_json is malloc'd and belongs to the event; free it
 * with evaluator_event_clear. Numbers a line did not carry are NAN (-1 for
 * the integers). */
typedef struct evaluator_event {
    evaluator_event_kind kind;
    char id[EVALUATOR_ID_MAX];
    /* STARTED */
    bool reattached; /* found in the work folder, started by another process */
    int pid;         /* the worker's process id (local engine), or 0 */
    /* PROGRESS */
    char phase[16]; /* "start", "step", "epoch", "eval" (then what = "val"/"test") */
    char what[16];
    int epoch, epochs;
    long step, steps;
    double loss, acc, val_acc, lr, images_per_sec, eta, elapsed;
    /* FINISHED and FAILED */
    char status[16];        /* the result's status, "" when there was no result */
    char reason[1024];      /* FAILED: why; FINISHED: the result's message, if any */
    bool cancelled;         /* FAILED because evaluator_cancel asked */
    char *result_json;      /* the text of result.json, or NULL */
    char result_path[2300]; /* where it is, or "" */
} evaluator_event;

void evaluator_event_clear(evaluator_event *e);

/* A FIFO of events not yet handed out; zero-initialised is empty. */
typedef struct evaluator_queue {
    evaluator_event *ev;
    int head, len, cap;
} evaluator_queue;

/* What every engine keeps of a candidate: engines put it first in their
 * own job struct, so the table below holds any engine's jobs. */
typedef struct evaluator_jobhead {
    char id[EVALUATOR_ID_MAX];
    char dir[PATH_MAX]; /* <work>/<id> */
    bool done;          /* its outcome is queued: dropped at the next poll */
    long long prog_off; /* how much of progress.jsonl was read */
    double memory;      /* bytes counted against the memory budget */
} evaluator_jobhead;

/* The candidates an evaluator follows, in submission order. */
typedef struct evaluator_jobs {
    evaluator_jobhead **v;
    size_t n, alloc;
} evaluator_jobs;

typedef struct evaluator evaluator;
struct json_t;

/* An engine. Each function returns 0 or a count on success, -1 with a
 * message in err on failure; none blocks for long. */
typedef struct evaluator_ops {
    const char *name;
    int (*submit)(evaluator *ev, const evaluator_job *job, gerr *err);
    /* reads progress, notices ended workers, enforces limits, starts
       queued candidates: events go to ev->q, ended jobs are marked done */
    void (*step)(evaluator *ev);
    int (*cancel)(evaluator *ev, const char *id, gerr *err);
    int (*pollfds)(evaluator *ev, struct pollfd *pfd, int max);
    int (*timeout_ms)(evaluator *ev);
    /* reattach: takes over the candidate id whose job.json is job (not
       collected); returns 1 when it did (and queued STARTED), 0 when the
       folder is another engine's or was never started, -1 out of memory */
    int (*adopt)(evaluator *ev, const char *id, struct json_t *job);
    void (*free_job)(evaluator_jobhead *j);
    void (*release)(evaluator *ev); /* frees what impl owns, and impl */
} evaluator_ops;

/* The ops of the evaluator NAME, whose file defines NAME_submit, NAME_step
 * and the rest (tig's DEFINE_VIEW): a new evaluator is one file and
 * `static const evaluator_ops NAME_ops = EVALUATOR_OPS(NAME);`. */
#define EVALUATOR_OPS(NAME)                                                                   \
    {                                                                                         \
        .name = #NAME, .submit = NAME##_submit, .step = NAME##_step, .cancel = NAME##_cancel, \
        .pollfds = NAME##_pollfds, .timeout_ms = NAME##_timeout_ms, .adopt = NAME##_adopt,    \
        .free_job = NAME##_free_job, .release = NAME##_release,                               \
    }

struct evaluator {
    const evaluator_ops *ops;
    evaluator_config cfg; /* dir absolute */
    char exe[PATH_MAX];   /* the program workers run */
    evaluator_jobs jobs;
    evaluator_queue q; /* events not yet handed out */
    void *impl;
};

/* The local process pool (eval_local.c): workers are detached processes
 * (own session and process group, stdout to progress.jsonl), so they
 * survive the death of this process and of its terminal. Returns NULL
 * with a message in err (work folder not writable, bad configuration). */
evaluator *eval_local_new(const evaluator_config *cfg, gerr *err);

/* Slurm (eval_slurm.c): candidates are batch jobs submitted with sbatch
 * (those submitted together, a job array), followed with squeue and
 * scontrol (sacct where accounting exists), cancelled with scancel; the
 * work folder must be on a file system the compute nodes share. options
 * is NULL or "key=value" lines (a later line wins): partition, account,
 * qos, time (sbatch --time; default from the job's time limit), cpus
 * (default: threads), mem, sbatch (more sbatch arguments, split at
 * spaces; none of the options gevo sets, nor a prefix of one), setup (a
 * shell line run before the worker, e.g. "module load openblas"), requeue
 * (resubmissions of a preempted, node-failed or vanished job; 0 = fail
 * it), array (1: submit together as a job array; 0: one job each),
 * array_limit (tasks of an array running at once, 0 = no limit),
 * array_wait (seconds without a new candidate before the array is
 * submitted, default 2), interval (seconds between squeue calls, default
 * 2). cfg->slots is not used: Slurm decides what runs. Jobs get only the
 * variables of evaluator_worker_env (sbatch --export with their names).
 * Returns NULL with a message in err. */
evaluator *eval_slurm_new(const evaluator_config *cfg, const char *options, gerr *err);
/* The option keys eval_slurm_new knows, NULL-terminated (for callers that
 * read them from elsewhere, e.g. the session's "slurm.KEY" settings). */
extern const char *const eval_slurm_keys[];

/* Queues a candidate; it starts when a slot is free (maybe right away).
 * Errors: bad id, id already queued or running (here, or still running
 * from an earlier process), unreadable genome, options the evaluator owns.
 * The files of an earlier, ended run of the same id are replaced, even if
 * never collected: reattach first to keep them. */
int evaluator_submit(evaluator *ev, const evaluator_job *job, gerr *err);
/* Reads progress, notices ended workers, enforces time limits, starts
 * queued candidates; writes up to max events. Never blocks. */
int evaluator_poll(evaluator *ev, evaluator_event *out, int max);
/* Stops a queued or running candidate; its FAILED event (cancelled) comes
 * from a later evaluator_poll, once the worker is gone. */
int evaluator_cancel(evaluator *ev, const char *id, gerr *err);
/* File descriptors worth waking up for (POLLIN); returns how many. */
int evaluator_pollfds(evaluator *ev, struct pollfd *pfd, int max);
/* How long the caller's poll() may sleep: -1 when nothing is active. */
int evaluator_timeout_ms(evaluator *ev);
/* Adopts the uncollected candidates in the work folder started by other
 * processes; their STARTED (reattached) events, then their outcomes, come
 * from evaluator_poll. Returns how many were adopted. */
int evaluator_reattach(evaluator *ev, gerr *err);
/* Candidates queued or running (whose outcome is still to come). */
int evaluator_active(evaluator *ev);
/* Whether id is queued or running here (submitted or adopted). */
bool evaluator_tracks(evaluator *ev, const char *id);
/* Marks id's outcome as saved by the caller (<work>/<id>/collected): a
 * later reattach leaves it alone. Call it only after the outcome is
 * stored for good, so that a crash in between loses nothing. */
int evaluator_collected(evaluator *ev, const char *id, gerr *err);
/* Frees the evaluator. Running workers are left running (a later
 * evaluator_reattach collects them); queued candidates are dropped. */
void evaluator_free(evaluator *ev);

/* ---- for engines: the parts every engine shares (evaluator.c) ------------ */

/* A progress file larger than this is not followed. */
#define EVALUATOR_PROGRESS_MAX (64L << 20)

/* Checks the configuration every engine needs (dir, threads, grace),
 * makes the work folder, finds the worker program; an evaluator with ops
 * and impl, dir made absolute. NULL with err (impl is not freed). */
evaluator *evaluator_alloc(const evaluator_config *cfg, const evaluator_ops *ops, void *impl,
                           gerr *err);

/* A zeroed slot at the end, or NULL when out of memory. */
evaluator_event *evaluator_queue_push(evaluator_queue *q);
/* Moves up to max events to out (the caller then owns them). */
int evaluator_queue_take(evaluator_queue *q, evaluator_event *out, int max);
void evaluator_queue_release(evaluator_queue *q);
/* Queues a FAILED event with reason (cancelled as given). */
void evaluator_push_failed(evaluator_queue *q, const char *id, const char *reason, bool cancelled);

/* kind and id set, the numbers NAN / -1. */
void evaluator_event_init(evaluator_event *e, evaluator_event_kind kind, const char *id);

/* The job of id in the table (done or not), or NULL. */
evaluator_jobhead *evaluator_jobs_find(const evaluator_jobs *t, const char *id);
/* Appends j (the table owns it from then on). 0, or -1 out of memory. */
int evaluator_jobs_add(evaluator_jobs *t, evaluator_jobhead *j);
/* Sets j's id and folder (<dir>/<id>). 0, or -1 with err (path too long). */
int evaluator_job_init(evaluator_jobhead *j, const char *dir, const char *id, gerr *err);
/* <j's folder>/<name> into out. */
void evaluator_job_path(const evaluator_jobhead *j, const char *name, char *out, size_t size);
/* The candidate's job.json when it is there and not collected (an
 * earlier process's worker may still be at it), else NULL (json_decref
 * it). */
struct json_t *evaluator_job_uncollected(const evaluator_jobhead *j);
/* The exit file a worker's wrapper writes last: true and its first line
 * ("exit 0", "signal 9") in how when it is there. */
bool evaluator_job_exit(const evaluator_jobhead *j, char *how, size_t size);
/* Queues the outcome of j from what its worker left (the rest of its
 * progress, result.json, the last stderr line; how: the exit file's text
 * or NULL) and marks j done; returns the event for the engine to amend,
 * or NULL when out of memory. */
evaluator_event *evaluator_job_outcome(evaluator *ev, evaluator_jobhead *j, const char *how);

/* 0 when id is a valid candidate id, else -1 with a message. */
int evaluator_check_id(const char *id, gerr *err);
/* 0 when a job can be submitted (id, genome, limits, no option the
 * evaluator owns in args, not already queued or running here), else -1
 * with a message. */
int evaluator_check_job(evaluator *ev, const evaluator_job *job, gerr *err);
/* Makes the candidate folder dir, removes what an earlier run left there
 * and copies the genome to dir/genome.net. */
int evaluator_stage(const char *dir, const evaluator_job *job, gerr *err);
/* The worker's argv (malloc'd, NULL-terminated; evaluator_argv_free):
 * exe train --progress --out DIR/result.json --threads T [--time-limit S]
 * [--max-memory BYTES] ARGS... DIR/genome.net, with ev's program, threads
 * (when the job says 0) and max_memory. NULL when out of memory. */
char **evaluator_worker_argv(const evaluator *ev, const char *dir, const evaluator_job *job);
/* The bytes a job counts against the memory budget: its plan, else the
 * configuration's max_memory (0 when neither is known). */
double evaluator_job_memory(const evaluator *ev, const evaluator_job *job);
/* Whether a job of `need` bytes fits beside `used` bytes of running jobs
 * (always, without a budget). */
bool evaluator_memory_fits(const evaluator *ev, double used, double need);
/* 0 when a job of `need` bytes can start once enough of the running ones
 * have ended; -1 with why it never can ("its training plans to allocate
 * 5.0 GiB, more than the memory budget of 4.0 GiB ..."). */
int evaluator_memory_check(const evaluator *ev, double need, gerr *err);
void evaluator_argv_free(char **argv);
/* Closes the ends of the pipe p that are open (>= 0): what a start that
 * failed half-way leaves. */
void evaluator_close_pipe(const int p[2]);
/* The environment a worker gets, chosen, never inherited whole: PATH,
 * HOME, USER, LOGNAME, SHELL, TMPDIR, LANG, LC_*, TZ, OPENBLAS_*, OMP_*,
 * GEVO_* and ASAN_OPTIONS, LSAN_OPTIONS, UBSAN_OPTIONS, except the API key's variable (cfg->key_env) and
 * GEVO_LLM_API_KEY*. extra is NULL or a prefix also kept (Slurm's
 * commands need "SLURM_"). NULL-terminated "NAME=value" strings
 * (evaluator_argv_free), NULL when out of memory. */
char **evaluator_worker_env(const evaluator_config *cfg, const char *extra);
/* Whether the variable name is one evaluator_worker_env passes. */
bool evaluator_env_kept(const evaluator_config *cfg, const char *name);
/* A number of a JSON object (job.json, a progress line): NAN, or -1 for
 * the integer, when the key is missing or not a number. */
double evaluator_jnum(struct json_t *o, const char *key);
long evaluator_jint(struct json_t *o, const char *key);
/* Fills a PROGRESS event from one line of --progress output; returns 0,
 * 1 for the final "result" line (e is then untouched), -1 for a line that
 * is not a progress event. */
int evaluator_parse_progress(const char *line, const char *id, evaluator_event *e);
/* Queues the complete lines of dir/progress.jsonl after *off as PROGRESS
 * events and advances *off; steps in a row fold into the latest, so a slow
 * caller is not flooded. A file shorter than *off (a restarted worker) is
 * read from its start. */
void evaluator_read_progress(evaluator_queue *q, const char *dir, const char *id, long long *off);
/* Turns what a worker left behind into its final event. result_json is
 * the text of result.json or NULL (the event takes ownership); how is the
 * way the process ended ("exit 0", "signal 9", or NULL if unknown);
 * stderr_tail its last stderr line or NULL. */
void evaluator_outcome(evaluator_event *e, const char *id, char *result_json,
                       const char *result_path, const char *how, const char *stderr_tail);

/* The last non-empty line of a file, cut to size ("" if none). */
void evaluator_last_line(const char *path, char *out, size_t size);
/* Makes path and its parents as needed. */
int evaluator_mkdir_p(const char *path, gerr *err);
/* The gevo program workers run (and gevo export --train): configured, or
 * this program (/proc/self/exe); it must be an executable file. */
int evaluator_find_exe(const char *configured, char *out, size_t size, gerr *err);

#endif
