/* `gevo run SESSION`: evolution without the workbench. The same evolve
 * object the workbench drives, in a poll() loop; on a terminal a live
 * status line, otherwise plain log lines. Ctrl-C stops cleanly (trainings
 * go on in the background and a later run collects them); running it
 * again resumes where the session stands. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/evaluator.h"
#include "core/evolve.h"
#include "engine/base/text.h"
#include "sessions/session.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "run",
    "Runs the evolution of a session (made by gevo new) without the\n"
    "workbench: proposals, review by policy, training, NSGA-II selection,\n"
    "until the session has the given number of generations. Running it\n"
    "again resumes; Ctrl-C stops cleanly.\n",
    NULL,
    1,
    "the session folder is missing",
};

typedef struct run_view {
    bool tty;
    bool status_shown;
} run_view;

static void clear_status(run_view *v)
{
    if (v->tty && v->status_shown) {
        fputs("\r\033[K", stderr);
        v->status_shown = false;
    }
}

static void on_event(void *ctx, const evolve_event *ev)
{
    run_view *v = ctx;
    clear_status(v);
    time_t t = time(NULL);
    struct tm tm;
    localtime_r(&t, &tm);
    cli_line(stdout, "%02d:%02d:%02d %s", tm.tm_hour, tm.tm_min, tm.tm_sec, ev->text);
    fflush(stdout);
}

static void show_status(run_view *v, evolve *e, int target)
{
    if (!v->tty)
        return;
    evolve_status st;
    evolve_status_get(e, &st);
    size_t n;
    const evolve_ind *list = evolve_list(e, -1, &n);
    double prog = 0;
    int ntr = 0;
    for (size_t i = 0; list && i < n; i++)
        if (list[i].state == EVOLVE_TRAINING) {
            prog += list[i].progress;
            ntr++;
        }
    char *llm = text_safe(st.llm, 0); /* the model's name, the server's address */
    char noise[64] = "";
    if (st.noise_seeds && st.noise_runs < st.noise_seeds)
        snprintf(noise, sizeof noise, "  noise %d/%d", st.noise_runs, st.noise_seeds);
    else if (st.noise_seeds)
        snprintf(noise, sizeof noise, "  noise ±%.1f", 100 * st.noise_std);
    char promo[32] = "";
    if (st.promoting)
        snprintf(promo, sizeof promo, "  promoting %d", st.promoting);
    fprintf(stderr,
            "\r\033[Kgeneration %d/%d  proposing %d  review %d  training %d  trained %d  failed %d"
            "%s%s | %s",
            st.generation, target, st.proposing, st.pending, st.training, st.trained, st.failed,
            noise, promo, llm ? llm : "");
    free(llm);
    if (ntr)
        fprintf(stderr, " | %.0f%%", 100 * prog / ntr);
    fflush(stderr);
    v->status_shown = true;
}

/* The options, parsed into (tui/cli/opts.h). A number left at its
   `unset` value (0, -1 for --subset and --seed) keeps the preset's. */
typedef struct options {
    const char *preset, *llm, *model, *engine, *data, *max_memory, *rungs_spec;
    long generations, time_limit, seed;
    int slots, threads, population, offspring, subset, epochs, max_empty;
    cli_review review;
    cli_slurm slurm;
} options;

