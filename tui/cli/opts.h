/* opts: the one option parser of the gevo commands. A command declares
 * its options once, as a table of rows (name, argument kind, the field of
 * the command's options struct the value goes to, its range, its help
 * line), and the dispatcher (cli_run, from the command table) gives from
 * it:
 *
 *   - the options struct, set to the command's defaults;
 *   - getopt_long parsing: options and operands in any order, "--" ends
 *     the options, unambiguous prefixes of long options are taken;
 *   - values checked as the row says: numbers in their range and byte
 *     counts through engine/base/num.h, a command's own kinds through a
 *     function of the row;
 *   - usage errors that name the bad option or value (status 2);
 *   - the command's --help: usage line (the command table's), what it
 *     does, one line per row and -h, --help, so the help cannot drift
 *     from the options;
 *   - the operand count;
 *
 * and then runs the command on the struct and the operands:
 *
 *     typedef struct options {
 *         int gen;
 *     } options;
 *     static const cli_opt opts[] = {
 *         CLI_INT("generation", options, gen, 0, 1000000, "N", "only generation N"),
 *         CLI_END,
 *     };
 *     static void init(void *vo) { ((options *)vo)->gen = -1; }
 *     static int run(void *vo, const cli_args *args) { ... args->v[0] ... }
 *     static const cli_spec spec = {"log", about, NULL, 1, "the session folder is missing"};
 *     const cli_def cmd_log = {&spec, opts, sizeof(options), init, run};
 *
 * (cli.h declares cmd_log; its row in tui/cli/commands.c points to it.)
 *
 * Each row's macro checks the field's type. A field keeps its value when
 * its option is not given: init sets it to the default. */
#ifndef GEVO_TUI_CLI_OPTS_H
#define GEVO_TUI_CLI_OPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum cli_opt_kind {
    CLI_OPT_END,    /* the table's last row */
    CLI_OPT_FLAG,   /* bool: true when given */
    CLI_OPT_STR,    /* const char *: the value */
    CLI_OPT_INT,    /* int: a whole number in [lo, hi] */
    CLI_OPT_LONG,   /* long: a whole number in [lo, hi] */
    CLI_OPT_DOUBLE, /* double: a number in [lo, hi] */
    CLI_OPT_SIZE,   /* const char *: a byte count such as 512M or 2G, checked, kept as text */
    CLI_OPT_LIST,   /* cli_list: each value appended (a repeatable option) */
    CLI_OPT_CALL    /* anything: the row's function takes the value */
} cli_opt_kind;

/* A CLI_OPT_CALL row's function: takes value into target, or says why
 * not ("gevo CMD: ...", cli_error) and returns -1. */
typedef int (*cli_opt_fn)(const char *cmd, const char *value, void *target);

typedef struct cli_opt {
    const char *name; /* the long name, without "--" */
    char short_name;  /* -X as well, or 0 */
    cli_opt_kind kind;
    size_t target;    /* where the value goes: a field's offset in the options struct */
    const char *arg;  /* the value's name in --help ("N", "DIR"); NULL: a flag */
    const char *help; /* the help line; a "\n" continues it under the column */
    double lo, hi;    /* the range of a number */
    cli_opt_fn fn;    /* CLI_OPT_CALL */
} cli_opt;

/* A repeatable option's values, at most max of them; one more is the
 * usage error `full` ("at most two --parent"). The strings are argv's. */
typedef struct cli_list {
    const char **v;
    int n, max;
    const char *full;
} cli_list;

/* What --help and the operand check say of a command. */
typedef struct cli_spec {
    const char *cmd;     /* its name, a row of the command table */
    const char *about;   /* --help: what it does, before the options */
    const char *more;    /* --help: after the options, or NULL */
    int operands;        /* how many it takes; CLI_OPERANDS_ANY: it counts them itself */
    const char *missing; /* the usage error when fewer are given */
} cli_spec;

#define CLI_OPERANDS_ANY (-1)

/* What cli_parse leaves: the operands (argv's, after the options), or
 * the status to exit with. */
typedef struct cli_args {
    char **v;
    int n;
    int status; /* when cli_parse returned -1 */
} cli_args;

