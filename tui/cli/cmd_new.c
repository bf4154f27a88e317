/* `gevo new DIR`: a session repository (see man/gevo-session.5). */
#include <stdio.h>
#include <unistd.h>

#include "core/newsession.h"
#include "engine/data.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const cli_spec spec = {
    "new",
    "Creates DIR as a session repository: the seed network (default quick.net) is\n"
    "individual g0-1, the prompt templates are copied in, and the journal branch\n"
    "records generation 0.\n",
    NULL,
    1,
    "the session folder is missing",
};

/* The options, parsed into (tui/cli/opts.h). */
typedef struct options {
    newsession_opts o;
    cli_data_args da;
} options;

static const cli_opt opts[] = {
    CLI_STR("seed", options, o.seed, "NET",
            "the seed network, a gevo-net file (default: quick.net)"),
    CLI_STR("data", options, o.data, "DIR",
            "the data set folder (default " DATA_DEFAULT_DIR "); loaded\n"
            "(decoded once into the cache) and checked against the seed"),
    CLI_CALL("resize", cli_opt_resize, options, da, "HxW",
             "resample every image to H x W, recorded in gevo.json"),
    CLI_CALL("preset", cli_opt_preset, options, o.preset, "NAME",
             "quick, paper or default (quick's settings), recorded as\n"
             "\"preset\" in gevo.json (default: default)"),
    CLI_END,
};

static int run(void *vo, const cli_args *args)
{
    options *a = vo;
    newsession_opts *o = &a->o;
    cli_progress ctx = {.bar = isatty(2)};
    data_opts dopts;
    const char *dir = args->v[0];
    cli_data_opts(&dopts, &a->da, &ctx);
    o->data_opts = &dopts;
    session *s = NULL;
    newsession_info info;
    gerr err = GERR_INIT;
    if (newsession_create(&s, dir, o, &info, &err) != 0) {
        if (info.seed_invalid) {
            cli_error("new", "the seed network does not compile:");
            cli_net_error(&info.seed_error, stderr);
        } else {
            cli_error("new", "%s", err.msg);
        }
        return CLI_FAIL;
    }
    if (info.data_missing)
        cli_error("new",
                  "warning: the default data set %s is not installed "
                  "(apt-get install dataset-fashion-mnist, or give --data)",
                  info.data);
    if (info.data_note[0])
        cli_error("new", "warning: the data does not load, training will fail until it does: %s",
                  info.data_note);
    session_info si;
    if (session_info_get(s, "g0-1", &si, NULL) == 0) {
        cli_line(stdout, "created session %s", session_workdir(s));
        cli_line(stdout, "  seed g0-1 (%.10s) from %s: %ld parameters, %.3g FLOPs", si.commit,
                 info.seed, info.params, info.flops);
        cli_line(stdout, "  data %s%s%s%s", info.data, info.data_shape[0] ? " (" : "",
                 info.data_shape, info.data_shape[0] ? ")" : "");
        cli_line(stdout, "  'gevo log %s' lists it; it is a git repository too", dir);
    }
    session_close(s);
    return CLI_OK;
}

const cli_def cmd_new = {&spec, opts, sizeof(options), NULL, run};