static const cli_opt opts[] = {
    CLI_LONG("generations", options, generations, 1, 100000, "N",
             "generations the session should reach (default 1 more)"),
    CLI_CALL("preset", cli_opt_preset, options, preset, "quick|paper",
             "population and training settings (default quick)"),
    CLI_CALL("review-policy", cli_opt_review, options, review, "P",
             "auto (default here), manual, or limits:N (approve\n"
             "when parameters <= N, else leave for review)"),
    CLI_STR("llm", options, llm, "none|URL",
            "the proposer: none = random mutation (default:\n"
            "the session's llm.base_url, else none)"),
    CLI_STR("model", options, model, "M", "the LLM's model name"),
    CLI_STR("evaluator", options, engine, "local|slurm",
            "where candidates train (default: the session's\n"
            "\"evaluator\" setting, else local)"),
    CLI_CALL("slurm", cli_opt_slurm, options, slurm, "KEY=VALUE",
             "a Slurm option (repeatable): partition, account,\n"
             "qos, time, cpus, mem, sbatch, setup, requeue,\n"
             "array, array_limit, interval (see gevo(1))"),
    CLI_INT("slots", options, slots, 1, 256, "N",
            "candidates trained at once (default " CLI_QUOTE(EVALUATOR_DEFAULT_SLOTS) ")"),
    CLI_INT("threads", options, threads, 1, 256, "N",
            "BLAS threads per candidate (default " CLI_QUOTE(EVALUATOR_DEFAULT_THREADS) ")"),
    CLI_SIZE("max-memory", options, max_memory, "BYTES",
             "what one candidate's training may allocate, e.g.\n"
             "512M, 2G; 0: no limit (default: gevo.json's\n"
             "max_memory, else half of the machine's memory\n"
             "over the slots)"),
    CLI_INT("population", options, population, 1, 10000, "N", "survivors per generation"),
    CLI_INT("offspring", options, offspring, 1, 10000, "N", "proposals per generation"),
    CLI_INT("subset", options, subset, 0, 100000000, "N",
            "training images per candidate (screening)"),
    CLI_INT("epochs", options, epochs, 1, 10000, "N", "epochs per candidate (screening)"),
    CLI_STR("rungs", options, rungs_spec, "SPEC",
            "fidelity rungs, screening to confirmation, e.g.\n"
            "10000:1,30000:1,all:3 (the quick preset's); a number N:\n"
            "the preset's first N; 1 turns promotion off"),
    CLI_LONG("time-limit", options, time_limit, 1, 100000000, "S", "seconds per candidate"),
    CLI_STR("data", options, data, "DIR", "data set (default: the session's)"),
    CLI_LONG("seed", options, seed, 0, 1000000000L, "N",
             "seed of selection and proposals (default 1)"),
    CLI_INT("max-empty-generations", options, max_empty, 1, 1000000, "N",
            "stop after N generations in a row without a\n"
            "valid proposal (default: gevo.json's, else " CLI_QUOTE(EVOLVE_DEFAULT_MAX_EMPTY) ")"),
    CLI_END,
};

static void init(void *vo)
{
    options *a = vo;
    a->generations = -1;
    a->subset = -1;
    a->seed = -1;
    a->review.policy = EVOLVE_REVIEW_AUTO;
}

/* A setting of the preset, replaced by its option when that was given
   (not `unset`; a text: not NULL). */
static void override(int *setting, int option, int unset)
{
    if (option != unset)
        *setting = option;
}

static void override_text(const char **setting, const char *option)
{
    if (option)
        *setting = option;
}

