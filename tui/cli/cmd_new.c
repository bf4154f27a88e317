/* `gevo new DIR`: a session repository (see man/gevo-session.5). */
#include <stdio.h>
#include <unistd.h>

#include "core/newsession.h"
#include "engine/data.h"
#include "tui/cli/cli.h"
#include "tui/cli/progress.h"

static const char help[] =
    "Creates DIR as a session repository: the seed network (default quick.net) is\n"
    "individual g0-1, the prompt templates are copied in, and the journal branch\n"
    "records generation 0.\n"
    "\n"
    "options:\n"
    "  --seed NET       the seed network, a gevo-net file (default: quick.net)\n"
    "  --data DIR       the data set folder (default " DATA_DEFAULT_DIR "); loaded\n"
    "                   (decoded once into the cache) and checked against the seed\n"
    "  --resize HxW     resample every image to H x W, recorded in gevo.json\n"
    "  --preset NAME    quick, paper or default (quick's settings), recorded as\n"
    "                   \"preset\" in gevo.json (default: default)\n"
    "  -h, --help       this text\n";

int cmd_new(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"data", required_argument, 0, 'd'},
        {"resize", required_argument, 0, 'R'},
        {"preset", required_argument, 0, 'p'},
        CLI_HELP_OPTION,
        {0, 0, 0, 0},
    };
    newsession_opts o = {0};
    cli_data_args da = {0};
    cli_progress ctx = {.bar = isatty(2)};
    data_opts dopts;
    int opt;
    cli_getopt_start();
    while ((opt = cli_getopt(argc, argv, "", longopts)) != -1) {
        switch (opt) {
        case 's': o.seed = optarg; break;
        case 'd': o.data = optarg; break;
        case 'R':
            if (cli_data_option("new", opt, optarg, &da))
                return CLI_USAGE;
            break;
        case 'p': o.preset = optarg; break;
        case 'h': return cli_help("new", help);
        default: return cli_bad_option("new", argc, argv, opt);
        }
    }
    evolve_config cfg;
    if (o.preset && evolve_config_preset(&cfg, o.preset))
        return cli_usage_error("new", "unknown preset '%s' (quick, paper or default)", o.preset);
    char **arg = cli_operands("new", argc, argv, 1, "the session folder is missing");
    if (!arg)
        return CLI_USAGE;
    const char *dir = arg[0];
    cli_data_opts(&dopts, &da, &ctx);
    o.data_opts = &dopts;
    session *s = NULL;
    newsession_info info;
    gerr err = GERR_INIT;
    if (newsession_create(&s, dir, &o, &info, &err) != 0) {
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
