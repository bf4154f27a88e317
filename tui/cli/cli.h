/* cli: the gevo command line, the front end beside the workbench (as git's
 * builtin/ sits above its library). Each command is one file,
 * tui/cli/cmd_NAME.c, and one row of the table in tui/cli/commands.c,
 * which gives dispatch, `gevo --help` and, checked by tests/sh/test_cli.sh,
 * the SYNOPSIS and COMMANDS of man/gevo.1.
 *
 * A command file defines a cli_def (tui/cli/opts.h): the table of its
 * options, the struct they are parsed into, and the function that runs it.
 * The dispatcher (cli_run) parses the command's argv (argv[0] is its name)
 * by that table for every command alike, and the command returns the
 * process exit status (CLI_OK, CLI_FAIL, CLI_USAGE, ...); only main()
 * exits. */
#ifndef GEVO_TUI_CLI_H
#define GEVO_TUI_CLI_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "core/evolve.h"
#include "engine/net.h"
#include "sessions/session.h"
#include "tui/cli/opts.h"

/* Exit statuses, as man/gevo.1's EXIT STATUS says. */
enum {
    CLI_OK = 0,
    CLI_FAIL = 1,         /* a failure: bad input, a check that failed, an error */
    CLI_USAGE = 2,        /* a usage error: an unknown command or option, a bad value */
    CLI_INCOMPLETE = 3,   /* gevo train: diverged, timeout or stopped (result written) */
    CLI_STOPPED = 4,      /* gevo run: evolution cannot go on by itself (the cause is said) */
    CLI_INTERRUPTED = 130 /* gevo run: stopped by SIGINT or SIGTERM, resumable */
};

typedef struct cli_command {
    const char *name;
    const cli_def *def;   /* the command's file's: its options and run */
    const char *synopsis; /* after "gevo ": "check [options] FILE" */
    const char *summary;  /* one line for `gevo --help` */
} cli_command;

extern const cli_command cli_commands[];
extern const size_t cli_n_commands;

/* The row of a command, or NULL. */
const cli_command *cli_find(const char *name);

extern const cli_def cmd_check, cmd_train, cmd_eval, cmd_new, cmd_log, cmd_show, cmd_export,
    cmd_stats, cmd_propose, cmd_run, cmd_confirm, cmd_report, cmd_open;
/* Bare `gevo`: a new session in ./gevo-DATE-TIME, opened in the workbench. */
int cmd_open_new_session(void);

/* ---- options -----------------------------------------------------------
 *
 * Every command's argv is parsed by cli_parse (tui/cli/opts.h) from one
 * table of its options; the kinds of value several commands share: */

/* "usage: gevo SYNOPSIS\n" of the command (the command table's), to out. */
void cli_usage_line(const char *cmd, FILE *out);
/* "gevo CMD: " + the message + the usage line, on stderr. Returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "CxHxW" (e.g. 1x28x28) into *out; -1 when it is not one. */
int cli_parse_shape(const char *s, net_shape *out);

/* --input CxHxW: the shape, and whether it was given. */
typedef struct cli_shape {
    net_shape shape;
    bool given;
} cli_shape;
int cli_opt_input(const char *cmd, const char *value, void *shape);

/* --preset NAME (evolve_config_preset's: quick, paper or default),
 * checked; the target is the name (const char *). */
int cli_opt_preset(const char *cmd, const char *value, void *name);

/* --review-policy of gevo run and gevo open: auto, manual, or limits:N
 * (approve proposals of at most N parameters). */
typedef struct cli_review {
    bool given;
    evolve_review_policy policy;
    long max_params;
} cli_review;
int cli_opt_review(const char *cmd, const char *value, void *review);

/* --slurm KEY=VALUE, repeatable: the options one a line, as the
 * evaluator's options text wants them. */
typedef struct cli_slurm {
    char text[8192];
    size_t len;
} cli_slurm;
int cli_opt_slurm(const char *cmd, const char *value, void *slurm);

/* ---- text the program did not write itself -----------------------------
 *
 * An LLM's reasoning and genome, a model's name, a server's error, a file
 * name: whatever reaches the terminal goes through engine/base/text.h, so
 * no escape sequence in it acts on the terminal. */

/* One line on out: the formatted text with every control character (a
 * newline in a field too) shown visibly, then a newline. */
void cli_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "gevo CMD: " + the message as cli_line writes it, on stderr. */
void cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* net_error_print's text (the source line, a caret, the hint), shown safely. */
void cli_net_error(const net_error *e, FILE *out);

/* ---- stopping cleanly -------------------------------------------------- */

/* From now on SIGINT and SIGTERM only set the returned flag (interrupted
 * system calls restart, poll() returns EINTR), so a long command stops at
 * its next check and still says how it stopped. */
volatile sig_atomic_t *cli_catch_stop(void);

/* ---- shared by the session commands ---------------------------------- */

/* session_open, or NULL after "gevo CMD: why" on stderr. */
session *cli_session_open(const char *cmd, const char *dir, session_mode mode);
/* "\n== TITLE ==\n" then body (ending in a newline), or "(none)"; the
 * body keeps its newlines and tabs, every other control is shown. */
void cli_section(const char *title, const char *body);

#endif