/* What a command file defines (a row of the command table points to it):
 * what its --help says, its options (rows, ending in CLI_END, or NULL for
 * none) into an options struct of `size` bytes that init sets to the
 * defaults (NULL: all zero), and run, which gets that struct with the
 * options parsed and the operands checked and returns the exit status. */
typedef struct cli_def {
    const cli_spec *spec;
    const cli_opt *opts;
    size_t size;
    void (*init)(void *o);
    int (*run)(void *o, const cli_args *args);
} cli_def;

/* The command d on argv (argv[0] is its name): its options struct, set to
 * the defaults, parsed into, and run on. Returns the exit status: run's,
 * or CLI_OK after --help, CLI_USAGE after a usage error said on stderr,
 * CLI_FAIL when out of memory. */
int cli_run(const cli_def *d, int argc, char **argv);

/* Parses argv by d's rows into the options struct values. Returns 0 with the
 * operands in *args, or -1 with the status to exit with in args->status
 * (as cli_run's). */
int cli_parse(const cli_def *d, void *values, int argc, char **argv, cli_args *args);

/* Exactly n operands in args: 0, or -1 after a usage error: `missing`
 * when there are fewer, the first extra one named when there are more.
 * For a command whose operands depend on its options (CLI_OPERANDS_ANY). */
int cli_operands(const char *cmd, const cli_args *args, int n, const char *missing);

/* A row's target: the offset of field f of the options struct T, which
 * must be of the type its kind wants (a compile error otherwise). */
#define CLI_TARGET(type, T, f) (offsetof(T, f) + 0 * sizeof((type *)0 == &((T *)0)->f))

#define CLI_FLAG(name, s, T, f, help)                                         \
    {                                                                         \
        name, s, CLI_OPT_FLAG, CLI_TARGET(bool, T, f), NULL, help, 0, 0, NULL \
    }
#define CLI_STR(name, T, f, arg, help)                                              \
    {                                                                               \
        name, 0, CLI_OPT_STR, CLI_TARGET(const char *, T, f), arg, help, 0, 0, NULL \
    }
#define CLI_INT(name, T, f, lo, hi, arg, help)                               \
    {                                                                        \
        name, 0, CLI_OPT_INT, CLI_TARGET(int, T, f), arg, help, lo, hi, NULL \
    }
#define CLI_LONG(name, T, f, lo, hi, arg, help)                                \
    {                                                                          \
        name, 0, CLI_OPT_LONG, CLI_TARGET(long, T, f), arg, help, lo, hi, NULL \
    }
#define CLI_DOUBLE(name, T, f, lo, hi, arg, help)                                  \
    {                                                                              \
        name, 0, CLI_OPT_DOUBLE, CLI_TARGET(double, T, f), arg, help, lo, hi, NULL \
    }
#define CLI_SIZE(name, T, f, arg, help)                                              \
    {                                                                                \
        name, 0, CLI_OPT_SIZE, CLI_TARGET(const char *, T, f), arg, help, 0, 0, NULL \
    }
#define CLI_LIST(name, T, f, arg, help)                                          \
    {                                                                            \
        name, 0, CLI_OPT_LIST, CLI_TARGET(cli_list, T, f), arg, help, 0, 0, NULL \
    }
/* fn gets a pointer to field f, of whatever type fn wants */
#define CLI_CALL(name, fn, T, f, arg, help)                        \
    {                                                              \
        name, 0, CLI_OPT_CALL, offsetof(T, f), arg, help, 0, 0, fn \
    }
/* fn gets a pointer to the whole options struct */
#define CLI_CALL_OPTS(name, fn, arg, help)            \
    {                                                 \
        name, 0, CLI_OPT_CALL, 0, arg, help, 0, 0, fn \
    }
#define CLI_END                                         \
    {                                                   \
        NULL, 0, CLI_OPT_END, 0, NULL, NULL, 0, 0, NULL \
    }

/* A number in a help line: CLI_QUOTE(EVALUATOR_DEFAULT_SLOTS) is "2". */
#define CLI_QUOTE(x)  CLI_QUOTE_(x)
#define CLI_QUOTE_(x) #x

/* --help of the command d: usage, about, the options, more; on out. */
void cli_opts_help(const cli_def *d, FILE *out);

#endif
