/* gevo: the entry point. Dispatches through the command table
 * (tui/cli/commands.c); only this file decides to exit. */
#include <stdio.h>
#include <string.h>

#include "tui/cli/cli.h"

#ifndef GEVO_VERSION
#define GEVO_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: gevo [COMMAND [ARGS...]]\n\n"
                 "gevo is a terminal workbench for LLM-guided evolution of neural networks.\n"
                 "With no command it opens the workbench on a new session (./gevo-DATE-TIME).\n\n"
                 "commands:\n");
    for (size_t i = 0; i < cli_n_commands; i++)
        fprintf(out, "  %-9s %s\n", cli_commands[i].name, cli_commands[i].summary);
    fprintf(out, "\n'gevo COMMAND --help' describes a command; man gevo(1) has the rest.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) /* the main job: a new session in the workbench */
        return cmd_open_new_session();
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return CLI_OK;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("gevo %s\n", GEVO_VERSION);
        return CLI_OK;
    }
    const cli_command *c = cli_find(argv[1]);
    if (c)
        return cli_run(c->def, argc - 1, argv + 1);
    cli_line(stderr, "gevo: unknown command '%s' (see 'gevo --help')", argv[1]);
    return CLI_USAGE;
}
