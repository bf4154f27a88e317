/* The one command table: dispatch (tui/cli/main.c), `gevo --help`, each
 * command's usage line, and the SYNOPSIS and COMMANDS of man/gevo.1
 * (tests/sh/test_cli.sh compares them). A new command is a file
 * tui/cli/cmd_NAME.c and one row here. */
#include <string.h>

#include "tui/cli/cli.h"

const cli_command cli_commands[] = {
    {"check", &cmd_check, "check [options] FILE",
     "validate a gevo-net program; print its layers, shapes, parameters, FLOPs"},
    {"train", &cmd_train, "train [options] NET",
     "train a gevo-net program and print a JSON result"},
    {"eval", &cmd_eval, "eval [options] NET WEIGHTS",
     "evaluate saved weights of a program on the test set"},
    {"new", &cmd_new, "new DIR [--seed NET] [--data DIR] [--resize HxW] [--preset NAME]",
     "create a session repository: its seed, data set and preset"},
    {"log", &cmd_log, "log DIR [--generation N]",
     "list a session's generations, individuals, status, objectives"},
    {"show", &cmd_show, "show DIR ID",
     "show an individual: genome, reasoning, result, review, diff"},
    {"export", &cmd_export, "export DIR --csv|--json | DIR ID --torch OUT [--train|--confirmed]",
     "export a session's individuals as CSV or JSON, or one as a PyTorch module"},
    {"stats", &cmd_stats, "stats DIR [--json]",
     "count proposals per persona, model, operator and pair, failed ones too"},
    {"propose", &cmd_propose, "propose SESSION [options]",
     "run one proposal (LLM or offline) and record it; print diff, reasoning"},
    {"run", &cmd_run, "run [options] SESSION",
     "run a session's evolution without the workbench (resumable)"},
    {"confirm", &cmd_confirm, "confirm SESSION [ID...] [--seeds K] [--images N] [--epochs E]",
     "retrain the front and the seed over seeds at full fidelity; test accuracy"},
    {"report", &cmd_report, "report SESSION [--markdown|--csv|--json]",
     "the session's result table: seed and confirmed individuals, L and M"},
    {"open", &cmd_open, "open DIR [options]",
     "open the workbench on a session: DIR (no command: a new session)"},
};

const size_t cli_n_commands = sizeof cli_commands / sizeof *cli_commands;

const cli_command *cli_find(const char *name)
{
    for (size_t i = 0; i < cli_n_commands; i++)
        if (!strcmp(cli_commands[i].name, name))
            return &cli_commands[i];
    return NULL;
}
