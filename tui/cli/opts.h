/* opts: the one option parser of the gevo commands. A command declares
 * its options once, as a table of rows (name, argument kind, where the
 * value goes, its range, its help line), and cli_parse gives from it:
 *
 *   - getopt_long parsing: options and operands in any order, "--" ends
 *     the options, unambiguous prefixes of long options are taken;
 *   - values checked as the row says: numbers in their range and byte
 *     counts through engine/base/num.h, a command's own kinds through a
 *     function of the row;
 *   - usage errors that name the bad option or value (status 2);
 *   - the command's --help: usage line (the command table's), what it
 *     does, one line per row and -h, --help, so the help cannot drift
 *     from the options;
 *   - the operand count.
 *
 *     int gen = -1;
 *     const cli_opt opts[] = {
 *         CLI_INT("generation", &gen, 0, 1000000, "N", "only generation N"),
 *         CLI_END,
 *     };
 *     static const cli_spec spec = {"log", about, NULL, 1, "the session folder is missing"};
 *     cli_args args;
 *     if (cli_parse(&spec, opts, argc, argv, &args))
 *         return args.status;
 *     ... args.v[0] ...
 *
 * The table is an automatic array (its targets are the command's own
 * variables); each row's macro checks the target's type. A target keeps
 * its value when its option is not given: initialise it to the default. */
#ifndef GEVO_TUI_CLI_OPTS_H
#define GEVO_TUI_CLI_OPTS_H

#include <stdbool.h>
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
    void *target;     /* where the value goes (see the kinds) */
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

/* Parses argv (argv[0] is the command's name) by the table opts, ending
 * in CLI_END. Returns 0 with the operands in *args, or -1 with the status
 * to exit with in args->status: CLI_OK after --help, CLI_USAGE after a
 * usage error said on stderr, CLI_FAIL when out of memory. */
int cli_parse(const cli_spec *spec, const cli_opt *opts, int argc, char **argv, cli_args *args);

/* Exactly n operands in args: 0, or -1 after a usage error: `missing`
 * when there are fewer, the first extra one named when there are more.
 * For a command whose operands depend on its options (CLI_OPERANDS_ANY). */
int cli_operands(const char *cmd, const cli_args *args, int n, const char *missing);

/* A row's target, of the type its kind wants (a compile error otherwise). */
#define CLI_TARGET(type, p) ((void *)(1 ? (p) : (type *)0))

#define CLI_FLAG(name, s, p, help)                                         \
    {                                                                      \
        name, s, CLI_OPT_FLAG, CLI_TARGET(bool, p), NULL, help, 0, 0, NULL \
    }
#define CLI_STR(name, p, arg, help)                                              \
    {                                                                            \
        name, 0, CLI_OPT_STR, CLI_TARGET(const char *, p), arg, help, 0, 0, NULL \
    }
#define CLI_INT(name, p, lo, hi, arg, help)                               \
    {                                                                     \
        name, 0, CLI_OPT_INT, CLI_TARGET(int, p), arg, help, lo, hi, NULL \
    }
#define CLI_LONG(name, p, lo, hi, arg, help)                                \
    {                                                                       \
        name, 0, CLI_OPT_LONG, CLI_TARGET(long, p), arg, help, lo, hi, NULL \
    }
#define CLI_DOUBLE(name, p, lo, hi, arg, help)                                  \
    {                                                                           \
        name, 0, CLI_OPT_DOUBLE, CLI_TARGET(double, p), arg, help, lo, hi, NULL \
    }
#define CLI_SIZE(name, p, arg, help)                                              \
    {                                                                             \
        name, 0, CLI_OPT_SIZE, CLI_TARGET(const char *, p), arg, help, 0, 0, NULL \
    }
#define CLI_LIST(name, p, arg, help)                                          \
    {                                                                         \
        name, 0, CLI_OPT_LIST, CLI_TARGET(cli_list, p), arg, help, 0, 0, NULL \
    }
#define CLI_CALL(name, fn, p, arg, help)              \
    {                                                 \
        name, 0, CLI_OPT_CALL, p, arg, help, 0, 0, fn \
    }
#define CLI_END                                            \
    {                                                      \
        NULL, 0, CLI_OPT_END, NULL, NULL, NULL, 0, 0, NULL \
    }

/* A number in a help line: CLI_QUOTE(EVALUATOR_DEFAULT_SLOTS) is "2". */
#define CLI_QUOTE(x)  CLI_QUOTE_(x)
#define CLI_QUOTE_(x) #x

/* --help of a command whose table is opts: usage, about, the options, more;
 * on out. */
void cli_opts_help(const cli_spec *spec, const cli_opt *opts, FILE *out);

#endif