static int run(void *vo, const cli_args *args)
{
    const options *a = vo;
    evolve_config cfg;
    evolve_config_preset(&cfg, a->preset); /* checked by cli_opt_preset */
    cfg.review = a->review.policy;
    cfg.auto_max_params = a->review.max_params;
    override(&cfg.slots, a->slots, 0);
    override(&cfg.threads, a->threads, 0);
    override(&cfg.population, a->population, 0);
    override(&cfg.offspring, a->offspring, 0);
    override(&cfg.train_subset, a->subset, -1);
    override(&cfg.train_epochs, a->epochs, 0);
    if (a->time_limit)
        cfg.train_time_limit = (double)a->time_limit;
    if (a->seed >= 0)
        cfg.seed = (unsigned long)a->seed;
    override(&cfg.max_empty_generations, a->max_empty, 0);
    override_text(&cfg.rungs, a->rungs_spec);
    override_text(&cfg.llm, a->llm);
    override_text(&cfg.model, a->model);
    override_text(&cfg.data_dir, a->data);
    override_text(&cfg.max_memory, a->max_memory);
    override_text(&cfg.evaluator, a->engine); /* NULL: the session's setting, else local */
    override_text(&cfg.evaluator_options, a->slurm.len ? a->slurm.text : NULL);

    session *s = cli_session_open("run", args->v[0], SESSION_WRITE);
    if (!s)
        return CLI_FAIL;
    evolve *e = NULL;
    gerr oerr = GERR_INIT;
    if (evolve_open(&e, s, &cfg, &oerr)) {
        cli_error("run", "%s", oerr.msg);
        session_close(s);
        return CLI_FAIL;
    }
    run_view view = {.tty = isatty(2)};
    evolve_set_listener(e, on_event, &view);
    evolve_status st;
    evolve_status_get(e, &st);
    int target = a->generations > 0 ? (int)a->generations : st.generation;
    cli_line(stdout, "gevo run: session %s, generation %d, target %d, preset %s, %s",
             session_workdir(s), st.generation, target, cfg.preset, st.llm);
    fflush(stdout);
    volatile sig_atomic_t *interrupted = cli_catch_stop();
    int status = CLI_OK;
    bool draining = false;
    while (!*interrupted) {
        evolve_status_get(e, &st);
        if (st.generation > target) {
            /* a promotion in flight ends before the run does, so its
               result is in the session when gevo confirm reads it */
            if (st.promoting == 0)
                break;
            if (!draining) {
                evolve_set_promotion(e, false);
                clear_status(&view);
                cli_line(stdout, "gevo run: %d generation%s done; waiting for %d promotion%s",
                         target, target == 1 ? "" : "s", st.promoting,
                         st.promoting == 1 ? "" : "s");
                draining = true;
            }
            goto wait;
        }
        /* what retrying cannot fix ends the run once nothing is in flight
           (trainings already started are collected first) */
        if (st.stop_cause[0] && st.proposing == 0 && st.approved == 0 && st.training == 0) {
            clear_status(&view);
            cli_error("run", "stopped at generation %d: %s", st.generation, st.stop_cause);
            status = CLI_STOPPED;
            break;
        }
        if (st.generation_done) {
            gerr nerr = GERR_INIT;
            if (evolve_next_generation(e, false, &nerr)) {
                cli_error("run", "%s", nerr.msg);
                status = CLI_FAIL;
                break;
            }
            continue;
        }
        if (st.pending > 0 && st.proposing == 0 && st.approved == 0 && st.training == 0) {
            clear_status(&view);
            cli_line(stdout,
                     "gevo run: %d proposal%s wait%s for review: review in the workbench (gevo "
                     "open %s), then run again",
                     st.pending, st.pending == 1 ? "" : "s", st.pending == 1 ? "s" : "",
                     session_workdir(s));
            break;
        }
    wait:;
        struct pollfd pfd[64];
        int n = evolve_pollfds(e, pfd, 64);
        int timeout = evolve_timeout_ms(e);
        if (timeout < 0 || timeout > 500)
            timeout = 500; /* the status line's pace */
        if (poll(pfd, (nfds_t)n, timeout) < 0 && errno != EINTR) {
            perror("gevo run: poll");
            status = CLI_FAIL;
            break;
        }
        evolve_dispatch(e, pfd, n);
        show_status(&view, e, target);
    }
    clear_status(&view);
    evolve_status_get(e, &st);
    if (*interrupted) {
        cli_line(stdout,
                 "gevo run: stopped at generation %d; %d training%s go on in the background; "
                 "'gevo run %s' resumes",
                 st.generation, st.training, st.training == 1 ? "" : "s", session_workdir(s));
        status = CLI_INTERRUPTED;
    } else if (status == CLI_OK && st.generation > target) {
        printf("gevo run: done: %d generation%s in the session\n", target, target == 1 ? "" : "s");
    }
    evolve_free(e);
    session_close(s);
    return status;
}

const cli_def cmd_run = {&spec, opts, sizeof(options), init, run};
