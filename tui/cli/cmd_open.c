/* `gevo open DIR`, and bare `gevo`: the workbench, on a session or on a
 * new one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/newsession.h"
#include "tui/cli/cli.h"
#include "tui/workbench.h"

static const cli_spec spec = {
    "open",
    "Opens the workbench on a session: the population tree, the diff of each proposal\n"
    "and the persona's reasoning; review, steer and step through generations.\n"
    "Press ? inside for the keys; man gevo(1) has them too. 'gevo' with no arguments\n"
    "makes a new session in ./gevo-DATE-TIME and opens it.\n",
    NULL,
    1,
    "the session folder is missing",
};

static bool has_terminal(void)
{
    const char *scr = getenv("GEVO_TUI_SCRIPT");
    return (scr && *scr) || (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
}

/* The options, parsed into (tui/cli/opts.h): the workbench's own. */
typedef workbench_opts options;

/* --review-policy (cli_opt_review) into the workbench's options. */
static int opt_review(const char *cmd, const char *value, void *target)
{
    options *o = target;
    cli_review r = {0};
    if (cli_opt_review(cmd, value, &r))
        return -1;
    o->review_set = true;
    o->review = r.policy;
    o->review_max_params = r.max_params;
    return 0;
}

static const cli_opt opts[] = {
    CLI_STR("llm", options, llm, "URL|none",
            "the proposer (default: the session's llm.base_url, else none)"),
    CLI_STR("model", options, model, "NAME", "the LLM's model name"),
    CLI_CALL("preset", cli_opt_preset, options, preset, "quick|paper",
             "population and training settings (default quick)"),
    CLI_CALL_OPTS("review-policy", opt_review, "P",
                  "manual (default here), auto, or limits:N (approve\n"
                  "when parameters <= N, else leave for review)"),
    CLI_INT("subset", options, subset, 1, 100000000, "N",
            "training images per candidate (screening)"),
    CLI_INT("epochs", options, epochs, 1, 100000000, "N", "epochs per candidate (screening)"),
    CLI_STR("rungs", options, rungs, "SPEC",
            "fidelity rungs, screening to confirmation, e.g.\n"
            "10000:1,30000:1,all:3; a number N: the preset's first N;\n"
            "1 turns promotion off"),
    CLI_INT("population", options, population, 1, 100000000, "N", "survivors per generation"),
    CLI_INT("offspring", options, offspring, 1, 100000000, "N", "proposals per generation"),
    CLI_SIZE("max-memory", options, max_memory, "BYTES",
             "what one candidate's training may allocate, e.g. 512M,\n"
             "2G; 0: no limit (default: gevo.json's max_memory, else\n"
             "half of the machine's memory over the slots)"),
    CLI_END,
};

static int run(void *vo, const cli_args *args)
{
    return workbench_run(args->v[0], vo);
}

const cli_def cmd_open = {&spec, opts, sizeof(options), NULL, run};

/* A fresh folder name in the current folder: gevo-DATE-TIME[-N]. */
static void fresh_name(char *dir, size_t size)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
    struct stat st;
    snprintf(dir, size, "gevo-%s", stamp);
    for (int i = 2; stat(dir, &st) == 0 && i < 100; i++)
        snprintf(dir, size, "gevo-%s-%d", stamp, i);
}

int cmd_open_new_session(void)
{
    /* checked first: no session is left behind for a workbench that
       cannot start */
    if (!has_terminal()) {
        fprintf(stderr, "gevo: the workbench needs a terminal; 'gevo --help' lists the "
                        "commands\n");
        return CLI_USAGE;
    }
    char dir[256];
    fresh_name(dir, sizeof dir);
    session *s = NULL;
    newsession_info info;
    gerr err = GERR_INIT;
    if (newsession_create(&s, dir, NULL, &info, &err) != 0) {
        cli_line(stderr, "gevo: a new session in %s: %s", dir, err.msg);
        return CLI_FAIL;
    }
    if (info.data_missing)
        fprintf(stderr,
                "gevo: warning: the default data set %s is not installed "
                "(apt-get install dataset-fashion-mnist)\n",
                info.data);
    session_close(s);
    workbench_opts o;
    memset(&o, 0, sizeof o);
    return workbench_run(dir, &o);
}
