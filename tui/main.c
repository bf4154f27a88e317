/* gevo: the entry point. Dispatches to the subcommands; only this file
 * decides to exit. */
#include <stdio.h>
#include <string.h>

#include "tui/commands.h"

#ifndef GEVO_VERSION
#define GEVO_VERSION "0.1.0"
#endif

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"check", engine_cmd_check,
     "validate a gevo-net program; print its layers, shapes, parameters, FLOPs"},
    {"train", engine_cmd_train, "train a gevo-net program and print a JSON result"},
    {"eval", engine_cmd_eval, "evaluate saved weights of a program on the test set"},
    {"new", core_cmd_new, "create a session repository: DIR [--seed NET] [--data DIR]"},
    {"log", core_cmd_log, "list a session's generations, individuals, status, objectives"},
    {"show", core_cmd_show, "show an individual: genome, reasoning, result, review, diff"},
    {"export", core_cmd_export, "export a session's individuals as CSV or JSON"},
    {"propose", core_cmd_propose,
     "run one proposal (LLM or offline) and record it; print diff, reasoning"},
    {"run", core_cmd_run, "run a session's evolution without the workbench (resumable)"},
    {"open", tui_cmd_open, "open the workbench on a session: DIR (no command: a new session)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: gevo [COMMAND [ARGS...]]\n\n"
                 "gevo is a terminal workbench for LLM-guided evolution of neural networks.\n"
                 "With no command it opens the workbench on a new session (./gevo-DATE-TIME).\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'gevo COMMAND --help' describes a command; man gevo(1) has the rest.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) /* the main job: a new session in the workbench */
        return tui_cmd_open(0, argv);
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gevo %s\n", GEVO_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "gevo: unknown command '%s' (see 'gevo --help')\n", argv[1]);
    return 2;
}
