/* The one option parser (see opts.h): a command's table of options made
 * into getopt_long's, each value checked as its row says into the
 * command's options struct, gevo's own messages naming the bad option,
 * --help from the same rows; and the dispatcher that runs a command on
 * what it parsed. */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "engine/base/num.h"
#include "tui/cli/cli.h"
#include "tui/cli/opts.h"

/* getopt_long's value for row i of a table: its short letter, else a
   code above every character */
#define LONG_ONLY 256

/* The left column of a row's help: "  -q, --quiet", "  --epochs N". */
static int help_left(const cli_opt *o, char *buf, size_t size)
{
    char s[8] = "";
    if (o->short_name)
        snprintf(s, sizeof s, "-%c, ", o->short_name);
    return snprintf(buf, size, "  %s--%s%s%s", s, o->name, o->arg ? " " : "", o->arg ? o->arg : "");
}

/* The help text, its continuation lines under the column. */
static void help_text(const char *text, int col, FILE *out)
{
    for (const char *p = text; *p; p++) {
        fputc(*p, out);
        if (*p == '\n' && p[1])
            fprintf(out, "%*s", col, "");
    }
    fputc('\n', out);
}

/* The rows of d, ending in CLI_END. */
static const cli_opt *rows_of(const cli_def *d)
{
    static const cli_opt none[] = {CLI_END};
    return d->opts ? d->opts : none;
}

void cli_opts_help(const cli_def *d, FILE *out)
{
    static const cli_opt help = {"help", 'h', CLI_OPT_FLAG, 0, NULL, "this text", 0, 0, NULL};
    const cli_spec *spec = d->spec;
    const cli_opt *opts = rows_of(d);
    /* the column: after the widest left part that is not too wide (a
       wider one is followed by two spaces) */
    enum {
        widest = 24
    };
    char left[128];
    int col = (int)strlen("  -h, --help");
    for (const cli_opt *o = opts; o->kind != CLI_OPT_END; o++) {
        int n = help_left(o, left, sizeof left);
        if (n <= widest && n > col)
            col = n;
    }
    col += 2;
    cli_usage_line(spec->cmd, out);
    fprintf(out, "\n%s\noptions:\n", spec->about);
    for (const cli_opt *o = opts;; o++) {
        const cli_opt *row = o->kind == CLI_OPT_END ? &help : o;
        int n = help_left(row, left, sizeof left);
        fprintf(out, "%s%*s", left, n < col ? col - n : 2, "");
        help_text(row->help, col, out);
        if (row == &help)
            break;
    }
    if (spec->more)
        fprintf(out, "\n%s", spec->more);
}

/* The usage error of the option getopt just refused: unknown, a value
   missing, or a value given to a flag. */
static int bad_option(const char *cmd, int argc, char **argv, int opt)
{
    const char *tok = optind >= 1 && optind <= argc ? argv[optind - 1] : "";
    int n = (int)strcspn(tok, "=");
    bool is_long = !strncmp(tok, "--", 2);
    if (opt == ':')
        return cli_usage_error(cmd, "option '%.*s' needs a value", n, tok);
    if (is_long && optopt && tok[n] == '=')
        return cli_usage_error(cmd, "option '%.*s' takes no value", n, tok);
    if (is_long || !optopt)
        return cli_usage_error(cmd, "unknown option '%.*s'", n, tok);
    return cli_usage_error(cmd, "unknown option '-%c'", optopt);
}

/* Row o's value into its field of the options struct values; on a bad one
   says why. */
