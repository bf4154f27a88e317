/* cli: the gevo command line, the front end beside the workbench (as git's
 * builtin/ sits above its library). Each command is one file,
 * tui/cli/cmd_NAME.c, and one row of the table in tui/cli/commands.c,
 * which gives dispatch, `gevo --help` and, checked by tests/sh/test_cli.sh,
 * the SYNOPSIS and COMMANDS of man/gevo.1.
 *
 * A command takes its own argv (argv[0] is its name), parses it with
 * getopt_long through cli_getopt, and returns the process exit status
 * (CLI_OK, CLI_FAIL, CLI_USAGE, ...); only main() exits. */
#ifndef GEVO_TUI_CLI_H
#define GEVO_TUI_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "core/evolve.h"
#include "engine/net.h"
#include "sessions/session.h"

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
    int (*run)(int argc, char **argv);
    const char *synopsis; /* after "gevo ": "check [options] FILE" */
    const char *summary;  /* one line for `gevo --help` */
} cli_command;

extern const cli_command cli_commands[];
extern const size_t cli_n_commands;

/* The row of a command, or NULL. */
const cli_command *cli_find(const char *name);

int cmd_check(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_new(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_propose(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_open(int argc, char **argv);
/* Bare `gevo`: a new session in ./gevo-DATE-TIME, opened in the workbench. */
int cmd_open_new_session(void);

/* ---- the one option-parser style ---------------------------------------
 *
 *     static const struct option opts[] = {{"json", no_argument, 0, 'j'}, CLI_HELP_OPTION,
 *                                          {0, 0, 0, 0}};
 *     int opt;
 *     cli_getopt_start();
 *     while ((opt = cli_getopt(argc, argv, "q", opts)) != -1) {
 *         switch (opt) {
 *         case 'j': ...
 *         case 'h': return cli_help(argv[0], help);
 *         default: return cli_bad_option(argv[0], argc, argv, opt);
 *         }
 *     }
 *
 * Options and operands may come in any order (getopt_long's permutation);
 * "--" ends the options; unambiguous prefixes of long options are taken. */

#define CLI_HELP_OPTION             \
    {                               \
        "help", no_argument, 0, 'h' \
    }

/* Resets getopt for a fresh argv and silences its own messages. */
void cli_getopt_start(void);
/* getopt_long with "h" and the short options in shortopts; returns '?' for
 * an unknown option and ':' for a missing value, as cli_bad_option wants. */
int cli_getopt(int argc, char **argv, const char *shortopts, const struct option *longopts);
/* The usage error of the option getopt just refused: "gevo CMD: unknown
 * option '--x'" or "gevo CMD: option '--x' needs a value", then the usage
 * line, on stderr. Returns CLI_USAGE. */
int cli_bad_option(const char *cmd, int argc, char **argv, int opt);
/* After the options: exactly n operands. Returns them (argv + optind), or
 * NULL after a usage error: `missing` ("the session folder is missing")
 * when there are fewer, the first extra one named when there are more. */
char **cli_operands(const char *cmd, int argc, char **argv, int n, const char *missing);
/* "gevo CMD: " + the message + the usage line, on stderr. Returns CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "usage: gevo SYNOPSIS" of the command, then "\n" and body (may be NULL),
 * on stdout. Returns CLI_OK. */
int cli_help(const char *cmd, const char *body);
/* "usage: gevo SYNOPSIS\n" of the command, to out. */
void cli_usage_line(const char *cmd, FILE *out);

/* An option's numeric value; on failure prints "gevo CMD: OPT: ..." (what
 * was wrong, from engine/base/num.h) and returns -1. */
int cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_int(const char *cmd, const char *opt, const char *s, int lo, int hi, int *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
/* A byte count such as 512M or 2G (num_bytes), 0 .. 1e18; out may be NULL
 * (only checked). */
int cli_bytes(const char *cmd, const char *opt, const char *s, double *out);

/* "CxHxW" (e.g. 1x28x28) into *out; -1 when it is not one. */
int cli_parse_shape(const char *s, net_shape *out);
/* --review-policy of gevo run and gevo open: auto, manual, or limits:N
 * (approve proposals of at most N parameters). On failure prints the
 * usage error and returns -1. */
int cli_review_policy(const char *cmd, const char *s, evolve_review_policy *policy,
                      long *max_params);

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

/* ---- shared by the session commands ---------------------------------- */

/* session_open, or NULL after "gevo CMD: why" on stderr. */
session *cli_session_open(const char *cmd, const char *dir, session_mode mode);
/* "\n== TITLE ==\n" then body (ending in a newline), or "(none)"; the
 * body keeps its newlines and tabs, every other control is shown. */
void cli_section(const char *title, const char *body);

#endif
