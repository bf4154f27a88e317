/* gevo open DIR, and gevo with no arguments: the workbench. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tui/commands.h"
#include "tui/workbench.h"

static const char open_usage[] =
    "gevo open DIR [--llm URL|none] [--model NAME] [--preset quick|paper]\n"
    "              [--review manual|auto] [--subset N] [--epochs N]\n"
    "              [--population N] [--offspring N]\n"
    "       gevo   (no arguments: a new session in ./gevo-DATE-TIME, then the workbench)";

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "gevo open: %s%s%s\nusage: %s\n", what, arg ? " " : "", arg ? arg : "",
            open_usage);
    return 2;
}

static int parse_int(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (!*s || *end || v <= 0 || v > 100000000)
        return -1;
    *out = (int)v;
    return 0;
}

/* A fresh session folder name in the current folder. */
static int new_session(char *dir, size_t size)
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
    char *argv[] = {"new", dir, NULL};
    return core_cmd_new(2, argv);
}

int tui_cmd_open(int argc, char **argv)
{
    workbench_opts o;
    memset(&o, 0, sizeof o);
    const char *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            printf("usage: %s\n\nOpens the workbench on a session: the population tree, the diff "
                   "of each proposal\nand the persona's reasoning; review, steer and step through "
                   "generations.\nPress ? inside for the keys; man gevo(1) has them too.\n",
                   open_usage);
            return 0;
        }
        const char **sopt = !strcmp(a, "--llm")      ? &o.llm
                            : !strcmp(a, "--model")  ? &o.model
                            : !strcmp(a, "--preset") ? &o.preset
                            : !strcmp(a, "--review") ? &o.review
                                                     : NULL;
        int *iopt = !strcmp(a, "--subset")       ? &o.subset
                    : !strcmp(a, "--epochs")     ? &o.epochs
                    : !strcmp(a, "--population") ? &o.population
                    : !strcmp(a, "--offspring")  ? &o.offspring
                                                 : NULL;
        if (sopt || iopt) {
            if (i + 1 >= argc)
                return usage_error("a value is missing after", a);
            if (sopt)
                *sopt = argv[++i];
            else if (parse_int(argv[++i], iopt) != 0)
                return usage_error("needs a positive number:", a);
        } else if (a[0] == '-') {
            return usage_error("unknown option", a);
        } else if (dir) {
            return usage_error("one folder only; extra:", a);
        } else {
            dir = a;
        }
    }
    if (o.review && strcmp(o.review, "manual") && strcmp(o.review, "auto"))
        return usage_error("--review is manual or auto, not", o.review);
    char fresh[256];
    const char *scr = getenv("GEVO_TUI_SCRIPT");
    if (argc == 0 && !(scr && *scr) && (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO))) {
        fprintf(stderr, "gevo: the workbench needs a terminal; 'gevo --help' lists the "
                        "commands\n");
        return 2;
    }
    if (argc == 0) { /* gevo with no arguments */
        int rc = new_session(fresh, sizeof fresh);
        if (rc != 0)
            return rc;
        dir = fresh;
    }
    if (!dir)
        return usage_error("the session folder is missing", NULL);
    return workbench_run(dir, &o);
}