static int take(const char *cmd, const cli_opt *o, void *values, const char *value)
{
    void *target = (char *)values + o->target;
    char what[80];
    snprintf(what, sizeof what, "--%s", o->name);
    gerr err = GERR_INIT;
    int rc = 0;
    switch (o->kind) {
    case CLI_OPT_END: break;
    case CLI_OPT_FLAG: *(bool *)target = true; break;
    case CLI_OPT_STR: *(const char **)target = value; break;
    case CLI_OPT_INT: rc = num_int(value, (int)o->lo, (int)o->hi, target, what, &err); break;
    case CLI_OPT_LONG: rc = num_long(value, (long)o->lo, (long)o->hi, target, what, &err); break;
    case CLI_OPT_DOUBLE: rc = num_double(value, o->lo, o->hi, target, what, &err); break;
    case CLI_OPT_SIZE: {
        double bytes;
        rc = num_bytes(value, 0, 1e18, &bytes, what, &err);
        if (rc == 0)
            *(const char **)target = value;
        break;
    }
    case CLI_OPT_LIST: {
        cli_list *l = target;
        if (l->n == l->max) {
            cli_usage_error(cmd, "%s", l->full);
            return -1;
        }
        l->v[l->n++] = value;
        break;
    }
    case CLI_OPT_CALL: return o->fn(cmd, value, target);
    }
    if (rc)
        cli_error(cmd, "%s", err.msg);
    return rc;
}

int cli_parse(const cli_def *d, void *values, int argc, char **argv, cli_args *args)
{
    const cli_spec *spec = d->spec;
    const cli_opt *opts = rows_of(d);
    *args = (cli_args){NULL, 0, CLI_FAIL};
    size_t rows = 0;
    while (opts[rows].kind != CLI_OPT_END)
        rows++;
    struct option *lo = calloc(rows + 2, sizeof *lo);
    if (!lo) {
        cli_error(spec->cmd, "out of memory");
        return -1;
    }
    /* ':' first: a missing value is told apart from an unknown option */
    char shortopts[64] = ":h";
    size_t ns = 2;
    for (size_t i = 0; i < rows; i++) {
        const cli_opt *o = &opts[i];
        int has_arg = o->kind == CLI_OPT_FLAG ? no_argument : required_argument;
        lo[i] = (struct option){o->name, has_arg, NULL,
                                o->short_name ? o->short_name : LONG_ONLY + (int)i};
        if (o->short_name && ns + 3 < sizeof shortopts) {
            shortopts[ns++] = o->short_name;
            if (has_arg == required_argument)
                shortopts[ns++] = ':';
        }
    }
    shortopts[ns] = 0;
    lo[rows] = (struct option){"help", no_argument, NULL, 'h'};
    optind = 0; /* 0, not 1: glibc then also resets its permutation state */
    opterr = 0;
    int rc = -1, opt; /* -1: go on */
    while (rc == -1 && (opt = getopt_long(argc, argv, shortopts, lo, NULL)) != -1) {
        const cli_opt *o = NULL;
        if (opt >= LONG_ONLY && opt < LONG_ONLY + (int)rows)
            o = &opts[opt - LONG_ONLY];
        for (size_t i = 0; !o && opt != '?' && opt != ':' && i < rows; i++)
            if (opts[i].short_name == opt)
                o = &opts[i];
        if (o)
            rc = take(spec->cmd, o, values, optarg) ? CLI_USAGE : -1;
        else if (opt == 'h') {
            cli_opts_help(d, stdout);
            rc = CLI_OK;
        } else
            rc = bad_option(spec->cmd, argc, argv, opt);
    }
    free(lo);
    if (rc != -1) {
        args->status = rc;
        return -1;
    }
    *args = (cli_args){argv + optind, argc - optind, CLI_OK};
    if (spec->operands != CLI_OPERANDS_ANY &&
        cli_operands(spec->cmd, args, spec->operands, spec->missing)) {
        args->status = CLI_USAGE;
        return -1;
    }
    return 0;
}

int cli_operands(const char *cmd, const cli_args *args, int n, const char *missing)
{
    if (args->n < n) {
        cli_usage_error(cmd, "%s", missing);
        return -1;
    }
    if (args->n > n) {
        cli_usage_error(cmd, "too many arguments ('%s' is extra)", args->v[n]);
        return -1;
    }
    return 0;
}

int cli_run(const cli_def *d, int argc, char **argv)
{
    void *o = calloc(1, d->size ? d->size : 1);
    if (!o) {
        cli_error(d->spec->cmd, "out of memory");
        return CLI_FAIL;
    }
    if (d->init)
        d->init(o);
    cli_args args;
    int status = cli_parse(d, o, argc, argv, &args) ? args.status : d->run(o, &args);
    free(o);
    return status;
}
