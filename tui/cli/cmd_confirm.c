/* `gevo confirm SESSION [ID...]`: retrains the front and the seed over
 * seeds at confirmation fidelity and evaluates the test split
 * (core/confirm.h). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/confirm.h"
#include "tui/cli/cli.h"

static const cli_spec spec = {
    "confirm",
    "Retrains the given individuals (default: the current Pareto front and the seed)\n"
    "K times with seeds 1..K at the confirmation fidelity, evaluates each run on the\n"
    "test split, and records every run and the mean and standard deviation in a note\n"
    "under refs/notes/confirm. The trained weights are kept in\n"
    "SESSION/.gevo/weights/ID.confirm-S.weights (outside git history). Resumable: a\n"
    "killed gevo confirm leaves its workers running; run it again to continue.\n",
    NULL,
    CLI_OPERANDS_ANY,
    "the session folder is missing",
};

typedef struct view {
    bool tty;
    bool status_shown;
} view;

static void clear_status(view *v)
{
    if (v->status_shown)
        fputs("\r\033[K", stderr);
    v->status_shown = false;
}

static void on_event(void *ctx, const confirm_event *ev)
{
    view *v = ctx;
    switch (ev->kind) {
    case CONFIRM_EV_PLAN:
        cli_line(stdout, "gevo confirm: %d runs, %d saved already", ev->runs_total, ev->runs_done);
        break;
    case CONFIRM_EV_QUEUED:
        clear_status(v);
        cli_line(stdout, "%s seed %lu: queued", ev->id, ev->seed);
        break;
    case CONFIRM_EV_STARTED:
        clear_status(v);
        cli_line(stdout, "%s seed %lu: %s", ev->id, ev->seed,
                 ev->reattached ? "re-attached (started by an earlier gevo confirm)" : "training");
        break;
    case CONFIRM_EV_PROGRESS:
        if (v->tty) {
            fprintf(stderr, "\r\033[K%d/%d runs saved | %s seed %lu %.0f%%", ev->runs_done,
                    ev->runs_total, ev->id, ev->seed, 100 * ev->progress);
            v->status_shown = true;
        }
        break;
    case CONFIRM_EV_ENDED:
        clear_status(v);
        if (ev->ok)
            cli_line(stdout, "%s seed %lu: val %.4f test %.4f (%d/%d)", ev->id, ev->seed,
                     ev->val_acc, ev->test_acc, ev->runs_done, ev->runs_total);
        else
            cli_line(stdout, "%s seed %lu: failed: %s (%d/%d)", ev->id, ev->seed,
                     ev->message ? ev->message : "", ev->runs_done, ev->runs_total);
        break;
    case CONFIRM_EV_COMPLETE:
        clear_status(v);
        cli_line(stdout, "%s confirmed: val %.2f%% ±%.2f, test %.2f%% ±%.2f", ev->id,
                 100 * ev->val_acc, 100 * ev->val_std, 100 * ev->test_acc, 100 * ev->test_std);
        break;
    }
    fflush(stdout);
}

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    confirm_opts o;
    cli_slurm slurm;
} options;

static const cli_opt opts[] = {
    CLI_INT("seeds", options, o.seeds, 2, CONFIRM_MAX_SEEDS, "K",
            "runs per individual (default " CLI_QUOTE(CONFIRM_DEFAULT_SEEDS) ")"),
    CLI_LONG("images", options, o.images, 0, 1000000000L, "N",
             "training images (default: the session's top rung; 0: all)"),
    CLI_INT("epochs", options, o.epochs, 1, 10000, "E", "epochs (default: the top rung's)"),
    CLI_INT("slots", options, o.slots, 1, 256, "N", "runs at once (local evaluator)"),
    CLI_INT("threads", options, o.threads, 1, 256, "N", "BLAS threads per run"),
    CLI_DOUBLE("time-limit", options, o.time_limit, 0, 1e9, "S", "seconds per run (default none)"),
    CLI_STR("data", options, o.data_dir, "DIR", "data set (default: the session's)"),
    CLI_STR("evaluator", options, o.evaluator, "local|slurm",
            "where runs train (default: the session's)"),
    CLI_CALL("slurm", cli_opt_slurm, options, slurm, "KEY=VALUE",
             "a Slurm option (repeatable), as gevo run's"),
    CLI_END,
};

static void init(void *vo)
{
    options *a = vo;
    a->o = (confirm_opts){.seeds = CONFIRM_DEFAULT_SEEDS, .images = -1, .epochs = -1};
}

static int run(void *vo, const cli_args *args)
{
    options *a = vo;
    confirm_opts *o = &a->o;
    if (args->n < 1)
        return cli_usage_error("confirm", "%s", spec.missing);
    o->evaluator_options = a->slurm.len ? a->slurm.text : NULL;
    session *s = cli_session_open("confirm", args->v[0], SESSION_WRITE);
    if (!s)
        return CLI_FAIL;
    gerr err = GERR_INIT;
    char(*ids)[SESSION_ID_MAX] = NULL;
    size_t n = 0;
    int rc = CLI_FAIL;
    if (args->n > 1) {
        n = (size_t)(args->n - 1);
        ids = calloc(n, sizeof *ids);
        if (!ids) {
            cli_error("confirm", "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (session_resolve(s, args->v[1 + i], ids[i], &err)) {
                cli_error("confirm", "%s", err.msg);
                goto done;
            }
    } else if (confirm_default_ids(s, &ids, &n, &err)) {
        cli_error("confirm", "%s", err.msg);
        goto done;
    }
    char list[1024] = "";
    size_t at = 0;
    for (size_t i = 0; i < n && at < sizeof list; i++)
        at += (size_t)snprintf(list + at, sizeof list - at, "%s%s", i ? " " : "", ids[i]);
    cli_line(stdout, "gevo confirm: %s: %s", session_workdir(s), list);
    volatile sig_atomic_t *interrupted = cli_catch_stop();
    view v = {.tty = isatty(2)};
    int r =
        confirm_run(s, (const char(*)[SESSION_ID_MAX])ids, n, o, on_event, &v, interrupted, &err);
    clear_status(&v);
    if (r < 0) {
        cli_error("confirm", "%s", err.msg);
    } else if (r == 1) {
        cli_line(stderr, "gevo confirm: interrupted; the runs go on, run gevo confirm again to "
                         "collect them");
        rc = CLI_INTERRUPTED;
    } else {
        cli_line(stdout, "gevo confirm: done; gevo report %s prints the table", args->v[0]);
        rc = CLI_OK;
    }
done:
    free(ids);
    session_close(s);
    return rc;
}

const cli_def cmd_confirm = {&spec, opts, sizeof(options), init, run};
