/* `gevo new DIR`: a session repository (see man/gevo-session.5). */
#include <stdio.h>

#include "core/newsession.h"
#include "engine/data.h"
#include "tui/cli/cli.h"

static const char help[] =
    "Creates DIR as a session repository: the seed network (default quick.net) is\n"
    "individual g0-1, the prompt templates are copied in, and the journal branch\n"
    "records generation 0.\n"
    "\n"
    "options:\n"
    "  --seed NET       the seed network, a gevo-net file (default: quick.net)\n"
    "  --data DIR       the data set folder (default " DATA_DEFAULT_DIR ")\n"
    "  --preset NAME    recorded as \"preset\" in gevo.json (default: default)\n"
    "  -h, --help       this text\n";

int cmd_new(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"seed", required_argument, 0, 's'},
        {"data", required_argument, 0, 'd'},
        {"preset", required_argument, 0, 'p'},
        CLI_HELP_OPTION,
        {0, 0, 0, 0},
    };
    newsession_opts o = {0};
    int opt;
    cli_getopt_start();
    while ((opt = cli_getopt(argc, argv, "", longopts)) != -1) {
        switch (opt) {
        case 's': o.seed = optarg; break;
        case 'd': o.data = optarg; break;
        case 'p': o.preset = optarg; break;
        case 'h': return cli_help("new", help);
        default: return cli_bad_option("new", argc, argv, opt);
        }
    }
    char **arg = cli_operands("new", argc, argv, 1, "the session folder is missing");
    if (!arg)
        return CLI_USAGE;
    const char *dir = arg[0];
    session *s = NULL;
    newsession_info info;
    gerr err = GERR_INIT;
    if (newsession_create(&s, dir, &o, &info, &err) != 0) {
        if (info.seed_invalid) {
            fprintf(stderr, "gevo new: the seed network does not compile:\n");
            net_error_print(&info.seed_error, stderr);
        } else {
            fprintf(stderr, "gevo new: %s\n", err.msg);
        }
        return CLI_FAIL;
    }
    if (info.data_missing)
        fprintf(stderr,
                "gevo new: warning: the default data set %s is not installed "
                "(apt-get install dataset-fashion-mnist, or give --data)\n",
                info.data);
    session_info si;
    if (session_info_get(s, "g0-1", &si, NULL) == 0)
        printf("created session %s\n  seed g0-1 (%.10s) from %s: %ld parameters, %.3g FLOPs\n"
               "  data %s\n  'gevo log %s' lists it; it is a git repository too\n",
               session_workdir(s), si.commit, info.seed, info.params, info.flops, info.data, dir);
    session_close(s);
    return CLI_OK;
}
