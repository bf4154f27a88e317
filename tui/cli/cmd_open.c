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

static const char help[] =
    "Opens the workbench on a session: the population tree, the diff of each proposal\n"
    "and the persona's reasoning; review, steer and step through generations.\n"
    "Press ? inside for the keys; man gevo(1) has them too. 'gevo' with no arguments\n"
    "makes a new session in ./gevo-DATE-TIME and opens it.\n"
    "\n"
    "options:\n"
    "  --llm URL|none         the proposer (default: the session's llm.base_url, else none)\n"
    "  --model NAME           the LLM's model name\n"
    "  --preset quick|paper   population and training settings (default quick)\n"
    "  --review-policy P      manual (default here), auto, or limits:N (approve\n"
    "                         when parameters <= N, else leave for review)\n"
    "  --subset N             training images per candidate\n"
    "  --epochs N             epochs per candidate\n"
    "  --population N         survivors per generation\n"
    "  --offspring N          proposals per generation\n"
    "  --max-memory BYTES     what one candidate's training may allocate, e.g. 512M,\n"
    "                         2G; 0: no limit (default: gevo.json's max_memory, else\n"
    "                         half of the machine's memory over the slots)\n"
    "  -h, --help             this text\n";

static bool has_terminal(void)
{
    const char *scr = getenv("GEVO_TUI_SCRIPT");
    return (scr && *scr) || (isatty(STDIN_FILENO) && isatty(STDOUT_FILENO));
}

int cmd_open(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"llm", required_argument, 0, 'l'},
        {"model", required_argument, 0, 'm'},
        {"preset", required_argument, 0, 'p'},
        {"review-policy", required_argument, 0, 'r'},
        {"subset", required_argument, 0, 's'},
        {"epochs", required_argument, 0, 'e'},
        {"population", required_argument, 0, 'P'},
        {"offspring", required_argument, 0, 'O'},
        {"max-memory", required_argument, 0, 'M'},
        CLI_HELP_OPTION,
        {0, 0, 0, 0},
    };
    workbench_opts o;
    memset(&o, 0, sizeof o);
    int opt;
    cli_getopt_start();
    while ((opt = cli_getopt(argc, argv, "", longopts)) != -1) {
        switch (opt) {
        case 'l': o.llm = optarg; break;
        case 'm': o.model = optarg; break;
        case 'p': o.preset = optarg; break;
        case 'r':
            if (cli_review_policy("open", optarg, &o.review, &o.review_max_params))
                return CLI_USAGE;
            o.review_set = true;
            break;
        case 's':
            if (cli_int("open", "--subset", optarg, 1, 100000000, &o.subset))
                return CLI_USAGE;
            break;
        case 'e':
            if (cli_int("open", "--epochs", optarg, 1, 100000000, &o.epochs))
                return CLI_USAGE;
            break;
        case 'P':
            if (cli_int("open", "--population", optarg, 1, 100000000, &o.population))
                return CLI_USAGE;
            break;
        case 'O':
            if (cli_int("open", "--offspring", optarg, 1, 100000000, &o.offspring))
                return CLI_USAGE;
            break;
        case 'M':
            if (cli_bytes("open", "--max-memory", optarg, NULL))
                return CLI_USAGE;
            o.max_memory = optarg;
            break;
        case 'h': return cli_help("open", help);
        default: return cli_bad_option("open", argc, argv, opt);
        }
    }
    evolve_config cfg;
    if (o.preset && evolve_config_preset(&cfg, o.preset))
        return cli_usage_error("open", "unknown preset '%s' (quick or paper)", o.preset);
    char **arg = cli_operands("open", argc, argv, 1, "the session folder is missing");
    if (!arg)
        return CLI_USAGE;
    return workbench_run(arg[0], &o);
}

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
